//! The cluster with real processes: a nats-server on file storage, moto as S3,
//! `conveyor-worker` and `upload-server --nats` processes, each on free loopback
//! ports with temp folders, killed when the test ends. Each test checks one promise:
//! every accepted upload finishes exactly once, whatever dies meanwhile.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// Short ack wait: a dead worker's jobs come back within a couple of seconds.
const FAST: &[&str] = &["--cluster-ack-wait-ms", "1500"];

#[test]
fn two_hundred_uploads_over_two_servers_each_finish_once_and_read_anywhere() {
    let nats = Nats::start();
    let s3 = S3::start();
    let store = s3.store_url();
    let _w1 = worker(&nats.url(), &store, "w1", FAST);
    let _w2 = worker(&nats.url(), &store, "w2", FAST);
    let (_a, base_a) = server(&nats.url(), &store, "server-a", FAST);
    let (_b, base_b) = server(&nats.url(), &store, "server-b", FAST);
    let events = Events::listen(&base_b);
    std::thread::sleep(Duration::from_millis(300));
    let photo = vector("photo_640x480.jpg");
    let done: Arc<Mutex<Vec<(usize, Value)>>> = Arc::default();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (photo, done, a, b) = (photo.clone(), done.clone(), base_a.clone(), base_b.clone());
            std::thread::spawn(move || {
                let c = client();
                for i in (t..200).step_by(8) {
                    let base = if i % 2 == 0 { &a } else { &b };
                    let (status, v, _) = upload(&c, base, photo.clone(), false);
                    assert_eq!(status, 201, "upload {i}: {v}");
                    done.lock().unwrap().push((i, v));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let done = done.lock().unwrap();
    assert_eq!(done.len(), 200);
    let ids: HashSet<&str> = done
        .iter()
        .map(|(_, v)| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 200, "every upload has its own id");
    let c = client();
    for (i, v) in done.iter() {
        assert_eq!(v["ok"], true, "{v}");
        assert_eq!(v["input"]["width"], 640);
        assert!(v.get("job_id").is_none());
        // Outputs are readable from the server that did not take the upload.
        let other = if i % 2 == 0 { &base_b } else { &base_a };
        for o in v["outputs"].as_array().unwrap() {
            let res = c
                .get(format!("{other}{}", o["url"].as_str().unwrap()))
                .send()
                .unwrap();
            assert_eq!(res.status().as_u16(), 200, "{o}");
            assert_eq!(
                res.bytes().unwrap().len() as u64,
                o["byte_len"].as_u64().unwrap()
            );
        }
        let status: Value = c
            .get(format!("{other}/uploads/{}", v["id"].as_str().unwrap()))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(status["state"], "done");
        assert_eq!(status["outputs"], v["outputs"]);
    }
    // Exactly one outcome each, announced once, by one of the two workers.
    let deadline = Instant::now() + Duration::from_secs(5);
    while events.finished().len() < 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let finished = events.finished();
    assert_eq!(finished.len(), 200, "finished events for every id");
    assert!(
        finished.values().all(|&n| n == 1),
        "one job_finished per id"
    );
    let by: HashSet<String> = events
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "job_finished")
        .map(|e| e["by"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        by,
        HashSet::from(["worker:w1".to_owned(), "worker:w2".to_owned()]),
        "both workers took jobs"
    );
}

#[test]
fn a_worker_killed_mid_job_has_its_jobs_redelivered_and_finished_once() {
    let nats = Nats::start();
    let dir = tempfile::tempdir().unwrap();
    let store = format!("file://{}", dir.path().join("store").display());
    let (_srv, base) = server(&nats.url(), &store, "server", FAST);
    let events = Events::listen(&base);
    std::thread::sleep(Duration::from_millis(300));
    let c = client();
    // Queue the jobs first, so the victim holds a full hand when it dies.
    let photo = vector("photo_640x480.jpg");
    let mut ids = Vec::new();
    for _ in 0..40 {
        let (status, v, _) = upload(&c, &base, photo.clone(), true);
        assert_eq!(status, 202, "{v}");
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    let mut victim = worker(&nats.url(), &store, "victim", FAST);
    let start = Instant::now();
    while !events
        .seen
        .lock()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "job_finished" && e["by"] == "worker:victim")
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the victim finished nothing"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    victim.kill9();
    let held_by_victim: HashSet<String> = {
        let seen = events.seen.lock().unwrap();
        let started: HashSet<String> = seen
            .iter()
            .filter(|e| e["type"] == "job_started" && e["worker"] == "victim")
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        let finished: HashSet<String> = seen
            .iter()
            .filter(|e| e["type"] == "job_finished")
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        started.difference(&finished).cloned().collect()
    };
    let _survivor = worker(&nats.url(), &store, "survivor", FAST);
    let mut redelivered = 0;
    for id in &ids {
        let v = wait_done(&c, &base, id, Duration::from_secs(60));
        assert_eq!(v["ok"], true, "{v}");
        if held_by_victim.contains(id) && v["recorded_by"] == "worker:survivor" {
            assert!(v["attempt"].as_u64().unwrap() >= 2, "{v}");
            redelivered += 1;
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    // One record each (the bucket's create-if-absent); never announced twice. (An
    // announcement can be lost with the victim, between its record and its event.)
    let finished = events.finished();
    assert!(finished.values().all(|&n| n == 1), "{finished:?}");
    assert!(
        finished.len() >= ids.len() - 1,
        "{} of {}",
        finished.len(),
        ids.len()
    );
    assert!(
        redelivered >= 1,
        "the victim died holding jobs that the survivor finished: {held_by_victim:?}"
    );
}

#[test]
fn a_nats_restart_loses_no_accepted_job() {
    let mut nats = Nats::start();
    let dir = tempfile::tempdir().unwrap();
    let store = format!("file://{}", dir.path().join("store").display());
    let _w = worker(&nats.url(), &store, "w", FAST);
    let (_srv, base) = server(&nats.url(), &store, "server", FAST);
    let c = client();
    let photo = vector("photo_640x480.jpg");
    let mut accepted = Vec::new();
    let mut refused = 0;
    for round in 0..3 {
        for _ in 0..20 {
            let (status, v, _) = upload(&c, &base, photo.clone(), true);
            match status {
                202 => accepted.push(v["id"].as_str().unwrap().to_owned()),
                503 => refused += 1,
                s => panic!("unexpected {s}: {v}"),
            }
        }
        if round == 0 {
            nats.restart(Duration::from_millis(500));
        }
        if round == 1 {
            // Give the clients time to reconnect.
            std::thread::sleep(Duration::from_secs(2));
        }
    }
    assert!(
        accepted.len() >= 30,
        "accepted {} (refused {refused})",
        accepted.len()
    );
    for id in &accepted {
        let v = wait_done(&c, &base, id, Duration::from_secs(60));
        assert_eq!(v["ok"], true, "{v}");
        let out = v["outputs"][0]["url"].as_str().unwrap();
        assert_eq!(
            c.get(format!("{base}{out}"))
                .send()
                .unwrap()
                .status()
                .as_u16(),
            200
        );
    }
}

#[test]
fn a_full_stream_answers_503_and_a_poison_job_ends_after_its_attempts() {
    let nats = Nats::start();
    let dir = tempfile::tempdir().unwrap();
    let store = format!("file://{}", dir.path().join("store").display());
    let limits = [
        "--cluster-ack-wait-ms",
        "1500",
        "--cluster-max-queued",
        "3",
        "--cluster-max-attempts",
        "2",
    ];
    let (_srv, base) = server(&nats.url(), &store, "server", &limits);
    let c = client();
    // No worker yet: three jobs fill the stream.
    let photo = vector("photo_640x480.jpg");
    let mut good = Vec::new();
    for _ in 0..3 {
        let (status, v, _) = upload(&c, &base, photo.clone(), true);
        assert_eq!(status, 202, "{v}");
        good.push(v["id"].as_str().unwrap().to_owned());
    }
    let (status, v, retry) = upload(&c, &base, photo.clone(), true);
    assert_eq!(status, 503, "{v}");
    assert_eq!(v["error"]["code"], "queue_full");
    assert_eq!(retry.as_deref(), Some("1"));
    // The synchronous path refuses the same way, and nothing refused is left behind.
    let (status, _, _) = upload(&c, &base, photo.clone(), false);
    assert_eq!(status, 503);
    assert_eq!(
        std::fs::read_dir(dir.path().join("store/inputs"))
            .unwrap()
            .count(),
        3
    );
    let mut w = worker(&nats.url(), &store, "w", &limits);
    for id in &good {
        assert_eq!(
            wait_done(&c, &base, id, Duration::from_secs(30))["ok"],
            true
        );
    }
    // A job that kills its worker; workers that die are restarted, as a supervisor would.
    let poison = b"CONVEYOR-FAULT-ABORT and then some bytes".to_vec();
    let (status, v, _) = upload(&c, &base, poison, true);
    assert_eq!(status, 202, "{v}");
    let poison_id = v["id"].as_str().unwrap().to_owned();
    let mut restarts = 0;
    let start = Instant::now();
    let poison_done = loop {
        if let Ok(res) = c.get(format!("{base}/uploads/{poison_id}")).send() {
            if res.status().as_u16() == 200 {
                break res.json::<Value>().unwrap();
            }
        }
        if w.exited() {
            restarts += 1;
            w = worker(&nats.url(), &store, "w", &limits);
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the poison job never ended"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(restarts, 2, "each of the 2 attempts killed a worker");
    assert_eq!(poison_done["ok"], false);
    assert_eq!(poison_done["error"]["code"], "panicked", "{poison_done}");
    assert!(!w.exited(), "the last delivery only records the failure");
    // The poison job left no input behind and the stream has room again.
    assert!(!dir.path().join("store/inputs").join(&poison_id).exists());
    let (status, v, _) = upload(&c, &base, photo, false);
    assert_eq!(status, 201, "{v}");
}

#[test]
fn a_server_killed_after_202_leaves_a_job_that_finishes_and_reads_elsewhere() {
    let nats = Nats::start();
    let s3 = S3::start();
    let store = s3.store_url();
    let (mut a, base_a) = server(&nats.url(), &store, "server-a", FAST);
    let (_b, base_b) = server(&nats.url(), &store, "server-b", FAST);
    let c = client();
    let (status, v, _) = upload(&c, &base_a, vector("photo_640x480.jpg"), true);
    assert_eq!(status, 202, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    a.kill9();
    let pending = c.get(format!("{base_b}/uploads/{id}")).send().unwrap();
    assert_eq!(pending.status().as_u16(), 202, "no worker yet: pending");
    let _w = worker(&nats.url(), &store, "w", FAST);
    let done = wait_done(&c, &base_b, &id, Duration::from_secs(30));
    assert_eq!(done["ok"], true, "{done}");
    let mut urls = Vec::new();
    for o in done["outputs"].as_array().unwrap() {
        let url = o["url"].as_str().unwrap();
        let res = c.get(format!("{base_b}{url}")).send().unwrap();
        assert_eq!(res.status().as_u16(), 200);
        urls.push(url.to_owned());
    }
    assert_eq!(urls.len(), 2);
    let missing = c
        .get(format!(
            "{base_b}/uploads/{}",
            conveyor_cluster::message::new_job_id()
        ))
        .send()
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
}

#[test]
fn cancel_and_deadline_work_across_servers() {
    let nats = Nats::start();
    let dir = tempfile::tempdir().unwrap();
    let store = format!("file://{}", dir.path().join("store").display());
    let (_a, base_a) = server(
        &nats.url(),
        &store,
        "server-a",
        &["--job-timeout-secs", "1"],
    );
    let (_b, base_b) = server(&nats.url(), &store, "server-b", FAST);
    let c = client();
    let photo = vector("photo_640x480.jpg");
    // No worker: a job cancelled on the other server ends cancelled, everywhere.
    let (_, v, _) = upload(&c, &base_b, photo.clone(), true);
    let id = v["id"].as_str().unwrap().to_owned();
    let res = c.delete(format!("{base_a}/uploads/{id}")).send().unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let done = wait_done(&c, &base_b, &id, Duration::from_secs(5));
    assert_eq!(done["error"]["code"], "cancelled", "{done}");
    // A synchronous upload with a 1 s deadline and no worker: 504 after the grace.
    let t = Instant::now();
    let (status, v, _) = upload(&c, &base_a, photo.clone(), false);
    assert_eq!(status, 504, "{v}");
    assert!(t.elapsed() < Duration::from_secs(10));
    // A worker that starts later skips both: they have their outcomes.
    let events = Events::listen(&base_b);
    std::thread::sleep(Duration::from_millis(300));
    let _w = worker(&nats.url(), &store, "w", FAST);
    let (status, v, _) = upload(&c, &base_b, photo, false);
    assert_eq!(status, 201, "{v}");
    std::thread::sleep(Duration::from_millis(500));
    let finished: HashMap<String, usize> = events.finished();
    assert_eq!(finished.len(), 1, "only the new job finished: {finished:?}");
    assert!(
        std::fs::read_dir(dir.path().join("store/inputs")).map_or(0, |d| d.count()) == 0,
        "inputs cleaned up"
    );
}
