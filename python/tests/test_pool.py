"""The Python package against the real native library: success, every error kind that
can be provoked from Python, the shared vectors, concurrency, shutdown, interpreter exit."""
from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

import conveyor
from conftest import INPUTS, ROOT, VECTORS, read

SMALL = {"outputs": [{"name": "small", "width": 64, "height": 64, "format": "png"}]}


def test_version_matches_the_crate():
    cargo = (ROOT / "Cargo.toml").read_text()
    assert f'version = "{conveyor.version()}"' in cargo


def test_success_on_real_image_types():
    with conveyor.Pool(workers=2) as pool:
        for name, fmt in [("photo_640x480.jpg", "jpeg"), ("rgba_300x200.png", "png"), ("gradient_120x90.gif", "gif"),
                          ("gradient_100x100.webp", "webp"), ("gradient_64x32.bmp", "bmp"), ("gradient_80x60.tiff", "tiff"),
                          ("icon_32x32.ico", "ico")]:
            r = pool.process(read(name), SMALL)
            assert r.input.format == fmt
            out = r.output("small")
            assert out.format == "png" and max(out.width, out.height) <= 64
            assert out.data is not None and out.data[:4] == b"\x89PNG" and len(out.data) == out.byte_len
            assert r.timings is not None and r.timings.total_us >= r.timings.decode_us


def test_default_recipe_and_saving(tmp_path, photo):
    with conveyor.Pool(workers=1, output_dir=str(tmp_path)) as pool:
        r = pool.process(photo)
        large = r.output("large")
        assert (large.width, large.height) == (640, 480)
        assert large.data is None and Path(large.path).read_bytes()[:2] == b"\xff\xd8"
        assert r.output("thumb").path.endswith("thumb.webp")


def test_error_codes_match_the_shared_table():
    table = json.loads((ROOT / "testdata" / "error_codes.json").read_text())
    for row in table:
        cls = conveyor.BY_CODE[row["code"]]
        assert cls.code == row["name"]


@pytest.mark.parametrize(
    "data,recipe,exc,code",
    [
        (b"not an image", SMALL, conveyor.UnsupportedFormat, "unsupported_format"),
        (read("fake.png"), SMALL, conveyor.DecodeFailed, "decode_failed"),
        (read("bomb_50000x50000.png"), SMALL, conveyor.LimitExceeded, "limit_exceeded"),
    ],
)
def test_job_errors(data, recipe, exc, code):
    with conveyor.Pool(workers=1) as pool:
        with pytest.raises(exc) as info:
            pool.process(data, recipe)
        assert info.value.code == code
        assert info.value.stage == "decode"
        assert isinstance(info.value, conveyor.ConveyorError)
        assert info.value.message


def test_invalid_recipe_raises_at_submit(photo):
    with conveyor.Pool(workers=1) as pool:
        with pytest.raises(conveyor.InvalidRecipe) as info:
            pool.submit(photo, {"outputs": [{"name": "a", "format": "jpeg", "quality": 0}]})
        assert "outputs[0].quality" in info.value.message
        with pytest.raises(conveyor.InvalidRecipe):
            pool.submit(photo, "{not json")


def test_invalid_argument():
    with pytest.raises(conveyor.InvalidArgument) as info:
        conveyor.Pool(workers=0)
    assert "workers" in info.value.message
    with pytest.raises(conveyor.InvalidArgument):
        conveyor.Pool(limits={"max_pixelz": 3})


def test_limit_from_pool_limits(photo):
    with conveyor.Pool(workers=1, limits={"max_pixels": 1000}) as pool:
        with pytest.raises(conveyor.LimitExceeded):
            pool.process(photo, SMALL)


def test_a_job_over_the_memory_budget_fails_naming_it(photo):
    with conveyor.Pool(workers=1, memory_budget=1 << 20) as pool:
        with pytest.raises(conveyor.LimitExceeded) as info:
            pool.process(photo, SMALL)
        assert "budget" in str(info.value)


def test_save_failed(tmp_path, photo):
    with conveyor.Pool(workers=1, output_dir=str(tmp_path)) as pool:
        (tmp_path / "1").write_text("a file where the job's folder should be")
        with pytest.raises(conveyor.SaveFailed) as info:
            pool.process(photo, SMALL)
        assert info.value.stage == "save"


def test_queue_full_without_blocking():
    big = read("photo_640x480.jpg")
    heavy = {"outputs": [{"name": f"o{i}", "width": 640, "format": "png", "compression": 9} for i in range(6)]}
    with conveyor.Pool(workers=1, queue_capacity=1) as pool:
        futures = []
        with pytest.raises(conveyor.QueueFull):
            for _ in range(50):
                futures.append(pool.submit(big, heavy, block=False))
        assert pool.stats().rejected == 1
        for f in futures:
            assert f.result().outputs


def test_cancel_a_queued_job():
    big = read("photo_640x480.jpg")
    heavy = {"outputs": [{"name": f"o{i}", "width": 640, "format": "png", "compression": 9} for i in range(6)]}
    with conveyor.Pool(workers=1, queue_capacity=8) as pool:
        first = pool.submit(big, heavy)
        queued = pool.submit(big, heavy)
        assert pool.cancel(queued)
        with pytest.raises(conveyor.Cancelled):
            queued.result(timeout=60)
        assert first.result(timeout=60).outputs
        assert not pool.cancel(first)


