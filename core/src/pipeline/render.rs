//! Stage 2 for one output: crop and resize with a SIMD Lanczos3 (fast_image_resize),
//! then apply the EXIF orientation to the (small) result, then pad for `contain`.
//!
//! A large output is resized in bands of rows, with a check of the job's deadline and
//! cancel before each band (about [`BAND_PIXELS`] output pixels). Each band is the
//! resizer's crop of the whole source, so the filter still reads the rows around the
//! band and the result is the one resize of the whole image would give.
//!
//! Resizing happens in the stored (un-oriented) space and orientation afterwards,
//! which is much cheaper than rotating the full-size image. A crop is planned in the
//! upright space and mapped to the stored region that the orientation turns into it
//! ([`stored_rect`]), so off-centre crops (`position`) are exact too.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use fast_image_resize as fr;
use image::metadata::Orientation;

use super::geometry::Plan;
use super::input::Check;
use super::parallel::{run_pieces, Helpers, Task};
use super::pixels::{Layout, Pixels};
use crate::error::{Error, ErrorKind, Stage};

thread_local! {
    /// One resizer per thread, so its scratch buffers are reused across jobs.
    static RESIZER: RefCell<fr::Resizer> = RefCell::new(fr::Resizer::new());
}

/// Whether the orientation swaps the axes.
pub(crate) fn transposes(o: Orientation) -> bool {
    matches!(
        o,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

fn pixel_type(layout: Layout) -> fr::PixelType {
    match layout {
        Layout::L8 => fr::PixelType::U8,
        Layout::Rgb8 => fr::PixelType::U8x3,
        Layout::Rgba8 => fr::PixelType::U8x4,
    }
}

fn resize_error(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Panicked, format!("resize failed: {e}")).at(Stage::Resize)
}

/// Output pixels resized between two checks of the job.
const BAND_PIXELS: usize = 1 << 20;

/// The source of a resize that may be split across helper threads: the same pixels as
/// the `src` argument, shared so that other threads can read them.
#[derive(Clone, Copy)]
pub(crate) struct Par<'a> {
    pub(crate) src: &'a Arc<Pixels>,
    pub(crate) helpers: &'a dyn Helpers,
}

/// Output rows per band at the least when a resize is split across threads.
const MIN_PAR_ROWS: u32 = 16;

/// The source rows `[start, end)` of the output rows `[top, top + rows)`, for a crop
/// of height `h` at `y` resized to `out_h` rows in a source `sh` rows high. The last
/// band ends exactly where the crop does, and none may pass the image's edge by a
/// rounding error (the resizer refuses a crop box that is out of bounds by even
/// 1e-13 px).
fn band_rows_in_source(y: f64, h: f64, sh: f64, out_h: u32, top: u32, rows: u32) -> (f64, f64) {
    let step = h / out_h as f64;
    let start = (y + top as f64 * step).min(sh);
    let end = if top + rows == out_h {
        y + h
    } else {
        y + (top + rows) as f64 * step
    };
    (start, (end.min(sh) - start).max(0.0))
}

