//! `conveyor_pool`: an opaque handle owning a core `Pool`, the submit functions, and
//! `conveyor_pool_poll`, which reads the core's shared collector (`Outcomes`) for jobs
//! submitted without a callback, with the userdata of those jobs kept here by id.
//!
//! Ownership: `conveyor_pool_new` gives C a `Box`; `conveyor_pool_free` takes it back.
//! Every other function borrows it. The pool is `Send + Sync`: any function may be
//! called from any thread, concurrently, except `conveyor_pool_free` (exactly once, when
//! no other call on that pool is running, never from one of its callbacks).

use std::collections::HashMap;
use std::ffi::{c_char, c_void};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use bytes::Bytes;
use conveyor::pool::RecvOutcomeError;
use conveyor::{Job, JobId, Outcome, Outcomes, Pool, PoolConfig, ValidRecipe};

use crate::boundary::{guard, null, opt_str};
use crate::job_result::{conveyor_job_result, OwnedResult};
use crate::options::{self, conveyor_job_options, JobOptions};
use crate::result::conveyor_result;

/// An opaque pool of worker threads. Thread-safe.
pub struct conveyor_pool {
    pub(crate) pool: Pool,
    /// The core's collector: the outcomes of jobs submitted without a callback.
    outcomes: Outcomes,
    /// The userdata of those jobs, until their outcome is polled.
    polled: Polled,
}

/// Userdata of collected jobs by job id. The submitter adds an entry right after the
/// core accepted the job, so a fast job's outcome can reach a poller first: the poller
/// then waits on `added` for that short moment.
#[derive(Default)]
struct Polled {
    by_id: Mutex<HashMap<u64, UserData>>,
    added: Condvar,
}

impl Polled {
    fn add(&self, id: JobId, ud: UserData) {
        let mut map = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(id.0, ud);
        self.added.notify_all();
    }

    /// The userdata of a job whose outcome was just taken from the collector.
    fn take(&self, id: JobId) -> UserData {
        let mut map = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(ud) = map.remove(&id.0) {
                return ud;
            }
            map = self.added.wait(map).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// A polled result: the outcome with its job's userdata and finaliser.
fn polled_result(outcome: Outcome, ud: UserData) -> Box<OwnedResult> {
    let mut owned = OwnedResult::new(outcome, ud.ptr);
    owned.free_userdata = ud.free;
    owned
}

/// Called exactly once per accepted job, on a pool worker thread, with a result valid
/// only during the call. It may call back into the pool (submit with try_submit,
/// stats, cancel, shutdown), but must not free it.
pub type conveyor_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, result: *const conveyor_job_result)>;

/// Frees a job's userdata; runs after the callback (or in conveyor_job_result_free).
pub type conveyor_userdata_free = Option<unsafe extern "C" fn(userdata: *mut c_void)>;

/// Pool statistics, from `conveyor_pool_stats`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct conveyor_stats {
    /// Worker threads.
    pub workers: u32,
    /// Queue capacity.
    pub queue_capacity: u32,
    /// Jobs waiting in the queue.
    pub queued: u64,
    /// Jobs being processed.
    pub running: u64,
    /// Jobs accepted so far.
    pub accepted: u64,
    /// Jobs that succeeded.
    pub completed: u64,
    /// Jobs that failed (any kind, cancelled and timed out included).
    pub failed: u64,
    /// Submissions refused because the queue was full.
    pub rejected: u64,
}

#[derive(Clone, Copy)]
struct UserData {
    ptr: *mut c_void,
    free: conveyor_userdata_free,
}

// SAFETY: the C API documents that userdata is handed to the callback (and to
// userdata_free) on a pool worker thread; by submitting it the caller promises it may be
// used from that thread. The library itself never dereferences it.
unsafe impl Send for UserData {}

/// Borrows the pool behind a C pointer.
///
/// # Safety
/// `p` is NULL or a live pointer from `conveyor_pool_new`.
pub(crate) unsafe fn pool_ref<'a>(
    p: *const conveyor_pool,
) -> Result<&'a conveyor_pool, (conveyor_result, String)> {
    // SAFETY: the caller promises `p` is NULL or live; NULL is checked here.
    unsafe { p.as_ref() }.ok_or_else(|| null("pool"))
}

