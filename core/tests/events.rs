//! The broadcast bus: every subscriber sees every event, a slow one gets `Lagged(n)`
//! and carries on, the pool never waits; plus reload and stats.

mod common;

use std::time::Duration;

use conveyor::{
    Event, Job, OutputFormat, OutputSpec, Pool, Recipe, RecvError, Settings, TryRecvError,
};

fn drain(sub: &mut conveyor::Subscription) -> (Vec<Event>, u64) {
    let (mut events, mut missed) = (Vec::new(), 0);
    loop {
        match sub.recv() {
            Ok(e) => events.push(e),
            Err(RecvError::Lagged(n)) => missed += n,
            Err(RecvError::Closed) => return (events, missed),
        }
    }
}

#[test]
fn every_subscriber_sees_every_event_in_order() {
    let pool = Pool::builder()
        .workers(2)
        .event_capacity(4096)
        .build()
        .unwrap();
    let mut a = pool.subscribe();
    let mut b = pool.subscribe();
    let tickets: Vec<_> = (0..20)
        .map(|_| pool.submit(Job::new(common::png(8, 8))).unwrap())
        .collect();
    for t in tickets {
        t.wait();
    }
    pool.shutdown();
    let (ea, missed_a) = drain(&mut a);
    let (eb, missed_b) = drain(&mut b);
    assert_eq!((missed_a, missed_b), (0, 0));
    assert_eq!(ea, eb);
    let count = |name: &str| ea.iter().filter(|e| e.name() == name).count();
    assert_eq!(
        (
            count("job_queued"),
            count("job_started"),
            count("job_finished")
        ),
        (20, 20, 20)
    );
    assert_eq!(ea.last().map(|e| e.name()), Some("shutting_down"));
    // Per job: queued, then started, then finished.
    for e in &ea {
        if let Event::JobFinished { job_id, ok, .. } = e {
            assert!(ok);
            let pos = |n: &str| {
                ea.iter().position(|x| {
                    x.name() == n && serde_json::to_value(x).unwrap()["job_id"] == job_id.0
                })
            };
            assert!(
                pos("job_queued") < pos("job_started") && pos("job_started") < pos("job_finished")
            );
        }
    }
}

#[test]
fn a_slow_subscriber_is_told_how_many_it_missed_and_never_slows_the_pool() {
    let pool = Pool::builder()
        .workers(2)
        .event_capacity(8)
        .build()
        .unwrap();
    let mut slow = pool.subscribe();
    let tickets: Vec<_> = (0..50)
        .map(|_| pool.submit(Job::new(common::png(8, 8))).unwrap())
        .collect();
    // The pool finished everything although nobody read a single event.
    for t in tickets {
        assert!(t
            .wait_timeout(Duration::from_secs(30))
            .expect("pool not blocked")
            .is_ok());
    }
    match slow.try_recv() {
        Err(TryRecvError::Lagged(n)) => assert_eq!(n, 150 - 8),
        other => panic!("expected Lagged, got {other:?}"),
    }
    // Then it continues with the oldest retained events.
    let mut rest = 0;
    while slow.try_recv().is_ok() {
        rest += 1;
    }
    assert_eq!(rest, 8);
    pool.shutdown();
    let (after, missed) = drain(&mut slow);
    assert_eq!((after.len(), missed), (1, 0), "only shutting_down remains");
}

#[test]
fn a_dropped_subscriber_costs_nothing() {
    let pool = Pool::builder()
        .workers(1)
        .event_capacity(2)
        .build()
        .unwrap();
    drop(pool.subscribe());
    for _ in 0..10 {
        assert!(pool
            .submit(Job::new(common::png(8, 8)))
            .unwrap()
            .wait()
            .is_ok());
    }
}

