//! A job in flight: the job, its reply, its cancel flag and deadline. The envelope is
//! the unit of *exactly once*: `complete` takes the reply out, so it can deliver once,
//! and if an envelope is ever dropped with its reply still inside (a bug, or a queue
//! torn down with jobs in it), `Drop` delivers a `shut_down` outcome instead of losing it.
//!
//! The envelope holds no reference to the pool: the worker passes it in. That keeps a
//! shared reference count off the per-job path (it would bounce between the submitting
//! and the working core on every job).

use std::time::Duration;

use web_time::Instant;

use super::shared::Shared;
use super::ticket::Reply;
use crate::error::{Error, ErrorKind, Stage};
use crate::events::Event;
use crate::job::{Job, JobId};
use crate::outcome::{Outcome, Report, Timings};

pub(crate) struct Envelope {
    pub id: JobId,
    pub job: Option<Job>,
    pub accepted: Instant,
    pub deadline: Option<Instant>,
    pub reply: Option<Reply>,
    /// Whether a worker has taken it off the queue (for the `queued` gauge).
    pub dequeued: bool,
    /// Whether it counted as running (for the `running` gauge).
    pub running: bool,
}

impl Envelope {
    /// Stops the job if it was cancelled or its deadline passed.
    pub(crate) fn check(&self, shared: &Shared, stage: Stage) -> Result<(), Error> {
        if shared.registry.is_cancelled(self.id.0) {
            return Err(Error::new(
                ErrorKind::Cancelled,
                format!("cancelled before the {stage} stage"),
            )
            .at(stage));
        }
        if let Some(d) = self.deadline {
            if Instant::now() >= d {
                return Err(Error::new(
                    ErrorKind::TimedOut,
                    format!(
                        "deadline passed before the {stage} stage, {:?} after acceptance",
                        self.accepted.elapsed()
                    ),
                )
                .at(stage));
            }
        }
        Ok(())
    }

    /// Delivers the job's one outcome from worker `worker`: updates its stats shard,
    /// emits `job_finished`, then calls the reply. Does nothing if already completed.
    pub(crate) fn complete(
        &mut self,
        shared: &Shared,
        worker: usize,
        result: Result<Report, Error>,
        queued: Duration,
    ) {
        let Some(reply) = self.reply.take() else {
            return;
        };
        shared.registry.remove(self.id.0);
        let stats = shared.stats.shard(worker);
        if !self.dequeued {
            stats.dequeued();
            self.dequeued = true;
        }
        if self.running {
            stats.running(-1);
            self.running = false;
        }
        let total = self.accepted.elapsed();
        let result = result.map(|mut r| {
            r.timings.queued = queued;
            r.timings.total = total;
            r
        });
        let timings = match &result {
            Ok(r) => r.timings,
            Err(_) => Timings {
                queued,
                total,
                ..Timings::default()
            },
        };
        stats.latency(0, timings.queued);
        match &result {
            Ok(r) => {
                stats.latency(1, r.timings.decode);
                stats.latency(2, r.timings.resize);
                stats.latency(3, r.timings.encode);
                if r.outputs.iter().any(|o| o.path.is_some()) {
                    stats.latency(4, r.timings.save);
                }
                stats.completed();
            }
            Err(e) => stats.failed(e.kind),
        }
        stats.latency(5, total);
        shared.events.emit(|| Event::JobFinished {
            job_id: self.id,
            ok: result.is_ok(),
            error: result.as_ref().err().map(|e| e.kind),
            stage: result.as_ref().err().and_then(|e| e.stage),
            timings,
        });
        // The job is done with: its bytes go now, its key goes to the outcome.
        let key = self.job.take().and_then(|j| j.key);
        reply.deliver(Outcome {
            job_id: self.id,
            key,
            result,
            timings,
        });
    }
}

impl Drop for Envelope {
    /// The safety net: an envelope dropped with its reply still inside delivers a
    /// `shut_down` outcome (without the pool's statistics, which it cannot reach).
    fn drop(&mut self) {
        if let Some(reply) = self.reply.take() {
            let key = self.job.take().and_then(|j| j.key);
            reply.deliver(Outcome {
                job_id: self.id,
                key,
                result: Err(Error::new(
                    ErrorKind::ShutDown,
                    "the pool dropped the job before running it",
                )
                .at(Stage::Queue)),
                timings: Timings {
                    queued: self.accepted.elapsed(),
                    total: self.accepted.elapsed(),
                    ..Timings::default()
                },
            });
        }
    }
}
