//! Cluster mode (`--nats URL --store URL`): the same HTTP surface over a NATS
//! JetStream queue and a shared object store instead of the in-process pool and a
//! local folder. The server keeps no job state: any server answers for any job. The
//! design is in `cluster/DESIGN.md` (crate `conveyor-cluster`).
//!
//! Routes:
//! - `POST /uploads` (raw body or multipart, one job per file): each input goes to the
//!   store and a job message to the queue (de-duplicated by its upload id). With
//!   `Prefer: respond-async` or `?async=1` the answer is `202` at once with the
//!   upload's status URL (`Location`); otherwise the server waits for the outcome and
//!   answers as the embedded mode does (`201` with the upload object, or the error's
//!   status). A full stream is `503` with `Retry-After`, as a full pool queue is. A
//!   client that goes away before its synchronous answer cancels its jobs.
//! - `GET /uploads/{id}`: `200` with the upload object once it has its outcome
//!   (`"state":"done"`, `"ok"`, and who recorded it on which delivery:
//!   `"recorded_by"`, `"attempt"`), `202` `{"state":"pending"}` before, `404` for no
//!   such job.
//! - `GET /uploads/{id}/{output}`: an output, only when the job's outcome is a
//!   success that names it.
//! - `DELETE /uploads/{id}`: cancels; answers with the outcome that stands.
//! - `GET /events`: every worker's and server's cluster events, as SSE.
//! - `GET /healthz`: `ok` with the number of jobs in the stream.
//! - `GET /metrics`: reloads, the config generation, uploads accepted and refused here,
//!   jobs in the stream (`cluster_live.rs`).
//! - `POST /admin/reload` (off without an admin token): re-reads the files and
//!   publishes them to every worker and server (`cluster_live.rs`); `SIGHUP` does the
//!   same.
//!
//! The body policy (size cap, minimum rate) and the byte budget of bodies being read
//! are the embedded mode's; the pool's queue room becomes the stream's limit.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use conveyor::wire::{output_file_name, ErrorJson};
use conveyor::{Error, OutputFormat};
use conveyor_cluster::message::is_job_id;
use conveyor_cluster::{ClusterClient, OutcomeRecord, Submission, SubmitError};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::{watch, Semaphore};

use crate::app::{error_response, json_response, status_for};
use crate::body::{self, BodyError, BodyPolicy};
use crate::cluster_live::{ClusterReloader, Live, Rejected};
use crate::uploads::public_message;

/// What cluster-mode handlers share.
#[derive(Clone)]
pub struct ClusterState {
    /// The cluster connection.
    pub client: ClusterClient,
    /// The recipe every job carries and each job's deadline (`--recipe`, the config's,
    /// or the cluster record's once one is published), and the counters `/metrics`
    /// shows.
    pub live: Arc<Live>,
    /// The reload behind `SIGHUP` and `POST /admin/reload`.
    pub reloader: Arc<ClusterReloader>,
    /// The admin token; `None` turns `POST /admin/reload` off.
    pub admin_token: Option<Arc<str>>,
    /// Size cap and minimum rate for request bodies.
    pub body: BodyPolicy,
    /// Bytes of bodies being read and stored, in KiB.
    pub bytes: Arc<Semaphore>,
    /// Becomes `true` when the server starts shutting down.
    pub stopping: watch::Receiver<bool>,
}

/// The cluster-mode router.
pub fn router(state: ClusterState) -> Router {
    let routes = Router::new()
        .route("/uploads", axum::routing::post(post_uploads))
        .route("/uploads/{id}", get(get_upload).delete(delete_upload))
        .route("/uploads/{id}/{output}", get(get_output))
        .route("/events", get(events))
        .route("/healthz", get(healthz))
        .route("/metrics", get(crate::cluster_live::metrics))
        .route(
            "/admin/reload",
            axum::routing::post(crate::cluster_live::admin_reload),
        )
        .with_state(state.clone());
    crate::app::layered(routes, state.body.max_bytes)
}

