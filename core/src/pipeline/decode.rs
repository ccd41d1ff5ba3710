//! Stage 1: detect the format from the bytes, read the header, enforce the
//! [`Limits`](crate::Limits) before any pixel memory is allocated, then decode.
//!
//! Reading the header ([`probe`]) and decoding ([`decode`]) are two steps, so that the
//! pool can estimate the job's memory from the header and admit it against its budget
//! in between. Each format has one decoder: JPEG goes through the marker scan
//! (`jpeg.rs`) and then libjpeg-turbo (native) or, in wasm, the entropy check
//! (`jpeg_entropy.rs`, libjpeg's warnings) and jpeg-decoder; every other format
//! through the `image` crate. All of them read through [`Input`], so a running decode
//! notices the job's deadline or a cancel.
//!
//! Limits are enforced twice: by our own checks on the header's dimensions, and by
//! handing them to the `image` decoders (`max_image_width`, `max_image_height`,
//! `max_alloc`) so that their internal allocations are capped as well.

use std::ops::Range;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageReader};

use super::colour::{Cmyk, Found};
use super::input::{Input, Watch};
use super::jpeg::{self, JpegHeader};
use super::pixels::Pixels;
use crate::error::{Error, ErrorKind, Stage};
use crate::format::InputFormat;
use crate::limits::Limits;
use crate::outcome::InputInfo;
use crate::recipe::FailOn;

/// A decoded input.
pub(crate) struct Decoded {
    pub pixels: Pixels,
}

/// What the header says, with the decoder ready to go on where the header ended.
pub(crate) struct Header<'a> {
    pub info: InputInfo,
    pub orientation: Orientation,
    /// The colour profile found (ICC bounded by `max_icc_bytes`, PNG cICP).
    pub colour: Found,
    pub kind: Kind<'a>,
}

/// The per-format part of a [`Header`].
pub(crate) enum Kind<'a> {
    /// A JPEG and its marker scan.
    Jpeg(JpegHeader),
    /// Anything the `image` crate decodes.
    Other {
        decoder: Box<dyn ImageDecoder + 'a>,
        /// Bytes the decoder's own buffer takes.
        native_bytes: u64,
        /// Channels after normalising to 8-bit gray, RGB or RGBA.
        channels: u64,
        /// Whether normalising needs a second buffer.
        converts: bool,
    },
}

fn err(kind: ErrorKind, msg: impl Into<String>) -> Error {
    Error::new(kind, msg).at(Stage::Decode)
}

/// Maps an `image` error to conveyor's vocabulary.
pub(crate) fn map_image_error(format: InputFormat, e: ImageError, limits: &Limits) -> Error {
    match e {
        ImageError::Limits(l) => match l.kind() {
            image::error::LimitErrorKind::DimensionError => err(
                ErrorKind::LimitExceeded,
                format!(
                    "{format}: the image is larger than the limits ({}x{})",
                    limits.max_width, limits.max_height
                ),
            ),
            _ => err(
                ErrorKind::LimitExceeded,
                format!(
                    "{format}: the decoder needs more memory than max_alloc ({} bytes) allows",
                    limits.max_alloc
                ),
            ),
        },
        ImageError::Unsupported(u) => err(ErrorKind::UnsupportedFormat, format!("{format}: {u}")),
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => err(
            ErrorKind::DecodeFailed,
            format!("{format}: truncated input"),
        ),
        other => err(ErrorKind::DecodeFailed, format!("{format}: {other}")),
    }
}

/// Our limits as the `image` decoders take them, so their own allocations are capped.
fn image_limits(limits: &Limits) -> image::Limits {
    let mut il = image::Limits::default();
    il.max_image_width = Some(limits.max_width);
    il.max_image_height = Some(limits.max_height);
    il.max_alloc = Some(limits.max_alloc);
    il
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

/// The dimensions a header declares, read by hand for formats whose decoder refuses
/// large sizes before saying what they are (PNG over the limits, WebP above 16383 px).
fn declared_size(format: InputFormat, data: &[u8]) -> Option<(u32, u32)> {
    let be32 = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
    };
    match format {
        InputFormat::Png if data.get(12..16) == Some(b"IHDR") => Some((be32(16)?, be32(20)?)),
        InputFormat::Webp if data.get(12..16) == Some(b"VP8X") => {
            let u24 = |at: usize| -> Option<u32> {
                let b = data.get(at..at + 3)?;
                Some(u32::from_le_bytes([b[0], b[1], b[2], 0]) + 1)
            };
            Some((u24(24)?, u24(27)?))
        }
        _ => None,
    }
}

