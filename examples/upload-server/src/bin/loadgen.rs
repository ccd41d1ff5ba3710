//! `upload-loadgen`: sends a fixed number of concurrent uploads to an upload server and
//! reports throughput, latency percentiles of created uploads, and the share and
//! latency percentiles of 503 answers.
//!
//! `upload-loadgen --url http://127.0.0.1:8080/uploads --file photo.jpg --count 500 --concurrency 16`
//!
//! Loopback only in this project's tests; it stops after `--count` requests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;

/// Options.
#[derive(Debug, Parser)]
#[command(
    name = "upload-loadgen",
    about = "Fixed-count concurrent upload load test"
)]
struct Args {
    /// Upload endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8080/uploads")]
    url: String,
    /// Image to upload as the raw body (repeatable: files are used in turn).
    #[arg(long, required_unless_present = "synthetic")]
    file: Vec<std::path::PathBuf>,
    /// Upload a synthetic JPEG of this size instead, e.g. `3000x2000`.
    #[arg(long)]
    synthetic: Option<String>,
    /// Total uploads.
    #[arg(long, default_value_t = 200)]
    count: u64,
    /// Uploads in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut bodies: Vec<Vec<u8>> = args
        .file
        .iter()
        .map(std::fs::read)
        .collect::<Result<_, _>>()?;
    if let Some(size) = &args.synthetic {
        let (w, h) = size.split_once('x').ok_or("--synthetic takes WxH")?;
        bodies.push(synthetic_jpeg(w.parse()?, h.parse()?));
    }
    if bodies.is_empty() {
        return Err("give --file or --synthetic".into());
    }
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(args.count as usize)));
    let refusals = Arc::new(Mutex::new(Vec::new()));
    let statuses = Arc::new(Mutex::new(std::collections::BTreeMap::<u16, u64>::new()));
    let start = Instant::now();
    let threads: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (bodies, next, latencies, refusals, statuses, url) = (
                bodies.clone(),
                next.clone(),
                latencies.clone(),
                refusals.clone(),
                statuses.clone(),
                args.url.clone(),
            );
            let count = args.count;
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(120))
                    .build()
                    .unwrap();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let body = bodies[(i as usize) % bodies.len()].clone();
                    let t = Instant::now();
                    let status = match client.post(&url).body(body).send() {
                        Ok(r) => {
                            let s = r.status().as_u16();
                            let _ = r.bytes();
                            s
                        }
                        Err(_) => 0,
                    };
                    let dt = t.elapsed();
                    if status == 201 {
                        latencies.lock().unwrap().push(dt);
                    } else if status == 503 {
                        refusals.lock().unwrap().push(dt);
                    }
                    *statuses.lock().unwrap().entry(status).or_default() += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("load thread");
    }
    let wall = start.elapsed();
    let mut lat = latencies.lock().unwrap().clone();
    lat.sort();
    let mut refused = refusals.lock().unwrap().clone();
    refused.sort();
    let pct_of = |lat: &[Duration], q: f64| -> f64 {
        if lat.is_empty() {
            return 0.0;
        }
        let i = ((q * lat.len() as f64).ceil() as usize).clamp(1, lat.len()) - 1;
        lat[i].as_secs_f64() * 1000.0
    };
    let pct = |q: f64| pct_of(&lat, q);
    let statuses = statuses.lock().unwrap().clone();
    let ok = *statuses.get(&201).unwrap_or(&0);
    let busy = *statuses.get(&503).unwrap_or(&0);
    let report = serde_json::json!({
        "requests": args.count, "concurrency": args.concurrency, "wall_s": wall.as_secs_f64(),
        "created": ok, "throughput_per_s": ok as f64 / wall.as_secs_f64(),
        "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99), "max_ms": pct(1.0),
        "share_503": busy as f64 / args.count as f64,
        "p50_503_ms": pct_of(&refused, 0.50), "p99_503_ms": pct_of(&refused, 0.99),
        "statuses": statuses.iter().map(|(k, v)| (k.to_string(), *v)).collect::<std::collections::BTreeMap<_, _>>(),
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "{} uploads, {} in flight: {:.1} s, {} created ({:.1}/s), p50 {:.1} ms, p99 {:.1} ms, 503 share {:.1} % (p50 {:.1} ms, p99 {:.1} ms), statuses {:?}",
            args.count, args.concurrency, wall.as_secs_f64(), ok, ok as f64 / wall.as_secs_f64(),
            pct(0.5), pct(0.99), 100.0 * busy as f64 / args.count as f64,
            pct_of(&refused, 0.5), pct_of(&refused, 0.99), statuses
        );
    }
    Ok(())
}

/// A photo-like JPEG: smooth gradients with texture.
fn synthetic_jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let t = ((x as f32 * 0.013).sin() * (y as f32 * 0.011).cos() * 60.0) as i32;
        image::Rgb([
            ((x * 200 / w) as i32 + t).clamp(0, 255) as u8,
            ((y * 200 / h) as i32 - t).clamp(0, 255) as u8,
            (((x ^ y) & 0x3f) as i32 + 90).clamp(0, 255) as u8,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode");
    out.into_inner()
}
