//! Back-pressure: the queue is bounded; `submit` blocks while it is full, `try_submit`
//! and `submit_timeout` hand the job back.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use conveyor::{ErrorKind, Fault, Job, Pool, SubmitError};

/// A pool of one worker, held busy by a job that waits on `release`.
fn held_pool(capacity: usize) -> (Pool, crossbeam_channel::Sender<()>, conveyor::Ticket) {
    let pool = Pool::builder()
        .workers(1)
        .queue_capacity(capacity)
        .build()
        .unwrap();
    let (release, hold) = crossbeam_channel::bounded(1);
    let t = pool
        .submit(Job::new(common::png(8, 8)).with_fault(Fault::Hold(hold)))
        .unwrap();
    // Wait until the worker has taken it off the queue.
    let start = Instant::now();
    while pool.stats().running != 1 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "worker never started"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    (pool, release, t)
}

#[test]
fn try_submit_on_a_full_queue_hands_the_job_back() {
    let (pool, release, held) = held_pool(2);
    let a = pool.try_submit(Job::new(common::png(8, 8))).unwrap();
    let b = pool.try_submit(Job::new(common::png(8, 8))).unwrap();
    let data = common::png(9, 9);
    match pool.try_submit(Job::new(data.clone()).with_key("mine")) {
        Err(SubmitError::Full(job)) => {
            assert_eq!(job.data().as_ref(), &data[..]);
            assert_eq!(job.key(), Some("mine"));
        }
        other => panic!("expected Full, got {:?}", other.map(|t| t.id())),
    }
    assert_eq!(pool.stats().rejected, 1);
    assert_eq!(pool.stats().queued, 2);
    release.send(()).unwrap();
    assert!(held.wait().is_ok());
    assert!(a.wait().is_ok() && b.wait().is_ok());
}

#[test]
fn submit_blocks_while_full_and_resumes_when_room_appears() {
    let (pool, release, held) = held_pool(1);
    let _queued = pool.submit(Job::new(common::png(8, 8))).unwrap();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            let t = pool.submit(Job::new(common::png(8, 8))).unwrap();
            done_tx.send(()).unwrap();
            assert!(t.wait().is_ok());
        });
        // Still blocked after 150 ms: the queue is full and the worker is held.
        assert!(
            done_rx.recv_timeout(Duration::from_millis(150)).is_err(),
            "submit did not block"
        );
        release.send(()).unwrap();
        done_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("submit resumed once there was room");
    });
    assert!(held.wait().is_ok());
}

#[test]
fn submit_timeout_gives_up_and_hands_the_job_back() {
    let (pool, release, _held) = held_pool(1);
    let _queued = pool.submit(Job::new(common::png(8, 8))).unwrap();
    let t = Instant::now();
    let err = pool
        .submit_timeout(Job::new(vec![7u8; 3]), Duration::from_millis(80))
        .unwrap_err();
    assert!(t.elapsed() >= Duration::from_millis(80));
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert_eq!(err.into_job().data().as_ref(), &[7u8, 7, 7]);
    release.send(()).unwrap();
}

#[test]
fn try_submit_after_shutdown_hands_the_job_back() {
    let pool = Pool::builder().workers(1).build().unwrap();
    pool.shutdown();
    let err = pool.try_submit(Job::new(vec![1u8])).unwrap_err();
    assert!(matches!(err, SubmitError::ShutDown(_)));
    assert!(matches!(
        pool.submit(Job::new(vec![1u8])).unwrap_err(),
        SubmitError::ShutDown(_)
    ));
    assert!(matches!(
        pool.submit_with(Job::new(vec![1u8]), |_| {}).unwrap_err(),
        SubmitError::ShutDown(_)
    ));
}
