//! Getting a job in: one internal `enqueue` (id, registry, event, one channel send)
//! under every public submit variant. The variants differ on two axes only: where the
//! outcome goes (a [`Ticket`], a callback, or the shared [`Outcomes`](super::Outcomes)
//! collector) and how long to wait for room in a full queue ([`QueueWait`]).
//!
//! Submitting takes no pool-wide lock: an atomic id, one compare-and-swap on a slot of
//! the cancel registry and one channel send.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crossbeam_channel::{SendTimeoutError, Sender, TrySendError};
use web_time::Instant;

use super::envelope::Envelope;
use super::shared::Msg;
use super::submit_error::SubmitError;
use super::ticket::{Reply, Ticket};
use super::{worker, Pool};
use crate::error::ErrorKind;
use crate::events::Event;
use crate::job::{Job, JobId};
use crate::outcome::Outcome;

/// How long a submit waits for room when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueWait {
    /// As long as needed (back-pressure). From one of the pool's own worker threads
    /// this acts as [`QueueWait::Never`], where blocking would deadlock.
    #[default]
    Block,
    /// Not at all: a full queue hands the job back with [`SubmitError::Full`].
    Never,
    /// Up to this long, then hands the job back with [`SubmitError::Timeout`].
    Timeout(Duration),
}

impl Pool {
    fn enqueue(
        &self,
        job: Job,
        reply: impl FnOnce(JobId) -> Reply,
        wait: QueueWait,
    ) -> Result<JobId, SubmitError> {
        let inner = &*self.inner;
        let shared = &inner.shared;
        // Held until the job is sent (or refused): shutdown waits for it.
        let Some(_in_intake) = shared.enter_intake() else {
            return Err(SubmitError::ShutDown(job));
        };
        let wait = match wait {
            QueueWait::Block if worker::is_worker_of(shared) => QueueWait::Never,
            w => w,
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
        let refused = match wait {
            QueueWait::Block => inner
                .tx
                .send(Msg::Job(env))
                .err()
                .map(|e| (e.into_inner(), ErrorKind::ShutDown)),
            QueueWait::Never => inner.tx.try_send(Msg::Job(env)).err().map(|e| match e {
                TrySendError::Full(m) => (m, ErrorKind::QueueFull),
                TrySendError::Disconnected(m) => (m, ErrorKind::ShutDown),
            }),
            QueueWait::Timeout(d) => {
                inner
                    .tx
                    .send_timeout(Msg::Job(env), d)
                    .err()
                    .map(|e| match e {
                        SendTimeoutError::Timeout(m) => (m, ErrorKind::TimedOut),
                        SendTimeoutError::Disconnected(m) => (m, ErrorKind::ShutDown),
                    })
            }
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

    fn with_ticket(&self, job: Job, wait: QueueWait) -> Result<Ticket, SubmitError> {
        let mut ticket = None;
        self.enqueue(
            job,
            |id| {
                let (t, reply) = Ticket::new(id);
                ticket = Some(t);
                reply
            },
            wait,
        )?;
        Ok(ticket.expect("the reply was made"))
    }

    /// Submits a job, blocking while the queue is full (back-pressure). Returns a
    /// [`Ticket`] for its outcome. Fails only with `ShutDown` (or `Full` when called
    /// from this pool's own worker thread, where blocking would deadlock).
    pub fn submit(&self, job: Job) -> Result<Ticket, SubmitError> {
        self.with_ticket(job, QueueWait::Block)
    }

    /// Submits a job if there is room now; otherwise hands it back with `Full` (or
    /// `ShutDown`).
    pub fn try_submit(&self, job: Job) -> Result<Ticket, SubmitError> {
        self.with_ticket(job, QueueWait::Never)
    }

    /// Submits a job, waiting at most `timeout` for room; otherwise hands it back with
    /// `Timeout` (or `ShutDown`).
    pub fn submit_timeout(&self, job: Job, timeout: Duration) -> Result<Ticket, SubmitError> {
        self.with_ticket(job, QueueWait::Timeout(timeout))
    }

    /// Submits a job (blocking while the queue is full); `callback` receives its outcome
    /// exactly once, on a pool thread. A panicking callback is contained.
    pub fn submit_with(
        &self,
        job: Job,
        callback: impl FnOnce(Outcome) + Send + 'static,
    ) -> Result<JobId, SubmitError> {
        self.submit_with_wait(job, QueueWait::Block, callback)
    }

    /// As [`Pool::submit_with`], but hands the job back with `Full` instead of blocking.
    pub fn try_submit_with(
        &self,
        job: Job,
        callback: impl FnOnce(Outcome) + Send + 'static,
    ) -> Result<JobId, SubmitError> {
        self.submit_with_wait(job, QueueWait::Never, callback)
    }

    /// As [`Pool::submit_with`], waiting for room as `wait` says. The bindings use it
    /// to offer every wait with one call.
    pub fn submit_with_wait(
        &self,
        job: Job,
        wait: QueueWait,
        callback: impl FnOnce(Outcome) + Send + 'static,
    ) -> Result<JobId, SubmitError> {
        self.enqueue(job, |_| Reply::Callback(Box::new(callback)), wait)
    }

    fn collector(&self) -> Option<Sender<Outcome>> {
        self.inner.shared.outcomes_tx.load().as_deref().cloned()
    }

    /// Submits a job (blocking while the queue is full) whose outcome goes to the
    /// shared [`Outcomes`](super::Outcomes) receiver (see [`Pool::outcomes`]).
    pub fn submit_collected(&self, job: Job) -> Result<JobId, SubmitError> {
        self.submit_collected_wait(job, QueueWait::Block)
    }

    /// As [`Pool::submit_collected`], but hands the job back with `Full` instead of
    /// blocking.
    pub fn try_submit_collected(&self, job: Job) -> Result<JobId, SubmitError> {
        self.submit_collected_wait(job, QueueWait::Never)
    }

    /// As [`Pool::submit_collected`], waiting for room as `wait` says.
    pub fn submit_collected_wait(&self, job: Job, wait: QueueWait) -> Result<JobId, SubmitError> {
        let Some(tx) = self.collector() else {
            return Err(SubmitError::ShutDown(job));
        };
        self.enqueue(job, |_| Reply::Collector(tx), wait)
    }
}
