//! Live configuration in cluster mode: the server's reload (`SIGHUP`, and `POST
//! /admin/reload` when an admin token is set) publishes the cluster's config record,
//! and every server and worker follows that record (`conveyor_cluster::live`).
//!
//! A reload re-reads `--config` and `--recipe` through the embedded mode's
//! [`reload::load`], so a file that would not start the server is refused with the
//! same log line, nothing is published and the config in force stays. A good one is
//! published as the next generation (default recipe, limits, formats, job timeout);
//! this server applies it at once (the recipe that travels in each job message, the job
//! timeout) and so does every other process following the record. Settings that need
//! a restart are named in the log as in embedded mode. A record published by another
//! server reaches this one through the same watch. At start, a record that already
//! exists wins over this server's files for the live values (logged).
//!
//! Also here: `GET /metrics` in cluster mode (reloads, the generation in force, this
//! server's uploads accepted and refused, the jobs in the stream).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use conveyor::Recipe;
use conveyor_cluster::{ClusterClient, ClusterEvent, ConfigRecord, ConfigUpdate};
use tracing::{info, warn};

use crate::app::error_response;
use crate::cluster::ClusterState;
use crate::metrics::{one, Page};
use crate::reload::{self, Applied, Counters, Flags, JobTimeout, Loaded, Refusal, Sources};

/// Why an upload was refused at submission, for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub enum Rejected {
    /// The stream is at its limit (503).
    QueueFull = 0,
    /// The input is over the server's size limit (413).
    LimitExceeded = 1,
    /// NATS or the store could not be reached (503).
    Unavailable = 2,
}

impl Rejected {
    const NAMES: [&'static str; 3] = ["queue_full", "limit_exceeded", "unavailable"];
}

/// The values a reload changes, and this server's counters.
pub struct Live {
    recipe: RwLock<Recipe>,
    /// Each job's deadline from its acceptance.
    pub job_timeout: JobTimeout,
    /// Reloads applied and refused, and the generation in force.
    pub counters: Counters,
    accepted: AtomicU64,
    rejected: [AtomicU64; 3],
    /// Held while a record is compared and applied.
    applying: Mutex<()>,
}

impl Live {
    /// The values this server started with (generation 1).
    pub fn new(loaded: &Loaded) -> Live {
        let counters = Counters::default();
        counters.generation.store(1, Ordering::Relaxed);
        counters
            .loaded_at_unix
            .store(reload::now_unix(), Ordering::Relaxed);
        Live {
            recipe: RwLock::new(loaded.pool.default_recipe.clone().unwrap_or_default()),
            job_timeout: JobTimeout::new(loaded.job_timeout),
            counters,
            accepted: AtomicU64::new(0),
            rejected: Default::default(),
            applying: Mutex::new(()),
        }
    }

