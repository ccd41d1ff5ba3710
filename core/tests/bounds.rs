//! Bounded work per job: the scan limit, deadlines and cancel inside the decoders, the
//! memory budget and admission, one JPEG decoder (its variants named), the damaged-
//! input policy (`fail_on`) and error hygiene. Every input is generated here
//! (`common/hostile.rs`; `cargo run -p conveyor --example hostile` writes the same
//! files for the other doors).

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::hostile::*;
use conveyor::{
    ErrorKind, Event, Job, Limits, OutputFormat, OutputSpec, Pool, Recipe, RecvError, Stage,
};

fn thumb() -> Recipe {
    Recipe::new(vec![OutputSpec::new("t", OutputFormat::Jpeg).size(64, 64)])
}

fn lenient(recipe: Recipe) -> Recipe {
    Recipe::from_json(&recipe.to_json().replace("}]", "}],\"fail_on\":\"none\"")).unwrap()
}

fn pool(workers: usize, limits: Limits) -> Pool {
    Pool::builder()
        .workers(workers)
        .queue_capacity(8)
        .limits(limits)
        .build()
        .unwrap()
}

#[test]
fn a_scan_flood_fails_in_milliseconds_with_limit_exceeded() {
    let flood = scan_flood_jpeg(256, 256, 3000);
    let t = Instant::now();
    let e = conveyor::process(&flood, &lenient(thumb())).unwrap_err();
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(e.kind, ErrorKind::LimitExceeded, "{e}");
    assert!(
        e.message.contains("100") && e.message.contains("max_scans"),
        "{e}"
    );
}

/// The flood, let through the scan limit: libjpeg decodes scan after scan for seconds.
/// 3,000 scans took only 0.28 s on a fast core, under the 300 ms deadline below; 30,000
/// take several seconds anywhere.
fn slow_job(timeout: Option<Duration>) -> Job {
    let job = Job::new(scan_flood_jpeg(2048, 2048, 30_000)).with_recipe(lenient(thumb()));
    match timeout {
        Some(t) => job.with_timeout(t),
        None => job,
    }
}

fn slow_limits() -> Limits {
    Limits::default().with_max_scans(100_000)
}

#[test]
fn a_deadline_stops_a_running_decode() {
    let pool = pool(1, slow_limits());
    let deadline = Duration::from_millis(300);
    let job = slow_job(Some(deadline));
    let t = Instant::now();
    let outcome = pool.submit(job).unwrap().wait();
    let late = t.elapsed().saturating_sub(deadline);
    let e = outcome.result.unwrap_err();
    assert_eq!(e.kind, ErrorKind::TimedOut, "{e}");
    assert_eq!(e.stage, Some(Stage::Decode));
    eprintln!("deadline to outcome: {late:?}");
    // About 100 ms is the target; a loaded debug CI run gets some slack.
    assert!(
        late < Duration::from_millis(600),
        "outcome {late:?} after the deadline"
    );
    assert!(
        outcome.timings.total >= deadline,
        "failed jobs carry their timings"
    );
}

#[test]
fn cancel_stops_a_running_decode() {
    let pool = pool(1, slow_limits());
    let mut events = pool.subscribe();
    let job = slow_job(None);
    let ticket = pool.submit(job).unwrap();
    loop {
        match events.recv_timeout(Duration::from_secs(10)) {
            Ok(Some(Event::JobStarted { .. })) => break,
            Ok(Some(_)) => {}
            other => panic!("no job_started: {other:?}"),
        }
    }
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    assert!(pool.cancel(ticket.id()));
    let outcome = ticket.wait();
    let took = t.elapsed();
    eprintln!("cancel to outcome: {took:?}");
    assert_eq!(outcome.error_kind(), Some(ErrorKind::Cancelled));
    assert!(took < Duration::from_millis(600), "{took:?}");
}