/// The upload object for a recorded outcome, as the embedded mode shows it: the wire
/// outcome without `job_id`, plus `id` and `filename`, each output's `path` relative
/// to the outputs and its `url`; a failure is `{"id","filename","error"}` with a
/// public message.
fn upload_json(rec: &OutcomeRecord, filename: Option<&str>) -> (StatusCode, Value) {
    let o = &rec.outcome;
    if let Some(e) = &o.error {
        let err: Error = e.clone().into();
        let mut public = err.clone();
        public.message = public_message(&err);
        return (
            status_for(err.kind),
            json!({"id": rec.id, "filename": filename, "error": ErrorJson::from(&public)}),
        );
    }
    let mut v = serde_json::to_value(o).unwrap_or_default();
    let obj = v.as_object_mut().map(std::mem::take).unwrap_or_default();
    let mut out = serde_json::Map::new();
    out.insert("id".into(), json!(rec.id));
    out.insert("filename".into(), json!(filename));
    out.extend(obj);
    out.remove("job_id");
    for output in out
        .get_mut("outputs")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let rel = output["path"]
            .as_str()
            .and_then(|p| p.strip_prefix("outputs/"))
            .unwrap_or_default()
            .to_owned();
        output["url"] = json!(format!("/uploads/{rel}"));
        output["path"] = json!(rel);
    }
    (StatusCode::CREATED, Value::Object(out))
}

/// Cancels the jobs of a synchronous request that went away before its answer.
struct CancelOnDrop {
    client: ClusterClient,
    ids: Vec<String>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        for id in std::mem::take(&mut self.ids) {
            let c = self.client.clone();
            tokio::spawn(async move {
                let _ = c.cancel(&id).await;
            });
        }
    }
}

fn wants_async(headers: &HeaderMap, query: &HashMap<String, String>) -> bool {
    query.get("async").is_some_and(|v| v == "1" || v == "true")
        || headers
            .get_all("prefer")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.to_ascii_lowercase().contains("respond-async"))
}

/// One file's fate at submission.
enum Submitted {
    Accepted(conveyor_cluster::Accepted, Option<String>),
    Refused(Option<String>, Response),
}

fn refusal(e: SubmitError) -> Response {
    match e {
        SubmitError::Full => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "queue_full",
            "the server is busy: the job queue is full; retry later",
        ),
        SubmitError::Invalid(m) => {
            error_response(StatusCode::PAYLOAD_TOO_LARGE, "limit_exceeded", m)
        }
        SubmitError::Cluster(e) => {
            tracing::warn!(error = %e, "submit failed");
            error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the job queue cannot be reached; retry later",
            )
        }
    }
}

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

