//! Giving freed memory back to the system, so that the pool's peak memory is what its
//! running jobs use rather than what the allocator kept from earlier ones.
//!
//! glibc's malloc keeps freed memory resident: each worker thread gets its own arena,
//! and once a large buffer has been freed the mmap threshold rises to its size (up to
//! 32 MiB), so later buffers of up to 32 MiB come from the arenas and stay there after
//! the job frees them. A job with buffers above 32 MiB gets them mapped afresh while
//! the arenas keep what earlier jobs freed, so the process peak moves from run to run
//! with which jobs met on which worker. `MALLOC_MMAP_THRESHOLD_` or `MALLOC_ARENA_MAX`
//! would fix that for the whole process, which a library must not impose on its users.
//!
//! Instead the workers call `malloc_trim(0)`, which hands the free pages of every arena
//! back to the kernel (0.3 to 5 ms), at two moments:
//! - before a job whose estimated peak is at least [`BIG_JOB`] (its largest buffers
//!   would not come from the arenas anyway);
//! - when a worker has waited 100 ms for a job and a job of at least [`DIRTY_JOB`] has
//!   ended since the last trim, so that an idle pool holds no freed buffers.
//!
//! Not after every job, nor as soon as the queue is empty: the next job would then
//! fault all its buffers in afresh, which costs more than the trim (trimming after
//! every job took about 15 % more CPU time over the benchmark corpus).
//! Only one worker trims at a time. Only for glibc on Linux; elsewhere [`Trimmer`] does
//! nothing.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
mod imp {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::{BIG_JOB, DIRTY_JOB};

    /// Decides when to trim; see the module docs.
    #[derive(Default)]
    pub(crate) struct Trimmer {
        /// A job of at least [`DIRTY_JOB`] ended since the last trim.
        dirty: AtomicBool,
        /// A worker is trimming; the others do not wait for it.
        busy: AtomicBool,
    }

    impl Trimmer {
        /// Called once a job is admitted with its estimated peak, before it decodes.
        pub(crate) fn before_job(&self, estimate: u64) {
            if estimate >= BIG_JOB {
                self.trim();
            }
        }

        /// Called when a job has ended (its buffers freed), with its estimated peak.
        pub(crate) fn after_job(&self, estimate: u64) {
            if estimate >= DIRTY_JOB {
                self.dirty.store(true, Ordering::Relaxed);
            }
        }

        /// Called when a worker has been idle for a while, before it blocks.
        pub(crate) fn idle(&self) {
            if self.dirty.load(Ordering::Relaxed) {
                self.trim();
            }
        }

        fn trim(&self) {
            if self.busy.swap(true, Ordering::Acquire) {
                return;
            }
            self.dirty.store(false, Ordering::Relaxed);
            // SAFETY: malloc_trim takes no pointers; it locks each arena itself and
            // may be called from any thread at any time.
            unsafe { libc::malloc_trim(0) };
            self.busy.store(false, Ordering::Release);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    /// Does nothing: only glibc keeps freed memory the way the module docs describe.
    #[derive(Default)]
    pub(crate) struct Trimmer;

    impl Trimmer {
        pub(crate) fn before_job(&self, _estimate: u64) {}

        pub(crate) fn after_job(&self, _estimate: u64) {}

        pub(crate) fn idle(&self) {}
    }
}

pub(crate) use imp::Trimmer;

/// A job estimated to need at least this much is preceded by a trim: twice glibc's
/// largest mmap threshold, so its largest buffers are mapped afresh, not reused.
#[cfg_attr(not(all(target_os = "linux", target_env = "gnu")), allow(dead_code))]
pub(crate) const BIG_JOB: u64 = 64 << 20;

/// A job estimated to need at least this much leaves enough freed memory behind to be
/// worth a trim when the worker goes idle.
#[cfg_attr(not(all(target_os = "linux", target_env = "gnu")), allow(dead_code))]
pub(crate) const DIRTY_JOB: u64 = 16 << 20;
