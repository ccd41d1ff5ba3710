//! Live reload across the cluster, with real processes: a server's SIGHUP (or its
//! admin route) re-reads its `--config` file and publishes it as the cluster's config
//! record; every worker (those running and those started later) and every other
//! server applies it; a broken file is refused and changes nothing.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const FAST: &str = "1500";
const TOKEN: &str = "reload-test-token-0123456789";

fn hup(p: &Proc) {
    let ok = Command::new("kill")
        .args(["-HUP", &p.child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -HUP {}", p.name);
}

/// The value of an unlabelled metric (or of the line starting with `name`+labels).
fn metric(c: &reqwest::blocking::Client, base: &str, line: &str) -> Option<u64> {
    let res = c.get(format!("{base}/metrics")).send().unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let text = res.text().unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(line)?.strip_prefix(' ')?.parse().ok())
}

fn until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn reloaded(events: &Events, by: &str, generation: u64) -> bool {
    events
        .seen
        .lock()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "config_reloaded" && e["by"] == by && e["generation"] == generation)
}

fn finished_by(events: &Events, id: &str) -> Option<String> {
    events
        .seen
        .lock()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "job_finished" && e["id"] == id)
        .map(|e| e["by"].as_str().unwrap_or_default().to_owned())
}

fn assert_limit_exceeded(status: u16, v: &Value) {
    assert_eq!(status, 413, "{v}");
    assert_eq!(v["error"]["code"], "limit_exceeded", "{v}");
}

