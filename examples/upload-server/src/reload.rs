//! The server's configuration as files and flags give it, loaded once at start and
//! again on every reload (`SIGHUP`, or `POST /admin/reload` in `admin.rs`).
//!
//! Sources, in order of precedence: a flag given on the command line or in the
//! environment; the `--config` file (the pool's config JSON, parsed by
//! [`PoolConfig::from_json`], plus a `"server"` object for the server's own keys);
//! the `--recipe` file for the default recipe; the built-in defaults. Start and reload
//! go through the same [`load`], so a file that would not start the server is refused
//! by a reload too.
//!
//! What a reload changes live: the default recipe, the limits, the allowed formats
//! (all three through [`Pool::reload`], which announces `config_reloaded` on the bus)
//! and the per-job timeout. What needs a restart (workers, queue capacity, memory
//! budget, output folder, event buffer, stats interval, the request-body cap, and
//! everything that only has a flag) is compared with what runs and named in the log if
//! it differs; the running value stays. A file that cannot be read, parsed or
//! validated is refused with one log line naming the file and the fault, and the
//! config in force stays. Reloads run one at a time.
//!
//! This file knows nothing of HTTP or signals; `main.rs` wires the signal, `admin.rs`
//! the route and `metrics.rs` shows the counters kept here.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use conveyor::{Error, ErrorKind, Pool, PoolConfig, Recipe};
use serde::Deserialize;
use tracing::{info, warn};

/// The job timeout when neither the flag nor the file sets one, in seconds.
pub const DEFAULT_JOB_TIMEOUT_SECS: u64 = 60;

/// The stats-event interval when the config file sets none, in milliseconds.
const DEFAULT_STATS_INTERVAL_MS: u64 = 1000;

/// Where the configuration comes from: the files, re-read at every reload.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `--config`: the pool's config JSON with an optional `"server"` object.
    pub config: Option<PathBuf>,
    /// `--recipe`: the default recipe, overriding the config file's `default_recipe`.
    pub recipe: Option<PathBuf>,
}

/// The values given as flags (command line or environment), which win over the files.
/// `None` where the flag was not given.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--workers`.
    pub workers: Option<usize>,
    /// `--queue-capacity`.
    pub queue_capacity: Option<usize>,
    /// `--memory-budget`.
    pub memory_budget: Option<u64>,
    /// `--output-dir`.
    pub output_dir: Option<PathBuf>,
    /// `--max-input-bytes`.
    pub max_input_bytes: Option<u64>,
    /// `--max-width`.
    pub max_width: Option<u32>,
    /// `--max-height`.
    pub max_height: Option<u32>,
    /// `--max-pixels`.
    pub max_pixels: Option<u64>,
    /// `--max-body-bytes`.
    pub max_body_bytes: Option<u64>,
    /// `--job-timeout-secs`.
    pub job_timeout_secs: Option<u64>,
}

/// The server's own keys in the config file: `{"server": {"job_timeout_secs": 30}}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ServerSection {
    /// As `--job-timeout-secs`.
    job_timeout_secs: Option<u64>,
}

/// One complete configuration, as [`load`] resolves it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The pool's configuration (every field resolved that the server decides).
    pub pool: PoolConfig,
    /// Each job's deadline, from its acceptance.
    pub job_timeout: Duration,
    /// The largest request body.
    pub max_body_bytes: u64,
}

/// Why a configuration was refused: which file (or the flags) and what is wrong.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// `"config file"`, `"recipe file"` or `"flags"`.
    pub source: &'static str,
    /// The flag that names the file (`--config`, `--recipe`), for answers that must
    /// not show server paths.
    pub flag: &'static str,
    /// The file, where one is at fault.
    pub path: Option<PathBuf>,
    /// The error kind (`invalid_recipe` for a bad recipe, else `invalid_argument`).
    pub kind: ErrorKind,
    /// What is wrong, one line, without the path.
    pub message: String,
}

impl Refusal {
    fn file(source: &'static str, flag: &'static str, path: &Path, e: impl Into<Fault>) -> Self {
        let Fault(kind, message) = e.into();
        Refusal {
            source,
            flag,
            path: Some(path.to_path_buf()),
            kind,
            message,
        }
    }

