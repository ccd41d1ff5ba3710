//! Hooks for the library's own tests (the C misuse program, the Python tests). They
//! are exported from the library but left out of the public header and the API: a
//! test declares what it calls itself. Not covered by any compatibility promise.

use crate::boundary::guard;
use crate::result::conveyor_result;

/// Test hook: panics inside the boundary and so returns `CONVEYOR_PANIC`. It exists so
/// that bindings can check that no panic crosses the C ABI.
///
/// cbindgen:ignore
#[no_mangle]
pub extern "C" fn conveyor_test_panic() -> conveyor_result {
    guard(|| panic!("conveyor_test_panic was called"))
}
