//! `upload-server`: an HTTP server that hands uploaded images to a conveyor pool and
//! answers each upload with its outcome.
//!
//! This file holds the command line and the start/stop sequence. The rest is a file
//! per concept: `state.rs` (what handlers share), `app.rs` (router, error shape),
//! `serve.rs` (accept loop, connection caps and timeouts), `admission.rs` (queue room
//! and body budget, before the body), `body.rs` (size cap and minimum rate), `ids.rs`
//! (upload ids), `uploads.rs` (POST and GET of uploads), `sse.rs` (`/events`),
//! `metrics.rs` (`/metrics`), `reload.rs` (config files and flags, loaded at start and
//! on reload) and `admin.rs` (`POST /admin/reload`, off by default). It uses only
//! conveyor's public Rust API.
//!
//! Start: leftovers of a crash (staging folders) are swept from the output folder.
//! Shutdown on SIGINT/SIGTERM, within `--drain-timeout-secs`: stop accepting, end
//! event streams, let requests in flight finish (their jobs complete and are saved);
//! at 80% of the deadline drop the connections still open (stalled bodies, readers
//! that stopped reading) and cancel their jobs (a cancelled job leaves no files); the
//! pool gets the rest of the time; then exit 0, whatever is left.
//!
//! SIGHUP re-reads `--config` and `--recipe` and applies what can change live (see
//! `reload.rs`); a bad file is refused with one log line and the config in force stays.
//!
//! With `--nats URL --store URL` the server runs in cluster mode instead (`cluster.rs`):
//! no pool and no folder of its own; jobs go to the cluster's queue, outputs to the
//! shared store, and `conveyor-worker` processes do the work. There SIGHUP (and the
//! admin route) publishes the re-read config to every worker and server
//! (`cluster_live.rs`).

mod admin;
mod admission;
mod app;
mod body;
mod cluster;
mod cluster_live;
mod ids;
mod metrics;
mod reload;
mod serve;
mod sse;
mod state;
mod uploads;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};
use conveyor::{Limits, Pool};
use tracing::{info, warn};

