//! What the `ffi_submit` target does with one input: it calls the exported C functions
//! of `conveyor-ffi` in-process, as a C program would, and checks that every accepted
//! submit gets exactly one callback (then exactly one `userdata_free`) and every refused
//! one gets none.
//!
//! Input layout: `recipe_json NUL image_bytes`. C strings cannot hold a NUL, so the
//! first NUL is the natural split. An input that starts with NUL passes a NULL recipe
//! (the pool's default recipe) and the rest as the image; one without a NUL is all
//! recipe, with an empty image. `ffi/tests/c/fuzz_replay.c` does the same split when CI
//! replays the committed files through the real shared library.

use std::collections::HashMap;
use std::ffi::{c_void, CStr, CString};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

use conveyor::Recipe;
use conveyor_ffi::{
    conveyor_job_result, conveyor_pool, conveyor_pool_new, conveyor_pool_submit, conveyor_result,
};

use crate::core_harness::fuzz_pool_config_json;

/// Splits an input into the recipe C string (None: NULL) and the image bytes.
pub fn split(data: &[u8]) -> (Option<&[u8]>, &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(0) => (None, &data[1..]),
        Some(i) => (Some(&data[..i]), &data[i + 1..]),
        None => (Some(data), &[]),
    }
}

struct PoolPtr(*mut conveyor_pool);
// SAFETY: the C API documents the pool as thread-safe.
unsafe impl Send for PoolPtr {}
// SAFETY: as above.
unsafe impl Sync for PoolPtr {}

/// One pool for the whole process, created on first use and never freed (the fuzzer
/// exits the process).
fn pool() -> *mut conveyor_pool {
    static POOL: OnceLock<PoolPtr> = OnceLock::new();
    POOL.get_or_init(|| {
        let cfg = CString::new(fuzz_pool_config_json()).unwrap();
        let mut p: *mut conveyor_pool = std::ptr::null_mut();
        // SAFETY: a NUL-terminated string and a writable out pointer.
        let rc = unsafe { conveyor_pool_new(cfg.as_ptr(), &mut p) };
        assert_eq!(rc, conveyor_result::CONVEYOR_OK, "conveyor_pool_new failed");
        assert!(!p.is_null());
        PoolPtr(p)
    })
    .0
}

/// Per job: callbacks and userdata_free calls seen so far.
#[derive(Default, Clone, Copy, Debug)]
struct Seen {
    callbacks: u32,
    frees: u32,
    code: Option<conveyor_result>,
    outputs: usize,
}

struct Jobs {
    seen: Mutex<(u64, HashMap<u64, Seen>)>,
    cv: Condvar,
}

fn jobs() -> &'static Jobs {
    static J: OnceLock<Jobs> = OnceLock::new();
    J.get_or_init(|| Jobs {
        seen: Mutex::new((0, HashMap::new())),
        cv: Condvar::new(),
    })
}

/// The userdata is a ticket number, never dereferenced; a callback for a number that is
/// not pending (a second callback, or one for a refused submit) fails the check.
unsafe extern "C" fn on_result(userdata: *mut c_void, result: *const conveyor_job_result) {
    assert!(!result.is_null(), "callback with a NULL result");
    // SAFETY: valid during the callback, by the API contract.
    let r = unsafe { &*result };
    assert_eq!(
        r.userdata, userdata,
        "result.userdata differs from the callback's"
    );
    let ok = r.code == conveyor_result::CONVEYOR_OK;
    assert_eq!(
        r.message.is_null(),
        ok,
        "message must be NULL exactly on success"
    );
    if !ok {
        // SAFETY: a NUL-terminated string owned by the library.
        let m = unsafe { CStr::from_ptr(r.message) };
        assert!(!m.to_bytes().is_empty(), "an empty error message");
        assert_eq!(r.output_count, 0, "a failed job with outputs");
    } else {
        assert!(r.output_count >= 1 && !r.outputs.is_null());
        assert!(r.input_width >= 1 && r.input_height >= 1);
        // SAFETY: `output_count` outputs, valid during the callback.
        let outs = unsafe { std::slice::from_raw_parts(r.outputs, r.output_count) };
        for o in outs {
            assert!(!o.name.is_null() && !o.format.is_null());
            assert!(o.width >= 1 && o.height >= 1);
            assert!(!o.data.is_null() && o.len > 0 && o.path.is_null());
            // SAFETY: `len` readable bytes owned by the library. Touch them all, so
            // AddressSanitizer checks the whole buffer.
            let bytes = unsafe { std::slice::from_raw_parts(o.data, o.len) };
            std::hint::black_box(bytes.iter().fold(0u8, |a, &b| a ^ b));
        }
    }
    let j = jobs();
    let mut g = j.seen.lock().unwrap();
    let ticket = userdata as u64;
    let s =
        g.1.get_mut(&ticket)
            .unwrap_or_else(|| panic!("callback for ticket {ticket}, which is not pending"));
    s.callbacks += 1;
    s.code = Some(r.code);
    s.outputs = r.output_count;
    assert_eq!(s.callbacks, 1, "a second callback for ticket {ticket}");
    assert_eq!(
        s.frees, 0,
        "callback after userdata_free for ticket {ticket}"
    );
}

