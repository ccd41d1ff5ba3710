//! [`Worker`]: feeds a local [`conveyor::Pool`] from the cluster's durable pull
//! consumer. Per delivery:
//!
//! 1. a job that already has an outcome record (finished by an earlier delivery,
//!    cancelled, timed out) is acked and skipped: never redone, never re-reported;
//! 2. the delivery after the last attempt (`max_attempts + 1`) records a terminal
//!    `panicked` failure instead of running the job: a job that keeps killing its
//!    workers ends;
//! 3. a job past its deadline is recorded `timed_out`;
//! 4. otherwise the input is read from the store and run on the pool with the time
//!    left; while it runs the worker sends in-progress acks every `ack_wait / 3`;
//! 5. on success every output is written to the store (`outputs/<id>/<file>`) before
//!    the outcome is recorded, so a recorded success has all its outputs; if the
//!    record loses to a failure (a cancel, a deadline) the outputs are removed;
//! 6. the outcome is recorded once (`record.rs`), the input is removed, then the
//!    message is acked. A step that fails on NATS or the store naks the delivery and
//!    it runs again later (outputs are rewritten whole, the record is still created
//!    once).
//!
//! A worker holds at most `concurrency` deliveries (the pool's workers plus its queue),
//! so jobs never wait unacked in a worker's memory. A cancel broadcast stops a job
//! this worker is running.
//!
//! Live config: before taking jobs the worker applies the cluster's config record if
//! one exists (`live.rs`), then follows it. A record's settings (default recipe,
//! limits, formats) win over the worker's own `--config` for as long as the worker
//! runs; what they replaced is logged. Each applied generation goes through
//! [`Pool::reload`] (the pool's own `config_reloaded`) and is announced on the events
//! subject as [`ClusterEvent::ConfigReloaded`]. A record that does not parse or
//! validate is refused with one log line and the settings in force stay (there is no
//! refusal event in the contract).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, AckKind};
use conveyor::wire::{output_file_name, OutcomeJson};
use conveyor::{Error, ErrorKind, Job, JobId, Pool, Stage};
use futures_util::StreamExt;
use tokio::sync::{oneshot, watch, OwnedSemaphorePermit, Semaphore};
use tracing::{info, warn};

use crate::client::ClusterClient;
use crate::error::ClusterError;
use crate::events::ClusterEvent;
use crate::live::{self, ConfigRecord, ConfigUpdate};
use crate::message::{self, JobMessage, OutcomeRecord};
use crate::record::{self, Recorded};

/// A worker's options.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The worker's name in records and events (default: host name and process id).
    pub name: String,
    /// Deliveries held at once (default: the pool's workers plus its queue capacity).
    pub concurrency: Option<usize>,
}

impl Default for WorkerOptions {
    fn default() -> WorkerOptions {
        WorkerOptions {
            name: format!("worker-{}", std::process::id()),
            concurrency: None,
        }
    }
}

/// A cluster worker over a local pool.
pub struct Worker {
    ctx: Arc<Ctx>,
    consumer: jetstream::consumer::Consumer<jetstream::consumer::pull::Config>,
    concurrency: usize,
    /// The config record revision applied (or refused) before the loop, 0 for none.
    config_revision: u64,
}

struct Ctx {
    client: ClusterClient,
    kv: jetstream::kv::Store,
    pool: Arc<Pool>,
    by: String,
    name: String,
    running: Mutex<HashMap<String, JobId>>,
    /// The cluster config generation in force in the pool (1: the worker's own).
    generation: AtomicU64,
}

/// What to do with a delivery when its handling stops.
enum Settle {
    Ack,
    Retry,
}