/// A noisy 16-megapixel JPEG written again at its own size as a progressive JPEG
/// (no resize): most of the encode is the passes over the whole image in
/// `jpeg_finish_compress`.
fn big_jpeg_job(source: &[u8]) -> Job {
    let mut spec = OutputSpec::new("big", OutputFormat::Jpeg);
    spec.progressive = true;
    Job::new(source.to_vec()).with_recipe(Recipe::new(vec![spec]))
}

// Deadlines in the rows and in the passes of `jpeg_finish_compress`. libjpeg asks
// every 16 rows of work; a loaded debug CI run gets some slack.
#[test]
fn a_deadline_stops_a_running_jpeg_encode_in_any_pass() {
    let source = progressive_jpeg_of(4000, 4000, 63);
    a_deadline_stops_the_encode_of(
        &|| big_jpeg_job(&source),
        &[0.3, 0.7],
        Duration::from_millis(400),
        0.0,
    );
}

/// A noisy image written again at its own size as WebP (no resize). Noise is the worst
/// case for libwebp's entropy coders; before conveyor's patch (vendor/libwebp-sys)
/// libwebp went up to ~40% of an encode without asking its progress hook.
#[cfg(feature = "libwebp")]
fn big_webp_job(source: &[u8], lossless: bool) -> Job {
    let mut spec = OutputSpec::new("big", OutputFormat::Webp);
    spec.lossless = lossless;
    Job::new(source.to_vec()).with_recipe(Recipe::new(vec![spec]))
}

/// Aims deadlines at `shares` of the encode of `job` (from a run to the end, aimed
/// again when a run ends before its deadline or is still decoding at it: on a machine
/// whose speed varies such a try tests nothing) and asserts that each outcome is
/// `timed_out` in the encode, at most `floor` plus `slack` times the encode's time
/// after the deadline: that share grows with a loaded machine's slowness, which
/// stretches the encode and any gap between two checks alike.
fn a_deadline_stops_the_encode_of(
    job: &dyn Fn() -> Job,
    shares: &[f64],
    floor: Duration,
    slack: f64,
) {
    let pool = pool(1, Limits::default());
    let t = pool.submit(job()).unwrap().wait().timings;
    eprintln!("timings of a run to the end: {t:?}");
    for &share in shares {
        let mut reference = t;
        let mut landed = false;
        for _try in 0..8 {
            let encode_start = reference.queued + reference.decode + reference.resize;
            let deadline = encode_start + reference.encode.mul_f64(share);
            let started = Instant::now();
            let outcome = pool.submit(job().with_timeout(deadline)).unwrap().wait();
            let late = started.elapsed().saturating_sub(deadline);
            let e = match outcome.result {
                Ok(_) => {
                    reference = outcome.timings;
                    continue;
                }
                Err(e) if e.kind == ErrorKind::TimedOut && e.stage != Some(Stage::Encode) => {
                    continue;
                }
                Err(e) => e,
            };
            assert_eq!(e.kind, ErrorKind::TimedOut, "{e}");
            assert_eq!(e.stage, Some(Stage::Encode), "{e}");
            let bound = floor + reference.encode.mul_f64(slack);
            eprintln!(
                "encode {:?}, deadline at {share}: late {late:?} (bound {bound:?})",
                reference.encode
            );
            assert!(
                late < bound,
                "outcome {late:?} after the deadline at {share} (encode takes {:?})",
                reference.encode
            );
            landed = true;
            break;
        }
        assert!(
            landed,
            "no deadline at {share} of the encode landed in it in 8 tries"
        );
    }
}