/// Command-line options; each also reads an environment variable. A flag given on the
/// command line or in the environment wins over `--config`'s file, at start and at
/// every reload.
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
    /// Pool config JSON file (the pool's shared schema: workers, queue_capacity,
    /// default_recipe, limits, formats, memory_budget, ...; plus "server":
    /// {"job_timeout_secs": n}). SIGHUP re-reads it.
    #[arg(long, env = "CONVEYOR_CONFIG")]
    config: Option<PathBuf>,
    /// Folder where outputs are saved, one sub-folder per upload.
    #[arg(long, env = "CONVEYOR_OUTPUT_DIR", default_value = "./uploads")]
    output_dir: PathBuf,
    /// Worker threads (default: the available parallelism).
    #[arg(long, env = "CONVEYOR_WORKERS")]
    workers: Option<usize>,
    /// Job queue capacity (default: 4 × workers). When full, uploads get 503.
    #[arg(long, env = "CONVEYOR_QUEUE_CAPACITY")]
    queue_capacity: Option<usize>,
    /// Job memory budget in bytes: a job runs only when its estimated peak memory fits
    /// in what running jobs leave (default: half the machine's or cgroup's memory).
    #[arg(long, env = "CONVEYOR_MEMORY_BUDGET")]
    memory_budget: Option<u64>,
    /// Recipe JSON file (the shared schema); SIGHUP re-reads it. Default: the config
    /// file's default_recipe, else 1600 px JPEG + 320 px WebP.
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
    #[arg(long, env = "CONVEYOR_JOB_TIMEOUT_SECS", default_value_t = reload::DEFAULT_JOB_TIMEOUT_SECS)]
    job_timeout_secs: u64,
    /// Request bodies in flight at most, in bytes (a body holds its declared length,
    /// or the body cap when undeclared, from admission until its jobs are done).
    /// Over it, uploads get 503 before their body is read.
    #[arg(long, env = "CONVEYOR_MAX_BODY_BYTES_IN_FLIGHT", default_value_t = 256 << 20)]
    max_body_bytes_in_flight: u64,
    /// Slowest accepted request body, in bytes per second on average after
    /// `--body-grace-secs`; slower bodies get 408 and their connection is closed.
    #[arg(long, env = "CONVEYOR_MIN_BODY_RATE", default_value_t = 16 * 1024)]
    min_body_rate: u64,
    /// Time a request body may take before the minimum rate applies.
    #[arg(long, env = "CONVEYOR_BODY_GRACE_SECS", default_value_t = 10)]
    body_grace_secs: u64,
    /// Time to receive a whole request head, from the connection's opening or its
    /// previous response; so also how long an idle keep-alive connection stays open.
    #[arg(long, env = "CONVEYOR_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    header_timeout_secs: u64,
    /// Open connections at most (lowered to fit the open-files limit, keeping 64
    /// handles for files and the pool). Connections over it get 503 and are closed.
    #[arg(long, env = "CONVEYOR_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// Open connections from one client address at most.
    #[arg(long, env = "CONVEYOR_MAX_CONNECTIONS_PER_IP", default_value_t = 64)]
    max_connections_per_ip: usize,
    /// On SIGTERM/SIGINT, exit (status 0) within this many seconds.
    #[arg(long, env = "CONVEYOR_DRAIN_TIMEOUT_SECS", default_value_t = 30)]
    drain_timeout_secs: u64,
    /// Turns on `POST /admin/reload`, which then needs `Authorization: Bearer
    /// <token>` (at least 16 characters; prefer the environment variable, which the
    /// process list does not show). Off without it.
    #[arg(long, env = "CONVEYOR_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Cluster mode: the NATS server URL. Jobs go to the cluster's JetStream queue and
    /// outputs to `--store`; `conveyor-worker` processes run them. Off by default.
    #[arg(long, env = "CONVEYOR_NATS")]
    nats: Option<String>,
    /// Cluster-mode settings (used only with `--nats`).
    #[command(flatten)]
    cluster: conveyor_cluster::cli::ClusterArgs,
}

impl Args {
    /// The values given as flags (command line or environment), which win over the
    /// config file; defaults do not count.
    fn explicit(&self, m: &ArgMatches) -> reload::Flags {
        let given = |id: &str| {
            m.value_source(id)
                .is_some_and(|s| s != ValueSource::DefaultValue)
        };
        reload::Flags {
            workers: self.workers,
            queue_capacity: self.queue_capacity,
            memory_budget: self.memory_budget,
            output_dir: given("output_dir").then(|| self.output_dir.clone()),
            max_input_bytes: given("max_input_bytes").then_some(self.max_input_bytes),
            max_width: given("max_width").then_some(self.max_width),
            max_height: given("max_height").then_some(self.max_height),
            max_pixels: given("max_pixels").then_some(self.max_pixels),
            max_body_bytes: self.max_body_bytes,
            job_timeout_secs: given("job_timeout_secs").then_some(self.job_timeout_secs),
        }
    }
}

