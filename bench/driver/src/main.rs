//! `conveyor-bench CORPUS --threads N --reps R --warmup W --out DIR`: the standard upload
//! workload (1600 px JPEG q80 + 320 px WebP q75, EXIF orientation, metadata stripped)
//! through conveyor's Rust API on a pool of N workers, timed per pass over the corpus,
//! printing one JSON line in the format of the shared anchors (`ips_median`, ...).
//! Corpus bytes are loaded first; process start-up and file reading are not timed.
//!
//! `conveyor-bench --one FILE --threads N --reps R --warmup W`: the latency of one upload
//! on an idle pool instead: each job is submitted alone and waited for; prints the median
//! (p50) from submission to outcome, with the pipeline's stage medians.

use std::time::Instant;

use conveyor::{Job, Pool, Recipe};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mut corpus, mut threads, mut reps, mut warmup, mut out, mut one) =
        (String::from("corpus"), 2usize, 5usize, 1usize, None, None);
    let mut i = 1;
    while i < args.len() {
        let val = || args.get(i + 1).cloned().expect("a value after the flag");
        match args[i].as_str() {
            "--threads" => threads = val().parse().expect("--threads N"),
            "--reps" => reps = val().parse().expect("--reps N"),
            "--warmup" => warmup = val().parse().expect("--warmup N"),
            "--out" => out = Some(val()),
            "--one" => one = Some(val()),
            other => {
                corpus = other.to_string();
                i -= 1;
            }
        }
        i += 2;
    }
    if let Some(file) = one {
        return latency(&file, threads, reps, warmup);
    }
    let mut names: Vec<String> = std::fs::read_dir(&corpus)
        .expect("corpus folder")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".jpg") || n.ends_with(".png"))
        .collect();
    names.sort();
    let inputs: Vec<conveyor::Job> = names
        .iter()
        .map(|n| Job::new(std::fs::read(format!("{corpus}/{n}")).expect("read corpus file")))
        .collect();
    // The standard upload workload is the default recipe.
    let recipe = Recipe::default();
    let pool = Pool::builder()
        .workers(threads)
        .queue_capacity(threads * 2)
        .default_recipe(recipe)
        .build()
        .expect("pool");
    let outcomes = pool.outcomes();
    let mut times = Vec::new();
    let mut last = Vec::new();
    for r in 0..warmup + reps {
        let t0 = Instant::now();
        for job in &inputs {
            pool.submit_collected(job.clone()).expect("pool running");
        }
        let mut got: Vec<conveyor::Outcome> = (0..inputs.len())
            .map(|_| outcomes.recv().expect("an outcome"))
            .collect();
        let dt = t0.elapsed().as_secs_f64();
        eprintln!("conveyor-rust rep {r}: {dt:.3}s");
        if r >= warmup {
            times.push(dt);
        }
        got.sort_by_key(|o| o.job_id);
        last = got;
    }
    let mut jpeg_bytes = 0;
    let mut webp_bytes = 0;
    for (n, o) in names.iter().zip(&last) {
        let report = o.result.as_ref().unwrap_or_else(|e| panic!("{n}: {e}"));
        let (j, w) = (
            report.outputs[0].data.as_ref().unwrap(),
            report.outputs[1].data.as_ref().unwrap(),
        );
        jpeg_bytes += j.len();
        webp_bytes += w.len();
        if let Some(dir) = &out {
            std::fs::create_dir_all(dir).unwrap();
            let stem = n.rsplit_once('.').map_or(n.as_str(), |s| s.0);
            std::fs::write(format!("{dir}/{stem}.jpg"), j).unwrap();
            std::fs::write(format!("{dir}/{stem}.webp"), w).unwrap();
        }
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    println!(
        "{}",
        serde_json::json!({
            "images": names.len(), "reps_s": times.iter().map(|t| (t * 1e4).round() / 1e4).collect::<Vec<_>>(),
            "median_s": (median * 1e4).round() / 1e4, "ips_median": ((names.len() as f64 / median) * 1e3).round() / 1e3,
            "jpeg_bytes": jpeg_bytes, "webp_bytes": webp_bytes, "threads": threads,
        })
    );
}

/// One upload at a time on an idle pool of `threads` workers: p50 latency and stages.
fn latency(file: &str, threads: usize, reps: usize, warmup: usize) {
    let job = Job::new(std::fs::read(file).expect("read the file"));
    let pool = Pool::builder()
        .workers(threads)
        .default_recipe(Recipe::default())
        .build()
        .expect("pool");
    let outcomes = pool.outcomes();
    let mut runs: Vec<[f64; 4]> = Vec::new();
    for r in 0..warmup + reps {
        let t0 = Instant::now();
        pool.submit_collected(job.clone()).expect("pool running");
        let outcome = outcomes.recv().expect("an outcome");
        let dt = t0.elapsed().as_secs_f64() * 1e3;
        let report = outcome.result.expect("the upload succeeds");
        let t = &report.timings;
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        if r >= warmup {
            runs.push([dt, ms(t.decode), ms(t.resize), ms(t.encode)]);
        }
    }
    let p50 = |i: usize| {
        let mut v: Vec<f64> = runs.iter().map(|r| r[i]).collect();
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2] * 100.0).round() / 100.0
    };
    println!(
        "{}",
        serde_json::json!({
            "file": file, "threads": threads, "reps": runs.len(),
            "p50_ms": p50(0), "decode_p50_ms": p50(1), "resize_p50_ms": p50(2), "encode_p50_ms": p50(3),
        })
    );
}
