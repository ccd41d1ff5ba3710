//! The conveyor side of the feature comparisons (`bench/features/run.sh` runs it, then
//! the sharp side):
//!
//! ```text
//! cargo run --release -p conveyor --example features_bench -- <corpus dir> <results dir>
//! ```
//!
//! 1. **Byte budget.** For each image at the 1600 px long edge, a JPEG budget of half
//!    its quality-80 size. conveyor's bisection (`max_bytes`) is compared with
//!    imgproxy's rule as imgproxy documents it: encode at 80, and while the result is
//!    too big and the quality is above 10, multiply the quality by 0.25, 0.5 or 0.75
//!    when the overshoot is past 3x, past 1.5x, or less. The figures are how often each
//!    fits, the mean SSIM (luma, 8x8 blocks) against the lossless resize, and the
//!    encodes spent.
//! 2. **Smart crop.** A 400x400 cover with `centre`, `attention` and `entropy`; the boxes
//!    go to `crops.json` for the sharp side to compare.
//! 3. **AVIF.** The 1600 px AVIF at several qualities (speed 6): encode time and bytes
//!    in `avif.json`, with the files and the lossless reference in `avif/` (the sharp
//!    side scores them).
//!
//! `FEATURES_BENCH_LIMIT=n` uses only the first n files.

use std::path::Path;

use conveyor::{Recipe, Report};

fn run(data: &[u8], json: &str) -> Report {
    conveyor::process(data, &Recipe::from_json(json).unwrap()).unwrap()
}

fn luma(bytes: &[u8]) -> (Vec<f64>, u32, u32) {
    let img = image::load_from_memory(bytes).unwrap().to_rgb8();
    let (w, h) = img.dimensions();
    let l = img
        .pixels()
        .map(|p| 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64)
        .collect();
    (l, w, h)
}

/// Mean SSIM over 8x8 blocks (step 4), as the sharp side computes it.
fn ssim(a: &[f64], b: &[f64], w: usize, h: usize) -> f64 {
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let (mut sum, mut n) = (0.0, 0usize);
    let mut y = 0;
    while y + 8 <= h {
        let mut x = 0;
        while x + 8 <= w {
            let at = |j: usize, i: usize| (y + j) * w + x + i;
            let (mut ma, mut mb) = (0.0, 0.0);
            for j in 0..8 {
                for i in 0..8 {
                    ma += a[at(j, i)];
                    mb += b[at(j, i)];
                }
            }
            ma /= 64.0;
            mb /= 64.0;
            let (mut va, mut vb, mut cov) = (0.0, 0.0, 0.0);
            for j in 0..8 {
                for i in 0..8 {
                    let (da, db) = (a[at(j, i)] - ma, b[at(j, i)] - mb);
                    va += da * da;
                    vb += db * db;
                    cov += da * db;
                }
            }
            va /= 63.0;
            vb /= 63.0;
            cov /= 63.0;
            sum += ((2.0 * ma * mb + c1) * (2.0 * cov + c2))
                / ((ma * ma + mb * mb + c1) * (va + vb + c2));
            n += 1;
            x += 4;
        }
        y += 4;
    }
    sum / n as f64
}

