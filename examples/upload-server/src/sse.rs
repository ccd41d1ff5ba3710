//! `GET /events`: the pool's broadcast events as Server-Sent Events.
//!
//! Each client has its own subscription. A client that reads too slowly falls behind
//! the bounded buffer and receives a `lagged` event saying how many it missed; the pool
//! never waits for it. Streams end when the server shuts down.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use conveyor::RecvError;
use futures_util::Stream;

use crate::state::AppState;

/// `GET /events`.
pub async fn events(
    State(app): State<AppState>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let sub = app.pool.subscribe();
    let stream = futures_util::stream::unfold(
        (sub, app.stopping.clone()),
        |(mut sub, mut stop)| async move {
            if *stop.borrow() {
                return None;
            }
            let next = tokio::select! {
                ev = sub.recv_async() => ev,
                _ = stop.changed() => return None,
            };
            let sse = match next {
                Ok(ev) => SseEvent::default()
                    .event(ev.name())
                    .data(serde_json::to_string(&ev).unwrap_or_else(|_| "{}".into())),
                Err(RecvError::Lagged(n)) => SseEvent::default()
                    .event("lagged")
                    .data(conveyor::wire::lagged_json(n).to_string()),
                Err(RecvError::Closed) => return None,
            };
            Some((Ok(sse), (sub, stop)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}