/// Creates a pool. `config_json` is the shared pool configuration JSON (`workers`,
/// `queue_capacity`, `output_dir`, `limits`, `default_recipe`, ...) or NULL for the
/// defaults. On success `*out` receives the pool, which the caller frees with
/// `conveyor_pool_free`.
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string; `out` is a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn conveyor_pool_new(
    config_json: *const c_char,
    out: *mut *mut conveyor_pool,
) -> conveyor_result {
    guard(|| {
        if out.is_null() {
            return Err(null("out"));
        }
        // SAFETY: see the function's contract.
        let json = unsafe {
            opt_str(
                config_json,
                "config_json",
                conveyor_result::CONVEYOR_INVALID_ARGUMENT,
            )
        }?;
        let config = match json {
            Some(j) => PoolConfig::from_json(j).map_err(|e| (e.kind.into(), e.message))?,
            None => PoolConfig::default(),
        };
        let pool = Pool::from_config(config).map_err(|e| (e.kind.into(), e.message))?;
        let boxed = Box::new(conveyor_pool {
            outcomes: pool.outcomes(),
            pool,
            polled: Polled::default(),
        });
        // SAFETY: `out` is non-NULL and writable by contract.
        unsafe { *out = Box::into_raw(boxed) };
        Ok(())
    })
}

/// The submit functions' common body. `options` are already read (they are what
/// differs between the three exported functions).
#[allow(clippy::too_many_arguments)]
unsafe fn submit_impl(
    pool: *mut conveyor_pool,
    data: *const u8,
    len: usize,
    recipe_json: *const c_char,
    options: impl FnOnce() -> Result<JobOptions, (conveyor_result, String)>,
    cb: conveyor_callback,
    userdata: *mut c_void,
    userdata_free: conveyor_userdata_free,
    job_id_out: *mut u64,
) -> conveyor_result {
    guard(|| {
        // SAFETY: see the exported functions' contracts.
        let p = unsafe { pool_ref(pool) }?;
        if data.is_null() && len > 0 {
            return Err(null("data"));
        }
        let options = options()?;
        // SAFETY: as above: NULL or a NUL-terminated string.
        let recipe = match unsafe {
            opt_str(
                recipe_json,
                "recipe_json",
                conveyor_result::CONVEYOR_INVALID_RECIPE,
            )
        }? {
            Some(j) => Some(ValidRecipe::from_json(j).map_err(|e| (e.kind.into(), e.message))?),
            None => None,
        };
        let bytes = if len == 0 {
            Bytes::new()
        } else {
            // SAFETY: `data` points to `len` readable bytes for the duration of the call;
            // they are copied here, so the caller may free them on return.
            Bytes::copy_from_slice(unsafe { std::slice::from_raw_parts(data, len) })
        };
        let mut job = Job::new(bytes);
        if let Some(r) = recipe {
            job = job.with_valid_recipe(r);
        }
        if let Some(key) = options.key {
            job = job.with_key(key);
        }
        if let Some(t) = options.timeout {
            job = job.with_timeout(t);
        }
        let ud = UserData {
            ptr: userdata,
            free: userdata_free,
        };
        let id = match cb {
            Some(cb) => p
                .pool
                .submit_with_wait(job, options.wait, move |o| deliver_to_callback(cb, ud, o)),
            None => p
                .pool
                .submit_collected_wait(job, options.wait)
                .inspect(|&id| p.polled.add(id, ud)),
        }
        .map_err(|e| (e.kind().into(), e.to_string()))?;
        if !job_id_out.is_null() {
            // SAFETY: non-NULL and writable by contract.
            unsafe { *job_id_out = id.0 };
        }
        Ok(())
    })
}

fn deliver_to_callback(
    cb: unsafe extern "C" fn(*mut c_void, *const conveyor_job_result),
    ud: UserData,
    outcome: Outcome,
) {
    let owned = OwnedResult::new(outcome, ud.ptr);
    // SAFETY: `cb` is the caller's callback; the result it gets lives until it returns.
    unsafe { cb(ud.ptr, &owned.c) };
    drop(owned);
    if let Some(free) = ud.free {
        // SAFETY: the caller's finaliser for this userdata, run once after the callback.
        unsafe { free(ud.ptr) };
    }
}

