"""``key=`` and ``timeout=`` on ``submit``/``process``, through ``conveyor_job_options``:
the key names the published folder and comes back on the result, a key against the
core's rules fails the job, a deadline passed in the queue fails it as ``TimedOut``, a
deadline or a cancel stops a running AVIF encode, and bad argument types are refused
before anything is queued."""
from __future__ import annotations

import time

import pytest

import conveyor
from conftest import read

SMALL = {"outputs": [{"name": "small", "width": 64, "height": 64, "format": "png"}]}
HEAVY = {"outputs": [{"name": f"o{i}", "width": 640, "format": "png", "compression": 9} for i in range(6)]}


def test_the_key_names_the_folder_and_comes_back(tmp_path, photo):
    with conveyor.Pool(workers=1, output_dir=str(tmp_path)) as pool:
        r = pool.process(photo, SMALL, key="user-7/avatar")
        assert r.key == "user-7/avatar"
        # The whole wire outcome, as every door shows it.
        assert r.outcome["ok"] is True and r.outcome["key"] == "user-7/avatar"
        assert r.outcome["outputs"][0]["byte_len"] == r.output("small").byte_len
        out = r.output("small")
        assert out.path is not None and out.path.startswith(str(tmp_path / "user-7" / "avatar") + "/")
        assert (tmp_path / "user-7" / "avatar").is_dir()
        plain = pool.submit(photo, SMALL).result(timeout=60)
        assert plain.key is None
        assert (tmp_path / str(plain.job_id)).is_dir()


def test_a_key_without_output_dir_is_only_a_label(photo):
    with conveyor.Pool(workers=1) as pool:
        r = pool.process(photo, SMALL, key="label-1")
        assert r.key == "label-1" and r.output("small").data is not None


def test_a_key_against_the_rules_fails_the_job(tmp_path, photo):
    with conveyor.Pool(workers=1, output_dir=str(tmp_path / "out")) as pool:
        with pytest.raises(conveyor.InvalidArgument) as info:
            pool.process(photo, SMALL, key="../escape")
        assert info.value.stage == "validate"
        # Failed jobs carry their key, timings and wire outcome too.
        assert info.value.key == "../escape"
        assert info.value.timings is not None and info.value.timings.total_us >= 0
        assert info.value.outcome is not None and info.value.outcome["ok"] is False
        assert info.value.outcome["error"]["code"] == "invalid_argument"
    assert not (tmp_path / "escape").exists()


def test_a_deadline_passed_in_the_queue_times_the_job_out(photo):
    big = read("photo_640x480.jpg")
    with conveyor.Pool(workers=1, queue_capacity=8) as pool:
        busy = [pool.submit(big, HEAVY) for _ in range(2)]
        late = pool.submit(photo, SMALL, key="late", timeout=0.001)
        with pytest.raises(conveyor.TimedOut):
            late.result(timeout=60)
        for f in busy:
            assert f.result(timeout=60).outputs
        # A generous deadline changes nothing.
        assert pool.process(photo, SMALL, timeout=60).outputs


def test_a_deadline_stops_a_running_avif_encode_and_cancel_too():
    # rav1e at its slowest speed takes seconds on this photo (more in the debug build);
    # the vendored rav1e asks the job's check as it goes, so the job ends soon after.
    big = read("photo_640x480.jpg")
    avif = {"outputs": [{"name": "o", "format": "avif", "speed": 1}]}
    with conveyor.Pool(workers=1) as pool:
        started = time.monotonic()
        with pytest.raises(conveyor.TimedOut) as info:
            pool.process(big, avif, timeout=0.4)
        took = time.monotonic() - started
        assert info.value.stage == "encode", info.value
        assert took < 0.4 + 0.3, f"the outcome came {took:.3f} s after submission"
        assert 0.4e6 <= info.value.timings.total_us < 0.7e6
        f = pool.submit(big, avif)
        time.sleep(0.4)
        cancelled_at = time.monotonic()
        assert pool.cancel(f)
        with pytest.raises(conveyor.Cancelled) as info:
            f.result(timeout=60)
        assert info.value.stage == "encode", info.value
        assert time.monotonic() - cancelled_at < 0.3


@pytest.mark.parametrize(
    "kwargs,exc",
    [
        ({"key": b"bytes"}, TypeError),
        ({"key": 7}, TypeError),
        ({"timeout": 0}, ValueError),
        ({"timeout": -1.5}, ValueError),
        ({"timeout": "1"}, ValueError),
        ({"timeout": True}, ValueError),
    ],
)
def test_bad_key_or_timeout_types_are_refused_before_queueing(photo, kwargs, exc):
    with conveyor.Pool(workers=1) as pool:
        with pytest.raises(exc):
            pool.submit(photo, SMALL, **kwargs)
        assert pool.stats().accepted == 0
