//! The registry of jobs in flight, for [`Pool::cancel`](super::Pool::cancel): job id →
//! "cancel requested".
//!
//! Submit inserts, completion removes, `cancel` sets the flag. The common case is one
//! compare-and-swap each way on a fixed table of atomic slots, with no lock and no
//! allocation; a job whose slot is still held by a much older job goes to a sharded
//! overflow map (dashmap). Workers look the flag up at each stage boundary, but only
//! while some cancel request is outstanding: a counter makes the check one atomic load
//! in the common case.
//!
//! The table is model-checked with loom: the `loom_*` tests at the bottom run every
//! interleaving of insert, cancel, remove and the workers' check, for a slot and for
//! the overflow map (which is a mutex-guarded map under loom, standing in for dashmap's
//! per-shard locks):
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p conveyor --lib loom
//! ```

use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::Ordering;

use crossbeam_utils::CachePadded;

use super::sync::{AtomicU64, AtomicUsize};

/// Hashes the pool's own sequential job ids with one multiplication (Fibonacci
/// hashing). The ids are not chosen by users, so SipHash's flood resistance buys
/// nothing here, and this spreads consecutive ids over the map's shards and buckets.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Shards of the overflow map.
#[cfg(not(all(test, loom)))]
const SHARDS: usize = 16;

/// Set in a slot when a cancel was requested for the job in it.
const CANCEL: u64 = 1 << 63;

/// Jobs whose slot was taken by an older job still in flight: id → cancel flag. Each
/// operation is atomic per id: dashmap locks the id's shard; under loom one mutex
/// stands in for the shard locks.
struct Overflow {
    #[cfg(not(all(test, loom)))]
    map: dashmap::DashMap<u64, bool, BuildHasherDefault<IdHasher>>,
    #[cfg(all(test, loom))]
    map: super::sync::Mutex<std::collections::HashMap<u64, bool, BuildHasherDefault<IdHasher>>>,
}

#[cfg(not(all(test, loom)))]
impl Overflow {
    fn new() -> Overflow {
        Overflow {
            map: dashmap::DashMap::with_capacity_and_hasher_and_shard_amount(
                0,
                Default::default(),
                SHARDS,
            ),
        }
    }

    fn insert(&self, id: u64) {
        self.map.insert(id, false);
    }

    /// Removes `id`; its cancel flag, if it was there.
    fn remove(&self, id: u64) -> Option<bool> {
        self.map.remove(&id).map(|(_, flag)| flag)
    }

    /// Sets `id`'s cancel flag, running `first` (under the id's lock) when it was not
    /// set yet. `false` when `id` is not here.
    fn cancel(&self, id: u64, first: impl FnOnce()) -> bool {
        match self.map.get_mut(&id) {
            Some(mut flag) => {
                if !*flag {
                    first();
                    *flag = true;
                }
                true
            }
            None => false,
        }
    }

    /// `id`'s cancel flag, if it is here.
    fn get(&self, id: u64) -> Option<bool> {
        self.map.get(&id).map(|flag| *flag)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.len()
    }
}

/// The same operations, each under the one mutex.
#[cfg(all(test, loom))]
impl Overflow {
    fn new() -> Overflow {
        Overflow {
            map: Default::default(),
        }
    }

    fn insert(&self, id: u64) {
        self.map.lock().unwrap().insert(id, false);
    }

    fn remove(&self, id: u64) -> Option<bool> {
        self.map.lock().unwrap().remove(&id)
    }

    fn cancel(&self, id: u64, first: impl FnOnce()) -> bool {
        match self.map.lock().unwrap().get_mut(&id) {
            Some(flag) => {
                if !*flag {
                    first();
                    *flag = true;
                }
                true
            }
            None => false,
        }
    }

    fn get(&self, id: u64) -> Option<bool> {
        self.map.lock().unwrap().get(&id).copied()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.lock().unwrap().len()
    }
}

/// Jobs in flight and their cancel flags.
pub(crate) struct Registry {
    /// `slots[index(id)]` holds `id` (plus [`CANCEL`]) while the job is in flight, 0 when
    /// free. Ids `S` apart share a slot; neighbouring ids sit on different cache lines.
    slots: Box<[AtomicU64]>,
    /// Jobs whose slot was taken by an older job still in flight.
    overflow: Overflow,
    /// Cancel flags set and not yet removed.
    outstanding: CachePadded<AtomicUsize>,
}

