"""Loading ``libconveyor`` and declaring its C functions for ctypes.

The library is found, in order, at ``$CONVEYOR_LIB``, next to this package (the wheel
bundles it there), or in a development checkout's ``target/release`` or
``target/debug``. It is loaded with ``ctypes.CDLL``, which releases the GIL during every
call (``PyDLL`` would deadlock when callbacks arrive from Rust threads).
"""

from __future__ import annotations

import ctypes
import os
from ctypes import (
    CFUNCTYPE,
    POINTER,
    c_char_p,
    c_int32,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path

from . import _cstructs

_HERE = Path(__file__).resolve().parent


def _candidates() -> list[Path]:
    env = os.environ.get("CONVEYOR_LIB")
    found = [Path(env)] if env else []
    found.append(_HERE / "libconveyor.so")
    root = _HERE.parent.parent
    found += [root / "target" / "release" / "libconveyor.so", root / "target" / "debug" / "libconveyor.so"]
    return found


def _load() -> ctypes.CDLL:
    tried = []
    for path in _candidates():
        if path.exists():
            return ctypes.CDLL(str(path))
        tried.append(str(path))
    raise OSError("libconveyor.so not found; set CONVEYOR_LIB. Tried: " + ", ".join(tried))


# The C structures, generated from include/conveyor.h (sizes and offsets checked
# against the C compiler by ffi/tests/ctypes_layout.rs).
Timings = _cstructs.conveyor_timings
COutput = _cstructs.conveyor_output
CJobResult = _cstructs.conveyor_job_result
CStats = _cstructs.conveyor_stats
CEvent = _cstructs.conveyor_event
# ``conveyor_job_options``; ``struct_size`` is set to this struct's size.
CJobOptions = _cstructs.conveyor_job_options

QUEUE_WAIT_BLOCK = 0
QUEUE_WAIT_NEVER = 1


CALLBACK = CFUNCTYPE(None, c_void_p, POINTER(CJobResult))
FREE = CFUNCTYPE(None, c_void_p)

lib = _load()

lib.conveyor_version.restype = c_char_p
lib.conveyor_version.argtypes = []
lib.conveyor_result_str.restype = c_char_p
lib.conveyor_result_str.argtypes = [c_uint32]
lib.conveyor_last_error_message.restype = c_char_p
lib.conveyor_last_error_message.argtypes = []
lib.conveyor_test_panic.restype = c_uint32
lib.conveyor_test_panic.argtypes = []
lib.conveyor_pool_new.restype = c_uint32
lib.conveyor_pool_new.argtypes = [c_char_p, POINTER(c_void_p)]
for _name in ("conveyor_pool_submit", "conveyor_pool_try_submit"):
    _f = getattr(lib, _name)
    _f.restype = c_uint32
    _f.argtypes = [c_void_p, c_char_p, c_size_t, c_char_p, CALLBACK, c_void_p, c_void_p, POINTER(c_uint64)]
lib.conveyor_pool_submit_with_options.restype = c_uint32
lib.conveyor_pool_submit_with_options.argtypes = [
    c_void_p, c_char_p, c_size_t, c_char_p, POINTER(CJobOptions), CALLBACK, c_void_p, c_void_p, POINTER(c_uint64),
]
lib.conveyor_job_options_init.restype = c_uint32
lib.conveyor_job_options_init.argtypes = [POINTER(CJobOptions), c_size_t]
lib.conveyor_pool_poll.restype = c_uint32
lib.conveyor_pool_poll.argtypes = [c_void_p, c_int32, POINTER(POINTER(CJobResult))]
lib.conveyor_job_result_free.restype = None
lib.conveyor_job_result_free.argtypes = [POINTER(CJobResult)]
lib.conveyor_pool_cancel.restype = c_uint32
lib.conveyor_pool_cancel.argtypes = [c_void_p, c_uint64]
lib.conveyor_pool_stats.restype = c_uint32
lib.conveyor_pool_stats.argtypes = [c_void_p, POINTER(CStats)]
lib.conveyor_pool_shutdown.restype = c_uint32
lib.conveyor_pool_shutdown.argtypes = [c_void_p]
lib.conveyor_pool_shutdown_now.restype = c_uint32
lib.conveyor_pool_shutdown_now.argtypes = [c_void_p]
lib.conveyor_pool_free.restype = None
lib.conveyor_pool_free.argtypes = [c_void_p]
