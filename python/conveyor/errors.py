"""The error classes: one ``ConveyorError`` subclass per core error kind, with the same
snake_case ``code`` and numeric value as Rust, C and JS (``testdata/error_codes.json``),
plus ``NullParameter`` and ``BoundaryPanic`` for the C boundary's own codes."""

from __future__ import annotations


class ConveyorError(Exception):
    """A conveyor failure. ``code`` is the stable snake_case name (``"decode_failed"``)."""

    code: str = "unknown"
    numeric_code: int = -1

    def __init__(self, message: str = "", *, stage: str | None = None, job_id: int | None = None) -> None:
        super().__init__(message or self.code)
        self.message = message
        self.stage = stage
        self.job_id = job_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, stage={self.stage!r}, message={self.message!r})"


def _kind(name: str, code: str, numeric: int, doc: str) -> type[ConveyorError]:
    return type(name, (ConveyorError,), {"code": code, "numeric_code": numeric, "__doc__": doc})


InvalidRecipe = _kind("InvalidRecipe", "invalid_recipe", 1, "The recipe is invalid.")
InvalidArgument = _kind("InvalidArgument", "invalid_argument", 2, "An argument is invalid.")
UnsupportedFormat = _kind("UnsupportedFormat", "unsupported_format", 3, "The input format is not supported.")
DecodeFailed = _kind("DecodeFailed", "decode_failed", 4, "The input could not be decoded.")
LimitExceeded = _kind("LimitExceeded", "limit_exceeded", 5, "The input exceeds the limits.")
EncodeFailed = _kind("EncodeFailed", "encode_failed", 6, "An output could not be encoded.")
SaveFailed = _kind("SaveFailed", "save_failed", 7, "An output could not be saved.")
QueueFull = _kind("QueueFull", "queue_full", 8, "The job queue is full.")
ShutDown = _kind("ShutDown", "shut_down", 9, "The pool is shut down.")
Cancelled = _kind("Cancelled", "cancelled", 10, "The job was cancelled.")
TimedOut = _kind("TimedOut", "timed_out", 11, "The job's deadline passed.")
Panicked = _kind("Panicked", "panicked", 12, "The job panicked inside the engine.")
NullParameter = _kind("NullParameter", "null_parameter", 100, "A NULL parameter reached the C ABI.")
BoundaryPanic = _kind("BoundaryPanic", "panic", 101, "A panic was caught at the C boundary.")

BY_CODE: dict[int, type[ConveyorError]] = {
    cls.numeric_code: cls
    for cls in (
        InvalidRecipe, InvalidArgument, UnsupportedFormat, DecodeFailed, LimitExceeded, EncodeFailed,
        SaveFailed, QueueFull, ShutDown, Cancelled, TimedOut, Panicked, NullParameter, BoundaryPanic,
    )
}


def error_for(code: int, message: str = "", *, stage: str | None = None, job_id: int | None = None) -> ConveyorError:
    """The exception for a numeric result code."""
    cls = BY_CODE.get(code, ConveyorError)
    return cls(message, stage=stage, job_id=job_id)
