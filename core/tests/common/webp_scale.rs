//! A measurement, not a check: lossy WebP at several qualities, to calibrate the wasm
//! build's encoder (vaam-image-webp) against libwebp's quality scale. Included by path
//! from an ignored test in each build: `core/tests/webp_scale.rs` (libwebp) and
//! `wasm/tests/webp_scale.rs` (the wasm build's encoders, run natively). For each JPEG
//! in `WEBP_SCALE_CORPUS` it writes, under `WEBP_SCALE_OUT/q<Q>/`, the standard
//! workload's 1600 px JPEG q80 and a 320 px WebP at quality Q (qualities from
//! `WEBP_SCALE_Q`), as the bench driver's `--out` does, so that the shared harness's
//! `quality.py` can score them:
//!
//! ```text
//! WEBP_SCALE_CORPUS=$PWD/target/bench/corpus WEBP_SCALE_OUT=/tmp/ws/pure \
//!   cargo test --release -p conveyor-wasm --test webp_scale -- --ignored --nocapture
//! WEBP_SCALE_CORPUS=$PWD/target/bench/corpus WEBP_SCALE_OUT=/tmp/ws/libwebp \
//!   cargo test --release -p conveyor --test webp_scale -- --ignored --nocapture
//! (cd target/bench && anchors/py/.venv/bin/python quality.py corpus /tmp/ws/*/q*)
//! ```

use conveyor::pipeline::{run_valid, Context};
use conveyor::{Limits, ValidRecipe};

/// Writes the outputs and prints the WebP bytes per quality.
pub fn run() {
    let corpus = std::env::var("WEBP_SCALE_CORPUS").expect("WEBP_SCALE_CORPUS");
    let out = std::env::var("WEBP_SCALE_OUT").expect("WEBP_SCALE_OUT");
    let qualities: Vec<u8> = std::env::var("WEBP_SCALE_Q")
        .unwrap_or_else(|_| "75,80,85,88,90,92,95".into())
        .split(',')
        .map(|q| q.trim().parse().expect("a quality"))
        .collect();
    let mut outputs = vec![
        serde_json::json!({"name": "large", "width": 1600, "height": 1600, "format": "jpeg", "quality": 80}),
    ];
    for q in &qualities {
        outputs.push(serde_json::json!({"name": format!("q{q}"), "width": 320, "height": 320, "format": "webp", "quality": q}));
    }
    let recipe = ValidRecipe::from_json(&serde_json::json!({ "outputs": outputs }).to_string())
        .expect("recipe");
    let limits = Limits::default();
    let ctx = Context::new(&limits);
    let mut names: Vec<String> = std::fs::read_dir(&corpus)
        .expect("corpus")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".jpg"))
        .collect();
    names.sort();
    let mut bytes = vec![0usize; qualities.len()];
    for n in &names {
        let input = std::fs::read(format!("{corpus}/{n}")).unwrap();
        let report = run_valid(&input, &recipe, &ctx, &|_| Ok(())).unwrap();
        let stem = n.trim_end_matches(".jpg");
        for (i, q) in qualities.iter().enumerate() {
            let dir = format!("{out}/q{q}");
            std::fs::create_dir_all(&dir).unwrap();
            let large = report.outputs[0].data.as_ref().unwrap();
            let thumb = report.outputs[i + 1].data.as_ref().unwrap();
            bytes[i] += thumb.len();
            std::fs::write(format!("{dir}/{stem}.jpg"), large).unwrap();
            std::fs::write(format!("{dir}/{stem}.webp"), thumb).unwrap();
        }
    }
    for (q, b) in qualities.iter().zip(&bytes) {
        println!("q{q}: {b} WebP bytes over {} images", names.len());
    }
}
