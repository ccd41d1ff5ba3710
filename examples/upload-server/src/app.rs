//! The router, the error-kind → HTTP status table, the one JSON error shape, and the
//! request log (one line per request, with the job ids it touched).
//!
//! Every 4xx and 5xx leaves as `{"error":{"code":..,"message":..}}`: handlers build it
//! with [`error_response`], and [`json_errors`] rewrites any other error response
//! (unmatched route, wrong method, an extractor's rejection, a caught panic) into the
//! same shape. The state lives in `state.rs`, the handlers in their own files.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use conveyor::ErrorKind;
use tower_http::catch_panic::CatchPanicLayer;

use crate::state::AppState;

/// Job ids a response concerns, for the request log (never sent to the client).
#[derive(Clone, Debug, Default)]
pub struct JobIds(pub Vec<u64>);

/// Marks a response whose body already has the JSON error shape.
#[derive(Clone, Copy, Debug)]
struct JsonError;

/// The HTTP status for a failed job.
pub fn status_for(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::LimitExceeded => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::QueueFull | ErrorKind::ShutDown => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::TimedOut => StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::InvalidRecipe
        | ErrorKind::InvalidArgument
        | ErrorKind::UnsupportedFormat
        | ErrorKind::DecodeFailed => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Cancelled => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `{"error":{"code":..,"message":..}}` with the matching status; a 503 carries
/// `Retry-After: 1`.
pub fn error_response(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = serde_json::json!({"error": {"code": code, "message": message.into()}});
    json_response(status, body)
}

/// A JSON body with `status`, marked as already shaped; a 503 carries `Retry-After`.
pub fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    let mut res = (status, Json(body)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    res.extensions_mut().insert(JsonError);
    res
}

/// The router over the shared state.
pub fn router(state: AppState) -> Router {
    let max_body = state.body.max_bytes.min(usize::MAX as u64) as usize;
    let mut routes = Router::new()
        .route("/", get(page))
        .route("/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
        .route("/uploads", post(crate::uploads::post_uploads))
        .route("/uploads/{id}/{output}", get(crate::uploads::get_output))
        .route("/events", get(crate::sse::events))
        .route("/healthz", get(healthz))
        .route("/metrics", get(crate::metrics::metrics));
    // Off by default: without a token the route does not exist (404, not 401 or 405).
    if state.admin_token.is_some() {
        routes = routes.route("/admin/reload", post(crate::admin::reload));
    }
    layered(routes.with_state(state), max_body as u64)
}

/// The layers every mode's router wears: the 404 fallback, the body cap, panics
/// caught, the one JSON error shape and the request log.
pub fn layered(routes: Router, max_body: u64) -> Router {
    routes
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(
            max_body.min(usize::MAX as u64) as usize
        ))
        .layer(CatchPanicLayer::new())
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(log_request))
}

async fn page() -> Html<&'static str> {
    Html(include_str!("page.html"))
}

async fn favicon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("favicon.svg"),
    )
        .into_response()
}

async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// The code and message for an error response that came without the JSON shape.
fn code_for(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::UNAUTHORIZED => ("unauthorized", "this route needs a credential"),
        StatusCode::NOT_FOUND => ("not_found", "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this route does not accept that method",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "limit_exceeded",
            "the request body is larger than the server accepts",
        ),
        StatusCode::REQUEST_TIMEOUT => ("request_timeout", "the request arrived too slowly"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "invalid_argument",
            "the request's content type is not accepted here",
        ),
        StatusCode::SERVICE_UNAVAILABLE => ("unavailable", "the server is busy; retry later"),
        s if s.is_server_error() => ("internal", "internal server error"),
        _ => ("invalid_argument", "the request is not valid"),
    }
}

/// Gives every 4xx and 5xx the JSON error shape (keeping its status and headers such
/// as `Allow`); the original text, which may name internals, is dropped.
async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error())
        || res.extensions().get::<JsonError>().is_some()
    {
        return res;
    }
    let (mut parts, _) = res.into_parts();
    let (code, message) = code_for(status);
    let body = serde_json::json!({"error": {"code": code, "message": message}}).to_string();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        parts
            .headers
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    Response::from_parts(parts, Body::from(body))
}

async fn healthz(State(app): State<AppState>) -> Response {
    if *app.stopping.borrow() || app.pool.is_shut_down() {
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "shut_down",
            "the server is shutting down",
        );
    }
    let s = app.pool.stats();
    Json(serde_json::json!({
        "status": "ok", "version": conveyor::VERSION, "workers": s.workers,
        "queue_capacity": s.queue_capacity, "queued": s.queued, "running": s.running,
    }))
    .into_response()
}

async fn log_request(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let start = Instant::now();
    let res = next.run(req).await;
    let ids = res
        .extensions()
        .get::<JobIds>()
        .map(|j| j.0.clone())
        .unwrap_or_default();
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    if path == "/events" {
        tracing::info!(%method, %path, status = res.status().as_u16(), "event stream opened");
    } else if ids.is_empty() {
        tracing::info!(%method, %path, status = res.status().as_u16(), ms = format!("{ms:.1}"), "request");
    } else {
        tracing::info!(%method, %path, status = res.status().as_u16(), ms = format!("{ms:.1}"), job_id = ?ids, "request");
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_status_has_a_code() {
        for s in [400, 401, 404, 405, 408, 413, 415, 422, 431, 500, 503, 504] {
            let (code, message) = code_for(StatusCode::from_u16(s).unwrap());
            assert!(!code.is_empty() && !message.is_empty(), "{s}");
        }
    }
}
