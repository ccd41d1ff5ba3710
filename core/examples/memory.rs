//! The memory budget, measured (Linux: reads `/proc/self/status`).
//!
//! ```sh
//! # estimate against measured peak per file (each file in a fresh child process)
//! cargo run --release -p conveyor --example memory -- estimate target/bench/corpus
//! # peak RSS with 8 black 100-megapixel PNGs on 2 workers against a 1 GiB budget
//! cargo run --release -p conveyor --example memory -- budget 8 2 1073741824
//! ```
//!
//! `estimate` runs the default recipe (a 1600 px JPEG and a 320 px WebP) on each file in
//! a child process and prints a Markdown table: the pipeline's estimate, and the child's
//! peak resident memory above what it had after reading the file. `budget` builds a pool
//! with the given workers and budget, submits the images at once, and prints the
//! process's peak RSS, its RSS before the first job (the fixed overhead: binary,
//! threads, the inputs themselves) and the budget.

#[path = "../tests/common/hostile.rs"]
mod hostile;

use std::process::Command;

use conveyor::{Job, Pool, Recipe};

fn status_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// One file, in this (child) process: prints `estimate_bytes measured_kib ok`.
fn one(path: &str) {
    let data = std::fs::read(path).expect("read the file");
    let base = status_kib("VmRSS:");
    let result = conveyor::process(&data, &Recipe::default());
    let peak = status_kib("VmHWM:");
    let estimate = result.as_ref().map_or(0, |r| r.memory_estimate);
    println!(
        "{estimate} {} {}",
        peak.saturating_sub(base),
        result.is_ok()
    );
}

fn estimate(dir: &str) {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("read the folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && !p.ends_with("MANIFEST.txt"))
        .collect();
    files.sort();
    let me = std::env::current_exe().expect("own path");
    println!("| file | MP | estimate MiB | measured MiB | measured / estimate |");
    println!("|---|---|---|---|---|");
    let mut ratios = Vec::new();
    for f in files {
        let out = Command::new(&me)
            .arg("one")
            .arg(&f)
            .output()
            .expect("run child");
        let text = String::from_utf8_lossy(&out.stdout);
        let v: Vec<&str> = text.split_whitespace().collect();
        if v.len() != 3 || v[2] != "true" {
            println!("| {} | | failed | | |", f.display());
            continue;
        }
        let est: u64 = v[0].parse().unwrap_or(0);
        let measured: u64 = v[1].parse().unwrap_or(0);
        let mp = conveyor::probe(
            &std::fs::read(&f).unwrap(),
            &conveyor::Limits::default(),
            &conveyor::InputFormat::ALL,
        )
        .map_or(0.0, |(_, w, h)| w as f64 * h as f64 / 1e6);
        let ratio = measured as f64 * 1024.0 / est.max(1) as f64;
        ratios.push(ratio);
        println!(
            "| {} | {mp:.1} | {:.1} | {:.1} | {ratio:.2} |",
            f.file_name().unwrap().to_string_lossy(),
            est as f64 / 1048576.0,
            mib(measured),
        );
    }
    ratios.sort_by(f64::total_cmp);
    if !ratios.is_empty() {
        println!(
            "\nmeasured / estimate: min {:.2}, median {:.2}, max {:.2} over {} files",
            ratios[0],
            ratios[ratios.len() / 2],
            ratios[ratios.len() - 1],
            ratios.len()
        );
    }
}

fn budget(images: usize, workers: usize, budget: u64) {
    let png = hostile::png_black_rgb(10_000, 10_000);
    let inputs: Vec<Vec<u8>> = (0..images).map(|_| png.clone()).collect();
    let pool = Pool::builder()
        .workers(workers)
        .queue_capacity(images)
        .memory_budget(budget)
        .build()
        .expect("pool");
    let before = status_kib("VmRSS:");
    let tickets: Vec<_> = inputs
        .into_iter()
        .map(|d| pool.submit(Job::new(d)).expect("submit"))
        .collect();
    let mut estimates = Vec::new();
    let mut failures = 0;
    for t in tickets {
        match t.wait().result {
            Ok(r) => estimates.push(r.memory_estimate),
            Err(e) => {
                failures += 1;
                eprintln!("{e}");
            }
        }
    }
    let peak = status_kib("VmHWM:");
    let est = estimates.first().copied().unwrap_or(0);
    println!(
        "{images} x 100 MP PNG on {workers} workers, budget {:.0} MiB: estimate per job {:.0} MiB, \
         jobs at once {}; RSS before the jobs {:.0} MiB, peak RSS {:.0} MiB, peak above the \
         start {:.0} MiB; {failures} failed",
        budget as f64 / 1048576.0,
        est as f64 / 1048576.0,
        (budget / est.max(1)).min(workers as u64),
        mib(before),
        mib(peak),
        mib(peak.saturating_sub(before)),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["one", path] => one(path),
        ["estimate", dir] => estimate(dir),
        ["budget", n, w, b] => budget(
            n.parse().expect("images"),
            w.parse().expect("workers"),
            b.parse().expect("budget bytes"),
        ),
        _ => eprintln!("usage: memory estimate DIR | memory budget IMAGES WORKERS BUDGET_BYTES"),
    }
}
