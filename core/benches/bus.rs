//! The event bus's cost to the pool: the same jobs with no subscriber, with 1 and with 8
//! subscribers that never read (stalled: they lag, and the pool must not wait for them).
//!
//! Two workloads: trivial jobs (empty inputs that fail at once, so the bus's share of
//! each job is as large as it can be: 3 events per job) and a small real image (a
//! 640x480 JPEG to a 64 px PNG). `cargo bench -p conveyor --bench bus`.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;
use std::path::Path;

use bytes::Bytes;
use conveyor::{Job, Pool, Recipe, Subscription};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn run(pool: &Pool, input: &Bytes, recipe: Option<&Recipe>, jobs: u64) {
    let outcomes = pool.outcomes();
    let submitter = {
        let (pool, input, recipe) = (pool, input.clone(), recipe.cloned());
        move || {
            for _ in 0..jobs {
                let mut job = Job::new(input.clone());
                if let Some(r) = &recipe {
                    job = job.with_recipe(r.clone());
                }
                pool.submit_collected(job).unwrap();
            }
        }
    };
    std::thread::scope(|s| {
        s.spawn(submitter);
        for _ in 0..jobs {
            black_box(outcomes.recv().unwrap());
        }
    });
}

fn bench(c: &mut Criterion) {
    let photo = Bytes::from(
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../testdata/vectors/inputs/photo_640x480.jpg"),
        )
        .unwrap(),
    );
    let small = Recipe::from_json(
        r#"{"outputs":[{"name":"small","width":64,"height":64,"format":"png"}]}"#,
    )
    .unwrap();
    let workloads: [(&str, Bytes, Option<&Recipe>, u64); 2] = [
        ("trivial", Bytes::new(), None, 20_000),
        ("photo_640x480", photo, Some(&small), 200),
    ];
    for (name, input, recipe, jobs) in workloads {
        let mut g = c.benchmark_group(format!("bus/{name}"));
        g.throughput(Throughput::Elements(jobs));
        g.sample_size(10);
        for stalled in [0usize, 1, 8] {
            let pool = Pool::builder()
                .workers(2)
                .queue_capacity(8)
                .build()
                .unwrap();
            // Subscribed and never read: each lags behind the 1024-event ring.
            let subs: Vec<Subscription> = (0..stalled).map(|_| pool.subscribe()).collect();
            g.bench_with_input(
                BenchmarkId::new("stalled_subscribers", stalled),
                &stalled,
                |b, _| b.iter(|| run(&pool, &input, recipe, jobs)),
            );
            drop(subs);
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