fn jpeg_at(data: &[u8], quality: u32) -> Vec<u8> {
    let r = run(
        data,
        &format!(
            r#"{{"outputs":[{{"name":"o","width":1600,"height":1600,"format":"jpeg","quality":{quality}}}]}}"#
        ),
    );
    r.outputs[0].data.as_ref().unwrap().to_vec()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (corpus, res) = (Path::new(&args[1]), Path::new(&args[2]));
    std::fs::create_dir_all(res.join("avif")).unwrap();
    let limit: usize = std::env::var("FEATURES_BENCH_LIMIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    let mut files: Vec<_> = std::fs::read_dir(corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let e = p
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_lowercase();
            e == "jpg" || e == "jpeg" || e == "png"
        })
        .collect();
    files.sort();
    files.truncate(limit);

    let mut budget_rows = Vec::new();
    let mut crops = Vec::new();
    let mut avif = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let data = std::fs::read(path).unwrap();
        eprintln!("{name}");
        // The lossless reference and the budget.
        let reference = run(
            &data,
            r#"{"outputs":[{"name":"ref","width":1600,"height":1600,"format":"png","compression":1}]}"#,
        );
        let ref_png = reference.outputs[0].data.as_ref().unwrap().to_vec();
        let (ref_l, w, h) = luma(&ref_png);
        let score = |bytes: &[u8]| {
            let (l, _, _) = luma(bytes);
            ssim(&ref_l, &l, w as usize, h as usize)
        };
        // The budget and AVIF runs start from the 1600 px pixels, so every encode sees
        // the same pixels and the decode of the original is paid once.
        let small = ref_png.clone();
        let budget = jpeg_at(&small, 80).len() as u64 / 2;

        // conveyor's bisection. A budget that even quality 1 cannot meet (a flat
        // image's half-size budget can be below the JPEG headers) is refused with
        // `limit_exceeded`: counted as not fitting, with no pixels to score.
        let bisection = conveyor::process(
            &small,
            &Recipe::from_json(&format!(
                r#"{{"outputs":[{{"name":"o","width":1600,"height":1600,"format":"jpeg","max_bytes":{budget}}}]}}"#
            ))
            .unwrap(),
        );
        let ours = match bisection {
            Ok(r) => {
                let o = &r.outputs[0];
                serde_json::json!({
                    "fits": o.byte_len <= budget,
                    "ssim": score(o.data.as_ref().unwrap()),
                    "encodes": o.encodes.unwrap(),
                    "quality": o.quality.unwrap(),
                })
            }
            Err(e) if e.kind() == conveyor::ErrorKind::LimitExceeded => serde_json::json!({
                "fits": false, "ssim": null, "encodes": null, "quality": null,
                "error": e.to_string(),
            }),
            Err(e) => panic!("{name}: {e}"),
        };
        // imgproxy's rule.
        let (mut q, mut n) = (80u32, 0u32);
        let theirs = loop {
            let bytes = jpeg_at(&small, q);
            n += 1;
            let len = bytes.len() as u64;
            if len <= budget || q <= 10 {
                break (len <= budget, score(&bytes), n, q);
            }
            let delta = len as f64 / budget as f64;
            let diff = if delta > 3.0 {
                0.25
            } else if delta > 1.5 {
                0.5
            } else {
                0.75
            };
            q = ((q as f64 * diff) as u32).max(1);
        };
        budget_rows.push(serde_json::json!({
            "file": name, "budget": budget,
            "bisection": ours,
            "imgproxy": {"fits": theirs.0, "ssim": theirs.1, "encodes": theirs.2, "quality": theirs.3},
        }));

        // Smart crops.
        let r = run(
            &data,
            r#"{"outputs":[
              {"name":"centre","width":400,"height":400,"fit":"cover","format":"jpeg","quality":50},
              {"name":"attention","width":400,"height":400,"fit":"cover","position":"attention","format":"jpeg","quality":50},
              {"name":"entropy","width":400,"height":400,"fit":"cover","position":"entropy","format":"jpeg","quality":50}]}"#,
        );
        let box_of = |i: usize| serde_json::to_value(r.outputs[i].crop).unwrap();
        crops.push(serde_json::json!({
            "file": name, "width": r.input.width, "height": r.input.height,
            "centre": box_of(0), "attention": box_of(1), "entropy": box_of(2),
        }));

        // AVIF.
        let stem = name.rsplit_once('.').unwrap().0.to_string();
        let reference_name = format!("{stem}.ref.png");
        std::fs::write(res.join("avif").join(&reference_name), &ref_png).unwrap();
        for quality in [40, 50, 60, 70] {
            let r = run(
                &small,
                &format!(
                    r#"{{"outputs":[{{"name":"o","width":1600,"height":1600,"format":"avif","quality":{quality},"speed":6}}]}}"#
                ),
            );
            let out = format!("{stem}.q{quality}.avif");
            std::fs::write(
                res.join("avif").join(&out),
                r.outputs[0].data.as_ref().unwrap(),
            )
            .unwrap();
            avif.push(serde_json::json!({
                "file": name, "quality": quality, "bytes": r.outputs[0].byte_len,
                "encode_ms": r.timings.encode.as_secs_f64() * 1000.0,
                "output": out, "reference": reference_name,
            }));
        }
    }
    let write = |f: &str, v: &Vec<serde_json::Value>| {
        std::fs::write(res.join(f), serde_json::to_string_pretty(v).unwrap()).unwrap()
    };
    write("budget.json", &budget_rows);
    write("crops.json", &crops);
    write("avif.json", &avif);

    // Means over the images where the bisection gave an output (summarize.py does the
    // same and lists the refused budgets).
    let scored: Vec<_> = budget_rows
        .iter()
        .filter(|r| !r["bisection"]["ssim"].is_null())
        .collect();
    let n = scored.len().max(1) as f64;
    for method in ["bisection", "imgproxy"] {
        let fits = budget_rows
            .iter()
            .filter(|r| r[method]["fits"] == true)
            .count();
        let mean = |k: &str| {
            scored
                .iter()
                .map(|r| r[method][k].as_f64().unwrap_or(0.0))
                .sum::<f64>()
                / n
        };
        println!(
            "max_bytes {method}: fits {fits}/{}, mean SSIM {:.4}, mean encodes {:.2}, mean quality {:.1}",
            budget_rows.len(),
            mean("ssim"),
            mean("encodes"),
            mean("quality")
        );
    }
}
