//! After a burst of big jobs, an idle pool gives the memory they freed back to the
//! system (`pool/trim.rs`): glibc would otherwise keep it resident in the workers'
//! arenas. Alone in its binary, because it measures the whole process's memory.

#![cfg(all(target_os = "linux", target_env = "gnu"))]

use std::time::{Duration, Instant};

use conveyor::{Job, Pool, Recipe};

/// The process's resident memory, in MiB.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/self/status");
    kb / 1024.0
}

/// A noisy photo-like JPEG, so that each job decodes a 10–16 MiB pixel buffer: the
/// sizes glibc serves from its arenas once its mmap threshold has risen.
fn photo(width: usize, height: usize, seed: u32) -> Vec<u8> {
    let mut px = Vec::with_capacity(width * height * 3);
    let mut s = seed.wrapping_mul(2_654_435_761) | 1;
    for y in 0..height {
        for x in 0..width {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            let n = (s & 31) as usize;
            px.push(((x * 255 / width + n) & 255) as u8);
            px.push(((y * 255 / height + n) & 255) as u8);
            px.push((((x + y) / 7 + n) & 255) as u8);
        }
    }
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 85)
        .encode(
            &px,
            width as u16,
            height as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .unwrap();
    out
}

#[test]
fn an_idle_pool_gives_freed_memory_back() {
    let sizes = [(2000, 1500), (2200, 1600), (1900, 1400), (2300, 1500)];
    let photos: Vec<Job> = sizes
        .iter()
        .enumerate()
        .map(|(i, &(w, h))| Job::new(photo(w, h, i as u32 + 1)))
        .collect();
    let inputs: Vec<Job> = (0..6).map(|i| photos[i % photos.len()].clone()).collect();
    let pool = Pool::builder()
        .workers(2)
        .queue_capacity(4)
        .default_recipe(Recipe::default())
        .build()
        .unwrap();
    let outcomes = pool.outcomes();
    let start = rss_mib();
    for job in &inputs {
        pool.submit_collected(job.clone()).unwrap();
    }
    let mut busiest = start;
    for _ in 0..inputs.len() {
        let outcome = outcomes.recv().unwrap();
        outcome.result.expect("the job succeeds");
        busiest = busiest.max(rss_mib());
    }
    // The workers trim when they find the queue empty, just after the last outcome.
    let allowed = start + 24.0;
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut now = rss_mib();
    while now > allowed && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        now = rss_mib();
    }
    assert!(
        busiest > start + 40.0,
        "the jobs should have used memory: {start:.1} MiB at the start, at most {busiest:.1}"
    );
    assert!(
        now <= allowed,
        "{now:.1} MiB resident after the jobs, {start:.1} MiB before them (at most \
         {busiest:.1} while they ran): freed buffers were kept"
    );
    drop(pool);
}
