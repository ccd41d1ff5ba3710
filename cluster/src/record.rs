//! The exactly-once rule: a job's outcome is the first record created under its id in
//! the outcome bucket (JetStream KV `create`, which fails when the key exists). Whoever
//! gets there first (the worker that finished it, the worker that gave it up after
//! its last attempt, a server cancelling it or enforcing its deadline) decides the one
//! outcome; everyone else reads that record and stands down. A worker writes outputs
//! before it records success, so a recorded success always has all of its outputs; a
//! worker that loses the race to a failure removes the outputs it wrote.

use std::time::Duration;

use async_nats::jetstream::kv;
use conveyor::wire::OutcomeJson;
use conveyor::{Error, ErrorKind, JobId, Stage, Timings};

use crate::error::ClusterError;
use crate::message::{JobMessage, OutcomeRecord};

/// Who decided a job's outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// This call created the record.
    Mine(OutcomeRecord),
    /// Another party had already recorded this outcome.
    Theirs(OutcomeRecord),
}

impl Recorded {
    /// The one outcome, whoever recorded it.
    pub fn record(&self) -> &OutcomeRecord {
        match self {
            Recorded::Mine(r) | Recorded::Theirs(r) => r,
        }
    }
}

/// Creates `rec` under its id unless a record exists; returns the one that stands.
pub async fn record_once(kv: &kv::Store, rec: OutcomeRecord) -> Result<Recorded, ClusterError> {
    let value = serde_json::to_vec(&rec)?;
    match kv.create(&rec.id, value.into()).await {
        Ok(_) => Ok(Recorded::Mine(rec)),
        Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
            let existing = read(kv, &rec.id).await?.ok_or_else(|| {
                ClusterError::Nats("outcome record vanished after a conflict".into())
            })?;
            // A retry whose first reply was lost finds its own record.
            if existing == rec {
                Ok(Recorded::Mine(rec))
            } else {
                Ok(Recorded::Theirs(existing))
            }
        }
        Err(e) => Err(ClusterError::nats(e)),
    }
}

/// The record under `id`, if any.
pub async fn read(kv: &kv::Store, id: &str) -> Result<Option<OutcomeRecord>, ClusterError> {
    match kv.get(id).await.map_err(ClusterError::nats)? {
        Some(b) => Ok(Some(serde_json::from_slice(&b)?)),
        None => Ok(None),
    }
}

/// A failure record for a job no worker finished: cancelled, past its deadline, or
/// given up after its last attempt.
pub fn failure(
    id: &str,
    key: Option<String>,
    seq: u64,
    error: Error,
    by: String,
    attempt: u32,
    submitted_ms: Option<u64>,
) -> OutcomeRecord {
    let now = crate::now_ms();
    let timings = Timings {
        total: Duration::from_millis(submitted_ms.map_or(0, |s| now.saturating_sub(s))),
        ..Timings::default()
    };
    OutcomeRecord {
        id: id.to_owned(),
        by,
        attempt,
        recorded_ms: now,
        outcome: OutcomeJson::new(
            JobId(seq),
            Some(key.unwrap_or_else(|| id.to_owned())),
            &Err(error),
            timings,
        ),
    }
}

/// The record for a job past its deadline.
pub fn timed_out(msg: &JobMessage, seq: u64, by: String, attempt: u32) -> OutcomeRecord {
    failure(
        &msg.id,
        msg.key.clone(),
        seq,
        Error::new(ErrorKind::TimedOut, "the job passed its deadline").at(Stage::Queue),
        by,
        attempt,
        Some(msg.submitted_ms),
    )
}

/// The record for a job that ended `attempts` deliveries without an outcome (each
/// worker that ran it died or lost contact): a terminal `panicked` failure.
pub fn given_up(msg: &JobMessage, seq: u64, by: String, attempts: u32) -> OutcomeRecord {
    failure(
        &msg.id,
        msg.key.clone(),
        seq,
        Error::new(
            ErrorKind::Panicked,
            format!("given up after {attempts} attempts that ended without an outcome (the workers running it stopped)"),
        ),
        by,
        attempts + 1,
        Some(msg.submitted_ms),
    )
}
