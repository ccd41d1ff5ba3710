//! The accept loop and the connections: a cap on open connections (overall and per
//! client address), HTTP/1.1 with a header read timeout that also closes idle
//! keep-alive connections, and shutdown with a deadline.
//!
//! A connection over a cap is answered with a canned `503` and closed at once, so it
//! holds no file handle and no task. When the stop signal comes, the listener closes,
//! idle connections close, busy ones finish their request; whatever is still open at
//! the drain deadline (a half-sent request, an event stream nobody reads) is dropped.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// Connection settings.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Open connections at most.
    pub max_connections: usize,
    /// Open connections from one client address at most.
    pub max_per_ip: usize,
    /// Time to receive a whole request head, counted from the connection's opening
    /// or its previous response (so also the keep-alive idle timeout).
    pub header_timeout: Duration,
}

/// What the server answers on a connection over a cap, before closing it.
const OVER_CAP: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 92\r\n\r\n\
{\"error\":{\"code\":\"too_many_connections\",\"message\":\"too many open connections; retry later\"}}";

/// Counts open connections per client address.
#[derive(Debug, Default)]
struct PerIp(Mutex<HashMap<IpAddr, usize>>);

/// One connection's place in [`PerIp`], given back on drop.
struct IpSlot(Arc<PerIp>, IpAddr);

impl PerIp {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(IpSlot(self.clone(), ip))
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut map = self.0 .0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.1);
            }
        }
    }
}

/// Serves `router` on `listener` until `stop` turns `true`, then lets open
/// connections finish for at most `drain`. Returns how many connections were still
/// open then and were dropped.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    mut stop: watch::Receiver<bool>,
    drain: Duration,
) -> usize {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let per_ip = Arc::new(PerIp::default());
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Ok(permit) = open.clone().try_acquire_owned() else {
                        refuse(stream, peer, "the server");
                        continue;
                    };
                    let Some(slot) = per_ip.take(peer.ip(), limits.max_per_ip) else {
                        refuse(stream, peer, "one address");
                        continue;
                    };
                    conns.spawn(connection(stream, router.clone(), limits, stop.clone(), permit, slot));
                }
                Err(e) => {
                    // Out of file handles (or another transient error): back off
                    // instead of spinning; open connections keep being served.
                    warn!(error = %e, "accept failed; retrying shortly");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let deadline = Instant::now() + drain;
    while !conns.is_empty() {
        if tokio::time::timeout_at(deadline, conns.join_next())
            .await
            .is_err()
        {
            let left = conns.len();
            info!(
                connections = left,
                "drain deadline reached: closing stalled connections"
            );
            conns.abort_all();
            while conns.join_next().await.is_some() {}
            return left;
        }
    }
    0
}

/// Resolves once `stop` is `true` (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

fn refuse(stream: TcpStream, peer: SocketAddr, what: &str) {
    debug!(%peer, "connection refused: {what} is at its connection cap");
    // Best effort: one non-blocking write, then close.
    let _ = stream.try_write(OVER_CAP);
}

async fn connection(
    stream: TcpStream,
    router: Router,
    limits: ConnLimits,
    mut stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
    _slot: IpSlot,
) {
    let _ = stream.set_nodelay(true);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(64 * 1024);
    let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stopped(&mut stop) => {}
    }
    // Stopping: an idle connection closes now; a busy one after its response.
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canned_answer_has_the_declared_length() {
        let text = std::str::from_utf8(OVER_CAP).unwrap();
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(text.contains(&format!("content-length: {}\r\n", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "too_many_connections");
    }

    #[test]
    fn per_ip_slots_are_given_back() {
        let per_ip = Arc::new(PerIp::default());
        let ip: IpAddr = [127, 0, 0, 1].into();
        let a = per_ip.take(ip, 2).unwrap();
        let _b = per_ip.take(ip, 2).unwrap();
        assert!(per_ip.take(ip, 2).is_none());
        drop(a);
        assert!(per_ip.take(ip, 2).is_some());
    }
}