/// Checks a header-declared size that a decoder would refuse without naming it.
fn check_declared(format: InputFormat, data: &[u8]) -> Result<(), Error> {
    if format != InputFormat::Webp {
        return Ok(());
    }
    if let Some((w, h)) = declared_size(format, data) {
        if w > 16383 || h > 16383 {
            return Err(err(
                ErrorKind::DecodeFailed,
                format!(
                    "{format}: the header declares {w}x{h}; WebP images are at most 16383x16383"
                ),
            ));
        }
    }
    Ok(())
}

/// BMP: an uncompressed bitmap whose declared rows do not fit in the file is refused
/// before a decoder allocates them (a 253-byte file can declare 144 MB).
fn check_bmp_fits(data: &[u8]) -> Result<(), Error> {
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
    };
    let i32_at = |at: usize| u32_at(at).map(|v| v as i32);
    let (Some(offset), Some(w), Some(h), Some(bpp), Some(compression)) = (
        u32_at(10),
        i32_at(18),
        i32_at(22),
        data.get(28..30).map(|b| u16::from_le_bytes([b[0], b[1]])),
        u32_at(30),
    ) else {
        return Ok(());
    };
    if compression != 0 || w <= 0 || bpp == 0 {
        return Ok(());
    }
    // Saturating: a header can declare 2^31 x 2^31 pixels of 65,535 bits each.
    let stride = (w as u64 * bpp as u64).div_ceil(32).saturating_mul(4);
    let needed = (offset as u64).saturating_add(stride.saturating_mul(h.unsigned_abs() as u64));
    if needed > data.len() as u64 {
        return Err(err(
            ErrorKind::DecodeFailed,
            format!(
                "bmp: truncated input: the header declares {w}x{} pixels ({needed} bytes); the \
                 file has {} bytes",
                h.unsigned_abs(),
                data.len()
            ),
        ));
    }
    Ok(())
}

/// PNG: the byte ranges of iCCP chunks, and the colour profile when it is wanted: the
/// ICC profile if it fits `max_icc_bytes` once inflated, and the `cICP` chunk. The iCCP
/// chunks are hidden from the decoder either way, so a compressed profile is never
/// inflated past that bound (a zlib bomb in iCCP costs nothing).
fn png_icc(data: &[u8], want: bool, max: u32) -> (Vec<Range<usize>>, Found) {
    let mut hidden = Vec::new();
    let mut found = Found::default();
    let mut seen_iccp = false;
    let mut pos = 8;
    while let Some(head) = data.get(pos..pos + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let kind = &head[4..8];
        let end = pos.saturating_add(12).saturating_add(len);
        if kind == b"IDAT" || kind == b"IEND" || end > data.len() {
            break;
        }
        let body = &data[pos + 8..pos + 8 + len];
        if kind == b"iCCP" {
            hidden.push(pos..end);
            if want && !seen_iccp {
                seen_iccp = true;
                // name, NUL, compression method 0, then the zlib stream.
                match body
                    .iter()
                    .position(|&b| b == 0)
                    .and_then(|nul| body.get(nul + 2..))
                    .map(|z| fdeflate::decompress_to_vec_bounded(z, max as usize))
                {
                    Some(Ok(icc)) => found.icc = Some(icc),
                    Some(Err(fdeflate::BoundedDecompressionError::OutputTooLarge { .. })) => {
                        found.icc_over = Some(max)
                    }
                    Some(Err(_)) => found.icc_unreadable = Some("corrupt iCCP data".into()),
                    None => found.icc_unreadable = Some("a malformed iCCP chunk".into()),
                }
            }
        } else if kind == b"cICP" && want && len == 4 && found.cicp.is_none() {
            found.cicp = Some([body[0], body[1], body[2], body[3]]);
        }
        pos = end;
    }
    (hidden, found)
}

