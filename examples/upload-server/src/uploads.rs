//! `POST /uploads` and `GET /uploads/{id}/{output}`.
//!
//! POST takes either a raw image body or `multipart/form-data` with one or more files.
//! Before any body byte is read, the request must be admitted (`admission.rs`: queue
//! room and the body-bytes budget; otherwise 503 with `Retry-After`), and a declared
//! length over the cap gets 413. The body is then read under the size cap and the
//! minimum rate (`body.rs`). Each file becomes one pool job (`try_submit_with`, never
//! blocking the runtime) whose outputs are saved under a fresh upload id
//! (`ids.rs`), all together or not at all (the core's staging folder). If the client
//! goes away before its answer, its jobs are cancelled, so they leave nothing.
//!
//! Responses:
//! - raw body: `201` with one upload object: the job's wire outcome (`conveyor::wire`:
//!   `key`, `ok`, `input`, `outputs`, `memory_estimate`, `timings`) without the pool's
//!   `job_id`, plus the upload `id` (the job's key), `filename`, and per output its
//!   `path` under the output folder and `url`; or the error status with
//!   `{"error":{"code","numeric_code","stage","message"}}` (the wire error);
//! - multipart: each file is its own upload, saved or not on its own; the body is
//!   `{"uploads":[..],"saved":n,"failed":m}` with one object per file in order, each
//!   either a saved upload (with `id`) or an `error`. The status is `201` when every
//!   file was saved, `207` when some were and some were not, and the first failure's
//!   status when none was; with any failure, the first one is also the top-level
//!   `error`. A file listed with an `error` has no files on disk, and a file listed
//!   with an `id` has all of its outputs.
//!
//! Status per error kind: `app::status_for` (422 bad image, 413 over the limits or
//! body cap, 503 queue full or shutting down, 504 deadline). Error messages never name
//! server paths: a failed save says so and the details go to the log.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use conveyor::wire::{output_file_name, ErrorJson};
use conveyor::{Error, ErrorKind, Job, JobId, Outcome, OutputFormat, Stage};
use serde_json::{json, Value};
use tokio::sync::{oneshot, OwnedSemaphorePermit};

use crate::app::{error_response, json_response, status_for, JobIds};
use crate::body::{self, BodyError};
use crate::ids;
use crate::state::AppState;

/// One file's fate.
enum Item {
    Done {
        filename: Option<String>,
        upload_id: String,
        outcome: Box<Outcome>,
    },
    Refused {
        filename: Option<String>,
        kind: ErrorKind,
    },
}

/// A job submitted and not yet answered.
struct Waiting {
    filename: Option<String>,
    upload_id: String,
    job_id: JobId,
    rx: oneshot::Receiver<Outcome>,
}

/// The jobs of one request; those not yet answered when it is dropped (the client
/// went away, or the drain deadline ended the connection) are cancelled.
struct Jobs {
    app: AppState,
    waiting: Vec<Result<Waiting, Item>>,
}

impl Drop for Jobs {
    fn drop(&mut self) {
        for w in self.waiting.iter().flatten() {
            self.app.pool.cancel(w.job_id);
            self.app.in_flight.remove(w.job_id);
        }
    }
}

impl Jobs {
    /// Awaits every outcome, in submission order.
    async fn finish(mut self) -> Vec<Item> {
        let mut items = Vec::with_capacity(self.waiting.len());
        while !self.waiting.is_empty() {
            // Await the first job in place, so a drop meanwhile still cancels it.
            let outcome = match &mut self.waiting[0] {
                Ok(w) => Some((&mut w.rx).await),
                Err(_) => None,
            };
            let item = match (self.waiting.remove(0), outcome) {
                (Err(refused), _) => refused,
                (Ok(w), Some(Ok(outcome))) => {
                    self.app.in_flight.remove(w.job_id);
                    Item::Done {
                        filename: w.filename,
                        upload_id: w.upload_id,
                        outcome: Box::new(outcome),
                    }
                }
                // Unreachable: the pool delivers every accepted job's outcome.
                (Ok(w), _) => {
                    self.app.in_flight.remove(w.job_id);
                    Item::Refused {
                        filename: w.filename,
                        kind: ErrorKind::ShutDown,
                    }
                }
            };
            items.push(item);
        }
        items
    }
}

