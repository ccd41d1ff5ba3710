//! [`ClusterClient`]: the cluster's Rust API, with the pool's vocabulary: submit a job
//! and get its id at once, then read or wait for its one outcome. Usable without the
//! upload server (a batch program can submit straight to the cluster).
//!
//! Submitting stores the input under `inputs/<id>`, then publishes a [`JobMessage`]
//! with `Nats-Msg-Id: <id>`, so a retried submit of the same id is stored once. A
//! publish the stream refuses because it is full is [`SubmitError::Full`] (the
//! pool's `queue_full`); the input is removed again. Waiting watches the outcome
//! bucket (one watcher per client) and reads the record; at the job's deadline plus a
//! grace period, the waiter records `timed_out` itself if no one has recorded
//! anything, so a job whose workers all vanished still gets its one outcome.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::ErrorCode;
use async_nats::HeaderMap;
use bytes::Bytes;
use conveyor::{Error, ErrorKind, Recipe, Stage};
use futures_util::StreamExt;
use tokio::sync::broadcast;

use crate::config::{ClusterConfig, Topology};
use crate::error::{ClusterError, SubmitError};
use crate::events::ClusterEvent;
use crate::message::{self, JobMessage, OutcomeRecord, MESSAGE_VERSION};
use crate::record::{self, Recorded};
use crate::store::Store;

/// How long after a job's deadline a waiter records `timed_out` itself (the worker's
/// own deadline fires first and saves its outputs meanwhile).
pub const DEADLINE_GRACE: Duration = Duration::from_secs(2);

/// A job to submit.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The job id (a canonical UUID); a new UUIDv7 when `None`.
    pub id: Option<String>,
    /// The input image.
    pub data: Bytes,
    /// The recipe; `None` uses the workers' default.
    pub recipe: Option<Recipe>,
    /// The key shown in the outcome; the id when `None`.
    pub key: Option<String>,
    /// The deadline, from now.
    pub timeout: Duration,
}

impl Submission {
    /// A job over these bytes, with a fresh id, the workers' recipe and a 60 s deadline.
    pub fn new(data: impl Into<Bytes>) -> Submission {
        Submission {
            id: None,
            data: data.into(),
            recipe: None,
            key: None,
            timeout: Duration::from_secs(60),
        }
    }

    /// Uses this id (a canonical UUID) instead of a fresh one.
    pub fn with_id(mut self, id: impl Into<String>) -> Submission {
        self.id = Some(id.into());
        self
    }

    /// Uses this recipe.
    pub fn with_recipe(mut self, recipe: Recipe) -> Submission {
        self.recipe = Some(recipe);
        self
    }

    /// Sets the deadline, from now.
    pub fn with_timeout(mut self, timeout: Duration) -> Submission {
        self.timeout = timeout;
        self
    }
}

/// An accepted job: it will get exactly one outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// The job id.
    pub id: String,
    /// The job's sequence number in the stream.
    pub seq: u64,
    /// Whether the stream had already stored this id (a retried submit).
    pub duplicate: bool,
    /// The job message as queued.
    pub message: JobMessage,
}

/// A connection to one cluster: NATS, its JetStream objects, and the store.
#[derive(Clone)]
pub struct ClusterClient {
    nats: async_nats::Client,
    topo: Topology,
    store: Store,
    cfg: Arc<ClusterConfig>,
    name: String,
    recorded: broadcast::Sender<String>,
    _watcher: Arc<AbortOnDrop>,
}

