//! Pool configuration: [`PoolConfig`] (fixed when the pool is built, JSON-serialisable
//! so every binding passes the same object) and [`Settings`] (the part that
//! [`Pool::reload`](crate::Pool::reload) can change live).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};
use crate::format::InputFormat;
use crate::limits::Limits;
use crate::recipe::Recipe;

/// The settings workers read at the start of each job; changeable with `reload`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The recipe for jobs that bring none. Default: [`Recipe::default`].
    #[serde(deserialize_with = "crate::json::object")]
    pub default_recipe: Recipe,
    /// Limits on each input and output.
    #[serde(deserialize_with = "crate::json::object")]
    pub limits: Limits,
    /// Allowed input formats. Default: all.
    pub formats: Vec<InputFormat>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            default_recipe: Recipe::default(),
            limits: Limits::default(),
            formats: InputFormat::ALL.to_vec(),
        }
    }
}

impl Settings {
    /// Parses settings JSON (the object `reload` takes; every field optional) as
    /// strictly as [`PoolConfig::from_json`], and validates it. Errors are
    /// `invalid_argument` and name the field.
    pub fn from_json(json: &str) -> Result<Settings, Error> {
        let settings: Settings = crate::json::parse(json)
            .map_err(|m| Error::new(ErrorKind::InvalidArgument, format!("settings: {m}")))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks the settings (the default recipe must be valid).
    pub fn validate(&self) -> Result<(), Error> {
        self.default_recipe.validate()
    }
}

/// Everything needed to build a pool. All fields are optional in JSON (absent or
/// `null`: the default):
///
/// ```
/// let cfg = conveyor::PoolConfig::from_json(r#"{"workers":2,"queue_capacity":8,
///     "limits":{"max_pixels":50000000}}"#).unwrap();
/// assert_eq!(cfg.workers, Some(2));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolConfig {
    /// Worker threads. Default: the available parallelism.
    pub workers: Option<usize>,
    /// Queue capacity (bounded). Default: 4 × workers.
    pub queue_capacity: Option<usize>,
    /// Save outputs here; without it, outputs come back as bytes.
    pub output_dir: Option<PathBuf>,
    /// Events buffered per subscriber before it lags. Default 1024.
    pub event_capacity: Option<usize>,
    /// Emit a `stats` event this often (milliseconds). Default: never.
    pub stats_interval_ms: Option<u64>,
    /// The recipe for jobs that bring none.
    #[serde(deserialize_with = "crate::json::optional_object")]
    pub default_recipe: Option<Recipe>,
    /// Limits on each input and output.
    #[serde(deserialize_with = "crate::json::optional_object")]
    pub limits: Option<Limits>,
    /// Allowed input formats.
    pub formats: Option<Vec<InputFormat>>,
    /// The memory budget in bytes: a worker starts a job only when the job's estimated
    /// peak memory fits in what running jobs leave, and a job whose estimate exceeds
    /// the whole budget fails with `limit_exceeded`. Default:
    /// [`default_memory_budget`](crate::default_memory_budget) (half the machine's or
    /// the cgroup's memory, at least 512 MiB).
    pub memory_budget: Option<u64>,
}

impl PoolConfig {
    /// Parses configuration JSON; errors are `invalid_argument` and name the field.
    /// Strict as [`Recipe::from_json`] is: one object and nothing after it, objects
    /// never in positional form, no duplicate or unknown keys.
    pub fn from_json(json: &str) -> Result<PoolConfig, Error> {
        let cfg: PoolConfig = crate::json::parse(json)
            .map_err(|m| Error::new(ErrorKind::InvalidArgument, format!("pool config: {m}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |m: &str| {
            Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("pool config: {m}"),
            ))
        };
        if self.workers == Some(0) || self.workers.is_some_and(|w| w > 1024) {
            return bad("workers: must be between 1 and 1024");
        }
        if self.queue_capacity == Some(0) || self.queue_capacity.is_some_and(|c| c > 1 << 20) {
            return bad("queue_capacity: must be between 1 and 1048576");
        }
        if self.event_capacity == Some(0) || self.event_capacity.is_some_and(|c| c > 1 << 20) {
            return bad("event_capacity: must be between 1 and 1048576");
        }
        if self.stats_interval_ms == Some(0) {
            return bad("stats_interval_ms: must be at least 1");
        }
        if self.memory_budget.is_some_and(|b| b < 1 << 20) {
            return bad("memory_budget: must be at least 1048576 bytes (1 MiB)");
        }
        if let Some(r) = &self.default_recipe {
            r.validate()?;
        }
        Ok(())
    }

    /// The worker count this config resolves to.
    pub fn resolved_workers(&self) -> usize {
        self.workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// The queue capacity this config resolves to.
    pub fn resolved_queue_capacity(&self) -> usize {
        self.queue_capacity.unwrap_or(self.resolved_workers() * 4)
    }

    /// The live settings this config starts with.
    pub fn settings(&self) -> Settings {
        let d = Settings::default();
        Settings {
            default_recipe: self.default_recipe.clone().unwrap_or(d.default_recipe),
            limits: self.limits.unwrap_or(d.limits),
            formats: self.formats.clone().unwrap_or(d.formats),
        }
    }
}
