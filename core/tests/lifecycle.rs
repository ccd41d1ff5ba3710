//! One job's life: cancel (queued and running), deadlines, panics, the three delivery
//! styles, reentrant callbacks, and graceful, immediate and drop shutdown.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use conveyor::{ErrorKind, Fault, Job, Pool, Stage};

fn wait_running(pool: &Pool, n: u64) {
    let start = Instant::now();
    while pool.stats().running != n {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never reached {n} running"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn cancelling_a_queued_job_finishes_it_without_running() {
    let pool = Pool::builder()
        .workers(1)
        .queue_capacity(4)
        .build()
        .unwrap();
    let (release, hold) = crossbeam_channel::bounded(1);
    let held = pool
        .submit(Job::new(common::png(8, 8)).with_fault(Fault::Hold(hold)))
        .unwrap();
    wait_running(&pool, 1);
    let queued = pool.submit(Job::new(common::png(8, 8))).unwrap();
    assert!(pool.cancel(queued.id()));
    release.send(()).unwrap();
    let o = queued.wait();
    let e = o.result.unwrap_err();
    assert_eq!(
        (e.kind, e.stage),
        (ErrorKind::Cancelled, Some(Stage::Queue))
    );
    assert!(held.wait().is_ok());
    // A finished job cannot be cancelled.
    assert!(!pool.cancel(o.job_id));
}

#[test]
fn cancelling_a_running_job_stops_it_at_the_next_stage() {
    let pool = Pool::builder().workers(1).build().unwrap();
    let t = pool
        .submit(Job::new(common::png(8, 8)).with_fault(Fault::Sleep(Duration::from_millis(300))))
        .unwrap();
    wait_running(&pool, 1);
    assert!(pool.cancel(t.id()));
    let e = t.wait().result.unwrap_err();
    assert_eq!(
        (e.kind, e.stage),
        (ErrorKind::Cancelled, Some(Stage::Decode))
    );
}

#[test]
fn the_deadline_counts_time_spent_queued() {
    let pool = Pool::builder().workers(1).build().unwrap();
    let (release, hold) = crossbeam_channel::bounded(1);
    let _held = pool
        .submit(Job::new(common::png(8, 8)).with_fault(Fault::Hold(hold)))
        .unwrap();
    wait_running(&pool, 1);
    let t = pool
        .submit(Job::new(common::png(8, 8)).with_timeout(Duration::from_millis(50)))
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    release.send(()).unwrap();
    let e = t.wait().result.unwrap_err();
    assert_eq!((e.kind, e.stage), (ErrorKind::TimedOut, Some(Stage::Queue)));
    // And a deadline that passes while running stops it between stages.
    let t = pool
        .submit(
            Job::new(common::png(8, 8))
                .with_timeout(Duration::from_millis(30))
                .with_fault(Fault::Sleep(Duration::from_millis(80))),
        )
        .unwrap();
    let e = t.wait().result.unwrap_err();
    assert_eq!(
        (e.kind, e.stage),
        (ErrorKind::TimedOut, Some(Stage::Decode))
    );
}

#[test]
fn a_panicking_job_fails_alone_and_the_worker_survives() {
    let pool = Pool::builder().workers(1).build().unwrap();
    let bad = pool
        .submit(Job::new(common::png(8, 8)).with_fault(Fault::Panic))
        .unwrap();
    let e = bad.wait().result.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Panicked);
    assert!(e.message.contains("injected panic"), "{}", e.message);
    for _ in 0..3 {
        assert!(pool
            .submit(Job::new(common::png(8, 8)))
            .unwrap()
            .wait()
            .is_ok());
    }
    assert_eq!(pool.stats().failed.get(&ErrorKind::Panicked), Some(&1));
}

#[test]
fn a_panicking_callback_is_contained() {
    let pool = Pool::builder().workers(1).build().unwrap();
    pool.submit_with(Job::new(common::png(8, 8)), |_| panic!("callback bug"))
        .unwrap();
    assert!(pool
        .submit(Job::new(common::png(8, 8)))
        .unwrap()
        .wait()
        .is_ok());
}

#[test]
fn three_delivery_styles_deliver_the_same_outcome() {
    let pool = Pool::builder().workers(2).build().unwrap();
    let data = common::jpeg(300, 200);
    let ticket = pool.submit(Job::new(data.clone())).unwrap().wait();
    let (tx, rx) = std::sync::mpsc::channel();
    pool.submit_with(Job::new(data.clone()), move |o| tx.send(o).unwrap())
        .unwrap();
    let callback = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let id = pool.submit_collected(Job::new(data)).unwrap();
    let collected = pool
        .outcomes()
        .recv_timeout(Duration::from_secs(10))
        .unwrap();
    assert_eq!(collected.job_id, id);
    for o in [&ticket, &callback, &collected] {
        let r = o.result.as_ref().unwrap();
        let dims: Vec<_> = r
            .outputs
            .iter()
            .map(|o| (o.name.clone(), o.width, o.height))
            .collect();
        assert_eq!(
            dims,
            vec![
                ("large".to_string(), 300, 200),
                ("thumb".to_string(), 300, 200)
            ]
        );
    }
}

