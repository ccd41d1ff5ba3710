"""The Python door against the wire contract generated from the Rust core
(``conveyor/_codes.py``, written by ``core/tests/bindings.rs``): every error code has
its exception class with the same number, and the result classes use the wire field
names."""

from __future__ import annotations

import dataclasses

import conveyor
from conveyor import _codes
from conveyor.errors import BY_CODE


def test_every_error_code_has_its_class():
    for name, number in _codes.ERROR_CODES.items():
        cls = BY_CODE[number]
        assert cls.code == name and cls.numeric_code == number
        assert getattr(conveyor, "".join(p.title() for p in name.split("_"))) is cls


def fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def test_result_classes_use_the_wire_names():
    # What the C result carries, in the wire order; `data` travels beside the JSON.
    wire = _codes.FIELDS
    assert fields(conveyor.Output) == [*wire["OutputInfo"], "data"]
    assert fields(conveyor.InputInfo) == [f for f in wire["InputInfo"] if f != "orientation"]
    assert fields(conveyor.Timings) == list(wire["Timings"])
    ok = set(wire["OutcomeOk"]) - {"ok", "memory_estimate"}
    # `outcome` is the whole wire object itself.
    assert set(fields(conveyor.Result)) - {"outcome"} == ok


def test_tables_are_exported():
    assert conveyor.ERROR_CODES["decode_failed"] == 4
    assert "job_finished" in conveyor.EVENT_TYPES
    assert conveyor.STAGES[0] == "submit"


def test_deprecated_aliases_still_answer():
    r = conveyor.Result(job_id=1, input=conveyor.InputInfo("png", 2, 3, 4))
    assert (r.input_format, r.input_width, r.input_height, r.input_bytes) == ("png", 2, 3, 4)
