//! Resource limits applied to untrusted input and to the outputs a recipe asks for,
//! checked from the header and the recipe before any pixel memory is allocated.
//!
//! This module only describes the limits; the decode stage
//! (`pipeline::decode`) enforces them, both with its own header checks and by handing
//! them to the `image` decoders so that their internal allocations are capped too.

use serde::{Deserialize, Serialize};

/// Limits on one input image. Every field has a documented default; [`Limits::no_limits`]
/// lifts them all (never do that for untrusted input).
///
/// Build one with the `with_*` setters:
///
/// ```
/// let limits = conveyor::Limits::default().with_max_pixels(40_000_000);
/// assert_eq!(limits.max_pixels, 40_000_000);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest accepted input, in bytes. Default 64 MiB.
    pub max_input_bytes: u64,
    /// Largest accepted width, in pixels. Default 30 000.
    pub max_width: u32,
    /// Largest accepted height, in pixels. Default 30 000.
    pub max_height: u32,
    /// Largest accepted width × height. Default 100 000 000 (100 megapixels; Pillow
    /// refuses at about 179 MP, sharp at 268 MP).
    pub max_pixels: u64,
    /// Largest single allocation a decoder may make, in bytes. Default 1 GiB.
    pub max_alloc: u64,
    /// Largest ICC profile read, to convert the pixels to sRGB or to keep it. Default
    /// 1 MiB; a larger profile is ignored (not an error: the pixels are taken as sRGB
    /// and the report has an `icc_ignored` warning), and a PNG's compressed profile is
    /// never inflated past this.
    pub max_icc_bytes: u32,
    /// Most scans a JPEG may have. Default 100 (progressive files have about 10;
    /// libjpeg-turbo's own tools suggest a limit of this order against scan floods).
    pub max_scans: u32,
    /// Largest output width, in pixels. Default 30 000 (as for inputs). Each output
    /// format has its own ceiling too: WebP 16 383, JPEG 65 500.
    pub max_output_width: u32,
    /// Largest output height, in pixels. Default 30 000.
    pub max_output_height: u32,
    /// Largest width × height of one output. Default 100 000 000 (as for inputs), so
    /// any accepted input can be re-encoded at its own size.
    pub max_output_pixels: u64,
    /// Largest sum of width × height over a recipe's outputs. Default 300 000 000:
    /// three outputs of the largest size. Bounds what one small input can make a
    /// worker produce (a 1×1 PNG asked for 16 enlarged outputs).
    pub max_output_pixels_total: u64,
    /// Most frames an animated input may have when the recipe keeps them all
    /// (`animated: true`). Default 1 000 (sharp and libvips have no such limit; imgproxy's
    /// `max_animation_frames` defaults to 1). With `animated: true`, `max_pixels` and
    /// `max_output_pixels_total` also bound the sums over all frames, as sharp's
    /// `limitInputPixels` bounds its stacked pages. Without `animated`, only the first
    /// frame is decoded and this limit does not apply.
    pub max_frames: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 64 << 20,
            max_width: 30_000,
            max_height: 30_000,
            max_pixels: 100_000_000,
            max_alloc: 1 << 30,
            max_icc_bytes: 1 << 20,
            max_scans: 100,
            max_output_width: 30_000,
            max_output_height: 30_000,
            max_output_pixels: 100_000_000,
            max_output_pixels_total: 300_000_000,
            max_frames: 1_000,
        }
    }
}

impl Limits {
    /// No limits at all. Only for trusted input.
    pub fn no_limits() -> Limits {
        Limits {
            max_input_bytes: u64::MAX,
            max_width: u32::MAX,
            max_height: u32::MAX,
            max_pixels: u64::MAX,
            max_alloc: u64::MAX,
            max_icc_bytes: u32::MAX,
            max_scans: u32::MAX,
            max_output_width: u32::MAX,
            max_output_height: u32::MAX,
            max_output_pixels: u64::MAX,
            max_output_pixels_total: u64::MAX,
            max_frames: u32::MAX,
        }
    }

    /// Parses a limits object (every field optional; absent fields keep their
    /// defaults), strictly: one object and nothing after it, no unknown or duplicate
    /// keys. Errors are `invalid_argument` and name the field.
    pub fn from_json(json: &str) -> Result<Limits, crate::Error> {
        crate::json::parse(json).map_err(|m| {
            crate::Error::new(crate::ErrorKind::InvalidArgument, format!("limits: {m}"))
        })
    }

    /// Sets [`Limits::max_input_bytes`].
    pub fn with_max_input_bytes(mut self, v: u64) -> Self {
        self.max_input_bytes = v;
        self
    }
    /// Sets [`Limits::max_width`].
    pub fn with_max_width(mut self, v: u32) -> Self {
        self.max_width = v;
        self
    }
    /// Sets [`Limits::max_height`].
    pub fn with_max_height(mut self, v: u32) -> Self {
        self.max_height = v;
        self
    }
    /// Sets [`Limits::max_pixels`].
    pub fn with_max_pixels(mut self, v: u64) -> Self {
        self.max_pixels = v;
        self
    }
    /// Sets [`Limits::max_alloc`].
    pub fn with_max_alloc(mut self, v: u64) -> Self {
        self.max_alloc = v;
        self
    }
    /// Sets [`Limits::max_scans`].
    pub fn with_max_scans(mut self, v: u32) -> Self {
        self.max_scans = v;
        self
    }
    /// Sets [`Limits::max_output_width`].
    pub fn with_max_output_width(mut self, v: u32) -> Self {
        self.max_output_width = v;
        self
    }
    /// Sets [`Limits::max_output_height`].
    pub fn with_max_output_height(mut self, v: u32) -> Self {
        self.max_output_height = v;
        self
    }
    /// Sets [`Limits::max_output_pixels`].
    pub fn with_max_output_pixels(mut self, v: u64) -> Self {
        self.max_output_pixels = v;
        self
    }
    /// Sets [`Limits::max_output_pixels_total`].
    pub fn with_max_output_pixels_total(mut self, v: u64) -> Self {
        self.max_output_pixels_total = v;
        self
    }
    /// Sets [`Limits::max_icc_bytes`].
    pub fn with_max_icc_bytes(mut self, v: u32) -> Self {
        self.max_icc_bytes = v;
        self
    }
    /// Sets [`Limits::max_frames`].
    pub fn with_max_frames(mut self, v: u32) -> Self {
        self.max_frames = v;
        self
    }
}
