//! Stage 1: detect the format from the bytes, read the header, enforce the
//! [`Limits`](crate::Limits) before any pixel memory is allocated, then decode.
//!
//! Limits are enforced twice: by our own checks on the header's dimensions, and by
//! handing them to the `image` decoders (`max_image_width`, `max_image_height`,
//! `max_alloc`) so that their internal allocations are capped as well.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageReader};

use super::pixels::Pixels;
use crate::error::{Error, ErrorKind, Stage};
use crate::format::InputFormat;
use crate::limits::Limits;
use crate::outcome::InputInfo;

/// A decoded input.
pub(crate) struct Decoded {
    pub pixels: Pixels,
    pub orientation: Orientation,
    pub icc: Option<Vec<u8>>,
    pub info: InputInfo,
}

fn err(kind: ErrorKind, msg: impl Into<String>) -> Error {
    Error::new(kind, msg).at(Stage::Decode)
}

/// Maps an `image` error to conveyor's vocabulary.
pub(crate) fn map_image_error(format: InputFormat, e: ImageError) -> Error {
    match e {
        ImageError::Limits(l) => err(ErrorKind::LimitExceeded, format!("{format}: {l}")),
        ImageError::Unsupported(u) => err(ErrorKind::UnsupportedFormat, format!("{format}: {u}")),
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => err(
            ErrorKind::DecodeFailed,
            format!("{format}: truncated input"),
        ),
        other => err(ErrorKind::DecodeFailed, format!("{format}: {other}")),
    }
}

/// Detects the format and checks it against the allow-list, without decoding.
pub(crate) fn detect(data: &[u8], allowed: &[InputFormat]) -> Result<InputFormat, Error> {
    let format = InputFormat::detect(data).map_err(|name| match name {
        Some(name) => err(
            ErrorKind::UnsupportedFormat,
            format!("{name} input is not supported"),
        ),
        None if data.is_empty() => err(ErrorKind::UnsupportedFormat, "empty input"),
        None => err(
            ErrorKind::UnsupportedFormat,
            "input is not a recognised image format",
        ),
    })?;
    if !allowed.contains(&format) {
        return Err(err(
            ErrorKind::UnsupportedFormat,
            format!("{format} input is not allowed by this pool"),
        ));
    }
    Ok(format)
}

/// Checks header dimensions against the limits.
pub(crate) fn check_dimensions(width: u32, height: u32, limits: &Limits) -> Result<(), Error> {
    let pixels = width as u64 * height as u64;
    if width == 0 || height == 0 {
        return Err(err(
            ErrorKind::DecodeFailed,
            format!("image has no pixels ({width}x{height})"),
        ));
    }
    if width > limits.max_width || height > limits.max_height || pixels > limits.max_pixels {
        return Err(err(
            ErrorKind::LimitExceeded,
            format!(
                "image is {width}x{height} ({pixels} pixels); limits are {}x{} and {} pixels",
                limits.max_width, limits.max_height, limits.max_pixels
            ),
        ));
    }
    Ok(())
}

/// Decodes `data`. `want_icc` reads the ICC profile (when metadata is kept).
/// `shrink(width, height, orientation)` may answer a power of two (1, 2, 4 or 8) by
/// which a JPEG may be decoded smaller (DCT scaling, with the `mozjpeg` feature); the
/// decoded pixels are then about `width / shrink` wide, while `info` keeps the stored
/// size.
pub(crate) fn decode(
    data: &[u8],
    limits: &Limits,
    allowed: &[InputFormat],
    want_icc: bool,
    shrink: &dyn Fn(u32, u32, Orientation) -> u32,
) -> Result<Decoded, Error> {
    if data.len() as u64 > limits.max_input_bytes {
        return Err(err(
            ErrorKind::LimitExceeded,
            format!(
                "input is {} bytes; the limit is {}",
                data.len(),
                limits.max_input_bytes
            ),
        ));
    }
    let format = detect(data, allowed)?;
    let mut reader = ImageReader::with_format(Cursor::new(data), format.to_image());
    let mut il = image::Limits::default();
    il.max_image_width = Some(limits.max_width);
    il.max_image_height = Some(limits.max_height);
    il.max_alloc = Some(limits.max_alloc);
    reader.limits(il);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| map_image_error(format, e))?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    if decoder.total_bytes() > limits.max_alloc {
        return Err(err(
            ErrorKind::LimitExceeded,
            format!(
                "decoding needs {} bytes; the limit is {}",
                decoder.total_bytes(),
                limits.max_alloc
            ),
        ));
    }
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let icc = if want_icc {
        decoder
            .icc_profile()
            .ok()
            .flatten()
            .filter(|p| p.len() as u64 <= limits.max_icc_bytes as u64)
    } else {
        None
    };
    let info = InputInfo {
        format,
        width,
        height,
        bytes: data.len() as u64,
        orientation: orientation.to_exif(),
    };
    #[cfg(feature = "mozjpeg")]
    if format == InputFormat::Jpeg {
        if let Some(pixels) = mozjpeg_decode(data, shrink(width, height, orientation))? {
            return Ok(Decoded {
                pixels,
                orientation,
                icc,
                info,
            });
        }
    }
    #[cfg(not(feature = "mozjpeg"))]
    let _ = shrink;
    let img = DynamicImage::from_decoder(decoder).map_err(|e| map_image_error(format, e))?;
    let pixels = Pixels::from_dynamic(img);
    Ok(Decoded {
        info,
        pixels,
        orientation,
        icc,
    })
}

/// Decodes a JPEG with libjpeg-turbo (mozjpeg), scaled by `1 / shrink` in the DCT
/// domain. `Ok(None)` for colour spaces it does not turn into RGB (CMYK), which the
/// `image` path then handles. libjpeg errors arrive as unwinds and become `decode_failed`.
#[cfg(feature = "mozjpeg")]
fn mozjpeg_decode(data: &[u8], shrink: u32) -> Result<Option<Pixels>, Error> {
    use super::pixels::Layout;
    let shrink = match shrink {
        8 | 4 | 2 => shrink,
        _ => 1,
    };
    let result = std::panic::catch_unwind(|| -> std::io::Result<Option<Pixels>> {
        let mut dec = mozjpeg::Decompress::new_mem(data)?;
        dec.scale((8 / shrink) as u8);
        let (layout, mut started) = match dec.image()? {
            mozjpeg::decompress::Format::RGB(s) => (Layout::Rgb8, s),
            mozjpeg::decompress::Format::Gray(s) => (Layout::L8, s),
            mozjpeg::decompress::Format::CMYK(_) => return Ok(None),
        };
        let (width, height) = (started.width() as u32, started.height() as u32);
        let buf: Vec<u8> = started.read_scanlines()?;
        started.finish()?;
        Ok(Some(Pixels {
            width,
            height,
            layout,
            buf,
        }))
    });
    match result {
        Ok(Ok(px)) => Ok(px
            .filter(|p| p.buf.len() == p.width as usize * p.height as usize * p.layout.channels())),
        Ok(Err(e)) => Err(err(ErrorKind::DecodeFailed, format!("jpeg: {e}"))),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "corrupt data".into());
            Err(err(ErrorKind::DecodeFailed, format!("jpeg: {msg}")))
        }
    }
}
