//! The worker pool: a bounded MPMC job queue (crossbeam-channel) feeding N worker
//! threads, three ways to get each job's one outcome back, a broadcast event bus,
//! live-reloadable settings and graceful or immediate shutdown.
//!
//! ```text
//!  producers ──submit──▶ [ bounded queue ] ──▶ worker 1..N ──▶ Ticket / callback / Outcomes
//!                                                   └────────▶ event bus ──▶ every subscriber
//! ```
//!
//! Submitting takes no pool-wide lock: an atomic id, one compare-and-swap on a slot of
//! the cancel registry (see `registry`) and one channel send. Workers keep their statistics in their own
//! cache-padded shards, so they do not contend with each other or with submitters.

mod budget;
mod envelope;
mod registry;
mod submit_error;
mod ticket;
mod worker;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use crossbeam_channel::{Receiver, SendTimeoutError, Sender, TrySendError};
use crossbeam_utils::CachePadded;
use web_time::Instant;

pub use self::budget::default_memory_budget;
use self::budget::Budget;
use self::envelope::Envelope;
use self::registry::Registry;
pub use self::submit_error::SubmitError;
use self::ticket::Reply;
pub use self::ticket::{Outcomes, Ticket};
use crate::config::{PoolConfig, Settings};
use crate::error::{Error, ErrorKind};
use crate::events::{Event, EventBus, Subscription};
use crate::job::{Job, JobId};
use crate::limits::Limits;
use crate::outcome::Outcome;
use crate::recipe::Recipe;
use crate::stats::{StatsInner, StatsSnapshot};
use crate::InputFormat;

pub(crate) enum Msg {
    Job(Envelope),
    Stop,
}

/// Read on every submit and every job, written once at shutdown.
#[derive(Default)]
pub(crate) struct Flags {
    /// Intake is closed.
    closing: AtomicBool,
    /// `shutdown_now`: queued jobs finish as cancelled.
    pub(crate) abort_queued: AtomicBool,
}

/// Written on every submit.
#[derive(Default)]
struct Intake {
    /// Submit calls between their `closing` check and their send.
    submitting: AtomicUsize,
    next_id: AtomicU64,
}

/// State shared by the pool handle, its workers and every job in flight. The atomics
/// that submitters write and the ones that everybody reads sit on separate cache lines.
pub(crate) struct Shared {
    settings: ArcSwap<Settings>,
    output_dir: Option<PathBuf>,
    registry: Registry,
    budget: Budget,
    stats: StatsInner,
    events: EventBus,
    pub(crate) flags: CachePadded<Flags>,
    intake: CachePadded<Intake>,
    outcomes_tx: ArcSwapOption<Sender<Outcome>>,
    workers: usize,
    queue_capacity: usize,
}

struct Inner {
    shared: Arc<Shared>,
    tx: Sender<Msg>,
    outcomes_rx: Receiver<Outcome>,
    handles: Mutex<Option<Vec<JoinHandle<()>>>>,
    ticker: Mutex<Option<(Sender<()>, JoinHandle<()>)>>,
}

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

/// Builds a [`Pool`]; every setting is optional.
#[derive(Debug, Clone, Default)]
pub struct PoolBuilder {
    config: PoolConfig,
}

impl PoolBuilder {
    /// Worker threads (default: the available parallelism).
    pub fn workers(mut self, n: usize) -> Self {
        self.config.workers = Some(n);
        self
    }

