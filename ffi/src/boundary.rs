//! The C boundary: every exported function body runs in [`guard`], which turns a panic
//! into `CONVEYOR_PANIC`; NULL checks; C string conversion; and the per-thread message
//! of the last failed call (like `errno`: never shared between threads, so concurrent
//! calls cannot overwrite each other's messages; job messages travel with each result).

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::result::conveyor_result;

thread_local! {
    static LAST_MESSAGE: RefCell<CString> = RefCell::new(CString::default());
}

/// Records the message of this thread's last failed call.
pub(crate) fn set_message(msg: impl Into<String>) {
    let msg = CString::new(msg.into().replace('\0', "\\0")).unwrap_or_default();
    LAST_MESSAGE.with(|m| *m.borrow_mut() = msg);
}

/// Runs `f` inside the panic boundary. On failure the message is recorded for
/// `conveyor_last_error_message`.
pub(crate) fn guard(f: impl FnOnce() -> Result<(), (conveyor_result, String)>) -> conveyor_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {
            set_message("");
            conveyor_result::CONVEYOR_OK
        }
        Ok(Err((code, msg))) => {
            set_message(msg);
            code
        }
        Err(p) => {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            set_message(format!("panic caught at the C boundary: {what}"));
            conveyor_result::CONVEYOR_PANIC
        }
    }
}

/// An `Err` for a NULL parameter.
pub(crate) fn null(name: &str) -> (conveyor_result, String) {
    (
        conveyor_result::CONVEYOR_NULL_PARAMETER,
        format!("{name} is NULL"),
    )
}

/// Reads an optional C string as UTF-8. NULL gives `None`.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string valid for this call.
pub(crate) unsafe fn opt_str<'a>(
    p: *const c_char,
    name: &str,
    bad: conveyor_result,
) -> Result<Option<&'a str>, (conveyor_result, String)> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller promises a NUL-terminated string that lives for this call.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map(Some)
        .map_err(|e| (bad, format!("{name} is not valid UTF-8: {e}")))
}

/// The message of this thread's last failed call (empty after a successful one). The
/// string belongs to the library and stays valid until this thread's next conveyor
/// call.
#[no_mangle]
pub extern "C" fn conveyor_last_error_message() -> *const c_char {
    LAST_MESSAGE.with(|m| m.borrow().as_ptr())
}