#[test]
fn reload_changes_the_default_recipe_live() {
    let small = Recipe::new(vec![OutputSpec::new("o", OutputFormat::Png).size(10, 10)]);
    let big = Recipe::new(vec![OutputSpec::new("o", OutputFormat::Png).size(20, 20)]);
    let pool = Pool::builder()
        .workers(1)
        .default_recipe(small)
        .build()
        .unwrap();
    let mut sub = pool.subscribe();
    let r = pool
        .submit(Job::new(common::png(40, 40)))
        .unwrap()
        .wait()
        .result
        .unwrap();
    assert_eq!(r.outputs[0].width, 10);
    let settings = Settings {
        default_recipe: big,
        ..(*pool.settings()).clone()
    };
    pool.reload(settings).unwrap();
    let r = pool
        .submit(Job::new(common::png(40, 40)))
        .unwrap()
        .wait()
        .result
        .unwrap();
    assert_eq!(r.outputs[0].width, 20);
    let mut saw_reload = false;
    while let Ok(e) = sub.try_recv() {
        saw_reload |= e == Event::ConfigReloaded;
    }
    assert!(saw_reload);
    // An invalid reload is refused and changes nothing.
    let bad = Settings {
        default_recipe: Recipe::new(vec![]),
        ..Settings::default()
    };
    assert_eq!(
        pool.reload(bad).unwrap_err().kind,
        conveyor::ErrorKind::InvalidRecipe
    );
    assert_eq!(pool.settings().default_recipe.outputs[0].width, Some(20));
}

#[test]
fn periodic_stats_events_and_stats_snapshot() {
    let pool = Pool::builder()
        .workers(1)
        .stats_interval(Duration::from_millis(20))
        .build()
        .unwrap();
    let mut sub = pool.subscribe();
    assert!(pool
        .submit(Job::new(common::png(64, 64)))
        .unwrap()
        .wait()
        .is_ok());
    assert!(pool
        .submit(Job::new(b"garbage".to_vec()))
        .unwrap()
        .wait()
        .result
        .is_err());
    let mut got_stats = None;
    for _ in 0..200 {
        if let Ok(Some(Event::Stats { stats })) = sub.recv_timeout(Duration::from_millis(50)) {
            if stats.completed + stats.failed_total() == 2 {
                got_stats = Some(stats);
                break;
            }
        }
    }
    let stats = got_stats.expect("a stats event after both jobs");
    assert_eq!(stats.accepted, 2);
    assert_eq!(stats.completed, 1);
    assert_eq!(
        stats.failed.get(&conveyor::ErrorKind::UnsupportedFormat),
        Some(&1)
    );
    assert_eq!(stats.latency["total"].count, 2);
    assert_eq!(stats.latency["decode"].count, 1);
    let json = serde_json::to_value(pool.stats()).unwrap();
    assert_eq!(json["failed"]["unsupported_format"], 1);
}

#[test]
fn stats_add_up_across_workers() {
    // Each worker counts in its own shard; the snapshot must still add up exactly.
    let pool = Pool::builder()
        .workers(3)
        .queue_capacity(4)
        .build()
        .unwrap();
    let tickets: Vec<_> = (0..60)
        .map(|i| {
            let data = if i % 3 == 0 {
                b"garbage".to_vec()
            } else {
                common::png(16, 16)
            };
            pool.submit(Job::new(data)).unwrap()
        })
        .collect();
    for t in tickets {
        t.wait();
    }
    let s = pool.stats();
    assert_eq!((s.accepted, s.completed, s.failed_total()), (60, 40, 20));
    assert_eq!((s.queued, s.running, s.rejected), (0, 0, 0));
    assert_eq!(s.latency["queue"].count, 60);
    assert_eq!(s.latency["total"].count, 60);
    assert_eq!(s.latency["decode"].count, 40);
    assert_eq!(s.latency["total"].cumulative_buckets.last(), Some(&60));

    // Gauges while busy: three held jobs running, four queued, one refused.
    let (release, hold) = crossbeam_channel::bounded::<()>(0);
    let held: Vec<_> = (0..3)
        .map(|_| {
            pool.submit(Job::new(common::png(8, 8)).with_fault(conveyor::Fault::Hold(hold.clone())))
                .unwrap()
        })
        .collect();
    let start = std::time::Instant::now();
    while pool.stats().running != 3 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "workers never started"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let queued: Vec<_> = (0..4)
        .map(|_| pool.try_submit(Job::new(common::png(8, 8))).unwrap())
        .collect();
    assert!(pool.try_submit(Job::new(common::png(8, 8))).is_err());
    let s = pool.stats();
    assert_eq!((s.running, s.queued, s.rejected, s.accepted), (3, 4, 1, 67));
    drop(hold);
    for _ in 0..3 {
        release.send(()).unwrap();
    }
    for t in held.into_iter().chain(queued) {
        assert!(t.wait().is_ok());
    }
    let s = pool.stats();
    assert_eq!((s.queued, s.running, s.completed), (0, 0, 47));
}
