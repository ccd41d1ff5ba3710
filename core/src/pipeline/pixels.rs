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
        let mut out = Vec::with_capacity(self.buf.len() / 4 * 3);
        for px in self.buf.chunks_exact(4) {
            let a = px[3] as u32;
            for c in 0..3 {
                let v = (px[c] as u32 * a + bg[c] as u32 * (255 - a) + 127) / 255;
                out.push(v as u8);
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
