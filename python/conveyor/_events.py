"""The pool's event bus and live reconfiguration, over the C library's
``conveyor_pool_subscribe`` / ``conveyor_subscription_*`` and ``conveyor_pool_reload``.

``pool.events(capacity=0)`` returns an :class:`Events` subscription: iterate it (plain
``for``, or ``async for`` in asyncio), or call :meth:`Events.get` / :meth:`Events.poll`.
Each item is an :class:`Event`, a ``dict`` of the event's JSON fields with the same
names as in Rust, C and JS (``ev["job_id"]`` or ``ev.job_id``; ``ev.type`` is the name).
A subscriber that fell behind gets one :class:`Lagged` item whose ``missed`` says how
many events it lost, then carries on with the oldest event still buffered. The pool
never waits for a subscriber, and one that never reads holds at most ``capacity``
events (default: the pool's ``event_capacity``, 1024).

``pool.reload(default_recipe=..., limits=..., formats=...)`` replaces the live settings
as a whole (a field left out takes its default) and announces ``config_reloaded``.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import threading
import time
from collections import deque
from ctypes import POINTER, c_char_p, c_int32, c_size_t, c_uint32, c_void_p
from typing import Any, Mapping, Optional, Union

from . import _native
from ._codes import ERROR_CODES
from .errors import ConveyorError, ShutDown, error_for

__all__ = ["Event", "Lagged", "Events", "reload"]

_lib = _native.lib

# Result codes used here (the shared table, generated from the Rust core).
_OK, _SHUT_DOWN, _TIMED_OUT = 0, ERROR_CODES["shut_down"], ERROR_CODES["timed_out"]
# How long one native wait lasts, so that Ctrl-C and close() are seen in between.
_SLICE_MS = 100


_CEvent = _native.CEvent


_lib.conveyor_pool_subscribe.restype = c_uint32
_lib.conveyor_pool_subscribe.argtypes = [c_void_p, c_size_t, POINTER(c_void_p)]
_lib.conveyor_subscription_recv.restype = c_uint32
_lib.conveyor_subscription_recv.argtypes = [c_void_p, c_int32, POINTER(POINTER(_CEvent))]
_lib.conveyor_subscription_try_recv.restype = c_uint32
_lib.conveyor_subscription_try_recv.argtypes = [c_void_p, POINTER(POINTER(_CEvent))]
_lib.conveyor_subscription_free.restype = None
_lib.conveyor_subscription_free.argtypes = [c_void_p]
_lib.conveyor_pool_reload.restype = c_uint32
_lib.conveyor_pool_reload.argtypes = [c_void_p, c_char_p]


def _last_error(code: int) -> ConveyorError:
    msg = _lib.conveyor_last_error_message()
    return error_for(code, msg.decode("utf-8", "replace") if msg else "")


class Event(dict):
    """One event: its JSON object as a ``dict`` (``type``, ``job_id``, ``timings``, ...),
    whose fields can also be read as attributes."""

    @property
    def type(self) -> str:
        """The event's name: ``job_queued``, ``job_started``, ``job_finished``, ..."""
        return self["type"]

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict.__repr__(self)})"


class Lagged(Event):
    """This subscriber fell behind: ``missed`` events were dropped for it alone. Its JSON
    is ``{"type": "lagged", "missed": n}`` in every binding."""

    @property
    def missed(self) -> int:
        """How many events were missed."""
        return self["missed"]