// The patched libwebp asks the hook every few milliseconds here (outcomes 2-25 ms late
// on a loaded 2-core machine, 121 ms once beside the other tests at load average 8.7);
// the bound (100 ms + 5% of the encode) leaves a loaded debug CI run its slack. The
// lossy deadline at 0.8 falls in the token emission, where stock libwebp 1.3.1 does not
// ask the hook: there it came 329-381 ms late (bounds 153-168 ms) in three runs. Stock
// libwebp's lossless gaps stay under the bound at sizes a debug test can afford (the
// worst, 54 ms, on this noise): that test guards the patched behaviour; `hook_gaps` in
// src/pipeline/libwebp.rs measures 100 MP.
#[cfg(feature = "libwebp")]
#[test]
fn a_deadline_stops_a_running_lossy_webp_encode() {
    let source = progressive_jpeg_of(2400, 2400, 255);
    a_deadline_stops_the_encode_of(
        &|| big_webp_job(&source, false),
        &[0.3, 0.8],
        Duration::from_millis(100),
        0.05,
    );
}

#[cfg(feature = "libwebp")]
#[test]
fn a_deadline_stops_a_running_lossless_webp_encode() {
    let source = png_noise_rgb(1200, 1200);
    a_deadline_stops_the_encode_of(
        &|| big_webp_job(&source, true),
        &[0.3, 0.7],
        Duration::from_millis(100),
        0.05,
    );
}

/// A noisy photo-sized image written again at its own size as AVIF, at rav1e's fastest
/// speed. The vendored rav1e (vendor/rav1e) asks the job's check between superblocks
/// and in every pass of its loop filters; stock rav1e could not be stopped at all.
#[cfg(feature = "avif")]
fn avif_job(source: &[u8]) -> Job {
    let mut spec = OutputSpec::new("big", OutputFormat::Avif);
    spec.speed = Some(10);
    Job::new(source.to_vec()).with_recipe(Recipe::new(vec![spec]))
}

// In a debug build much of rav1e runs unoptimised (ravif's `encode_rgb` is inlined into
// conveyor, and rav1e's generic code with it), yet rav1e asks often enough that the
// outcomes came 2-8 ms late here; stock rav1e ran the whole encode (about 4 s).
#[cfg(feature = "avif")]
#[test]
fn a_deadline_stops_a_running_avif_encode() {
    let source = progressive_jpeg_of(640, 480, 255);
    a_deadline_stops_the_encode_of(
        &|| avif_job(&source),
        &[0.1, 0.5, 0.9],
        Duration::from_millis(150),
        0.05,
    );
}

#[cfg(feature = "avif")]
#[test]
fn cancel_stops_a_running_avif_encode() {
    let source = progressive_jpeg_of(640, 480, 255);
    let pool = pool(1, Limits::default());
    let t = pool.submit(avif_job(&source)).unwrap().wait().timings;
    let encode_start = t.queued + t.decode + t.resize;
    let ticket = pool.submit(avif_job(&source)).unwrap();
    std::thread::sleep(encode_start + t.encode / 2);
    let c = Instant::now();
    assert!(pool.cancel(ticket.id()));
    let outcome = ticket.wait();
    let took = c.elapsed();
    eprintln!("encode {:?}; cancel to outcome: {took:?}", t.encode);
    let e = outcome.result.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Cancelled, "{e}");
    assert_eq!(e.stage, Some(Stage::Encode), "{e}");
    assert!(
        took < Duration::from_millis(150) + t.encode / 20,
        "{took:?} (encode {:?})",
        t.encode
    );
}

#[test]
fn a_job_over_the_whole_budget_fails_naming_estimate_and_budget() {
    let pool = Pool::builder()
        .workers(1)
        .memory_budget(64 << 20)
        .build()
        .unwrap();
    let big = png_black_rgb(6000, 4000); // 72 MB of pixels
    let e = pool
        .submit(Job::new(big))
        .unwrap()
        .wait()
        .result
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitExceeded, "{e}");
    assert!(
        e.message.contains("estimated") && e.message.contains(&format!("{}", 64 << 20)),
        "{e}"
    );
    let stats = pool.stats();
    assert_eq!(stats.memory_budget, 64 << 20);
    assert_eq!(stats.memory_in_use, 0);
}

