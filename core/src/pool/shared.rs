//! The state behind a [`Pool`](super::Pool): [`Shared`] (read by the handle, the
//! workers and every job in flight), [`Inner`] (what only the handle owns: the queue's
//! sender, the worker and ticker threads), the queue's message type [`Msg`], and the
//! intake gate that shutdown waits on.
//!
//! Not here: how jobs get in (`submit.rs`), how the pool stops (`shutdown.rs`), how it
//! is built (`builder.rs`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use arc_swap::{ArcSwap, ArcSwapOption};
use crossbeam_channel::{Receiver, Sender};
use crossbeam_utils::CachePadded;

use super::budget::Budget;
use super::envelope::Envelope;
use super::help::HelpBoard;
use super::registry::Registry;
use super::ticker::Ticker;
use super::trim::Trimmer;
use crate::config::Settings;
use crate::events::EventBus;
use crate::outcome::Outcome;
use crate::stats::{StatsInner, StatsSnapshot};

/// What travels on the job queue.
pub(crate) enum Msg {
    Job(Envelope),
    Stop,
}

/// Read on every submit and every job, written once at shutdown.
#[derive(Default)]
pub(crate) struct Flags {
    /// Intake is closed.
    pub(crate) closing: AtomicBool,
    /// `shutdown_now`: queued jobs finish as cancelled.
    pub(crate) abort_queued: AtomicBool,
}

/// Written on every submit.
pub(crate) struct Intake {
    /// Submit calls between their `closing` check and their send.
    submitting: AtomicUsize,
    pub(crate) next_id: AtomicU64,
    /// Shutdown sleeps on `drained` until `submitting` is 0. Submitters touch the lock
    /// only when they leave last after intake closed, so the common path stays
    /// lock-free.
    gate: Mutex<()>,
    drained: Condvar,
}

impl Intake {
    pub(crate) fn new() -> Intake {
        Intake {
            submitting: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            gate: Mutex::new(()),
            drained: Condvar::new(),
        }
    }
}

/// State shared by the pool handle, its workers and every job in flight. The atomics
/// that submitters write and the ones that everybody reads sit on separate cache lines.
pub(crate) struct Shared {
    pub(crate) settings: ArcSwap<Settings>,
    pub(crate) output_dir: Option<PathBuf>,
    pub(crate) registry: Registry,
    pub(crate) budget: Budget,
    /// Pieces of running jobs offered to idle workers.
    pub(crate) help: HelpBoard,
    /// Gives freed memory back to the system between jobs.
    pub(crate) trimmer: Trimmer,
    pub(crate) stats: StatsInner,
    pub(crate) events: EventBus,
    pub(crate) flags: CachePadded<Flags>,
    pub(crate) intake: CachePadded<Intake>,
    /// The collector's sender; `None` once the pool has shut down, so that the
    /// [`Outcomes`](super::Outcomes) stream ends when the last job's outcome is read.
    pub(crate) outcomes_tx: ArcSwapOption<Sender<Outcome>>,
    pub(crate) workers: usize,
    pub(crate) queue_capacity: usize,
}

/// What only the pool handle owns.
pub(crate) struct Inner {
    pub(crate) shared: Arc<Shared>,
    pub(crate) tx: Sender<Msg>,
    pub(crate) outcomes_rx: Receiver<Outcome>,
    /// The worker threads; `None` once a shutdown has taken them to join.
    pub(crate) handles: Mutex<Option<Vec<JoinHandle<()>>>>,
    pub(crate) ticker: Mutex<Option<Ticker>>,
}

/// A submit call inside the intake gate (see [`Shared::enter_intake`]); leaving wakes a
/// waiting shutdown when it is the last one out.
pub(crate) struct InIntake<'a>(&'a Shared);

impl Drop for InIntake<'_> {
    fn drop(&mut self) {
        let shared = self.0;
        let before = shared.intake.submitting.fetch_sub(1, Ordering::SeqCst);
        // Both sides use SeqCst: either this load sees `closing` (and the waiter is
        // woken), or shutdown's later load of `submitting` sees the decrement.
        if before == 1 && shared.flags.closing.load(Ordering::SeqCst) {
            // Taking the lock orders this wake-up after the waiter's check.
            let _gate = shared.intake.gate.lock().unwrap_or_else(|e| e.into_inner());
            shared.intake.drained.notify_all();
        }
    }
}

impl Shared {
    /// Statistics with the memory budget's use.
    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        let mut s = self.stats.snapshot(self.workers, self.queue_capacity);
        s.memory_budget = self.budget.total();
        (s.memory_in_use, s.memory_waiting) = self.budget.usage();
        s
    }

    /// Whether intake is closed.
    pub(crate) fn is_closing(&self) -> bool {
        self.flags.closing.load(Ordering::SeqCst)
    }

    /// Enters the intake gate: `None` when intake is closed. The caller sends its job
    /// while holding the guard, so shutdown (which closes intake, then waits for the
    /// gate to empty) never sends its stop messages ahead of an accepted job.
    pub(crate) fn enter_intake(&self) -> Option<InIntake<'_>> {
        self.intake.submitting.fetch_add(1, Ordering::SeqCst);
        let guard = InIntake(self);
        (!self.is_closing()).then_some(guard)
    }

    /// Closes intake and blocks until every submit call inside the gate has left.
    pub(crate) fn close_intake_and_wait(&self) {
        self.flags.closing.store(true, Ordering::SeqCst);
        let mut gate = self.intake.gate.lock().unwrap_or_else(|e| e.into_inner());
        while self.intake.submitting.load(Ordering::SeqCst) != 0 {
            gate = self
                .intake
                .drained
                .wait(gate)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}
