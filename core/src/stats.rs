//! Pool statistics: gauges (queued, running), counters (accepted, completed, failed by
//! kind, rejected) and per-stage latency histograms, all lock-free atomics.
//!
//! Workers write only to their own cache-padded shard and submitters to their own
//! line, so the bookkeeping adds no contended atomic to a job; reads sum the shards.
//!
//! [`StatsSnapshot`] is what `Pool::stats` returns and what the `stats` event carries;
//! its bucket bounds suit a Prometheus histogram as they are.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crossbeam_utils::CachePadded;
use serde::{Deserialize, Serialize};

use crate::error::ErrorKind;

/// Upper bounds of the latency buckets, in microseconds (the last bucket is +Inf).
pub const BUCKET_BOUNDS_US: [u64; 17] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000,
];

/// The measured stages, in the order of [`StatsSnapshot::latency`]'s keys.
pub const LATENCY_STAGES: [&str; 6] = ["queue", "decode", "resize", "encode", "save", "total"];

#[derive(Default)]
pub(crate) struct Histogram {
    buckets: [AtomicU64; BUCKET_BOUNDS_US.len() + 1],
    sum_us: AtomicU64,
}

impl Histogram {
    pub(crate) fn record(&self, d: Duration) {
        let us = d.as_micros().min(u64::MAX as u128) as u64;
        let i = BUCKET_BOUNDS_US
            .iter()
            .position(|&b| us <= b)
            .unwrap_or(BUCKET_BOUNDS_US.len());
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
    }

    /// One distribution from the sum of several histograms (one per shard).
    fn snapshot_of(hs: &[&Histogram]) -> LatencySnapshot {
        let counts: Vec<u64> = (0..BUCKET_BOUNDS_US.len() + 1)
            .map(|i| hs.iter().map(|h| h.buckets[i].load(Relaxed)).sum())
            .collect();
        let count: u64 = counts.iter().sum();
        let mut cumulative = Vec::with_capacity(counts.len());
        let mut acc = 0;
        for c in &counts {
            acc += c;
            cumulative.push(acc);
        }
        let quantile = |q: f64| -> u64 {
            if count == 0 {
                return 0;
            }
            let want = (q * count as f64).ceil().max(1.0) as u64;
            let i = cumulative
                .iter()
                .position(|&c| c >= want)
                .unwrap_or(counts.len() - 1);
            *BUCKET_BOUNDS_US
                .get(i)
                .unwrap_or(BUCKET_BOUNDS_US.last().unwrap())
        };
        LatencySnapshot {
            count,
            sum_us: hs.iter().map(|h| h.sum_us.load(Relaxed)).sum(),
            p50_us: quantile(0.5),
            p99_us: quantile(0.99),
            cumulative_buckets: cumulative[..BUCKET_BOUNDS_US.len()].to_vec(),
        }
    }
}

/// One stage's latency distribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencySnapshot {
    /// Number of samples.
    pub count: u64,
    /// Sum of all samples, in microseconds.
    pub sum_us: u64,
    /// Median, as the upper bound of its bucket, in microseconds.
    pub p50_us: u64,
    /// 99th percentile, as the upper bound of its bucket, in microseconds.
    pub p99_us: u64,
    /// For each bound in [`BUCKET_BOUNDS_US`], the number of samples at or below it.
    pub cumulative_buckets: Vec<u64>,
}

/// A point-in-time copy of the pool's statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Worker threads.
    pub workers: usize,
    /// Queue capacity.
    pub queue_capacity: usize,
    /// Jobs waiting in the queue.
    pub queued: u64,
    /// Jobs being processed.
    pub running: u64,
    /// Jobs accepted so far.
    pub accepted: u64,
    /// Jobs that succeeded.
    pub completed: u64,
    /// Jobs that failed, by kind (cancelled and timed-out jobs included).
    pub failed: BTreeMap<ErrorKind, u64>,
    /// Submissions refused because the queue was full or the submit timed out.
    pub rejected: u64,
    /// Latency per stage: `queue`, `decode`, `resize`, `encode`, `save`, `total`.
    pub latency: BTreeMap<String, LatencySnapshot>,
    /// The pool's memory budget, in bytes (see `PoolConfig::memory_budget`).
    #[serde(default)]
    pub memory_budget: u64,
    /// Bytes of the budget reserved by running jobs (their estimates).
    #[serde(default)]
    pub memory_in_use: u64,
    /// Jobs taken off the queue that wait for room in the budget.
    #[serde(default)]
    pub memory_waiting: u64,
}