#[test]
fn admission_keeps_running_jobs_inside_the_budget() {
    // Each job's estimate is about 55 MB; an 80 MB budget runs one at a time.
    let budget = 80 << 20;
    let pool = Arc::new(
        Pool::builder()
            .workers(2)
            .queue_capacity(8)
            .memory_budget(budget)
            .build()
            .unwrap(),
    );
    let input = png_black_rgb(3000, 2000);
    let max_used = Arc::new(AtomicU64::new(0));
    let max_waiting = Arc::new(AtomicU64::new(0));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (pool, max_used, max_waiting, done) = (
            pool.clone(),
            max_used.clone(),
            max_waiting.clone(),
            done.clone(),
        );
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                let s = pool.stats();
                max_used.fetch_max(s.memory_in_use, Ordering::SeqCst);
                max_waiting.fetch_max(s.memory_waiting, Ordering::SeqCst);
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };
    let tickets: Vec<_> = (0..4)
        .map(|_| pool.submit(Job::new(input.clone())).unwrap())
        .collect();
    let mut estimates = Vec::new();
    for t in tickets {
        let report = t.wait().result.expect("every job runs, one after another");
        estimates.push(report.memory_estimate);
    }
    done.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    assert!(
        estimates.iter().all(|&e| e > budget / 2 && e <= budget),
        "{estimates:?}"
    );
    assert!(max_used.load(Ordering::SeqCst) <= budget);
    assert!(max_used.load(Ordering::SeqCst) >= estimates[0]);
    assert!(
        max_waiting.load(Ordering::SeqCst) >= 1,
        "the second worker waited"
    );
    assert_eq!(pool.stats().memory_in_use, 0);
}

#[test]
fn waiting_for_budget_counts_against_the_deadline() {
    // About 90 MB estimated (the default recipe's 1600 px output included): room for
    // one at a time, so the second waits, and its deadline passes while it waits.
    let big = png_black_rgb(4000, 3000);
    let pool = Pool::builder()
        .workers(2)
        .memory_budget(120 << 20)
        .build()
        .unwrap();
    let a = pool
        .submit(Job::new(big.clone()).with_timeout(Duration::from_secs(120)))
        .unwrap();
    let b = pool
        .submit(Job::new(big).with_timeout(Duration::from_millis(100)))
        .unwrap();
    let e = b.wait().result.unwrap_err();
    // Usually "the deadline passed while the job waited ... for memory"; on a loaded
    // machine the deadline can pass before b even reads its header. Either way it is a
    // timeout, never a run past the budget (`pool/budget.rs` tests the wait itself).
    assert_eq!(e.kind, ErrorKind::TimedOut, "{e}");
    let report = a.wait().result.unwrap();
    let e = report.memory_estimate;
    assert!(e > 60 << 20 && e <= 120 << 20, "{e}");
}

#[test]
fn jpeg_variants_are_named_and_arithmetic_coding_decodes() {
    for (sof, precision, word) in [
        (0xC1, 12, "12-bit"),
        (0xC3, 8, "lossless"),
        (0xC7, 8, "hierarchical"),
    ] {
        let e = conveyor::process(&jpeg_variant_header(sof, precision), &thumb()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnsupportedFormat, "{e}");
        assert!(e.message.contains(word), "{e}");
    }
    let arith = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/jpeg/arithmetic.jpg"
    ))
    .unwrap();
    let report = conveyor::process(&arith, &thumb()).expect("arithmetic-coded JPEG decodes");
    assert_eq!(report.outputs.len(), 1);
}

#[test]
fn fail_on_decides_what_a_truncated_jpeg_gets() {
    let whole = progressive_jpeg(400, 300);
    let cut = truncated(&whole, 40);
    let e = conveyor::process(&cut, &thumb()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::DecodeFailed);
    assert!(e.message.contains("truncated"), "{e}");
    for level in ["truncated", "error"] {
        let r = Recipe::from_json(
            &thumb()
                .to_json()
                .replace("}]", &format!("}}],\"fail_on\":\"{level}\"")),
        )
        .unwrap();
        assert!(conveyor::process(&cut, &r).is_err(), "{level}");
    }
    let report = conveyor::process(&cut, &lenient(thumb())).expect("none accepts a partial image");
    assert_eq!(report.input.width, 400);
    assert!(conveyor::process(&whole, &thumb()).is_ok());
}