    /// The message for an HTTP answer: the source by its flag, no server path.
    pub fn public_message(&self) -> String {
        if self.path.is_some() {
            format!("{} ({}): {}", self.source, self.flag, self.message)
        } else {
            format!("{}: {}", self.source, self.message)
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{} {}: {}", self.source, p.display(), self.message),
            None => write!(f, "{}: {}", self.source, self.message),
        }
    }
}

/// An error kind and a one-line message.
struct Fault(ErrorKind, String);

impl From<Error> for Fault {
    fn from(e: Error) -> Self {
        Fault(e.kind, one_line(&e.message))
    }
}

impl From<std::io::Error> for Fault {
    fn from(e: std::io::Error) -> Self {
        Fault(
            ErrorKind::InvalidArgument,
            format!("cannot read it: {}", one_line(&e.to_string())),
        )
    }
}

impl From<String> for Fault {
    fn from(m: String) -> Self {
        Fault(ErrorKind::InvalidArgument, one_line(&m))
    }
}

/// `s` on one line.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads the files, applies the flags over them, and checks the result.
pub fn load(sources: &Sources, flags: &Flags) -> Result<Loaded, Refusal> {
    let (mut pool, server) = match &sources.config {
        Some(path) => {
            read_config(path).map_err(|e| Refusal::file("config file", "--config", path, e))?
        }
        None => (PoolConfig::default(), ServerSection::default()),
    };
    if let Some(path) = &sources.recipe {
        let recipe = std::fs::read_to_string(path)
            .map_err(Fault::from)
            .and_then(|json| Recipe::from_json(&json).map_err(Fault::from))
            .map_err(|e| Refusal::file("recipe file", "--recipe", path, e))?;
        pool.default_recipe = Some(recipe);
    }
    pool.workers = flags.workers.or(pool.workers);
    pool.queue_capacity = flags.queue_capacity.or(pool.queue_capacity);
    pool.memory_budget = flags.memory_budget.or(pool.memory_budget);
    pool.output_dir = flags
        .output_dir
        .clone()
        .or(pool.output_dir)
        .or_else(|| Some(PathBuf::from("./uploads")));
    pool.stats_interval_ms = pool.stats_interval_ms.or(Some(DEFAULT_STATS_INTERVAL_MS));
    let mut limits = pool.limits.unwrap_or_default();
    if let Some(v) = flags.max_input_bytes {
        limits = limits.with_max_input_bytes(v);
    }
    if let Some(v) = flags.max_width {
        limits = limits.with_max_width(v);
    }
    if let Some(v) = flags.max_height {
        limits = limits.with_max_height(v);
    }
    if let Some(v) = flags.max_pixels {
        limits = limits.with_max_pixels(v);
    }
    pool.limits = Some(limits);
    pool.validate().map_err(|e| {
        let Fault(kind, message) = e.into();
        Refusal {
            source: "flags",
            flag: "",
            path: None,
            kind,
            message,
        }
    })?;
    let job_timeout_secs = flags
        .job_timeout_secs
        .or(server.job_timeout_secs)
        .unwrap_or(DEFAULT_JOB_TIMEOUT_SECS);
    Ok(Loaded {
        job_timeout: Duration::from_secs(job_timeout_secs),
        max_body_bytes: flags
            .max_body_bytes
            .unwrap_or(limits.max_input_bytes.saturating_add(1 << 20)),
        pool,
    })
}

/// Parses the config file: syntax first (with line and column), then the `"server"`
/// object, then the rest as the pool's config by the core's own parser.
fn read_config(path: &Path) -> Result<(PoolConfig, ServerSection), Fault> {
    let text = std::fs::read_to_string(path)?;
    let mut value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("not valid JSON: {e}"))?;
    let server = match value.as_object_mut().and_then(|o| o.remove("server")) {
        Some(v) => {
            serde_json::from_value::<ServerSection>(v).map_err(|e| format!("server: {e}"))?
        }
        None => ServerSection::default(),
    };
    if server.job_timeout_secs == Some(0) {
        return Err("server.job_timeout_secs: must be at least 1"
            .to_string()
            .into());
    }
    let pool = PoolConfig::from_json(&value.to_string())?;
    Ok((pool, server))
}

