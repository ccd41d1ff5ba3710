//! `conveyor_job_options`: the growable per-job options of
//! `conveyor_pool_submit_with_options` (key, deadline, how long to wait for room), and
//! the rule by which the library reads a caller's copy of any size.
//!
//! The rule, as the header states it: `struct_size` holds the size of the struct the
//! caller was compiled with. Fields are only ever appended, every field's default is
//! zero, and the library reads the first `struct_size` bytes: fields past them (an
//! older caller) take their zero default; bytes past the fields this library knows (a
//! newer caller) must be zero, or the submit is refused with
//! `CONVEYOR_INVALID_ARGUMENT` rather than silently ignoring an option.

use std::ffi::c_char;
use std::mem::{offset_of, size_of};
use std::time::Duration;

use conveyor::pool::QueueWait;

use crate::boundary::{guard, null, opt_str};
use crate::result::conveyor_result;

/// `queue_wait`: wait for room in a full queue as long as needed (the default).
pub const CONVEYOR_QUEUE_WAIT_BLOCK: u32 = 0;
/// `queue_wait`: do not wait; a full queue refuses the job with `CONVEYOR_QUEUE_FULL`.
pub const CONVEYOR_QUEUE_WAIT_NEVER: u32 = 1;
/// `queue_wait`: wait up to `queue_wait_ms`, then refuse with `CONVEYOR_TIMED_OUT`.
pub const CONVEYOR_QUEUE_WAIT_TIMEOUT: u32 = 2;

/// Options for one job, for `conveyor_pool_submit_with_options`. Growable: later
/// versions append fields, so set `struct_size` (with `conveyor_job_options_init`, or
/// `conveyor_job_options o = { sizeof o };`) and the library reads exactly what the
/// caller has. Every field's default is zero, in this version and every later one.
/// The library copies what it needs during the submit call; the struct and `key` may be
/// freed on return.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct conveyor_job_options {
    /// `sizeof(conveyor_job_options)` as the caller was compiled with. Smaller than
    /// this first version's 32 bytes is refused with `CONVEYOR_INVALID_ARGUMENT`.
    pub struct_size: u32,
    /// How long submit waits for room when the queue is full:
    /// `CONVEYOR_QUEUE_WAIT_BLOCK` (0, default), `_NEVER` or `_TIMEOUT`.
    pub queue_wait: u32,
    /// The job's key (NUL-terminated UTF-8), or NULL: with an `output_dir` the outputs
    /// are published in the folder `output_dir/key/` (without a key, the job id). The
    /// core's key rules apply (1-200 bytes of `A-Z a-z 0-9 . _ -` in `/`-separated
    /// segments, none starting with `.`); a key that breaks them fails the job with
    /// `CONVEYOR_INVALID_ARGUMENT` at the `"validate"` stage. The result carries it.
    pub key: *const c_char,
    /// The job's deadline in milliseconds after it was accepted, queue time included;
    /// a job past it finishes as `CONVEYOR_TIMED_OUT`: a queued one without running, a
    /// running one within about 100 ms (decoders, resizer and encoders check it as
    /// they go). 0: none.
    pub timeout_ms: u64,
    /// With `CONVEYOR_QUEUE_WAIT_TIMEOUT`: the longest wait for room, in milliseconds.
    pub queue_wait_ms: u64,
}

/// The size of the first version of the struct: the least `struct_size` accepted.
const V1_SIZE: usize = 32;
const _: () = assert!(offset_of!(conveyor_job_options, queue_wait_ms) + 8 == V1_SIZE);
/// Sizes above this are taken for garbage.
const MAX_SIZE: usize = 4096;

/// The options as the core takes them.
#[derive(Debug, Default)]
pub(crate) struct JobOptions {
    pub key: Option<String>,
    pub timeout: Option<Duration>,
    pub wait: QueueWait,
}

impl JobOptions {
    /// The options of `conveyor_pool_submit` and `conveyor_pool_try_submit`.
    pub(crate) fn waiting(blocking: bool) -> JobOptions {
        JobOptions {
            wait: if blocking {
                QueueWait::Block
            } else {
                QueueWait::Never
            },
            ..JobOptions::default()
        }
    }
}

fn invalid(msg: String) -> (conveyor_result, String) {
    (conveyor_result::CONVEYOR_INVALID_ARGUMENT, msg)
}