impl Worker {
    /// A worker for `pool`, which must have no output folder (outputs go to the store).
    pub async fn new(
        client: ClusterClient,
        pool: Arc<Pool>,
        opts: WorkerOptions,
    ) -> Result<Worker, ClusterError> {
        if pool.output_dir().is_some() {
            return Err(ClusterError::Invalid(
                "a cluster worker's pool must have no output folder".into(),
            ));
        }
        let topo = crate::config::Topology::open(client.nats(), client.config()).await?;
        let consumer = topo.consumer(client.config()).await?;
        let concurrency = opts
            .concurrency
            .unwrap_or(pool.workers() + pool.queue_capacity())
            .max(1);
        let ctx = Arc::new(Ctx {
            kv: topo.outcomes,
            pool,
            by: format!("worker:{}", opts.name),
            name: opts.name,
            client,
            running: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(1),
        });
        // The config in force before the first job: a worker started after a reload
        // runs by it from its first job on.
        let config_revision = match live::current(&topo.config).await? {
            Some((revision, rec)) => {
                let update = match rec {
                    Ok(r) => ConfigUpdate::Record(r),
                    Err(error) => ConfigUpdate::Unreadable { revision, error },
                };
                if let Some(ev) = apply_config(&ctx, update) {
                    ctx.client.publish_event(&ev).await;
                }
                revision
            }
            None => 0,
        };
        Ok(Worker {
            ctx,
            consumer,
            concurrency,
            config_revision,
        })
    }

    /// The cluster config generation in force in this worker's pool (1 until a
    /// record is applied).
    pub fn generation(&self) -> u64 {
        self.ctx.generation.load(Ordering::Relaxed)
    }

    /// Runs until `stop` turns `true`, then waits up to `drain` for the jobs it holds
    /// (those not finished by then are redelivered elsewhere after the ack wait).
    pub async fn run(
        self,
        mut stop: watch::Receiver<bool>,
        drain: Duration,
    ) -> Result<(), ClusterError> {
        let sem = Arc::new(Semaphore::new(self.concurrency));
        let cancels = tokio::spawn(listen_for_cancels(self.ctx.clone()));
        let config = {
            let ctx = self.ctx.clone();
            let kv = self.ctx.client.config_bucket().clone();
            tokio::spawn(live::follow(kv, self.config_revision, move |update| {
                if let Some(ev) = apply_config(&ctx, update) {
                    let ctx = ctx.clone();
                    tokio::spawn(async move { ctx.client.publish_event(&ev).await });
                }
            }))
        };
        info!(worker = %self.ctx.name, concurrency = self.concurrency, "worker ready");
        while !*stop.borrow() {
            let first = tokio::select! {
                p = sem.clone().acquire_owned() => p.expect("the semaphore is never closed"),
                _ = stop.changed() => break,
            };
            let mut permits = vec![first];
            while let Ok(p) = sem.clone().try_acquire_owned() {
                permits.push(p);
            }
            let batch = self
                .consumer
                .fetch()
                .max_messages(permits.len())
                .expires(Duration::from_secs(1))
                .messages()
                .await;
            match batch {
                Ok(mut batch) => {
                    while let Some(m) = batch.next().await {
                        match m {
                            Ok(msg) => {
                                let permit = permits.pop().expect("one permit per message");
                                tokio::spawn(handle(self.ctx.clone(), msg, permit));
                            }
                            Err(e) => {
                                warn!(error = %crate::error::one_line(&e), "fetch failed");
                                break;
                            }
                        }
                    }
                }
                Err(e) => {
                    warn!(error = %crate::error::one_line(&e), "fetch failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {},
                        _ = stop.changed() => {},
                    }
                }
            }
        }
        cancels.abort();
        config.abort();
        let all = u32::try_from(self.concurrency).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(drain, sem.acquire_many(all)).await;
        Ok(())
    }
}