/// TIFF: the ICC profile tag (34675) of the first IFD, as stored (a slice of `data`).
fn tiff_icc(data: &[u8]) -> Option<&[u8]> {
    let le = match data.get(0..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b = [*data.get(at)?, *data.get(at + 1)?];
        Some(if le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let ifd = u32_at(4)? as usize;
    let count = u16_at(ifd)? as usize;
    (0..count.min(1024)).find_map(|i| {
        let e = ifd + 2 + 12 * i;
        if u16_at(e)? != 34675 || !matches!(u16_at(e + 2)?, 1 | 7) {
            return None;
        }
        let len = u32_at(e + 4)? as usize;
        let at = if len <= 4 {
            e + 8
        } else {
            u32_at(e + 8)? as usize
        };
        data.get(at..at.checked_add(len)?)
    })
}

/// Reads the header: format, dimensions, orientation, profile; checks the limits.
/// Allocates no pixel memory.
pub(crate) fn probe<'a>(
    data: &'a [u8],
    limits: &Limits,
    allowed: &[InputFormat],
    want_icc: bool,
    watch: &'a Watch<'a>,
) -> Result<Header<'a>, Error> {
    if data.len() as u64 > limits.max_input_bytes {
        return Err(err(
            ErrorKind::LimitExceeded,
            format!(
                "input is {} bytes; the limit is {} (max_input_bytes)",
                data.len(),
                limits.max_input_bytes
            ),
        ));
    }
    let format = detect(data, allowed)?;
    let info = |width, height, orientation: Orientation| InputInfo {
        format,
        width,
        height,
        byte_len: data.len() as u64,
        orientation: orientation.to_exif(),
        frames: super::animation::count_frames(format, data),
    };
    if format == InputFormat::Jpeg {
        let mut h = jpeg::scan(data, limits, want_icc)?;
        check_dimensions(h.width, h.height, limits)?;
        let orientation =
            Orientation::from_exif(h.orientation as u8).unwrap_or(Orientation::NoTransforms);
        let colour = Found {
            icc: h.icc.take(),
            icc_over: h.icc_dropped.then_some(limits.max_icc_bytes),
            ..Found::default()
        };
        return Ok(Header {
            info: info(h.width, h.height, orientation),
            orientation,
            colour,
            kind: Kind::Jpeg(h),
        });
    }
    check_declared(format, data)?;
    if format == InputFormat::Bmp {
        check_bmp_fits(data)?;
    }
    let (hidden, png_colour) = if format == InputFormat::Png {
        png_icc(data, want_icc, limits.max_icc_bytes)
    } else {
        (Vec::new(), Found::default())
    };
    let mut reader =
        ImageReader::with_format(Input::with_hidden(data, &hidden, watch), format.to_image());
    reader.limits(image_limits(limits));
    let mut decoder = match reader.into_decoder() {
        Ok(d) => d,
        Err(e) => {
            if let Some(stop) = watch.stopped() {
                return Err(stop);
            }
            // Name the declared size where the header says it plainly.
            if let Some((w, h)) = declared_size(format, data) {
                check_dimensions(w, h, limits)?;
            }
            return Err(map_image_error(format, e, limits));
        }
    };
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    let native_bytes = decoder.total_bytes();
    if native_bytes > limits.max_alloc {
        return Err(err(
            ErrorKind::LimitExceeded,
            format!(
                "decoding needs {native_bytes} bytes; the limit is {} (max_alloc)",
                limits.max_alloc
            ),
        ));
    }
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let colour = if format == InputFormat::Png {
        png_colour
    } else if want_icc {
        // WebP's ICCP chunk and TIFF's tag are stored uncompressed: bounded by the input.
        let icc = match decoder.icc_profile() {
            // `image`'s TIFF decoder reads the tag only when typed BYTE; most writers
            // type it UNDEFINED.
            Ok(None) if format == InputFormat::Tiff => Ok(tiff_icc(data).map(<[u8]>::to_vec)),
            other => other,
        };
        match icc {
            Ok(Some(p)) if p.len() as u64 > limits.max_icc_bytes as u64 => Found {
                icc_over: Some(limits.max_icc_bytes),
                ..Found::default()
            },
            Ok(icc) => Found {
                icc,
                ..Found::default()
            },
            Err(e) => Found {
                icc_unreadable: Some(e.to_string()),
                ..Found::default()
            },
        }
    } else {
        Found::default()
    };
    let color = decoder.color_type();
    let channels = if color.has_color() { 3 } else { 1 } + u64::from(color.has_alpha());
    let channels = if channels == 2 { 4 } else { channels };
    let converts = !matches!(
        color,
        image::ColorType::L8 | image::ColorType::Rgb8 | image::ColorType::Rgba8
    );
    Ok(Header {
        info: info(width, height, orientation),
        orientation,
        colour,
        kind: Kind::Other {
            decoder: Box::new(decoder),
            native_bytes,
            channels,
            converts,
        },
    })
}

