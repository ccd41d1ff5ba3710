//! The event bus's cost to the pool's throughput: the same N jobs through a fresh
//! 2-worker pool with no subscriber and with 8 subscribers that never read (stalled:
//! they lag behind the shared ring, and the pool must not wait for them); 1 stalled
//! subscriber too, which tells the cost of the bus being on (events built and sent)
//! from the cost per subscriber.
//!
//! Runs are interleaved (0, 1, 8, then 1, 8, 0, then 8, 0, 1, ...) so that drift in
//! the machine's load hits every side alike. Two figures per side: the ratio of its
//! median over the runs to no subscriber's median, and the median of the per-round
//! ratios (each round runs every side back to back, so this one also holds when the
//! machine's load shifts between rounds, as on a shared machine). Two
//! workloads: a small real image through the real pipeline (a 640×480 JPEG through
//! the default recipe: decode, a JPEG and a 320 px WebP, outputs kept in memory), and
//! trivial jobs (empty inputs that fail at once, so the bus's share of each job is as
//! large as it can be: 3 events per job).
//!
//! `cargo bench -p conveyor --bench bus`; `BUS_BENCH_RUNS` (default 7, at least 5)
//! sets the runs per side, `BUS_BENCH_PHOTO_JOBS` (default 300) and
//! `BUS_BENCH_TRIVIAL_JOBS` (default 20000) the jobs per run.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use bytes::Bytes;
use conveyor::{Job, Pool, Subscription};

const WORKERS: usize = 2;
const STALLED: usize = 8;
/// The sides compared: stalled subscribers per run.
const SIDES: [usize; 3] = [0, 1, STALLED];

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One run: a fresh pool, `stalled` subscribers that never read, `jobs` jobs
/// submitted from one thread and collected on this one. Returns jobs per second.
fn run(input: &Bytes, jobs: usize, stalled: usize) -> f64 {
    let pool = Pool::builder()
        .workers(WORKERS)
        .queue_capacity(4 * WORKERS)
        .build()
        .unwrap();
    let subs: Vec<Subscription> = (0..stalled).map(|_| pool.subscribe()).collect();
    let outcomes = pool.outcomes();
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..jobs {
                pool.submit_collected(Job::new(input.clone())).unwrap();
            }
        });
        for _ in 0..jobs {
            black_box(outcomes.recv().unwrap());
        }
    });
    let secs = start.elapsed().as_secs_f64();
    drop(subs);
    pool.shutdown();
    jobs as f64 / secs
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {cpu}")
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn main() {
    let runs = env_or("BUS_BENCH_RUNS", 7).max(5);
    let photo = Bytes::from(
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../testdata/vectors/inputs/photo_640x480.jpg"),
        )
        .unwrap(),
    );
    let workloads = [
        (
            "photo_640x480 (default recipe)",
            photo,
            env_or("BUS_BENCH_PHOTO_JOBS", 300),
        ),
        (
            "trivial (empty input, fails at once)",
            Bytes::new(),
            env_or("BUS_BENCH_TRIVIAL_JOBS", 20_000),
        ),
    ];
    println!(
        "bus: {WORKERS} workers, 0, 1 and {STALLED} stalled subscribers, {runs} interleaved runs each; \
         machine: {}; load average at start {}",
        machine(),
        load()
    );
    for (name, input, jobs) in workloads {
        // Warm-up, not counted.
        for subs in SIDES {
            run(&input, jobs / 10 + 1, subs);
        }
        let mut rates: Vec<Vec<f64>> = vec![Vec::new(); SIDES.len()];
        for round in 0..runs {
            for k in 0..SIDES.len() {
                let side = (round + k) % SIDES.len();
                rates[side].push(run(&input, jobs, SIDES[side]));
            }
        }
        println!("{name}, {jobs} jobs per run:");
        let mut base = 0.0;
        let base_runs = rates[0].clone();
        for (subs, v) in SIDES.iter().zip(&mut rates) {
            let mut paired: Vec<f64> = v.iter().zip(&base_runs).map(|(x, b)| x / b).collect();
            let paired = median(&mut paired);
            let (lo, hi) = v
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            let m = median(v);
            if *subs == 0 {
                base = m;
            }
            println!(
                "  {subs} stalled subscribers: median {m:.1} jobs/s (runs {lo:.1}..{hi:.1}); \
                 ratio to 0: {:.3} ({:+.1}%); median per-round ratio {paired:.3} ({:+.1}%)",
                m / base,
                (m / base - 1.0) * 100.0,
                (paired - 1.0) * 100.0
            );
        }
    }
    println!("load average at end {}", load());
}