/// The message a client sees for a failed job: the pool's own for the client's
/// mistakes, a fixed one for the server's (whose details, with paths, are logged).
pub(crate) fn public_message(e: &Error) -> String {
    match e.kind {
        ErrorKind::SaveFailed => "the outputs could not be saved".into(),
        ErrorKind::Panicked => "internal error while processing the image".into(),
        ErrorKind::LimitExceeded
        | ErrorKind::QueueFull
        | ErrorKind::ShutDown
        | ErrorKind::TimedOut
        | ErrorKind::InvalidRecipe
        | ErrorKind::InvalidArgument
        | ErrorKind::UnsupportedFormat
        | ErrorKind::DecodeFailed
        | ErrorKind::Cancelled => e.message.clone(),
        _ => "internal error".into(),
    }
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

    /// The file's object in the answer: the wire outcome (`conveyor::wire`) without the
    /// pool's job number, which never leaves the server, plus the upload `id`, the
    /// `filename`, and each output's `path` made relative to the output folder (the
    /// pipeline's own path) with the `url` that serves it. A refused or failed file has
    /// only `filename` and the wire `error` (a fixed message where the real one could
    /// name server paths).
    fn to_json(&self, output_dir: &std::path::Path) -> Value {
        match self {
            Item::Refused { filename, kind } => {
                let e = Error::new(*kind, refusal_message(*kind)).at(Stage::Submit);
                json!({"filename": filename, "error": ErrorJson::from(&e)})
            }
            Item::Done {
                filename,
                upload_id: id,
                outcome,
            } => {
                if let Err(e) = &outcome.result {
                    if matches!(e.kind, ErrorKind::SaveFailed | ErrorKind::Panicked) {
                        tracing::error!(job_id = outcome.job_id.0, error = %e, "job failed");
                    }
                    let mut public = e.clone();
                    public.message = public_message(e);
                    return json!({"filename": filename, "error": ErrorJson::from(&public)});
                }
                let mut v = serde_json::to_value(&**outcome).expect("outcomes serialise");
                let obj = v.as_object_mut().expect("an outcome is an object");
                obj.remove("job_id");
                for o in obj
                    .get_mut("outputs")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    let rel = o["path"]
                        .as_str()
                        .map(std::path::Path::new)
                        .and_then(|p| p.strip_prefix(output_dir).ok())
                        .map(|p| p.to_string_lossy().replace('\\', "/"))
                        .unwrap_or_default();
                    o["url"] = json!(format!("/uploads/{rel}"));
                    o["path"] = json!(rel);
                }
                let mut out = serde_json::Map::new();
                out.insert("id".into(), json!(id));
                out.insert("filename".into(), json!(filename));
                out.extend(std::mem::take(obj));
                Value::Object(out)
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

/// Hands one file to the pool without blocking. The body budget's permit rides with
/// the job and is given back when its outcome is delivered.
fn submit(
    app: &AppState,
    data: Bytes,
    filename: Option<String>,
    permit: Arc<OwnedSemaphorePermit>,
) -> Result<Waiting, Item> {
    let (tx, rx) = oneshot::channel();
    let upload_id = ids::new_upload_id();
    let job = Job::new(data)
        .with_timeout(app.job_timeout.get())
        .with_key(upload_id.clone());
    match app.pool.try_submit_with(job, move |o| {
        let _ = tx.send(o);
        drop(permit);
    }) {
        Ok(job_id) => {
            app.in_flight.add(job_id);
            Ok(Waiting {
                filename,
                upload_id,
                job_id,
                rx,
            })
        }
        Err(e) => Err(Item::Refused {
            filename,
            kind: e.kind(),
        }),
    }
}

fn with_ids(mut res: Response, ids: Vec<u64>) -> Response {
    res.extensions_mut().insert(JobIds(ids));
    res
}

/// The answer for a body that broke a limit; the connection is closed after it.
fn body_error(e: BodyError) -> Response {
    let mut res = match e {
        BodyError::TooLarge => error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "limit_exceeded",
            e.to_string(),
        ),
        BodyError::TooSlow => error_response(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            e.to_string(),
        ),
        BodyError::Broken => {
            error_response(StatusCode::BAD_REQUEST, "invalid_argument", e.to_string())
        }
    };
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

/// `POST /uploads`.
pub async fn post_uploads(State(app): State<AppState>, req: Request) -> Response {
    if *app.stopping.borrow() {
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "shut_down",
            "the server is shutting down",
        );
    }
    let policy = app.body;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > policy.max_bytes) {
        return body_error(BodyError::TooLarge);
    }
    let mut admitted = match app.admission.admit(declared.unwrap_or(policy.max_bytes)) {
        Ok(a) => a,
        Err(refusal) => {
            let mut res = error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                refusal.code(),
                refusal.message(),
            );
            // The body is not read, so the connection cannot be reused.
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return res;
        }
    };
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let (parts, raw) = req.into_parts();
    let (guarded, verdict) = body::guard(raw, policy);

    if !is_multipart {
        let data = match body::read_all(guarded, &verdict, declared, policy).await {
            Ok(d) => d,
            Err(e) => return body_error(e),
        };
        let jobs = Jobs {
            waiting: vec![submit(&app, data, None, admitted.permit.clone())],
            app: app.clone(),
        };
        admitted.done_reading();
        drop(admitted);
        let item = jobs.finish().await.remove(0);
        let ids = item.job_id().into_iter().collect();
        return with_ids(
            json_response(item.status(), item.to_json(&app.output_dir)),
            ids,
        );
    }

    let req = Request::from_parts(parts, guarded);
    let mut multipart = match Multipart::from_request(req, &app).await {
        Ok(m) => m,
        Err(rej) => {
            return error_response(
                rej.status(),
                "invalid_argument",
                "not a valid multipart body",
            )
        }
    };
    let mut jobs = Jobs {
        app: app.clone(),
        waiting: Vec::new(),
    };
    let mut failure: Option<BodyError> = None;
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
                    Ok(data) => {
                        jobs.waiting
                            .push(submit(&app, data, filename, admitted.permit.clone()))
                    }
                    Err(_) => {
                        failure = Some(verdict.get().unwrap_or(BodyError::Broken));
                        break;
                    }
                }
            }
            Ok(None) => break,
            Err(_) => {
                failure = Some(verdict.get().unwrap_or(BodyError::Broken));
                break;
            }
        }
    }
    admitted.done_reading();
    drop(admitted);
    drop(multipart);
    if jobs.waiting.is_empty() {
        return match failure {
            Some(e) => body_error(e),
            None => error_response(
                StatusCode::BAD_REQUEST,
                "invalid_argument",
                "the multipart body has no file field",
            ),
        };
    }
    // Files already handed to the pool are answered for what they became, even when
    // the rest of the body failed.
    let items = jobs.finish().await;
    multipart_response(items, failure, &app.output_dir)
}