/// The open-files limit of this process, where known.
fn open_files_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
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
    let matches = Args::command().get_matches();
    let args = match Args::from_arg_matches(&matches) {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    let flags = args.explicit(&matches);
    match run(args, flags) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("upload-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: Args, flags: reload::Flags) -> Result<(), Box<dyn std::error::Error>> {
    let admin_token: Option<Arc<str>> = match args.admin_token.as_deref() {
        Some(t) if t.len() < admin::MIN_TOKEN_LEN => {
            return Err(format!(
                "--admin-token: must be at least {} characters",
                admin::MIN_TOKEN_LEN
            )
            .into())
        }
        t => t.map(Arc::from),
    };
    let sources = reload::Sources {
        config: args.config.clone(),
        recipe: args.recipe.clone(),
    };
    let loaded = reload::load(&sources, &flags).map_err(|r| r.to_string())?;
    if let Some(url) = args.nats.clone() {
        return run_cluster(args, loaded, url, sources, flags, admin_token);
    }
    let output_dir = loaded
        .pool
        .output_dir
        .clone()
        .unwrap_or_else(|| args.output_dir.clone());
    match conveyor::pipeline::sweep(&output_dir) {
        Ok(0) => {}
        Ok(n) => info!(removed = n, "swept what an earlier run left unfinished"),
        Err(e) => warn!(error = %e, "could not sweep the output folder"),
    }
    let pool = Arc::new(Pool::from_config(loaded.pool.clone())?);
    let max_body = loaded.max_body_bytes;
    let job_timeout = Arc::new(reload::JobTimeout::new(loaded.job_timeout));
    let reloader = Arc::new(reload::Reloader::new(
        pool.clone(),
        sources,
        flags,
        loaded,
        job_timeout.clone(),
    ));
    let max_connections = match open_files_limit() {
        Some(n) => args
            .max_connections
            .min(n.saturating_sub(64).max(1) as usize),
        None => args.max_connections,
    };
    let limits = serve::ConnLimits {
        max_connections,
        max_per_ip: args.max_connections_per_ip.max(1),
        header_timeout: Duration::from_secs(args.header_timeout_secs.max(1)),
    };
    let drain = Duration::from_secs(args.drain_timeout_secs);
    let in_flight = Arc::new(state::InFlight::default());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let signalled = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.bind).await?;
        // Before the "listening" line: from then on SIGHUP reloads, never kills.
        reload_on_sighup(reloader.clone())?;
        let addr = listener.local_addr()?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let state = state::AppState {
            pool: pool.clone(),
            output_dir: output_dir.clone(),
            job_timeout,
            admission: Arc::new(admission::Admission::new(
                pool.clone(),
                args.max_body_bytes_in_flight,
            )),
            body: body::BodyPolicy {
                max_bytes: max_body,
                min_rate: args.min_body_rate,
                grace: Duration::from_secs(args.body_grace_secs),
            },
            in_flight: in_flight.clone(),
            reloader,
            admin_token: admin_token.clone(),
            stopping: stop_rx.clone(),
        };
        let router = app::router(state);
        info!(
            %addr,
            workers = pool.workers(),
            queue_capacity = pool.queue_capacity(),
            max_connections,
            output_dir = %output_dir.display(),
            admin_route = admin_token.is_some(),
            "conveyor upload server ready"
        );
        // Tests and scripts read this line to find the port.
        println!("listening on http://{addr}");
        // Connections get 80% of the drain time; the pool gets the rest.
        let server = tokio::spawn(serve::serve(
            listener,
            router,
            limits,
            stop_rx,
            drain.mul_f64(0.8),
        ));
        shutdown_signal().await;
        let signalled = Instant::now();
        info!("shutting down: no new connections; finishing uploads in flight");
        let _ = stop_tx.send(true);
        let dropped = server.await.unwrap_or(0);
        let cancelled = in_flight.cancel_all(&pool);
        if dropped + cancelled > 0 {
            warn!(
                connections = dropped,
                jobs = cancelled,
                "drain deadline: stalled connections closed, their jobs cancelled"
            );
        }
        Ok::<_, Box<dyn std::error::Error>>(signalled)
    })?;
    runtime.shutdown_timeout(Duration::from_millis(100));
    // Every request has been answered or dropped; finish the pool in what time is left.
    let left = drain.saturating_sub(signalled.elapsed());
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let p = pool.clone();
    std::thread::spawn(move || {
        p.shutdown_now();
        let _ = done_tx.send(());
    });
    if done_rx.recv_timeout(left).is_err() {
        warn!("drain deadline: jobs still running are abandoned (their staging folders are swept at the next start)");
        return Ok(());
    }
    let stats = pool.stats();
    info!(
        completed = stats.completed,
        failed = stats.failed_total(),
        "pool drained; bye"
    );
    Ok(())
}