    /// Queue capacity (default: 4 × workers). `submit` blocks while it is full.
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.config.queue_capacity = Some(n);
        self
    }

    /// Limits on each input.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.config.limits = Some(limits);
        self
    }

    /// Saves outputs under this folder (created if missing); without it outputs come
    /// back as bytes.
    pub fn output_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.output_dir = Some(dir.into());
        self
    }

    /// The recipe for jobs that bring none.
    pub fn default_recipe(mut self, recipe: Recipe) -> Self {
        self.config.default_recipe = Some(recipe);
        self
    }

    /// Allowed input formats.
    pub fn formats(mut self, formats: impl Into<Vec<InputFormat>>) -> Self {
        self.config.formats = Some(formats.into());
        self
    }

    /// The memory budget in bytes (default: [`default_memory_budget`]).
    pub fn memory_budget(mut self, bytes: u64) -> Self {
        self.config.memory_budget = Some(bytes);
        self
    }

    /// Events buffered per subscriber before it lags (default 1024).
    pub fn event_capacity(mut self, n: usize) -> Self {
        self.config.event_capacity = Some(n);
        self
    }

    /// Emit a `stats` event this often.
    pub fn stats_interval(mut self, every: Duration) -> Self {
        self.config.stats_interval_ms = Some(every.as_millis().max(1) as u64);
        self
    }

    /// Starts from a whole [`PoolConfig`].
    pub fn config(mut self, config: PoolConfig) -> Self {
        self.config = config;
        self
    }

    /// Starts the workers.
    pub fn build(self) -> Result<Pool, Error> {
        Pool::from_config(self.config)
    }
}

enum Mode {
    Block,
    Try,
    Timeout(Duration),
}