    /// The recipe every job carries now.
    pub fn recipe(&self) -> Recipe {
        self.recipe
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Counts an upload queued.
    pub fn count_accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an upload refused at submission.
    pub fn count_rejected(&self, why: Rejected) {
        self.rejected[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Applies `rec` unless its generation is already in force; returns whether it
    /// did.
    fn apply(&self, rec: &ConfigRecord) -> bool {
        let _one = self.applying.lock().unwrap_or_else(|e| e.into_inner());
        if rec.generation <= self.counters.generation.load(Ordering::Relaxed) {
            return false;
        }
        *self.recipe.write().unwrap_or_else(|e| e.into_inner()) =
            rec.settings.default_recipe.clone();
        self.job_timeout.set(rec.job_timeout());
        self.counters
            .generation
            .store(rec.generation, Ordering::Relaxed);
        self.counters
            .loaded_at_unix
            .store(reload::now_unix(), Ordering::Relaxed);
        self.counters.ok.fetch_add(1, Ordering::Relaxed);
        true
    }
}

/// Why a cluster-mode reload did not apply.
pub enum ReloadError {
    /// The files were refused (as in embedded mode).
    Refused(Refusal),
    /// The files were good but the record could not be written (NATS down); the
    /// log line says why.
    Unpublished,
}

/// Re-reads the files and publishes them to the cluster; one reload at a time.
pub struct ClusterReloader {
    client: ClusterClient,
    sources: Sources,
    flags: Flags,
    /// The configuration this server runs with (its fixed part as started).
    running: tokio::sync::Mutex<Loaded>,
    /// The live values.
    pub live: Arc<Live>,
}

impl ClusterReloader {
    /// A reloader for the server started with `started`.
    pub fn new(
        client: ClusterClient,
        sources: Sources,
        flags: Flags,
        started: Loaded,
        live: Arc<Live>,
    ) -> ClusterReloader {
        ClusterReloader {
            client,
            sources,
            flags,
            running: tokio::sync::Mutex::new(started),
            live,
        }
    }

    /// Re-reads the files; publishes and applies them, or refuses them and keeps the
    /// config in force. `trigger` (`"SIGHUP"`, `"admin"`) goes into the log line.
    pub async fn reload(&self, trigger: &str) -> Result<Applied, ReloadError> {
        let mut running = self.running.lock().await;
        let (sources, flags) = (self.sources.clone(), self.flags.clone());
        let loaded = tokio::task::spawn_blocking(move || reload::load(&sources, &flags))
            .await
            .unwrap_or_else(|_| {
                Err(Refusal {
                    source: "config",
                    flag: "",
                    path: None,
                    kind: conveyor::ErrorKind::InvalidArgument,
                    message: "the config could not be read".into(),
                })
            });
        let new = match loaded {
            Ok(new) => new,
            Err(refusal) => {
                self.live.counters.refused.fetch_add(1, Ordering::Relaxed);
                warn!(
                    trigger,
                    "config reload refused: {refusal}; the config in force stays"
                );
                return Err(ReloadError::Refused(refusal));
            }
        };
        let rec = match self
            .client
            .publish_config(new.pool.settings(), new.job_timeout)
            .await
        {
            Ok(rec) => rec,
            Err(e) => {
                self.live.counters.refused.fetch_add(1, Ordering::Relaxed);
                let m = reload::one_line(&e.to_string());
                warn!(
                    trigger,
                    "config reload not published to the cluster: {m}; the config in force stays"
                );
                return Err(ReloadError::Unpublished);
            }
        };
        let needs_restart = reload::fixed_changes(&running, &new);
        running.pool.default_recipe = new.pool.default_recipe;
        running.pool.limits = new.pool.limits;
        running.pool.formats = new.pool.formats;
        running.job_timeout = new.job_timeout;
        // The watch may have applied it already; it is counted and announced once.
        if self.live.apply(&rec) {
            announce(&self.client, rec.generation);
        }
        info!(
            trigger,
            generation = rec.generation,
            job_timeout_secs = rec.job_timeout().as_secs(),
            "config reloaded and published to the cluster: default recipe, limits, formats and job timeout in force"
        );
        if !needs_restart.is_empty() {
            warn!(
                trigger,
                "config reload: {} changed but needs a restart; the running value stays",
                needs_restart.join(", ")
            );
        }
        Ok(Applied {
            generation: rec.generation,
            needs_restart,
        })
    }
}

/// Announces on the cluster's events subject that this server applied `generation`.
fn announce(client: &ClusterClient, generation: u64) {
    let c = client.clone();
    tokio::spawn(async move {
        let by = format!("server:{}", c.name());
        c.publish_event(&ClusterEvent::ConfigReloaded { by, generation })
            .await;
    });
}

/// Applies or refuses one record seen by the watch.
fn on_update(client: &ClusterClient, live: &Live, update: ConfigUpdate) {
    match update {
        ConfigUpdate::Record(rec) => {
            if live.apply(&rec) {
                info!(
                    generation = rec.generation,
                    loaded_by = %rec.loaded_by,
                    job_timeout_secs = rec.job_timeout().as_secs(),
                    "cluster config applied: its default recipe and job timeout are in force here"
                );
                announce(client, rec.generation);
            }
        }
        ConfigUpdate::Unreadable { revision, error } => {
            live.counters.refused.fetch_add(1, Ordering::Relaxed);
            warn!(
                revision,
                "cluster config refused: {error}; generation {} stays in force",
                live.counters.generation.load(Ordering::Relaxed)
            );
        }
    }
}

/// Applies the record in force, if any (it wins over this server's files), then
/// follows it in a task.
pub async fn follow(client: ClusterClient, live: Arc<Live>) {
    let after = match client.live_config().await {
        Ok(Some((revision, rec))) => {
            if let Ok(r) = &rec {
                info!(
                    generation = r.generation,
                    "a cluster config record exists: it overrides this server's --config and --recipe for the default recipe and job timeout"
                );
            }
            let update = match rec {
                Ok(r) => ConfigUpdate::Record(r),
                Err(error) => ConfigUpdate::Unreadable { revision, error },
            };
            on_update(&client, &live, update);
            revision
        }
        Ok(None) => 0,
        Err(e) => {
            warn!(error = %e, "cannot read the cluster config record; following it from now");
            0
        }
    };
    let kv = client.config_bucket().clone();
    tokio::spawn(conveyor_cluster::live::follow(kv, after, move |u| {
        on_update(&client, &live, u)
    }));
}

/// Reloads on every SIGHUP, one at a time.
pub fn reload_on_sighup(reloader: Arc<ClusterReloader>) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = signal(SignalKind::hangup())?;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                info!("SIGHUP: reloading the config and publishing it to the cluster");
                let _ = reloader.reload("SIGHUP").await;
            }
        });
    }
    #[cfg(not(unix))]
    let _ = reloader;
    Ok(())
}