def test_shut_down_and_boundary_panic(photo):
    pool = conveyor.Pool(workers=1)
    pool.shutdown()
    pool.shutdown()
    with pytest.raises(conveyor.ShutDown):
        pool.submit(photo)
    assert conveyor._native.lib.conveyor_test_panic() == conveyor.BoundaryPanic.numeric_code


def test_shared_vectors_give_the_same_outcomes(vectors):
    checked: dict[str, float] = {}
    for case in vectors:
        data = (INPUTS / case["input"]).read_bytes()
        expect = case["expect"]
        with conveyor.Pool(workers=1, limits=case.get("limits")) as pool:
            try:
                # recipe_text: the raw recipe text, passed as a string unchanged.
                r = pool.process(data, case["recipe_text"] if "recipe_text" in case else case["recipe"])
            except conveyor.ConveyorError as e:
                assert not expect["ok"], f"{case['name']}: {e!r}"
                assert e.code == expect["code"], case["name"]
                continue
            assert expect["ok"], case["name"]
            assert r.input.format == expect["input"]["format"]
            assert (r.input.width, r.input.height) == (expect["input"]["width"], expect["input"]["height"])
            got = [(o.name, o.format, o.width, o.height) for o in r.outputs]
            want = [(o["name"], o["format"], o["width"], o["height"]) for o in expect["outputs"]]
            assert got == want, case["name"]
            # Optional: the warnings' codes, in order (colour profiles ignored).
            if "warnings" in expect:
                assert [w["code"] for w in r.warnings] == expect["warnings"], case["name"]
            # Optional: the pixels, within psnr_min dB of the reference decode.
            for o, w in zip(r.outputs, expect["outputs"]):
                if "psnr_min" not in w:
                    continue
                assert o.data is not None, f"{case['name']}/{o.name}: no bytes"
                db = psnr(rgba(o.data), rgba((VECTORS / w["reference"]).read_bytes()))
                checked[f"{case['name']}/{o.name}"] = db
                assert db >= w["psnr_min"], (
                    f"{case['name']}/{o.name}: {db:.1f} dB against {w['reference']}, floor {w['psnr_min']}"
                )
    assert len(checked) >= 15, f"only {len(checked)} outputs checked by pixels: {checked}"


def rgba(data: bytes) -> Image.Image:
    """Decodes an encoded image (JPEG, PNG, WebP; grey and palette too) to RGBA."""
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGBA")


def psnr(a: Image.Image, b: Image.Image) -> float:
    """The PSNR of two RGBA images of one size over R, G, B and A (99 when identical),
    as core/tests/vectors.rs computes it."""
    assert a.size == b.size, (a.size, b.size)
    x, y = a.tobytes(), b.tobytes()
    se = sum((p - q) * (p - q) for p, q in zip(x, y))
    return 99.0 if se == 0 else 10 * math.log10(255 * 255 * len(x) / se)


def test_thousand_submissions_from_eight_threads_complete_exactly_once():
    tiny = read("gradient_64x32.bmp")
    recipe = {"outputs": [{"name": "t", "width": 8, "format": "png"}]}
    with conveyor.Pool(workers=2, queue_capacity=16) as pool:
        futures = []
        lock = threading.Lock()

        def producer():
            mine = [pool.submit(tiny, recipe) for _ in range(125)]
            with lock:
                futures.extend(mine)

        threads = [threading.Thread(target=producer) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(futures) == 1000
        ids = Counter(f.result(timeout=120).job_id for f in futures)
        assert len(ids) == 1000 and set(ids.values()) == {1}
        s = pool.stats()
        assert (s.accepted, s.completed, s.failed) == (1000, 1000, 0)


def test_map_keeps_input_order():
    inputs = [read("gradient_64x32.bmp"), read("icon_32x32.ico"), read("gradient_120x90.gif")]
    with conveyor.Pool(workers=2) as pool:
        formats = [r.input_format for r in pool.map(inputs, SMALL)]
    assert formats == ["bmp", "ico", "gif"]


def test_shutdown_with_jobs_in_flight_finishes_them_all():
    big = read("photo_640x480.jpg")
    pool = conveyor.Pool(workers=2, queue_capacity=32)
    futures = [pool.submit(big, SMALL) for _ in range(20)]
    pool.shutdown()
    assert all(f.done() for f in futures)
    assert all(f.result().outputs for f in futures)


def test_the_gil_is_released_while_waiting():
    big = read("photo_640x480.jpg")
    heavy = {"outputs": [{"name": f"o{i}", "width": 640, "format": "png", "compression": 9} for i in range(4)]}
    ticks = 0
    stop = threading.Event()

    def ticker():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    with conveyor.Pool(workers=1) as pool:
        pool.process(big, heavy)
    stop.set()
    t.join()
    assert ticks > 5


def test_interpreter_exits_cleanly_with_a_pool_still_open():
    code = (
        "import conveyor, pathlib\n"
        f"data = pathlib.Path({str(INPUTS / 'photo_640x480.jpg')!r}).read_bytes()\n"
        "pool = conveyor.Pool(workers=2)\n"
        "futures = [pool.submit(data) for _ in range(6)]\n"
        "print('submitted', len(futures))\n"
    )
    # The child imports conveyor exactly as this process did (source tree or wheel).
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "submitted 6" in proc.stdout
    assert "Traceback" not in proc.stderr
