//! Stopping the pool: graceful ([`Pool::shutdown`]) or immediate
//! ([`Pool::shutdown_now`]), and on drop. Intake closes first; shutdown then sleeps on
//! the intake gate (a condition variable, see `shared.rs`) until every submit call that
//! got past the gate has sent its job, so no job lands behind the stop messages; then
//! the workers finish what is queued and are joined, the ticker stops, the collector
//! and the event bus close.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::shared::{Inner, Msg};
use super::{worker, Pool};
use crate::events::Event;

impl Pool {
    /// Graceful shutdown: stops intake, lets every queued and running job finish,
    /// joins the workers. Every accepted job has its outcome when this returns.
    /// Idempotent; a concurrent second call waits for the first. Called from one of
    /// the pool's own callbacks it starts the shutdown and returns at once.
    pub fn shutdown(&self) {
        Inner::shutdown(&self.inner, false)
    }

    /// Immediate shutdown: stops intake, finishes queued jobs as `cancelled` without
    /// running them, lets running jobs finish, joins the workers.
    pub fn shutdown_now(&self) {
        Inner::shutdown(&self.inner, true)
    }
}

impl Inner {
    fn shutdown(this: &Arc<Inner>, now: bool) {
        let shared = &this.shared;
        if worker::is_worker_of(shared) {
            // We cannot join ourselves: let a helper thread do it.
            shared.flags.closing.store(true, Ordering::SeqCst);
            if now {
                shared.flags.abort_queued.store(true, Ordering::SeqCst);
            }
            let this = this.clone();
            std::thread::spawn(move || Inner::shutdown(&this, now));
            return;
        }
        // Held to the end: a concurrent second call waits here for the first.
        let mut guard = this.handles.lock().unwrap_or_else(|e| e.into_inner());
        let Some(handles) = guard.take() else { return };
        shared
            .events
            .emit(|| Event::ShuttingDown { graceful: !now });
        if now {
            shared.flags.abort_queued.store(true, Ordering::SeqCst);
        }
        shared.close_intake_and_wait();
        for _ in 0..handles.len() {
            let _ = this.tx.send(Msg::Stop);
        }
        for h in handles {
            let _ = h.join();
        }
        if let Some(ticker) = this.ticker.lock().unwrap_or_else(|e| e.into_inner()).take() {
            ticker.stop();
        }
        shared.outcomes_tx.store(None);
        shared.events.close();
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        Inner::shutdown(&self.inner, false);
    }
}