/// Crops and resizes `src` (stored space) to `size`, asking `check` before each band.
/// With `par` and helper threads to spare, the bands are shared with them.
fn resize(
    src: &Pixels,
    crop: Option<[f64; 4]>,
    size: (u32, u32),
    check: Check<'_>,
    par: Option<Par<'_>>,
) -> Result<Pixels, Error> {
    let src_view =
        fr::images::ImageRef::new(src.width, src.height, &src.buf, pixel_type(src.layout))
            .map_err(resize_error)?;
    let len = size.0 as usize * size.1 as usize * src.layout.channels();
    let opts =
        fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3));
    let (sw, sh) = (src.width as f64, src.height as f64);
    let [x, y, w, h] = crop.unwrap_or([0.0, 0.0, sw, sh]);
    // Crops are computed in floating point from scaled sizes: keep them inside the
    // image (a rounding error of 1e-13 px is enough for the resizer to refuse).
    let (x, y) = (x.clamp(0.0, sw), y.clamp(0.0, sh));
    let (w, h) = (w.min(sw - x), h.min(sh - y));
    let whole = x < 1e-9 && y < 1e-9 && (sw - w) < 1e-9 && (sh - h) < 1e-9;
    let band_rows = (BAND_PIXELS / size.0.max(1) as usize).clamp(1, u32::MAX as usize) as u32;
    let spare = par.map_or(0, |p| p.helpers.spare()) as u32;
    // Not for RGBA: fast_image_resize premultiplies the whole source (not the band) into
    // each thread's own buffer, so every helper would hold a copy the memory estimate
    // does not count.
    let shareable = src.layout != Layout::Rgba8 && size.1 >= 2 * MIN_PAR_ROWS;
    if let Some(par) = par.filter(|_| spare > 0 && shareable) {
        debug_assert!(std::ptr::eq(src, &**par.src), "par.src is src, shared");
        // As many bands as threads at the least, none over BAND_PIXELS. Each band is
        // resized into its own buffer and copied into its rows of the output, so at
        // most one band per thread is held beside the output.
        let bands = size.1.div_ceil(band_rows).max(spare + 1);
        let rows_per = size.1.div_ceil(bands).max(MIN_PAR_ROWS);
        let layout = src.layout;
        let row_bytes = size.0 as usize * layout.channels();
        let out = Arc::new(Mutex::new(
            super::pixels::alloc(len, "the resized image").map_err(|e| e.at(Stage::Resize))?,
        ));
        let mut tasks: Vec<Task> = Vec::new();
        let mut top = 0;
        while top < size.1 {
            let rows = rows_per.min(size.1 - top);
            let (start, height) = band_rows_in_source(y, h, sh, size.1, top, rows);
            let (src, out) = (Arc::clone(par.src), Arc::clone(&out));
            tasks.push(Box::new(move || {
                let view =
                    fr::images::ImageRef::new(src.width, src.height, &src.buf, pixel_type(layout))
                        .map_err(resize_error)?;
                let buf = super::pixels::alloc(rows as usize * row_bytes, "a band of the resize")
                    .map_err(|e| e.at(Stage::Resize))?;
                let mut band =
                    fr::images::Image::from_vec_u8(size.0, rows, buf, pixel_type(layout))
                        .map_err(resize_error)?;
                RESIZER
                    .with(|r| {
                        r.borrow_mut()
                            .resize(&view, &mut band, &opts.crop(x, start, w, height))
                    })
                    .map_err(resize_error)?;
                let at = top as usize * row_bytes;
                let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
                out[at..at + band.buffer().len()].copy_from_slice(band.buffer());
                Ok(())
            }));
            top += rows;
        }
        run_pieces(Some(par.helpers), tasks, check)?;
        // Every piece has run and dropped its handle on the output.
        let buf = Arc::try_unwrap(out)
            .map_err(|_| {
                Error::new(
                    ErrorKind::Panicked,
                    "internal: a band still held the resized image",
                )
                .at(Stage::Resize)
            })?
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        return Ok(Pixels {
            width: size.0,
            height: size.1,
            layout,
            buf,
        });
    }
    let buf = super::pixels::alloc(len, "the resized image").map_err(|e| e.at(Stage::Resize))?;
    let mut dst = fr::images::Image::from_vec_u8(size.0, size.1, buf, pixel_type(src.layout))
        .map_err(resize_error)?;
    if size.1 <= band_rows {
        check()?;
        let opts = if whole { opts } else { opts.crop(x, y, w, h) };
        RESIZER
            .with(|r| r.borrow_mut().resize(&src_view, &mut dst, &opts))
            .map_err(resize_error)?;
    } else {
        let mut top = 0;
        while top < size.1 {
            check()?;
            let rows = band_rows.min(size.1 - top);
            let (start, height) = band_rows_in_source(y, h, sh, size.1, top, rows);
            let band_opts = opts.crop(x, start, w, height);
            let mut band = fr::images::CroppedImageMut::new(&mut dst, 0, top, size.0, rows)
                .map_err(resize_error)?;
            RESIZER
                .with(|r| r.borrow_mut().resize(&src_view, &mut band, &band_opts))
                .map_err(resize_error)?;
            top += rows;
        }
    }
    Ok(Pixels {
        width: size.0,
        height: size.1,
        layout: src.layout,
        buf: dst.into_vec(),
    })
}

