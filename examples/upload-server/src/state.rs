//! The state every handler shares: the pool, where outputs live, the job timeout, the
//! admission gate, the body-reading policy, the jobs in flight, the reloader and the
//! admin token, and the stop signal.
//!
//! Handlers and the router import this file; it imports none of them.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use conveyor::{JobId, Pool};
use tokio::sync::watch;

use crate::admission::Admission;
use crate::body::BodyPolicy;
use crate::reload::{JobTimeout, Reloader};

/// State shared by all handlers (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    /// The worker pool; it saves each job's outputs under `output_dir/<upload id>/`.
    pub pool: Arc<Pool>,
    /// Where outputs are saved.
    pub output_dir: PathBuf,
    /// Each job's deadline, counted from its acceptance (a reload may change it).
    pub job_timeout: Arc<JobTimeout>,
    /// Queue room and the body-bytes budget, checked before a body is read.
    pub admission: Arc<Admission>,
    /// Size cap and minimum rate for request bodies.
    pub body: BodyPolicy,
    /// Jobs submitted and not yet answered, cancelled at the drain deadline.
    pub in_flight: Arc<InFlight>,
    /// Re-reads the config files (`SIGHUP`, `POST /admin/reload`); keeps the counters.
    pub reloader: Arc<Reloader>,
    /// The admin token; `None` leaves the admin route off.
    pub admin_token: Option<Arc<str>>,
    /// Becomes `true` when the server starts shutting down.
    pub stopping: watch::Receiver<bool>,
}

/// The pool job ids whose outcome a handler still waits for.
#[derive(Debug, Default)]
pub struct InFlight(Mutex<HashSet<u64>>);

impl InFlight {
    /// Records a submitted job.
    pub fn add(&self, id: JobId) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.0);
    }

    /// Forgets a job whose outcome arrived.
    pub fn remove(&self, id: JobId) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id.0);
    }

    /// Cancels every job still in flight (a cancelled job leaves no files); returns
    /// how many there were.
    pub fn cancel_all(&self, pool: &Pool) -> usize {
        let ids: Vec<u64> = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied()
            .collect();
        for &id in &ids {
            pool.cancel(JobId(id));
        }
        ids.len()
    }
}
