"""conveyor for Python: the conveyor image pool through its C library, with ctypes.

>>> import conveyor
>>> with conveyor.Pool(workers=2) as pool:
...     result = pool.process("photo.jpg",  # or bytes, a pathlib.Path, a binary file
...                           {"outputs": [{"name": "thumb", "width": 320, "height": 320, "format": "webp"}]})
...     result.outputs[0].width
320

Results are plain objects; failures raise ``ConveyorError`` subclasses whose ``code`` is
the same snake_case name as in Rust, C and JS. Every method is safe to call from many
threads; the GIL is released while the library works or waits. Results arrive by a
callback on a pool thread, which completes a ``concurrent.futures.Future``.
"""

from __future__ import annotations

import atexit
import ctypes
import itertools
import json
import os
import threading
import weakref
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import IO, Any, Iterable, Iterator, Mapping, Optional, Union

from . import _events, _native
from ._codes import ERROR_CODES, EVENT_TYPES, STAGES
from ._events import Event, Events, Lagged
from .errors import (
    BY_CODE,
    BoundaryPanic,
    Cancelled,
    ConveyorError,
    DecodeFailed,
    EncodeFailed,
    InvalidArgument,
    InvalidRecipe,
    LimitExceeded,
    NullParameter,
    Panicked,
    QueueFull,
    SaveFailed,
    ShutDown,
    TimedOut,
    UnsupportedFormat,
    error_for,
)

__all__ = [
    "Pool", "Result", "Output", "InputInfo", "Timings", "Stats", "version", "Event", "Events", "Lagged",
    "ERROR_CODES", "STAGES", "EVENT_TYPES",
    "Input", "Recipe",
    "ConveyorError", "InvalidRecipe", "InvalidArgument", "UnsupportedFormat", "DecodeFailed", "LimitExceeded",
    "EncodeFailed", "SaveFailed", "QueueFull", "ShutDown", "Cancelled", "TimedOut", "Panicked",
    "NullParameter", "BoundaryPanic", "BY_CODE",
]

Recipe = Union[Mapping[str, Any], str, bytes, None]
#: What ``submit`` takes as an image: bytes-like data (``bytes``, ``bytearray``,
#: ``memoryview``, anything with the buffer protocol), a path (``str`` or
#: ``os.PathLike``), or a binary file object (anything with ``read()`` returning bytes).
Input = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", IO[bytes]]
_lib = _native.lib


def version() -> str:
    """The native library's version."""
    return _lib.conveyor_version().decode()


@dataclass(frozen=True)
class Output:
    """One finished output: the wire ``OutputInfo`` fields (``_codes.FIELDS``), plus
    ``data``, the encoded bytes when the pool has no output directory."""

    name: str
    format: str
    width: int
    height: int
    byte_len: int
    path: Optional[str]
    #: With ``max_bytes``: the quality chosen (the largest that fits).
    quality: Optional[int] = None
    #: With ``max_bytes``: the encodes the search spent.
    encodes: Optional[int] = None
    #: With ``fit: "cover"`` when it cropped: ``{"left", "top", "width", "height"}`` in
    #: the upright source's pixels.
    crop: Optional[dict[str, int]] = None
    #: With ``animated: true``, for an animated WebP output: its frame count.
    frames: Optional[int] = None
    data: Optional[bytes] = None


@dataclass(frozen=True)
class InputInfo:
    """The input as received: the wire ``InputInfo`` fields the C result carries (not
    ``orientation``)."""

    format: str
    width: int
    height: int
    byte_len: int
    #: Frames in the file (more than 1 for an animation; the first is used).
    frames: int = 1


@dataclass(frozen=True)
class Timings:
    """Microseconds per stage."""

    queued_us: int
    decode_us: int
    resize_us: int
    encode_us: int
    save_us: int
    total_us: int