/// The stored-space region `[x, y, w, h]` that `orientation` turns into the upright
/// region `rect`; `stored` is the stored size. The inverse of [`orient`]'s mapping.
pub(crate) fn stored_rect(rect: [f64; 4], o: Orientation, stored: (u32, u32)) -> [f64; 4] {
    let [x, y, w, h] = rect;
    let (sw, sh) = (stored.0 as f64, stored.1 as f64);
    match o {
        Orientation::NoTransforms => [x, y, w, h],
        Orientation::FlipHorizontal => [sw - x - w, y, w, h],
        Orientation::FlipVertical => [x, sh - y - h, w, h],
        Orientation::Rotate180 => [sw - x - w, sh - y - h, w, h],
        Orientation::Rotate90 => [y, sh - x - w, h, w],
        Orientation::Rotate270 => [sw - y - h, x, h, w],
        Orientation::Rotate90FlipH => [y, x, h, w],
        Orientation::Rotate270FlipH => [sw - y - h, sh - x - w, h, w],
    }
}

/// Applies the EXIF orientation (as `image`'s `apply_orientation` does, which the
/// tests compare with) into a fallibly allocated buffer.
fn orient(px: &Pixels, o: Orientation) -> Result<Pixels, Error> {
    let (w, h, n) = (px.width as usize, px.height as usize, px.layout.channels());
    let (ow, oh) = if transposes(o) { (h, w) } else { (w, h) };
    let mut buf = super::pixels::reserve(px.buf.len(), "the oriented image")
        .map_err(|e| e.at(Stage::Resize))?;
    for y in 0..oh {
        for x in 0..ow {
            // The source pixel that lands at (x, y).
            let (sx, sy) = match o {
                Orientation::NoTransforms => (x, y),
                Orientation::FlipHorizontal => (w - 1 - x, y),
                Orientation::FlipVertical => (x, h - 1 - y),
                Orientation::Rotate180 => (w - 1 - x, h - 1 - y),
                Orientation::Rotate90 => (y, h - 1 - x),
                Orientation::Rotate270 => (w - 1 - y, x),
                Orientation::Rotate90FlipH => (y, x),
                Orientation::Rotate270FlipH => (w - 1 - y, h - 1 - x),
            };
            let i = (sy * w + sx) * n;
            buf.extend_from_slice(&px.buf[i..i + n]);
        }
    }
    Ok(Pixels {
        width: ow as u32,
        height: oh as u32,
        layout: px.layout,
        buf,
    })
}

fn pad(
    px: Pixels,
    canvas: (u32, u32, u32, u32),
    bg: [u8; 4],
    keep_alpha: bool,
) -> Result<Pixels, Error> {
    let (cw, ch, ox, oy) = canvas;
    let gray_bg = bg[0] == bg[1] && bg[1] == bg[2];
    let layout = if keep_alpha && bg[3] < 255 {
        Layout::Rgba8
    } else if px.layout == Layout::L8 && gray_bg {
        Layout::L8
    } else if px.layout == Layout::Rgba8 {
        Layout::Rgba8
    } else {
        Layout::Rgb8
    };
    let px = px.widen_to(layout).map_err(|e| e.at(Stage::Resize))?;
    let n = layout.channels();
    let fill: Vec<u8> = match layout {
        Layout::L8 => vec![bg[0]],
        Layout::Rgb8 => bg[..3].to_vec(),
        Layout::Rgba8 => bg.to_vec(),
    };
    let mut buf = super::pixels::reserve(cw as usize * ch as usize * n, "the padded image")
        .map_err(|e| e.at(Stage::Resize))?;
    buf.extend(
        fill.iter()
            .copied()
            .cycle()
            .take(cw as usize * ch as usize * n),
    );
    let row = px.width as usize * n;
    for y in 0..px.height as usize {
        let dst = ((oy as usize + y) * cw as usize + ox as usize) * n;
        buf[dst..dst + row].copy_from_slice(&px.buf[y * row..(y + 1) * row]);
    }
    Ok(Pixels {
        width: cw,
        height: ch,
        layout,
        buf,
    })
}

