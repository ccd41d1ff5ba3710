//! The crate's errors: [`ClusterError`] for everything that talks to NATS or the store,
//! and [`SubmitError`] for a submission that was not accepted (the queue is full, or
//! the cluster could not be reached), so a server can answer 503 for the first.
//!
//! Messages are one line and never carry a Debug dump.

/// An error from NATS, the object store, or a record that does not parse.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// NATS or JetStream failed (connect, stream, consumer, bucket, publish, fetch).
    #[error("nats: {0}")]
    Nats(String),
    /// The object store failed.
    #[error("object store: {0}")]
    Store(String),
    /// A message or record does not parse.
    #[error("bad record: {0}")]
    Decode(String),
    /// An argument is not valid (a store URL, a job id).
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// No outcome before the wait's deadline.
    #[error("no outcome in time")]
    TimedOut,
    /// Local I/O failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

impl ClusterError {
    /// A NATS error, one line.
    pub(crate) fn nats(e: impl std::fmt::Display) -> ClusterError {
        ClusterError::Nats(one_line(e))
    }

    /// A store error, one line.
    pub(crate) fn store(e: impl std::fmt::Display) -> ClusterError {
        ClusterError::Store(one_line(e))
    }
}

impl From<serde_json::Error> for ClusterError {
    fn from(e: serde_json::Error) -> ClusterError {
        ClusterError::Decode(one_line(e))
    }
}

/// `e` as one line of at most 300 characters.
pub(crate) fn one_line(e: impl std::fmt::Display) -> String {
    let s = e.to_string().replace(['\n', '\r'], " ");
    match s.char_indices().nth(300) {
        Some((i, _)) => s[..i].to_owned(),
        None => s,
    }
}

/// Why a submission was not accepted. Nothing was queued: the input stored for it
/// has been removed again (best effort).
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The job stream is at its limit (`max_queued`); retry later (HTTP 503).
    #[error("the job queue is full; retry later")]
    Full,
    /// The submission is not valid (an id that is not a canonical UUID).
    #[error("invalid submission: {0}")]
    Invalid(String),
    /// NATS or the store failed; the job may be retried with the same id, which the
    /// stream's de-duplication makes safe.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}