/// `POST /uploads` in cluster mode.
async fn post_uploads(
    State(app): State<ClusterState>,
    Query(query): Query<HashMap<String, String>>,
    req: Request,
) -> Response {
    if *app.stopping.borrow() {
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "shut_down",
            "the server is shutting down",
        );
    }
    let respond_async = wants_async(req.headers(), &query);
    let policy = app.body;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > policy.max_bytes) {
        return body_error(BodyError::TooLarge);
    }
    let kib = declared
        .unwrap_or(policy.max_bytes)
        .div_ceil(1024)
        .clamp(1, u32::MAX as u64) as u32;
    let Ok(permit) = app.bytes.clone().try_acquire_many_owned(kib) else {
        let mut res = error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the server is busy: too many upload bytes in flight; retry later",
        );
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return res;
    };
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let (parts, raw) = req.into_parts();
    let (guarded, verdict) = body::guard(raw, policy);
    let mut files: Vec<(Option<String>, Bytes)> = Vec::new();
    if is_multipart {
        let req = Request::from_parts(parts, guarded);
        let mut multipart = match Multipart::from_request(req, &()).await {
            Ok(m) => m,
            Err(rej) => {
                return error_response(
                    rej.status(),
                    "invalid_argument",
                    "not a valid multipart body",
                )
            }
        };
        loop {
            match multipart.next_field().await {
                Ok(Some(field)) => {
                    let filename = field.file_name().map(str::to_owned);
                    let is_file = filename.is_some()
                        || field
                            .content_type()
                            .is_some_and(|t| !t.starts_with("text/"));
                    if !is_file {
                        continue;
                    }
                    match field.bytes().await {
                        Ok(data) => files.push((filename, data)),
                        Err(_) => return body_error(verdict.get().unwrap_or(BodyError::Broken)),
                    }
                }
                Ok(None) => break,
                Err(_) => return body_error(verdict.get().unwrap_or(BodyError::Broken)),
            }
        }
        if files.is_empty() {
            return error_response(
                StatusCode::BAD_REQUEST,
                "invalid_argument",
                "the multipart body has no file field",
            );
        }
    } else {
        match body::read_all(guarded, &verdict, declared, policy).await {
            Ok(d) => files.push((None, d)),
            Err(e) => return body_error(e),
        }
    }
    let mut submitted = Vec::with_capacity(files.len());
    for (filename, data) in files {
        let sub = Submission::new(data)
            .with_recipe(app.live.recipe())
            .with_timeout(app.live.job_timeout.get());
        submitted.push(match app.client.submit(sub).await {
            Ok(a) => {
                app.live.count_accepted();
                Submitted::Accepted(a, filename)
            }
            Err(e) => {
                app.live.count_rejected(match &e {
                    SubmitError::Full => Rejected::QueueFull,
                    SubmitError::Invalid(_) => Rejected::LimitExceeded,
                    SubmitError::Cluster(_) => Rejected::Unavailable,
                });
                Submitted::Refused(filename, refusal(e))
            }
        });
    }
    // The bytes are in the store now.
    drop(permit);
    if respond_async {
        return async_answer(submitted, is_multipart).await;
    }
    let mut guard = CancelOnDrop {
        client: app.client.clone(),
        ids: submitted
            .iter()
            .filter_map(|s| match s {
                Submitted::Accepted(a, _) => Some(a.id.clone()),
                Submitted::Refused(..) => None,
            })
            .collect(),
    };
    let mut items: Vec<(StatusCode, Value)> = Vec::new();
    for s in submitted {
        items.push(match s {
            Submitted::Accepted(a, filename) => match app.client.wait(&a).await {
                Ok(rec) => upload_json(&rec, filename.as_deref()),
                Err(e) => {
                    tracing::warn!(id = %a.id, error = %e, "waiting for an outcome failed");
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        json!({"id": a.id, "filename": filename, "error": {"code": "unavailable", "message": "the outcome could not be read; ask GET /uploads/{id} later"}}),
                    )
                }
            },
            Submitted::Refused(filename, res) => refused_item(filename, res).await,
        });
    }
    guard.ids.clear();
    if !is_multipart {
        let (status, body) = items.remove(0);
        return json_response(status, body);
    }
    multipart_answer(items)
}

/// A refused file as an item of a multipart answer.
async fn refused_item(filename: Option<String>, res: Response) -> (StatusCode, Value) {
    let status = res.status();
    let body = axum::body::to_bytes(res.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let v: Value = serde_json::from_slice(&body).unwrap_or_default();
    (status, json!({"filename": filename, "error": v["error"]}))
}

fn multipart_answer(items: Vec<(StatusCode, Value)>) -> Response {
    let saved = items
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let failed = items.len() - saved;
    let status = if failed == 0 {
        StatusCode::CREATED
    } else if saved > 0 {
        StatusCode::MULTI_STATUS
    } else {
        items[0].0
    };
    let first_error = items.iter().find_map(|(_, v)| v.get("error")).cloned();
    let uploads: Vec<Value> = items.into_iter().map(|(_, v)| v).collect();
    let mut body = json!({"uploads": uploads, "saved": saved, "failed": failed});
    if let Some(e) = first_error {
        body["error"] = e;
    }
    json_response(status, body)
}

async fn async_answer(submitted: Vec<Submitted>, is_multipart: bool) -> Response {
    let mut items = Vec::new();
    for s in submitted {
        items.push(match s {
            Submitted::Accepted(a, filename) => (
                StatusCode::ACCEPTED,
                json!({"id": a.id, "filename": filename, "state": "pending", "status_url": format!("/uploads/{}", a.id)}),
            ),
            Submitted::Refused(filename, res) => refused_item(filename, res).await,
        });
    }
    if !is_multipart {
        let (status, body) = items.remove(0);
        let mut res = json_response(status, body.clone());
        if let Some(url) = body["status_url"]
            .as_str()
            .and_then(|u| HeaderValue::from_str(u).ok())
        {
            res.headers_mut().insert(header::LOCATION, url);
        }
        return res;
    }
    let accepted = items
        .iter()
        .filter(|(s, _)| *s == StatusCode::ACCEPTED)
        .count();
    let status = if accepted > 0 {
        StatusCode::ACCEPTED
    } else {
        items[0].0
    };
    let uploads: Vec<Value> = items.into_iter().map(|(_, v)| v).collect();
    json_response(status, json!({"uploads": uploads, "accepted": accepted}))
}

fn bad_id() -> Response {
    error_response(
        StatusCode::BAD_REQUEST,
        "invalid_argument",
        "invalid upload id or output name",
    )
}

/// `GET /uploads/{id}`.
async fn get_upload(State(app): State<ClusterState>, Path(id): Path<String>) -> Response {
    if !is_job_id(&id) {
        return bad_id();
    }
    match app.client.outcome(&id).await {
        Ok(Some(rec)) => {
            let (_, mut v) = upload_json(&rec, None);
            v["state"] = json!("done");
            v["ok"] = json!(rec.outcome.ok);
            v["recorded_by"] = json!(rec.by);
            v["attempt"] = json!(rec.attempt);
            v.as_object_mut().map(|o| o.remove("filename"));
            Json(v).into_response()
        }
        Ok(None) => match app
            .client
            .store()
            .get(&conveyor_cluster::message::input_key(&id))
            .await
        {
            Ok(Some(_)) => {
                let mut res =
                    json_response(StatusCode::ACCEPTED, json!({"id": id, "state": "pending"}));
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                res
            }
            Ok(None) => error_response(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no upload {id}"),
            ),
            Err(e) => unavailable(e),
        },
        Err(e) => unavailable(e),
    }
}

fn unavailable(e: conveyor_cluster::ClusterError) -> Response {
    tracing::warn!(error = %e, "cluster read failed");
    error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the cluster cannot be reached; retry later",
    )
}

