//! The cluster's names and knobs ([`ClusterConfig`]) and the JetStream objects made
//! from them ([`Topology`]): the job stream, the workers' durable consumer, the
//! outcome bucket and the config bucket. Servers, workers and clients all call [`Topology::open`]; the first
//! to run creates what is missing, later ones open what exists (an existing stream
//! keeps its limits; change them with `nats stream edit`).
//!
//! What does not live here: the message formats (`message.rs`) and the store.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, kv, stream};

use crate::error::ClusterError;

/// Names and limits shared by every process of one cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Prefix of every name (`conveyor`: stream `CONVEYOR_JOBS`, subject
    /// `conveyor.jobs`, consumer `conveyor-workers`, buckets `conveyor_outcomes` and
    /// `conveyor_config`, subjects `conveyor.events` and `conveyor.cancel`). ASCII
    /// letters, digits, `_`, `-`.
    pub prefix: String,
    /// Jobs the stream holds at most (queued plus running, since a work queue drops a
    /// message when it is acked). A publish over it fails: servers answer 503.
    pub max_queued: i64,
    /// Input bytes one job message may reference at most (checked on submit).
    pub max_input_bytes: u64,
    /// How long a delivered job may go without an ack or an in-progress ack before
    /// JetStream redelivers it (a worker that died is noticed after this long).
    pub ack_wait: Duration,
    /// Deliveries that run the job; the delivery after the last one only records a
    /// terminal failure (`max_deliver` is `max_attempts + 1`), so a job that keeps
    /// killing workers ends instead of looping.
    pub max_attempts: u32,
    /// Publishes with the same job id within this window are stored once.
    pub duplicate_window: Duration,
    /// How long outcome records are kept.
    pub outcome_ttl: Duration,
}

impl Default for ClusterConfig {
    fn default() -> ClusterConfig {
        ClusterConfig {
            prefix: "conveyor".into(),
            max_queued: 10_000,
            max_input_bytes: conveyor::Limits::default().max_input_bytes,
            ack_wait: Duration::from_secs(30),
            max_attempts: 3,
            duplicate_window: Duration::from_secs(120),
            outcome_ttl: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl ClusterConfig {
    /// Checks the prefix and the limits.
    pub fn validate(&self) -> Result<(), ClusterError> {
        let ok = !self.prefix.is_empty()
            && self.prefix.len() <= 32
            && self
                .prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(ClusterError::Invalid(
                "prefix: 1-32 of A-Z a-z 0-9 _ -".into(),
            ));
        }
        if self.max_queued < 1 || self.max_attempts < 1 || self.ack_wait.is_zero() {
            return Err(ClusterError::Invalid(
                "max_queued, max_attempts and ack_wait must be positive".into(),
            ));
        }
        Ok(())
    }

    /// The job stream's name.
    pub fn stream_name(&self) -> String {
        format!("{}_JOBS", self.prefix.to_ascii_uppercase())
    }

    /// The subject jobs are published on.
    pub fn jobs_subject(&self) -> String {
        format!("{}.jobs", self.prefix)
    }

    /// The workers' durable consumer.
    pub fn consumer_name(&self) -> String {
        format!("{}-workers", self.prefix)
    }

    /// The outcome bucket.
    pub fn outcome_bucket(&self) -> String {
        format!("{}_outcomes", self.prefix)
    }

    /// The config bucket: one record, the settings in force across the cluster
    /// (`live.rs`).
    pub fn config_bucket(&self) -> String {
        format!("{}_config", self.prefix)
    }

    /// The subject events are published on (plain NATS, no storage).
    pub fn events_subject(&self) -> String {
        format!("{}.events", self.prefix)
    }

    /// The subject cancel requests are broadcast on (plain NATS; the outcome record is
    /// what makes a cancel stick).
    pub fn cancel_subject(&self) -> String {
        format!("{}.cancel", self.prefix)
    }
}

/// The JetStream objects of one cluster, opened or created.
#[derive(Clone)]
pub struct Topology {
    /// The JetStream context.
    pub js: jetstream::Context,
    /// The job stream.
    pub stream: stream::Stream,
    /// The outcome bucket (one record per job id).
    pub outcomes: kv::Store,
    /// The config bucket (one record: the live settings, `live.rs`).
    pub config: kv::Store,
}

impl Topology {
    /// Opens the stream and the outcome bucket, creating them with `cfg`'s limits where
    /// they do not exist yet.
    pub async fn open(
        client: &async_nats::Client,
        cfg: &ClusterConfig,
    ) -> Result<Topology, ClusterError> {
        cfg.validate()?;
        let js = jetstream::new(client.clone());
        let stream = js
            .get_or_create_stream(stream::Config {
                name: cfg.stream_name(),
                subjects: vec![cfg.jobs_subject()],
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                discard: stream::DiscardPolicy::New,
                max_messages: cfg.max_queued,
                duplicate_window: cfg.duplicate_window,
                ..Default::default()
            })
            .await
            .map_err(ClusterError::nats)?;
        let outcomes = match js.get_key_value(cfg.outcome_bucket()).await {
            Ok(kv) => kv,
            Err(_) => js
                .create_key_value(kv::Config {
                    bucket: cfg.outcome_bucket(),
                    history: 1,
                    max_age: cfg.outcome_ttl,
                    storage: stream::StorageType::File,
                    ..Default::default()
                })
                .await
                .map_err(ClusterError::nats)?,
        };
        let config = match js.get_key_value(cfg.config_bucket()).await {
            Ok(kv) => kv,
            Err(_) => js
                .create_key_value(kv::Config {
                    bucket: cfg.config_bucket(),
                    // A little history, for `nats kv history` after a bad reload.
                    history: 8,
                    storage: stream::StorageType::File,
                    ..Default::default()
                })
                .await
                .map_err(ClusterError::nats)?,
        };
        Ok(Topology {
            js,
            stream,
            outcomes,
            config,
        })
    }

    /// The workers' durable pull consumer (created on first use).
    pub async fn consumer(
        &self,
        cfg: &ClusterConfig,
    ) -> Result<consumer::Consumer<consumer::pull::Config>, ClusterError> {
        self.stream
            .get_or_create_consumer(
                &cfg.consumer_name(),
                consumer::pull::Config {
                    durable_name: Some(cfg.consumer_name()),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: cfg.ack_wait,
                    max_deliver: i64::from(cfg.max_attempts) + 1,
                    ..Default::default()
                },
            )
            .await
            .map_err(ClusterError::nats)
    }
}