impl Pool {
    /// A builder with every default.
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }

    /// Builds a pool from a configuration (e.g. parsed with [`PoolConfig::from_json`]).
    pub fn from_config(config: PoolConfig) -> Result<Pool, Error> {
        config.validate()?;
        let settings = config.settings();
        settings.validate()?;
        let workers = config.resolved_workers();
        let queue_capacity = config.resolved_queue_capacity();
        if let Some(dir) = &config.output_dir {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("output_dir {}: {e}", dir.display()),
                )
            })?;
        }
        let (tx, rx) = crossbeam_channel::bounded(queue_capacity);
        let (outcomes_tx, outcomes_rx) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            settings: ArcSwap::from_pointee(settings),
            output_dir: config.output_dir.clone(),
            registry: Registry::new(queue_capacity + workers),
            budget: Budget::new(config.memory_budget.unwrap_or_else(default_memory_budget)),
            stats: StatsInner::new(workers),
            events: EventBus::new(config.event_capacity.unwrap_or(1024)),
            flags: CachePadded::default(),
            intake: CachePadded::new(Intake {
                submitting: AtomicUsize::new(0),
                next_id: AtomicU64::new(1),
            }),
            outcomes_tx: ArcSwapOption::from_pointee(outcomes_tx),
            workers,
            queue_capacity,
        });
        let mut handles = Vec::with_capacity(workers);
        for i in 0..workers {
            let (rx, shared) = (rx.clone(), shared.clone());
            let h = std::thread::Builder::new()
                .name(format!("conveyor-worker-{i}"))
                .spawn(move || worker::worker_main(i, rx, shared))
                .map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidArgument,
                        format!("cannot start a worker thread: {e}"),
                    )
                })?;
            handles.push(h);
        }
        let ticker = config.stats_interval_ms.map(|ms| {
            let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
            let shared = shared.clone();
            let h = std::thread::Builder::new()
                .name("conveyor-stats".into())
                .spawn(move || {
                    while let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
                        stop_rx.recv_timeout(Duration::from_millis(ms))
                    {
                        if shared.events.has_subscribers() {
                            let stats = shared.snapshot();
                            shared.events.emit(|| Event::Stats { stats });
                        }
                    }
                })
                .expect("spawn the stats thread");
            (stop_tx, h)
        });
        Ok(Pool {
            inner: Arc::new(Inner {
                shared,
                tx,
                outcomes_rx,
                handles: Mutex::new(Some(handles)),
                ticker: Mutex::new(ticker),
            }),
        })
    }

    fn enqueue(
        &self,
        job: Job,
        reply: impl FnOnce(JobId) -> Reply,
        mode: Mode,
    ) -> Result<JobId, SubmitError> {
        let inner = &*self.inner;
        let shared = &inner.shared;
        shared.intake.submitting.fetch_add(1, Ordering::SeqCst);
        struct Leave<'a>(&'a AtomicUsize);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let _leave = Leave(&shared.intake.submitting);
        if shared.flags.closing.load(Ordering::SeqCst) {
            return Err(SubmitError::ShutDown(job));
        }
        // Blocking on a full queue from one of our own workers would deadlock.
        let mode = match mode {
            Mode::Block if worker::is_worker_of(&inner.shared) => Mode::Try,
            m => m,
        };
        let id = JobId(shared.intake.next_id.fetch_add(1, Ordering::Relaxed));
        let accepted = Instant::now();
        shared.registry.insert(id.0);
        shared.stats.accepted();
        let input_bytes = job.data.len() as u64;
        shared.events.emit(|| Event::JobQueued {
            job_id: id,
            input_bytes,
        });
        let env = Envelope {
            id,
            deadline: job.timeout.map(|t| accepted + t),
            job: Some(job),
            accepted,
            reply: Some(reply(id)),
            dequeued: false,
            running: false,
        };
        let refused = match mode {
            Mode::Block => inner
                .tx
                .send(Msg::Job(env))
                .err()
                .map(|e| (e.into_inner(), ErrorKind::ShutDown)),
            Mode::Try => inner.tx.try_send(Msg::Job(env)).err().map(|e| match e {
                TrySendError::Full(m) => (m, ErrorKind::QueueFull),
                TrySendError::Disconnected(m) => (m, ErrorKind::ShutDown),
            }),
            Mode::Timeout(d) => inner
                .tx
                .send_timeout(Msg::Job(env), d)
                .err()
                .map(|e| match e {
                    SendTimeoutError::Timeout(m) => (m, ErrorKind::TimedOut),
                    SendTimeoutError::Disconnected(m) => (m, ErrorKind::ShutDown),
                }),
        };
        let Some((Msg::Job(mut env), kind)) = refused else {
            return Ok(id);
        };
        // Not accepted after all: undo, and hand the job back without an outcome.
        drop(env.reply.take());
        let job = env.job.take().expect("the envelope still holds its job");
        env.dequeued = true;
        shared.registry.remove(id.0);
        shared.stats.refused();
        shared.events.emit(|| Event::JobRejected {
            job_id: id,
            reason: kind,
        });
        Err(match kind {
            ErrorKind::QueueFull => SubmitError::Full(job),
            ErrorKind::TimedOut => SubmitError::Timeout(job),
            _ => SubmitError::ShutDown(job),
        })
    }

    fn with_ticket(&self, job: Job, mode: Mode) -> Result<Ticket, SubmitError> {
        let mut ticket = None;
        self.enqueue(
            job,
            |id| {
                let (t, reply) = Ticket::new(id);
                ticket = Some(t);
                reply
            },
            mode,
        )?;
        Ok(ticket.expect("the reply was made"))
    }

    /// Submits a job, blocking while the queue is full (back-pressure). Returns a
    /// [`Ticket`] for its outcome. Fails only with `ShutDown` (or `Full` when called
    /// from this pool's own worker thread, where blocking would deadlock).
    pub fn submit(&self, job: Job) -> Result<Ticket, SubmitError> {
        self.with_ticket(job, Mode::Block)
    }

    /// Submits a job if there is room now; otherwise hands it back with `Full` (or
    /// `ShutDown`).
    pub fn try_submit(&self, job: Job) -> Result<Ticket, SubmitError> {
        self.with_ticket(job, Mode::Try)
    }

    /// Submits a job, waiting at most `timeout` for room; otherwise hands it back with
    /// `Timeout` (or `ShutDown`).
    pub fn submit_timeout(&self, job: Job, timeout: Duration) -> Result<Ticket, SubmitError> {
        self.with_ticket(job, Mode::Timeout(timeout))
    }

    /// Submits a job (blocking while the queue is full); `callback` receives its outcome
    /// exactly once, on a pool thread. A panicking callback is contained.
    pub fn submit_with(
        &self,
        job: Job,
        callback: impl FnOnce(Outcome) + Send + 'static,
    ) -> Result<JobId, SubmitError> {
        self.enqueue(job, |_| Reply::Callback(Box::new(callback)), Mode::Block)
    }

    /// As [`Pool::submit_with`], but hands the job back with `Full` instead of blocking.
    pub fn try_submit_with(
        &self,
        job: Job,
        callback: impl FnOnce(Outcome) + Send + 'static,
    ) -> Result<JobId, SubmitError> {
        self.enqueue(job, |_| Reply::Callback(Box::new(callback)), Mode::Try)
    }

    fn collector(&self) -> Option<Sender<Outcome>> {
        self.inner.shared.outcomes_tx.load().as_deref().cloned()
    }

    /// Submits a job (blocking while the queue is full) whose outcome goes to the
    /// shared [`Outcomes`] receiver (see [`Pool::outcomes`]).
    pub fn submit_collected(&self, job: Job) -> Result<JobId, SubmitError> {
        let Some(tx) = self.collector() else {
            return Err(SubmitError::ShutDown(job));
        };
        self.enqueue(job, |_| Reply::Collector(tx), Mode::Block)
    }

    /// As [`Pool::submit_collected`], but hands the job back with `Full` instead of
    /// blocking.
    pub fn try_submit_collected(&self, job: Job) -> Result<JobId, SubmitError> {
        let Some(tx) = self.collector() else {
            return Err(SubmitError::ShutDown(job));
        };
        self.enqueue(job, |_| Reply::Collector(tx), Mode::Try)
    }

    /// The shared completion receiver for `submit_collected` jobs. Every clone reads
    /// from the same stream; it ends after shutdown once every outcome is read.
    pub fn outcomes(&self) -> Outcomes {
        Outcomes {
            rx: self.inner.outcomes_rx.clone(),
        }
    }

    /// Cancels a job. A queued job finishes as `cancelled` without running; a running
    /// job stops at its next stage boundary. Returns whether the job was still pending.
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
        self.inner.shared.flags.closing.load(Ordering::SeqCst)
    }

    /// Graceful shutdown: stops intake, lets every queued and running job finish,
    /// joins the workers. Every accepted job has its outcome when this returns.
    /// Idempotent; a concurrent second call waits for the first. Called from one of
    /// the pool's own callbacks it starts the shutdown and returns at once.
    pub fn shutdown(&self) {
        Inner::shutdown(&self.inner, false)
    }

    /// Immediate shutdown: stops intake, finishes queued jobs as `cancelled` without
    /// running them, lets running jobs finish, joins the workers.
    pub fn shutdown_now(&self) {
        Inner::shutdown(&self.inner, true)
    }
}