/// `POST /admin/reload` in cluster mode: as in embedded mode, plus `503` when the
/// record cannot be published.
pub async fn admin_reload(State(app): State<ClusterState>, headers: HeaderMap) -> Response {
    if let Some(res) = crate::admin::gate(app.admin_token.as_deref(), &headers) {
        return res;
    }
    match app.reloader.reload("admin").await {
        Ok(a) => crate::admin::applied(&a),
        Err(ReloadError::Refused(r)) => crate::admin::refused(&r),
        Err(ReloadError::Unpublished) => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the config could not be published to the cluster; the config in force stays",
        ),
    }
}

/// `GET /metrics` in cluster mode.
pub async fn metrics(State(app): State<ClusterState>) -> Response {
    let live = &app.live;
    let mut page = Page::default();
    page.reloads(
        &live.counters,
        "Config reloads applied here (this server's SIGHUP or POST /admin/reload, or another server's through the cluster record) or refused.",
    );
    page.metric(
        "conveyor_jobs_accepted_total",
        "counter",
        "Uploads this server queued.",
        &one(live.accepted.load(Ordering::Relaxed)),
    );
    page.metric(
        "conveyor_jobs_rejected_total",
        "counter",
        "Uploads this server refused at submission, by reason.",
        &Rejected::NAMES
            .iter()
            .zip(&live.rejected)
            .map(|(n, v)| {
                (
                    format!("{{reason=\"{n}\"}}"),
                    v.load(Ordering::Relaxed).to_string(),
                )
            })
            .collect::<Vec<_>>(),
    );
    if let Ok(n) = app.client.queued().await {
        page.metric(
            "conveyor_stream_messages",
            "gauge",
            "Jobs in the cluster's stream (queued or running).",
            &one(n),
        );
    }
    page.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_record_applies_once_per_newer_generation() {
        let started = reload::load(&Sources::default(), &Flags::default()).unwrap();
        let live = Live::new(&started);
        assert_eq!(live.counters.generation.load(Ordering::Relaxed), 1);
        let recipe =
            Recipe::from_json(r#"{"outputs":[{"name":"t","width":8,"format":"png"}]}"#).unwrap();
        let mut rec = ConfigRecord {
            v: conveyor_cluster::live::CONFIG_VERSION,
            generation: 2,
            settings: conveyor::Settings {
                default_recipe: recipe.clone(),
                ..conveyor::Settings::default()
            },
            job_timeout_ms: 7000,
            loaded_by: "server:a".into(),
            loaded_at_ms: 1,
        };
        assert!(live.apply(&rec));
        assert_eq!(live.recipe(), recipe);
        assert_eq!(live.job_timeout.get(), Duration::from_secs(7));
        assert_eq!(live.counters.generation.load(Ordering::Relaxed), 2);
        // The same generation again (this server's own publish seen by its watch),
        // or an older one: nothing changes and nothing is counted twice.
        assert!(!live.apply(&rec));
        rec.generation = 1;
        rec.job_timeout_ms = 1000;
        assert!(!live.apply(&rec));
        assert_eq!(live.job_timeout.get(), Duration::from_secs(7));
        assert_eq!(live.counters.ok.load(Ordering::Relaxed), 1);
    }
}