/// Submits an image, blocking while the queue is full. The library copies `data`, so
/// the caller may free it on return. `recipe_json` is the shared recipe JSON, or NULL
/// for the pool's default recipe. With a callback, `cb(userdata, result)` runs exactly
/// once on a pool thread, then `userdata_free(userdata)` if given; with `cb` NULL the
/// result is queued for `conveyor_pool_poll`. `*job_id_out` (optional) receives the id.
///
/// On any code but `CONVEYOR_OK` the job was not accepted: neither `cb` nor
/// `userdata_free` will run, and the caller still owns `userdata`.
///
/// # Safety
/// `pool` is live; `data` points to `len` readable bytes (NULL allowed when `len` is 0);
/// `recipe_json` is NULL or NUL-terminated; `job_id_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn conveyor_pool_submit(
    pool: *mut conveyor_pool,
    data: *const u8,
    len: usize,
    recipe_json: *const c_char,
    cb: conveyor_callback,
    userdata: *mut c_void,
    userdata_free: conveyor_userdata_free,
    job_id_out: *mut u64,
) -> conveyor_result {
    // SAFETY: the same contract, passed on.
    unsafe {
        submit_impl(
            pool,
            data,
            len,
            recipe_json,
            || Ok(JobOptions::waiting(true)),
            cb,
            userdata,
            userdata_free,
            job_id_out,
        )
    }
}

/// As `conveyor_pool_submit`, but returns `CONVEYOR_QUEUE_FULL` at once instead of
/// blocking when the queue is full.
///
/// # Safety
/// As `conveyor_pool_submit`.
#[no_mangle]
pub unsafe extern "C" fn conveyor_pool_try_submit(
    pool: *mut conveyor_pool,
    data: *const u8,
    len: usize,
    recipe_json: *const c_char,
    cb: conveyor_callback,
    userdata: *mut c_void,
    userdata_free: conveyor_userdata_free,
    job_id_out: *mut u64,
) -> conveyor_result {
    // SAFETY: the same contract, passed on.
    unsafe {
        submit_impl(
            pool,
            data,
            len,
            recipe_json,
            || Ok(JobOptions::waiting(false)),
            cb,
            userdata,
            userdata_free,
            job_id_out,
        )
    }
}

/// As `conveyor_pool_submit`, with per-job options (see `conveyor_job_options`): the
/// job's key (the folder its outputs are published in, and `result->key`), its
/// deadline, and how long to wait for room in a full queue (`CONVEYOR_QUEUE_FULL` or
/// `CONVEYOR_TIMED_OUT` when it gives up). `options` NULL takes every default, which
/// makes this call `conveyor_pool_submit`. Options that break the `struct_size` rule
/// give `CONVEYOR_INVALID_ARGUMENT` and the job is not accepted.
///
/// # Safety
/// As `conveyor_pool_submit`; `options` is NULL or points to `options->struct_size`
/// readable bytes set up as the `conveyor_job_options` rule says.
#[no_mangle]
pub unsafe extern "C" fn conveyor_pool_submit_with_options(
    pool: *mut conveyor_pool,
    data: *const u8,
    len: usize,
    recipe_json: *const c_char,
    options: *const conveyor_job_options,
    cb: conveyor_callback,
    userdata: *mut c_void,
    userdata_free: conveyor_userdata_free,
    job_id_out: *mut u64,
) -> conveyor_result {
    // SAFETY: the same contract, passed on; `options` by this function's contract.
    unsafe {
        submit_impl(
            pool,
            data,
            len,
            recipe_json,
            || options::read(options),
            cb,
            userdata,
            userdata_free,
            job_id_out,
        )
    }
}

/// Takes the next result of a job submitted without a callback. `timeout_ms` < 0 waits
/// as long as needed, 0 does not wait. The thread sleeps while it waits. Returns
/// `CONVEYOR_OK` with `*out` set (free it with `conveyor_job_result_free`),
/// `CONVEYOR_TIMED_OUT` when nothing arrived in time, or `CONVEYOR_SHUT_DOWN` once the
/// pool has shut down and every polled result was taken (a poll during a shutdown
/// waits for the jobs still running).
///
/// # Safety
/// `pool` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn conveyor_pool_poll(
    pool: *mut conveyor_pool,
    timeout_ms: i32,
    out: *mut *mut conveyor_job_result,
) -> conveyor_result {
    guard(|| {
        // SAFETY: see the contract.
        let p = unsafe { pool_ref(pool) }?;
        if out.is_null() {
            return Err(null("out"));
        }
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        match p.outcomes.wait(timeout) {
            Ok(outcome) => {
                let ud = p.polled.take(outcome.job_id);
                let owned = polled_result(outcome, ud);
                // SAFETY: `out` is non-NULL and writable by contract. The box is handed
                // out as a pointer to its first field (see OwnedResult).
                unsafe { *out = Box::into_raw(owned).cast::<conveyor_job_result>() };
                Ok(())
            }
            Err(RecvOutcomeError::Timeout) => Err((
                conveyor_result::CONVEYOR_TIMED_OUT,
                "no result arrived in time".into(),
            )),
            Err(RecvOutcomeError::Closed) => Err((
                conveyor_result::CONVEYOR_SHUT_DOWN,
                "the pool is shut down and no result is pending".into(),
            )),
        }
    })
}

