//! The event bus and live reconfiguration in C: `conveyor_subscription` (an opaque
//! subscriber of the pool's broadcast bus), `conveyor_event` (one event as its JSON, the
//! same object the Rust `Event` serialises to), and `conveyor_pool_reload`.
//!
//! Ownership: `conveyor_pool_subscribe` gives C a `Box`; `conveyor_subscription_free`
//! takes it back. The event a receive returns is borrowed from the subscription until
//! its next receive or its free. The bus's semantics are the core's, untouched: bounded
//! per subscriber, the pool never waits for one, and a subscriber that fell behind
//! gets one `"lagged"` event with the number it missed, then carries on with the oldest
//! event still buffered.

use std::ffi::{c_char, CString};
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

use conveyor::events::lagged_json;
use conveyor::{Event, RecvError, Settings, Subscription, TryRecvError};

use crate::boundary::{guard, null, opt_str};
use crate::pool::{conveyor_pool, pool_ref};
use crate::result::conveyor_result;

/// One event, as every door shows it. Owned by its subscription: valid until the next
/// `conveyor_subscription_recv` / `conveyor_subscription_try_recv` on that subscription,
/// or its `conveyor_subscription_free`.
#[repr(C)]
#[derive(Debug)]
pub struct conveyor_event {
    /// The event's type name, as in its JSON `type` field: `"job_queued"`,
    /// `"job_rejected"`, `"job_started"`, `"job_finished"`, `"config_reloaded"`,
    /// `"stats"`, `"shutting_down"`, or `"lagged"` (NUL-terminated).
    pub r#type: *const c_char,
    /// The whole event as a NUL-terminated JSON object with the same fields as in Rust
    /// and every other binding (e.g. `{"type":"job_started","job_id":3,"worker":0,
    /// "queued_us":41}`); a lag is `{"type":"lagged","missed":N}`.
    pub json: *const c_char,
    /// Length of `json` in bytes, without the NUL.
    pub json_len: usize,
    /// The job's id for `job_*` events; 0 otherwise.
    pub job_id: u64,
    /// For `"lagged"`: how many events this subscriber missed (at least 1); 0 otherwise.
    pub missed: u64,
}

/// The memory behind the current `conveyor_event`.
struct Current {
    _type: CString,
    _json: CString,
    c: conveyor_event,
}

impl Current {
    fn new(json: serde_json::Value) -> Current {
        let type_ = json["type"].as_str().unwrap_or("unknown").to_owned();
        let job_id = json["job_id"].as_u64().unwrap_or(0);
        let missed = if type_ == "lagged" {
            json["missed"].as_u64().unwrap_or(0)
        } else {
            0
        };
        let type_ = CString::new(type_).unwrap_or_default();
        // JSON text never holds a raw NUL (serde_json escapes it as \u0000).
        let json = CString::new(json.to_string()).unwrap_or_default();
        let c = conveyor_event {
            r#type: type_.as_ptr(),
            json: json.as_ptr(),
            json_len: json.as_bytes().len(),
            job_id,
            missed,
        };
        Current {
            _type: type_,
            _json: json,
            c,
        }
    }

    fn event(e: &Event) -> Current {
        Current::new(serde_json::to_value(e).unwrap_or_default())
    }

    fn lagged(missed: u64) -> Current {
        Current::new(lagged_json(missed))
    }
}

struct State {
    sub: Subscription,
    current: Option<Current>,
}

/// An opaque subscriber of a pool's event bus. Use it from one thread at a time (it may
/// move between threads): the event a receive returns belongs to it until its next
/// call. Subscribe once per reading thread; subscriptions are cheap.
pub struct conveyor_subscription {
    state: Mutex<State>,
}

/// Wakes the thread that polls a receive future (std-only: the bus needs no runtime).
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Waits for the next event, up to `timeout` (`None`: as long as needed), parking the
/// thread in between (no polling). `Ok(None)` means nothing arrived in time.
fn recv_until(
    sub: &mut Subscription,
    timeout: Option<Duration>,
) -> Result<Option<Event>, RecvError> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    // The bus's receive future is cancel-safe: dropping it on timeout loses nothing.
    let mut fut = pin!(sub.recv_async());
    loop {
        if let Poll::Ready(r) = fut.as_mut().poll(&mut cx) {
            return r.map(Some);
        }
        match deadline {
            None => std::thread::park(),
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return Ok(None);
                }
                std::thread::park_timeout(d - now);
            }
        }
    }
}

