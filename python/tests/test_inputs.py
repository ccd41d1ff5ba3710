"""What ``submit`` and ``process`` accept: bytes-like data, paths and binary files as
images; mappings and JSON strings as recipes; clear ``TypeError``s for anything else.
And the error classes as real classes (pickling, subclassing, ``except``)."""
from __future__ import annotations

import array
import io
import pickle
from pathlib import Path

import pytest

import conveyor
from conftest import INPUTS

SMALL = {"outputs": [{"name": "small", "width": 64, "height": 64, "format": "png"}]}
PHOTO = INPUTS / "photo_640x480.jpg"


@pytest.fixture(scope="module")
def pool():
    with conveyor.Pool(workers=2) as p:
        yield p


@pytest.mark.parametrize(
    "make",
    [
        lambda: PHOTO.read_bytes(),
        lambda: bytearray(PHOTO.read_bytes()),
        lambda: memoryview(PHOTO.read_bytes()),
        lambda: array.array("B", PHOTO.read_bytes()),
        lambda: PHOTO,
        lambda: str(PHOTO),
        lambda: io.BytesIO(PHOTO.read_bytes()),
        lambda: open(PHOTO, "rb"),
    ],
    ids=["bytes", "bytearray", "memoryview", "array", "Path", "str path", "BytesIO", "binary file"],
)
def test_every_input_kind_gives_the_same_image(pool, make):
    data = make()
    try:
        r = pool.process(data, SMALL)
    finally:
        if hasattr(data, "close"):
            data.close()
    assert (r.input_format, r.input_width, r.input_height, r.input_bytes) == ("jpeg", 640, 480, PHOTO.stat().st_size)


def test_map_takes_mixed_inputs(pool):
    results = list(pool.map([PHOTO, PHOTO.read_bytes(), str(PHOTO)], SMALL))
    assert [r.input_width for r in results] == [640, 640, 640]


def test_a_missing_path_raises_file_not_found(pool, tmp_path):
    with pytest.raises(FileNotFoundError):
        pool.process(tmp_path / "nope.jpg", SMALL)


def test_a_text_mode_file_is_refused_with_a_hint(pool):
    with open(PHOTO, encoding="latin-1") as f, pytest.raises(TypeError, match="'rb'"):
        pool.process(f, SMALL)


@pytest.mark.parametrize("bad", [42, None, 3.5, object()], ids=["int", "None", "float", "object"])
def test_other_inputs_are_a_type_error(pool, bad):
    with pytest.raises(TypeError, match="bytes-like, a path or a binary file"):
        pool.process(bad, SMALL)


def test_recipe_as_json_string_or_bytes(pool):
    import json

    for recipe in (json.dumps(SMALL), json.dumps(SMALL).encode()):
        assert pool.process(PHOTO, recipe).output("small").width == 64


def test_a_list_recipe_is_refused_not_ignored(pool):
    with pytest.raises(TypeError, match="not a list"):
        pool.process(PHOTO, SMALL["outputs"])
    with pytest.raises(TypeError, match="not a list"):
        conveyor.Pool(workers=1, default_recipe=SMALL["outputs"])  # type: ignore[arg-type]


def test_other_recipes_are_a_type_error(pool):
    with pytest.raises(TypeError, match="mapping or a JSON string"):
        pool.process(PHOTO, 7)  # type: ignore[arg-type]


def test_error_classes_are_real_classes():
    assert conveyor.DecodeFailed.__module__ == "conveyor.errors"
    assert conveyor.DecodeFailed.__qualname__ == "DecodeFailed"
    assert issubclass(conveyor.QueueFull, conveyor.ConveyorError)
    assert conveyor.DecodeFailed.__doc__

    class Mine(conveyor.DecodeFailed):
        pass

    assert Mine("x").code == "decode_failed"


def test_errors_pickle_with_their_fields():
    e = conveyor.LimitExceeded("too big", stage="decode", job_id=7)
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is conveyor.LimitExceeded
    assert (back.message, back.stage, back.job_id, back.code, str(back)) == ("too big", "decode", 7, "limit_exceeded", "too big")


def test_a_failure_raises_the_specific_class(pool):
    with pytest.raises(conveyor.UnsupportedFormat) as info:
        pool.process(b"not an image at all", SMALL)
    assert isinstance(info.value, conveyor.ConveyorError) and info.value.code == "unsupported_format"


def test_readme_path_usage(pool, tmp_path):
    target = tmp_path / "copy.jpg"
    target.write_bytes(PHOTO.read_bytes())
    assert pool.process(Path(target), SMALL).output("small").format == "png"
