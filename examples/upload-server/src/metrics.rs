//! `GET /metrics`: the pool's statistics in the Prometheus text format (version 0.0.4):
//! queue depth, running jobs, jobs by outcome, uploads refused before their body, body
//! bytes in flight, config reloads (`SIGHUP`, `POST /admin/reload`) and the config
//! generation in force, and per-stage latency histograms.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use conveyor::stats::BUCKET_BOUNDS_US;
use conveyor::ErrorKind;

use crate::reload::Counters;
use crate::state::AppState;

/// A Prometheus text page being written (shared by the embedded and cluster modes).
#[derive(Default)]
pub struct Page(String);

impl Page {
    /// One metric: its help and type lines, then a line per `(labels, value)`.
    pub fn metric(&mut self, name: &str, kind: &str, help: &str, lines: &[(String, String)]) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in lines {
            let _ = writeln!(self.0, "{name}{labels} {value}");
        }
    }

    /// The reload counters, the generation in force and when it was loaded.
    pub fn reloads(&mut self, reloads: &Counters, help: &str) {
        self.metric(
            "conveyor_config_reloads_total",
            "counter",
            help,
            &[
                (
                    "{result=\"ok\"}".to_string(),
                    reloads.ok.load(Ordering::Relaxed).to_string(),
                ),
                (
                    "{result=\"refused\"}".to_string(),
                    reloads.refused.load(Ordering::Relaxed).to_string(),
                ),
            ],
        );
        self.metric(
            "conveyor_config_generation",
            "gauge",
            "The config in force: 1 as started, one more per applied reload.",
            &one(reloads.generation.load(Ordering::Relaxed)),
        );
        self.metric(
            "conveyor_config_loaded_timestamp_seconds",
            "gauge",
            "When the config in force was loaded (Unix time).",
            &one(reloads.loaded_at_unix.load(Ordering::Relaxed)),
        );
    }

    /// The page as an HTTP answer.
    pub fn into_response(self) -> axum::response::Response {
        (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            self.0,
        )
            .into_response()
    }
}

/// A metric line without labels.
pub fn one(v: u64) -> Vec<(String, String)> {
    vec![(String::new(), v.to_string())]
}

/// `GET /metrics`.
pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    let s = app.pool.stats();
    let mut page = Page::default();
    let mut metric = |name: &str, kind: &str, help: &str, lines: &[(String, String)]| {
        page.metric(name, kind, help, lines);
    };
    metric(
        "conveyor_workers",
        "gauge",
        "Worker threads.",
        &one(s.workers as u64),
    );
    metric(
        "conveyor_queue_capacity",
        "gauge",
        "Job queue capacity.",
        &one(s.queue_capacity as u64),
    );
    metric(
        "conveyor_queue_depth",
        "gauge",
        "Jobs waiting in the queue.",
        &one(s.queued),
    );
    metric(
        "conveyor_jobs_running",
        "gauge",
        "Jobs being processed.",
        &one(s.running),
    );
    metric(
        "conveyor_memory_budget_bytes",
        "gauge",
        "The pool's job memory budget (--memory-budget).",
        &one(s.memory_budget),
    );
    metric(
        "conveyor_memory_in_use_bytes",
        "gauge",
        "Memory reserved by running jobs (their estimates).",
        &one(s.memory_in_use),
    );
    metric(
        "conveyor_memory_waiting_jobs",
        "gauge",
        "Jobs waiting for room in the memory budget.",
        &one(s.memory_waiting),
    );
    let refused = app.admission.refused();
    metric(
        "conveyor_uploads_refused_total",
        "counter",
        "Uploads refused with 503 before their body was read, by reason.",
        &crate::admission::Refusal::ALL
            .iter()
            .zip(refused)
            .map(|(r, n)| (format!("{{reason=\"{}\"}}", r.name()), n.to_string()))
            .collect::<Vec<_>>(),
    );
    metric(
        "conveyor_body_bytes_in_flight",
        "gauge",
        "Request body bytes reserved now (admitted bodies whose jobs are not done).",
        &one(app.admission.bytes_in_flight()),
    );
    metric(
        "conveyor_body_bytes_budget",
        "gauge",
        "Request body bytes allowed in flight (--max-body-bytes-in-flight).",
        &one(app.admission.budget_bytes()),
    );
    metric(
        "conveyor_jobs_accepted_total",
        "counter",
        "Jobs accepted.",
        &one(s.accepted),
    );
    metric(
        "conveyor_jobs_completed_total",
        "counter",
        "Jobs that succeeded.",
        &one(s.completed),
    );
    metric(
        "conveyor_jobs_rejected_total",
        "counter",
        "Submissions refused because the queue was full.",
        &one(s.rejected),
    );
    let failed: Vec<_> = ErrorKind::ALL
        .iter()
        .map(|k| {
            (
                format!("{{kind=\"{k}\"}}"),
                s.failed.get(k).copied().unwrap_or(0).to_string(),
            )
        })
        .collect();
    metric(
        "conveyor_jobs_failed_total",
        "counter",
        "Jobs that failed, by error kind.",
        &failed,
    );
    let mut lines = Vec::new();
    for (stage, h) in &s.latency {
        for (bound, count) in BUCKET_BOUNDS_US.iter().zip(&h.cumulative_buckets) {
            lines.push((
                format!(
                    "_bucket{{stage=\"{stage}\",le=\"{}\"}}",
                    *bound as f64 / 1e6
                ),
                count.to_string(),
            ));
        }
        lines.push((
            format!("_bucket{{stage=\"{stage}\",le=\"+Inf\"}}"),
            h.count.to_string(),
        ));
        lines.push((
            format!("_sum{{stage=\"{stage}\"}}"),
            format!("{}", h.sum_us as f64 / 1e6),
        ));
        lines.push((format!("_count{{stage=\"{stage}\"}}"), h.count.to_string()));
    }
    metric(
        "conveyor_stage_duration_seconds",
        "histogram",
        "Time per job stage.",
        &lines,
    );
    page.reloads(
        &app.reloader.counters,
        "Config reloads (SIGHUP or POST /admin/reload), applied or refused.",
    );
    page.into_response()
}
