//! The router and shared state, the error-kind → HTTP status table, and the request
//! log (one line per request, with the job ids it touched).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use conveyor::{ErrorKind, Pool};
use tokio::sync::watch;

/// State shared by all handlers.
#[derive(Clone)]
pub struct AppState {
    pub pool: Arc<Pool>,
    pub output_dir: PathBuf,
    pub job_timeout: Duration,
    /// Becomes `true` when the server starts shutting down.
    pub stopping: watch::Receiver<bool>,
}

impl AppState {
    pub fn new(
        pool: Arc<Pool>,
        output_dir: PathBuf,
        job_timeout: Duration,
        stopping: watch::Receiver<bool>,
    ) -> Self {
        AppState {
            pool,
            output_dir,
            job_timeout,
            stopping,
        }
    }
}

/// Job ids a response concerns, for the request log.
#[derive(Clone, Debug, Default)]
pub struct JobIds(pub Vec<u64>);

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

/// `{"error":{"code":..,"message":..}}` with the matching status.
pub fn error_response(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = serde_json::json!({"error": {"code": code, "message": message.into()}});
    (status, Json(body)).into_response()
}

pub fn router(state: AppState, max_body: usize) -> Router {
    Router::new()
        .route("/", get(page))
        .route(
            "/uploads",
            axum::routing::post(crate::uploads::post_uploads),
        )
        .route("/uploads/{id}/{output}", get(crate::uploads::get_output))
        .route("/events", get(crate::sse::events))
        .route("/healthz", get(healthz))
        .route("/metrics", get(crate::metrics::metrics))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

async fn page() -> Html<&'static str> {
    Html(include_str!("page.html"))
}

async fn healthz(State(app): State<AppState>) -> Response {
    if *app.stopping.borrow() || app.pool.is_shut_down() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "stopping"})),
        )
            .into_response();
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
