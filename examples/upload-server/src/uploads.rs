//! `POST /uploads` and `GET /uploads/{id}/{output}`.
//!
//! POST takes either a raw image body or `multipart/form-data` with one or more files.
//! Each file goes to the pool with `try_submit_with` (never blocking the async runtime;
//! a full queue answers 503 with `Retry-After`), then the handler awaits the outcome the
//! pool delivers through a oneshot channel.
//!
//! Responses:
//! - raw body: `201` with one upload object, or the error status with
//!   `{"job_id":..,"error":{"code","message","stage"}}`;
//! - multipart: `{"uploads":[..]}` with one object per file, `201` when all succeeded,
//!   else the first failure's status, and that failure also as top-level `error`.
//!
//! Status per error kind: `app::status_for` (422 bad image, 413 over the limits or
//! body cap, 503 queue full or shutting down, 504 deadline).

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use conveyor::{ErrorKind, Job, Outcome, OutputFormat};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::app::{error_response, status_for, AppState, JobIds};

/// One file's fate.
enum Item {
    Done {
        filename: Option<String>,
        outcome: Box<Outcome>,
    },
    Refused {
        filename: Option<String>,
        kind: ErrorKind,
    },
}

impl Item {
    fn status(&self) -> StatusCode {
        match self {
            Item::Done { outcome, .. } => {
                outcome.error_kind().map_or(StatusCode::CREATED, status_for)
            }
            Item::Refused { kind, .. } => status_for(*kind),
        }
    }

    fn job_id(&self) -> Option<u64> {
        match self {
            Item::Done { outcome, .. } => Some(outcome.job_id.0),
            Item::Refused { .. } => None,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Item::Refused { filename, kind } => json!({
                "filename": filename,
                "error": {"code": kind, "message": refusal_message(*kind), "stage": "submit"},
            }),
            Item::Done { filename, outcome } => {
                let id = outcome.job_id.0;
                match &outcome.result {
                    Err(e) => json!({
                        "job_id": id, "filename": filename,
                        "error": {"code": e.kind, "message": e.message, "stage": e.stage},
                    }),
                    Ok(r) => {
                        let outputs: Vec<Value> = r
                            .outputs
                            .iter()
                            .map(|o| {
                                let file = format!("{}.{}", o.name, o.format.extension());
                                json!({
                                    "name": o.name, "format": o.format, "width": o.width, "height": o.height,
                                    "bytes": o.byte_len, "path": format!("{id}/{file}"),
                                    "url": format!("/uploads/{id}/{file}"),
                                })
                            })
                            .collect();
                        json!({
                            "job_id": id, "filename": filename, "input": r.input,
                            "outputs": outputs, "timings": r.timings,
                        })
                    }
                }
            }
        }
    }
}

fn refusal_message(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::QueueFull => "the server is busy: the job queue is full; retry later",
        ErrorKind::ShutDown => "the server is shutting down",
        _ => "the upload was not accepted",
    }
}

/// Hands one file to the pool without blocking; returns a future for its outcome.
fn submit(
    app: &AppState,
    data: Bytes,
    filename: Option<String>,
) -> Result<(Option<String>, oneshot::Receiver<Outcome>), Item> {
    let (tx, rx) = oneshot::channel();
    let job = Job::new(data).with_timeout(app.job_timeout);
    match app.pool.try_submit_with(job, move |o| {
        let _ = tx.send(o);
    }) {
        Ok(_) => Ok((filename, rx)),
        Err(e) => Err(Item::Refused {
            filename,
            kind: e.kind(),
        }),
    }
}

async fn finish(pending: Result<(Option<String>, oneshot::Receiver<Outcome>), Item>) -> Item {
    match pending {
        Err(item) => item,
        Ok((filename, rx)) => match rx.await {
            Ok(outcome) => Item::Done {
                filename,
                outcome: Box::new(outcome),
            },
            // Unreachable: the pool delivers every accepted job's outcome.
            Err(_) => Item::Refused {
                filename,
                kind: ErrorKind::ShutDown,
            },
        },
    }
}