#[test]
fn fail_on_warning_refuses_corrupt_data_that_error_accepts() {
    let mut bad = progressive_jpeg(256, 256);
    // Damage the middle of the entropy-coded data: libjpeg warns and goes on.
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 64] {
        *b = 0xFF;
    }
    bad[mid + 64] = 0xD5; // a stray restart marker
    let e = conveyor::process(&bad, &thumb()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::DecodeFailed, "{e}");
    let r =
        Recipe::from_json(&thumb().to_json().replace("}]", "}],\"fail_on\":\"error\"")).unwrap();
    assert!(conveyor::process(&bad, &r).is_ok());
}

#[test]
fn dropped_metadata_is_never_inflated() {
    // 64 MiB of zeros in iCCP: decoding must not notice it.
    let bomb = png_iccp_bomb(64 << 20);
    assert!(bomb.len() < 400_000, "{}", bomb.len());
    let t = Instant::now();
    let report = conveyor::process(&bomb, &thumb()).unwrap();
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(report.input.width, 16);
    // Kept metadata is bounded: the profile is dropped, not inflated past the limit.
    let keep = Recipe::from_json(
        &thumb()
            .to_json()
            .replace("\"strip_metadata\":true", "\"strip_metadata\":false"),
    )
    .unwrap();
    assert!(!keep.strip_metadata);
    assert!(conveyor::process(&bomb, &keep).is_ok());
}

#[test]
fn error_messages_are_one_short_line_and_name_value_and_limit() {
    let cases: Vec<(&str, Vec<u8>, Limits)> = vec![
        (
            "scan flood",
            scan_flood_jpeg(64, 64, 500),
            Limits::default(),
        ),
        (
            "pixels",
            png_black_rgb(2000, 2000),
            Limits::default().with_max_pixels(1_000_000),
        ),
        (
            "input bytes",
            png_black_rgb(64, 64),
            Limits::default().with_max_input_bytes(10),
        ),
        ("bmp", bmp_size_bomb(2554, 18803, 253), Limits::default()),
        ("variant", jpeg_variant_header(0xC1, 12), Limits::default()),
        (
            "garbage",
            b"\xFF\xD8\xFF\xC0garbage".to_vec(),
            Limits::default(),
        ),
    ];
    for (name, data, limits) in cases {
        let pool = pool(1, limits);
        let outcome = pool
            .submit(Job::new(data).with_recipe(thumb()))
            .unwrap()
            .wait();
        let e = outcome.result.unwrap_err();
        assert!(
            !e.message.contains('\n') && e.message.chars().count() <= 300,
            "{name}: {e}"
        );
        assert!(
            !e.message.contains("{ ") && !e.message.contains("Error {"),
            "{name}: {e}"
        );
        if e.kind == ErrorKind::LimitExceeded {
            assert!(
                e.message.chars().filter(|c| c.is_ascii_digit()).count() >= 2,
                "{name}: {e}"
            );
        }
        assert!(outcome.timings.total > Duration::ZERO, "{name}");
    }
}

#[test]
fn a_webp_header_over_16383_says_its_size() {
    let e = conveyor::process(&webp_header(16384, 16384), &thumb()).unwrap_err();
    assert!(e.message.contains("16384"), "{e}");
}

#[test]
fn events_report_the_budget() {
    let pool = Pool::builder()
        .workers(1)
        .memory_budget(256 << 20)
        .stats_interval(Duration::from_millis(10))
        .build()
        .unwrap();
    let mut events = pool.subscribe();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Some(Event::Stats { stats })) => {
                assert_eq!(stats.memory_budget, 256 << 20);
                break;
            }
            Ok(Some(_)) | Err(RecvError::Lagged(_)) => {}
            other => panic!("{other:?}"),
        }
    }
}
