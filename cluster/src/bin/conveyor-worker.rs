//! `conveyor-worker`: a cluster worker process. It runs a local conveyor pool and
//! feeds it jobs from the cluster's NATS JetStream queue; inputs and outputs live in
//! the object store (`--store`). See `cluster/DESIGN.md`.
//!
//! Prints `worker ready` on stdout once it is consuming. SIGTERM/SIGINT: stop taking
//! jobs, finish those held (up to `--drain-timeout-secs`), exit 0; jobs left
//! unfinished are redelivered to other workers after the ack wait.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use conveyor::{Pool, PoolConfig};
use conveyor_cluster::cli::ClusterArgs;
use conveyor_cluster::{ClusterClient, Store, Worker, WorkerOptions};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(
    name = "conveyor-worker",
    version,
    about = "Cluster worker: NATS JetStream jobs on a local conveyor pool"
)]
struct Args {
    /// NATS server URL.
    #[arg(long, env = "CONVEYOR_NATS")]
    nats: String,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Pool config JSON (workers, limits, formats, default_recipe, memory_budget...);
    /// an output_dir in it is refused (outputs go to the store).
    #[arg(long, env = "CONVEYOR_CONFIG")]
    config: Option<PathBuf>,
    /// Worker threads (default: the config's, else the available parallelism).
    #[arg(long, env = "CONVEYOR_WORKERS")]
    workers: Option<usize>,
    /// The worker's name in records and events (default: `worker-<pid>`).
    #[arg(long, env = "CONVEYOR_WORKER_NAME")]
    name: Option<String>,
    /// On SIGTERM/SIGINT, wait this long for the jobs held.
    #[arg(long, env = "CONVEYOR_DRAIN_TIMEOUT_SECS", default_value_t = 30)]
    drain_timeout_secs: u64,
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("conveyor-worker: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("conveyor-worker: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = match &args.config {
        Some(p) => PoolConfig::from_json(&std::fs::read_to_string(p)?)?,
        None => PoolConfig::default(),
    };
    if config.output_dir.is_some() {
        return Err("--config: output_dir is not used by a cluster worker (outputs go to --store); remove it".into());
    }
    if let Some(w) = args.workers {
        config.workers = Some(w);
    }
    let store_url = args
        .cluster
        .store
        .as_deref()
        .ok_or("--store is required (file:///abs/dir, s3://bucket or jetstream://bucket)")?;
    let store = Store::from_url(store_url)?;
    let pool = Arc::new(Pool::from_config(config)?);
    let name = args
        .name
        .unwrap_or_else(|| format!("worker-{}", std::process::id()));
    let nats = async_nats::ConnectOptions::new()
        .name(format!("conveyor-worker {name}"))
        .retry_on_initial_connect()
        .connect(&args.nats)
        .await?;
    let client = ClusterClient::with_nats(nats, store, args.cluster.config(), &name).await?;
    let worker = Worker::new(
        client,
        pool.clone(),
        WorkerOptions {
            name: name.clone(),
            concurrency: None,
        },
    )
    .await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("stopping: no new jobs; finishing those held");
        let _ = stop_tx.send(true);
    });
    // Tests and scripts read this line.
    println!("worker ready: {name}");
    worker
        .run(stop_rx, Duration::from_secs(args.drain_timeout_secs))
        .await?;
    pool.shutdown_now();
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
