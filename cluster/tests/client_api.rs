//! The Rust API without the upload server: a [`ClusterClient`] submits to a real
//! nats-server and an in-process [`Worker`] runs the jobs; the store is S3 (moto) or
//! a local folder.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use conveyor::{ErrorKind, Pool};
use conveyor_cluster::{ClusterClient, ClusterConfig, Store, Submission, Worker, WorkerOptions};

fn s3_store(s3: &S3) -> Store {
    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    Store::from_url(&s3.store_url()).unwrap()
}

/// Starts an in-process worker (one pool thread) named `name`; send `true` to stop it.
async fn start_worker(
    client: ClusterClient,
    name: &str,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<Result<(), conveyor_cluster::ClusterError>>,
) {
    let pool = Arc::new(
        Pool::builder()
            .workers(1)
            .queue_capacity(2)
            .build()
            .unwrap(),
    );
    let options = WorkerOptions {
        name: name.into(),
        concurrency: None,
    };
    let worker = Worker::new(client, pool, options).await.unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    (
        stop_tx,
        tokio::spawn(worker.run(stop_rx, Duration::from_secs(5))),
    )
}

/// Put, get, list, delete of a prefix and of a missing key, on any store.
async fn writes_reads_lists_and_deletes(store: &Store) {
    store
        .put("outputs/x/a.jpg", Bytes::from_static(b"abc"))
        .await
        .unwrap();
    store
        .put("outputs/x/b.webp", Bytes::from_static(b"de"))
        .await
        .unwrap();
    assert_eq!(store.get("outputs/x/a.jpg").await.unwrap().unwrap(), "abc");
    assert_eq!(store.get("outputs/x/none").await.unwrap(), None);
    assert_eq!(
        store.list("outputs/x").await.unwrap(),
        ["outputs/x/a.jpg", "outputs/x/b.webp"]
    );
    assert_eq!(store.delete_prefix("outputs/x").await.unwrap(), 2);
    assert!(store.list("outputs/x").await.unwrap().is_empty());
    store.delete("outputs/x/a.jpg").await.unwrap();
}

/// Waits (up to 5 s) for the worker to delete job `id`'s input, which it does just
/// after recording the outcome the client has seen.
async fn input_goes(store: &Store, id: &str) {
    let until = tokio::time::Instant::now() + Duration::from_secs(5);
    while store.get(&format!("inputs/{id}")).await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < until, "input {id} stays");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_s3_store_writes_reads_lists_and_deletes() {
    let s3 = tokio::task::spawn_blocking(S3::start).await.unwrap();
    let store = s3_store(&s3);
    writes_reads_lists_and_deletes(&store).await;
    // The objects live under the URL's prefix in the bucket.
    store
        .put("inputs/y", Bytes::from_static(b"1"))
        .await
        .unwrap();
    let whole = Store::from_url(&format!(
        "s3://{}?endpoint=http://127.0.0.1:{}&region=us-east-1",
        s3.bucket, s3.port
    ))
    .unwrap();
    assert_eq!(whole.list("jobs/inputs").await.unwrap(), ["jobs/inputs/y"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_wait_and_duplicates_give_one_outcome() {
    let nats = Nats::start();
    let s3 = tokio::task::spawn_blocking(S3::start).await.unwrap();
    let store = s3_store(&s3);
    let cfg = ClusterConfig {
        ack_wait: Duration::from_secs(2),
        ..ClusterConfig::default()
    };
    let client = ClusterClient::connect(&nats.url(), store.clone(), cfg.clone())
        .await
        .unwrap();
    let worker_client = ClusterClient::connect(&nats.url(), store.clone(), cfg)
        .await
        .unwrap();
    let (stop_tx, running) = start_worker(worker_client, "in-process").await;

    let photo = vector("photo_640x480.jpg");
    let id = conveyor_cluster::message::new_job_id();
    let first = client
        .submit(Submission::new(photo.clone()).with_id(id.clone()))
        .await
        .unwrap();
    assert!(!first.duplicate);
    // The same id again, as a retry after a lost reply would: stored once.
    let again = client
        .submit(Submission::new(photo.clone()).with_id(id.clone()))
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.seq, first.seq);
    let rec = client.wait(&first).await.unwrap();
    assert!(rec.outcome.ok, "{:?}", rec.outcome.error);
    assert_eq!(rec.by, "worker:in-process");
    assert_eq!(rec.outcome.job_id.0, first.seq);
    assert_eq!(rec.outcome.key.as_deref(), Some(id.as_str()));
    let keys = rec.output_keys();
    assert_eq!(
        keys,
        [
            format!("outputs/{id}/large.jpg"),
            format!("outputs/{id}/thumb.webp")
        ]
    );
    let large = client.read_output(&id, "large.jpg").await.unwrap().unwrap();
    assert_eq!(
        large.len() as u64,
        rec.outcome.outputs.as_ref().unwrap()[0].byte_len
    );
    assert_eq!(&large[..2], b"\xff\xd8");
    // The input is gone once the outcome is recorded.
    input_goes(&store, &id).await;

    // A bad image fails like in the pool, with the wire error.
    let bad = client
        .submit(Submission::new(b"not an image".to_vec()))
        .await
        .unwrap();
    let rec = client.wait(&bad).await.unwrap();
    assert_eq!(
        rec.outcome.error.as_ref().map(|e| e.code),
        Some(ErrorKind::UnsupportedFormat)
    );
    assert_eq!(
        client.read_output(&bad.id, "large.jpg").await.unwrap(),
        None
    );

    // Cancelling a finished job leaves its outcome as it was.
    assert!(client.cancel(&id).await.unwrap().outcome.ok);
    let _ = stop_tx.send(true);
    running.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jetstream_store_keeps_inputs_and_outputs_in_nats() {
    let nats = Nats::start();
    let store = Store::from_url("jetstream://conveyor_files").unwrap();
    // Unbound, it says how to open it.
    let e = store.get("inputs/x").await.unwrap_err().to_string();
    assert!(e.contains("ClusterClient"), "{e}");
    let cfg = ClusterConfig {
        ack_wait: Duration::from_secs(2),
        ..ClusterConfig::default()
    };
    let client = ClusterClient::connect(&nats.url(), store.clone(), cfg.clone())
        .await
        .unwrap();
    // The basic operations, on the bucket the client created.
    writes_reads_lists_and_deletes(&store).await;

    // A job through a worker whose own store handle is bound by its own client.
    let worker_store = Store::from_url("jetstream://conveyor_files").unwrap();
    let worker_client = ClusterClient::connect(&nats.url(), worker_store, cfg)
        .await
        .unwrap();
    let (stop_tx, running) = start_worker(worker_client, "js").await;
    let photo = vector("photo_640x480.jpg");
    let accepted = client.submit(Submission::new(photo)).await.unwrap();
    let rec = client.wait(&accepted).await.unwrap();
    assert!(rec.outcome.ok, "{:?}", rec.outcome.error);
    let id = &accepted.id;
    assert_eq!(
        store.list(&format!("outputs/{id}")).await.unwrap(),
        [
            format!("outputs/{id}/large.jpg"),
            format!("outputs/{id}/thumb.webp")
        ]
    );
    let large = client.read_output(id, "large.jpg").await.unwrap().unwrap();
    assert_eq!(
        large.len() as u64,
        rec.outcome.outputs.as_ref().unwrap()[0].byte_len
    );
    assert_eq!(&large[..2], b"\xff\xd8");
    input_goes(&store, id).await;
    let _ = stop_tx.send(true);
    running.await.unwrap().unwrap();
}
