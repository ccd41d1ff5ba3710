//! Cluster events: what workers and servers announce on the events subject (plain
//! NATS, not stored), so every server's `/events` shows every worker's jobs. They are
//! the cluster's counterpart of the pool's events, named by job id (the pool's numeric
//! ids are local to one process) and with the worker's name. A server that misses
//! some (NATS down, slow reader) misses only announcements, never outcomes: those are
//! records (`record.rs`).

use conveyor::{ErrorKind, Timings};
use serde::{Deserialize, Serialize};

/// One announcement, as JSON `{"type":"job_started","id":..,...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClusterEvent {
    /// A server (or client) queued a job.
    JobQueued {
        /// The job id.
        id: String,
        /// Its input size.
        input_bytes: u64,
    },
    /// A worker started a job.
    JobStarted {
        /// The job id.
        id: String,
        /// The worker's name.
        worker: String,
        /// The delivery (1 for the first try).
        attempt: u32,
    },
    /// A job's outcome was recorded.
    JobFinished {
        /// The job id.
        id: String,
        /// Who recorded it (`worker:<name>` or `server:<name>`).
        by: String,
        /// Whether it succeeded.
        ok: bool,
        /// The error kind on failure.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ErrorKind>,
        /// The job's timings.
        timings: Timings,
    },
    /// A process applied a new cluster config record (`live.rs`): the core's
    /// `config_reloaded`, with who applied it and which generation is now in force.
    /// Every worker and server announces it once per generation it applies.
    ConfigReloaded {
        /// Who applied it (`worker:<name>` or `server:<name>`).
        by: String,
        /// The generation now in force there.
        generation: u64,
    },
}

impl ClusterEvent {
    /// The type name, as in the JSON `type` field (and the SSE event name).
    pub fn name(&self) -> &'static str {
        match self {
            ClusterEvent::JobQueued { .. } => "job_queued",
            ClusterEvent::JobStarted { .. } => "job_started",
            ClusterEvent::JobFinished { .. } => "job_finished",
            ClusterEvent::ConfigReloaded { .. } => "config_reloaded",
        }
    }

    /// The job it concerns (none for a config event).
    pub fn id(&self) -> Option<&str> {
        match self {
            ClusterEvent::JobQueued { id, .. }
            | ClusterEvent::JobStarted { id, .. }
            | ClusterEvent::JobFinished { id, .. } => Some(id),
            ClusterEvent::ConfigReloaded { .. } => None,
        }
    }

    /// The `job_finished` event for a record.
    pub fn finished(rec: &crate::OutcomeRecord) -> ClusterEvent {
        ClusterEvent::JobFinished {
            id: rec.id.clone(),
            by: rec.by.clone(),
            ok: rec.outcome.ok,
            error: rec.outcome.error.as_ref().map(|e| e.code),
            timings: rec.outcome.timings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_name_their_type() {
        let e = ClusterEvent::JobStarted {
            id: "x".into(),
            worker: "w1".into(),
            attempt: 2,
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], e.name());
        assert_eq!(v["attempt"], 2);
        let back: ClusterEvent = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
        let r = ClusterEvent::ConfigReloaded {
            by: "worker:w1".into(),
            generation: 2,
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type": "config_reloaded", "by": "worker:w1", "generation": 2})
        );
        // The same name as the core's event of the pool's bus.
        assert_eq!(r.name(), conveyor::Event::ConfigReloaded.name());
        assert_eq!(r.id(), None);
    }
}