/// Renders one output from the decoded source, in stored space, applying `orientation`.
/// `full` is the stored size the plan refers to; `src` may be smaller (shrink-on-load),
/// and the plan's crop is scaled to it. A padded canvas is filled with `bg`, keeping
/// its alpha if `keep_alpha`.
pub(crate) fn render<'a>(
    src: &'a Pixels,
    full: (u32, u32),
    orientation: Orientation,
    plan: &Plan,
    (bg, keep_alpha): ([u8; 4], bool),
    check: Check<'_>,
    par: Option<Par<'_>>,
) -> Result<Cow<'a, Pixels>, Error> {
    let t = transposes(orientation);
    let size = if t {
        (plan.resize.1, plan.resize.0)
    } else {
        plan.resize
    };
    // `full` is in stored space already (as `src` is).
    let (sx, sy) = (
        src.width as f64 / full.0 as f64,
        src.height as f64 / full.1 as f64,
    );
    let crop = plan
        .crop
        .map(|rect| stored_rect(rect, orientation, full))
        .map(|[x, y, w, h]| [x * sx, y * sy, w * sx, h * sy]);
    let mut out: Cow<'a, Pixels> = if crop.is_none() && size == (src.width, src.height) {
        Cow::Borrowed(src)
    } else {
        Cow::Owned(resize(src, crop, size, check, par)?)
    };
    if orientation != Orientation::NoTransforms {
        out = Cow::Owned(orient(&out, orientation)?);
    }
    if let Some(canvas) = plan.canvas {
        out = Cow::Owned(pad(out.into_owned(), canvas, bg, keep_alpha)?);
    }
    Ok(out)
}

/// Renders one output from an earlier output (`inter`): the whole upright image,
/// already resized, at `scale` (intermediate pixels per upright source pixel on each
/// axis). Used when it still has at least twice the target's resolution, which keeps
/// Lanczos quality while skipping a second pass over the full-size image (libvips and
/// sharp make thumbnails the same way). `None` when `inter` is not fine enough.
pub(crate) fn render_from_intermediate(
    inter: &Pixels,
    scale: (f64, f64),
    src_size: (u32, u32),
    plan: &Plan,
    bg: [u8; 4],
    keep_alpha: bool,
    check: Check<'_>,
) -> Option<Result<Pixels, Error>> {
    let [x, y, w, h] = plan
        .crop
        .unwrap_or([0.0, 0.0, src_size.0 as f64, src_size.1 as f64]);
    let region = [x * scale.0, y * scale.1, w * scale.0, h * scale.1];
    if region[2] < 2.0 * plan.resize.0 as f64 || region[3] < 2.0 * plan.resize.1 as f64 {
        return None;
    }
    let full = region == [0.0, 0.0, inter.width as f64, inter.height as f64];
    Some((|| {
        let mut out = resize(inter, (!full).then_some(region), plan.resize, check, None)?;
        if let Some(canvas) = plan.canvas {
            out = pad(out, canvas, bg, keep_alpha)?;
        }
        Ok(out)
    })())
}

/// Whether an intermediate at `scale` has at least twice the resolution `plan` needs.
pub(crate) fn intermediate_covers(scale: (f64, f64), src_size: (u32, u32), plan: &Plan) -> bool {
    let [_, _, w, h] = plan
        .crop
        .unwrap_or([0.0, 0.0, src_size.0 as f64, src_size.1 as f64]);
    w * scale.0 >= 2.0 * plan.resize.0 as f64 && h * scale.1 >= 2.0 * plan.resize.1 as f64
}

#[cfg(test)]
mod tests {
    use super::super::pixels::Layout;
    use super::*;