#[test]
fn ticket_wait_timeout_and_try_get_give_the_ticket_back() {
    let pool = Pool::builder().workers(1).build().unwrap();
    let (release, hold) = crossbeam_channel::bounded(1);
    let t = pool
        .submit(Job::new(common::png(8, 8)).with_fault(Fault::Hold(hold)))
        .unwrap();
    let t = t.try_get().unwrap_err();
    let t = t.wait_timeout(Duration::from_millis(20)).unwrap_err();
    release.send(()).unwrap();
    assert!(t.wait_timeout(Duration::from_secs(10)).unwrap().is_ok());
}

#[test]
fn callbacks_may_call_back_into_the_pool() {
    let pool = Arc::new(
        Pool::builder()
            .workers(1)
            .queue_capacity(1)
            .build()
            .unwrap(),
    );
    let (tx, rx) = crossbeam_channel::unbounded();
    let p = pool.clone();
    pool.submit_with(Job::new(common::png(8, 8)), move |first| {
        // Blocking submit from our own worker on a possibly full queue must not
        // deadlock: it is turned into a try.
        let tx2 = tx.clone();
        let r = p.submit_with(Job::new(common::png(4, 4)), move |second| {
            tx2.send(second).unwrap()
        });
        tx.send(first).unwrap();
        let _ = p.stats();
        drop(r);
    })
    .unwrap();
    let a = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let b = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(a.is_ok() && b.is_ok());
}

#[test]
fn shutdown_from_a_callback_does_not_deadlock() {
    let pool = Arc::new(Pool::builder().workers(1).build().unwrap());
    let p = pool.clone();
    let (tx, rx) = crossbeam_channel::bounded(1);
    pool.submit_with(Job::new(common::png(8, 8)), move |_| {
        p.shutdown();
        tx.send(()).unwrap();
    })
    .unwrap();
    rx.recv_timeout(Duration::from_secs(10))
        .expect("shutdown from a callback returned");
    let start = Instant::now();
    while !pool.is_shut_down() {
        assert!(start.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(pool.try_submit(Job::new(vec![1u8])).is_err());
}

#[test]
fn graceful_shutdown_drains_the_queue() {
    let pool = Pool::builder()
        .workers(1)
        .queue_capacity(16)
        .build()
        .unwrap();
    let tickets: Vec<_> = (0..10)
        .map(|_| pool.submit(Job::new(common::png(16, 16))).unwrap())
        .collect();
    pool.shutdown();
    for t in tickets {
        assert!(t
            .try_get()
            .expect("outcome delivered before shutdown returned")
            .is_ok());
    }
    pool.shutdown(); // idempotent
}

#[test]
fn shutdown_now_cancels_queued_jobs_and_lets_running_ones_finish() {
    let pool = Arc::new(
        Pool::builder()
            .workers(1)
            .queue_capacity(16)
            .build()
            .unwrap(),
    );
    let (release, hold) = crossbeam_channel::bounded(1);
    let held = pool
        .submit(Job::new(common::png(8, 8)).with_fault(Fault::Hold(hold)))
        .unwrap();
    wait_running(&pool, 1);
    let queued: Vec<_> = (0..5)
        .map(|_| pool.submit(Job::new(common::png(8, 8))).unwrap())
        .collect();
    let p = pool.clone();
    let stopper = std::thread::spawn(move || p.shutdown_now());
    while !pool.is_shut_down() {
        std::thread::sleep(Duration::from_millis(1));
    }
    release.send(()).unwrap();
    stopper.join().unwrap();
    assert!(held.wait().is_ok(), "the running job finished");
    for t in queued {
        let e = t.try_get().expect("delivered").result.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Cancelled);
    }
}

#[test]
fn dropping_the_pool_is_a_graceful_shutdown() {
    let seen = Arc::new(Mutex::new(0));
    {
        let pool = Pool::builder().workers(2).build().unwrap();
        for _ in 0..6 {
            let seen = seen.clone();
            pool.submit_with(Job::new(common::png(8, 8)), move |o| {
                assert!(o.is_ok());
                *seen.lock().unwrap() += 1;
            })
            .unwrap();
        }
    }
    assert_eq!(*seen.lock().unwrap(), 6);
}

#[test]
fn outcomes_iteration_ends_after_shutdown() {
    let pool = Pool::builder().workers(1).build().unwrap();
    for _ in 0..3 {
        pool.submit_collected(Job::new(common::png(8, 8))).unwrap();
    }
    let outcomes = pool.outcomes();
    pool.shutdown();
    assert_eq!(outcomes.count(), 3);
}