@dataclass(frozen=True)
class Result:
    """A successful job, with the wire outcome's field names (``job_id``, ``key``,
    ``input``, ``outputs``, ``timings``).
    ``input_format``, ``input_width``, ``input_height`` and ``input_bytes`` are
    deprecated aliases of ``input.*``."""

    job_id: int
    input: InputInfo
    outputs: list[Output] = field(default_factory=list)
    timings: Optional[Timings] = None
    #: The key given to ``submit`` (it names the output folder), or None.
    key: Optional[str] = None
    #: What the job worked around without failing, as the wire shows it:
    #: ``[{"code": "icc_ignored", "message": "..."}]`` (an unusable colour profile);
    #: usually empty.
    warnings: list[dict[str, str]] = field(default_factory=list)
    #: The whole wire outcome as a dict (the JSON object every door shows), including
    #: fields that have no attribute here.
    outcome: dict[str, Any] = field(default_factory=dict)
    #: The placeholder the recipe asked for (``"placeholder"``), or None.
    placeholder: Optional[str] = None

    def output(self, name: str) -> Output:
        """The output with this name."""
        for o in self.outputs:
            if o.name == name:
                return o
        raise KeyError(name)

    @property
    def input_format(self) -> str:
        """Deprecated: ``input.format``."""
        return self.input.format

    @property
    def input_width(self) -> int:
        """Deprecated: ``input.width``."""
        return self.input.width

    @property
    def input_height(self) -> int:
        """Deprecated: ``input.height``."""
        return self.input.height

    @property
    def input_bytes(self) -> int:
        """Deprecated: ``input.byte_len``."""
        return self.input.byte_len


@dataclass(frozen=True)
class Stats:
    """Pool statistics."""

    workers: int
    queue_capacity: int
    queued: int
    running: int
    accepted: int
    completed: int
    failed: int
    rejected: int


def _text(p: Optional[bytes]) -> Optional[str]:
    return None if p is None else p.decode("utf-8", "replace")