    #[test]
    fn stored_rects_orient_into_the_upright_rect() {
        // A 5x3 stored image whose pixels name their own position; for every
        // orientation, cropping the stored rect and orienting it gives the upright
        // image's crop.
        let img = image::RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let px = Pixels {
            width: 5,
            height: 3,
            layout: Layout::Rgb8,
            buf: img.as_raw().clone(),
        };
        for exif in 1..=8u8 {
            let o = Orientation::from_exif(exif).unwrap();
            let upright = orient(&px, o).unwrap();
            let rect = [1.0, 0.0, 2.0, 2.0];
            let [x, y, w, h] = stored_rect(rect, o, (5, 3)).map(|v| v as u32);
            let cut = image::imageops::crop_imm(&img, x, y, w, h).to_image();
            let cut = Pixels {
                width: w,
                height: h,
                layout: Layout::Rgb8,
                buf: cut.into_raw(),
            };
            let got = orient(&cut, o).unwrap();
            let mut want = Vec::new();
            for yy in 0..2 {
                for xx in 1..3 {
                    let i = (yy * upright.width as usize + xx) * 3;
                    want.extend_from_slice(&upright.buf[i..i + 3]);
                }
            }
            assert_eq!((got.width, got.height), (2, 2), "exif {exif}");
            assert_eq!(got.buf, want, "exif {exif}");
        }
    }

