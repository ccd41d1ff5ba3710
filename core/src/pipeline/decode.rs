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
pub(crate) fn decode(
    data: &[u8],
    limits: &Limits,
    allowed: &[InputFormat],
    want_icc: bool,
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
    let img = DynamicImage::from_decoder(decoder).map_err(|e| map_image_error(format, e))?;
    let pixels = Pixels::from_dynamic(img);
    Ok(Decoded {
        info: InputInfo {
            format,
            width: pixels.width,
            height: pixels.height,
            bytes: data.len() as u64,
            orientation: orientation.to_exif(),
        },
        pixels,
        orientation,
        icc,
    })
}
