//! Pool statistics: gauges (queued, running), counters (accepted, completed, failed by
//! kind, rejected) and per-stage latency histograms, all lock-free atomics.
//!
//! [`StatsSnapshot`] is what `Pool::stats` returns and what the `stats` event carries;
//! its bucket bounds suit a Prometheus histogram as they are.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

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
    count: AtomicU64,
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
        self.count.fetch_add(1, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
    }

    fn snapshot(&self) -> LatencySnapshot {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
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
            sum_us: self.sum_us.load(Relaxed),
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
}

impl StatsSnapshot {
    /// Jobs that failed, all kinds together.
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }
}

#[derive(Default)]
pub(crate) struct StatsInner {
    pub queued: AtomicI64,
    pub running: AtomicI64,
    pub accepted: AtomicU64,
    pub completed: AtomicU64,
    pub failed: [AtomicU64; 16],
    pub rejected: AtomicU64,
    /// Indexed like [`LATENCY_STAGES`].
    pub latency: [Histogram; 6],
}

impl StatsInner {
    pub(crate) fn snapshot(&self, workers: usize, queue_capacity: usize) -> StatsSnapshot {
        StatsSnapshot {
            workers,
            queue_capacity,
            queued: self.queued.load(Relaxed).max(0) as u64,
            running: self.running.load(Relaxed).max(0) as u64,
            accepted: self.accepted.load(Relaxed),
            completed: self.completed.load(Relaxed),
            failed: ErrorKind::ALL
                .into_iter()
                .map(|k| (k, self.failed[k.code() as usize].load(Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            rejected: self.rejected.load(Relaxed),
            latency: LATENCY_STAGES
                .iter()
                .zip(&self.latency)
                .map(|(name, h)| (name.to_string(), h.snapshot()))
                .collect(),
        }
    }
}
