"""The C library's structures for ctypes, one class per `typedef struct` of
``include/conveyor.h``, with the C names.

Generated from the header by ``ffi/tests/ctypes_layout.rs``
(``CONVEYOR_BLESS=1 cargo test -p conveyor-ffi --test ctypes_layout``); do not
edit. The same test compiles a C program that prints every size and offset and
compares them with these classes'.
"""

from ctypes import POINTER, Structure, c_char_p, c_size_t, c_uint32, c_uint64, c_uint8, c_void_p

__all__ = ["conveyor_event", "conveyor_timings", "conveyor_output", "conveyor_job_result", "conveyor_job_options", "conveyor_stats"]


class conveyor_event(Structure):
    _fields_ = [
        ("type", c_char_p),
        ("json", c_char_p),
        ("json_len", c_size_t),
        ("job_id", c_uint64),
        ("missed", c_uint64),
    ]


class conveyor_timings(Structure):
    _fields_ = [
        ("queued_us", c_uint64),
        ("decode_us", c_uint64),
        ("resize_us", c_uint64),
        ("encode_us", c_uint64),
        ("save_us", c_uint64),
        ("total_us", c_uint64),
    ]


class conveyor_output(Structure):
    _fields_ = [
        ("name", c_char_p),
        ("format", c_char_p),
        ("width", c_uint32),
        ("height", c_uint32),
        ("data", POINTER(c_uint8)),
        ("len", c_size_t),
        ("path", c_char_p),
    ]


class conveyor_job_result(Structure):
    _fields_ = [
        ("job_id", c_uint64),
        ("code", c_uint32),
        ("message", c_char_p),
        ("stage", c_char_p),
        ("input_format", c_char_p),
        ("input_width", c_uint32),
        ("input_height", c_uint32),
        ("input_bytes", c_uint64),
        ("timings", conveyor_timings),
        ("outputs", POINTER(conveyor_output)),
        ("output_count", c_size_t),
        ("userdata", c_void_p),
        ("key", c_char_p),
        ("json", c_char_p),
        ("json_len", c_size_t),
    ]


class conveyor_job_options(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("queue_wait", c_uint32),
        ("key", c_char_p),
        ("timeout_ms", c_uint64),
        ("queue_wait_ms", c_uint64),
    ]


class conveyor_stats(Structure):
    _fields_ = [
        ("workers", c_uint32),
        ("queue_capacity", c_uint32),
        ("queued", c_uint64),
        ("running", c_uint64),
        ("accepted", c_uint64),
        ("completed", c_uint64),
        ("failed", c_uint64),
        ("rejected", c_uint64),
    ]
