//! The three ways an outcome travels back, all built on one internal [`Reply`]:
//! a per-job [`Ticket`], a callback, or the pool's shared [`Outcomes`] receiver.

use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

use crate::error::{Error, ErrorKind};
use crate::job::JobId;
use crate::outcome::Outcome;

/// Where one job's outcome goes. Consumed by delivery, so it can be delivered once.
pub(crate) enum Reply {
    Ticket(Sender<Outcome>),
    Callback(Box<dyn FnOnce(Outcome) + Send + 'static>),
    Collector(Sender<Outcome>),
}

impl Reply {
    /// Delivers the outcome. A panicking callback is caught and logged: it must not take
    /// the worker down.
    pub(crate) fn deliver(self, outcome: Outcome) {
        match self {
            // Capacity 1 and one send: never blocks. A dropped ticket is fine.
            Reply::Ticket(tx) => {
                let _ = tx.try_send(outcome);
            }
            Reply::Collector(tx) => {
                let _ = tx.send(outcome);
            }
            Reply::Callback(f) => {
                let id = outcome.job_id;
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(outcome))).is_err() {
                    tracing::error!(job_id = %id, "an outcome callback panicked; the panic was contained");
                }
            }
        }
    }
}

/// A claim on one job's outcome, from `submit` / `try_submit` / `submit_timeout`.
///
/// The outcome can be taken once: every method consumes the ticket, and the ones that
/// may come back empty-handed return it.
#[derive(Debug)]
pub struct Ticket {
    id: JobId,
    rx: Receiver<Outcome>,
}

impl Ticket {
    pub(crate) fn new(id: JobId) -> (Ticket, Reply) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        (Ticket { id, rx }, Reply::Ticket(tx))
    }

    /// The job's id.
    pub fn id(&self) -> JobId {
        self.id
    }

    fn lost(&self) -> Outcome {
        // Unreachable by construction (the pool delivers to every reply, even when it
        // drops a job); kept so that a bug shows as a typed error, not a hang.
        Outcome {
            job_id: self.id,
            key: None,
            result: Err(Error::new(ErrorKind::Panicked, "the outcome was lost")),
            timings: Default::default(),
        }
    }

    /// Blocks until the outcome arrives.
    pub fn wait(self) -> Outcome {
        self.rx.recv().unwrap_or_else(|_| self.lost())
    }

    /// Waits up to `timeout`; gives the ticket back if the outcome has not arrived.
    pub fn wait_timeout(self, timeout: Duration) -> Result<Outcome, Ticket> {
        match self.rx.recv_timeout(timeout) {
            Ok(o) => Ok(o),
            Err(RecvTimeoutError::Timeout) => Err(self),
            Err(RecvTimeoutError::Disconnected) => Ok(self.lost()),
        }
    }

    /// Returns the outcome if it has arrived, else the ticket.
    pub fn try_get(self) -> Result<Outcome, Ticket> {
        match self.rx.try_recv() {
            Ok(o) => Ok(o),
            Err(TryRecvError::Empty) => Err(self),
            Err(TryRecvError::Disconnected) => Ok(self.lost()),
        }
    }
}

/// The pool's shared completion receiver (the MPSC pattern): the outcomes of every job
/// submitted with `submit_collected`, for one collector thread to iterate. It is
/// unbounded, so a collector must keep reading; it ends when the pool has shut down
/// and every outcome was read.
#[derive(Debug, Clone)]
pub struct Outcomes {
    pub(crate) rx: Receiver<Outcome>,
}

impl Outcomes {
    /// Blocks for the next outcome; `None` once the pool is gone and all were read.
    pub fn recv(&self) -> Option<Outcome> {
        self.rx.recv().ok()
    }

    /// Waits up to `timeout` for the next outcome.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Outcome> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// Waits up to `timeout` (`None`: as long as needed) for the next outcome, and
    /// says why none came: [`RecvOutcomeError::Timeout`], or
    /// [`RecvOutcomeError::Closed`] once the pool has shut down and every outcome was
    /// read. The C door's `conveyor_pool_poll` is this call.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<Outcome, RecvOutcomeError> {
        match timeout {
            None => self.rx.recv().map_err(|_| RecvOutcomeError::Closed),
            Some(t) => self.rx.recv_timeout(t).map_err(|e| match e {
                RecvTimeoutError::Timeout => RecvOutcomeError::Timeout,
                RecvTimeoutError::Disconnected => RecvOutcomeError::Closed,
            }),
        }
    }

    /// The next outcome if one is ready.
    pub fn try_recv(&self) -> Option<Outcome> {
        self.rx.try_recv().ok()
    }

    /// Outcomes waiting to be read.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// Whether no outcome is waiting.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}

/// Why [`Outcomes::wait`] returned no outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvOutcomeError {
    /// Nothing arrived in time.
    Timeout,
    /// The pool has shut down and every outcome was read.
    Closed,
}

impl std::fmt::Display for RecvOutcomeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RecvOutcomeError::Timeout => "no outcome arrived in time",
            RecvOutcomeError::Closed => "the pool has shut down and every outcome was read",
        })
    }
}

impl std::error::Error for RecvOutcomeError {}

impl Iterator for Outcomes {
    type Item = Outcome;
    fn next(&mut self) -> Option<Outcome> {
        self.recv()
    }
}
