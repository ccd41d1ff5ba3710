//! A quick check of the smart crops against sharp's, without the rest of the feature
//! bench (`bench/features/run.sh`, whose AVIF part takes long):
//!
//! ```text
//! node bench/features/sharp_crops.mjs <corpus dir> <sharp boxes.json>
//! cargo run --release -p conveyor --example crop_check -- <corpus dir> <sharp boxes.json>
//! ```
//!
//! For each image and each cover size in the boxes file (400x400, 400x200, 200x400),
//! conveyor's `attention`, `entropy` and `centre` boxes are compared with sharp's
//! `attention` and `entropy` boxes of the auto-oriented image (intersection over union,
//! as `sharp_side.mjs` computes it); the table and the means and medians go to stdout.
//! `CROP_CHECK_JPEG=1` keeps only the JPEG files.

use std::path::Path;

use conveyor::Recipe;

/// `[left, top, width, height]`.
type Box4 = [f64; 4];

/// The IoUs of one cover size's boxes of one of our strategies with one of sharp's.
struct Series {
    size: (u32, u32),
    ours: &'static str,
    theirs: &'static str,
    ious: Vec<f64>,
}

fn iou(a: Box4, b: Box4) -> f64 {
    let ix = ((a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0])).max(0.0);
    let iy = ((a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1])).max(0.0);
    let inter = ix * iy;
    inter / (a[2] * a[3] + b[2] * b[3] - inter)
}

fn sharp_box(row: &serde_json::Value, key: &str) -> Box4 {
    let b = &row["boxes"][key];
    let f = |k: &str| b[k].as_f64().unwrap();
    [f("left"), f("top"), f("width"), f("height")]
}

fn stats(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (v.iter().sum::<f64>() / n as f64, median)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let corpus = Path::new(&args[1]);
    let sharp: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&args[2]).unwrap()).unwrap();
    let jpeg_only = std::env::var("CROP_CHECK_JPEG").is_ok_and(|v| v == "1");
    let sizes = [(400, 400), (400, 200), (200, 400)];
    let strategies = ["attention", "entropy", "centre"];
    let mut all: Vec<Series> = Vec::new();
    for row in &sharp {
        let file = row["file"].as_str().unwrap();
        if jpeg_only && !file.to_lowercase().ends_with(".jpg") {
            continue;
        }
        let data = std::fs::read(corpus.join(file)).unwrap();
        let outputs: Vec<String> = sizes
            .iter()
            .flat_map(|&(w, h)| {
                strategies.iter().map(move |p| {
                    format!(
                        r#"{{"name":"{p}{w}x{h}","width":{w},"height":{h},"fit":"cover","position":"{p}","format":"jpeg","quality":50}}"#
                    )
                })
            })
            .collect();
        let recipe = format!(r#"{{"outputs":[{}]}}"#, outputs.join(","));
        let report = match conveyor::process(&data, &Recipe::from_json(&recipe).unwrap()) {
            Ok(r) => r,
            Err(e) => {
                println!("{file}: {e}");
                continue;
            }
        };
        let mut line = format!("{file:<40}");
        for (i, &(w, h)) in sizes.iter().enumerate() {
            for (j, p) in strategies.iter().enumerate() {
                let c = report.outputs[i * strategies.len() + j].crop.unwrap();
                let ours = [c.left, c.top, c.width, c.height].map(f64::from);
                for theirs in ["attention", "entropy"] {
                    let v = iou(ours, sharp_box(row, &format!("{w}x{h}_{theirs}_upright")));
                    if (w, h) == (400, 400) && *p != "centre" && *p == theirs {
                        line += &format!(" {p}={v:.3} [{:.0},{:.0}]", ours[0], ours[1]);
                    }
                    match all
                        .iter_mut()
                        .find(|a| a.size == (w, h) && a.ours == *p && a.theirs == theirs)
                    {
                        Some(a) => a.ious.push(v),
                        None => all.push(Series {
                            size: (w, h),
                            ours: p,
                            theirs,
                            ious: vec![v],
                        }),
                    }
                }
            }
        }
        let s = sharp_box(row, "400x400_attention_upright");
        println!("{line} sharp=[{:.0},{:.0}]", s[0], s[1]);
    }
    println!("\n| cover | ours | vs sharp's | n | mean IoU | median |");
    for s in &mut all {
        let n = s.ious.len();
        let (mean, median) = stats(&mut s.ious);
        println!(
            "| {}x{} | {} | {} | {n} | {mean:.3} | {median:.3} |",
            s.size.0, s.size.1, s.ours, s.theirs
        );
    }
}