unsafe extern "C" fn on_free(userdata: *mut c_void) {
    let j = jobs();
    let mut g = j.seen.lock().unwrap();
    let ticket = userdata as u64;
    let s =
        g.1.get_mut(&ticket)
            .unwrap_or_else(|| panic!("userdata_free for ticket {ticket}, which is not pending"));
    s.frees += 1;
    assert_eq!(s.frees, 1, "userdata_free twice for ticket {ticket}");
    assert_eq!(
        s.callbacks, 1,
        "userdata_free before the callback for ticket {ticket}"
    );
    j.cv.notify_all();
}

/// What one submit came to: the code `conveyor_pool_submit` returned and, when it was
/// accepted, the code the callback reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Submitted {
    /// The submit call's code.
    pub submit: conveyor_result,
    /// The job's code, for an accepted job.
    pub job: Option<conveyor_result>,
}

/// The `ffi_submit` target: one submit through the C ABI, then wait for the callback.
pub fn submit(data: &[u8]) -> Submitted {
    let (recipe, image) = split(data);
    let recipe_c = recipe.map(|r| CString::new(r).expect("split at the first NUL"));
    // What the core says about this recipe; the C ABI must agree.
    let expected_outputs = match recipe {
        None => Some(2),
        Some(r) => std::str::from_utf8(r)
            .ok()
            .and_then(|s| Recipe::from_json(s).ok())
            .map(|r| r.outputs.len()),
    };
    let pool = pool();
    let j = jobs();
    let ticket = {
        let mut g = j.seen.lock().unwrap();
        g.0 += 1;
        let t = g.0;
        g.1.insert(t, Seen::default());
        t
    };
    let mut job_id = 0u64;
    // SAFETY: a live pool; `image` is readable for its length (a dangling but non-NULL
    // pointer when empty, as C callers may pass); the recipe is NULL or NUL-terminated.
    let rc = unsafe {
        conveyor_pool_submit(
            pool,
            image.as_ptr(),
            image.len(),
            recipe_c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            Some(on_result),
            ticket as *mut c_void,
            Some(on_free),
            &mut job_id,
        )
    };
    if rc != conveyor_result::CONVEYOR_OK {
        assert_eq!(
            rc,
            conveyor_result::CONVEYOR_INVALID_RECIPE,
            "submit refused with an unexpected code"
        );
        assert!(expected_outputs.is_none(), "a valid recipe was refused");
        // Refused: no callback may ever come. Give a stray one a moment to show up.
        std::thread::sleep(Duration::from_micros(200));
        let mut g = j.seen.lock().unwrap();
        let s = g.1.remove(&ticket).unwrap();
        assert_eq!(
            (s.callbacks, s.frees),
            (0, 0),
            "a refused submit got a callback"
        );
        return Submitted {
            submit: rc,
            job: None,
        };
    }
    assert!(
        expected_outputs.is_some(),
        "an invalid recipe was accepted: {:?}",
        recipe.map(String::from_utf8_lossy)
    );
    let mut g = j.seen.lock().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while g.1[&ticket].frees == 0 {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        assert!(!left.is_zero(), "no callback within 60 s for job {job_id}");
        g = j.cv.wait_timeout(g, left).unwrap().0;
    }
    let s = g.1.remove(&ticket).unwrap();
    assert_eq!((s.callbacks, s.frees), (1, 1));
    if s.code == Some(conveyor_result::CONVEYOR_OK) {
        assert_eq!(Some(s.outputs), expected_outputs);
    }
    Submitted {
        submit: rc,
        job: s.code,
    }
}
