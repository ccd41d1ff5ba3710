"""The error classes: one ``ConveyorError`` subclass per core error kind, with the same
snake_case ``code`` and numeric value as Rust, C and JS (the numbers come from the
generated ``_codes.ERROR_CODES``; a test checks every code has its class here),
plus ``NullParameter`` and ``BoundaryPanic`` for the C boundary's own codes.

Each is an ordinary ``class`` statement, so type checkers, IDEs and ``except`` clauses
see them as they are."""

from __future__ import annotations

from typing import Any

from ._codes import ERROR_CODES


class ConveyorError(Exception):
    """A conveyor failure. ``code`` is the stable snake_case name (``"decode_failed"``)."""

    code: str = "unknown"
    numeric_code: int = -1

    def __init__(
        self,
        message: str = "",
        *,
        stage: str | None = None,
        job_id: int | None = None,
        key: str | None = None,
        timings: Any = None,
        outcome: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message or self.code)
        self.message = message
        self.stage = stage
        self.job_id = job_id
        #: The job's key, when it had one.
        self.key = key
        #: A failed job's ``Timings`` (time queued, time until the failure), or None
        #: for errors raised before a job existed.
        self.timings = timings
        #: The job's whole wire outcome (the same JSON object every door shows), or None.
        self.outcome = outcome

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, stage={self.stage!r}, message={self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields survive pickling (multiprocessing, concurrent.futures).
        return (
            type(self),
            (self.message,),
            {"stage": self.stage, "job_id": self.job_id, "key": self.key, "timings": self.timings, "outcome": self.outcome},
        )


class InvalidRecipe(ConveyorError):
    """The recipe is invalid."""

    code = "invalid_recipe"
    numeric_code = ERROR_CODES["invalid_recipe"]


class InvalidArgument(ConveyorError):
    """An argument is invalid."""

    code = "invalid_argument"
    numeric_code = ERROR_CODES["invalid_argument"]


class UnsupportedFormat(ConveyorError):
    """The input format is not supported."""

    code = "unsupported_format"
    numeric_code = ERROR_CODES["unsupported_format"]


class DecodeFailed(ConveyorError):
    """The input could not be decoded."""

    code = "decode_failed"
    numeric_code = ERROR_CODES["decode_failed"]


class LimitExceeded(ConveyorError):
    """The input exceeds the limits."""

    code = "limit_exceeded"
    numeric_code = ERROR_CODES["limit_exceeded"]


class EncodeFailed(ConveyorError):
    """An output could not be encoded."""

    code = "encode_failed"
    numeric_code = ERROR_CODES["encode_failed"]


class SaveFailed(ConveyorError):
    """An output could not be saved."""

    code = "save_failed"
    numeric_code = ERROR_CODES["save_failed"]


class QueueFull(ConveyorError):
    """The job queue is full."""

    code = "queue_full"
    numeric_code = ERROR_CODES["queue_full"]


class ShutDown(ConveyorError):
    """The pool is shut down."""

    code = "shut_down"
    numeric_code = ERROR_CODES["shut_down"]


class Cancelled(ConveyorError):
    """The job was cancelled."""

    code = "cancelled"
    numeric_code = ERROR_CODES["cancelled"]


class TimedOut(ConveyorError):
    """The job's deadline passed."""

    code = "timed_out"
    numeric_code = ERROR_CODES["timed_out"]


class Panicked(ConveyorError):
    """The job panicked inside the engine."""

    code = "panicked"
    numeric_code = ERROR_CODES["panicked"]


class NullParameter(ConveyorError):
    """A NULL parameter reached the C ABI."""

    code = "null_parameter"
    numeric_code = 100


class BoundaryPanic(ConveyorError):
    """A panic was caught at the C boundary."""

    code = "panic"
    numeric_code = 101


BY_CODE: dict[int, type[ConveyorError]] = {
    cls.numeric_code: cls
    for cls in (
        InvalidRecipe, InvalidArgument, UnsupportedFormat, DecodeFailed, LimitExceeded, EncodeFailed,
        SaveFailed, QueueFull, ShutDown, Cancelled, TimedOut, Panicked, NullParameter, BoundaryPanic,
    )
}


def error_for(
    code: int,
    message: str = "",
    *,
    stage: str | None = None,
    job_id: int | None = None,
    key: str | None = None,
    timings: Any = None,
    outcome: dict[str, Any] | None = None,
) -> ConveyorError:
    """The exception for a numeric result code."""
    cls = BY_CODE.get(code, ConveyorError)
    return cls(message, stage=stage, job_id=job_id, key=key, timings=timings, outcome=outcome)