    #[test]
    fn orientation_matches_image_for_all_eight() {
        let img = image::RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8, y as u8, 7]));
        for exif in 1..=8u8 {
            let o = Orientation::from_exif(exif).unwrap();
            let mut expected = image::DynamicImage::ImageRgb8(img.clone());
            expected.apply_orientation(o);
            let px = Pixels {
                width: 5,
                height: 3,
                layout: Layout::Rgb8,
                buf: img.as_raw().clone(),
            };
            let got = orient(&px, o).unwrap();
            assert_eq!(
                (got.width, got.height),
                (expected.width(), expected.height()),
                "exif {exif}"
            );
            assert_eq!(got.buf, expected.to_rgb8().into_raw(), "exif {exif}");
        }
    }

    /// The last band ends inside the image whatever the floating-point sums give: a
    /// 2560x3837 photo, shrunk on load to 1280x1919 and resized to 1600 px high, once
    /// failed with "the crop box is out of the image boundaries".
    #[test]
    fn banded_resize_never_reads_past_the_edge() {
        for (sw, sh, crop, size) in [
            (1280u32, 1919u32, None, (1068u32, 1600u32)),
            (1280, 1919, Some([0.0, 0.0, 1280.0, 1918.5]), (1068, 1600)),
            (1280, 1919, Some([0.0, 0.5, 1280.0, 1918.5]), (1068, 1600)),
            (999, 3001, None, (333, 1777)),
            (
                640,
                2399,
                Some([0.0, 1.0 / 3.0, 640.0, 2398.0 + 2.0 / 3.0]),
                (320, 1199),
            ),
        ] {
            let src = Pixels {
                width: sw,
                height: sh,
                layout: Layout::Rgb8,
                buf: vec![128; sw as usize * sh as usize * 3],
            };
            let out = resize(&src, crop, size, &|| Ok(()), None)
                .unwrap_or_else(|e| panic!("{sw}x{sh} {crop:?} -> {size:?}: {e}"));
            assert_eq!((out.width, out.height), size);
        }
    }

    /// A large resize goes in bands, with a check before each, and gives what one pass
    /// over the whole image gives.
    #[test]
    fn banded_resize_matches_one_pass_and_asks_between_bands() {
        let (w, h) = (301u32, 997u32);
        let buf: Vec<u8> = (0..w * h * 3)
            .map(|i| (i.wrapping_mul(7919) ^ (i / 3 / w * 31)) as u8)
            .collect();
        let src = Pixels {
            width: w,
            height: h,
            layout: Layout::Rgb8,
            buf,
        };
        for (crop, size) in [
            (None, (1203, 3011)),
            (Some([10.5, 20.25, 250.0, 900.0]), (1000, 2500)),
            (None, (150, 20_000)),
        ] {
            let asked = std::cell::Cell::new(0);
            let count = || {
                asked.set(asked.get() + 1);
                Ok(())
            };
            let banded = resize(&src, crop, size, &count, None).unwrap();
            let bands = (size.1 as usize).div_ceil(BAND_PIXELS / size.0 as usize);
            assert_eq!(asked.get(), bands, "{size:?}");
            assert!(bands >= 3, "{size:?}: the test needs several bands");

            let view = fr::images::ImageRef::new(w, h, &src.buf, fr::PixelType::U8x3).unwrap();
            let mut one = fr::images::Image::new(size.0, size.1, fr::PixelType::U8x3);
            let mut opts = fr::ResizeOptions::new()
                .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3));
            if let Some([x, y, cw, ch]) = crop {
                opts = opts.crop(x, y, cw, ch);
            }
            fr::Resizer::new().resize(&view, &mut one, &opts).unwrap();
            let worst = banded
                .buf
                .iter()
                .zip(one.buffer())
                .map(|(a, b)| a.abs_diff(*b))
                .max()
                .unwrap();
            assert!(
                worst <= 1,
                "{size:?}: bands differ from one pass by {worst}"
            );
        }

        let stop = || Err(Error::new(ErrorKind::Cancelled, "stop"));
        let e = resize(&src, None, (1203, 3011), &stop, None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Cancelled);
    }

    /// Threads that take every offered piece at once and run it on a thread of its own.
    struct EagerHelpers(usize);

    impl Helpers for EagerHelpers {
        fn spare(&self) -> usize {
            self.0
        }
        fn offer(&self, chore: super::super::parallel::Chore) {
            std::thread::spawn(move || chore.run());
        }
    }

    /// A resize shared with helper threads gives what one on the job's thread alone
    /// gives, for any number of helpers, crops and band counts, within the rounding
    /// that a band's own filter offsets bring (as in the test above; on noise, at most
    /// 2 and rarely). Each band lands in its place: a band out of order would differ by
    /// far more.
    #[test]
    fn a_resize_shared_with_helpers_gives_the_same_bytes() {
        let (w, h) = (640u32, 913u32);
        let buf: Vec<u8> = (0..w * h * 3)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let src = Arc::new(Pixels {
            width: w,
            height: h,
            layout: Layout::Rgb8,
            buf,
        });
        for (crop, size) in [
            (None, (320, 457)),
            (Some([33.3, 17.9, 500.0, 801.5]), (250, 400)),
            (None, (2000, 2853)),
            (None, (640, 40)),
        ] {
            let alone = resize(&src, crop, size, &|| Ok(()), None).unwrap();
            for spare in [1, 2, 7] {
                let helpers = EagerHelpers(spare);
                let par = Par {
                    src: &src,
                    helpers: &helpers,
                };
                let shared = resize(&src, crop, size, &|| Ok(()), Some(par)).unwrap();
                assert_eq!((shared.width, shared.height), size);
                let diffs: Vec<u8> = shared
                    .buf
                    .iter()
                    .zip(&alone.buf)
                    .map(|(a, b)| a.abs_diff(*b))
                    .collect();
                let worst = diffs.iter().max().copied();
                let mean = diffs.iter().map(|&d| d as f64).sum::<f64>() / diffs.len() as f64;
                assert!(
                    worst <= Some(2) && mean < 0.05,
                    "{crop:?} {size:?} with {spare} helpers: worst {worst:?}, mean {mean}"
                );
            }
        }
    }

    /// Counts the offers it gets and runs none (the job's thread runs every piece).
    struct CountingHelpers(std::sync::atomic::AtomicUsize);

    impl Helpers for CountingHelpers {
        fn spare(&self) -> usize {
            4
        }
        fn offer(&self, _chore: super::super::parallel::Chore) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// An RGBA resize is never shared: each thread would premultiply a copy of the whole
    /// source. Other layouts are.
    #[test]
    fn an_rgba_resize_stays_on_the_jobs_thread() {
        for (layout, shared) in [
            (Layout::Rgba8, false),
            (Layout::Rgb8, true),
            (Layout::L8, true),
        ] {
            let (w, h) = (300u32, 400u32);
            let src = Arc::new(Pixels {
                width: w,
                height: h,
                layout,
                buf: vec![200; (w * h) as usize * layout.channels()],
            });
            let helpers = CountingHelpers(Default::default());
            let par = Par {
                src: &src,
                helpers: &helpers,
            };
            let out = resize(&src, None, (150, 200), &|| Ok(()), Some(par)).unwrap();
            assert_eq!((out.width, out.height, out.layout), (150, 200, layout));
            let offers = helpers.0.load(std::sync::atomic::Ordering::SeqCst);
            assert_eq!(offers > 0, shared, "{layout:?}: {offers} offers");
        }
    }
}