/// Decodes what [`probe`] read. `shrink` (1, 2, 4 or 8) lets a JPEG decode smaller in
/// the DCT domain (native builds); the pixels are then about `width / shrink` wide.
/// `fail_on` says which damage refuses the image. `cmyk` converts a CMYK JPEG through
/// its profile (libjpeg natively, jpeg-decoder in the wasm build; the zune-jpeg
/// fallback of a build with neither ignores it); without it CMYK is converted naively.
#[allow(clippy::too_many_arguments)]
pub(crate) fn decode(
    format: InputFormat,
    header: Kind<'_>,
    data: &[u8],
    limits: &Limits,
    watch: &Watch<'_>,
    shrink: u32,
    fail_on: FailOn,
    cmyk: Option<&Cmyk>,
) -> Result<Decoded, Error> {
    match header {
        Kind::Jpeg(h) => {
            if !h.complete && fail_on >= FailOn::Truncated {
                return Err(err(
                    ErrorKind::DecodeFailed,
                    format!(
                        "jpeg: truncated input (the data ends before the image does; \
                         fail_on \"{}\" refuses it, \"none\" accepts a partial image)",
                        fail_on.as_str()
                    ),
                ));
            }
            let pixels = decode_jpeg(&h, data, limits, watch, shrink, fail_on, cmyk)?;
            Ok(Decoded { pixels })
        }
        Kind::Other { decoder, .. } => {
            let img = DynamicImage::from_decoder(decoder);
            if let Some(stop) = watch.stopped() {
                return Err(stop);
            }
            let img = img.map_err(|e| map_image_error(format, e, limits))?;
            Ok(Decoded {
                pixels: Pixels::from_dynamic(img)?,
            })
        }
    }
}

/// The frames of an animated GIF, APNG or WebP, each the whole canvas in RGBA with the
/// earlier frames composited under it (the `image` decoders' animation iterators), for
/// `animated: true`. The decoders read through [`Input`], so a running frame notices
/// the job's deadline or a cancel, and take the limits as the still decoders do (a
/// PNG's iCCP chunks are hidden from them, as in [`probe`]).
pub(crate) fn frames<'a>(
    format: InputFormat,
    data: &'a [u8],
    limits: &Limits,
    watch: &'a Watch<'a>,
) -> Result<image::Frames<'a>, Error> {
    use image::AnimationDecoder as _;
    let stopped_or = |e: ImageError| {
        watch
            .stopped()
            .unwrap_or_else(|| map_image_error(format, e, limits))
    };
    match format {
        InputFormat::Gif => {
            let mut d =
                image::codecs::gif::GifDecoder::new(Input::new(data, watch)).map_err(stopped_or)?;
            d.set_limits(image_limits(limits)).map_err(stopped_or)?;
            Ok(d.into_frames())
        }
        InputFormat::Png => {
            let (hidden, _) = png_icc(data, false, limits.max_icc_bytes);
            let input = Input::with_hidden(data, &hidden, watch);
            let d = image::codecs::png::PngDecoder::with_limits(input, image_limits(limits))
                .map_err(stopped_or)?;
            Ok(d.apng().map_err(stopped_or)?.into_frames())
        }
        InputFormat::Webp => {
            let mut d = image::codecs::webp::WebPDecoder::new(Input::new(data, watch))
                .map_err(stopped_or)?;
            d.set_limits(image_limits(limits)).map_err(stopped_or)?;
            Ok(d.into_frames())
        }
        other => Err(err(
            ErrorKind::UnsupportedFormat,
            format!("{other} input has no frames to animate"),
        )),
    }
}