#[test]
fn a_sighup_reload_reaches_every_worker_and_server_and_a_bad_file_changes_nothing() {
    let nats = Nats::start();
    let dir = tempfile::tempdir().unwrap();
    let store = format!("file://{}", dir.path().join("store").display());
    let config = dir.path().join("config.json");
    std::fs::write(&config, r#"{"limits":{"max_width":4000}}"#).unwrap();
    let cfg = config.to_str().unwrap();
    let ack = ["--cluster-ack-wait-ms", FAST];
    let mut w1 = worker(&nats.url(), &store, "w1", &ack);
    let mut w2 = worker(&nats.url(), &store, "w2", &ack);
    let (a, base_a) = server(
        &nats.url(),
        &store,
        "server-a",
        &["--cluster-ack-wait-ms", FAST, "--config", cfg],
    );
    let (b, base_b) = server(
        &nats.url(),
        &store,
        "server-b",
        &[
            "--cluster-ack-wait-ms",
            FAST,
            "--config",
            cfg,
            "--admin-token",
            TOKEN,
        ],
    );
    let events = Events::listen(&base_a);
    std::thread::sleep(Duration::from_millis(300));
    let c = client();
    let photo = vector("photo_640x480.jpg");
    let small = vector("progressive_160x120.jpg");

    // Generation 1: the 640 px photo passes.
    let (status, v, _) = upload(&c, &base_a, photo.clone(), false);
    assert_eq!(status, 201, "{v}");
    assert_eq!(metric(&c, &base_a, "conveyor_config_generation"), Some(1));

    // Generation 2 by SIGHUP to server A: a 320 px limit and a one-output recipe.
    std::fs::write(
        &config,
        r#"{"limits":{"max_width":320},
            "default_recipe":{"outputs":[{"name":"thumb","width":64,"height":64,"format":"webp"}]}}"#,
    )
    .unwrap();
    let signalled = Instant::now();
    hup(&a);
    until(
        "config_reloaded generation 2 from both workers and server B",
        Duration::from_secs(15),
        || {
            reloaded(&events, "worker:w1", 2)
                && reloaded(&events, "worker:w2", 2)
                && events.seen.lock().unwrap().iter().any(|e| {
                    e["type"] == "config_reloaded"
                        && e["generation"] == 2
                        && e["by"].as_str().unwrap_or_default().starts_with("server:")
                })
        },
    );
    eprintln!(
        "reload: SIGHUP to config_reloaded from every worker and server in {:?}",
        signalled.elapsed()
    );
    assert_eq!(metric(&c, &base_a, "conveyor_config_generation"), Some(2));
    assert_eq!(
        metric(&c, &base_a, "conveyor_config_reloads_total{result=\"ok\"}"),
        Some(1)
    );
    // Server B applied A's record through the watch.
    until("server B at generation 2", Duration::from_secs(10), || {
        metric(&c, &base_b, "conveyor_config_generation") == Some(2)
    });
    let mut ran_on = std::collections::HashSet::new();
    for i in 0..8 {
        let base = if i % 2 == 0 { &base_a } else { &base_b };
        let (status, v, _) = upload(&c, base, photo.clone(), false);
        assert_limit_exceeded(status, &v);
        let id = v["id"].as_str().unwrap().to_owned();
        until("job_finished", Duration::from_secs(5), || {
            finished_by(&events, &id).is_some()
        });
        ran_on.insert(finished_by(&events, &id).unwrap());
    }
    // Server B's jobs carry the new recipe too.
    let (status, v, _) = upload(&c, &base_b, small.clone(), false);
    assert_eq!(status, 201, "{v}");
    let names: Vec<&str> = v["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["thumb"], "{v}");
    assert!(
        ran_on.iter().all(|w| w == "worker:w1" || w == "worker:w2"),
        "{ran_on:?}"
    );

    // A worker started after the reload enforces it from its first job.
    w1.kill9();
    w2.kill9();
    // Their pull requests expire (1 s) before the next job is queued.
    std::thread::sleep(Duration::from_millis(1500));
    let _w3 = worker(&nats.url(), &store, "w3", &ack);
    let (status, v, _) = upload(&c, &base_a, photo.clone(), false);
    assert_limit_exceeded(status, &v);
    let id = v["id"].as_str().unwrap().to_owned();
    until("job_finished by w3", Duration::from_secs(5), || {
        finished_by(&events, &id).is_some()
    });
    assert_eq!(finished_by(&events, &id).as_deref(), Some("worker:w3"));
    assert!(reloaded(&events, "worker:w3", 2));

    // A broken file: refused with one log line, nothing published.
    std::fs::write(&config, r#"{"limits":{"max_width":"wide"}}"#).unwrap();
    hup(&a);
    until("the refusal log line", Duration::from_secs(10), || {
        a.log().contains("config reload refused: config file")
    });
    let line = a
        .log()
        .lines()
        .find(|l| l.contains("config reload refused"))
        .unwrap()
        .to_owned();
    assert!(
        line.contains("limits.max_width") && line.contains("the config in force stays"),
        "{line}"
    );
    assert_eq!(metric(&c, &base_a, "conveyor_config_generation"), Some(2));
    assert_eq!(
        metric(
            &c,
            &base_a,
            "conveyor_config_reloads_total{result=\"refused\"}"
        ),
        Some(1)
    );
    let (status, v, _) = upload(&c, &base_b, photo.clone(), false);
    assert_limit_exceeded(status, &v);

    // The admin route on server B: off without the token, refuses the broken file,
    // then publishes generation 3, which server A and the worker follow.
    let post = |token: Option<&str>| {
        let mut req = c.post(format!("{base_b}/admin/reload"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().unwrap();
        (
            res.status().as_u16(),
            res.json::<Value>().unwrap_or(Value::Null),
        )
    };
    assert_eq!(post(None).0, 401);
    assert_eq!(post(Some("wrong-token-0123456789")).0, 401);
    let (status, v) = post(Some(TOKEN));
    assert_eq!(status, 422, "{v}");
    assert!(
        !v["error"]["message"].as_str().unwrap().contains(cfg),
        "{v}"
    );
    std::fs::write(&config, r#"{"limits":{"max_width":4000}}"#).unwrap();
    let (status, v) = post(Some(TOKEN));
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["generation"], 3, "{v}");
    until("worker w3 at generation 3", Duration::from_secs(10), || {
        reloaded(&events, "worker:w3", 3)
    });
    until("server A at generation 3", Duration::from_secs(10), || {
        metric(&c, &base_a, "conveyor_config_generation") == Some(3)
    });
    let (status, v, _) = upload(&c, &base_a, photo, false);
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["input"]["width"], 640);
    // Uploads this server queued, as /metrics counts them.
    assert!(metric(&c, &base_a, "conveyor_jobs_accepted_total").unwrap() >= 6);
    assert!(metric(&c, &base_a, "conveyor_stream_messages").is_some());
    drop(b);
}
