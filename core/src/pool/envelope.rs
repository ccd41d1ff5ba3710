//! A job in flight: the job, its reply, its cancel flag and deadline. The envelope is
//! the unit of *exactly once*: `complete` takes the reply out, so it can deliver once,
//! and if an envelope is ever dropped with its reply still inside (a bug, or a queue
//! torn down with jobs in it), `Drop` delivers a `shut_down` outcome instead of losing it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use web_time::Instant;

use super::ticket::Reply;
use super::Shared;
use crate::error::{Error, ErrorKind, Stage};
use crate::events::Event;
use crate::job::{Job, JobId};
use crate::outcome::{Outcome, Report, Timings};

/// Per-job control shared between the envelope and `Pool::cancel`.
#[derive(Default)]
pub(crate) struct Control {
    pub cancelled: AtomicBool,
}

pub(crate) struct Envelope {
    pub id: JobId,
    pub job: Option<Job>,
    pub accepted: Instant,
    pub deadline: Option<Instant>,
    pub control: Arc<Control>,
    pub reply: Option<Reply>,
    pub shared: Arc<Shared>,
    /// Whether a worker has taken it off the queue (for the `queued` gauge).
    pub dequeued: bool,
    /// Whether it counted as running (for the `running` gauge).
    pub running: bool,
}

impl Envelope {
    /// Stops the job if it was cancelled or its deadline passed.
    pub(crate) fn check(&self, stage: Stage) -> Result<(), Error> {
        if self.control.cancelled.load(Ordering::Relaxed) {
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

    /// Delivers the job's one outcome: updates stats, emits `job_finished`, then calls
    /// the reply. Does nothing if already completed.
    pub(crate) fn complete(&mut self, result: Result<Report, Error>, queued: Duration) {
        let Some(reply) = self.reply.take() else {
            return;
        };
        let shared = &self.shared;
        shared.controls.remove(&self.id.0);
        let stats = &shared.stats;
        if !self.dequeued {
            stats.queued.fetch_sub(1, Ordering::Relaxed);
            self.dequeued = true;
        }
        if self.running {
            stats.running.fetch_sub(1, Ordering::Relaxed);
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
        let lat = &stats.latency;
        lat[0].record(timings.queued);
        if let Ok(r) = &result {
            lat[1].record(r.timings.decode);
            lat[2].record(r.timings.resize);
            lat[3].record(r.timings.encode);
            if r.outputs.iter().any(|o| o.path.is_some()) {
                lat[4].record(r.timings.save);
            }
            stats.completed.fetch_add(1, Ordering::Relaxed);
        }
        lat[5].record(total);
        if let Err(e) = &result {
            stats.failed[e.kind.code() as usize].fetch_add(1, Ordering::Relaxed);
        }
        shared.events.emit(|| Event::JobFinished {
            job_id: self.id,
            ok: result.is_ok(),
            error: result.as_ref().err().map(|e| e.kind),
            stage: result.as_ref().err().and_then(|e| e.stage),
            timings,
        });
        let key = self.job.as_ref().and_then(|j| j.key.clone());
        reply.deliver(Outcome {
            job_id: self.id,
            key,
            result,
        });
    }
}

impl Drop for Envelope {
    fn drop(&mut self) {
        if self.reply.is_some() {
            let queued = self.accepted.elapsed();
            self.complete(
                Err(Error::new(
                    ErrorKind::ShutDown,
                    "the pool dropped the job before running it",
                )
                .at(Stage::Queue)),
                queued,
            );
        }
    }
}
