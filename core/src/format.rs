//! Image formats: the input formats conveyor detects and decodes, and the output
//! formats it encodes.
//!
//! Formats are always detected from the bytes (magic numbers), never from a file name.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An input format conveyor can decode.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputFormat {
    /// JPEG (baseline and progressive).
    Jpeg,
    /// PNG (8 and 16 bit, with or without alpha).
    Png,
    /// GIF; only the first frame is decoded.
    Gif,
    /// WebP, lossy and lossless; only the first frame of an animation.
    Webp,
    /// Windows bitmap.
    Bmp,
    /// TIFF (baseline).
    Tiff,
    /// Windows icon; the largest entry is decoded.
    Ico,
}

impl InputFormat {
    /// Every input format, the default allow-list.
    pub const ALL: [InputFormat; 7] = [
        InputFormat::Jpeg,
        InputFormat::Png,
        InputFormat::Gif,
        InputFormat::Webp,
        InputFormat::Bmp,
        InputFormat::Tiff,
        InputFormat::Ico,
    ];

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            InputFormat::Jpeg => "jpeg",
            InputFormat::Png => "png",
            InputFormat::Gif => "gif",
            InputFormat::Webp => "webp",
            InputFormat::Bmp => "bmp",
            InputFormat::Tiff => "tiff",
            InputFormat::Ico => "ico",
        }
    }

    pub(crate) fn to_image(self) -> image::ImageFormat {
        match self {
            InputFormat::Jpeg => image::ImageFormat::Jpeg,
            InputFormat::Png => image::ImageFormat::Png,
            InputFormat::Gif => image::ImageFormat::Gif,
            InputFormat::Webp => image::ImageFormat::WebP,
            InputFormat::Bmp => image::ImageFormat::Bmp,
            InputFormat::Tiff => image::ImageFormat::Tiff,
            InputFormat::Ico => image::ImageFormat::Ico,
        }
    }

    /// Detects the format from the leading bytes. `Err` carries the name of a recognised
    /// but unsupported format, or `None` when nothing was recognised.
    pub fn detect(bytes: &[u8]) -> Result<InputFormat, Option<String>> {
        match image::guess_format(bytes) {
            Ok(image::ImageFormat::Jpeg) => Ok(InputFormat::Jpeg),
            Ok(image::ImageFormat::Png) => Ok(InputFormat::Png),
            Ok(image::ImageFormat::Gif) => Ok(InputFormat::Gif),
            Ok(image::ImageFormat::WebP) => Ok(InputFormat::Webp),
            Ok(image::ImageFormat::Bmp) => Ok(InputFormat::Bmp),
            Ok(image::ImageFormat::Tiff) => Ok(InputFormat::Tiff),
            Ok(image::ImageFormat::Ico) => Ok(InputFormat::Ico),
            Ok(other) => Err(Some(format!("{other:?}").to_lowercase())),
            Err(_) => Err(None),
        }
    }
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An output format conveyor can encode.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputFormat {
    /// JPEG, 4:2:0 chroma, optionally progressive.
    Jpeg,
    /// PNG, lossless, compression level 0–9.
    Png,
    /// WebP, lossy (libwebp) or lossless.
    Webp,
    /// AVIF (AV1 still image through ravif/rav1e), 8-bit 4:4:4. Needs the `avif`
    /// cargo feature (native builds); without it an output asking for AVIF fails with
    /// `unsupported_format`.
    Avif,
}

impl OutputFormat {
    /// Every output format.
    pub const ALL: [OutputFormat; 4] = [
        OutputFormat::Jpeg,
        OutputFormat::Png,
        OutputFormat::Webp,
        OutputFormat::Avif,
    ];

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "jpeg",
            OutputFormat::Png => "png",
            OutputFormat::Webp => "webp",
            OutputFormat::Avif => "avif",
        }
    }

    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "jpg",
            OutputFormat::Png => "png",
            OutputFormat::Webp => "webp",
            OutputFormat::Avif => "avif",
        }
    }

    /// The largest width or height the format (and its encoder) can hold: WebP
    /// 16 383, JPEG 65 500 (libjpeg's `JPEG_MAX_DIMENSION`), PNG 2³¹ − 1, AVIF 16 384
    /// (libavif's and sharp's default image size limit; AV1 itself allows 65 536).
    pub fn max_dimension(self) -> u32 {
        match self {
            OutputFormat::Jpeg => 65_500,
            OutputFormat::Png => i32::MAX as u32,
            OutputFormat::Webp => 16_383,
            OutputFormat::Avif => 16_384,
        }
    }

    /// The MIME type.
    pub fn mime_type(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "image/jpeg",
            OutputFormat::Png => "image/png",
            OutputFormat::Webp => "image/webp",
            OutputFormat::Avif => "image/avif",
        }
    }

    /// The format whose extension is `ext` (case-insensitive; `jpeg` is accepted too).
    pub fn from_extension(ext: &str) -> Option<OutputFormat> {
        match ext.to_ascii_lowercase().as_str() {
            "jpg" | "jpeg" => Some(OutputFormat::Jpeg),
            "png" => Some(OutputFormat::Png),
            "webp" => Some(OutputFormat::Webp),
            "avif" => Some(OutputFormat::Avif),
            _ => None,
        }
    }

    /// Whether the format can carry an alpha channel.
    pub fn supports_alpha(self) -> bool {
        !matches!(self, OutputFormat::Jpeg)
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
