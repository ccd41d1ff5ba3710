//! Idle workers helping a lone job: the pool's side of the pipeline's [`Helpers`].
//!
//! A worker that waits for a job also waits on a second, small queue of [`Chore`]s:
//! pieces of a running job (the bands of a large resize) that its worker offers while
//! the job queue is empty and other workers are idle. So on an idle pool one upload
//! uses every worker, and under load (jobs waiting) nothing is offered and each job
//! stays on its own worker. A job never waits for an offered piece nobody took
//! (`pipeline/parallel.rs`): the chore queue is bounded, and an offer that does not fit
//! is simply run by the job's own worker.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_channel::{Receiver, Sender};

use super::shared::Shared;
use crate::pipeline::{Chore, Helpers};

/// Chores offered and not yet taken, per worker at most.
const CHORES_PER_WORKER: usize = 16;

/// The chore queue and the count of workers waiting on it.
pub(crate) struct HelpBoard {
    tx: Sender<Chore>,
    pub(crate) rx: Receiver<Chore>,
    /// Workers waiting for a job or a chore.
    idle: AtomicUsize,
}

impl HelpBoard {
    pub(crate) fn new(workers: usize) -> HelpBoard {
        let (tx, rx) = crossbeam_channel::bounded(workers.max(1) * CHORES_PER_WORKER);
        HelpBoard {
            tx,
            rx,
            idle: AtomicUsize::new(0),
        }
    }

    /// A worker starts waiting; it stops when the returned guard is dropped.
    pub(crate) fn waiting(&self) -> Waiting<'_> {
        self.idle.fetch_add(1, Ordering::SeqCst);
        Waiting(&self.idle)
    }
}

/// A worker counted as idle.
pub(crate) struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs a chore on a worker. A piece catches its own panic; this boundary only keeps
/// the worker alive whatever happens.
pub(crate) fn run_chore(chore: Chore) {
    let _ = catch_unwind(AssertUnwindSafe(|| chore.run()));
}

impl Helpers for Shared {
    fn spare(&self) -> usize {
        if self.stats.queued() > 0 {
            return 0;
        }
        self.help.idle.load(Ordering::SeqCst)
    }

    fn offer(&self, chore: Chore) {
        // A full queue drops the offer; the job's own worker runs the piece.
        let _ = self.help.tx.try_send(chore);
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::Pool;

    fn wait_for(what: &str, cond: impl Fn() -> bool) {
        let t = Instant::now();
        while !cond() {
            assert!(t.elapsed() < Duration::from_secs(10), "never: {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn idle_workers_are_spare_unless_jobs_wait() {
        let pool = Pool::builder().workers(3).build().unwrap();
        let shared = &pool.inner.shared;
        wait_for("3 idle workers", || shared.spare() == 3);
        // A job on the queue: its worker is not lent out.
        shared.stats.accepted();
        assert_eq!(shared.spare(), 0);
        shared.stats.refused();
        assert_eq!(shared.spare(), 3);
    }

    #[test]
    fn an_offered_chore_runs_on_an_idle_worker() {
        let pool = Pool::builder().workers(2).build().unwrap();
        let shared = &pool.inner.shared;
        wait_for("2 idle workers", || shared.spare() == 2);
        let (tx, rx) = std::sync::mpsc::channel();
        shared.offer(Chore::new(move || {
            let _ = tx.send(std::thread::current().name().map(String::from));
        }));
        let name = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(
            name.as_deref()
                .is_some_and(|n| n.starts_with("conveyor-worker-")),
            "{name:?}"
        );
        // Panicking chores do not end the workers that run them: afterwards both still
        // run a chore each, at the same time (a lone worker would wait 5 s and report
        // false; nothing here can hang).
        shared.offer(Chore::new(|| panic!("injected")));
        shared.offer(Chore::new(|| panic!("injected")));
        let together = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (tx, rx) = std::sync::mpsc::channel();
        for _ in 0..2 {
            let (together, tx) = (std::sync::Arc::clone(&together), tx.clone());
            shared.offer(Chore::new(move || {
                together.fetch_add(1, Ordering::SeqCst);
                let t = Instant::now();
                while together.load(Ordering::SeqCst) < 2 && t.elapsed() < Duration::from_secs(5) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let _ = tx.send(together.load(Ordering::SeqCst) == 2);
            }));
        }
        for _ in 0..2 {
            assert!(
                rx.recv_timeout(Duration::from_secs(10)).unwrap(),
                "both workers ran a chore at once"
            );
        }
        pool.shutdown();
    }
}