/// Applies a new config record to the pool, or refuses it with one log line; returns
/// the event to announce when applied.
fn apply_config(ctx: &Ctx, update: ConfigUpdate) -> Option<ClusterEvent> {
    let in_force = ctx.generation.load(Ordering::Relaxed);
    let rec: ConfigRecord = match update {
        ConfigUpdate::Record(r) => r,
        ConfigUpdate::Unreadable { revision, error } => {
            warn!(
                worker = %ctx.name,
                revision,
                "cluster config refused: {error}; generation {in_force} stays in force"
            );
            return None;
        }
    };
    let before = ctx.pool.settings();
    let mut replaced = Vec::new();
    if before.default_recipe != rec.settings.default_recipe {
        replaced.push("default_recipe");
    }
    if before.limits != rec.settings.limits {
        replaced.push("limits");
    }
    if before.formats != rec.settings.formats {
        replaced.push("formats");
    }
    if let Err(e) = ctx.pool.reload(rec.settings) {
        warn!(
            worker = %ctx.name,
            generation = rec.generation,
            "cluster config refused: {}; generation {in_force} stays in force",
            crate::error::one_line(&e.message)
        );
        return None;
    }
    ctx.generation.store(rec.generation, Ordering::Relaxed);
    let replaced = if replaced.is_empty() {
        "nothing".to_owned()
    } else {
        replaced.join(", ")
    };
    info!(
        worker = %ctx.name,
        generation = rec.generation,
        loaded_by = %rec.loaded_by,
        replaced = %replaced,
        "cluster config applied: its default recipe, limits and formats are in force (over this worker's own --config)"
    );
    Some(ClusterEvent::ConfigReloaded {
        by: ctx.by.clone(),
        generation: rec.generation,
    })
}

