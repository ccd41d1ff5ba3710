//! What travels: the job message on the queue and the outcome record in the bucket.
//!
//! A [`JobMessage`] is a claim check: it names the input in the object store and
//! never carries image bytes, so queue messages stay a few hundred bytes whatever the
//! upload. An [`OutcomeRecord`] wraps the core's wire outcome
//! ([`conveyor::wire::OutcomeJson`], the one contract every door shows) with who
//! recorded it and on which delivery; each output's `path` is its key in the store.

use conveyor::wire::OutcomeJson;
use conveyor::Recipe;
use serde::{Deserialize, Serialize};

/// The message version this crate writes and reads.
pub const MESSAGE_VERSION: u32 = 1;

/// One job on the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobMessage {
    /// Format version ([`MESSAGE_VERSION`]).
    pub v: u32,
    /// The job id: a canonical UUIDv7 (the upload id), the stream's de-duplication
    /// id (`Nats-Msg-Id`), the outcome record's key, and the outputs' folder.
    pub id: String,
    /// The job's key in its outcome (`key`), by default the id.
    pub key: Option<String>,
    /// The recipe; `None` uses the worker pool's default.
    pub recipe: Option<Recipe>,
    /// The input's key in the object store.
    pub input: String,
    /// The input's size in bytes.
    pub input_len: u64,
    /// When the job was accepted (Unix milliseconds).
    pub submitted_ms: u64,
    /// When the job must be finished (Unix milliseconds); after it, the job ends as
    /// `timed_out` wherever it is.
    pub deadline_ms: u64,
}

/// A job's one outcome, as stored under its id in the outcome bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeRecord {
    /// The job id.
    pub id: String,
    /// Who recorded it: `worker:<name>` or `server:<name>` (a cancel or a deadline).
    pub by: String,
    /// The delivery that produced it (0 when no worker ran it).
    pub attempt: u32,
    /// When it was recorded (Unix milliseconds).
    pub recorded_ms: u64,
    /// The wire outcome; `job_id` is the job's sequence number in the stream (0 when
    /// unknown), and each output's `path` is its key in the object store.
    pub outcome: OutcomeJson,
}

impl OutcomeRecord {
    /// The store keys of the outputs (none on failure).
    pub fn output_keys(&self) -> Vec<String> {
        self.outcome
            .outputs
            .iter()
            .flatten()
            .filter_map(|o| o.path.as_ref().map(|p| p.to_string_lossy().into_owned()))
            .collect()
    }
}

/// Whether `s` is a job id in canonical form (lowercase hyphenated UUID), so it can
/// name a store folder and a bucket key safely.
pub fn is_job_id(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok_and(|u| u.hyphenated().to_string() == s)
}

/// A new job id (UUIDv7: sorts by time, unique across processes).
pub fn new_job_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

/// The store key of a job's input.
pub fn input_key(id: &str) -> String {
    format!("inputs/{id}")
}

/// The store key of one of a job's outputs (`outputs/<id>/<name>.<ext>`).
pub fn output_key(id: &str, file_name: &str) -> String {
    format!("outputs/{id}/{file_name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_message_round_trips_and_stays_small() {
        let id = new_job_id();
        let m = JobMessage {
            v: MESSAGE_VERSION,
            id: id.clone(),
            key: None,
            recipe: Some(Recipe::default()),
            input: input_key(&id),
            input_len: 5_000_000,
            submitted_ms: 1,
            deadline_ms: 2,
        };
        let text = serde_json::to_vec(&m).unwrap();
        assert!(text.len() < 1024, "{}", text.len());
        let back: JobMessage = serde_json::from_slice(&text).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn ids_are_checked() {
        let id = new_job_id();
        assert!(is_job_id(&id));
        assert!(!is_job_id(&id.to_uppercase()));
        assert!(!is_job_id("../x"));
        assert_eq!(output_key(&id, "a.jpg"), format!("outputs/{id}/a.jpg"));
    }
}