impl Shared {
    fn snapshot(&self) -> StatsSnapshot {
        let mut s = self.stats.snapshot(self.workers, self.queue_capacity);
        s.memory_budget = self.budget.total();
        (s.memory_in_use, s.memory_waiting) = self.budget.usage();
        s
    }
}

impl Inner {
    fn shutdown(this: &Arc<Inner>, now: bool) {
        if worker::is_worker_of(&this.shared) {
            // We cannot join ourselves: let a helper thread do it.
            this.shared.flags.closing.store(true, Ordering::SeqCst);
            if now {
                this.shared.flags.abort_queued.store(true, Ordering::SeqCst);
            }
            let this = this.clone();
            std::thread::spawn(move || Inner::shutdown(&this, now));
            return;
        }
        let mut guard = this.handles.lock().unwrap_or_else(|e| e.into_inner());
        let Some(handles) = guard.take() else { return };
        let shared = &this.shared;
        shared
            .events
            .emit(|| Event::ShuttingDown { graceful: !now });
        if now {
            shared.flags.abort_queued.store(true, Ordering::SeqCst);
        }
        shared.flags.closing.store(true, Ordering::SeqCst);
        // Submitters that passed the `closing` check finish their send first, so no
        // job can land behind the stop messages.
        while shared.intake.submitting.load(Ordering::SeqCst) != 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
        for _ in 0..handles.len() {
            let _ = this.tx.send(Msg::Stop);
        }
        for h in handles {
            let _ = h.join();
        }
        if let Some((stop, h)) = this.ticker.lock().unwrap_or_else(|e| e.into_inner()).take() {
            drop(stop);
            let _ = h.join();
        }
        shared.outcomes_tx.store(None);
        shared.events.close();
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        Inner::shutdown(&self.inner, false);
    }
}
