//! Exactly once, under stress: several producer threads submit tens of thousands of
//! jobs mixing valid images, garbage, panics, cancels and deadlines, through all three
//! delivery styles, and the pool is shut down in the middle. Every accepted job must
//! yield exactly one outcome; no refused job may yield any.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use conveyor::{ErrorKind, Fault, Job, OutputFormat, OutputSpec, Pool, Recipe, SubmitError};

fn total_jobs() -> u64 {
    std::env::var("CONVEYOR_STRESS_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

#[derive(Default)]
struct Ledger {
    outcomes: Mutex<HashMap<u64, (u32, Option<ErrorKind>)>>,
    accepted: AtomicU64,
    refused: AtomicU64,
}

impl Ledger {
    fn record(&self, o: conveyor::Outcome) {
        let mut m = self.outcomes.lock().unwrap();
        let e = m.entry(o.job_id.0).or_insert((0, None));
        e.0 += 1;
        e.1 = o.error_kind();
    }
}

/// Injected panics are expected here: keep them out of the log, and keep every other
/// panic's message.
fn quiet_injected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info.payload().downcast_ref::<&str>().copied().unwrap_or("");
            if !msg.contains("injected panic") {
                default(info);
            }
        }));
    });
}

fn run(graceful: bool) {
    quiet_injected_panics();
    let n = total_jobs();
    let producers = 4u64;
    let recipe = Arc::new(Recipe::new(vec![
        OutputSpec::new("o", OutputFormat::Png).size(4, 4)
    ]));
    let pool = Arc::new(
        Pool::builder()
            .workers(3)
            .queue_capacity(32)
            .build()
            .unwrap(),
    );
    let ledger = Arc::new(Ledger::default());
    let valid = common::png(12, 9);
    let collected = pool.outcomes();
    let collector = {
        let ledger = ledger.clone();
        std::thread::spawn(move || {
            for o in collected {
                ledger.record(o);
            }
        })
    };
    let start = Arc::new(Barrier::new(producers as usize + 1));
    let mut handles = Vec::new();
    for p in 0..producers {
        let (pool, ledger, recipe, valid, start) = (
            pool.clone(),
            ledger.clone(),
            recipe.clone(),
            valid.clone(),
            start.clone(),
        );
        handles.push(std::thread::spawn(move || {
            start.wait();
            let mut tickets = Vec::new();
            for i in 0..n / producers {
                let mut job = match i % 10 {
                    0..=3 => Job::new(valid.clone()),
                    4 | 5 => Job::new(vec![(i % 256) as u8; 64]),
                    6 => Job::new(valid.clone()).with_fault(Fault::Panic),
                    7 => Job::new(valid.clone()).with_timeout(Duration::ZERO),
                    8 => Job::new(valid.clone())
                        .with_timeout(Duration::from_micros(300))
                        .with_fault(Fault::Sleep(Duration::from_micros(400))),
                    _ => Job::new(valid.clone()),
                };
                job = job.with_recipe(recipe.clone());
                let style = (i / 10 + p) % 3;
                let res = match style {
                    0 => pool.submit(job).map(|t| {
                        let id = t.id();
                        tickets.push(t);
                        id
                    }),
                    1 => {
                        let l = ledger.clone();
                        if i % 2 == 0 {
                            pool.submit_with(job, move |o| l.record(o))
                        } else {
                            pool.try_submit_with(job, move |o| l.record(o))
                        }
                    }
                    _ => pool.submit_collected(job),
                };
                match res {
                    Ok(id) => {
                        ledger.accepted.fetch_add(1, Ordering::Relaxed);
                        if i % 10 == 9 {
                            pool.cancel(id);
                        }
                    }
                    Err(SubmitError::Full(_)) | Err(SubmitError::ShutDown(_)) => {
                        ledger.refused.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => panic!("unexpected {e}"),
                }
            }
            for t in tickets {
                ledger.record(t.wait());
            }
        }));
    }
    start.wait();
    // Shut down in the middle of the run.
    while ledger.accepted.load(Ordering::Relaxed) < n / 2 {
        std::thread::sleep(Duration::from_millis(1));
    }
    if graceful {
        pool.shutdown();
    } else {
        pool.shutdown_now();
    }
    for h in handles {
        h.join().unwrap();
    }
    drop(pool);
    collector.join().unwrap();

    let accepted = ledger.accepted.load(Ordering::Relaxed);
    let refused = ledger.refused.load(Ordering::Relaxed);
    let outcomes = ledger.outcomes.lock().unwrap();
    assert_eq!(accepted + refused, n / producers * producers);
    assert!(
        accepted >= n / 2 && refused > 0,
        "accepted {accepted}, refused {refused}"
    );
    assert_eq!(
        outcomes.len() as u64,
        accepted,
        "one outcome per accepted job"
    );
    let twice: Vec<_> = outcomes.iter().filter(|(_, (c, _))| *c != 1).collect();
    assert!(
        twice.is_empty(),
        "jobs with other than one outcome: {:?}",
        &twice[..twice.len().min(5)]
    );
    let mut by_kind: HashMap<Option<ErrorKind>, u64> = HashMap::new();
    for (_, (_, k)) in outcomes.iter() {
        *by_kind.entry(*k).or_default() += 1;
    }
    for kind in [
        None,
        Some(ErrorKind::UnsupportedFormat),
        Some(ErrorKind::Panicked),
        Some(ErrorKind::TimedOut),
        Some(ErrorKind::Cancelled),
    ] {
        assert!(
            by_kind.get(&kind).copied().unwrap_or(0) > 0,
            "no {kind:?} outcome in {by_kind:?}"
        );
    }
}

#[test]
fn exactly_once_with_graceful_shutdown_midway() {
    run(true);
}

#[test]
fn exactly_once_with_immediate_shutdown_midway() {
    run(false);
}