#[cfg(feature = "mozjpeg")]
fn decode_jpeg(
    h: &JpegHeader,
    data: &[u8],
    _limits: &Limits,
    watch: &Watch<'_>,
    shrink: u32,
    fail_on: FailOn,
    cmyk: Option<&Cmyk>,
) -> Result<Pixels, Error> {
    let input = Input::new(data, watch).break_at(h.scan_offsets.iter().copied());
    let decoded = super::libjpeg::decode(input, watch, shrink, h.adobe, cmyk)?;
    if watch.read_past_end() && fail_on >= FailOn::Truncated {
        return Err(err(
            ErrorKind::DecodeFailed,
            "jpeg: truncated input (the decoder needed data past the end)",
        ));
    }
    if let Some(warning) = decoded.warning {
        if fail_on >= FailOn::Warning {
            return Err(jpeg_warning(&warning, fail_on));
        }
    }
    Ok(decoded.pixels)
}

/// The message for a JPEG that `fail_on` refuses for a warning: the same for every
/// decoder, so every door says the same.
fn jpeg_warning(warning: &str, fail_on: FailOn) -> Error {
    err(
        ErrorKind::DecodeFailed,
        format!(
            "jpeg: {warning} (fail_on \"{}\" refuses damaged data; \"error\" or \"none\" \
             accepts it)",
            fail_on.as_str()
        ),
    )
}

/// Without libjpeg: the entropy check (`jpeg_entropy.rs`) says what libjpeg would warn
/// about, so that `fail_on` refuses the same files as the native door, and decodes the
/// coefficients in the same pass; jpeg-decoder (vendored, `decode_coefficients`) makes
/// the pixels from them, or decodes the file itself where the check cannot (it reads
/// non-interleaved scans right, unlike zune-jpeg 0.5).
#[cfg(all(not(feature = "mozjpeg"), feature = "pure-jpeg"))]
fn decode_jpeg(
    h: &JpegHeader,
    data: &[u8],
    limits: &Limits,
    watch: &Watch<'_>,
    shrink: u32,
    fail_on: FailOn,
    cmyk: Option<&Cmyk>,
) -> Result<Pixels, Error> {
    use super::jpeg_entropy::{decode, Finding};
    use super::pixels::Layout;
    if h.arithmetic {
        return Err(err(
            ErrorKind::UnsupportedFormat,
            "jpeg: arithmetic coding is not supported in this build (no libjpeg)",
        ));
    }
    // One Huffman pass gives libjpeg's verdict and, where it can, the coefficients;
    // jpeg-decoder then only does the IDCT, upsampling and colour. Shrinking on load,
    // the walk keeps only the corner of each block that the scaled IDCT reads (a
    // quarter, a 16th or a 64th of the coefficients at 1/2, 1/4 and 1/8).
    let want = (shrink > 1).then(|| (h.width.div_ceil(shrink), h.height.div_ceil(shrink)));
    let max_buffer = usize::try_from(limits.max_alloc).unwrap_or(usize::MAX);
    // The IDCT size the decoder will use, from its own reading of the header (8 when it
    // does not shrink: its frame is then not read yet).
    let side = match want {
        Some(_) => scaled_decoder(data, &[], watch, want, max_buffer)
            .dct_scale()
            .unwrap_or(8),
        None => 8,
    };
    let (finding, coefficients) = decode(data, &h.scan_offsets, watch, side)?;
    if let Finding::Warning(w) = finding {
        if fail_on >= FailOn::Warning {
            return Err(jpeg_warning(&w, fail_on));
        }
    }
    // A file cut short (accepted only with fail_on "none") ends with EOI here, so the
    // decoder fills in the rest as libjpeg does instead of failing.
    let owned;
    let data = if h.complete {
        data
    } else {
        owned = {
            let mut v = super::pixels::reserve(data.len() + 2, "a copy of the input")?;
            v.extend_from_slice(data);
            v.extend_from_slice(&[0xFF, 0xD9]);
            v
        };
        &owned
    };
    // Rendered from the walk's coefficients; where there are none, or (never seen) they
    // are for another IDCT size than the decoder's, it decodes the file itself.
    let walked = coefficients.and_then(|c| {
        let mut dec = scaled_decoder(data, &c.entropy, watch, want, max_buffer);
        (c.side == 8 || dec.dct_scale() == Some(c.side)).then(|| {
            let decoded = dec.decode_coefficients(c.components, c.side);
            (dec, decoded)
        })
    });
    let (dec, decoded) = walked.unwrap_or_else(|| {
        let mut dec = scaled_decoder(data, &[], watch, want, max_buffer);
        let decoded = dec.decode();
        (dec, decoded)
    });
    if let Some(stop) = watch.stopped() {
        return Err(stop);
    }
    let buf = decoded.map_err(|e| match e {
        jpeg_decoder::Error::Unsupported(u) => err(
            ErrorKind::UnsupportedFormat,
            format!("jpeg: {u:?} is not supported"),
        ),
        other => err(ErrorKind::DecodeFailed, format!("jpeg: {other}")),
    })?;
    let info = dec
        .info()
        .ok_or_else(|| err(ErrorKind::DecodeFailed, "jpeg: no frame decoded"))?;
    let (width, height) = (info.width as u32, info.height as u32);
    let (layout, buf) = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => (Layout::L8, buf),
        jpeg_decoder::PixelFormat::RGB24 => (Layout::Rgb8, buf),
        // jpeg-decoder inverts what is stored; undo it for the shared conversion, or
        // for the profile's (as libjpeg's path does natively).
        jpeg_decoder::PixelFormat::CMYK32 => match cmyk {
            Some(profile) => {
                let mut buf = buf;
                (Layout::Rgb8, profile.to_rgb(&mut buf, !h.adobe)?)
            }
            None => (Layout::Rgb8, super::pixels::cmyk_to_rgb(&buf, !h.adobe)?),
        },
        jpeg_decoder::PixelFormat::L16 => {
            return Err(err(ErrorKind::UnsupportedFormat, "jpeg: 16-bit output"))
        }
    };
    if buf.len() as u64 != width as u64 * height as u64 * layout.channels() as u64 {
        return Err(err(
            ErrorKind::DecodeFailed,
            "jpeg: the decoder returned a short image",
        ));
    }
    Ok(Pixels {
        width,
        height,
        layout,
        buf,
    })
}