/// The per-job timeout, readable by every handler and changed by a reload.
#[derive(Debug)]
pub struct JobTimeout(AtomicU64);

impl JobTimeout {
    /// A timeout of `d` (kept in milliseconds).
    pub fn new(d: Duration) -> JobTimeout {
        JobTimeout(AtomicU64::new(d.as_millis().min(u64::MAX as u128) as u64))
    }

    /// The timeout now.
    pub fn get(&self) -> Duration {
        Duration::from_millis(self.0.load(Ordering::Relaxed))
    }

    /// Sets the timeout.
    pub fn set(&self, d: Duration) {
        self.0.store(
            d.as_millis().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
    }
}

/// What an accepted reload did.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The generation now in force (1 is the config loaded at start).
    pub generation: u64,
    /// Settings that changed in the files but keep their running value until a
    /// restart.
    pub needs_restart: Vec<&'static str>,
}

/// The reload counters `/metrics` shows.
#[derive(Debug, Default)]
pub struct Counters {
    /// Reloads applied.
    pub ok: AtomicU64,
    /// Reloads refused.
    pub refused: AtomicU64,
    /// The generation in force: 1 at start, one more per applied reload.
    pub generation: AtomicU64,
    /// When the config in force was loaded, in seconds since the Unix epoch.
    pub loaded_at_unix: AtomicU64,
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Re-reads the sources and applies what can change live; one reload at a time.
pub struct Reloader {
    pool: Arc<Pool>,
    sources: Sources,
    flags: Flags,
    /// The configuration in force (its fixed part is the one the server started with).
    running: Mutex<Loaded>,
    job_timeout: Arc<JobTimeout>,
    /// The counters for `/metrics`.
    pub counters: Counters,
}

impl Reloader {
    /// A reloader for the server started with `started` (generation 1).
    pub fn new(
        pool: Arc<Pool>,
        sources: Sources,
        flags: Flags,
        started: Loaded,
        job_timeout: Arc<JobTimeout>,
    ) -> Reloader {
        let counters = Counters::default();
        counters.generation.store(1, Ordering::Relaxed);
        counters.loaded_at_unix.store(now_unix(), Ordering::Relaxed);
        Reloader {
            pool,
            sources,
            flags,
            running: Mutex::new(started),
            job_timeout,
            counters,
        }
    }

    /// Re-reads the files and applies them, or refuses them and keeps the config in
    /// force. `trigger` (`"SIGHUP"`, `"admin"`) goes into the log line.
    pub fn reload(&self, trigger: &str) -> Result<Applied, Refusal> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let result = load(&self.sources, &self.flags).and_then(|new| {
            self.pool
                .reload(new.pool.settings())
                .map_err(|e| Refusal {
                    source: "config",
                    flag: "",
                    path: None,
                    kind: e.kind,
                    message: one_line(&e.message),
                })
                .map(|()| new)
        });
        let new = match result {
            Ok(new) => new,
            Err(refusal) => {
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                warn!(
                    trigger,
                    "config reload refused: {refusal}; the config in force stays"
                );
                return Err(refusal);
            }
        };
        self.job_timeout.set(new.job_timeout);
        let needs_restart = fixed_changes(&running, &new);
        running.pool.default_recipe = new.pool.default_recipe;
        running.pool.limits = new.pool.limits;
        running.pool.formats = new.pool.formats;
        running.job_timeout = new.job_timeout;
        self.counters.ok.fetch_add(1, Ordering::Relaxed);
        self.counters
            .loaded_at_unix
            .store(now_unix(), Ordering::Relaxed);
        let generation = self.counters.generation.fetch_add(1, Ordering::Relaxed) + 1;
        info!(
            trigger,
            generation,
            job_timeout_secs = new.job_timeout.as_secs(),
            "config reloaded: default recipe, limits, formats and job timeout in force"
        );
        if !needs_restart.is_empty() {
            warn!(
                trigger,
                "config reload: {} changed but needs a restart; the running value stays",
                needs_restart.join(", ")
            );
        }
        Ok(Applied {
            generation,
            needs_restart,
        })
    }
}

