//! The pool's memory budget: a worker runs a job only when the job's estimated peak
//! memory (see `pipeline::estimate`) fits in what the jobs already running leave.
//!
//! Admission is first come, first served: once a job waits, later jobs wait behind it,
//! so a large job is not starved by a stream of small ones. A job whose estimate
//! exceeds the whole budget fails at once with `limit_exceeded`. Waiting counts against
//! the job's deadline, and a cancel reaches a waiting job within [`POLL`].

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use web_time::Instant;

use crate::error::{Error, ErrorKind, Stage};

/// How often a waiting job checks for a cancel.
pub(crate) const POLL: Duration = Duration::from_millis(20);

#[derive(Default)]
struct State {
    used: u64,
    /// Waiting jobs in arrival order: (ticket, bytes).
    waiting: VecDeque<(u64, u64)>,
    next_ticket: u64,
}

/// The budget: bytes in use and the jobs waiting for room.
pub(crate) struct Budget {
    total: u64,
    state: Mutex<State>,
    room: Condvar,
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

impl Budget {
    pub(crate) fn new(total: u64) -> Budget {
        Budget {
            total,
            state: Mutex::new(State::default()),
            room: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The budget, in bytes.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// Bytes reserved by running jobs, and the number of jobs waiting.
    pub(crate) fn usage(&self) -> (u64, u64) {
        let s = self.lock();
        (s.used, s.waiting.len() as u64)
    }

    /// Reserves `bytes`, waiting while they do not fit. `check` is asked every
    /// [`POLL`] (a cancel); past `deadline` the job fails as `timed_out`.
    pub(crate) fn acquire(
        &self,
        bytes: u64,
        deadline: Option<Instant>,
        check: &dyn Fn() -> Result<(), Error>,
    ) -> Result<(), Error> {
        if bytes > self.total {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!(
                    "the job needs an estimated {} ({bytes} bytes) of memory; the pool's \
                     memory budget is {} ({} bytes)",
                    mib(bytes),
                    mib(self.total),
                    self.total
                ),
            )
            .at(Stage::Decode));
        }
        let mut s = self.lock();
        if s.waiting.is_empty() && s.used + bytes <= self.total {
            s.used += bytes;
            return Ok(());
        }
        let ticket = s.next_ticket;
        s.next_ticket += 1;
        s.waiting.push_back((ticket, bytes));
        let waited_since = Instant::now();
        loop {
            let first = s.waiting.front().is_some_and(|&(t, _)| t == ticket);
            if first && s.used + bytes <= self.total {
                s.waiting.pop_front();
                s.used += bytes;
                drop(s);
                // The next in line may fit too.
                self.room.notify_all();
                return Ok(());
            }
            let now = Instant::now();
            let stop = match deadline {
                Some(d) if now >= d => Some(
                    Error::new(
                        ErrorKind::TimedOut,
                        format!(
                            "the deadline passed while the job waited {:?} for memory (it needs \
                         {}; {} of the {} budget in use)",
                            waited_since.elapsed(),
                            mib(bytes),
                            mib(s.used),
                            mib(self.total)
                        ),
                    )
                    .at(Stage::Decode),
                ),
                _ => check().err(),
            };
            if let Some(e) = stop {
                s.waiting.retain(|&(t, _)| t != ticket);
                drop(s);
                self.room.notify_all();
                return Err(e);
            }
            let wait = deadline.map_or(POLL, |d| (d - now).min(POLL));
            s = self
                .room
                .wait_timeout(s, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Gives back what [`Budget::acquire`] reserved.
    pub(crate) fn release(&self, bytes: u64) {
        if bytes == 0 {
            return;
        }
        let mut s = self.lock();
        s.used = s.used.saturating_sub(bytes);
        drop(s);
        self.room.notify_all();
    }
}

/// The default budget: half of the memory this process may use (the machine's, or its
/// cgroup's limit when lower), at least 512 MiB; 2 GiB where neither can be read.
pub fn default_memory_budget() -> u64 {
    let machine = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map(|kib| kib * 1024)
    });
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok()?.trim().parse::<u64>().ok());
    match (machine, cgroup) {
        (None, None) => 2 << 30,
        (m, c) => (m.unwrap_or(u64::MAX).min(c.unwrap_or(u64::MAX)) / 2).max(512 << 20),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn over_the_whole_budget_fails_at_once_naming_both() {
        let b = Budget::new(1000);
        let e = b.acquire(1001, None, &|| Ok(())).unwrap_err();
        assert_eq!(e.kind, ErrorKind::LimitExceeded);
        assert!(e.message.contains("1001 bytes") && e.message.contains("1000 bytes"));
    }

    #[test]
    fn waits_for_room_first_come_first_served() {
        let b = Arc::new(Budget::new(100));
        b.acquire(60, None, &|| Ok(())).unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let big = {
            let (b, order) = (b.clone(), order.clone());
            std::thread::spawn(move || {
                b.acquire(95, None, &|| Ok(())).unwrap();
                order.lock().unwrap().push("big");
                b.release(95);
            })
        };
        while b.usage().1 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        // A small job that would fit now still waits behind the big one.
        let small = {
            let (b, order) = (b.clone(), order.clone());
            std::thread::spawn(move || {
                b.acquire(10, None, &|| Ok(())).unwrap();
                order.lock().unwrap().push("small");
                b.release(10);
            })
        };
        // Both wait (the small one behind the big one, although it would fit).
        while b.usage().1 < 2 {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(20));
        assert!(order.lock().unwrap().is_empty());
        // The big one gets in; the small one does not fit beside it, so the order is
        // decided by the budget alone, not by thread scheduling.
        b.release(60);
        big.join().unwrap();
        small.join().unwrap();
        assert_eq!(*order.lock().unwrap(), ["big", "small"]);
        assert_eq!(b.usage(), (0, 0));
    }

    #[test]
    fn a_deadline_or_cancel_ends_the_wait() {
        let b = Budget::new(100);
        b.acquire(100, None, &|| Ok(())).unwrap();
        let t = Instant::now();
        let e = b
            .acquire(1, Some(Instant::now() + Duration::from_millis(60)), &|| {
                Ok(())
            })
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::TimedOut);
        assert!(t.elapsed() >= Duration::from_millis(60) && t.elapsed() < Duration::from_secs(2));
        let e = b
            .acquire(1, None, &|| {
                Err(Error::new(ErrorKind::Cancelled, "cancelled"))
            })
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Cancelled);
        assert_eq!(b.usage(), (100, 0));
    }
}
