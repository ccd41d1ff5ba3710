//! Measures how fast a running job stops: the time from its deadline to its outcome, and
//! from `cancel` to its outcome, on the slowest inputs we can craft for each stage
//! (a JPEG scan flood let past the scan limit, a 100-megapixel PNG, and a tiny image
//! enlarged to 100 megapixels for every encoder). Each case first runs to its end once;
//! the deadline and the cancel then fall half-way through the stage being measured.
//!
//! ```sh
//! cargo run --release -p conveyor --example stop_latency            # every case
//! cargo run --release -p conveyor --example stop_latency -- JPEG    # names with "JPEG"
//! STOP_AT=0.05 cargo run --release -p conveyor --example stop_latency -- AVIF   # 5 % in
//! ```
//!
//! `STOP_AT` (default 0.5) is where in the stage the deadline and the cancel fall.

#[path = "../tests/common/hostile.rs"]
mod hostile;

use std::time::{Duration, Instant};

use conveyor::{Fit, Job, Limits, OutputFormat, OutputSpec, Pool, Recipe, Timings};
use hostile::*;

fn enlarge(format: OutputFormat, lossless: bool) -> Recipe {
    enlarge_to(10_000, format, lossless)
}

fn enlarge_to(side: u32, format: OutputFormat, lossless: bool) -> Recipe {
    let mut spec = OutputSpec::new("big", format)
        .size(side, side)
        .fit(Fit::Fill)
        .without_enlargement(false);
    spec.lossless = lossless;
    Recipe::new(vec![spec])
}

fn lenient(recipe: Recipe) -> Recipe {
    Recipe::from_json(&recipe.to_json().replace("}]", "}],\"fail_on\":\"none\"")).unwrap()
}

/// When the measured stage starts and how long it runs, from a run to the end.
fn stage(t: &Timings, stage: &str) -> (Duration, Duration) {
    match stage {
        "decode" => (t.queued, t.decode),
        "resize" => (t.queued + t.decode, t.resize),
        _ => (t.queued + t.decode + t.resize, t.encode),
    }
}

fn main() {
    let pool = Pool::builder()
        .workers(1)
        .limits(Limits::default().with_max_scans(100_000))
        .build()
        .unwrap();
    let small = progressive_jpeg_of(200, 200, 7);
    let cases: Vec<(&str, &str, Vec<u8>, Recipe)> = vec![
        (
            "scan flood 2048², 3,000 scans",
            "decode",
            scan_flood_jpeg(2048, 2048, 3000),
            lenient(Recipe::default()),
        ),
        (
            "100 MP PNG",
            "decode",
            png_black_rgb(10_000, 10_000),
            Recipe::default(),
        ),
        (
            "200² JPEG to 100 MP",
            "resize",
            small.clone(),
            enlarge(OutputFormat::Png, false),
        ),
        (
            "100 MP JPEG out",
            "encode",
            small.clone(),
            enlarge(OutputFormat::Jpeg, false),
        ),
        ("100 MP progressive JPEG out", "encode", small.clone(), {
            let mut r = enlarge(OutputFormat::Jpeg, false);
            r.outputs[0].progressive = true;
            r
        }),
        (
            "100 MP PNG out",
            "encode",
            small.clone(),
            enlarge(OutputFormat::Png, false),
        ),
        (
            "100 MP WebP out",
            "encode",
            small.clone(),
            enlarge(OutputFormat::Webp, false),
        ),
        (
            "100 MP lossless WebP out",
            "encode",
            small.clone(),
            enlarge(OutputFormat::Webp, true),
        ),
        ("100 MP AVIF out, speed 10", "encode", small.clone(), {
            let mut r = enlarge(OutputFormat::Avif, false);
            r.outputs[0].speed = Some(10);
            r
        }),
        (
            "0.36 MP AVIF out of noise, speed 1",
            "encode",
            png_noise_rgb(600, 600),
            {
                let mut r = enlarge_to(600, OutputFormat::Avif, false);
                r.outputs[0].speed = Some(1);
                r
            },
        ),
    ];
    println!("| input | stage | stage alone | deadline → outcome | cancel → outcome |");
    println!("|---|---|---|---|---|");
    let only = std::env::args().nth(1).unwrap_or_default();
    let share: f64 = std::env::var("STOP_AT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.5);
    for (name, which, data, recipe) in cases {
        if !name.contains(&only) {
            continue;
        }
        let full = pool
            .submit(Job::new(data.clone()).with_recipe(recipe.clone()))
            .unwrap()
            .wait();
        let (starts, runs) = match &full.result {
            Ok(r) => stage(&r.timings, which),
            Err(e) => {
                println!("| {name} | {which} | failed: {e} | | |");
                continue;
            }
        };
        let at = starts + runs.mul_f64(share);
        // The deadline.
        let t = Instant::now();
        let outcome = pool
            .submit(
                Job::new(data.clone())
                    .with_recipe(recipe.clone())
                    .with_timeout(at),
            )
            .unwrap()
            .wait();
        let late = t.elapsed().saturating_sub(at);
        let e = outcome.result.expect_err("the deadline stops it");
        // The cancel.
        let ticket = pool
            .submit(Job::new(data.clone()).with_recipe(recipe.clone()))
            .unwrap();
        std::thread::sleep(at);
        let c = Instant::now();
        pool.cancel(ticket.id());
        let cancelled = ticket.wait();
        let took = c.elapsed();
        let ce = cancelled.result.expect_err("the cancel stops it");
        println!(
            "| {name} | {which} | {:.0} ms | {:.1} ms ({}, {}) | {:.1} ms ({}, {}) |",
            runs.as_secs_f64() * 1e3,
            late.as_secs_f64() * 1e3,
            e.kind,
            e.stage.map(|s| s.as_str()).unwrap_or("-"),
            took.as_secs_f64() * 1e3,
            ce.kind,
            ce.stage.map(|s| s.as_str()).unwrap_or("-"),
        );
    }
}