def _input_bytes(data: Any) -> bytes:
    """The image bytes behind ``data`` (see :data:`Input`); raises ``TypeError`` with a
    hint for anything else, ``OSError`` when a file cannot be read."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, (str, os.PathLike)):
        with open(data, "rb") as f:
            return f.read()
    read = getattr(data, "read", None)
    if callable(read):
        content = read()
        if isinstance(content, str):
            raise TypeError("the file object is in text mode; open the image with open(path, 'rb')")
        try:
            return memoryview(content).tobytes()
        except TypeError:
            raise TypeError(f"the file object's read() returned {type(content).__name__}, not bytes") from None
    try:
        return memoryview(data).tobytes()
    except TypeError:
        raise TypeError(
            f"expected image data as bytes-like, a path or a binary file object, got {type(data).__name__}"
        ) from None


def _recipe_json(recipe: Recipe) -> Optional[bytes]:
    """The recipe as JSON bytes for the C library (None: the pool's default); raises
    ``TypeError`` for anything but a mapping, a JSON string or None."""
    if recipe is None:
        return None
    if isinstance(recipe, Mapping):
        return json.dumps(dict(recipe)).encode()
    if isinstance(recipe, str):
        return recipe.encode()
    if isinstance(recipe, (bytes, bytearray)):
        return bytes(recipe)
    if isinstance(recipe, (list, tuple)):
        raise TypeError("a recipe is a mapping {'outputs': [...]}, not a list; pass {'outputs': <this list>}")
    raise TypeError(f"a recipe is a mapping or a JSON string, got {type(recipe).__name__}")


def _convert(r: _native.CJobResult) -> Union[Result, ConveyorError]:
    """Copies everything out of the C result (valid only during the callback)."""
    outcome = _outcome_json(r)
    t = r.timings
    timings = Timings(t.queued_us, t.decode_us, t.resize_us, t.encode_us, t.save_us, t.total_us)
    if r.code != 0:
        return error_for(
            r.code, _text(r.message) or "", stage=_text(r.stage), job_id=r.job_id, key=_text(r.key),
            timings=timings, outcome=outcome,
        )
    outputs = []
    wire_outputs = outcome.get("outputs") or []
    for i in range(r.output_count):
        o = r.outputs[i]
        data = ctypes.string_at(o.data, o.len) if o.data else None
        extra = wire_outputs[i] if i < len(wire_outputs) else {}
        outputs.append(Output(
            name=_text(o.name) or "", format=_text(o.format) or "", width=o.width, height=o.height,
            byte_len=o.len, path=_text(o.path), quality=extra.get("quality"),
            encodes=extra.get("encodes"), crop=extra.get("crop"), frames=extra.get("frames"),
            data=data,
        ))
    return Result(
        job_id=r.job_id,
        input=InputInfo(
            format=_text(r.input_format) or "", width=r.input_width, height=r.input_height,
            byte_len=r.input_bytes, frames=(outcome.get("input") or {}).get("frames", 1),
        ),
        outputs=outputs,
        timings=timings,
        key=_text(r.key),
        warnings=list(outcome.get("warnings", [])),
        outcome=outcome,
        placeholder=outcome.get("placeholder"),
    )


def _outcome_json(r: _native.CJobResult) -> dict[str, Any]:
    """The result's wire outcome JSON (``conveyor_job_result.json``) as a dict."""
    if not r.json:
        return {}
    value = json.loads(ctypes.string_at(r.json, r.json_len).decode("utf-8"))
    return value if isinstance(value, dict) else {}


def _job_options(block: bool, key: Optional[str], timeout: Optional[float]) -> _native.CJobOptions:
    """The C options for one job; raises ``TypeError``/``ValueError`` for a bad key or
    timeout (the key's own rules are the core's, checked when the job runs)."""
    opts = _native.CJobOptions()
    rc = _lib.conveyor_job_options_init(ctypes.byref(opts), ctypes.sizeof(opts))
    if rc != 0:
        raise _last_error(rc)
    if not block:
        opts.queue_wait = _native.QUEUE_WAIT_NEVER
    if key is not None:
        if not isinstance(key, str):
            raise TypeError(f"key must be a str, got {type(key).__name__}")
        opts.key = key.encode()
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        opts.timeout_ms = max(1, round(timeout * 1000))
    return opts


def _last_error(code: int) -> ConveyorError:
    return error_for(code, _text(_lib.conveyor_last_error_message()) or "")


_live_pools: "weakref.WeakSet[Pool]" = weakref.WeakSet()


@atexit.register
def _shutdown_all() -> None:
    # No callback may reach a finalising interpreter: drain every pool first.
    for pool in list(_live_pools):
        pool.shutdown()


class Pool:
    """A pool of native worker threads.

    ``Pool(workers=4, queue_capacity=16, output_dir=None, limits=None)``; ``limits`` is
    the shared limits object (``{"max_pixels": 50_000_000, ...}``), ``default_recipe``
    the recipe used when ``submit`` gets none, ``memory_budget`` the job memory budget in
    bytes (a job runs when its estimated peak fits; default half the machine's memory),
    ``event_capacity`` the events buffered per subscriber. Use it as a context manager,
    or call ``shutdown``.
    """

    def __init__(
        self,
        workers: Optional[int] = None,
        queue_capacity: Optional[int] = None,
        output_dir: Optional[str] = None,
        limits: Optional[Mapping[str, int]] = None,
        default_recipe: Recipe = None,
        formats: Optional[list[str]] = None,
        memory_budget: Optional[int] = None,
        event_capacity: Optional[int] = None,
    ) -> None:
        config: dict[str, Any] = {}
        for key, value in (
            ("workers", workers),
            ("queue_capacity", queue_capacity),
            ("limits", limits),
            ("formats", formats),
            ("memory_budget", memory_budget),
            ("event_capacity", event_capacity),
        ):
            if value is not None:
                config[key] = dict(value) if isinstance(value, Mapping) else value
        if output_dir is not None:
            config["output_dir"] = str(output_dir)
        default_json = _recipe_json(default_recipe)
        if default_json is not None:
            config["default_recipe"] = json.loads(default_json)
        handle = ctypes.c_void_p()
        rc = _lib.conveyor_pool_new(json.dumps(config).encode(), ctypes.byref(handle))
        if rc != 0:
            raise _last_error(rc)
        self._handle: Optional[ctypes.c_void_p] = handle
        self._lock = threading.Lock()
        self._futures: dict[int, Future] = {}
        self._keys = itertools.count(1)
        self._closed = False
        # One callback object for the pool's whole life (ctypes must keep it alive).
        self._callback = _native.CALLBACK(self._on_done)
        _live_pools.add(self)

    # -- callbacks (pool threads) ---------------------------------------------------
    def _on_done(self, userdata: Optional[int], result: Any) -> None:
        try:
            converted = _convert(result.contents)
            with self._lock:
                future = self._futures.pop(int(userdata or 0), None)
            if future is None:
                return
            if isinstance(converted, ConveyorError):
                future.set_exception(converted)
            else:
                future.set_result(converted)
        except BaseException:  # never let an exception unwind into C
            pass

    # -- submitting -------------------------------------------------------------------
    def submit(self, data: Input, recipe: Recipe = None, *, block: bool = True, key: Optional[str] = None,
               timeout: Optional[float] = None) -> "Future[Result]":
        """Submits an image; returns a Future of its :class:`Result`.

        ``data`` is bytes-like, a path (``str`` or ``pathlib.Path``, read here) or a
        binary file object (read to its end here). ``recipe`` is a mapping, a JSON
        string, or None for the pool's default. Anything else raises ``TypeError``.
        Blocks while the queue is full (the GIL is released); with ``block=False``
        raises :class:`QueueFull` instead. An invalid recipe raises
        :class:`InvalidRecipe` at once. The future's ``job_id`` attribute is the id.
        ``key`` names the job's output folder under ``output_dir`` (default: the job
        id) and comes back as ``Result.key``; a key against the rules fails the job with
        :class:`InvalidArgument`. ``timeout`` (seconds, queue time included) fails the
        job with :class:`TimedOut` when it is not done in time.
        """
        handle = self._require_open()
        options = _job_options(block, key, timeout)
        recipe_bytes = _recipe_json(recipe)
        data = _input_bytes(data)
        future: Future = Future()
        future.set_running_or_notify_cancel()  # before submitting: the callback may finish it at once
        slot = next(self._keys)
        with self._lock:
            self._futures[slot] = future
        job_id = ctypes.c_uint64()
        rc = _lib.conveyor_pool_submit_with_options(handle, data, len(data), recipe_bytes, ctypes.byref(options),
                                                    self._callback, slot, None, ctypes.byref(job_id))
        if rc != 0:
            with self._lock:
                self._futures.pop(slot, None)
            raise _last_error(rc)
        future.job_id = job_id.value  # type: ignore[attr-defined]
        return future

    def process(self, data: Input, recipe: Recipe = None, *, key: Optional[str] = None,
                timeout: Optional[float] = None) -> Result:
        """Processes one image and waits for it (``key`` and ``timeout`` as in
        :meth:`submit`). Raises its ``ConveyorError`` on failure."""
        return self.submit(data, recipe, key=key, timeout=timeout).result()

    def map(self, inputs: Iterable[Input], recipe: Recipe = None) -> Iterator[Result]:
        """Processes many images, yielding results in input order (like ``Executor.map``);
        a failed image raises its error when its turn comes."""
        futures = [self.submit(data, recipe) for data in inputs]
        for f in futures:
            yield f.result()

    def cancel(self, future: "Future[Result]") -> bool:
        """Cancels the job behind ``future``: a queued job fails with :class:`Cancelled`
        without running; a running one stops within about 100 ms (the decoders, the
        resizer and the encoders check as they go). Returns whether it was still
        pending."""
        handle = self._require_open()
        job_id = getattr(future, "job_id", None)
        if job_id is None:
            return False
        return _lib.conveyor_pool_cancel(handle, job_id) == 0

    def stats(self) -> Stats:
        """A snapshot of the pool's statistics."""
        handle = self._require_open()
        s = _native.CStats()
        rc = _lib.conveyor_pool_stats(handle, ctypes.byref(s))
        if rc != 0:
            raise _last_error(rc)
        return Stats(s.workers, s.queue_capacity, s.queued, s.running, s.accepted, s.completed, s.failed, s.rejected)

    # -- events and live settings (see _events.py) --------------------------------------
    def events(self, capacity: int = 0) -> Events:
        """Subscribes to the pool's events: an iterator (``for``, or ``async for``) of
        :class:`Event` dicts with the same fields as in Rust, C and JS, and a
        :class:`Lagged` item (``.missed``) when this subscriber fell behind by more than
        ``capacity`` events (0: the pool's ``event_capacity``). The pool never waits
        for it. Close it (or use ``with``) to unsubscribe."""
        return Events(self._require_open(), capacity)

    def reload(self, *, default_recipe: Recipe = None, limits: Optional[Mapping[str, int]] = None,
               formats: Optional[list[str]] = None) -> None:
        """Replaces the live settings as a whole (a setting left out takes its default);
        jobs started afterwards use them and a ``config_reloaded`` event goes out. A bad
        setting raises (e.g. :class:`InvalidRecipe`) and the old settings stay."""
        _events.reload(self._require_open(), default_recipe, limits, formats)

    # -- lifecycle --------------------------------------------------------------------
    def _require_open(self) -> ctypes.c_void_p:
        handle = self._handle
        if handle is None:
            raise ShutDown("the pool is shut down")
        return handle

    def shutdown(self, wait: bool = True, *, cancel_queued: bool = False) -> None:
        """Stops intake and finishes every accepted job (``cancel_queued=True`` finishes
        queued ones as :class:`Cancelled`); when it returns every future is done. Then
        frees the native pool. Idempotent. ``wait`` is accepted for compatibility with
        ``concurrent.futures`` and is always honoured as True."""
        with self._lock:
            handle, self._handle = self._handle, None
        if handle is None:
            return
        if cancel_queued:
            _lib.conveyor_pool_shutdown_now(handle)
        else:
            _lib.conveyor_pool_shutdown(handle)
        _lib.conveyor_pool_free(handle)
        _live_pools.discard(self)

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def __del__(self) -> None:
        try:
            self.shutdown()
        except Exception:
            pass
