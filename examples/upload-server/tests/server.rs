//! The upload server as a user meets it: the real binary on an ephemeral port, a real
//! HTTP client, real images, real files on disk, a real SIGTERM.
#![allow(missing_docs)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::blocking::{multipart, Client};
use serde_json::Value;

struct Server {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_upload-server"))
            .args(["--bind", "127.0.0.1:0", "--output-dir"])
            .arg(dir.path().join("uploads"))
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = out.read_to_string(&mut sink);
        });
        Server { child, base, dir }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn uploads(&self) -> PathBuf {
        self.dir.path().join("uploads")
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "server did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x ^ y) % 256) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .unwrap();
    out.into_inner()
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(w, h, |x, y| image::Rgba([x as u8, y as u8, 7, 200]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(img)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

fn vector(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/vectors/inputs")
            .join(name),
    )
    .unwrap()
}

/// Checks every output of one upload object against the file on disk.
fn check_saved(root: &Path, upload: &Value) {
    for o in upload["outputs"].as_array().unwrap() {
        let path = root.join(o["path"].as_str().unwrap());
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(bytes.len() as u64, o["bytes"].as_u64().unwrap());
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!(img.width() as u64, o["width"].as_u64().unwrap());
        assert_eq!(img.height() as u64, o["height"].as_u64().unwrap());
        let want = match o["format"].as_str().unwrap() {
            "jpeg" => image::ImageFormat::Jpeg,
            "webp" => image::ImageFormat::WebP,
            _ => image::ImageFormat::Png,
        };
        assert_eq!(image::guess_format(&bytes).unwrap(), want);
    }
}

#[test]
fn raw_and_multipart_uploads_are_saved_for_real() {
    let s = Server::start(&["--workers", "2"]);
    let c = client();
    let res = c
        .post(s.url("/uploads"))
        .header("content-type", "image/jpeg")
        .body(jpeg(2400, 1200))
        .send()
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().unwrap();
    assert!(body["job_id"].as_u64().is_some());
    assert_eq!(body["input"]["format"], "jpeg");
    assert_eq!(
        (
            body["outputs"][0]["width"].as_u64(),
            body["outputs"][0]["height"].as_u64()
        ),
        (Some(1600), Some(800))
    );
    assert_eq!(
        (
            body["outputs"][1]["width"].as_u64(),
            body["outputs"][1]["height"].as_u64()
        ),
        (Some(320), Some(160))
    );
    assert!(body["timings"]["decode_us"].as_u64().is_some());
    check_saved(&s.uploads(), &body);

    let form = multipart::Form::new()
        .text("note", "ignored")
        .part(
            "file",
            multipart::Part::bytes(png(500, 400))
                .file_name("a.png")
                .mime_str("image/png")
                .unwrap(),
        )
        .part(
            "file",
            multipart::Part::bytes(vector("gradient_100x100.webp"))
                .file_name("b.webp")
                .mime_str("image/webp")
                .unwrap(),
        );
    let res = c.post(s.url("/uploads")).multipart(form).send().unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().unwrap();
    let uploads = body["uploads"].as_array().unwrap();
    assert_eq!(uploads.len(), 2);
    assert_eq!(uploads[0]["filename"], "a.png");
    assert_eq!(uploads[1]["input"]["format"], "webp");
    for u in uploads {
        check_saved(&s.uploads(), u);
    }
}

#[test]
fn bad_input_gives_422_and_oversized_gives_413() {
    let s = Server::start(&["--max-body-bytes", "300000"]);
    let c = client();
    let res = c
        .post(s.url("/uploads"))
        .body(b"definitely not an image".to_vec())
        .send()
        .unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().unwrap();
    assert_eq!(body["error"]["code"], "unsupported_format");
    assert!(body["error"]["message"].as_str().unwrap().len() > 5);

    let res = c
        .post(s.url("/uploads"))
        .body(vector("fake.png"))
        .send()
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.json::<Value>().unwrap()["error"]["code"],
        "decode_failed"
    );

    let t = Instant::now();
    let res = c
        .post(s.url("/uploads"))
        .body(vector("bomb_50000x50000.png"))
        .send()
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(
        res.json::<Value>().unwrap()["error"]["code"],
        "limit_exceeded"
    );
    assert!(t.elapsed() < Duration::from_secs(2));

    let res = c
        .post(s.url("/uploads"))
        .body(vec![0u8; 400_000])
        .send()
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(
        res.json::<Value>().unwrap()["error"]["code"],
        "limit_exceeded"
    );

    // Multipart with a bad file says so too.
    let form = multipart::Form::new().part(
        "file",
        multipart::Part::bytes(b"nope".to_vec()).file_name("x.jpg"),
    );
    let res = c.post(s.url("/uploads")).multipart(form).send().unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.json::<Value>().unwrap()["error"]["code"],
        "unsupported_format"
    );
}

#[test]
fn a_full_queue_answers_503_with_retry_after() {
    let s = Server::start(&["--workers", "1", "--queue-capacity", "1"]);
    let big = jpeg(3000, 2000);
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..12 {
            let (tx, big, url) = (tx.clone(), big.clone(), s.url("/uploads"));
            scope.spawn(move || {
                let res = client().post(url).body(big).send().unwrap();
                let retry = res
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_string());
                tx.send((res.status().as_u16(), retry)).unwrap();
            });
        }
    });
    drop(tx);
    let results: Vec<_> = rx.iter().collect();
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let busy: Vec<_> = results.iter().filter(|(s, _)| *s == 503).collect();
    assert_eq!(created + busy.len(), 12, "{results:?}");
    assert!(created >= 1 && !busy.is_empty(), "{results:?}");
    assert!(busy.iter().all(|(_, r)| r.as_deref() == Some("1")));
    let metrics = client()
        .get(s.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains(&format!("conveyor_jobs_rejected_total {}", busy.len())),
        "{metrics}"
    );
}

