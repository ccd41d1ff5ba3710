//! Lossy and lossless WebP encoding with libwebp (built by `libwebp-sys`), called
//! directly rather than through the `webp` crate so that the encoder can be stopped:
//! libwebp calls a progress hook as it goes, and the hook asks the job whether it may
//! go on. Returning 0 from the hook makes `WebPEncode` (or the import before it) give
//! up with `VP8_ENC_ERROR_USER_ABORT`; the job then fails with its own error
//! (`timed_out`, `cancelled`), not the encoder's. The libwebp built here is patched
//! (`vendor/libwebp-sys/CONVEYOR.md`) to ask the hook every few milliseconds of work
//! in every stage, where stock libwebp could go seconds without asking.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

use libwebp_sys as ffi;

use super::input::Check;
use super::pixels::{Layout, Pixels};
use crate::error::Error;

/// What the progress hook sees: the job's check, and the job's error once it said stop.
struct Hook<'a> {
    check: Check<'a>,
    stopped: Cell<Option<Error>>,
}

/// libwebp's progress hook: asks the job whether it may go on.
unsafe extern "C" fn progress(percent: c_int, picture: *const ffi::WebPPicture) -> c_int {
    #[cfg(test)]
    tests::PERCENT.set(percent);
    #[cfg(not(test))]
    let _ = percent;
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: libwebp passes the picture being encoded; its `user_data` is the `Hook`
        // that `encode` set and keeps alive until `WebPEncode` returns.
        let hook = unsafe { &*((*picture).user_data as *const Hook<'_>) };
        match (hook.check)() {
            Ok(()) => 1,
            Err(e) => {
                hook.stopped.set(Some(e));
                0
            }
        }
    }))
    .unwrap_or(0)
}

/// Owns a picture and a memory writer for the length of one encode, and frees both.
struct Encoding {
    picture: ffi::WebPPicture,
    writer: ffi::WebPMemoryWriter,
}

impl Drop for Encoding {
    fn drop(&mut self) {
        // SAFETY: both were initialised by `encode`; freeing an empty picture or writer
        // is a no-op in libwebp, and each is freed once.
        unsafe {
            ffi::WebPPictureFree(&mut self.picture);
            ffi::WebPMemoryWriterClear(&mut self.writer);
        }
    }
}

