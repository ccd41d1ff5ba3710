"""The event bus and live reload from Python: the shared event script
(testdata/events/events.json), iteration, polling, asyncio, lag, refused reloads, and a
stress run with stalled subscribers."""
from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

import conveyor
from conftest import ROOT, read

SMALL = {"outputs": [{"name": "small", "width": 64, "height": 64, "format": "png"}]}


def matches(want, got) -> bool:
    """The matching rule of testdata/events/README.md."""
    if want == "<us>":
        return isinstance(got, int) and not isinstance(got, bool) and got >= 0
    if isinstance(want, dict):
        return isinstance(got, dict) and want.keys() == got.keys() and all(matches(want[k], got[k]) for k in want)
    return want == got and type(want) is type(got)


def test_the_shared_event_script():
    doc = json.loads((ROOT / "testdata" / "events" / "events.json").read_text())
    pool = conveyor.Pool(**doc["pool"])
    subs = {}
    for step in doc["steps"]:
        op = step["op"]
        if op == "subscribe":
            subs[step["name"]] = pool.events(step.get("capacity", 0))
        elif op == "submit":
            want = step["outcome"]
            future = pool.submit(read(step["input"]), step.get("recipe"))
            if want["ok"]:
                assert [o.name for o in future.result().outputs] == want["outputs"]
            else:
                with pytest.raises(conveyor.ConveyorError) as e:
                    future.result()
                assert e.value.code == want["code"]
        elif op == "reload":
            if "error" in step:
                with pytest.raises(conveyor.ConveyorError) as e:
                    pool.reload(**step["settings"])
                assert e.value.code == step["error"]
            else:
                pool.reload(**step["settings"])
        elif op == "shutdown":
            pool.shutdown()
        else:
            raise AssertionError(op)
    for name, want in doc["expect"].items():
        got = list(subs[name])
        assert len(got) == len(want), (name, got)
        for i, (w, g) in enumerate(zip(want, got)):
            assert matches(w, dict(g)), (name, i, w, g)
        assert all(isinstance(g, conveyor.Lagged) == (g.type == "lagged") for g in got)
        subs[name].close()


def test_get_poll_and_lag():
    with conveyor.Pool(workers=1) as pool:
        with pool.events() as events, pool.events(capacity=2) as slow:
            assert events.poll() is None
            t0 = time.monotonic()
            assert events.get(timeout=0.05) is None
            assert time.monotonic() - t0 >= 0.04
            pool.process(read("photo_640x480.jpg"), SMALL)
            ev = events.get(timeout=5)
            assert ev.type == "job_queued" and ev.job_id == ev["job_id"] and ev.input_bytes > 0
            assert events.poll().type == "job_started"
            finished = events.get()
            assert finished.type == "job_finished" and finished.ok is True
            assert set(finished.timings) == {"queued_us", "decode_us", "resize_us", "encode_us", "save_us", "total_us"}
            lag = slow.poll()
            assert isinstance(lag, conveyor.Lagged) and lag.missed == 1 and lag.type == "lagged"
            assert [slow.poll().type, slow.poll().type, slow.poll()] == ["job_started", "job_finished", None]
    # The pool is gone; the subscriptions were closed by `with`.
    with pytest.raises(conveyor.ShutDown):
        events.poll()


def test_a_subscription_outlives_its_pool_and_then_ends():
    pool = conveyor.Pool(workers=1)
    events = pool.events()
    pool.reload(limits={"max_pixels": 10_000})
    pool.shutdown()
    assert [e.type for e in events] == ["config_reloaded", "shutting_down"]
    with pytest.raises(conveyor.ShutDown):
        events.get(timeout=0.01)


def test_reload_changes_the_settings_and_a_bad_one_is_refused():
    with conveyor.Pool(workers=1) as pool:
        pool.reload(limits={"max_pixels": 1000})
        with pytest.raises(conveyor.LimitExceeded):
            pool.process(read("photo_640x480.jpg"), SMALL)
        with pytest.raises(conveyor.InvalidRecipe):
            pool.reload(default_recipe={"outputs": []})
        with pytest.raises(conveyor.InvalidArgument):
            pool.reload(limits={"max_pixels": "many"})
        # The refused reloads left the earlier settings in place.
        with pytest.raises(conveyor.LimitExceeded):
            pool.process(read("photo_640x480.jpg"), SMALL)
        pool.reload(default_recipe=json.dumps(SMALL))
        assert pool.process(read("photo_640x480.jpg")).outputs[0].name == "small"


def test_async_for_and_cancellation_loses_nothing():
    async def main() -> list[str]:
        pool = conveyor.Pool(workers=1)
        events = pool.events()
        # A waiter cancelled while nothing arrives must not eat a later event.
        waiter = asyncio.ensure_future(events.__anext__())
        await asyncio.sleep(0.05)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, pool.process, read("photo_640x480.jpg"), SMALL)
        await loop.run_in_executor(None, pool.shutdown)
        names = [ev.type async for ev in events]
        events.close()
        return names

    assert asyncio.run(main()) == ["job_queued", "job_started", "job_finished", "shutting_down"]


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_stress_stalled_subscribers_are_bounded_and_every_reader_accounts_for_everything():
    jobs = 2000
    pool = conveyor.Pool(workers=2, queue_capacity=64)
    stalled = [pool.events() for _ in range(8)]
    readers = [pool.events() for _ in range(3)] + [pool.events(capacity=8)]
    counts = [[0, 0] for _ in readers]

    def read_all(i: int) -> None:
        for ev in readers[i]:
            if isinstance(ev, conveyor.Lagged):
                counts[i][1] += ev.missed
            else:
                counts[i][0] += 1
                if i == len(readers) - 1:
                    time.sleep(0.0002)

    threads = [threading.Thread(target=read_all, args=(i,)) for i in range(len(readers))]
    for t in threads:
        t.start()
    before = _rss_kib()
    futures = [pool.submit(b"") for _ in range(jobs)]
    for f in futures:
        with pytest.raises(conveyor.UnsupportedFormat):
            f.result()
    grown = _rss_kib() - before
    pool.shutdown()
    for t in threads:
        t.join()
    total = 3 * jobs + 1
    assert all(got + missed == total for got, missed in counts), counts
    for events in stalled:
        items = list(events)
        assert isinstance(items[0], conveyor.Lagged)
        assert items[0].missed + len(items) - 1 == total
        assert len(items) - 1 <= 1024
        events.close()
    assert grown < 64 * 1024, f"RSS grew by {grown} KiB"
