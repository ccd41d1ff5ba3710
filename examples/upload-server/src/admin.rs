//! `POST /admin/reload`: the same reload as `SIGHUP`, for operators who cannot send
//! signals to the process (a container platform, a remote deploy script) and who want
//! to know at once whether the new config was taken.
//!
//! Off by default: the route exists only when the server was started with an admin
//! token (`--admin-token`, better given as `CONVEYOR_ADMIN_TOKEN` so that it does not
//! show in the process list), and without one it answers `404` like any unknown
//! route. A request must carry `Authorization: Bearer <token>`; the token is compared
//! in time that does not depend on where it first differs. A missing or wrong token
//! gets `401` with `WWW-Authenticate: Bearer`; a refused config `422` with the usual
//! JSON error shape, naming the file by its flag (never by its path); an applied one
//! `200` with `{"status":"reloaded","generation":n,"needs_restart":[..]}`.
//!
//! The reload itself lives in `reload.rs` (cluster mode: `cluster_live.rs`, which
//! serves this route with the same token rules and answers).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

use crate::app::{error_response, json_response};
use crate::reload::{Applied, Refusal};
use crate::state::AppState;

/// The shortest admin token accepted at start, in bytes.
pub const MIN_TOKEN_LEN: usize = 16;

/// Whether `given` equals `expected`, in time that depends only on `expected`'s
/// length (not on where the two first differ).
fn same_token(expected: &[u8], given: &[u8]) -> bool {
    let mut diff = u8::from(expected.len() != given.len());
    for (i, &e) in expected.iter().enumerate() {
        diff |= e ^ given.get(i).copied().unwrap_or(!e);
    }
    std::hint::black_box(diff) == 0
}

/// Whether the request's `Authorization` header carries the admin token.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return false;
    };
    let bytes = value.as_bytes();
    let Some(given) = bytes
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case(b"bearer "))
        .map(|_| &bytes[7..])
    else {
        return false;
    };
    same_token(token.as_bytes(), given)
}

/// The answer for a request the admin route must not serve: `404` when the route is
/// off (no token), `401` without the right bearer token; `None` lets it through.
pub fn gate(token: Option<&str>, headers: &HeaderMap) -> Option<Response> {
    let Some(token) = token else {
        return Some(error_response(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such route",
        ));
    };
    if authorized(headers, token) {
        return None;
    }
    let mut res = error_response(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "this route needs the admin token as 'Authorization: Bearer <token>'",
    );
    res.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    Some(res)
}

/// The `200` answer for an applied reload.
pub fn applied(applied: &Applied) -> Response {
    json_response(
        StatusCode::OK,
        serde_json::json!({
            "status": "reloaded",
            "generation": applied.generation,
            "needs_restart": applied.needs_restart,
        }),
    )
}

/// The `422` answer for a refused config.
pub fn refused(refusal: &Refusal) -> Response {
    error_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        refusal.kind.as_str(),
        format!(
            "config refused, the config in force stays: {}",
            refusal.public_message()
        ),
    )
}

/// `POST /admin/reload`.
pub async fn reload(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(res) = gate(app.admin_token.as_deref(), &headers) {
        return res;
    }
    let reloader = app.reloader.clone();
    match tokio::task::spawn_blocking(move || reloader.reload("admin")).await {
        Ok(Ok(a)) => applied(&a),
        Ok(Err(refusal)) => refused(&refusal),
        Err(_) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal server error",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token(b"0123456789abcdef", b"0123456789abcdef"));
        assert!(!same_token(b"0123456789abcdef", b"0123456789abcdeF"));
        assert!(!same_token(b"0123456789abcdef", b"0123456789abcde"));
        assert!(!same_token(b"0123456789abcdef", b"0123456789abcdef0"));
        assert!(!same_token(b"0123456789abcdef", b""));
    }

    #[test]
    fn only_a_bearer_header_with_the_token_passes() {
        let token = "0123456789abcdef";
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
            h
        };
        assert!(authorized(&with("Bearer 0123456789abcdef"), token));
        assert!(authorized(&with("bearer 0123456789abcdef"), token));
        assert!(!authorized(&with("Basic 0123456789abcdef"), token));
        assert!(!authorized(&with("Bearer 0123456789abcdeX"), token));
        assert!(!authorized(&with("Bearer"), token));
        assert!(!authorized(&HeaderMap::new(), token));
    }
}
