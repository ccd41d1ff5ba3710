//! One job's work split across threads that would otherwise idle.
//!
//! A lone job on an idle pool runs on one worker while the others wait for the next
//! job. Where a stage splits into independent pieces (the bands of a large resize), the
//! pipeline offers the pieces to [`Helpers`]: the pool hands them to its idle workers.
//! The job's own thread then runs, in order, every piece nobody has taken yet, and
//! waits only for the pieces another thread is running already. So a job never waits
//! for a helper that is not there, and a busy pool (no idle workers, or jobs queued)
//! runs every piece on the job's own thread, as before.
//!
//! A piece owns what it reads (an `Arc` of the source pixels), so it can outlive the
//! job: a job that stops (deadline, cancel, error) takes back every piece not started
//! and returns at once; a piece already running on a helper finishes and its result is
//! dropped. Pieces do not ask the job's check themselves; each is small (about one
//! megapixel of output), and the job's thread asks before each piece it runs and while
//! it waits.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::input::Check;
use crate::error::{Error, ErrorKind};

type Piece = Box<dyn FnOnce() + Send>;

/// One independent piece of a stage, as [`run_pieces`] takes it: it delivers its own
/// result (the resize's bands write into the shared output).
pub(crate) type Task = Box<dyn FnOnce() -> Result<(), Error> + Send>;

/// A piece of one job's work that another thread may run. Running it twice, or after
/// the job took it back, does nothing.
pub struct Chore(Arc<Mutex<Option<Piece>>>);

impl Chore {
    /// A chore of `piece` alone (for tests of a [`Helpers`]).
    #[cfg(test)]
    pub(crate) fn new(piece: impl FnOnce() + Send + 'static) -> Chore {
        Chore(Arc::new(Mutex::new(Some(Box::new(piece)))))
    }

    /// Runs the piece, unless the job's own thread has taken it (to run it, or because
    /// the job stopped). Never panics: the piece catches its own panic and reports it
    /// to the job as `panicked`.
    pub fn run(self) {
        if let Some(piece) = take(&self.0) {
            piece();
        }
    }
}

impl std::fmt::Debug for Chore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Chore")
    }
}

/// Threads that can run a job's [`Chore`]s while it runs: the pool's idle workers.
pub trait Helpers: Sync {
    /// How many threads would take a chore now (0 while other jobs wait in the queue,
    /// whose workers should not be lent out).
    fn spare(&self) -> usize;
    /// Offers a chore to the idle threads. One that nobody takes is run by the job's
    /// own thread, so an offer may also be dropped (a full hand-over queue).
    fn offer(&self, chore: Chore);
}

fn take(slot: &Mutex<Option<Piece>>) -> Option<Piece> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// How often the job's thread asks its check while it waits for a helper's piece.
const WAIT_TICK: Duration = Duration::from_millis(10);

