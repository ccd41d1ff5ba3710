//! AVIF output: AV1 still images through ravif (rav1e), 8-bit, YCbCr 4:4:4, with the
//! recipe's `quality` (1–100) and `speed` (1–10). One thread per encode: the pool's
//! workers are the parallelism.
//!
//! The job's check is asked while the encoder works: the vendored rav1e
//! (`vendor/rav1e/CONVEYOR.md`) asks it between superblocks, partition blocks and
//! prediction modes and between rows of its other stages, the vendored ravif between
//! rows of its colour conversion. When it says stop, rav1e unwinds with
//! [`rav1e::interrupt::Interrupted`], and the encode fails with the job's own error
//! (`timed_out`, `cancelled`).
//!
//! Behind the `avif` cargo feature (on by default, off in the wasm build, where no AV1
//! encoder is linked): without it an AVIF output fails with `unsupported_format`.
//! Decoding AVIF input is not supported here.

use super::input::Check;
use super::pixels::Pixels;
use crate::error::Error;
use crate::recipe::OutputSpec;

/// The message for a build without the AVIF encoder.
#[cfg_attr(feature = "avif", allow(dead_code))]
pub(crate) const NOT_BUILT: &str = "this build has no AVIF encoder (the browser/wasm build leaves it out; native builds enable the `avif` feature): use webp or jpeg";

/// Encodes `px` as AVIF. `check` is asked before and while the encoder runs; its error
/// stops the encode and is returned as it is.
#[cfg(feature = "avif")]
pub(crate) fn encode(px: &Pixels, spec: &OutputSpec, check: Check<'_>) -> Result<Vec<u8>, Error> {
    use rgb::FromSlice;

    use super::pixels::Layout;
    use crate::error::{ErrorKind, Stage};

    let fail = |e: &dyn std::fmt::Display| {
        Error::new(
            ErrorKind::EncodeFailed,
            format!("output {:?} (avif): {e}", spec.name),
        )
        .at(Stage::Encode)
    };
    let px = match px.layout {
        Layout::L8 => {
            let mut copy = super::pixels::reserve(px.buf.len(), "a copy of the pixels")?;
            copy.extend_from_slice(&px.buf);
            std::borrow::Cow::Owned(Pixels { buf: copy, ..*px }.widen_to(Layout::Rgb8)?)
        }
        _ => std::borrow::Cow::Borrowed(px),
    };
    let (w, h) = (px.width as usize, px.height as usize);
    let enc = ravif::Encoder::new()
        .with_quality(spec.effective_quality() as f32)
        .with_alpha_quality(spec.effective_quality() as f32)
        .with_speed(spec.effective_speed())
        .with_bit_depth(ravif::BitDepth::Eight)
        .with_num_threads(Some(1));
    check()?;
    // The job's error, once the check said stop.
    let stopped = std::cell::Cell::new(None);
    let ask = || match check() {
        Ok(()) => false,
        Err(e) => {
            stopped.set(Some(e));
            true
        }
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rav1e::interrupt::with_check(&ask, || match px.layout {
            Layout::Rgba8 => enc.encode_rgba(ravif::Img::new(px.buf.as_rgba(), w, h)),
            _ => enc.encode_rgb(ravif::Img::new(px.buf.as_rgb(), w, h)),
        })
    }));
    if let Some(e) = stopped.take() {
        return Err(e);
    }
    match result {
        Ok(Ok(done)) => Ok(done.avif_file),
        Ok(Err(e)) => Err(fail(&e)),
        Err(_) => Err(fail(&"the AV1 encoder failed")),
    }
}

/// Without the `avif` feature: `unsupported_format`.
#[cfg(not(feature = "avif"))]
pub(crate) fn encode(_px: &Pixels, spec: &OutputSpec, _check: Check<'_>) -> Result<Vec<u8>, Error> {
    Err(unsupported(spec))
}

/// The error for an AVIF output in a build without the encoder.
#[cfg_attr(feature = "avif", allow(dead_code))]
pub(crate) fn unsupported(spec: &OutputSpec) -> Error {
    use crate::error::{ErrorKind, Stage};
    Error::new(
        ErrorKind::UnsupportedFormat,
        format!("output {:?}: {NOT_BUILT}", spec.name),
    )
    .at(Stage::Validate)
}

/// Whether this build can encode AVIF.
pub(crate) const AVAILABLE: bool = cfg!(feature = "avif");