/// Borrows the subscription behind a C pointer.
///
/// # Safety
/// `p` is NULL or a live pointer from `conveyor_pool_subscribe`.
unsafe fn sub_ref<'a>(
    p: *mut conveyor_subscription,
) -> Result<&'a conveyor_subscription, (conveyor_result, String)> {
    // SAFETY: the caller promises `p` is NULL or live; NULL is checked here.
    unsafe { p.as_ref() }.ok_or_else(|| null("subscription"))
}

fn closed() -> (conveyor_result, String) {
    (
        conveyor_result::CONVEYOR_SHUT_DOWN,
        "the pool has shut down and every buffered event has been read".into(),
    )
}

/// Subscribes to the pool's events. Every subscriber sees every event emitted after it
/// subscribed, in order. `capacity` bounds how many events may wait for this subscriber
/// (0: the pool's `event_capacity`, default 1024; a larger value is capped by it): when
/// it falls further behind, the oldest events are dropped for it alone and its next
/// receive returns one `"lagged"` event carrying how many it missed. The pool never
/// waits for a subscriber, and one that never reads costs no more than the bounded
/// buffer. On success `*out` receives the subscription; free it with
/// `conveyor_subscription_free`. It may outlive the pool: after shutdown it returns what
/// is still buffered, then `CONVEYOR_SHUT_DOWN`.
///
/// # Safety
/// `pool` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn conveyor_pool_subscribe(
    pool: *mut conveyor_pool,
    capacity: usize,
    out: *mut *mut conveyor_subscription,
) -> conveyor_result {
    guard(|| {
        // SAFETY: see the contract.
        let p = unsafe { pool_ref(pool) }?;
        if out.is_null() {
            return Err(null("out"));
        }
        let mut sub = p.pool.subscribe();
        if capacity > 0 {
            sub = sub.with_capacity(capacity);
        }
        let boxed = Box::new(conveyor_subscription {
            state: Mutex::new(State { sub, current: None }),
        });
        // SAFETY: `out` is non-NULL and writable by contract.
        unsafe { *out = Box::into_raw(boxed) };
        Ok(())
    })
}

type Taken = Result<*const conveyor_event, (conveyor_result, String)>;

/// Keeps `current` in the subscription and returns the C view of it, which lives in
/// the boxed subscription until its next receive or its free.
fn keep(state: &mut State, current: Current) -> Taken {
    Ok(&state.current.insert(current).c)
}

/// Writes a taken event to `*out`.
///
/// # Safety
/// `out` is non-NULL and writable.
unsafe fn write(
    out: *mut *const conveyor_event,
    taken: Taken,
) -> Result<(), (conveyor_result, String)> {
    let ev = taken?;
    // SAFETY: by this function's contract.
    unsafe { *out = ev };
    Ok(())
}

/// Takes the next event, waiting up to `timeout_ms` milliseconds for one (< 0: as long
/// as needed; 0: do not wait, like `conveyor_subscription_try_recv`). The waiting
/// thread sleeps; it does not spin. Returns `CONVEYOR_OK` with `*out` set to an event
/// owned by the subscription (see `conveyor_event`; a lag is an event of type
/// `"lagged"`), `CONVEYOR_TIMED_OUT` when nothing arrived in time, or
/// `CONVEYOR_SHUT_DOWN` once the pool has shut down and every buffered event was read.
///
/// # Safety
/// `sub` is live and not used by another thread during the call; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn conveyor_subscription_recv(
    sub: *mut conveyor_subscription,
    timeout_ms: i32,
    out: *mut *const conveyor_event,
) -> conveyor_result {
    guard(|| {
        // SAFETY: see the contract.
        let s = unsafe { sub_ref(sub) }?;
        if out.is_null() {
            return Err(null("out"));
        }
        let mut state = s.state.lock().unwrap_or_else(|e| e.into_inner());
        // The previous event's memory goes now, as documented.
        state.current = None;
        let taken = if timeout_ms == 0 {
            try_take(&mut state)
        } else {
            let timeout = (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms as u64));
            match recv_until(&mut state.sub, timeout) {
                Ok(Some(e)) => keep(&mut state, Current::event(&e)),
                Ok(None) => Err((
                    conveyor_result::CONVEYOR_TIMED_OUT,
                    "no event arrived in time".into(),
                )),
                Err(RecvError::Lagged(n)) => keep(&mut state, Current::lagged(n)),
                Err(RecvError::Closed) => Err(closed()),
            }
        };
        // SAFETY: `out` was checked non-NULL; it is writable by contract.
        unsafe { write(out, taken) }
    })
}