/// Runs `tasks`, independent pieces of one stage. With `helpers` that have spare
/// threads, pieces after the first are offered to them; every piece no helper has
/// started runs here. `check` is asked before each piece run here and while waiting; an
/// `Err` from it or from a piece stops the stage with that error (the pieces not started
/// are dropped). On success every piece has run and dropped what it held (a piece drops
/// its captures before it reports).
pub(crate) fn run_pieces(
    helpers: Option<&dyn Helpers>,
    tasks: Vec<Task>,
    check: Check<'_>,
) -> Result<(), Error> {
    let Some(helpers) = helpers.filter(|h| tasks.len() > 1 && h.spare() > 0) else {
        for task in tasks {
            check()?;
            task()?;
        }
        return Ok(());
    };
    let n = tasks.len();
    // Never blocks: each piece sends exactly one result.
    let (tx, rx) = mpsc::sync_channel::<Result<(), Error>>(n);
    let slots: Vec<Arc<Mutex<Option<Piece>>>> = tasks
        .into_iter()
        .map(|task| {
            let tx = tx.clone();
            let piece: Piece = Box::new(move || {
                let result = catch_unwind(AssertUnwindSafe(task)).unwrap_or_else(|_| {
                    Err(Error::new(
                        ErrorKind::Panicked,
                        "a piece of the job panicked",
                    ))
                });
                let _ = tx.send(result);
            });
            Arc::new(Mutex::new(Some(piece)))
        })
        .collect();
    drop(tx);
    // The job's thread starts with the first piece; helpers take from the second on.
    for slot in &slots[1..] {
        helpers.offer(Chore(Arc::clone(slot)));
    }
    // Takes back every piece not started: the job is stopping.
    let abandon = |e: Error| {
        for slot in &slots {
            drop(take(slot));
        }
        Err(e)
    };
    let mut done = 0;
    for slot in &slots {
        if let Err(e) = check() {
            return abandon(e);
        }
        if let Some(piece) = take(slot) {
            piece();
        }
        // Results that came in meanwhile, ours and the helpers'.
        while let Ok(result) = rx.try_recv() {
            done += 1;
            if let Err(e) = result {
                return abandon(e);
            }
        }
    }
    // Every piece has started; wait for those a helper is running.
    while done < n {
        match rx.recv_timeout(WAIT_TICK) {
            Ok(result) => {
                done += 1;
                if let Err(e) = result {
                    return abandon(e);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Err(e) = check() {
                    return abandon(e);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return abandon(Error::new(
                    ErrorKind::Panicked,
                    "internal: a piece of the job ended without a result",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::{Receiver, SyncSender};
    use std::thread;

    use super::*;

    /// A helper thread fed through a channel, as the pool's idle workers are.
    struct OneHelper {
        tx: Mutex<SyncSender<Chore>>,
        spare: usize,
    }

    impl Helpers for OneHelper {
        fn spare(&self) -> usize {
            self.spare
        }
        fn offer(&self, chore: Chore) {
            let _ = self.tx.lock().unwrap().try_send(chore);
        }
    }

    fn helper(spare: usize) -> (OneHelper, Receiver<Chore>) {
        let (tx, rx) = mpsc::sync_channel(64);
        (
            OneHelper {
                tx: Mutex::new(tx),
                spare,
            },
            rx,
        )
    }

    type Log = Arc<Mutex<Vec<(usize, thread::ThreadId)>>>;

    /// Pieces that each note their index and thread in `log`.
    fn tasks(n: usize, log: &Log) -> Vec<Task> {
        (0..n)
            .map(|i| {
                let log = Arc::clone(log);
                Box::new(move || {
                    thread::sleep(Duration::from_millis(5));
                    log.lock().unwrap().push((i, thread::current().id()));
                    Ok(())
                }) as Task
            })
            .collect()
    }

    /// The indices in `log`, sorted.
    fn ran(log: &Log) -> Vec<usize> {
        let mut v: Vec<usize> = log.lock().unwrap().iter().map(|(i, _)| *i).collect();
        v.sort();
        v
    }

    #[test]
    fn every_piece_runs_once_and_helpers_run_some() {
        let (h, rx) = helper(1);
        let worker = thread::spawn(move || {
            let mut ran = 0;
            while let Ok(chore) = rx.recv() {
                chore.run();
                ran += 1;
            }
            ran
        });
        let log = Log::default();
        run_pieces(Some(&h), tasks(8, &log), &|| Ok(())).unwrap();
        assert_eq!(
            ran(&log),
            (0..8).collect::<Vec<_>>(),
            "every piece ran once"
        );
        let me = thread::current().id();
        let log = log.lock().unwrap();
        assert!(log.iter().any(|(_, t)| *t != me), "a helper ran some");
        assert!(
            log.iter().any(|(_, t)| *t == me),
            "the job's thread ran some"
        );
        drop(h);
        // The helper saw 7 offers; those the job's thread took first did nothing.
        assert_eq!(worker.join().unwrap(), 7);
    }

    #[test]
    fn without_a_spare_helper_everything_runs_here() {
        let (h, rx) = helper(0);
        let log = Log::default();
        run_pieces(Some(&h), tasks(4, &log), &|| Ok(())).unwrap();
        assert_eq!(ran(&log), [0, 1, 2, 3]);
        assert!(rx.try_recv().is_err(), "nothing was offered");
        let me = thread::current().id();
        assert!(log.lock().unwrap().iter().all(|(_, t)| *t == me));
    }

    #[test]
    fn a_helper_that_never_comes_does_not_hold_the_job_up() {
        // Offers go into a queue nobody reads.
        let (h, _rx) = helper(3);
        let log = Log::default();
        run_pieces(Some(&h), tasks(5, &log), &|| Ok(())).unwrap();
        assert_eq!(ran(&log), [0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_stop_takes_back_the_pieces_not_started() {
        let (h, rx) = helper(1);
        let asked = AtomicUsize::new(0);
        let log = Log::default();
        let stop = Error::new(ErrorKind::Cancelled, "stop");
        let err = run_pieces(Some(&h), tasks(6, &log), &|| {
            if asked.fetch_add(1, Ordering::SeqCst) == 2 {
                Err(stop.clone())
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Cancelled);
        assert_eq!(
            log.lock().unwrap().len(),
            2,
            "two pieces ran before the stop"
        );
        // The offered chores are empty now.
        for chore in rx.try_iter() {
            chore.run();
        }
        assert_eq!(log.lock().unwrap().len(), 2);
    }

    #[test]
    fn a_panicking_piece_on_a_helper_fails_the_job() {
        let (h, rx) = helper(1);
        let tasks: Vec<Task> = vec![
            Box::new(|| {
                thread::sleep(Duration::from_millis(50));
                Ok(())
            }),
            Box::new(|| panic!("boom")),
        ];
        let worker = thread::spawn(move || {
            for chore in rx.iter() {
                chore.run();
            }
        });
        let err = run_pieces(Some(&h), tasks, &|| Ok(())).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Panicked);
        drop(h);
        worker.join().unwrap();
    }
}