class Events:
    """A subscription to a pool's events (see the module docs). Safe to share between
    threads (calls are serialised); close it, or use it as a context manager, to
    unsubscribe. It may outlive its pool: after shutdown it yields what is still
    buffered, then ends."""

    def __init__(self, pool_handle: ctypes.c_void_p, capacity: int = 0) -> None:
        if capacity < 0:
            raise ValueError("capacity must be >= 0")
        sub = c_void_p()
        rc = _lib.conveyor_pool_subscribe(pool_handle, capacity, ctypes.byref(sub))
        if rc != _OK:
            raise _last_error(rc)
        self._sub: Optional[c_void_p] = sub
        self._lock = threading.Lock()
        # Events taken by an asyncio wait whose task was cancelled: handed out next.
        self._pending: deque[Event] = deque()
        self._done = False

    def _native(self, timeout_ms: int) -> Optional[Event]:
        """One native receive, with ``self._lock`` held (the GIL is released while it
        waits). ``None`` on timeout; raises :class:`ShutDown` once the bus is closed
        and drained."""
        if self._done or self._sub is None:
            raise ShutDown("the subscription is closed")
        ev = POINTER(_CEvent)()
        rc = _lib.conveyor_subscription_recv(self._sub, timeout_ms, ctypes.byref(ev))
        if rc == _TIMED_OUT:
            return None
        if rc == _SHUT_DOWN:
            self._done = True
            raise ShutDown("the pool has shut down and every event has been read")
        if rc != _OK:
            raise _last_error(rc)
        # The C event is valid only until the next call: copy it now.
        c = ev.contents
        fields = json.loads(ctypes.string_at(c.json, c.json_len))
        return Lagged(fields) if c.missed else Event(fields)

    def _take(self, timeout_ms: int) -> Optional[Event]:
        with self._lock:
            if self._pending:
                return self._pending.popleft()
            return self._native(timeout_ms)

    def get(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event (or :class:`Lagged`), waiting up to ``timeout`` seconds (None:
        as long as needed). Returns None when nothing arrived in time; raises
        :class:`ShutDown` once the pool has shut down and every event was read."""
        if timeout is not None and timeout <= 0:
            return self._take(0)
        deadline = None if timeout is None else _now() + timeout
        while True:
            slice_ms = _SLICE_MS
            if deadline is not None:
                left = deadline - _now()
                if left <= 0:
                    return self._take(0)
                slice_ms = max(1, min(_SLICE_MS, int(left * 1000)))
            ev = self._take(slice_ms)
            if ev is not None:
                return ev

    def poll(self) -> Optional[Event]:
        """The next event if one is buffered, without waiting; else None (or
        :class:`ShutDown` once the bus is closed and drained)."""
        return self._take(0)

    def __iter__(self) -> "Events":
        return self

    def __next__(self) -> Event:
        try:
            ev = self.get()
        except ShutDown:
            raise StopIteration from None
        assert ev is not None
        return ev

    def __aiter__(self) -> "Events":
        return self

    async def __anext__(self) -> Event:
        """Waits in the loop's default executor, one short slice at a time. The event is
        parked on the subscription before this coroutine takes it, so cancelling the
        awaiting task loses nothing."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(None, self._fill)
            except ShutDown:
                raise StopAsyncIteration from None
            with self._lock:
                if self._pending:
                    return self._pending.popleft()

    def _fill(self) -> None:
        with self._lock:
            if not self._pending:
                ev = self._native(_SLICE_MS)
                if ev is not None:
                    self._pending.append(ev)

    def close(self) -> None:
        """Unsubscribes and frees the native subscription. Idempotent."""
        with self._lock:
            sub, self._sub = self._sub, None
        if sub is not None:
            _lib.conveyor_subscription_free(sub)

    def __enter__(self) -> "Events":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


def _now() -> float:
    return time.monotonic()


Recipe = Union[Mapping[str, Any], str, None]


def reload(
    pool_handle: ctypes.c_void_p,
    default_recipe: Recipe = None,
    limits: Optional[Mapping[str, int]] = None,
    formats: Optional[list[str]] = None,
) -> None:
    """Replaces the live settings (see :meth:`conveyor.Pool.reload`)."""
    settings: dict[str, Any] = {}
    if default_recipe is not None:
        settings["default_recipe"] = json.loads(default_recipe) if isinstance(default_recipe, str) else dict(default_recipe)
    if limits is not None:
        settings["limits"] = dict(limits)
    if formats is not None:
        settings["formats"] = list(formats)
    rc = _lib.conveyor_pool_reload(pool_handle, json.dumps(settings).encode())
    if rc != _OK:
        raise _last_error(rc)