fn multipart_response(
    items: Vec<Item>,
    failure: Option<BodyError>,
    output_dir: &std::path::Path,
) -> Response {
    let saved = items
        .iter()
        .filter(|i| i.status() == StatusCode::CREATED)
        .count();
    let uploads: Vec<Value> = items.iter().map(|i| i.to_json(output_dir)).collect();
    let failed = items.len() - saved;
    let first_error = uploads.iter().find_map(|u| u.get("error")).cloned();
    let status = if saved == items.len() && failure.is_none() {
        StatusCode::CREATED
    } else if saved > 0 {
        StatusCode::MULTI_STATUS
    } else {
        match failure {
            Some(BodyError::TooLarge) => StatusCode::PAYLOAD_TOO_LARGE,
            Some(BodyError::TooSlow) => StatusCode::REQUEST_TIMEOUT,
            Some(BodyError::Broken) => StatusCode::BAD_REQUEST,
            None => items
                .iter()
                .map(Item::status)
                .find(|s| *s != StatusCode::CREATED)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        }
    };
    let mut body = json!({ "uploads": uploads, "saved": saved, "failed": failed });
    if let Some(e) = failure {
        let (code, status_code) = match e {
            BodyError::TooLarge => ("limit_exceeded", 413),
            BodyError::TooSlow => ("request_timeout", 408),
            BodyError::Broken => ("invalid_argument", 400),
        };
        body["body_error"] = json!({"code": code, "status": status_code, "message": e.to_string()});
        body["error"] = first_error
            .clone()
            .unwrap_or_else(|| json!({"code": code, "message": e.to_string()}));
    } else if let Some(first) = first_error {
        body["error"] = first;
    }
    let ids = items.iter().filter_map(Item::job_id).collect();
    let mut res = with_ids(json_response(status, body), ids);
    if failure.is_some() {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}

/// `GET /uploads/{id}/{output}`: `{output}` is `name.ext` or just `name`; the id must
/// be a canonical upload id and the name pass the recipe's naming rule, so no path
/// can leave the output directory.
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
    if !ids::is_upload_id(&id) {
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
        None => OutputFormat::ALL.to_vec(),
    };
    for f in formats {
        let path = app.output_dir.join(&id).join(output_file_name(name, f));
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
