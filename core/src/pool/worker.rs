//! The worker loop: take a job off the shared queue, check it is still wanted, run the
//! pipeline inside a panic boundary, deliver the outcome. A panic fails its job as
//! `panicked`; the worker carries on with the next job. Before a big job and when it has
//! been idle for [`IDLE`], the worker may give freed memory back to the system
//! (`trim.rs`).

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crossbeam_channel::Receiver;

use super::envelope::Envelope;
use super::shared::{Msg, Shared};
use crate::error::{Error, ErrorKind, Stage};
use crate::events::Event;
use crate::pipeline::{self, Context};

thread_local! {
    /// The pool this thread works for (the address of its `Shared`), or 0.
    static WORKER_OF: Cell<usize> = const { Cell::new(0) };
}

/// Whether the current thread is one of `shared`'s workers.
pub(crate) fn is_worker_of(shared: &Shared) -> bool {
    WORKER_OF.with(Cell::get) == shared as *const Shared as usize
}

/// How long a worker waits for a job before it may trim (`trim.rs`): longer
/// than the gaps of a busy producer, so that a steady stream of jobs never trims here.
const IDLE: std::time::Duration = std::time::Duration::from_millis(100);

pub(crate) fn worker_main(index: usize, rx: Receiver<Msg>, shared: Arc<Shared>) {
    WORKER_OF.with(|w| w.set(Arc::as_ptr(&shared) as usize));
    loop {
        let Some(msg) = next_msg(&rx, &shared) else {
            break;
        };
        match msg {
            Msg::Stop => break,
            Msg::Job(mut env) => {
                // run_job contains its own panic boundary; this one guards the
                // bookkeeping around it, so that no panic can ever end the worker, and
                // the job still gets its one outcome (`complete` delivers only once).
                if catch_unwind(AssertUnwindSafe(|| run_job(index, &mut env, &shared))).is_err() {
                    let queued = env.accepted.elapsed();
                    let e = Error::new(ErrorKind::Panicked, "the pool's bookkeeping panicked");
                    let _ = catch_unwind(AssertUnwindSafe(|| {
                        env.complete(&shared, index, Err(e), queued)
                    }));
                }
            }
        }
    }
}

/// The next message on the job queue, or `None` once it is disconnected. Meanwhile the
/// worker counts as idle and runs the chores that running jobs offer (`help.rs`); after
/// [`IDLE`] without a job it gives back what the last jobs freed (`trim.rs`) and waits on.
fn next_msg(rx: &Receiver<Msg>, shared: &Shared) -> Option<Msg> {
    let mut trimmed = false;
    loop {
        let idle = shared.help.waiting();
        let chore = if trimmed {
            crossbeam_channel::select_biased! {
                recv(rx) -> msg => return msg.ok(),
                recv(shared.help.rx) -> chore => chore,
            }
        } else {
            crossbeam_channel::select_biased! {
                recv(rx) -> msg => return msg.ok(),
                recv(shared.help.rx) -> chore => chore,
                default(IDLE) => {
                    drop(idle);
                    shared.trimmer.idle();
                    trimmed = true;
                    continue;
                }
            }
        };
        drop(idle);
        if let Ok(chore) = chore {
            super::help::run_chore(chore);
        }
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".into())
}

fn run_job(index: usize, env: &mut Envelope, shared: &Shared) {
    let stats = shared.stats.shard(index);
    env.dequeued = true;
    stats.dequeued();
    let queued = env.accepted.elapsed();
    if shared.flags.abort_queued.load(Ordering::SeqCst) {
        let e = Error::new(
            ErrorKind::Cancelled,
            "cancelled by shutdown_now before it ran",
        )
        .at(Stage::Queue);
        return env.complete(shared, index, Err(e), queued);
    }
    if let Err(e) = env.check(shared, Stage::Queue) {
        return env.complete(shared, index, Err(e), queued);
    }
    env.running = true;
    stats.running(1);
    shared.events.emit(|| Event::JobStarted {
        job_id: env.id,
        worker: index,
        queued_us: queued.as_micros() as u64,
    });

    let settings = shared.settings.load();
    // What the job reserved in the memory budget, given back however it ends.
    struct Release<'a>(&'a super::budget::Budget, Cell<u64>);
    impl Drop for Release<'_> {
        fn drop(&mut self) {
            self.0.release(self.1.get());
        }
    }
    let reserved = Release(&shared.budget, Cell::new(0));
    let result = {
        let env_ref = &*env;
        let job = env.job.as_ref().expect("a queued envelope holds its job");
        // Validated once, when the job or the settings were made.
        let recipe = match &job.recipe {
            Some(Ok(valid)) => Ok(valid.recipe()),
            Some(Err(bad)) => Err(bad.1.clone()),
            None => Ok(&settings.default_recipe),
        };
        // The key names the output folder; without an output_dir it is not used.
        let id_key;
        let key = match (&job.key, &shared.output_dir) {
            (Some(k), _) => k.as_str(),
            (None, Some(_)) => {
                id_key = env.id.to_string();
                &id_key
            }
            (None, None) => "",
        };
        let admit = |bytes: u64| {
            shared.budget.acquire(bytes, env_ref.deadline, &|| {
                env_ref.check(shared, Stage::Decode)
            })?;
            reserved.1.set(bytes);
            shared.trimmer.before_job(bytes);
            Ok(())
        };
        let ctx = Context {
            limits: &settings.limits,
            formats: &settings.formats,
            output_dir: shared.output_dir.as_deref(),
            key,
            admit: Some(&admit),
            helpers: Some(shared),
            defer_lossy_webp: false,
        };
        catch_unwind(AssertUnwindSafe(|| {
            #[cfg(feature = "fault-injection")]
            if let Some(fault) = &job.fault {
                use crate::job::Fault;
                match fault {
                    Fault::Panic => panic!("injected panic (fault-injection)"),
                    Fault::Sleep(d) => std::thread::sleep(*d),
                    Fault::Hold(rx) => {
                        let _ = rx.recv();
                    }
                }
            }
            pipeline::execute(&job.data, recipe?, &ctx, &|stage| {
                env_ref.check(shared, stage)
            })
        }))
        .unwrap_or_else(|p| {
            Err(Error::new(
                ErrorKind::Panicked,
                format!("the job panicked: {}", panic_message(&*p)),
            ))
        })
    };
    let estimate = reserved.1.get();
    drop(reserved);
    env.complete(shared, index, result, queued);
    shared.trimmer.after_job(estimate);
}
