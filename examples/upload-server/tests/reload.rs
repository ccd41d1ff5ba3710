//! Live reconfiguration of the real server process: a real `SIGHUP` after the recipe
//! or config file was rewritten (the next upload uses the new recipe and limits,
//! `/events` shows `config_reloaded`, `/metrics` counts it), a broken file refused with
//! one log line while the old config stays, settings that need a restart named in the
//! log, and `POST /admin/reload` (absent by default, `401` without the right token).
#![allow(missing_docs)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{client, jpeg, Server};
use serde_json::Value;

const TOKEN: &str = "s3cret-admin-token-0123";

fn write(path: &Path, text: &str) {
    // Write then rename, as an editor or a deploy tool does, so a reload never sees a
    // half-written file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn recipe(name: &str, format: &str) -> String {
    format!(r#"{{"outputs":[{{"name":"{name}","width":64,"height":64,"format":"{format}"}}]}}"#)
}

/// A folder with `recipe.json` (one PNG output named `a`) and `config.json`.
fn files() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (r, c) = (
        dir.path().join("recipe.json"),
        dir.path().join("config.json"),
    );
    write(&r, &recipe("a", "png"));
    write(
        &c,
        r#"{"limits":{"max_width":4000},"server":{"job_timeout_secs":30}}"#,
    );
    (dir, r, c)
}

fn start(recipe: &Path, config: &Path, extra: &[&str]) -> Server {
    let mut args = vec![
        "--workers",
        "2",
        "--recipe",
        recipe.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    // Info: an applied reload's line is an info line.
    Server::start_logging(&args, "info")
}

/// Uploads a 300×200 JPEG: the status and the output names (or the error code).
fn upload(s: &Server) -> (u16, Vec<String>) {
    let res = client()
        .post(s.url("/uploads"))
        .body(jpeg(300, 200))
        .send()
        .unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().unwrap();
    let names = match body["outputs"].as_array() {
        Some(outputs) => outputs
            .iter()
            .map(|o| {
                format!(
                    "{}.{}",
                    o["name"].as_str().unwrap(),
                    o["format"].as_str().unwrap()
                )
            })
            .collect(),
        None => vec![body["error"]["code"].as_str().unwrap_or("?").to_string()],
    };
    (status, names)
}

/// The `/events` stream's event types, as they arrive.
fn events(s: &Server) -> mpsc::Receiver<String> {
    let res = client().get(s.url("/events")).send().unwrap();
    assert_eq!(res.status(), 200);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(res).lines() {
            let Ok(line) = line else { break };
            if let Some(data) = line.strip_prefix("data: ") {
                let ev: Value = serde_json::from_str(data).unwrap();
                if tx.send(ev["type"].as_str().unwrap().to_string()).is_err() {
                    break;
                }
            }
        }
    });
    rx
}

fn wait_event(rx: &mpsc::Receiver<String>, want: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(ev) = rx.recv_timeout(Duration::from_millis(100)) {
            if ev == want {
                return true;
            }
        }
    }
    false
}