/// Cluster mode: serves the same routes over the cluster's queue and store.
fn run_cluster(
    args: Args,
    loaded: reload::Loaded,
    nats_url: String,
    sources: reload::Sources,
    flags: reload::Flags,
    admin_token: Option<Arc<str>>,
) -> Result<(), Box<dyn std::error::Error>> {
    let store_url = args
        .cluster
        .store
        .clone()
        .ok_or("--nats needs --store (file:///abs/dir, s3://bucket or jetstream://bucket)")?;
    let store = conveyor_cluster::Store::from_url(&store_url)?;
    let mut cfg = args.cluster.config();
    if let Some(l) = loaded.pool.limits {
        cfg.max_input_bytes = l.max_input_bytes;
    }
    let live = Arc::new(cluster_live::Live::new(&loaded));
    let drain = Duration::from_secs(args.drain_timeout_secs);
    let limits = serve::ConnLimits {
        max_connections: args.max_connections,
        max_per_ip: args.max_connections_per_ip.max(1),
        header_timeout: Duration::from_secs(args.header_timeout_secs.max(1)),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let name = format!("server-{}", std::process::id());
        let nats = async_nats_connect(&nats_url, &name).await?;
        let client = conveyor_cluster::ClusterClient::with_nats(nats, store, cfg, &name).await?;
        // The cluster's config record, if one exists, is in force before the first upload.
        cluster_live::follow(client.clone(), live.clone()).await;
        let reloader = Arc::new(cluster_live::ClusterReloader::new(
            client.clone(),
            sources,
            flags,
            loaded.clone(),
            live.clone(),
        ));
        let listener = tokio::net::TcpListener::bind(args.bind).await?;
        // Before the "listening" line: from then on SIGHUP reloads, never kills.
        cluster_live::reload_on_sighup(reloader.clone())?;
        let addr = listener.local_addr()?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let budget_kib = args.max_body_bytes_in_flight.div_ceil(1024).clamp(1, u32::MAX as u64) as usize;
        let state = cluster::ClusterState {
            client,
            live,
            reloader,
            admin_token: admin_token.clone(),
            body: body::BodyPolicy {
                max_bytes: loaded.max_body_bytes,
                min_rate: args.min_body_rate,
                grace: Duration::from_secs(args.body_grace_secs),
            },
            bytes: Arc::new(tokio::sync::Semaphore::new(budget_kib)),
            stopping: stop_rx.clone(),
        };
        info!(%addr, nats = %nats_url, store = %store_url, admin_route = admin_token.is_some(), "conveyor upload server ready (cluster mode)");
        // Tests and scripts read this line to find the port.
        println!("listening on http://{addr}");
        let server = tokio::spawn(serve::serve(
            listener,
            cluster::router(state),
            limits,
            stop_rx,
            drain,
        ));
        shutdown_signal().await;
        info!("shutting down: no new connections; answering requests in flight");
        let _ = stop_tx.send(true);
        let _ = server.await;
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    runtime.shutdown_timeout(Duration::from_millis(100));
    Ok(())
}

async fn async_nats_connect(
    url: &str,
    name: &str,
) -> Result<conveyor_cluster::NatsClient, Box<dyn std::error::Error>> {
    Ok(conveyor_cluster::connect_nats(url, &format!("upload-server {name}")).await?)
}

/// Reloads the config on every SIGHUP, one at a time, off the async threads.
fn reload_on_sighup(reloader: Arc<reload::Reloader>) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = signal(SignalKind::hangup())?;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                info!("SIGHUP: reloading the config");
                let r = reloader.clone();
                let _ = tokio::task::spawn_blocking(move || r.reload("SIGHUP")).await;
            }
        });
    }
    #[cfg(not(unix))]
    let _ = reloader;
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
