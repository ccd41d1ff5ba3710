//! `upload-server`: an HTTP server that hands uploaded images to a conveyor pool and
//! answers each upload with its outcome.
//!
//! This file holds the command line and the start/stop sequence; the routes live in
//! `app.rs` (router and state), `uploads.rs` (POST and GET of uploads), `sse.rs`
//! (`/events`) and `metrics.rs` (`/metrics`). It uses only conveyor's public Rust API.
//!
//! Shutdown on SIGINT/SIGTERM: stop accepting connections, end event streams, let the
//! requests in flight finish (their jobs complete and are saved), drain the pool, exit 0.

mod app;
mod metrics;
mod sse;
mod uploads;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use conveyor::{Limits, Pool, PoolConfig, Recipe};
use tracing::info;

/// Command-line options; each also reads an environment variable.
#[derive(Debug, Parser)]
#[command(
    name = "upload-server",
    version,
    about = "Image upload server on the conveyor pool"
)]
struct Args {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, env = "CONVEYOR_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Folder where outputs are saved, one sub-folder per upload.
    #[arg(long, env = "CONVEYOR_OUTPUT_DIR", default_value = "./uploads")]
    output_dir: PathBuf,
    /// Worker threads (default: the available parallelism).
    #[arg(long, env = "CONVEYOR_WORKERS")]
    workers: Option<usize>,
    /// Job queue capacity (default: 4 × workers). When full, uploads get 503.
    #[arg(long, env = "CONVEYOR_QUEUE_CAPACITY")]
    queue_capacity: Option<usize>,
    /// Recipe JSON file (the shared schema). Default: 1600 px JPEG + 320 px WebP.
    #[arg(long, env = "CONVEYOR_RECIPE")]
    recipe: Option<PathBuf>,
    /// Largest accepted image, in bytes.
    #[arg(long, env = "CONVEYOR_MAX_INPUT_BYTES", default_value_t = Limits::default().max_input_bytes)]
    max_input_bytes: u64,
    /// Largest accepted width.
    #[arg(long, env = "CONVEYOR_MAX_WIDTH", default_value_t = Limits::default().max_width)]
    max_width: u32,
    /// Largest accepted height.
    #[arg(long, env = "CONVEYOR_MAX_HEIGHT", default_value_t = Limits::default().max_height)]
    max_height: u32,
    /// Largest accepted width × height.
    #[arg(long, env = "CONVEYOR_MAX_PIXELS", default_value_t = Limits::default().max_pixels)]
    max_pixels: u64,
    /// Largest request body (default: max-input-bytes plus 1 MiB for multipart framing).
    #[arg(long, env = "CONVEYOR_MAX_BODY_BYTES")]
    max_body_bytes: Option<u64>,
    /// Give up on a job this many seconds after it was accepted (queue time counts).
    #[arg(long, env = "CONVEYOR_JOB_TIMEOUT_SECS", default_value_t = 60)]
    job_timeout_secs: u64,
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    match run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("upload-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let recipe = match &args.recipe {
        Some(path) => Recipe::from_json(
            &std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?,
        )?,
        None => Recipe::default(),
    };
    let limits = Limits::default()
        .with_max_input_bytes(args.max_input_bytes)
        .with_max_width(args.max_width)
        .with_max_height(args.max_height)
        .with_max_pixels(args.max_pixels);
    let config = PoolConfig {
        workers: args.workers,
        queue_capacity: args.queue_capacity,
        output_dir: Some(args.output_dir.clone()),
        stats_interval_ms: Some(1000),
        default_recipe: Some(recipe),
        limits: Some(limits),
        ..PoolConfig::default()
    };
    let pool = Arc::new(Pool::from_config(config)?);
    let max_body = args
        .max_body_bytes
        .unwrap_or(args.max_input_bytes.saturating_add(1 << 20));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.bind).await?;
        let addr = listener.local_addr()?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let state = app::AppState::new(
            pool.clone(),
            args.output_dir.clone(),
            std::time::Duration::from_secs(args.job_timeout_secs),
            stop_rx,
        );
        let router = app::router(state, max_body as usize);
        info!(
            %addr,
            workers = pool.workers(),
            queue_capacity = pool.queue_capacity(),
            output_dir = %args.output_dir.display(),
            "conveyor upload server ready"
        );
        // Tests and scripts read this line to find the port.
        println!("listening on http://{addr}");
        axum::serve(listener, router.into_make_service())
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                info!("shutting down: no new connections; finishing uploads in flight");
                let _ = stop_tx.send(true);
            })
            .await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    // Every request has been answered; drain whatever is still queued.
    let stats = pool.stats();
    pool.shutdown();
    info!(
        completed = stats.completed,
        failed = stats.failed_total(),
        "pool drained; bye"
    );
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