/// `DELETE /uploads/{id}`: cancels; answers with the outcome that stands.
async fn delete_upload(State(app): State<ClusterState>, Path(id): Path<String>) -> Response {
    if !is_job_id(&id) {
        return bad_id();
    }
    match app.client.cancel(&id).await {
        Ok(rec) => {
            let (_, mut v) = upload_json(&rec, None);
            v["state"] = json!("done");
            v["ok"] = json!(rec.outcome.ok);
            v.as_object_mut().map(|o| o.remove("filename"));
            Json(v).into_response()
        }
        Err(e) => unavailable(e),
    }
}

/// `GET /uploads/{id}/{output}`: `name.ext` or `name`.
async fn get_output(
    State(app): State<ClusterState>,
    Path((id, output)): Path<(String, String)>,
) -> Response {
    if !is_job_id(&id) {
        return bad_id();
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
        return bad_id();
    }
    let formats: Vec<OutputFormat> = match ext {
        Some(e) => match OutputFormat::from_extension(e) {
            Some(f) => vec![f],
            None => return bad_id(),
        },
        None => OutputFormat::ALL.to_vec(),
    };
    for f in formats {
        match app
            .client
            .read_output(&id, &output_file_name(name, f))
            .await
        {
            Ok(Some(data)) => {
                return (
                    [
                        (header::CONTENT_TYPE, f.mime_type()),
                        (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                    ],
                    data,
                )
                    .into_response()
            }
            Ok(None) => {}
            Err(e) => return unavailable(e),
        }
    }
    error_response(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no output {output:?} for upload {id}"),
    )
}

/// `GET /events`: every cluster event, from every worker and server.
async fn events(State(app): State<ClusterState>) -> Response {
    let stream = match app.client.events().await {
        Ok(s) => s,
        Err(e) => return unavailable(e),
    };
    let stop = app.stopping.clone();
    let out =
        futures_util::stream::unfold((Box::pin(stream), stop), |(mut s, mut stop)| async move {
            if *stop.borrow() {
                return None;
            }
            let ev = tokio::select! {
                ev = s.next() => ev?,
                _ = stop.changed() => return None,
            };
            let sse = SseEvent::default()
                .event(ev.name())
                .data(serde_json::to_string(&ev).unwrap_or_else(|_| "{}".into()));
            Some((Ok::<_, Infallible>(sse), (s, stop)))
        });
    Sse::new(out)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// `GET /healthz`.
async fn healthz(State(app): State<ClusterState>) -> Response {
    if *app.stopping.borrow() {
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "shut_down",
            "the server is shutting down",
        );
    }
    match app.client.queued().await {
        Ok(n) => Json(
            json!({"status": "ok", "version": conveyor::VERSION, "mode": "cluster", "queued": n}),
        )
        .into_response(),
        Err(e) => unavailable(e),
    }
}
