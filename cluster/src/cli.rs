//! The command-line flags every cluster process shares (`conveyor-worker` and
//! `upload-server --nats`), so both sides of one cluster name the same stream,
//! consumer and bucket with the same limits. Each flag also reads an environment
//! variable.

use std::time::Duration;

use crate::config::ClusterConfig;

/// Cluster flags, for `#[command(flatten)]`.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterArgs {
    /// Object store for inputs and outputs: `file:///abs/dir`, `s3://bucket[/prefix]`
    /// (S3 settings from AWS_* variables or `?endpoint=..&region=..`) or
    /// `jetstream://bucket` (the NATS server's own object store).
    #[arg(long = "store", env = "CONVEYOR_STORE")]
    pub store: Option<String>,
    /// Prefix of the cluster's stream, consumer, bucket and subjects.
    #[arg(long, env = "CONVEYOR_CLUSTER_PREFIX", default_value = "conveyor")]
    pub cluster_prefix: String,
    /// Jobs the stream holds at most (queued plus running); over it, submits get 503.
    /// Applies when this process creates the stream.
    #[arg(long, env = "CONVEYOR_CLUSTER_MAX_QUEUED", default_value_t = 10_000)]
    pub cluster_max_queued: i64,
    /// Milliseconds a delivered job may go without an (in-progress) ack before it is
    /// redelivered. Applies when this process creates the consumer.
    #[arg(long, env = "CONVEYOR_CLUSTER_ACK_WAIT_MS", default_value_t = 30_000)]
    pub cluster_ack_wait_ms: u64,
    /// Deliveries that run a job; the next one records a terminal failure.
    #[arg(long, env = "CONVEYOR_CLUSTER_MAX_ATTEMPTS", default_value_t = 3)]
    pub cluster_max_attempts: u32,
}

impl ClusterArgs {
    /// The config these flags describe (other fields at their defaults).
    pub fn config(&self) -> ClusterConfig {
        ClusterConfig {
            prefix: self.cluster_prefix.clone(),
            max_queued: self.cluster_max_queued,
            ack_wait: Duration::from_millis(self.cluster_ack_wait_ms.max(100)),
            max_attempts: self.cluster_max_attempts,
            ..ClusterConfig::default()
        }
    }
}