/// Stops the outcome watcher when the last clone of a client goes.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl ClusterClient {
    /// Connects to NATS at `url` and opens (or creates) the cluster's stream and bucket.
    pub async fn connect(
        url: &str,
        store: Store,
        cfg: ClusterConfig,
    ) -> Result<ClusterClient, ClusterError> {
        let nats = crate::connect_nats(url, "conveyor client").await?;
        ClusterClient::with_nats(nats, store, cfg, "client").await
    }

    /// A client over an existing connection; `name` is what records it writes say
    /// (`server:<name>`).
    pub async fn with_nats(
        nats: async_nats::Client,
        store: Store,
        cfg: ClusterConfig,
        name: &str,
    ) -> Result<ClusterClient, ClusterError> {
        let topo = Topology::open(&nats, &cfg).await?;
        store
            .bind(&async_nats::jetstream::new(nats.clone()), cfg.outcome_ttl)
            .await?;
        let (recorded, _) = broadcast::channel(1024);
        let watcher = tokio::spawn(watch_outcomes(topo.outcomes.clone(), recorded.clone()));
        Ok(ClusterClient {
            nats,
            topo,
            store,
            cfg: Arc::new(cfg),
            name: name.to_owned(),
            recorded,
            _watcher: Arc::new(AbortOnDrop(watcher)),
        })
    }

    /// The NATS connection.
    pub fn nats(&self) -> &async_nats::Client {
        &self.nats
    }

    /// The object store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The cluster's names and limits.
    pub fn config(&self) -> &ClusterConfig {
        &self.cfg
    }

    /// The name this client writes into records (`server:<name>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The config bucket (`live.rs`), for [`crate::live::follow`].
    pub fn config_bucket(&self) -> &async_nats::jetstream::kv::Store {
        &self.topo.config
    }

    /// The cluster config record in force and its revision, if one was ever
    /// published; the record is an `Err` (one line) when it cannot be applied.
    pub async fn live_config(&self) -> Result<Option<crate::live::Standing>, ClusterError> {
        crate::live::current(&self.topo.config).await
    }

    /// Publishes `settings` and `job_timeout` as the cluster's next config generation
    /// (`loaded_by` is `server:<name>`); every worker and server following the record
    /// applies it.
    pub async fn publish_config(
        &self,
        settings: conveyor::Settings,
        job_timeout: Duration,
    ) -> Result<crate::live::ConfigRecord, ClusterError> {
        crate::live::publish(
            &self.topo.config,
            settings,
            job_timeout,
            format!("server:{}", self.name),
        )
        .await
    }

    /// Stores the input and queues the job. Returns once JetStream has stored the job
    /// message (file storage): from then on the job gets exactly one outcome.
    pub async fn submit(&self, sub: Submission) -> Result<Accepted, SubmitError> {
        let id = sub.id.unwrap_or_else(message::new_job_id);
        if !message::is_job_id(&id) {
            return Err(SubmitError::Invalid(
                "the id must be a canonical lowercase UUID".into(),
            ));
        }
        if sub.data.len() as u64 > self.cfg.max_input_bytes {
            return Err(SubmitError::Invalid(format!(
                "the input has {} bytes; the limit is {}",
                sub.data.len(),
                self.cfg.max_input_bytes
            )));
        }
        let now = crate::now_ms();
        let msg = JobMessage {
            v: MESSAGE_VERSION,
            input: message::input_key(&id),
            input_len: sub.data.len() as u64,
            id: id.clone(),
            key: sub.key,
            recipe: sub.recipe,
            submitted_ms: now,
            deadline_ms: now.saturating_add(sub.timeout.as_millis() as u64),
        };
        self.store.put(&msg.input, sub.data).await?;
        let mut headers = HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
        let payload: Bytes = serde_json::to_vec(&msg).map_err(ClusterError::from)?.into();
        let published = match self
            .topo
            .js
            .publish_with_headers(self.cfg.jobs_subject(), headers, payload)
            .await
        {
            Ok(ack) => ack.await,
            Err(e) => Err(e),
        };
        let ack = match published {
            Ok(ack) => ack,
            Err(e) => {
                let full = is_stream_full(&e);
                // A definite refusal: nothing was queued, so the input goes. On a lost
                // reply the job may be queued: the input stays for it.
                if full
                    || e.kind() == async_nats::jetstream::context::PublishErrorKind::StreamNotFound
                {
                    let _ = self.store.delete(&msg.input).await;
                }
                return Err(if full {
                    SubmitError::Full
                } else {
                    SubmitError::Cluster(ClusterError::nats(e))
                });
            }
        };
        self.publish_event(&ClusterEvent::JobQueued {
            id: id.clone(),
            input_bytes: msg.input_len,
        })
        .await;
        Ok(Accepted {
            id,
            seq: ack.sequence,
            duplicate: ack.duplicate,
            message: msg,
        })
    }

    /// The job's outcome record, if it has one yet.
    pub async fn outcome(&self, id: &str) -> Result<Option<OutcomeRecord>, ClusterError> {
        record::read(&self.topo.outcomes, id).await
    }

    /// Waits for an accepted job's outcome. At its deadline plus [`DEADLINE_GRACE`],
    /// records `timed_out` if nothing is recorded yet.
    pub async fn wait(&self, job: &Accepted) -> Result<OutcomeRecord, ClusterError> {
        let deadline = job.message.deadline_ms + DEADLINE_GRACE.as_millis() as u64;
        self.wait_until(&job.id, Some(deadline), |c| {
            let rec = record::timed_out(&job.message, job.seq, format!("server:{}", c.name), 0);
            async move { c.record_and_announce(rec).await }
        })
        .await
    }

    /// Waits for any job's outcome, without enforcing a deadline; `timeout` bounds the
    /// wait ([`ClusterError::TimedOut`]).
    pub async fn wait_id(
        &self,
        id: &str,
        timeout: Duration,
    ) -> Result<OutcomeRecord, ClusterError> {
        let until = crate::now_ms() + timeout.as_millis() as u64;
        self.wait_until(id, Some(until), |_| async { Err(ClusterError::TimedOut) })
            .await
    }

    async fn wait_until<F, Fut>(
        &self,
        id: &str,
        until_ms: Option<u64>,
        at_deadline: F,
    ) -> Result<OutcomeRecord, ClusterError>
    where
        F: FnOnce(ClusterClient) -> Fut,
        Fut: std::future::Future<Output = Result<OutcomeRecord, ClusterError>>,
    {
        let mut rx = self.recorded.subscribe();
        loop {
            // NATS may be restarting: a failed read is retried until the deadline.
            if let Ok(Some(rec)) = self.outcome(id).await {
                return Ok(rec);
            }
            let now = crate::now_ms();
            if let Some(until) = until_ms {
                if now >= until {
                    return at_deadline(self.clone()).await;
                }
            }
            let nap = Duration::from_millis(until_ms.map_or(1000, |u| (u - now).min(1000)));
            let sleep = tokio::time::sleep(nap);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    got = rx.recv() => match got {
                        Ok(k) if k != id => continue,
                        _ => break,
                    },
                    _ = &mut sleep => break,
                }
            }
        }
    }

    /// Cancels a job: records `cancelled` unless it already has an outcome, and tells
    /// the worker running it to stop. Returns the outcome that stands (the job's own
    /// when it had finished first).
    pub async fn cancel(&self, id: &str) -> Result<OutcomeRecord, ClusterError> {
        let rec = record::failure(
            id,
            None,
            0,
            Error::new(ErrorKind::Cancelled, "the job was cancelled").at(Stage::Queue),
            format!("server:{}", self.name),
            0,
            None,
        );
        let rec = self.record_and_announce(rec).await?;
        let _ = self
            .nats
            .publish(self.cfg.cancel_subject(), Bytes::from(id.to_owned()))
            .await;
        Ok(rec)
    }

    async fn record_and_announce(&self, rec: OutcomeRecord) -> Result<OutcomeRecord, ClusterError> {
        match record::record_once(&self.topo.outcomes, rec).await? {
            Recorded::Mine(rec) => {
                let _ = self.store.delete(&message::input_key(&rec.id)).await;
                self.publish_event(&ClusterEvent::finished(&rec)).await;
                Ok(rec)
            }
            Recorded::Theirs(rec) => Ok(rec),
        }
    }

    /// One of a finished job's outputs, by file name (`large.jpg`): `None` unless the
    /// job's record is a success that names it (so a half-written job shows nothing).
    pub async fn read_output(
        &self,
        id: &str,
        file_name: &str,
    ) -> Result<Option<Bytes>, ClusterError> {
        let Some(rec) = self.outcome(id).await? else {
            return Ok(None);
        };
        let key = message::output_key(id, file_name);
        if !rec.outcome.ok || !rec.output_keys().contains(&key) {
            return Ok(None);
        }
        self.store.get(&key).await
    }

    /// Announces an event to every server (best effort: events are not stored).
    pub async fn publish_event(&self, ev: &ClusterEvent) {
        if let Ok(data) = serde_json::to_vec(ev) {
            let _ = self
                .nats
                .publish(self.cfg.events_subject(), data.into())
                .await;
        }
    }

    /// Every event any worker or server announces from now on.
    pub async fn events(
        &self,
    ) -> Result<impl futures_util::Stream<Item = ClusterEvent> + Send + 'static, ClusterError> {
        let sub = self
            .nats
            .subscribe(self.cfg.events_subject())
            .await
            .map_err(ClusterError::nats)?;
        Ok(sub.filter_map(|m| async move { serde_json::from_slice(&m.payload).ok() }))
    }

    /// Jobs in the stream now (queued or running), for health and metrics.
    pub async fn queued(&self) -> Result<u64, ClusterError> {
        let mut stream = self.topo.stream.clone();
        let info = stream.info().await.map_err(ClusterError::nats)?;
        Ok(info.state.messages)
    }
}

/// Whether a publish failed because the stream is at its limits.
fn is_stream_full(e: &async_nats::jetstream::context::PublishError) -> bool {
    let Some(src) = std::error::Error::source(e) else {
        return false;
    };
    match src.downcast_ref::<async_nats::jetstream::Error>() {
        Some(js) => {
            js.error_code() == ErrorCode::STREAM_STORE_FAILED
                || js.to_string().contains("maximum messages")
                || js.to_string().contains("maximum bytes")
        }
        None => src.to_string().contains("maximum messages"),
    }
}

/// Announces every new outcome key to the client's waiters; restarts after NATS drops.
async fn watch_outcomes(kv: async_nats::jetstream::kv::Store, tx: broadcast::Sender<String>) {
    loop {
        if let Ok(mut w) = kv.watch_all().await {
            while let Some(Ok(entry)) = w.next().await {
                let _ = tx.send(entry.key);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
