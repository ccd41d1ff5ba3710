//! Why a job was not accepted. Like crossbeam's `TrySendError`, every variant hands
//! the job back, so the caller can retry, queue it elsewhere or drop it.

use std::fmt;

use crate::error::ErrorKind;
use crate::job::Job;

/// A job that was not accepted, and why. The job comes back unchanged.
///
/// - `submit` returns `ShutDown`, or `Full` when called from one of this pool's own
///   worker threads on a full queue (blocking there would deadlock);
/// - `try_submit` returns `Full` or `ShutDown`;
/// - `submit_timeout` returns `Timeout` or `ShutDown`.
#[non_exhaustive]
pub enum SubmitError {
    /// The queue is full.
    Full(Job),
    /// The pool is shutting down or shut down.
    ShutDown(Job),
    /// The queue stayed full for the whole timeout.
    Timeout(Job),
}

impl SubmitError {
    /// The job, handed back.
    pub fn into_job(self) -> Job {
        match self {
            SubmitError::Full(j) | SubmitError::ShutDown(j) | SubmitError::Timeout(j) => j,
        }
    }

    /// The matching error kind: `queue_full`, `shut_down` or `timed_out`.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SubmitError::Full(_) => ErrorKind::QueueFull,
            SubmitError::ShutDown(_) => ErrorKind::ShutDown,
            SubmitError::Timeout(_) => ErrorKind::TimedOut,
        }
    }

    /// Whether the queue was full (including a timeout).
    pub fn is_full(&self) -> bool {
        matches!(self, SubmitError::Full(_) | SubmitError::Timeout(_))
    }
}

impl fmt::Debug for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SubmitError::{}(..)",
            match self {
                SubmitError::Full(_) => "Full",
                SubmitError::ShutDown(_) => "ShutDown",
                SubmitError::Timeout(_) => "Timeout",
            }
        )
    }
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SubmitError::Full(_) => "the job queue is full",
            SubmitError::ShutDown(_) => "the pool is shut down",
            SubmitError::Timeout(_) => "the job queue stayed full until the timeout",
        })
    }
}

impl std::error::Error for SubmitError {}

impl From<SubmitError> for crate::Error {
    fn from(e: SubmitError) -> crate::Error {
        crate::Error::new(e.kind(), e.to_string()).at(crate::Stage::Submit)
    }
}
