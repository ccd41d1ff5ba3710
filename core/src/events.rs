//! The broadcast event bus: every subscriber sees every event; a subscriber that falls
//! behind is told how many events it missed ([`RecvError::Lagged`]) and continues with
//! the oldest event still buffered; the pool never waits for a subscriber.
//!
//! Built on `tokio::sync::broadcast` (only its `sync` feature; no runtime is needed),
//! a bounded ring buffer with exactly these semantics. When nobody is subscribed,
//! emitting costs one atomic load and builds no event. A subscriber may ask for a
//! smaller buffer of its own ([`Subscription::with_capacity`]); the ring stays shared,
//! so memory is bounded by the pool's `event_capacity` whatever the subscribers do.
//!
//! Every door shows an event as the JSON [`Event`] serialises to, and a lag as
//! [`lagged_json`]: `{"type":"lagged","missed":n}`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::error::{ErrorKind, Stage};
use crate::job::JobId;
use crate::outcome::Timings;
use crate::stats::StatsSnapshot;

/// Something that happened in the pool.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A job was accepted into the queue.
    JobQueued {
        /// The job.
        job_id: JobId,
        /// Its input size.
        input_bytes: u64,
    },
    /// A job that had been announced as queued did not fit (non-blocking submit on a
    /// full queue, or a submit timeout); it was handed back to its submitter.
    JobRejected {
        /// The job.
        job_id: JobId,
        /// Why: `queue_full`, `timed_out` or `shut_down`.
        reason: ErrorKind,
    },
    /// A worker started a job.
    JobStarted {
        /// The job.
        job_id: JobId,
        /// The worker's index.
        worker: usize,
        /// Time spent queued, in microseconds.
        queued_us: u64,
    },
    /// A job finished; its outcome is being delivered.
    JobFinished {
        /// The job.
        job_id: JobId,
        /// Whether it succeeded.
        ok: bool,
        /// The error kind on failure.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<ErrorKind>,
        /// The failing stage on failure.
        #[serde(skip_serializing_if = "Option::is_none")]
        stage: Option<Stage>,
        /// Stage timings (zero where the job never got there).
        timings: Timings,
    },
    /// `reload` changed the live settings.
    ConfigReloaded,
    /// Periodic statistics (see `stats_interval`).
    Stats {
        /// The figures.
        stats: StatsSnapshot,
    },
    /// The pool started shutting down.
    ShuttingDown {
        /// `true` for `shutdown` (drain), `false` for `shutdown_now` (cancel queued).
        graceful: bool,
    },
}

impl Event {
    /// The event's type name, as in its JSON `type` field.
    pub fn name(&self) -> &'static str {
        match self {
            Event::JobQueued { .. } => "job_queued",
            Event::JobRejected { .. } => "job_rejected",
            Event::JobStarted { .. } => "job_started",
            Event::JobFinished { .. } => "job_finished",
            Event::ConfigReloaded => "config_reloaded",
            Event::Stats { .. } => "stats",
            Event::ShuttingDown { .. } => "shutting_down",
        }
    }
}

pub use crate::wire::lagged_json;

/// Why [`Subscription::recv`] returned no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecvError {
    /// This subscriber fell behind and missed this many events; the next call returns
    /// the oldest event still buffered.
    #[error("lagged behind; {0} events were missed")]
    Lagged(u64),
    /// The pool has shut down and every buffered event has been read.
    #[error("the pool has shut down")]
    Closed,
}

/// Why [`Subscription::try_recv`] returned no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TryRecvError {
    /// No event is buffered right now.
    #[error("no event is buffered")]
    Empty,
    /// As [`RecvError::Lagged`].
    #[error("lagged behind; {0} events were missed")]
    Lagged(u64),
    /// As [`RecvError::Closed`].
    #[error("the pool has shut down")]
    Closed,
}

/// A subscriber's end of the event bus, from [`Pool::subscribe`](crate::Pool::subscribe).
/// Dropping it unsubscribes.
pub struct Subscription {
    rx: broadcast::Receiver<Event>,
    count: Arc<AtomicUsize>,
    /// This subscriber's own bound, below the shared ring's (see `with_capacity`).
    capacity: Option<usize>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("buffered", &self.rx.len())
            .finish()
    }
}

