//! The upload server as a user meets it: the real binary on an ephemeral port, a real
//! HTTP client, real images, real files on disk, a real SIGTERM.
#![allow(missing_docs)]

mod common;

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{check_saved, client, jpeg, png, vector, walk, Server};
use reqwest::blocking::multipart;
use serde_json::Value;

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
    // The upload id is a UUID; the pool's job number stays inside the server.
    let id = body["id"].as_str().unwrap();
    assert_eq!((id.len(), id.as_bytes()[14]), (36, b'7'), "{id}");
    assert!(body.get("job_id").is_none());
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
    // The wire outcome's names (conveyor::wire): the key is the upload id, sizes are
    // byte_len, paths are relative to the output folder.
    assert_eq!(body["key"], body["id"]);
    assert_eq!(body["ok"], true);
    assert!(body["input"]["byte_len"].as_u64().unwrap() > 0);
    assert!(body["outputs"][0]["byte_len"].as_u64().unwrap() > 0);
    assert_eq!(body["outputs"][0]["path"], format!("{id}/large.jpg"));
    assert_eq!(
        body["outputs"][0]["url"],
        format!("/uploads/{id}/large.jpg")
    );
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

// A refusal is decided from the headers and the body is never read, so the server
// answers and closes while a client may still be sending: such a client can see its
// write fail (broken pipe, reset) instead of the 503. The bodies are kept small enough
// (about 0.3 MB) that loopback's socket buffers usually take them whole; a write that
// fails anyway counts as refused before the body, and is counted apart (0 below).
#[test]
fn a_full_queue_answers_503_with_retry_after() {
    let s = Server::start(&["--workers", "1", "--queue-capacity", "1"]);
    let big = jpeg(1500, 1000);
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..12 {
            let (tx, big, url) = (tx.clone(), big.clone(), s.url("/uploads"));
            scope.spawn(move || {
                let sent = match client().post(url).body(big).send() {
                    Ok(res) => {
                        let retry = res
                            .headers()
                            .get("retry-after")
                            .map(|v| v.to_str().unwrap().to_string());
                        (res.status().as_u16(), retry)
                    }
                    Err(e) if e.is_request() || e.is_body() => (0, None),
                    Err(e) => panic!("{e}"),
                };
                tx.send(sent).unwrap();
            });
        }
    });
    drop(tx);
    let results: Vec<_> = rx.iter().collect();
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let busy: Vec<_> = results.iter().filter(|(s, _)| *s == 503).collect();
    let cut = results.iter().filter(|(s, _)| *s == 0).count();
    assert_eq!(created + busy.len() + cut, 12, "{results:?}");
    assert!(created >= 1 && !busy.is_empty(), "{results:?}");
    assert!(busy.iter().all(|(_, r)| r.as_deref() == Some("1")));
    let metrics = client()
        .get(s.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    // Refused at admission (before the body) or by the pool's queue: counted once.
    let sample = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in {metrics}"))
    };
    assert_eq!(
        sample("conveyor_jobs_rejected_total ")
            + sample("conveyor_uploads_refused_total{reason=\"queue_full\"} ")
            + sample("conveyor_uploads_refused_total{reason=\"body_budget\"} "),
        (busy.len() + cut) as u64,
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
    let id = body["id"].as_str().unwrap();
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
        "/uploads/1/large.jpg".to_string(),
        format!("/uploads/{}/large.jpg", id.to_uppercase()),
        format!("/uploads/{}/large.jpg", id.replace('-', "")),
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
    assert_eq!(body["outputs"].as_array().unwrap().len(), 2);
    // The only upload is the only job; events carry the pool's job number, which the
    // upload's answer does not.
    let mut id = None;
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        if let Some(data) = line.strip_prefix("data: ") {
            let ev: Value = serde_json::from_str(data).unwrap();
            if ev["job_id"].is_u64()
                && *id.get_or_insert(ev["job_id"].as_u64()) == ev["job_id"].as_u64()
            {
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
    assert!(samples["conveyor_memory_budget_bytes"] >= (512 << 20) as f64);
    assert_eq!(samples["conveyor_memory_in_use_bytes"], 0.0);
    assert_eq!(samples["conveyor_memory_waiting_jobs"], 0.0);
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
