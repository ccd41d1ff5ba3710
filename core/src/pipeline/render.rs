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

use fast_image_resize as fr;
use image::metadata::Orientation;

use super::geometry::Plan;
use super::input::Check;
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

/// Crops and resizes `src` (stored space) to `size`, asking `check` before each band.
fn resize(
    src: &Pixels,
    crop: Option<[f64; 4]>,
    size: (u32, u32),
    check: Check<'_>,
) -> Result<Pixels, Error> {
    let src_view =
        fr::images::ImageRef::new(src.width, src.height, &src.buf, pixel_type(src.layout))
            .map_err(resize_error)?;
    let len = size.0 as usize * size.1 as usize * src.layout.channels();
    let buf = super::pixels::alloc(len, "the resized image").map_err(|e| e.at(Stage::Resize))?;
    let mut dst = fr::images::Image::from_vec_u8(size.0, size.1, buf, pixel_type(src.layout))
        .map_err(resize_error)?;
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
    if size.1 <= band_rows {
        check()?;
        let opts = if whole { opts } else { opts.crop(x, y, w, h) };
        RESIZER
            .with(|r| r.borrow_mut().resize(&src_view, &mut dst, &opts))
            .map_err(resize_error)?;
    } else {
        // Source rows per output row.
        let step = h / size.1 as f64;
        let mut top = 0;
        while top < size.1 {
            check()?;
            let rows = band_rows.min(size.1 - top);
            let band_y = y + top as f64 * step;
            let band_h = within(band_y, rows as f64 * step, y + h);
            let band_opts = opts.crop(x, band_y, w, band_h);
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

/// `len`, shortened if need be so that `start + len` does not pass `end` in floating
/// point: the last band's `y + rows * step` can land 1e-13 px past the crop's bottom,
/// which the resizer refuses.
fn within(start: f64, len: f64, end: f64) -> f64 {
    let mut len = len.min(end - start).max(0.0);
    while start + len > end && len > 0.0 {
        len = (len - end.abs().max(1.0) * f64::EPSILON).max(0.0);
    }
    len
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
/// and the plan's crop is scaled to it.
pub(crate) fn render<'a>(
    src: &'a Pixels,
    full: (u32, u32),
    orientation: Orientation,
    plan: &Plan,
    bg: [u8; 4],
    keep_alpha: bool,
    check: Check<'_>,
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
        Cow::Owned(resize(src, crop, size, check)?)
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
        let mut out = resize(inter, (!full).then_some(region), plan.resize, check)?;
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
            let banded = resize(&src, crop, size, &count).unwrap();
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

        // 1617 rows into 1600 in bands of 982 and 618: 982 * step + 618 * step is
        // 1617.0000000000002 in floating point; the last band must stay inside.
        let tall = Pixels {
            width: 4,
            height: 1617,
            layout: Layout::Rgb8,
            buf: vec![90; 4 * 1617 * 3],
        };
        let out = resize(&tall, None, (1067, 1600), &|| Ok(())).unwrap();
        assert!(out.buf.iter().all(|&v| v.abs_diff(90) <= 1));

        let stop = || Err(Error::new(ErrorKind::Cancelled, "stop"));
        let e = resize(&src, None, (1203, 3011), &stop).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Cancelled);
    }
}