/// Slots per 64-byte cache line.
const PER_LINE: usize = 8;

impl Registry {
    /// A registry sized for about `in_flight` jobs at once (the queue plus the workers).
    pub(crate) fn new(in_flight: usize) -> Registry {
        let n = (in_flight.saturating_mul(4))
            .clamp(64, 1 << 16)
            .next_power_of_two();
        Registry {
            slots: (0..n).map(|_| AtomicU64::new(0)).collect(),
            overflow: Overflow::new(),
            outstanding: CachePadded::new(AtomicUsize::new(0)),
        }
    }

    fn slot(&self, id: u64) -> &AtomicU64 {
        let lines = (self.slots.len() / PER_LINE) as u64;
        let i = (id % lines) * PER_LINE as u64 + (id / lines) % PER_LINE as u64;
        &self.slots[i as usize]
    }

    /// A job was accepted (ids start at 1 and stay below 2^63).
    pub(crate) fn insert(&self, id: u64) {
        if self
            .slot(id)
            .compare_exchange(0, id, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            self.overflow.insert(id);
        }
    }

    /// A job has its outcome (or was refused): forget it.
    pub(crate) fn remove(&self, id: u64) {
        let slot = self.slot(id);
        let mut v = slot.load(Ordering::Acquire);
        while v & !CANCEL == id {
            match slot.compare_exchange_weak(v, 0, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    if v & CANCEL != 0 {
                        self.outstanding.fetch_sub(1, Ordering::SeqCst);
                    }
                    return;
                }
                Err(now) => v = now,
            }
        }
        if let Some(true) = self.overflow.remove(id) {
            self.outstanding.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Asks a job to stop; `false` if it is not in flight.
    pub(crate) fn cancel(&self, id: u64) -> bool {
        let slot = self.slot(id);
        let mut v = slot.load(Ordering::Acquire);
        while v & !CANCEL == id && id != 0 {
            if v & CANCEL != 0 {
                return true;
            }
            // Count first, so that whoever sees the flag also sees a non-zero count.
            self.outstanding.fetch_add(1, Ordering::SeqCst);
            match slot.compare_exchange_weak(v, v | CANCEL, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return true,
                Err(now) => {
                    self.outstanding.fetch_sub(1, Ordering::SeqCst);
                    v = now;
                }
            }
        }
        self.overflow.cancel(id, || {
            self.outstanding.fetch_add(1, Ordering::SeqCst);
        })
    }

    /// Whether a cancel was requested for this job.
    pub(crate) fn is_cancelled(&self, id: u64) -> bool {
        if self.outstanding.load(Ordering::SeqCst) == 0 {
            return false;
        }
        let v = self.slot(id).load(Ordering::Acquire);
        if v & !CANCEL == id {
            return v & CANCEL != 0;
        }
        self.overflow.get(id).unwrap_or(false)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn slots_and_overflow_behave_alike() {
        let r = Registry::new(1); // 64 slots: ids 64 apart share one
        for id in 1..=200u64 {
            r.insert(id);
        }
        // 1..=64 sit in slots, 65..=200 overflowed.
        assert!(r.overflow.len() == 136, "{}", r.overflow.len());
        for id in [3u64, 64, 65, 130, 200] {
            assert!(!r.is_cancelled(id));
            assert!(r.cancel(id));
            assert!(r.cancel(id), "a second cancel still reports pending");
            assert!(r.is_cancelled(id));
        }
        assert_eq!(r.outstanding.load(Ordering::SeqCst), 5);
        assert!(!r.is_cancelled(4));
        assert!(!r.is_cancelled(66));
        for id in 1..=200u64 {
            r.remove(id);
        }
        assert_eq!(r.outstanding.load(Ordering::SeqCst), 0);
        assert_eq!(r.overflow.len(), 0);
        assert!(r.slots.iter().all(|s| s.load(Ordering::SeqCst) == 0));
        assert!(!r.cancel(3), "a finished job is not pending");
        assert!(!r.cancel(0));
        assert!(!r.cancel(999));
    }

    #[test]
    fn neighbouring_ids_use_distinct_lines() {
        let r = Registry::new(16);
        let base = r.slots.as_ptr() as usize;
        let line = |id: u64| (r.slot(id) as *const AtomicU64 as usize - base) / 64;
        for id in 1..8u64 {
            assert_ne!(line(id), line(id + 1));
        }
        // Every slot is used by exactly one id in a window of slots.len() ids.
        let n = r.slots.len() as u64;
        let mut seen = std::collections::HashSet::new();
        for id in 1000..1000 + n {
            assert!(seen.insert(r.slot(id) as *const AtomicU64 as usize));
        }
    }
}

/// Model tests: loom runs each closure under every interleaving of its threads (see the
/// module docs for the command). The ids `A` and `B` share a slot of the 64-slot table.
#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::atomic::AtomicBool;
    use loom::sync::Arc;
    use loom::thread;

    use super::*;

    const A: u64 = 1;
    const B: u64 = 65;

    /// Nothing left behind: no job, no flag, no outstanding count.
    fn assert_clean(r: &Registry) {
        assert_eq!(
            r.outstanding.load(Ordering::SeqCst),
            0,
            "a cancel count leaked"
        );
        assert!(r.slots.iter().all(|s| s.load(Ordering::SeqCst) == 0));
        assert_eq!(r.overflow.len(), 0);
    }

    #[test]
    fn loom_ids_a_and_b_share_a_slot() {
        loom::model(|| {
            let r = Registry::new(1);
            assert!(std::ptr::eq(r.slot(A), r.slot(B)));
        });
    }

    /// A cancel racing the job's completion: either the cancel lands first (and
    /// completion takes its count back) or it finds nothing; no count leaks.
    #[test]
    fn loom_cancel_races_completion() {
        loom::model(|| {
            let r = Arc::new(Registry::new(1));
            r.insert(A);
            let r2 = r.clone();
            let canceller = thread::spawn(move || r2.cancel(A));
            r.remove(A);
            canceller.join().unwrap();
            assert_clean(&r);
            assert!(!r.cancel(A), "a finished job is not pending");
            assert_clean(&r);
        });
    }

    /// Two racing cancels of one job: both report it pending, the count is taken once.
    #[test]
    fn loom_double_cancel_counts_once() {
        loom::model(|| {
            let r = Arc::new(Registry::new(1));
            r.insert(A);
            let r2 = r.clone();
            let other = thread::spawn(move || r2.cancel(A));
            assert!(r.cancel(A));
            assert!(other.join().unwrap());
            assert_eq!(r.outstanding.load(Ordering::SeqCst), 1);
            assert!(r.is_cancelled(A));
            r.remove(A);
            assert_clean(&r);
        });
    }

    /// A worker that knows a cancel has returned sees it at its next check, and never
    /// sees a cancel for another job.
    #[test]
    fn loom_a_returned_cancel_reaches_the_worker() {
        loom::model(|| {
            let r = Arc::new(Registry::new(1));
            r.insert(A);
            r.insert(2);
            let done = Arc::new(AtomicBool::new(false));
            let (r2, done2) = (r.clone(), done.clone());
            let canceller = thread::spawn(move || {
                assert!(r2.cancel(A));
                done2.store(true, Ordering::Release);
            });
            if done.load(Ordering::Acquire) {
                assert!(r.is_cancelled(A));
            }
            assert!(!r.is_cancelled(2));
            canceller.join().unwrap();
            assert!(r.is_cancelled(A));
            r.remove(A);
            r.remove(2);
            assert_clean(&r);
        });
    }

    /// Two jobs that share a slot, in flight at once on two threads: one takes the
    /// slot, the other the overflow map, whichever order they come in; cancels and
    /// checks find each in its place, and both leave nothing behind.
    #[test]
    fn loom_jobs_sharing_a_slot() {
        loom::model(|| {
            let r = Arc::new(Registry::new(1));
            let r2 = r.clone();
            let other = thread::spawn(move || {
                r2.insert(B);
                assert!(r2.cancel(B));
                assert!(r2.is_cancelled(B));
                r2.remove(B);
            });
            r.insert(A);
            assert!(!r.is_cancelled(A));
            assert!(r.cancel(A));
            assert!(r.is_cancelled(A));
            r.remove(A);
            other.join().unwrap();
            assert_clean(&r);
        });
    }
}
