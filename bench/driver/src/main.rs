//! `conveyor-bench CORPUS --threads N --reps R --warmup W --out DIR`: the standard upload
//! workload (1600 px JPEG q80 + 320 px WebP q75, EXIF orientation, metadata stripped)
//! through conveyor's Rust API on a pool of N workers, timed per pass over the corpus,
//! printing one JSON line in the format of the shared anchors (`ips_median`, ...).
//! Corpus bytes are loaded first; process start-up and file reading are not timed.

use std::time::Instant;

use conveyor::{Job, Pool, Recipe};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mut corpus, mut threads, mut reps, mut warmup, mut out) =
        (String::from("corpus"), 2usize, 5usize, 1usize, None);
    let mut i = 1;
    while i < args.len() {
        let val = || args.get(i + 1).cloned().expect("a value after the flag");
        match args[i].as_str() {
            "--threads" => threads = val().parse().expect("--threads N"),
            "--reps" => reps = val().parse().expect("--reps N"),
            "--warmup" => warmup = val().parse().expect("--warmup N"),
            "--out" => out = Some(val()),
            other => {
                corpus = other.to_string();
                i -= 1;
            }
        }
        i += 2;
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