impl StatsSnapshot {
    /// Jobs that failed, all kinds together.
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }
}

/// Counters written by submitters.
#[derive(Default)]
struct Intake {
    accepted: AtomicU64,
    rejected: AtomicU64,
}

/// Counters written by one worker. Each worker has its own shard on its own cache line,
/// so workers never contend for a counter; a snapshot sums the shards.
#[derive(Default)]
pub(crate) struct Shard {
    dequeued: AtomicU64,
    running: AtomicI64,
    completed: AtomicU64,
    failed: [AtomicU64; 16],
    /// Indexed like [`LATENCY_STAGES`].
    latency: [Histogram; 6],
}

impl Shard {
    /// A job left the queue.
    pub(crate) fn dequeued(&self) {
        self.dequeued.fetch_add(1, Relaxed);
    }

    /// A job started (`+1`) or stopped (`-1`) running.
    pub(crate) fn running(&self, delta: i64) {
        self.running.fetch_add(delta, Relaxed);
    }

    /// A job succeeded.
    pub(crate) fn completed(&self) {
        self.completed.fetch_add(1, Relaxed);
    }

    /// A job failed with `kind`.
    pub(crate) fn failed(&self, kind: ErrorKind) {
        self.failed[kind.code() as usize].fetch_add(1, Relaxed);
    }

    /// Records a latency for stage `i` of [`LATENCY_STAGES`].
    pub(crate) fn latency(&self, i: usize, d: Duration) {
        self.latency[i].record(d);
    }
}

/// The pool's statistics: submit-side counters on one cache line, and a [`Shard`] per
/// worker. Refused jobs count on the submit side; every outcome is counted by the
/// worker that delivers it.
pub(crate) struct StatsInner {
    intake: CachePadded<Intake>,
    shards: Box<[CachePadded<Shard>]>,
}

impl StatsInner {
    pub(crate) fn new(workers: usize) -> StatsInner {
        StatsInner {
            intake: CachePadded::default(),
            shards: (0..workers.max(1))
                .map(|_| CachePadded::default())
                .collect(),
        }
    }

    /// Worker `worker`'s shard.
    pub(crate) fn shard(&self, worker: usize) -> &Shard {
        &self.shards[worker.min(self.shards.len() - 1)]
    }

    /// A job was put on the queue (counted before the send, so `queued` never dips).
    pub(crate) fn accepted(&self) {
        self.intake.accepted.fetch_add(1, Relaxed);
    }

    /// A job counted by [`StatsInner::accepted`] was refused after all.
    pub(crate) fn refused(&self) {
        self.intake.accepted.fetch_sub(1, Relaxed);
        self.intake.rejected.fetch_add(1, Relaxed);
    }

    /// Jobs accepted and not yet taken by a worker.
    pub(crate) fn queued(&self) -> u64 {
        let dequeued: u64 = self.shards.iter().map(|s| s.dequeued.load(Relaxed)).sum();
        self.intake.accepted.load(Relaxed).saturating_sub(dequeued)
    }

    /// Sums the shards. The memory fields are left at zero for the pool to fill.
    pub(crate) fn snapshot(&self, workers: usize, queue_capacity: usize) -> StatsSnapshot {
        let sum = |f: &dyn Fn(&Shard) -> u64| -> u64 { self.shards.iter().map(|s| f(s)).sum() };
        let accepted = self.intake.accepted.load(Relaxed);
        let running: i64 = self.shards.iter().map(|s| s.running.load(Relaxed)).sum();
        StatsSnapshot {
            workers,
            queue_capacity,
            queued: self.queued(),
            running: running.max(0) as u64,
            accepted,
            completed: sum(&|s| s.completed.load(Relaxed)),
            failed: ErrorKind::ALL
                .into_iter()
                .map(|k| (k, sum(&|s| s.failed[k.code() as usize].load(Relaxed))))
                .filter(|(_, n)| *n > 0)
                .collect(),
            rejected: self.intake.rejected.load(Relaxed),
            latency: LATENCY_STAGES
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let hs: Vec<&Histogram> = self.shards.iter().map(|s| &s.latency[i]).collect();
                    (name.to_string(), Histogram::snapshot_of(&hs))
                })
                .collect(),
            memory_budget: 0,
            memory_in_use: 0,
            memory_waiting: 0,
        }
    }
}