impl Subscription {
    /// Bounds this subscriber's buffer to `capacity` events (at least 1): when more than
    /// that are waiting, the next receive drops the oldest ones and reports them as
    /// [`RecvError::Lagged`], exactly as if this subscriber had a ring of its own of that
    /// size. A capacity above the pool's `event_capacity` changes nothing: the shared
    /// ring is the bound then.
    pub fn with_capacity(mut self, capacity: usize) -> Subscription {
        self.capacity = Some(capacity.max(1));
        self
    }

    /// Drops what is over this subscriber's capacity; returns how many were dropped.
    fn trim(&mut self) -> u64 {
        let Some(cap) = self.capacity else { return 0 };
        let mut missed = 0;
        while self.rx.len() > cap {
            match self.rx.try_recv() {
                Ok(_) => missed += 1,
                Err(broadcast::error::TryRecvError::Lagged(n)) => missed += n,
                Err(_) => break,
            }
        }
        missed
    }

    /// Blocks until the next event. Do not call it from inside an async runtime; use
    /// [`Subscription::recv_async`] there.
    pub fn recv(&mut self) -> Result<Event, RecvError> {
        match self.trim() {
            0 => self.rx.blocking_recv().map_err(map_recv),
            n => Err(RecvError::Lagged(n)),
        }
    }

    /// Waits until the next event, in async code.
    pub async fn recv_async(&mut self) -> Result<Event, RecvError> {
        match self.trim() {
            0 => self.rx.recv().await.map_err(map_recv),
            n => Err(RecvError::Lagged(n)),
        }
    }

    /// Returns the next event if one is buffered.
    pub fn try_recv(&mut self) -> Result<Event, TryRecvError> {
        match self.trim() {
            0 => {}
            n => return Err(TryRecvError::Lagged(n)),
        }
        self.rx.try_recv().map_err(|e| match e {
            broadcast::error::TryRecvError::Empty => TryRecvError::Empty,
            broadcast::error::TryRecvError::Lagged(n) => TryRecvError::Lagged(n),
            broadcast::error::TryRecvError::Closed => TryRecvError::Closed,
        })
    }

    /// Waits up to `timeout` for the next event (polling every millisecond), for code
    /// that must not block forever. `Ok(None)` means nothing arrived in time.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Event>, RecvError> {
        let end = web_time::Instant::now() + timeout;
        loop {
            match self.try_recv() {
                Ok(ev) => return Ok(Some(ev)),
                Err(TryRecvError::Lagged(n)) => return Err(RecvError::Lagged(n)),
                Err(TryRecvError::Closed) => return Err(RecvError::Closed),
                Err(TryRecvError::Empty) if web_time::Instant::now() >= end => return Ok(None),
                Err(TryRecvError::Empty) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
    }
}

fn map_recv(e: broadcast::error::RecvError) -> RecvError {
    match e {
        broadcast::error::RecvError::Lagged(n) => RecvError::Lagged(n),
        broadcast::error::RecvError::Closed => RecvError::Closed,
    }
}

/// The sending side, owned by the pool.
pub(crate) struct EventBus {
    tx: ArcSwapOption<broadcast::Sender<Event>>,
    subscribers: Arc<AtomicUsize>,
}

impl EventBus {
    pub(crate) fn new(capacity: usize) -> EventBus {
        let (tx, _) = broadcast::channel(capacity.max(1));
        EventBus {
            tx: ArcSwapOption::from_pointee(tx),
            subscribers: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Sends the event built by `make`, if anyone listens. Never blocks on subscribers.
    pub(crate) fn emit(&self, make: impl FnOnce() -> Event) {
        if self.subscribers.load(Ordering::Relaxed) == 0 {
            return;
        }
        if let Some(tx) = self.tx.load().as_ref() {
            let _ = tx.send(make());
        }
    }

    pub(crate) fn has_subscribers(&self) -> bool {
        self.subscribers.load(Ordering::Relaxed) > 0
    }

    pub(crate) fn subscribe(&self) -> Subscription {
        self.subscribers.fetch_add(1, Ordering::SeqCst);
        let rx = match self.tx.load().as_ref() {
            Some(tx) => tx.subscribe(),
            // Closed already: a receiver whose sender is gone reports Closed at once.
            None => broadcast::channel(1).1,
        };
        Subscription {
            rx,
            count: self.subscribers.clone(),
            capacity: None,
        }
    }

    /// Drops the sender: subscribers read what is buffered, then get `Closed`.
    pub(crate) fn close(&self) {
        self.tx.store(None);
    }
}