#[test]
fn outputs_are_served_and_traversal_is_refused() {
    let s = Server::start(&[]);
    let c = client();
    std::fs::write(s.dir.path().join("secret.txt"), b"top secret").unwrap();
    let body: Value = c
        .post(s.url("/uploads"))
        .body(jpeg(800, 600))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = body["job_id"].as_u64().unwrap();
    for (path, mime) in [
        (format!("/uploads/{id}/large.jpg"), "image/jpeg"),
        (format!("/uploads/{id}/thumb.webp"), "image/webp"),
        (format!("/uploads/{id}/thumb"), "image/webp"),
    ] {
        let res = c.get(s.url(&path)).send().unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["content-type"], mime);
        assert!(image::load_from_memory(&res.bytes().unwrap()).is_ok());
    }
    for path in [
        "/uploads/..%2F..%2Fsecret.txt/x".to_string(),
        format!("/uploads/{id}/..%2F..%2Fsecret.txt"),
        "/uploads/%2e%2e/secret.txt".to_string(),
        format!("/uploads/{id}/large.txt"),
        "/uploads/../secret.txt".to_string(),
        "/uploads/99999/large.jpg".to_string(),
    ] {
        let res = c.get(s.url(&path)).send().unwrap();
        assert!(res.status().is_client_error(), "{path}: {}", res.status());
        assert!(!res.text().unwrap().contains("top secret"), "{path}");
    }
}

#[test]
fn events_stream_carries_an_uploads_events() {
    let s = Server::start(&[]);
    let res = client().get(s.url("/events")).send().unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(res).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let body: Value = client()
        .post(s.url("/uploads"))
        .body(jpeg(300, 200))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = body["job_id"].as_u64().unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        if let Some(data) = line.strip_prefix("data: ") {
            let ev: Value = serde_json::from_str(data).unwrap();
            if ev["job_id"].as_u64() == Some(id) {
                seen.push(ev["type"].as_str().unwrap().to_string());
                if ev["type"] == "job_finished" {
                    assert_eq!(ev["ok"], true);
                    break;
                }
            }
        }
    }
    assert_eq!(seen, ["job_queued", "job_started", "job_finished"]);
}

#[test]
fn metrics_parse_and_healthz_answers() {
    let s = Server::start(&[]);
    let c = client();
    c.post(s.url("/uploads"))
        .body(jpeg(200, 100))
        .send()
        .unwrap();
    c.post(s.url("/uploads"))
        .body(b"junk".to_vec())
        .send()
        .unwrap();
    let res = c.get(s.url("/metrics")).send().unwrap();
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = res.text().unwrap();
    let mut samples = std::collections::HashMap::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (name, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        let v: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        assert!(name.starts_with("conveyor_"), "{line}");
        samples.insert(name.to_string(), v);
    }
    assert_eq!(samples["conveyor_jobs_completed_total"], 1.0);
    assert_eq!(
        samples["conveyor_jobs_failed_total{kind=\"unsupported_format\"}"],
        1.0
    );
    assert_eq!(samples["conveyor_queue_depth"], 0.0);
    assert_eq!(
        samples["conveyor_stage_duration_seconds_count{stage=\"total\"}"],
        2.0
    );
    assert!(samples
        .contains_key("conveyor_stage_duration_seconds_bucket{stage=\"decode\",le=\"+Inf\"}"));
    let health: Value = c.get(s.url("/healthz")).send().unwrap().json().unwrap();
    assert_eq!(health["status"], "ok");
    let page = c.get(s.url("/")).send().unwrap().text().unwrap();
    assert!(page.contains("EventSource('/events')"));
}

#[test]
fn sigterm_during_a_burst_loses_no_accepted_upload() {
    let mut s = Server::start(&["--workers", "2", "--queue-capacity", "64"]);
    let img = jpeg(2000, 1500);
    let (tx, rx) = mpsc::channel();
    let mut handles = Vec::new();
    for _ in 0..16 {
        let (tx, img, url) = (tx.clone(), img.clone(), s.url("/uploads"));
        handles.push(std::thread::spawn(move || {
            for _ in 0..3 {
                let r = client().post(&url).body(img.clone()).send();
                let got = match r {
                    Ok(res) => {
                        let status = res.status().as_u16();
                        (status, res.json::<Value>().ok())
                    }
                    Err(_) => (0, None), // connection refused once the server stopped listening
                };
                tx.send(got).unwrap();
            }
        }));
    }
    drop(tx);
    std::thread::sleep(Duration::from_millis(400));
    let status = s.terminate();
    for h in handles {
        h.join().unwrap();
    }
    assert!(status.success(), "exit status {status:?}");
    let results: Vec<_> = rx.iter().collect();
    let created: Vec<_> = results.iter().filter(|(st, _)| *st == 201).collect();
    assert!(
        !created.is_empty(),
        "nothing was accepted before SIGTERM: {:?}",
        results.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    for (_, body) in &created {
        check_saved(&s.uploads(), body.as_ref().unwrap());
    }
    // Every other answer is a clean refusal, never a half-done upload.
    for (st, _) in &results {
        assert!(matches!(st, 0 | 201 | 503), "status {st}");
    }
    // No temporary file is left anywhere.
    for entry in walk(&s.uploads()) {
        assert!(
            !entry
                .file_name()
                .unwrap()
                .to_string_lossy()
                .ends_with(".tmp"),
            "{}",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