fn try_take(state: &mut State) -> Taken {
    match state.sub.try_recv() {
        Ok(e) => keep(state, Current::event(&e)),
        Err(TryRecvError::Lagged(n)) => keep(state, Current::lagged(n)),
        Err(TryRecvError::Empty) => Err((
            conveyor_result::CONVEYOR_TIMED_OUT,
            "no event is buffered".into(),
        )),
        Err(TryRecvError::Closed) => Err(closed()),
    }
}

/// Takes the next event if one is buffered, without waiting: `CONVEYOR_OK` with `*out`
/// set (as `conveyor_subscription_recv`), `CONVEYOR_TIMED_OUT` when none is buffered,
/// `CONVEYOR_SHUT_DOWN` once the pool has shut down and every event was read.
///
/// # Safety
/// `sub` is live and not used by another thread during the call; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn conveyor_subscription_try_recv(
    sub: *mut conveyor_subscription,
    out: *mut *const conveyor_event,
) -> conveyor_result {
    guard(|| {
        // SAFETY: see the contract.
        let s = unsafe { sub_ref(sub) }?;
        if out.is_null() {
            return Err(null("out"));
        }
        let mut state = s.state.lock().unwrap_or_else(|e| e.into_inner());
        state.current = None;
        let taken = try_take(&mut state);
        // SAFETY: `out` was checked non-NULL; it is writable by contract.
        unsafe { write(out, taken) }
    })
}

/// Unsubscribes and frees the subscription, its buffered events and its current event.
/// NULL does nothing. Call it once, when no other call on this subscription is running.
/// It may be called before or after `conveyor_pool_free`.
///
/// # Safety
/// `sub` is NULL or a live pointer from `conveyor_pool_subscribe`, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn conveyor_subscription_free(sub: *mut conveyor_subscription) {
    if sub.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the pointer came from Box::into_raw in conveyor_pool_subscribe and is
        // freed once, by contract.
        drop(unsafe { Box::from_raw(sub) });
    }));
}

/// Replaces the pool's live settings with `settings_json`, the shared settings object
/// `{"default_recipe": {...}, "limits": {...}, "formats": [...]}`; a field left out takes
/// its default (as in Rust's `Pool::reload`). Jobs started afterwards use the new
/// settings; running jobs finish with the old ones. On success a `"config_reloaded"`
/// event goes to every subscriber. Invalid JSON or an unknown field gives
/// `CONVEYOR_INVALID_ARGUMENT`, an invalid default recipe `CONVEYOR_INVALID_RECIPE`; on
/// any failure the old settings stay and no event is sent.
///
/// # Safety
/// `pool` is live; `settings_json` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn conveyor_pool_reload(
    pool: *mut conveyor_pool,
    settings_json: *const c_char,
) -> conveyor_result {
    guard(|| {
        // SAFETY: see the contract.
        let p = unsafe { pool_ref(pool) }?;
        // SAFETY: as above: NULL or a NUL-terminated string.
        let json = unsafe {
            opt_str(
                settings_json,
                "settings_json",
                conveyor_result::CONVEYOR_INVALID_ARGUMENT,
            )
        }?
        .ok_or_else(|| null("settings_json"))?;
        let settings = Settings::from_json(json).map_err(|e| (e.kind.into(), e.message))?;
        p.pool
            .reload(settings)
            .map_err(|e| (e.kind.into(), e.message))
    })
}
