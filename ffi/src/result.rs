//! `conveyor_result`: `CONVEYOR_OK`, one code per core error kind with the same number,
//! and the two boundary codes. Values are never reused; retired ones stay reserved.

use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use conveyor::{ErrorKind, InputFormat, OutputFormat};

/// The result of a call, and the code of a job's outcome.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum conveyor_result {
    /// Success.
    CONVEYOR_OK = 0,
    /// The recipe JSON is malformed, has unknown fields or out-of-range values.
    CONVEYOR_INVALID_RECIPE = 1,
    /// An argument is invalid (configuration JSON, UTF-8, a job key, an unknown job id).
    CONVEYOR_INVALID_ARGUMENT = 2,
    /// The input is not a supported or allowed image format.
    CONVEYOR_UNSUPPORTED_FORMAT = 3,
    /// The input could not be decoded.
    CONVEYOR_DECODE_FAILED = 4,
    /// The input exceeds the pool's limits.
    CONVEYOR_LIMIT_EXCEEDED = 5,
    /// An output could not be encoded.
    CONVEYOR_ENCODE_FAILED = 6,
    /// An output could not be saved.
    CONVEYOR_SAVE_FAILED = 7,
    /// The job queue is full (non-blocking submit).
    CONVEYOR_QUEUE_FULL = 8,
    /// The pool is shut down.
    CONVEYOR_SHUT_DOWN = 9,
    /// The job was cancelled.
    CONVEYOR_CANCELLED = 10,
    /// The job's deadline passed, or a poll timed out.
    CONVEYOR_TIMED_OUT = 11,
    /// The job panicked inside the engine (the pool survived).
    CONVEYOR_PANICKED = 12,
    /// A required pointer parameter was NULL.
    CONVEYOR_NULL_PARAMETER = 100,
    /// A panic was caught at the C boundary of this call.
    CONVEYOR_PANIC = 101,
}

impl From<ErrorKind> for conveyor_result {
    fn from(k: ErrorKind) -> conveyor_result {
        use conveyor_result::*;
        match k {
            ErrorKind::InvalidRecipe => CONVEYOR_INVALID_RECIPE,
            ErrorKind::InvalidArgument => CONVEYOR_INVALID_ARGUMENT,
            ErrorKind::UnsupportedFormat => CONVEYOR_UNSUPPORTED_FORMAT,
            ErrorKind::DecodeFailed => CONVEYOR_DECODE_FAILED,
            ErrorKind::LimitExceeded => CONVEYOR_LIMIT_EXCEEDED,
            ErrorKind::EncodeFailed => CONVEYOR_ENCODE_FAILED,
            ErrorKind::SaveFailed => CONVEYOR_SAVE_FAILED,
            ErrorKind::QueueFull => CONVEYOR_QUEUE_FULL,
            ErrorKind::ShutDown => CONVEYOR_SHUT_DOWN,
            ErrorKind::Cancelled => CONVEYOR_CANCELLED,
            ErrorKind::TimedOut => CONVEYOR_TIMED_OUT,
            ErrorKind::Panicked => CONVEYOR_PANICKED,
            _ => CONVEYOR_PANICKED,
        }
    }
}

/// The core's names (error kinds, input and output formats) as C strings, made once
/// and kept for the life of the process, so the C side sees the same vocabulary without
/// a second copy of it here.
pub(crate) fn c_name(name: &str) -> *const c_char {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        let words = ErrorKind::ALL
            .iter()
            .map(|k| k.as_str())
            .chain(InputFormat::ALL.iter().map(|f| f.as_str()))
            .chain(OutputFormat::ALL.iter().map(|f| f.as_str()))
            .chain(["ok", "null_parameter", "panic", "unknown"]);
        words
            .map(|w| CString::new(w).expect("names have no NUL"))
            .collect()
    });
    names
        .iter()
        .find(|c| c.as_bytes() == name.as_bytes())
        .or_else(|| names.iter().find(|c| c.as_bytes() == b"unknown"))
        .expect("\"unknown\" is in the table")
        .as_ptr()
}

/// The library version, e.g. `"0.1.0"`: a static string, never freed. Compare it with
/// the header's `CONVEYOR_VERSION` to detect a header/library mismatch.
#[no_mangle]
pub extern "C" fn conveyor_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The stable snake_case name of a result code (`"decode_failed"`, `"ok"`,
/// `"null_parameter"`, `"panic"`; `"unknown"` for other values): a static string.
#[no_mangle]
pub extern "C" fn conveyor_result_str(code: conveyor_result) -> *const c_char {
    // Read the raw value: a C caller may pass any integer.
    let raw = code as u32;
    let name = match raw {
        0 => "ok",
        100 => "null_parameter",
        101 => "panic",
        other => ErrorKind::from_code(other).map_or("unknown", |k| k.as_str()),
    };
    c_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_core_table() {
        for kind in ErrorKind::ALL {
            let code = conveyor_result::from(kind);
            assert_eq!(code as u32, kind.code());
            // SAFETY: conveyor_result_str returns a static NUL-terminated string.
            let name = unsafe { std::ffi::CStr::from_ptr(conveyor_result_str(code)) };
            assert_eq!(name.to_str().unwrap(), kind.as_str());
        }
    }
}