/// Stops jobs this worker runs when a cancel for them is broadcast.
async fn listen_for_cancels(ctx: Arc<Ctx>) {
    let subject = ctx.client.config().cancel_subject();
    loop {
        if let Ok(mut sub) = ctx.client.nats().subscribe(subject.clone()).await {
            while let Some(m) = sub.next().await {
                let id = String::from_utf8_lossy(&m.payload).into_owned();
                let job = ctx
                    .running
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&id)
                    .copied();
                if let Some(job) = job {
                    info!(id, "cancel: stopping the job");
                    ctx.pool.cancel(job);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Handles one delivery and settles it.
async fn handle(ctx: Arc<Ctx>, msg: jetstream::Message, _permit: OwnedSemaphorePermit) {
    let msg = Arc::new(msg);
    let (delivered, seq) = match msg.info() {
        Ok(i) => (
            u32::try_from(i.delivered).unwrap_or(u32::MAX),
            i.stream_sequence,
        ),
        Err(_) => (1, 0),
    };
    let job: JobMessage = match serde_json::from_slice::<JobMessage>(&msg.payload) {
        Ok(j) if j.v == message::MESSAGE_VERSION && message::is_job_id(&j.id) => j,
        _ => {
            // Not a job this version can read; no id to record an outcome under.
            warn!(seq, "unreadable job message dropped");
            let _ = msg.ack_with(AckKind::Term).await;
            return;
        }
    };
    let keepalive = {
        let msg = msg.clone();
        let every = ctx.client.config().ack_wait / 3;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let _ = msg.ack_with(AckKind::Progress).await;
            }
        })
    };
    let settle = match process(&ctx, &job, delivered, seq).await {
        Ok(()) => Settle::Ack,
        Err(e) => {
            warn!(id = %job.id, error = %e, "job will be retried");
            Settle::Retry
        }
    };
    keepalive.abort();
    match settle {
        Settle::Ack => {
            if let Err(e) = msg.double_ack().await {
                // The record stands; a redelivery finds it and only acks.
                warn!(id = %job.id, error = %crate::error::one_line(e), "ack failed");
            }
        }
        Settle::Retry => {
            let _ = msg
                .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                .await;
        }
    }
}

/// Runs one delivery to a recorded outcome, or fails (then the delivery is retried).
async fn process(
    ctx: &Ctx,
    job: &JobMessage,
    delivered: u32,
    seq: u64,
) -> Result<(), ClusterError> {
    let cfg = ctx.client.config();
    if let Some(_existing) = record::read(&ctx.kv, &job.id).await? {
        let _ = ctx.client.store().delete(&job.input).await;
        return Ok(());
    }
    if delivered > cfg.max_attempts {
        warn!(id = %job.id, attempts = cfg.max_attempts, "giving the job up");
        return finish(
            ctx,
            record::given_up(job, seq, ctx.by.clone(), cfg.max_attempts),
            false,
        )
        .await;
    }
    let now = crate::now_ms();
    if now >= job.deadline_ms {
        return finish(
            ctx,
            record::timed_out(job, seq, ctx.by.clone(), delivered),
            false,
        )
        .await;
    }
    ctx.client
        .publish_event(&ClusterEvent::JobStarted {
            id: job.id.clone(),
            worker: ctx.name.clone(),
            attempt: delivered,
        })
        .await;
    let Some(input) = ctx.client.store().get(&job.input).await? else {
        let rec = record::failure(
            &job.id,
            job.key.clone(),
            seq,
            Error::new(
                ErrorKind::InvalidArgument,
                "the job's input is missing from the store",
            )
            .at(Stage::Validate),
            ctx.by.clone(),
            delivered,
            Some(job.submitted_ms),
        );
        return finish(ctx, rec, false).await;
    };
    #[cfg(feature = "fault-injection")]
    if input.starts_with(b"CONVEYOR-FAULT-ABORT") {
        warn!(id = %job.id, "fault injection: aborting the worker process");
        std::process::abort();
    }
    let mut pool_job = Job::new(input)
        .with_key(job.id.clone())
        .with_timeout(Duration::from_millis(job.deadline_ms - now));
    if let Some(r) = &job.recipe {
        pool_job = pool_job.with_recipe(r.clone());
    }
    let (tx, rx) = oneshot::channel();
    let pool_id = ctx
        .pool
        .submit_with(pool_job, move |o| {
            let _ = tx.send(o);
        })
        .map_err(|e| ClusterError::Invalid(format!("the local pool refused the job: {e}")))?;
    ctx.running
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(job.id.clone(), pool_id);
    let outcome = rx.await;
    ctx.running
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&job.id);
    let outcome =
        outcome.map_err(|_| ClusterError::Invalid("the local pool dropped a job".into()))?;
    let mut json = OutcomeJson::from(&outcome);
    json.job_id = JobId(seq);
    json.key = Some(job.key.clone().unwrap_or_else(|| job.id.clone()));
    let mut wrote = false;
    if let (Ok(report), Some(outputs)) = (&outcome.result, json.outputs.as_mut()) {
        for (info, made) in outputs.iter_mut().zip(&report.outputs) {
            let key = message::output_key(&job.id, &output_file_name(&made.name, made.format));
            let data = made.data.clone().unwrap_or_default();
            wrote = true;
            if let Err(e) = ctx.client.store().put(&key, data).await {
                let _ = ctx
                    .client
                    .store()
                    .delete_prefix(&format!("outputs/{}", job.id))
                    .await;
                return Err(e);
            }
            info.path = Some(key.into());
        }
    }
    let rec = OutcomeRecord {
        id: job.id.clone(),
        by: ctx.by.clone(),
        attempt: delivered,
        recorded_ms: crate::now_ms(),
        outcome: json,
    };
    finish(ctx, rec, wrote).await
}

/// Records `rec` once, cleans up, announces; `wrote` says whether outputs were written
/// for it (removed again if another outcome stands).
async fn finish(ctx: &Ctx, rec: OutcomeRecord, wrote: bool) -> Result<(), ClusterError> {
    let id = rec.id.clone();
    let fresh = rec.outcome.ok;
    match record::record_once(&ctx.kv, rec).await? {
        Recorded::Mine(rec) => {
            if !rec.outcome.ok {
                // A failure leaves nothing (outputs of crashed attempts included).
                let _ = ctx
                    .client
                    .store()
                    .delete_prefix(&format!("outputs/{id}"))
                    .await;
            }
            ctx.client
                .publish_event(&ClusterEvent::finished(&rec))
                .await;
        }
        Recorded::Theirs(standing) => {
            if wrote && !(standing.outcome.ok && fresh) {
                let _ = ctx
                    .client
                    .store()
                    .delete_prefix(&format!("outputs/{id}"))
                    .await;
            }
        }
    }
    let _ = ctx.client.store().delete(&message::input_key(&id)).await;
    Ok(())
}
