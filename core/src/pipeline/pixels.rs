//! The in-memory image between stages: 8-bit gray, RGB or RGBA, tightly packed.
//!
//! Every decoded image is normalised to one of these three layouts, which are the ones
//! the resizer and the encoders take without conversion.
//!
//! Every buffer whose size comes from the input or the recipe is allocated fallibly
//! ([`alloc`], [`reserve`]): an allocation the system refuses is a `limit_exceeded`
//! error for that job, never an abort of the process.

use image::DynamicImage;

use crate::error::{Error, ErrorKind, Stage};

/// The error for an allocation the system refused.
pub(crate) fn out_of_memory(len: usize, what: &str) -> Error {
    Error::new(
        ErrorKind::LimitExceeded,
        format!("out of memory: could not allocate {len} bytes for {what}"),
    )
}

/// An empty buffer with room for `len` bytes, or `limit_exceeded`.
pub(crate) fn reserve(len: usize, what: &str) -> Result<Vec<u8>, Error> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| out_of_memory(len, what))?;
    Ok(v)
}

/// A zeroed buffer of `len` bytes, or `limit_exceeded`.
pub(crate) fn alloc(len: usize, what: &str) -> Result<Vec<u8>, Error> {
    let mut v = reserve(len, what)?;
    v.resize(len, 0);
    Ok(v)
}

/// Checks that `len` bytes can be allocated now, before a library call that allocates
/// them infallibly (`image`'s colour conversions): a request the system refuses
/// (larger than memory and swap) then fails the job instead of aborting the process.
pub(crate) fn ensure_can_alloc(len: usize, what: &str) -> Result<(), Error> {
    reserve(len, what).map(drop)
}

/// The channel layout of [`Pixels`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    L8,
    Rgb8,
    Rgba8,
}

impl Layout {
    pub(crate) fn channels(self) -> usize {
        match self {
            Layout::L8 => 1,
            Layout::Rgb8 => 3,
            Layout::Rgba8 => 4,
        }
    }
}

/// A packed 8-bit image.
#[derive(Debug, Clone)]
pub(crate) struct Pixels {
    pub width: u32,
    pub height: u32,
    pub layout: Layout,
    pub buf: Vec<u8>,
}

/// `px` as opaque RGBA (grey and RGB widened), for an encoder outside the pipeline;
/// `None` when some pixel is not opaque. An error only when the copy cannot be
/// allocated.
pub(crate) fn opaque_rgba(px: &Pixels) -> Option<Result<Vec<u8>, Error>> {
    if px.layout == Layout::Rgba8 && px.buf.chunks_exact(4).any(|p| p[3] != 255) {
        return None;
    }
    let n = px.width as usize * px.height as usize;
    let mut out = match reserve(n * 4, "the RGBA copy") {
        Ok(out) => out,
        Err(e) => return Some(Err(e.at(Stage::Encode))),
    };
    match px.layout {
        Layout::L8 => px
            .buf
            .iter()
            .for_each(|&l| out.extend_from_slice(&[l, l, l, 255])),
        Layout::Rgb8 => px
            .buf
            .chunks_exact(3)
            .for_each(|p| out.extend_from_slice(&[p[0], p[1], p[2], 255])),
        Layout::Rgba8 => out.extend_from_slice(&px.buf),
    }
    Some(Ok(out))
}

impl Pixels {
    /// Normalises any decoded image to L8, RGB8 or RGBA8, moving the buffer where the
    /// layout already fits.
    pub(crate) fn from_dynamic(img: DynamicImage) -> Result<Pixels, Error> {
        let (width, height) = (img.width(), img.height());
        let n = width as usize * height as usize;
        let fail = |e: Error| e.at(Stage::Decode);
        let (layout, buf) = match img {
            DynamicImage::ImageLuma8(b) => (Layout::L8, b.into_raw()),
            DynamicImage::ImageRgb8(b) => (Layout::Rgb8, b.into_raw()),
            DynamicImage::ImageRgba8(b) => (Layout::Rgba8, b.into_raw()),
            DynamicImage::ImageLuma16(_) => {
                ensure_can_alloc(n, "the 8-bit copy").map_err(fail)?;
                (Layout::L8, img.to_luma8().into_raw())
            }
            // Gray with alpha (common in PNG): widened by hand, which is several times
            // faster than `image`'s generic colour conversion and gives the same bytes.
            DynamicImage::ImageLumaA8(b) => {
                let mut out = reserve(n * 4, "the RGBA copy").map_err(fail)?;
                for la in b.as_raw().chunks_exact(2) {
                    out.extend_from_slice(&[la[0], la[0], la[0], la[1]]);
                }
                (Layout::Rgba8, out)
            }
            other if other.color().has_alpha() => {
                ensure_can_alloc(n * 4, "the RGBA copy").map_err(fail)?;
                (Layout::Rgba8, other.to_rgba8().into_raw())
            }
            other => {
                ensure_can_alloc(n * 3, "the RGB copy").map_err(fail)?;
                (Layout::Rgb8, other.to_rgb8().into_raw())
            }
        };
        Ok(Pixels {
            width,
            height,
            layout,
            buf,
        })
    }