#[cfg(all(test, feature = "avif"))]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::format::OutputFormat;
    use crate::pipeline::pixels::Layout;

    /// A deterministic picture: a gradient, with xorshift noise from row `noise_from`.
    fn picture(width: u32, height: u32, noise_from: u32) -> Pixels {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut buf = Vec::with_capacity((width * height) as usize * 3);
        for y in 0..height {
            for x in 0..width {
                for c in 0..3 {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    buf.push(if y >= noise_from {
                        (state >> 24) as u8
                    } else {
                        ((x * (c + 1) + y * (3 - c)) % 256) as u8
                    });
                }
            }
        }
        Pixels {
            width,
            height,
            layout: Layout::Rgb8,
            buf,
        }
    }

    fn fnv1a(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        })
    }

    /// The vendored rav1e's added checks change nothing in the bitstream: the bytes
    /// are those of crates.io's rav1e 0.8.1 (recorded with it, on x86_64 with nasm).
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_bytes_are_stock_rav1e_s() {
        let mut spec = OutputSpec::new("a", OutputFormat::Avif).quality(60);
        spec.speed = Some(6);
        let out = encode(&picture(200, 136, 90), &spec, &|| Ok(())).unwrap();
        assert_eq!((out.len(), fnv1a(&out)), (11_504, 0xa99c_452d_d54b_dda8));
    }

    /// The longest time between two asks of the check in one encode (with the time
    /// before the first and after the last), where it was (the asking stages before
    /// and after it), the number of asks and the total time.
    fn gaps(px: &Pixels, speed: u32) -> (usize, Duration, (&'static str, &'static str), Duration) {
        let start = Instant::now();
        let times = std::cell::RefCell::new(vec![(start, "start")]);
        let check = || {
            let site = match rav1e::interrupt::last_site() {
                "" => "avif::encode",
                site => site,
            };
            times.borrow_mut().push((Instant::now(), site));
            Ok(())
        };
        let mut spec = OutputSpec::new("a", OutputFormat::Avif).quality(60);
        spec.speed = Some(speed);
        encode(px, &spec, &check).unwrap();
        let mut times = times.into_inner();
        times.push((Instant::now(), "end"));
        let (max, at) = times
            .windows(2)
            .map(|w| (w[1].0 - w[0].0, (w[0].1, w[1].1)))
            .max_by_key(|&(d, _)| d)
            .unwrap();
        (times.len() - 2, max, at, start.elapsed())
    }

    /// How long rav1e can go without asking the check, on noise and on a gradient,
    /// at rav1e's speeds (`CONVEYOR_GAP_SPEEDS`, default 10,6,1). Release figures
    /// are what the README quotes:
    /// `CONVEYOR_GAP_SIDE=4000 cargo test --release -p conveyor --lib avif_gaps -- --ignored --nocapture`
    #[test]
    #[ignore = "slow: several large AVIF encodes"]
    fn avif_gaps() {
        let side: u32 = std::env::var("CONVEYOR_GAP_SIDE")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1000);
        let speeds: Vec<u32> = std::env::var("CONVEYOR_GAP_SPEEDS")
            .unwrap_or_else(|_| "10,6,1".into())
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        for (name, noise_from) in [("noise", 0), ("gradient", side)] {
            let px = picture(side, side, noise_from);
            for &speed in &speeds {
                let (calls, max, (from, to), total) = gaps(&px, speed);
                eprintln!(
                    "{side}x{side} {name:8} speed {speed:2}: {calls:7} asks, longest gap \
                     {max:?} (from {from} to {to}), total {total:?}"
                );
                assert!(
                    max < Duration::from_millis(500),
                    "{name} at speed {speed}: {max:?} between two asks"
                );
            }
        }
    }

    /// A check that says stop at its k-th ask, wherever that falls (before the
    /// encoder, in the lookahead, between superblocks, in the loop filters' searches
    /// and passes), stops the encode at once with the check's error, and the thread
    /// then encodes the next picture as before.
    #[test]
    fn a_check_that_says_stop_stops_the_encode_at_any_ask() {
        let px = picture(300, 200, 120);
        let mut spec = OutputSpec::new("a", OutputFormat::Avif).quality(60);
        spec.speed = Some(8);
        let asks = std::cell::Cell::new(0usize);
        let whole = encode(&px, &spec, &|| {
            asks.set(asks.get() + 1);
            Ok(())
        })
        .unwrap();
        let total = asks.get();
        assert!(total > 50, "only {total} asks");
        for k in [
            1,
            2,
            3,
            total / 4,
            total / 2,
            total * 3 / 4,
            total - 1,
            total,
        ] {
            let asked = std::cell::Cell::new(0usize);
            let check = || {
                asked.set(asked.get() + 1);
                if asked.get() >= k {
                    Err(Error::new(
                        crate::error::ErrorKind::Cancelled,
                        format!("stop at {k}"),
                    ))
                } else {
                    Ok(())
                }
            };
            let e = encode(&px, &spec, &check).unwrap_err();
            assert_eq!(e.kind, crate::error::ErrorKind::Cancelled, "{e}");
            assert_eq!(e.message, format!("stop at {k}"));
            assert_eq!(asked.get(), k, "asked again after saying stop");
        }
        assert_eq!(encode(&px, &spec, &|| Ok(())).unwrap(), whole);
    }
}