/// Encodes RGB or RGBA pixels with `config`. `Err(Ok(e))` is the job's error (the check
/// said stop); `Err(Err(msg))` is libwebp's failure.
pub(crate) fn encode(
    px: &Pixels,
    config: &ffi::WebPConfig,
    check: Check<'_>,
) -> Result<Vec<u8>, Result<Error, String>> {
    let (stride, rgba) = match px.layout {
        Layout::Rgb8 => (px.width as usize * 3, false),
        Layout::Rgba8 => (px.width as usize * 4, true),
        Layout::L8 => return Err(Err("gray pixels must be widened first".into())),
    };
    if px.buf.len() < stride * px.height as usize {
        return Err(Err("pixel buffer too small".into()));
    }
    let (Ok(width), Ok(height), Ok(stride)) = (
        c_int::try_from(px.width),
        c_int::try_from(px.height),
        c_int::try_from(stride),
    ) else {
        return Err(Err(format!("{}x{} is too large", px.width, px.height)));
    };
    let hook = Hook {
        check,
        stopped: Cell::new(None),
    };
    let mut picture = ffi::WebPPicture::new().map_err(|()| Err("WebPPictureInit".into()))?;
    // As the `webp` crate (and cwebp) do: ARGB input, converted by libwebp as needed.
    picture.use_argb = 1;
    picture.width = width;
    picture.height = height;
    // The hook is set before the import: the patched libwebp asks it while copying.
    picture.progress_hook = Some(progress);
    picture.user_data = (&hook as *const Hook<'_>).cast_mut().cast();
    let mut enc = Encoding {
        picture,
        // SAFETY: zeroed is a valid empty writer; WebPMemoryWriterInit sets it up below.
        writer: unsafe { std::mem::zeroed() },
    };
    // SAFETY: `enc.writer` is valid memory for the writer; the picture was initialised by
    // WebPPictureInit, the buffer holds `height` rows of `stride` bytes (checked above),
    // and libwebp copies the pixels during the import. The hook's state outlives `enc`.
    let imported = unsafe {
        ffi::WebPMemoryWriterInit(&mut enc.writer);
        if rgba {
            ffi::WebPPictureImportRGBA(&mut enc.picture, px.buf.as_ptr(), stride)
        } else {
            ffi::WebPPictureImportRGB(&mut enc.picture, px.buf.as_ptr(), stride)
        }
    };
    if let Some(e) = hook.stopped.take() {
        return Err(Ok(e));
    }
    if imported == 0 {
        return Err(Err(format!(
            "libwebp could not take a {}x{} picture (out of memory)",
            px.width, px.height
        )));
    }
    enc.picture.writer = Some(ffi::WebPMemoryWrite);
    enc.picture.custom_ptr = (&mut enc.writer as *mut ffi::WebPMemoryWriter).cast();
    // SAFETY: the config is a valid WebPConfig; the picture, its writer target and the
    // hook's state all live on this frame until WebPEncode returns.
    let ok = unsafe {
        if ffi::WebPValidateConfig(config) == 0 {
            return Err(Err("invalid encoder configuration".into()));
        }
        ffi::WebPEncode(config, &mut enc.picture)
    };
    if let Some(e) = hook.stopped.take() {
        return Err(Ok(e));
    }
    if ok == 0 {
        return Err(Err(format!("libwebp error {:?}", enc.picture.error_code)));
    }
    let len = enc.writer.size;
    let mut out = super::pixels::reserve(len, "the encoded WebP").map_err(Ok)?;
    // SAFETY: the memory writer holds `size` bytes at `mem` (written by WebPEncode);
    // they are copied before `enc` frees them.
    out.extend_from_slice(unsafe { std::slice::from_raw_parts(enc.writer.mem, len) });
    Ok(out)
}

#[cfg(test)]
mod tests {
    //! The patched libwebp (vendor/libwebp-sys) must give the same bytes as libwebp
    //! 1.3.1, stop cleanly wherever the hook says stop, and ask the hook often.
    use std::cell::RefCell;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::error::ErrorKind;

    thread_local! {
        /// The percentage the hook was last given on this thread.
        pub(super) static PERCENT: Cell<c_int> = const { Cell::new(-1) };
    }

    /// A deterministic test picture: a gradient, noise in the lower half, and for RGBA a
    /// transparent band with a few partly transparent pixels.
    fn picture(width: u32, height: u32, noise_from: u32, rgba: bool) -> Pixels {
        let ch = if rgba { 4 } else { 3 };
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut buf = Vec::with_capacity((width * height) as usize * ch);
        for y in 0..height {
            for x in 0..width {
                let noisy = y >= noise_from;
                for c in 0..3 {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    buf.push(if noisy {
                        (state >> 24) as u8
                    } else {
                        ((x * (c + 1) + y * (3 - c)) % 256) as u8
                    });
                }
                if rgba {
                    buf.push(match (x / 16) % 4 {
                        0 => 0,
                        1 => (y % 256) as u8,
                        _ => 255,
                    });
                }
            }
        }
        let layout = if rgba { Layout::Rgba8 } else { Layout::Rgb8 };
        Pixels {
            width,
            height,
            layout,
            buf,
        }
    }

    fn config(lossless: bool) -> ffi::WebPConfig {
        let mut config = ffi::WebPConfig::new().unwrap();
        config.lossless = lossless as i32;
        config.alpha_compression = (!lossless) as i32;
        config.exact = lossless as i32;
        config
    }

    /// FNV-1a, 64 bits: enough to tell two encodings apart.
    fn fnv(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }

    /// The hook's calls add no work to the encoding: the bytes are those of the
    /// unpatched libwebp 1.3.1 (length and hash recorded from it on x86_64, whose SSE2
    /// paths the build enables; other targets may round differently).
    #[test]
    #[cfg_attr(not(target_arch = "x86_64"), ignore = "bytes recorded on x86_64")]
    fn the_patched_libwebp_gives_the_bytes_of_libwebp_1_3_1() {
        let go: Check<'_> = &|| Ok(());
        let got: Vec<_> = [(false, false), (true, false), (true, true)]
            .into_iter()
            .map(|(rgba, lossless)| {
                let out = encode(&picture(320, 200, 120, rgba), &config(lossless), go).unwrap();
                (out.len(), fnv(&out))
            })
            .collect();
        // RGB lossy, RGBA lossy (alpha compressed losslessly), RGBA lossless.
        assert_eq!(
            got,
            [
                (20400, 5316384006493695643),
                (16170, 15879563772984845870),
                (82854, 11695708473204074674)
            ]
        );
    }

    /// Whichever call of the hook says stop, the encode ends with the job's error, never
    /// with an image or libwebp's own error.
    #[test]
    fn a_stop_at_any_hook_call_ends_the_encode_with_the_jobs_error() {
        for (rgba, lossless) in [(false, false), (true, false), (true, true)] {
            let px = picture(96, 64, 32, rgba);
            let calls = Cell::new(0);
            let count: Check<'_> = &|| {
                calls.set(calls.get() + 1);
                Ok(())
            };
            encode(&px, &config(lossless), count).unwrap();
            let all = calls.get();
            // The first 200 calls, then 200 spread over the rest, and the last.
            let step = (all / 200).max(1);
            let stops = (1..=all.min(200))
                .chain((200..all).step_by(step))
                .chain([all]);
            for stop_at in stops {
                let seen = Cell::new(0);
                let stop: Check<'_> = &|| {
                    seen.set(seen.get() + 1);
                    if seen.get() >= stop_at {
                        Err(Error::new(ErrorKind::Cancelled, "stop"))
                    } else {
                        Ok(())
                    }
                };
                match encode(&px, &config(lossless), stop) {
                    Err(Ok(e)) => assert_eq!(e.kind(), ErrorKind::Cancelled),
                    Err(Err(msg)) => panic!("stop at call {stop_at}/{all}: libwebp said {msg}"),
                    Ok(_) => panic!("stop at call {stop_at}/{all} (rgba {rgba}, lossless {lossless}) was ignored"),
                }
                assert_eq!(seen.get(), stop_at, "the hook was asked again after a stop");
            }
        }
    }

    /// The longest time between two questions to the hook (counting from the call to
    /// `encode` to the first, and from the last to its return), and how many there were.
    /// Also returns the percentages given to the hook at the start and the end of that
    /// longest gap, which tell the stage of the encode.
    fn gaps(px: &Pixels, lossless: bool) -> (usize, Duration, Duration, (c_int, c_int)) {
        PERCENT.set(-1);
        let times = RefCell::new(vec![(Instant::now(), -1)]);
        let record: Check<'_> = &|| {
            times.borrow_mut().push((Instant::now(), PERCENT.get()));
            Ok(())
        };
        encode(px, &config(lossless), record).unwrap();
        let mut times = times.into_inner();
        times.push((Instant::now(), 101));
        let (max, at) = times
            .windows(2)
            .map(|w| (w[1].0 - w[0].0, (w[0].1, w[1].1)))
            .max()
            .unwrap();
        if std::env::var_os("CONVEYOR_GAP_TRACE").is_some() {
            for w in times
                .windows(2)
                .filter(|w| w[1].0 - w[0].0 > Duration::from_millis(5))
            {
                eprintln!("  {:?}: {}% -> {}%", w[1].0 - w[0].0, w[0].1, w[1].1);
            }
        }
        let total = times[times.len() - 1].0 - times[0].0;
        (times.len() - 2, max, total, at)
    }

    /// Prints the longest gap between two hook calls on big pictures of noise and of a
    /// gradient (libwebp is built at -O2 even in debug builds), and fails if one is
    /// 500 ms or more (stock libwebp 1.3.1 leaves gaps of 2 to 27 s at 100 MP; the
    /// patched one 50 to 256 ms on a loaded 2-core machine). Slow; run by hand, side
    /// 10000 by default, `CONVEYOR_GAP_TRACE=1` also lists every gap over 5 ms:
    /// `CONVEYOR_GAP_SIDE=10000 cargo test -p conveyor --lib hook_gaps -- --ignored --nocapture`
    #[test]
    #[ignore = "slow: four 100 MP encodes, about two minutes"]
    fn hook_gaps() {
        let side: u32 = std::env::var("CONVEYOR_GAP_SIDE")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(10_000);
        for (name, noise_from) in [("noise", 0), ("gradient", side)] {
            let px = picture(side, side, noise_from, false);
            for lossless in [false, true] {
                let (calls, max, total, (from, to)) = gaps(&px, lossless);
                eprintln!(
                    "{side}x{side} {name:8} {:8}: {calls:7} calls, max gap {max:?} \
                     (from {from}% to {to}%), total {total:?}",
                    if lossless { "lossless" } else { "lossy" },
                );
                assert!(
                    max < Duration::from_millis(500),
                    "{name} (lossless {lossless}): {max:?} between two hook calls"
                );
            }
        }
    }
}
