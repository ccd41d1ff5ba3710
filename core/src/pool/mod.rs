//! The worker pool: a bounded MPMC job queue (crossbeam-channel) feeding N worker
//! threads, three ways to get each job's one outcome back, a broadcast event bus,
//! live-reloadable settings and graceful or immediate shutdown.
//!
//! ```text
//!  producers ──submit──▶ [ bounded queue ] ──▶ worker 1..N ──▶ Ticket / callback / Outcomes
//!                                                   └────────▶ event bus ──▶ every subscriber
//! ```
//!
//! This file holds the [`Pool`] handle and its small accessors. The rest, a file per
//! concept:
//!
//! - `builder.rs`: [`PoolBuilder`] and [`Pool::from_config`];
//! - `shared.rs`: the state shared with the workers, and the intake gate;
//! - `submit.rs`: every submit variant over one `enqueue`, and [`QueueWait`];
//! - `ticket.rs`: where an outcome goes ([`Ticket`], callback, [`Outcomes`]);
//! - `envelope.rs`: a job in flight, delivered exactly once;
//! - `worker.rs`: the worker loop; `budget.rs`: the memory budget; `trim.rs`: giving
//!   freed memory back to the system between jobs;
//! - `help.rs`: idle workers running pieces of a lone job;
//! - `registry.rs`: the lock-free cancel table (model-checked with loom, see there);
//! - `ticker.rs`: the `stats` event thread; `shutdown.rs`: stopping the pool;
//! - `submit_error.rs`: [`SubmitError`]; `sync.rs`: the std/loom atomics switch.
//!
//! Workers keep their statistics in their own cache-padded shards, so they do not
//! contend with each other or with submitters.

mod budget;
mod builder;
mod envelope;
mod help;
mod registry;
mod shared;
mod shutdown;
mod submit;
mod submit_error;
mod sync;
mod ticker;
mod ticket;
mod trim;
mod worker;

use std::path::Path;
use std::sync::Arc;

pub use self::budget::default_memory_budget;
pub use self::builder::PoolBuilder;
use self::shared::Inner;
pub use self::submit::QueueWait;
pub use self::submit_error::SubmitError;
pub use self::ticket::{Outcomes, RecvOutcomeError, Ticket};
use crate::config::Settings;
use crate::error::Error;
use crate::events::{Event, Subscription};
use crate::job::JobId;
use crate::stats::StatsSnapshot;

/// A pool of worker threads that process image jobs. See the crate docs for a tour.
///
/// `Pool` is `Send + Sync`: share it between producer threads by reference or in an
/// `Arc`. Dropping it shuts it down gracefully (like [`Pool::shutdown`]).
pub struct Pool {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.inner.shared.workers)
            .field("queue_capacity", &self.inner.shared.queue_capacity)
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// The shared completion receiver for `submit_collected` jobs. Every clone reads
    /// from the same stream; it ends after shutdown once every outcome is read.
    pub fn outcomes(&self) -> Outcomes {
        Outcomes {
            rx: self.inner.outcomes_rx.clone(),
        }
    }

    /// Cancels a job. A queued job finishes as `cancelled` without running; a running
    /// job stops within about 100 ms (the decoders, the resizer and the encoders check
    /// as they go). Returns whether the job was still pending.
    pub fn cancel(&self, id: JobId) -> bool {
        self.inner.shared.registry.cancel(id.0)
    }

    /// Subscribes to the event bus. Every subscriber sees every later event.
    pub fn subscribe(&self) -> Subscription {
        self.inner.shared.events.subscribe()
    }

    /// Replaces the live settings (default recipe, limits, formats). Workers pick them
    /// up at the start of their next job; a `config_reloaded` event goes out.
    pub fn reload(&self, settings: Settings) -> Result<(), Error> {
        settings.validate()?;
        self.inner.shared.settings.store(Arc::new(settings));
        self.inner.shared.events.emit(|| Event::ConfigReloaded);
        Ok(())
    }

    /// The live settings.
    pub fn settings(&self) -> Arc<Settings> {
        self.inner.shared.settings.load_full()
    }

    /// A snapshot of the statistics, the memory budget's use included.
    pub fn stats(&self) -> StatsSnapshot {
        self.inner.shared.snapshot()
    }

    /// The memory budget, in bytes.
    pub fn memory_budget(&self) -> u64 {
        self.inner.shared.budget.total()
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.inner.shared.workers
    }

    /// Queue capacity.
    pub fn queue_capacity(&self) -> usize {
        self.inner.shared.queue_capacity
    }

    /// The output directory, if outputs are saved.
    pub fn output_dir(&self) -> Option<&Path> {
        self.inner.shared.output_dir.as_deref()
    }

    /// Whether intake is closed.
    pub fn is_shut_down(&self) -> bool {
        self.inner.shared.is_closing()
    }
}
