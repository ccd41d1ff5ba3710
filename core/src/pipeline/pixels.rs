//! The in-memory image between stages: 8-bit gray, RGB or RGBA, tightly packed.
//!
//! Every decoded image is normalised to one of these three layouts, which are the ones
//! the resizer and the encoders take without conversion.

use image::DynamicImage;

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

impl Pixels {
    /// Normalises any decoded image to L8, RGB8 or RGBA8, moving the buffer where the
    /// layout already fits.
    pub(crate) fn from_dynamic(img: DynamicImage) -> Pixels {
        let (width, height) = (img.width(), img.height());
        let (layout, buf) = match img {
            DynamicImage::ImageLuma8(b) => (Layout::L8, b.into_raw()),
            DynamicImage::ImageRgb8(b) => (Layout::Rgb8, b.into_raw()),
            DynamicImage::ImageRgba8(b) => (Layout::Rgba8, b.into_raw()),
            DynamicImage::ImageLuma16(_) => (Layout::L8, img.to_luma8().into_raw()),
            // Gray with alpha (common in PNG): widened by hand, which is several times
            // faster than `image`'s generic colour conversion and gives the same bytes.
            DynamicImage::ImageLumaA8(b) => {
                let mut out = Vec::with_capacity(b.as_raw().len() * 2);
                for la in b.as_raw().chunks_exact(2) {
                    out.extend_from_slice(&[la[0], la[0], la[0], la[1]]);
                }
                (Layout::Rgba8, out)
            }
            other if other.color().has_alpha() => (Layout::Rgba8, other.to_rgba8().into_raw()),
            other => (Layout::Rgb8, other.to_rgb8().into_raw()),
        };
        Pixels {
            width,
            height,
            layout,
            buf,
        }
    }

    /// Back to `image`'s type, without copying.
    pub(crate) fn into_dynamic(self) -> DynamicImage {
        let (w, h) = (self.width, self.height);
        let bad = "buffer length matches the dimensions";
        match self.layout {
            Layout::L8 => {
                DynamicImage::ImageLuma8(image::GrayImage::from_raw(w, h, self.buf).expect(bad))
            }
            Layout::Rgb8 => {
                DynamicImage::ImageRgb8(image::RgbImage::from_raw(w, h, self.buf).expect(bad))
            }
            Layout::Rgba8 => {
                DynamicImage::ImageRgba8(image::RgbaImage::from_raw(w, h, self.buf).expect(bad))
            }
        }
    }

    /// Converts to `layout` (gray is widened, alpha is added opaque; never drops alpha).
    pub(crate) fn widen_to(self, layout: Layout) -> Pixels {
        if self.layout == layout || self.layout.channels() >= layout.channels() {
            return self;
        }
        let img = self.into_dynamic();
        let img = match layout {
            Layout::Rgb8 => DynamicImage::ImageRgb8(img.to_rgb8()),
            _ => DynamicImage::ImageRgba8(img.to_rgba8()),
        };
        Pixels::from_dynamic(img)
    }

    /// Drops alpha by compositing over `bg` (RGB). Gray and RGB are returned as they are.
    pub(crate) fn flatten(&self, bg: [u8; 4]) -> std::borrow::Cow<'_, Pixels> {
        if self.layout != Layout::Rgba8 {
            return std::borrow::Cow::Borrowed(self);
        }
        // Written into a sized buffer (not pushed), which the compiler vectorises.
        let mut out = vec![0u8; self.buf.len() / 4 * 3];
        let bg = [bg[0] as u32, bg[1] as u32, bg[2] as u32];
        for (o, px) in out.chunks_exact_mut(3).zip(self.buf.chunks_exact(4)) {
            let (a, na) = (px[3] as u32, 255 - px[3] as u32);
            for c in 0..3 {
                o[c] = ((px[c] as u32 * a + bg[c] * na + 127) / 255) as u8;
            }
        }
        std::borrow::Cow::Owned(Pixels {
            width: self.width,
            height: self.height,
            layout: Layout::Rgb8,
            buf: out,
        })
    }
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
        let px = Pixels::from_dynamic(dynamic);
        assert_eq!((px.width, px.height, px.layout), (37, 11, Layout::Rgba8));
        assert_eq!(px.buf, expected);
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
        let flat = px.flatten([255, 0, 50, 255]);
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