/// Reads the caller's options by the `struct_size` rule; NULL gives the defaults.
///
/// # Safety
/// `p` is NULL, or points to at least `(*p).struct_size` readable bytes laid out as a
/// `conveyor_job_options` (of this or another version), whose `key` is NULL or
/// NUL-terminated.
pub(crate) unsafe fn read(
    p: *const conveyor_job_options,
) -> Result<JobOptions, (conveyor_result, String)> {
    if p.is_null() {
        return Ok(JobOptions::default());
    }
    // SAFETY: `p` is non-NULL and points to at least the `struct_size` field (every
    // version starts with it); no reference to the possibly shorter struct is made.
    let size = unsafe { std::ptr::addr_of!((*p).struct_size).read() } as usize;
    if !(V1_SIZE..=MAX_SIZE).contains(&size) {
        return Err(invalid(format!(
            "options->struct_size is {size}: set it to sizeof(conveyor_job_options) \
             (at least {V1_SIZE}), e.g. with conveyor_job_options_init"
        )));
    }
    let bytes = p.cast::<u8>();
    let known = size_of::<conveyor_job_options>();
    if size > known {
        // SAFETY: the caller promises `size` readable bytes at `p`.
        let tail = unsafe { std::slice::from_raw_parts(bytes.add(known), size - known) };
        if tail.iter().any(|&b| b != 0) {
            return Err(invalid(format!(
                "options set fields this library ({}) does not know (struct_size {size}, \
                 this version reads {known} bytes); link a newer libconveyor",
                env!("CARGO_PKG_VERSION")
            )));
        }
    }
    let mut o = conveyor_job_options {
        struct_size: 0,
        queue_wait: 0,
        key: std::ptr::null(),
        timeout_ms: 0,
        queue_wait_ms: 0,
    };
    // SAFETY: copies min(size, known) bytes, all readable at `p` by contract, into a
    // local of `known` bytes; the struct is plain data for which any bytes the caller
    // wrote in its fields are valid values (integers and a raw pointer).
    unsafe {
        std::ptr::copy_nonoverlapping(
            bytes,
            std::ptr::addr_of_mut!(o).cast::<u8>(),
            size.min(known),
        )
    };
    let wait = match o.queue_wait {
        CONVEYOR_QUEUE_WAIT_BLOCK => QueueWait::Block,
        CONVEYOR_QUEUE_WAIT_NEVER => QueueWait::Never,
        CONVEYOR_QUEUE_WAIT_TIMEOUT => QueueWait::Timeout(Duration::from_millis(o.queue_wait_ms)),
        other => return Err(invalid(format!("options->queue_wait {other} is unknown"))),
    };
    // SAFETY: `key` is NULL or NUL-terminated by contract.
    let key = unsafe {
        opt_str(
            o.key,
            "options->key",
            conveyor_result::CONVEYOR_INVALID_ARGUMENT,
        )
    }?;
    Ok(JobOptions {
        key: key.map(str::to_owned),
        timeout: (o.timeout_ms > 0).then(|| Duration::from_millis(o.timeout_ms)),
        wait,
    })
}

/// Fills `*options` with the defaults (every field zero) for a struct of `struct_size`
/// bytes, the size the caller was compiled with, and sets its `struct_size`: call it as
/// `conveyor_job_options_init(&opts, sizeof opts)`. The library writes exactly
/// `struct_size` bytes, so a caller built against an older header is never written
/// past. `CONVEYOR_INVALID_ARGUMENT` (nothing written) when `struct_size` is below the
/// first version's 32 bytes or above 4096.
///
/// # Safety
/// `options` is NULL or points to `struct_size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn conveyor_job_options_init(
    options: *mut conveyor_job_options,
    struct_size: usize,
) -> conveyor_result {
    guard(|| {
        if options.is_null() {
            return Err(null("options"));
        }
        if !(V1_SIZE..=MAX_SIZE).contains(&struct_size) {
            return Err(invalid(format!(
                "struct_size is {struct_size}: pass sizeof(conveyor_job_options) (at least {V1_SIZE})"
            )));
        }
        // SAFETY: `options` points to `struct_size` writable bytes by contract; zero is
        // every field's default, and `struct_size` (the first field, 4-byte aligned
        // like the struct) is written last.
        unsafe {
            std::ptr::write_bytes(options.cast::<u8>(), 0, struct_size);
            std::ptr::addr_of_mut!((*options).struct_size).write(struct_size as u32);
        }
        Ok(())
    })
}
