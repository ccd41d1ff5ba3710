//! Admission before the body: a request is let in only when the pool's queue has room
//! and its body fits in the budget of body bytes in flight. Refusals are decided from
//! the headers alone, so a refused body is never read.
//!
//! The budget is counted in KiB on a semaphore. A request reserves its
//! `Content-Length` (or the body cap, when the length is not declared) and holds the
//! reservation until every job made from that body has its outcome, since the pool
//! keeps the bytes until then.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use conveyor::Pool;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a request was not admitted; each becomes 503 with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The job queue has no room (counting requests admitted and still reading).
    QueueFull,
    /// The bodies already in flight use the whole byte budget.
    BodyBudget,
    /// Jobs already taken off the queue are waiting for room in the pool's memory budget.
    MemoryBudget,
}

impl Refusal {
    /// Every reason, in the order of [`Admission::refused`].
    pub const ALL: [Refusal; 3] = [
        Refusal::QueueFull,
        Refusal::BodyBudget,
        Refusal::MemoryBudget,
    ];

    /// The reason's name in `/metrics`.
    pub fn name(self) -> &'static str {
        match self {
            Refusal::QueueFull => "queue_full",
            Refusal::BodyBudget => "body_budget",
            Refusal::MemoryBudget => "memory_budget",
        }
    }

    /// The error code in the JSON body.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::QueueFull => "queue_full",
            Refusal::BodyBudget | Refusal::MemoryBudget => "busy",
        }
    }

    /// The message in the JSON body.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::QueueFull => "the server is busy: the job queue is full; retry later",
            Refusal::BodyBudget => {
                "the server is busy: too many upload bytes in flight; retry later"
            }
            Refusal::MemoryBudget => "the server is busy: its memory budget is spent; retry later",
        }
    }
}

/// The gate every upload passes before its body is read.
pub struct Admission {
    pool: Arc<Pool>,
    bytes: Arc<Semaphore>,
    budget_kib: u32,
    reading: Arc<AtomicUsize>,
    refused: [AtomicU64; 3],
}

/// An admitted request: its share of the byte budget, and its place among the
/// requests still reading their body (released by [`Admitted::done_reading`] or drop).
#[derive(Debug)]
pub struct Admitted {
    /// Released when the last job made from this body has its outcome.
    pub permit: Arc<OwnedSemaphorePermit>,
    reading: Option<Arc<AtomicUsize>>,
}

impl Admitted {
    /// The body is read and its jobs submitted: it no longer holds a queue place.
    pub fn done_reading(&mut self) {
        if let Some(r) = self.reading.take() {
            r.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.done_reading();
    }
}

fn kib(bytes: u64) -> u32 {
    bytes.div_ceil(1024).clamp(1, u32::MAX as u64) as u32
}

impl Admission {
    /// A gate for `pool` with `budget_bytes` of request bodies in flight at most.
    pub fn new(pool: Arc<Pool>, budget_bytes: u64) -> Self {
        let budget_kib = kib(budget_bytes);
        Admission {
            pool,
            bytes: Arc::new(Semaphore::new(budget_kib as usize)),
            budget_kib,
            reading: Arc::new(AtomicUsize::new(0)),
            refused: Default::default(),
        }
    }

    /// Admits a body of `reserve` bytes (its declared length, or the body cap), or
    /// says why not. Never waits.
    pub fn admit(&self, reserve: u64) -> Result<Admitted, Refusal> {
        self.try_admit(reserve).inspect_err(|r| {
            let i = Refusal::ALL.iter().position(|x| x == r).unwrap_or(0);
            self.refused[i].fetch_add(1, Ordering::Relaxed);
        })
    }

    /// Requests refused so far, per reason in the order of [`Refusal::ALL`].
    pub fn refused(&self) -> [u64; 3] {
        [0, 1, 2].map(|i| self.refused[i].load(Ordering::Relaxed))
    }

    fn try_admit(&self, reserve: u64) -> Result<Admitted, Refusal> {
        // The pool holds `workers` running jobs plus `queue_capacity` waiting ones.
        let stats = self.pool.stats();
        let room = (stats.queue_capacity as u64 + stats.workers as u64)
            .saturating_sub(stats.queued + stats.running);
        if self.reading.load(Ordering::SeqCst) as u64 >= room {
            return Err(Refusal::QueueFull);
        }
        if !memory_budget_allows(&stats) {
            return Err(Refusal::MemoryBudget);
        }
        let permit = self
            .bytes
            .clone()
            .try_acquire_many_owned(kib(reserve).min(self.budget_kib))
            .map_err(|_| Refusal::BodyBudget)?;
        // Take a queue place only if one is still free (requests race here).
        let mut reading = self.reading.load(Ordering::SeqCst);
        loop {
            if reading as u64 >= room {
                return Err(Refusal::QueueFull);
            }
            match self.reading.compare_exchange(
                reading,
                reading + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => break,
                Err(now) => reading = now,
            }
        }
        Ok(Admitted {
            permit: Arc::new(permit),
            reading: Some(self.reading.clone()),
        })
    }

    /// Bytes of request bodies reserved now (for `/metrics`).
    pub fn bytes_in_flight(&self) -> u64 {
        (self.budget_kib as u64 - self.bytes.available_permits() as u64) * 1024
    }

    /// The byte budget.
    pub fn budget_bytes(&self) -> u64 {
        self.budget_kib as u64 * 1024
    }
}

/// The pool's job memory budget, before a body is read: a job's estimate needs its
/// header, so the gate cannot size the job; it refuses while jobs already taken off
/// the queue are waiting for room in the budget (a new upload would only wait behind
/// them). The pool still admits each job against its own estimate.
fn memory_budget_allows(stats: &conveyor::StatsSnapshot) -> bool {
    stats.memory_waiting == 0
}