fn with_headers(status: StatusCode, body: Value, ids: Vec<u64>) -> Response {
    let mut res = (status, Json(body)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    res.extensions_mut().insert(JobIds(ids));
    res
}

pub async fn post_uploads(State(app): State<AppState>, req: Request) -> Response {
    if *app.stopping.borrow() {
        let mut res = error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "shut_down",
            "the server is shutting down",
        );
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return res;
    }
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_multipart {
        let body = match Bytes::from_request(req, &app).await {
            Ok(b) => b,
            Err(rej) => return body_error(rej.status(), rej.body_text()),
        };
        let item = finish(submit(&app, body, None)).await;
        let status = item.status();
        let ids = item.job_id().into_iter().collect();
        return with_headers(status, item.to_json(), ids);
    }

    let mut multipart = match Multipart::from_request(req, &app).await {
        Ok(m) => m,
        Err(rej) => return body_error(rej.status(), rej.body_text()),
    };
    let mut pending = Vec::new();
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let filename = field.file_name().map(str::to_owned);
                let is_file = filename.is_some()
                    || field
                        .content_type()
                        .is_some_and(|t| !t.starts_with("text/"));
                if !is_file {
                    continue; // plain form fields are ignored
                }
                match field.bytes().await {
                    Ok(data) => pending.push(submit(&app, data, filename)),
                    Err(e) => return body_error(e.status(), e.body_text()),
                }
            }
            Ok(None) => break,
            Err(e) => return body_error(e.status(), e.body_text()),
        }
    }
    if pending.is_empty() {
        return error_response(
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            "the multipart body has no file field",
        );
    }
    let mut items = Vec::with_capacity(pending.len());
    for p in pending {
        items.push(finish(p).await);
    }
    let status = items
        .iter()
        .map(Item::status)
        .find(|s| *s != StatusCode::CREATED)
        .unwrap_or(StatusCode::CREATED);
    let uploads: Vec<Value> = items.iter().map(Item::to_json).collect();
    let mut body = json!({ "uploads": uploads });
    if let Some(first_error) = uploads.iter().find_map(|u| u.get("error")) {
        body["error"] = first_error.clone();
    }
    let ids = items.iter().filter_map(Item::job_id).collect();
    with_headers(status, body, ids)
}

fn body_error(status: StatusCode, text: String) -> Response {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        error_response(
            status,
            "limit_exceeded",
            format!("request body too large: {text}"),
        )
    } else {
        error_response(status, "invalid_argument", text)
    }
}

/// `{output}` is `name.ext` or just `name`; both halves are checked against the
/// recipe's naming rule, so no path can leave the output directory.
pub async fn get_output(
    State(app): State<AppState>,
    Path((id, output)): Path<(String, String)>,
) -> Response {
    let bad = || {
        error_response(
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            "invalid upload id or output name",
        )
    };
    if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return bad();
    }
    let (name, ext) = match output.split_once('.') {
        Some((n, e)) => (n, Some(e)),
        None => (output.as_str(), None),
    };
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return bad();
    }
    let formats: Vec<OutputFormat> = match ext {
        Some(e) => match OutputFormat::from_extension(e) {
            Some(f) => vec![f],
            None => return bad(),
        },
        None => vec![OutputFormat::Jpeg, OutputFormat::Webp, OutputFormat::Png],
    };
    for f in formats {
        let path = app
            .output_dir
            .join(&id)
            .join(format!("{name}.{}", f.extension()));
        if let Ok(data) = tokio::fs::read(&path).await {
            return (
                [
                    (header::CONTENT_TYPE, f.mime_type()),
                    (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                ],
                data,
            )
                .into_response();
        }
    }
    error_response(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no output {output:?} for upload {id}"),
    )
}