    /// Converts to `layout` (gray is widened, alpha is added opaque; never drops alpha).
    pub(crate) fn widen_to(self, layout: Layout) -> Result<Pixels, Error> {
        if self.layout == layout || self.layout.channels() >= layout.channels() {
            return Ok(self);
        }
        let n = layout.channels();
        let mut buf = reserve(
            self.width as usize * self.height as usize * n,
            "a wider copy",
        )?;
        match (self.layout, layout) {
            (Layout::L8, Layout::Rgb8) => {
                for &l in &self.buf {
                    buf.extend_from_slice(&[l, l, l]);
                }
            }
            (Layout::L8, _) => {
                for &l in &self.buf {
                    buf.extend_from_slice(&[l, l, l, 255]);
                }
            }
            _ => {
                for p in self.buf.chunks_exact(3) {
                    buf.extend_from_slice(&[p[0], p[1], p[2], 255]);
                }
            }
        }
        Ok(Pixels {
            width: self.width,
            height: self.height,
            layout,
            buf,
        })
    }

    /// Drops alpha by compositing over `bg` (RGB). Gray and RGB are returned as they are.
    pub(crate) fn flatten(&self, bg: [u8; 4]) -> Result<std::borrow::Cow<'_, Pixels>, Error> {
        if self.layout != Layout::Rgba8 {
            return Ok(std::borrow::Cow::Borrowed(self));
        }
        // Written into a sized buffer (not pushed), which the compiler vectorises.
        let mut out = alloc(self.buf.len() / 4 * 3, "the flattened copy")?;
        let bg = [bg[0] as u32, bg[1] as u32, bg[2] as u32];
        for (o, px) in out.chunks_exact_mut(3).zip(self.buf.chunks_exact(4)) {
            let (a, na) = (px[3] as u32, 255 - px[3] as u32);
            for c in 0..3 {
                o[c] = ((px[c] as u32 * a + bg[c] * na + 127) / 255) as u8;
            }
        }
        Ok(std::borrow::Cow::Owned(Pixels {
            width: self.width,
            height: self.height,
            layout: Layout::Rgb8,
            buf: out,
        }))
    }
}

/// Naive CMYK to RGB (no profile), from the values as stored: Adobe files store them
/// inverted.
#[cfg(any(feature = "mozjpeg", feature = "pure-jpeg"))]
pub(crate) fn cmyk_to_rgb(cmyk: &[u8], adobe: bool) -> Result<Vec<u8>, Error> {
    let mut out = reserve(cmyk.len() / 4 * 3, "the RGB copy of a CMYK JPEG")?;
    for p in cmyk.chunks_exact(4) {
        let (c, m, y, k) = if adobe {
            (p[0] as u32, p[1] as u32, p[2] as u32, p[3] as u32)
        } else {
            (
                255 - p[0] as u32,
                255 - p[1] as u32,
                255 - p[2] as u32,
                255 - p[3] as u32,
            )
        };
        out.extend_from_slice(&[
            (c * k / 255) as u8,
            (m * k / 255) as u8,
            (y * k / 255) as u8,
        ]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gray_alpha_widens_like_image_does() {
        let img = image::GrayAlphaImage::from_fn(37, 11, |x, y| {
            image::LumaA([(x * 7 + y * 3) as u8, (255 - x * 5) as u8])
        });
        let dynamic = DynamicImage::ImageLumaA8(img);
        let expected = dynamic.to_rgba8().into_raw();
        let px = Pixels::from_dynamic(dynamic).unwrap();
        assert_eq!((px.width, px.height, px.layout), (37, 11, Layout::Rgba8));
        assert_eq!(px.buf, expected);
    }

    #[test]
    fn widening_matches_image() {
        let gray = image::GrayImage::from_fn(5, 3, |x, y| image::Luma([(x * 40 + y) as u8]));
        let rgb = image::RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8, y as u8, 9]));
        for (img, to) in [
            (DynamicImage::ImageLuma8(gray.clone()), Layout::Rgb8),
            (DynamicImage::ImageLuma8(gray), Layout::Rgba8),
            (DynamicImage::ImageRgb8(rgb), Layout::Rgba8),
        ] {
            let expected = match to {
                Layout::Rgb8 => img.to_rgb8().into_raw(),
                _ => img.to_rgba8().into_raw(),
            };
            let px = Pixels::from_dynamic(img).unwrap().widen_to(to).unwrap();
            assert_eq!((px.layout, px.buf), (to, expected));
        }
    }

    #[test]
    fn flatten_composites_over_the_background() {
        let px = Pixels {
            width: 4,
            height: 1,
            layout: Layout::Rgba8,
            buf: vec![
                10, 20, 30, 255, // opaque: unchanged
                10, 20, 30, 0, // transparent: the background
                200, 100, 0, 128, // half: the mix, rounded
                0, 0, 0, 1,
            ],
        };
        let flat = px.flatten([255, 0, 50, 255]).unwrap();
        assert_eq!(flat.layout, Layout::Rgb8);
        let half = |f: u32, b: u32| ((f * 128 + b * 127 + 127) / 255) as u8;
        let expected = [
            [10, 20, 30],
            [255, 0, 50],
            [half(200, 255), half(100, 0), half(0, 50)],
            [254, 0, 50],
        ];
        assert_eq!(flat.buf, expected.concat());
    }
}
