"""The shared code tables and field names for the Python door.

Generated from core/src/wire (conveyor::wire::schema and the code tables) by
`CONVEYOR_BLESS=1 cargo test -p conveyor --test bindings`; do not edit.
"""

from __future__ import annotations

#: Each error code's stable number (the same in Rust, C, JS).
ERROR_CODES: dict[str, int] = {
    "invalid_recipe": 1,
    "invalid_argument": 2,
    "unsupported_format": 3,
    "decode_failed": 4,
    "limit_exceeded": 5,
    "encode_failed": 6,
    "save_failed": 7,
    "queue_full": 8,
    "shut_down": 9,
    "cancelled": 10,
    "timed_out": 11,
    "panicked": 12,
}

#: Each error code's one-line description.
ERROR_DESCRIPTIONS: dict[str, str] = {
    "invalid_recipe": "the recipe is invalid",
    "invalid_argument": "an argument is invalid",
    "unsupported_format": "the input format is not supported or not allowed",
    "decode_failed": "the input could not be decoded",
    "limit_exceeded": "the input exceeds the configured limits",
    "encode_failed": "an output could not be encoded",
    "save_failed": "an output could not be saved",
    "queue_full": "the job queue is full",
    "shut_down": "the pool is shut down",
    "cancelled": "the job was cancelled",
    "timed_out": "the job's deadline passed",
    "panicked": "the job panicked inside the engine",
}

#: Every stage name, in job order.
STAGES: tuple[str, ...] = ("submit", "queue", "validate", "decode", "resize", "encode", "save",)

#: Every event name of the pool's bus (a lag is ``lagged``, not an event).
EVENT_TYPES: tuple[str, ...] = ("job_queued", "job_rejected", "job_started", "job_finished", "config_reloaded", "stats", "shutting_down",)

#: The fields of each object conveyor shows, in order (the result classes mirror them).
FIELDS: dict[str, tuple[str, ...]] = {
    "InputInfo": ("format", "width", "height", "byte_len", "orientation", "frames",),
    "OutputInfo": ("name", "format", "width", "height", "byte_len", "path", "quality", "encodes", "crop", "frames",),
    "CropBox": ("left", "top", "width", "height",),
    "Timings": ("queued_us", "decode_us", "resize_us", "encode_us", "save_us", "total_us",),
    "ErrorInfo": ("code", "numeric_code", "stage", "message",),
    "OutcomeOk": ("job_id", "key", "ok", "input", "outputs", "memory_estimate", "placeholder", "warnings", "timings",),
    "Warning": ("code", "message",),
    "OutcomeErr": ("job_id", "key", "ok", "error", "timings",),
    "LatencySnapshot": ("count", "sum_us", "p50_us", "p99_us", "cumulative_buckets",),
    "StatsSnapshot": ("workers", "queue_capacity", "queued", "running", "accepted", "completed", "failed", "rejected", "latency", "memory_budget", "memory_in_use", "memory_waiting",),
    "JobQueuedEvent": ("type", "job_id", "input_bytes",),
    "JobRejectedEvent": ("type", "job_id", "reason",),
    "JobStartedEvent": ("type", "job_id", "worker", "queued_us",),
    "JobFinishedEvent": ("type", "job_id", "ok", "error", "stage", "timings",),
    "ConfigReloadedEvent": ("type",),
    "StatsEvent": ("type", "stats",),
    "ShuttingDownEvent": ("type", "graceful",),
    "Lagged": ("type", "missed",),
}