/// Cancels a job: a queued one finishes as `CONVEYOR_CANCELLED` without running, a
/// running one within about 100 ms (decoders, resizer and encoders check as they go).
/// `CONVEYOR_INVALID_ARGUMENT` when no job with that id is pending.
///
/// # Safety
/// `pool` is live.
#[no_mangle]
pub unsafe extern "C" fn conveyor_pool_cancel(
    pool: *mut conveyor_pool,
    job_id: u64,
) -> conveyor_result {
    guard(|| {
        // SAFETY: see the contract.
        let p = unsafe { pool_ref(pool) }?;
        if p.pool.cancel(JobId(job_id)) {
            Ok(())
        } else {
            Err((
                conveyor_result::CONVEYOR_INVALID_ARGUMENT,
                format!("no pending job {job_id}"),
            ))
        }
    })
}

/// Writes the pool's statistics to `*out`. Reads the pool only.
///
/// # Safety
/// `pool` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn conveyor_pool_stats(
    pool: *const conveyor_pool,
    out: *mut conveyor_stats,
) -> conveyor_result {
    guard(|| {
        // SAFETY: see the contract.
        let p = unsafe { pool_ref(pool) }?;
        if out.is_null() {
            return Err(null("out"));
        }
        let s = p.pool.stats();
        let stats = conveyor_stats {
            workers: s.workers as u32,
            queue_capacity: s.queue_capacity as u32,
            queued: s.queued,
            running: s.running,
            accepted: s.accepted,
            completed: s.completed,
            failed: s.failed_total(),
            rejected: s.rejected,
        };
        // SAFETY: non-NULL and writable by contract.
        unsafe { *out = stats };
        Ok(())
    })
}

/// Graceful shutdown: refuses new jobs, finishes every queued and running one, and
/// returns after every callback has run. Calling it again does nothing. From inside a
/// callback it starts the shutdown and returns at once.
///
/// # Safety
/// `pool` is live.
#[no_mangle]
pub unsafe extern "C" fn conveyor_pool_shutdown(pool: *mut conveyor_pool) -> conveyor_result {
    guard(|| {
        // SAFETY: see the contract.
        unsafe { pool_ref(pool) }?.pool.shutdown();
        Ok(())
    })
}

/// Immediate shutdown: refuses new jobs, finishes queued ones as `CONVEYOR_CANCELLED`
/// without running them, lets running ones finish; returns after every callback ran.
///
/// # Safety
/// `pool` is live.
#[no_mangle]
pub unsafe extern "C" fn conveyor_pool_shutdown_now(pool: *mut conveyor_pool) -> conveyor_result {
    guard(|| {
        // SAFETY: see the contract.
        unsafe { pool_ref(pool) }?.pool.shutdown_now();
        Ok(())
    })
}

/// Shuts the pool down gracefully (if not yet) and frees it, with any polled results
/// never taken (their userdata_free runs). NULL does nothing. Call it once, when no
/// other call on this pool is running, and never from one of its callbacks.
///
/// # Safety
/// `pool` is NULL or a live pointer from `conveyor_pool_new`, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn conveyor_pool_free(pool: *mut conveyor_pool) {
    if pool.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the pointer came from Box::into_raw in conveyor_pool_new and is freed
        // once, by contract.
        let boxed = unsafe { Box::from_raw(pool) };
        boxed.pool.shutdown();
        // Every collected job has its outcome now, and (no other call running) its
        // userdata entry.
        while let Some(outcome) = boxed.outcomes.try_recv() {
            let ud = boxed.polled.take(outcome.job_id);
            drop(polled_result(outcome, ud));
        }
        drop(boxed);
    }));
}