fn metric(s: &Server, name: &str) -> f64 {
    let text = client()
        .get(s.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
        .parse()
        .unwrap()
}

fn reloads(s: &Server) -> (f64, f64, f64) {
    (
        metric(s, "conveyor_config_reloads_total{result=\"ok\"}"),
        metric(s, "conveyor_config_reloads_total{result=\"refused\"}"),
        metric(s, "conveyor_config_generation"),
    )
}

/// Sends SIGHUP and waits for the reload's outcome in the log (the `n`th one).
fn sighup(s: &Server, n: usize) {
    s.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let log = s.log.lock().unwrap().clone();
        let done =
            log.matches("config reloaded").count() + log.matches("config reload refused").count();
        if done >= n {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no reload after SIGHUP #{n}");
}

#[test]
fn sighup_applies_a_new_recipe_and_limits_and_says_so() {
    let (_files, r, c) = files();
    let s = start(&r, &c, &[]);
    let stream = events(&s);
    assert_eq!(upload(&s), (201, vec!["a.png".to_string()]));
    assert_eq!(reloads(&s), (0.0, 0.0, 1.0));
    let loaded_at = metric(&s, "conveyor_config_loaded_timestamp_seconds");
    assert!(loaded_at > 1.7e9, "{loaded_at}");

    write(&r, &recipe("b", "webp"));
    sighup(&s, 1);
    assert!(
        wait_event(&stream, "config_reloaded"),
        "no config_reloaded on /events"
    );
    assert_eq!(upload(&s), (201, vec!["b.webp".to_string()]));
    assert_eq!(reloads(&s), (1.0, 0.0, 2.0));

    // The limits come from the config file: a narrower width refuses the next upload.
    write(&c, r#"{"limits":{"max_width":100}}"#);
    sighup(&s, 2);
    assert!(wait_event(&stream, "config_reloaded"));
    assert_eq!(upload(&s), (413, vec!["limit_exceeded".to_string()]));
    assert_eq!(reloads(&s), (2.0, 0.0, 3.0));
}

#[test]
fn a_broken_file_is_refused_in_one_log_line_and_the_old_config_stays() {
    let (_files, r, c) = files();
    let s = start(&r, &c, &[]);
    assert_eq!(upload(&s), (201, vec!["a.png".to_string()]));

    write(&r, r#"{"outputs":[{"name":"b","width":64,"format":"#);
    sighup(&s, 1);
    let line = s
        .wait_log("config reload refused", Duration::from_secs(1))
        .unwrap();
    assert!(
        line.contains(&format!("recipe file {}: ", r.display()))
            && line.contains("config in force stays"),
        "{line}"
    );
    assert_eq!(upload(&s), (201, vec!["a.png".to_string()]));
    assert_eq!(reloads(&s), (0.0, 1.0, 1.0));

    // A valid recipe but a config whose limit has the wrong type: still refused, and
    // the line names the config file and the field.
    write(&r, &recipe("b", "webp"));
    write(&c, r#"{"limits":{"max_width":"wide"}}"#);
    sighup(&s, 2);
    let log = s.log.lock().unwrap().clone();
    let line = log
        .lines()
        .filter(|l| l.contains("config reload refused"))
        .nth(1)
        .unwrap();
    assert!(
        line.contains(&format!("config file {}: ", c.display()))
            && line.contains("limits.max_width"),
        "{line}"
    );
    assert_eq!(upload(&s), (201, vec!["a.png".to_string()]));
    assert_eq!(reloads(&s), (0.0, 2.0, 1.0));

    // A good config that also changes the queue's capacity: applied, and the capacity
    // is named as needing a restart.
    write(&c, r#"{"queue_capacity":5}"#);
    sighup(&s, 3);
    let line = s
        .wait_log("needs a restart", Duration::from_secs(5))
        .unwrap();
    assert!(line.contains("queue_capacity"), "{line}");
    assert_eq!(upload(&s), (201, vec!["b.webp".to_string()]));
    assert_eq!(reloads(&s), (1.0, 2.0, 2.0));
    assert_eq!(metric(&s, "conveyor_queue_capacity"), 8.0);
}

#[test]
fn the_admin_route_is_off_by_default_and_needs_the_token() {
    let (files, r, c) = files();
    let off = start(&r, &c, &[]);
    let res = client()
        .post(off.url("/admin/reload"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().unwrap()["error"]["code"], "not_found");
    drop(off);

    let s = start(&r, &c, &["--admin-token", TOKEN]);
    let url = s.url("/admin/reload");
    let res = client().post(&url).send().unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        res.json::<Value>().unwrap()["error"]["code"],
        "unauthorized"
    );
    let wrong = format!("{}x", &TOKEN[..TOKEN.len() - 1]);
    let res = client().post(&url).bearer_auth(wrong).send().unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().unwrap()["error"]["code"],
        "unauthorized"
    );
    assert_eq!(client().get(&url).send().unwrap().status(), 405);
    assert_eq!(reloads(&s), (0.0, 0.0, 1.0));

    write(&r, &recipe("b", "webp"));
    let res = client().post(&url).bearer_auth(TOKEN).send().unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().unwrap();
    assert_eq!(body["status"], "reloaded");
    assert_eq!(body["generation"], 2);
    assert_eq!(body["needs_restart"], serde_json::json!([]));
    assert_eq!(upload(&s), (201, vec!["b.webp".to_string()]));

    write(&r, r#"{"outputs":[]}"#);
    let res = client().post(&url).bearer_auth(TOKEN).send().unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().unwrap();
    assert_eq!(body["error"]["code"], "invalid_recipe");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("recipe file (--recipe)"), "{message}");
    assert!(
        !message.contains(&*files.path().to_string_lossy()),
        "{message}"
    );
    assert_eq!(upload(&s), (201, vec!["b.webp".to_string()]));
    assert_eq!(reloads(&s), (1.0, 1.0, 2.0));

    // A token too short to be safe stops the start.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_upload-server"))
        .args(["--bind", "127.0.0.1:0", "--admin-token", "short"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--admin-token"));
}
