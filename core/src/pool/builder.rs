//! Building a pool: [`PoolBuilder`] (every setting optional) and
//! [`Pool::from_config`], which validates the configuration, creates the output folder
//! and starts the worker and ticker threads.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use crossbeam_utils::CachePadded;

use super::budget::{default_memory_budget, Budget};
use super::help::HelpBoard;
use super::registry::Registry;
use super::shared::{Inner, Intake, Shared};
use super::ticker::Ticker;
use super::trim::Trimmer;
use super::{worker, Pool};
use crate::config::PoolConfig;
use crate::error::{Error, ErrorKind};
use crate::events::EventBus;
use crate::limits::Limits;
use crate::recipe::Recipe;
use crate::stats::StatsInner;
use crate::InputFormat;

/// Builds a [`Pool`]; every setting is optional.
#[derive(Debug, Clone, Default)]
pub struct PoolBuilder {
    config: PoolConfig,
}

impl PoolBuilder {
    /// Worker threads (default: the available parallelism).
    pub fn workers(mut self, n: usize) -> Self {
        self.config.workers = Some(n);
        self
    }

    /// Queue capacity (default: 4 × workers). `submit` blocks while it is full.
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.config.queue_capacity = Some(n);
        self
    }

    /// Limits on each input.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.config.limits = Some(limits);
        self
    }

    /// Saves outputs under this folder (created if missing); without it outputs come
    /// back as bytes.
    pub fn output_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.output_dir = Some(dir.into());
        self
    }

    /// The recipe for jobs that bring none.
    pub fn default_recipe(mut self, recipe: Recipe) -> Self {
        self.config.default_recipe = Some(recipe);
        self
    }

    /// Allowed input formats.
    pub fn formats(mut self, formats: impl Into<Vec<InputFormat>>) -> Self {
        self.config.formats = Some(formats.into());
        self
    }

    /// The memory budget in bytes (default: [`default_memory_budget`]).
    pub fn memory_budget(mut self, bytes: u64) -> Self {
        self.config.memory_budget = Some(bytes);
        self
    }

    /// Events buffered per subscriber before it lags (default 1024).
    pub fn event_capacity(mut self, n: usize) -> Self {
        self.config.event_capacity = Some(n);
        self
    }

    /// Emit a `stats` event this often.
    pub fn stats_interval(mut self, every: Duration) -> Self {
        self.config.stats_interval_ms = Some(every.as_millis().max(1) as u64);
        self
    }

    /// Starts from a whole [`PoolConfig`].
    pub fn config(mut self, config: PoolConfig) -> Self {
        self.config = config;
        self
    }

    /// Starts the workers.
    pub fn build(self) -> Result<Pool, Error> {
        Pool::from_config(self.config)
    }
}

impl Pool {
    /// A builder with every default.
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }

    /// Builds a pool from a configuration (e.g. parsed with [`PoolConfig::from_json`]).
    pub fn from_config(config: PoolConfig) -> Result<Pool, Error> {
        config.validate()?;
        let settings = config.settings();
        settings.validate()?;
        let workers = config.resolved_workers();
        let queue_capacity = config.resolved_queue_capacity();
        if let Some(dir) = &config.output_dir {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("output_dir {}: {e}", dir.display()),
                )
            })?;
        }
        let (tx, rx) = crossbeam_channel::bounded(queue_capacity);
        let (outcomes_tx, outcomes_rx) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            settings: ArcSwap::from_pointee(settings),
            output_dir: config.output_dir.clone(),
            registry: Registry::new(queue_capacity + workers),
            budget: Budget::new(config.memory_budget.unwrap_or_else(default_memory_budget)),
            help: HelpBoard::new(workers),
            trimmer: Trimmer::default(),
            stats: StatsInner::new(workers),
            events: EventBus::new(config.event_capacity.unwrap_or(1024)),
            flags: CachePadded::default(),
            intake: CachePadded::new(Intake::new()),
            outcomes_tx: ArcSwapOption::from_pointee(outcomes_tx),
            workers,
            queue_capacity,
        });
        let mut handles = Vec::with_capacity(workers);
        for i in 0..workers {
            let (rx, shared) = (rx.clone(), shared.clone());
            // On an error, the threads already started end by themselves when `tx`
            // is dropped on return.
            let h = std::thread::Builder::new()
                .name(format!("conveyor-worker-{i}"))
                .spawn(move || worker::worker_main(i, rx, shared))
                .map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidArgument,
                        format!("cannot start a worker thread: {e}"),
                    )
                })?;
            handles.push(h);
        }
        let ticker = config
            .stats_interval_ms
            .map(|ms| Ticker::start(shared.clone(), Duration::from_millis(ms)))
            .transpose()?;
        Ok(Pool {
            inner: Arc::new(Inner {
                shared,
                tx,
                outcomes_rx,
                handles: Mutex::new(Some(handles)),
                ticker: Mutex::new(ticker),
            }),
        })
    }
}
