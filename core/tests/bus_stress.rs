//! The bus under load: many subscribers (some never reading, some reading slowly with a
//! small capacity, some keeping up) while trivial jobs run at full speed. Every
//! subscriber accounts for every event (received + reported missed = emitted), a
//! stalled one holds no more than its capacity, and memory stays bounded.

use std::time::Duration;

use bytes::Bytes;
use conveyor::{Job, Pool, RecvError, Subscription};

const JOBS: u64 = if cfg!(miri) { 50 } else { 20_000 };

/// Received events and reported misses, until the bus closes.
fn drain(sub: &mut Subscription, pause: Option<Duration>) -> (u64, u64) {
    let (mut got, mut missed) = (0, 0);
    loop {
        match sub.recv() {
            Ok(_) => {
                got += 1;
                if let Some(p) = pause {
                    std::thread::sleep(p);
                }
            }
            Err(RecvError::Lagged(n)) => missed += n,
            Err(RecvError::Closed) => return (got, missed),
        }
    }
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn many_subscribers_some_stalled_account_for_every_event_in_bounded_memory() {
    let pool = Pool::builder()
        .workers(2)
        .queue_capacity(64)
        .event_capacity(1024)
        .build()
        .unwrap();
    // 8 that never read, 4 slow ones with a capacity of 16, 4 that keep up.
    let mut stalled: Vec<Subscription> = (0..8).map(|_| pool.subscribe()).collect();
    let small: Vec<Subscription> = (0..4).map(|_| pool.subscribe().with_capacity(16)).collect();
    let readers: Vec<Subscription> = (0..4).map(|_| pool.subscribe()).collect();
    let mut threads = Vec::new();
    for mut s in small {
        threads.push(std::thread::spawn(move || {
            drain(&mut s, Some(Duration::from_micros(500)))
        }));
    }
    for mut s in readers {
        threads.push(std::thread::spawn(move || drain(&mut s, None)));
    }
    let before = rss_kib();
    let outcomes = pool.outcomes();
    let empty = Bytes::new();
    for _ in 0..JOBS {
        pool.submit_collected(Job::new(empty.clone())).unwrap();
    }
    for _ in 0..JOBS {
        outcomes.recv().unwrap();
    }
    let after = rss_kib();
    pool.shutdown();
    // queued + started + finished per job, then shutting_down.
    let total = 3 * JOBS + 1;
    for t in threads {
        let (got, missed) = t.join().unwrap();
        assert_eq!(got + missed, total, "got {got}, missed {missed}");
    }
    for s in &mut stalled {
        // A subscriber that never read holds at most the ring's capacity.
        let first = s.recv();
        let Err(RecvError::Lagged(n)) = first else {
            panic!("a stalled subscriber must lag, got {first:?}")
        };
        let (got, missed) = drain(s, None);
        assert_eq!(missed, 0);
        assert!(
            got <= 1024,
            "{got} events were kept for a stalled subscriber"
        );
        assert_eq!(n + got, total);
    }
    if let (Some(b), Some(a)) = (before, after) {
        assert!(
            a.saturating_sub(b) < 64 * 1024,
            "memory grew by {} KiB over {JOBS} jobs",
            a - b
        );
    }
}

#[test]
fn a_small_capacity_lags_exactly_like_a_ring_of_that_size() {
    let pool = Pool::builder().workers(1).build().unwrap();
    let mut sub = pool.subscribe().with_capacity(5);
    for _ in 0..10 {
        pool.submit(Job::new(Bytes::new())).unwrap().wait();
    }
    // 30 events waiting, 5 kept: one lag of 25, then the last 5, oldest first.
    assert_eq!(sub.try_recv(), Err(conveyor::TryRecvError::Lagged(25)));
    let names: Vec<&str> = (0..5).map(|_| sub.try_recv().unwrap().name()).collect();
    assert_eq!(
        names,
        [
            "job_started",
            "job_finished",
            "job_queued",
            "job_started",
            "job_finished"
        ]
    );
    assert_eq!(sub.try_recv(), Err(conveyor::TryRecvError::Empty));
}