/// The settings that cannot change live and differ between `running` and `new`.
pub fn fixed_changes(running: &Loaded, new: &Loaded) -> Vec<&'static str> {
    let (a, b) = (&running.pool, &new.pool);
    let mut out = Vec::new();
    let mut check = |name, differs: bool| {
        if differs {
            out.push(name);
        }
    };
    check("workers", a.workers != b.workers);
    check("queue_capacity", a.queue_capacity != b.queue_capacity);
    check("memory_budget", a.memory_budget != b.memory_budget);
    check("output_dir", a.output_dir != b.output_dir);
    check("event_capacity", a.event_capacity != b.event_capacity);
    check(
        "stats_interval_ms",
        a.stats_interval_ms != b.stats_interval_ms,
    );
    check(
        "max_body_bytes",
        running.max_body_bytes != new.max_body_bytes,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use conveyor::Limits;

    fn limits_of(loaded: &Loaded) -> Limits {
        loaded.pool.limits.unwrap_or_default()
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let config = write(
            dir.path(),
            "c.json",
            r#"{"workers":3,"limits":{"max_width":500,"max_height":600},
                "server":{"job_timeout_secs":7}}"#,
        );
        let sources = Sources {
            config: Some(config),
            recipe: None,
        };
        let flags = Flags {
            max_width: Some(100),
            ..Flags::default()
        };
        let l = load(&sources, &flags).unwrap();
        assert_eq!(l.pool.workers, Some(3));
        assert_eq!(limits_of(&l).max_width, 100);
        assert_eq!(limits_of(&l).max_height, 600);
        assert_eq!(l.job_timeout, Duration::from_secs(7));
        assert_eq!(l.pool.stats_interval_ms, Some(1000));
        assert_eq!(
            l.max_body_bytes,
            Limits::default().max_input_bytes + (1 << 20)
        );
    }

    #[test]
    fn a_bad_file_is_refused_naming_the_file_and_the_fault() {
        let dir = tempfile::tempdir().unwrap();
        for (text, want) in [
            (r#"{"limits":{"max_width":"wide"}}"#, "limits.max_width"),
            (r#"{"workers":2,"#, "not valid JSON"),
            (r#"{"server":{"timeout":1}}"#, "server: unknown field"),
            (r#"{"server":{"job_timeout_secs":0}}"#, "job_timeout_secs"),
            (r#"{"colour":1}"#, "colour"),
        ] {
            let config = write(dir.path(), "c.json", text);
            let sources = Sources {
                config: Some(config.clone()),
                recipe: None,
            };
            let r = load(&sources, &Flags::default()).unwrap_err();
            let line = r.to_string();
            assert!(line.starts_with(&format!("config file {}: ", config.display())));
            assert!(line.contains(want), "{line}");
            assert!(!line.contains('\n'), "{line}");
            assert!(!r.public_message().contains(&*dir.path().to_string_lossy()));
        }
        let recipe = write(dir.path(), "r.json", r#"{"outputs":[]}"#);
        let sources = Sources {
            config: None,
            recipe: Some(recipe),
        };
        let r = load(&sources, &Flags::default()).unwrap_err();
        assert_eq!(r.kind, ErrorKind::InvalidRecipe);
        assert!(r.public_message().starts_with("recipe file (--recipe): "));
        let missing = Sources {
            config: Some(dir.path().join("missing.json")),
            recipe: None,
        };
        let r = load(&missing, &Flags::default()).unwrap_err();
        assert!(r.message.starts_with("cannot read it: "), "{r}");
    }

    #[test]
    fn fixed_settings_that_differ_are_named() {
        let base = load(&Sources::default(), &Flags::default()).unwrap();
        let mut new = base.clone();
        assert!(fixed_changes(&base, &new).is_empty());
        new.pool.workers = Some(9);
        new.pool.limits = Some(Limits::default().with_max_width(10));
        new.max_body_bytes += 1;
        assert_eq!(fixed_changes(&base, &new), ["workers", "max_body_bytes"]);
    }
}
