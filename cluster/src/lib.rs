//! # conveyor-cluster
//!
//! Cluster mode for conveyor: many upload servers and many worker processes share one
//! queue of jobs on NATS JetStream and one object store for the images. The embedded
//! mode (one process, its own [`conveyor::Pool`], a local folder) stays the default;
//! this crate is what `upload-server --nats URL` and the `conveyor-worker` binary use.
//! The design, with its failure cases, is written down in `cluster/DESIGN.md`.
//!
//! The parts, a file each:
//! - [`cli`]: the flags every cluster process shares;
//! - [`config`]: the names (stream, consumer, buckets, subjects) and the knobs
//!   (queue limit, ack wait, attempts), and [`config::Topology`], which creates or opens them;
//! - [`message`]: the job message on the queue ([`JobMessage`], a claim check: never the
//!   image bytes) and the outcome record ([`OutcomeRecord`], the core's wire outcome);
//! - [`store`]: inputs and outputs in an `object_store` (`file://` or `s3://` URLs);
//! - [`client`]: [`ClusterClient`], the Rust API: submit, outcome, wait, cancel, events;
//! - [`record`]: the exactly-once rule (create-if-absent in the outcome bucket);
//! - [`events`]: [`ClusterEvent`], what every server's `/events` shows;
//! - [`live`]: the cluster's live config record (settings, job timeout, generation),
//!   which a server's reload publishes and every worker and server follows;
//! - [`worker`]: the loop that feeds a local pool from the durable consumer.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use conveyor_cluster::{ClusterClient, ClusterConfig, Store, Submission};
//! let store = Store::from_url("file:///var/lib/conveyor")?;
//! let client = ClusterClient::connect("nats://127.0.0.1:4222", store, ClusterConfig::default()).await?;
//! let accepted = client.submit(Submission::new(std::fs::read("photo.jpg")?)).await?;
//! let record = client.wait(&accepted).await?;
//! println!("{}", serde_json::to_string(&record.outcome)?);
//! # Ok(()) }
//! ```

pub mod cli;
pub mod client;
pub mod config;
pub mod error;
pub mod events;
pub mod live;
pub mod message;
pub mod record;
pub mod store;
pub mod worker;

pub use crate::client::{Accepted, ClusterClient, Submission};
pub use crate::config::{ClusterConfig, Topology};
pub use crate::error::{ClusterError, SubmitError};
pub use crate::events::ClusterEvent;
pub use crate::live::{ConfigRecord, ConfigUpdate};
pub use crate::message::{JobMessage, OutcomeRecord};
pub use crate::store::Store;
pub use crate::worker::{Worker, WorkerOptions};

/// Milliseconds since the Unix epoch, the clock every deadline in a message uses.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The NATS client type (re-exported so programs need not depend on `async-nats`).
pub use async_nats::Client as NatsClient;

/// Connects to NATS at `url`, naming the connection `name` (shown by the server's
/// monitoring). The client reconnects by itself after a drop; requests made while it
/// is away fail and are retried by their callers.
pub async fn connect_nats(url: &str, name: &str) -> Result<NatsClient, ClusterError> {
    async_nats::ConnectOptions::new()
        .name(name)
        .connect(url)
        .await
        .map_err(ClusterError::nats)
}
