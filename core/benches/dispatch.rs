//! Queue dispatch overhead: trivial jobs through the pool against the same number of
//! jobs through a bare crossbeam bounded channel with the same threads.
//!
//! "Trivial" jobs are empty inputs: the worker detects that there is no format and
//! fails them with `unsupported_format` at once, so what is measured is the pool's own
//! cost per job (envelope, cancel registry, stats, delivery).
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const JOBS: u64 = 20_000;

fn raw_crossbeam(workers: usize) {
    let (tx, rx) = crossbeam_channel::bounded::<(u64, crossbeam_channel::Sender<u64>)>(workers * 4);
    let (done_tx, done_rx) = crossbeam_channel::unbounded();
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let rx = rx.clone();
            std::thread::spawn(move || {
                while let Ok((v, reply)) = rx.recv() {
                    let _ = reply.send(black_box(v));
                }
            })
        })
        .collect();
    for i in 0..JOBS {
        tx.send((i, done_tx.clone())).unwrap();
    }
    drop(tx);
    for _ in 0..JOBS {
        done_rx.recv().unwrap();
    }
    for h in handles {
        h.join().unwrap();
    }
}

fn pool_collected(pool: &conveyor::Pool, empty: &bytes::Bytes) {
    let outcomes = pool.outcomes();
    for _ in 0..JOBS {
        pool.submit_collected(conveyor::Job::new(empty.clone()))
            .unwrap();
    }
    for _ in 0..JOBS {
        black_box(outcomes.recv().unwrap());
    }
}

fn pool_callbacks(pool: &conveyor::Pool, empty: &bytes::Bytes) {
    let (tx, rx) = crossbeam_channel::unbounded();
    for _ in 0..JOBS {
        let tx = tx.clone();
        pool.submit_with(conveyor::Job::new(empty.clone()), move |o| {
            let _ = tx.send(o.job_id);
        })
        .unwrap();
    }
    for _ in 0..JOBS {
        black_box(rx.recv().unwrap());
    }
}

fn dispatch(c: &mut Criterion) {
    let mut g = c.benchmark_group("dispatch");
    g.throughput(Throughput::Elements(JOBS));
    g.sample_size(10);
    let empty = bytes::Bytes::new();
    for workers in [1usize, 2] {
        g.bench_with_input(
            BenchmarkId::new("raw_crossbeam", workers),
            &workers,
            |b, &w| b.iter(|| raw_crossbeam(w)),
        );
        let pool = Arc::new(
            conveyor::Pool::builder()
                .workers(workers)
                .queue_capacity(workers * 4)
                .build()
                .unwrap(),
        );
        g.bench_with_input(
            BenchmarkId::new("pool_collected", workers),
            &workers,
            |b, _| b.iter(|| pool_collected(&pool, &empty)),
        );
        g.bench_with_input(
            BenchmarkId::new("pool_callback", workers),
            &workers,
            |b, _| b.iter(|| pool_callbacks(&pool, &empty)),
        );
    }
    g.finish();
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
