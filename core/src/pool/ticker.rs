//! The stats ticker: a thread that emits a `stats` event every `stats_interval`, while
//! anybody is subscribed, until the pool shuts down. It sleeps on its stop channel,
//! so stopping it is immediate.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{RecvTimeoutError, Sender};

use super::shared::Shared;
use crate::error::{Error, ErrorKind};
use crate::events::Event;

/// The running ticker thread.
pub(crate) struct Ticker {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

impl Ticker {
    /// Starts the ticker.
    pub(crate) fn start(shared: Arc<Shared>, every: Duration) -> Result<Ticker, Error> {
        let (stop, stop_rx) = crossbeam_channel::bounded::<()>(0);
        let thread = std::thread::Builder::new()
            .name("conveyor-stats".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stop_rx.recv_timeout(every) {
                    if shared.events.has_subscribers() {
                        let stats = shared.snapshot();
                        shared.events.emit(|| Event::Stats { stats });
                    }
                }
            })
            .map_err(|e| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("cannot start the stats thread: {e}"),
                )
            })?;
        Ok(Ticker { stop, thread })
    }

    /// Stops the ticker and waits for its thread.
    pub(crate) fn stop(self) {
        drop(self.stop);
        let _ = self.thread.join();
    }
}
