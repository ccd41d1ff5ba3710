//! Reading request bodies under a size cap and a minimum rate.
//!
//! A body must keep up with `min_rate` bytes per second after a grace period: byte `n`
//! must have arrived `grace + n / min_rate` after the body started. A client that
//! falls behind (a slowloris sending a byte now and then, or one that stopped) gets
//! 408 and its connection is closed. A body over the cap gets 413. The same guard sits
//! under raw bodies and multipart ones; [`Verdict`] tells the handler which limit
//! ended a body, since the multipart parser reports every body error alike.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use futures_util::StreamExt;
use tokio::time::Instant;

/// The limits on one request body.
#[derive(Debug, Clone, Copy)]
pub struct BodyPolicy {
    /// Largest body, in bytes.
    pub max_bytes: u64,
    /// Slowest accepted average rate after the grace period, in bytes per second.
    pub min_rate: u64,
    /// Time a body may take before the rate applies.
    pub grace: Duration,
}

/// Why a body ended early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Over [`BodyPolicy::max_bytes`].
    TooLarge,
    /// Behind [`BodyPolicy::min_rate`].
    TooSlow,
    /// The client closed the connection or sent a malformed body.
    Broken,
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BodyError::TooLarge => "the request body is larger than the server accepts",
            BodyError::TooSlow => "the request body arrived too slowly",
            BodyError::Broken => "the request body could not be read",
        })
    }
}

impl std::error::Error for BodyError {}

/// What ended a guarded body, shared between the guard and the handler.
#[derive(Debug, Default)]
pub struct Verdict(AtomicU8);

impl Verdict {
    fn set(&self, e: BodyError) {
        let v = match e {
            BodyError::TooLarge => 1,
            BodyError::TooSlow => 2,
            BodyError::Broken => 3,
        };
        self.0.store(v, Ordering::SeqCst);
    }

    /// The limit that ended the body, if one did.
    pub fn get(&self) -> Option<BodyError> {
        match self.0.load(Ordering::SeqCst) {
            1 => Some(BodyError::TooLarge),
            2 => Some(BodyError::TooSlow),
            3 => Some(BodyError::Broken),
            _ => None,
        }
    }
}

/// Wraps `body` so that it fails once it breaks `policy`; the reason lands in the
/// returned [`Verdict`].
pub fn guard(body: Body, policy: BodyPolicy) -> (Body, Arc<Verdict>) {
    let verdict = Arc::new(Verdict::default());
    let start = Instant::now();
    let rate = policy.min_rate.max(1) as f64;
    let v = verdict.clone();
    let stream = futures_util::stream::unfold(
        (body.into_data_stream(), 0u64, false),
        move |(mut stream, seen, done)| {
            let v = v.clone();
            async move {
                if done {
                    return None;
                }
                let due = start + policy.grace + Duration::from_secs_f64(seen as f64 / rate);
                let fail = |e: BodyError| {
                    v.set(e);
                    Some((Err(e), (stream_placeholder(), seen, true)))
                };
                let next = tokio::time::timeout_at(due, stream.next()).await;
                match next {
                    Err(_) => fail(BodyError::TooSlow),
                    Ok(None) => None,
                    Ok(Some(Err(_))) => fail(BodyError::Broken),
                    Ok(Some(Ok(chunk))) => {
                        let seen = seen + chunk.len() as u64;
                        if seen > policy.max_bytes {
                            fail(BodyError::TooLarge)
                        } else {
                            Some((Ok(chunk), (stream, seen, false)))
                        }
                    }
                }
            }
        },
    );
    (Body::from_stream(stream), verdict)
}

/// An empty stream that takes the real one's place once a body has failed (so the
/// connection's body is dropped, not read further).
fn stream_placeholder() -> axum::body::BodyDataStream {
    Body::empty().into_data_stream()
}

/// Reads a whole guarded body (at most `policy.max_bytes`, preallocating up to the
/// declared length).
pub async fn read_all(
    body: Body,
    verdict: &Verdict,
    declared: Option<u64>,
    policy: BodyPolicy,
) -> Result<Bytes, BodyError> {
    let cap = declared.unwrap_or(0).min(policy.max_bytes) as usize;
    let mut buf = Vec::with_capacity(cap);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => buf.extend_from_slice(&c),
            Err(_) => return Err(verdict.get().unwrap_or(BodyError::Broken)),
        }
    }
    Ok(Bytes::from(buf))
}