/// jpeg-decoder over `data`, with `hidden` (the walked scans' entropy-coded data, which
/// it need not read) hidden from it, shrinking on load to `want` as libjpeg does
/// natively: the IDCT at 8/shrink, so the pixels are ceil(size / shrink). It picks the
/// scale from a requested size; a header it cannot read, or a scale other than the
/// asked one (tiny images), decodes at full size.
#[cfg(all(not(feature = "mozjpeg"), feature = "pure-jpeg"))]
fn scaled_decoder<'a>(
    data: &'a [u8],
    hidden: &[std::ops::Range<usize>],
    watch: &'a Watch<'a>,
    want: Option<(u32, u32)>,
    max_buffer: usize,
) -> jpeg_decoder::Decoder<Input<'a>> {
    let input = || Input::with_hidden(data, hidden, watch);
    let mut dec = jpeg_decoder::Decoder::new(input());
    dec.set_max_decoding_buffer_size(max_buffer);
    if let Some(want) = want {
        let scaled = match (u16::try_from(want.0), u16::try_from(want.1)) {
            (Ok(w), Ok(hh)) => dec.scale(w, hh).ok() == Some((w, hh)),
            _ => false,
        };
        if !scaled {
            dec = jpeg_decoder::Decoder::new(input());
            dec.set_max_decoding_buffer_size(max_buffer);
        }
    }
    dec
}

/// Without libjpeg or jpeg-decoder: the `image` crate's decoder (zune-jpeg), after the
/// same entropy check.
#[cfg(all(not(feature = "mozjpeg"), not(feature = "pure-jpeg")))]
fn decode_jpeg(
    h: &JpegHeader,
    data: &[u8],
    limits: &Limits,
    watch: &Watch<'_>,
    _shrink: u32,
    fail_on: FailOn,
    _cmyk: Option<&Cmyk>,
) -> Result<Pixels, Error> {
    if let super::jpeg_entropy::Finding::Warning(w) =
        super::jpeg_entropy::check(data, &h.scan_offsets)?
    {
        if fail_on >= FailOn::Warning {
            return Err(jpeg_warning(&w, fail_on));
        }
    }
    let mut reader = ImageReader::with_format(Input::new(data, watch), image::ImageFormat::Jpeg);
    reader.limits(image_limits(limits));
    let img = reader.decode();
    if let Some(stop) = watch.stopped() {
        return Err(stop);
    }
    let img = img.map_err(|e| map_image_error(InputFormat::Jpeg, e, limits))?;
    Pixels::from_dynamic(img)
}
