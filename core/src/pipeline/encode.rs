//! Stage 3 for one output: encode to JPEG (jpeg-encoder, SIMD, 4:2:0, standard Huffman
//! tables), PNG (the png crate, as image's encoder does), WebP (libwebp with the `libwebp`
//! feature; the pure-Rust vaam-image-webp with `pure-webp`, for wasm; otherwise lossless
//! only, through image) or AVIF (ravif with the `avif` feature; see `avif.rs`).
//!
//! No EXIF or XMP is ever written: orientation has been applied to the pixels and GPS
//! must not leak. The ICC profile that `colour.rs` chooses is written into JPEG and PNG
//! here (WebP gets its ICCP chunk from `colour.rs`).
//!
//! Encoders notice the job's deadline and cancel while they run, as the decoders do:
//! libjpeg runs the check from its progress monitor every 16 rows of work in every pass,
//! the PNG encoder takes its rows in bands with a check in between, libwebp asks through
//! its progress hook, and the pure-Rust JPEG encoder's output passes
//! through a writer that checks every [`CHECK_EVERY`] bytes. The AVIF encoder (rav1e)
//! and the pure-Rust WebP encoder (wasm builds) run to their end once started: they are
//! asked once, before.

use super::input::Check;
use super::pixels::{Layout, Pixels};
use crate::error::{Error, ErrorKind, Stage};
use crate::format::OutputFormat;
use crate::recipe::OutputSpec;

fn fail(spec: &OutputSpec, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::EncodeFailed,
        format!("output {:?} ({}): {e}", spec.name, spec.format),
    )
    .at(Stage::Encode)
}

/// Gray widened to RGB for the WebP encoders, which take RGB or RGBA only.
fn widened(px: &Pixels) -> Result<Pixels, Error> {
    let copy = super::pixels::reserve(px.buf.len(), "a copy of the pixels")?;
    let px = Pixels {
        buf: {
            let mut copy = copy;
            copy.extend_from_slice(&px.buf);
            copy
        },
        ..*px
    };
    px.widen_to(Layout::Rgb8)
}

/// Rows handed to a row-based encoder between two checks.
const BAND_ROWS: usize = 64;

/// Encodes `px` as `spec` asks, with `icc` embedded when given. `check` is asked whether
/// the job may go on while the encoder runs; its error stops the encode and is returned
/// as it is.
pub(crate) fn encode(
    px: &Pixels,
    spec: &OutputSpec,
    icc: Option<&[u8]>,
    check: Check<'_>,
) -> Result<Vec<u8>, Error> {
    match spec.format {
        OutputFormat::Jpeg => jpeg(px, spec, icc, check),
        OutputFormat::Png => png(px, spec, icc, check),
        OutputFormat::Webp => webp(px, spec, check),
        OutputFormat::Avif => super::avif::encode(px, spec, check),
    }
}

/// JPEG through libjpeg-turbo (mozjpeg's build) with its fast settings (no trellis),
/// optimised Huffman tables and 4:2:0 chroma, like sharp's defaults. libjpeg asks
/// `check` every 16 rows of work in every pass (see `libjpeg::encode`).
#[cfg(feature = "mozjpeg")]
fn jpeg(
    px: &Pixels,
    spec: &OutputSpec,
    icc: Option<&[u8]>,
    check: Check<'_>,
) -> Result<Vec<u8>, Error> {
    use super::libjpeg::{encode, EncodeFailure};
    let flat = px.flatten(spec.effective_background().0)?;
    let out = super::pixels::reserve(flat.buf.len() / 8, "the encoded JPEG")?;
    encode(
        &flat,
        spec.effective_quality(),
        spec.progressive,
        icc,
        check,
        out,
    )
    .map_err(|e| match e {
        EncodeFailure::Stopped(e) => e,
        EncodeFailure::Failed(m) => fail(spec, m),
    })
}

#[cfg(not(feature = "mozjpeg"))]
fn jpeg(
    px: &Pixels,
    spec: &OutputSpec,
    icc: Option<&[u8]>,
    check: Check<'_>,
) -> Result<Vec<u8>, Error> {
    let flat = px.flatten(spec.effective_background().0)?;
    let (w, h) = (u16::try_from(flat.width), u16::try_from(flat.height));
    let (Ok(w), Ok(h)) = (w, h) else {
        return Err(fail(spec, "JPEG is limited to 65535x65535"));
    };
    let out = super::pixels::reserve(flat.buf.len() / 8, "the encoded JPEG")?;
    let mut out = CheckedWriter::new(out, check);
    let mut enc = jpeg_encoder::Encoder::new(&mut out, spec.effective_quality());
    enc.set_progressive(spec.progressive);
    // Not `set_optimized_huffman_tables(true)`: in jpeg-encoder 0.7.1 it writes streams
    // that decode to garbage (seen in our tests: mean error ~110/255).
    if let Some(icc) = icc {
        enc.add_icc_profile(icc).map_err(|e| fail(spec, e))?;
    }
    let ct = match flat.layout {
        Layout::L8 => jpeg_encoder::ColorType::Luma,
        _ => jpeg_encoder::ColorType::Rgb,
    };
    let encoded = enc.encode(&flat.buf, w, h, ct);
    out.finish(encoded.map_err(|e| fail(spec, e)))
}

fn png(
    px: &Pixels,
    spec: &OutputSpec,
    icc: Option<&[u8]>,
    check: Check<'_>,
) -> Result<Vec<u8>, Error> {
    // Room for a typical result up front; growth past it is bounded by the output
    // limits (`geometry::check`).
    let mut out = super::pixels::reserve(px.buf.len() / 2 + 1024, "the encoded PNG")?;
    let mut info = ::png::Info::with_size(px.width, px.height);
    if let Some(icc) = icc {
        info.icc_profile = Some(std::borrow::Cow::Borrowed(icc));
    }
    let mut enc = ::png::Encoder::with_info(&mut out, info).map_err(|e| fail(spec, e))?;
    enc.set_color(match px.layout {
        Layout::L8 => ::png::ColorType::Grayscale,
        Layout::Rgb8 => ::png::ColorType::Rgb,
        Layout::Rgba8 => ::png::ColorType::Rgba,
    });
    enc.set_depth(::png::BitDepth::Eight);
    // As image's PngEncoder maps its levels: 0 is stored, 1..=9 zlib's level.
    match spec.effective_compression() {
        0 => enc.set_compression(::png::Compression::NoCompression),
        n => enc.set_deflate_compression(::png::DeflateCompression::Level(n)),
    }
    enc.set_filter(::png::Filter::Adaptive);
    let mut writer = enc.write_header().map_err(|e| fail(spec, e))?;
    let mut stream = writer
        .stream_writer_with_size(256 * 1024)
        .map_err(|e| fail(spec, e))?;
    let row = px.width as usize * px.layout.channels();
    for band in px.buf.chunks(row.max(1) * BAND_ROWS) {
        check()?;
        std::io::Write::write_all(&mut stream, band).map_err(|e| fail(spec, e))?;
    }
    stream.finish().map_err(|e| fail(spec, e))?;
    writer.finish().map_err(|e| fail(spec, e))?;
    Ok(out)
}

#[cfg(feature = "libwebp")]
fn webp(px: &Pixels, spec: &OutputSpec, check: Check<'_>) -> Result<Vec<u8>, Error> {
    let px = if px.layout == Layout::L8 {
        std::borrow::Cow::Owned(widened(px)?)
    } else {
        std::borrow::Cow::Borrowed(px)
    };
    // As the `webp` crate's `encode_simple`, plus `exact` for lossless: libwebp otherwise
    // rewrites the colour under fully transparent pixels, and a lossless output of the
    // source's size must be the source's pixels.
    let mut config = libwebp_sys::WebPConfig::new().map_err(|()| fail(spec, "WebPConfig"))?;
    config.lossless = spec.lossless as i32;
    config.alpha_compression = (!spec.lossless) as i32;
    config.quality = spec.effective_quality() as f32;
    config.exact = spec.lossless as i32;
    super::libwebp::encode(&px, &config, check).map_err(|e| match e {
        Ok(job_error) => job_error,
        Err(msg) => fail(spec, msg),
    })
}

/// Lossy WebP with vaam-image-webp, working around its frame conversion: it drops an
/// odd last row and column (a 1x1 image came out green) and pads partial macroblocks
/// with black, which smears dark edges into small images. So the pixels are padded
/// here to whole macroblocks by repeating the edge, encoded, and the VP8 frame header
/// is given the real size (the macroblock count, and so the bitstream, stays the same;
/// decoders crop). Alpha, lossless and padded to nothing, goes into an ALPH chunk of
/// the real size, encoded by the same crate's lossless encoder.
#[cfg(all(not(feature = "libwebp"), feature = "pure-webp"))]
fn webp(px: &Pixels, spec: &OutputSpec, check: Check<'_>) -> Result<Vec<u8>, Error> {
    // vaam-image-webp cannot be stopped once it runs: ask before it starts.
    check()?;
    use vaam_webp::{ColorType, EncoderParams, WebPEncoder};
    let alpha = px.layout == Layout::Rgba8;
    let encode = |buf: &[u8], w: u32, h: u32, color: ColorType, lossy: bool| {
        let mut params = EncoderParams::default();
        if lossy {
            params.use_lossy = true;
            params.lossy_quality = libwebp_scale(spec.effective_quality());
        }
        let mut out = Vec::new();
        let mut enc = WebPEncoder::new(&mut out);
        enc.set_params(params);
        enc.encode(buf, w, h, color).map_err(|e| fail(spec, e))?;
        Ok::<_, Error>(out)
    };
    if spec.lossless {
        let px = widened(px)?;
        let color = if alpha {
            ColorType::Rgba8
        } else {
            ColorType::Rgb8
        };
        return encode(&px.buf, px.width, px.height, color, false);
    }
    let (w, h) = (px.width, px.height);
    let (pw, ph) = (w.div_ceil(16) * 16, h.div_ceil(16) * 16);
    let rgb = padded_rgb(px, pw, ph)?;
    let vp8 = encode(&rgb, pw, ph, ColorType::Rgb8, true)?;
    drop(rgb);
    let mut frame = riff_chunk(&vp8, b"VP8 ")
        .ok_or_else(|| fail(spec, "the encoder wrote no VP8 chunk"))?
        .to_vec();
    // Frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height (scale 0).
    if frame.len() < 10 || frame[3..6] != [0x9d, 0x01, 0x2a] {
        return Err(fail(spec, "the encoder wrote an unexpected VP8 frame"));
    }
    frame[6..8].copy_from_slice(&(w as u16).to_le_bytes());
    frame[8..10].copy_from_slice(&(h as u16).to_le_bytes());
    let alph = if alpha && px.buf.chunks_exact(4).any(|p| p[3] != 255) {
        // ALPH, compression 1: a lossless image stream of the real size, alpha in the
        // green channel, without the 5-byte VP8L header.
        let a: Vec<u8> = px.buf.chunks_exact(4).map(|p| p[3]).collect();
        let lossless = encode(&a, w, h, ColorType::L8, false)?;
        let vp8l = riff_chunk(&lossless, b"VP8L")
            .filter(|c| c.len() > 5)
            .ok_or_else(|| fail(spec, "the encoder wrote no VP8L chunk"))?;
        let mut chunk = Vec::with_capacity(vp8l.len() - 4);
        chunk.push(1);
        chunk.extend_from_slice(&vp8l[5..]);
        Some(chunk)
    } else {
        None
    };
    let mut out = Vec::with_capacity(frame.len() + alph.as_ref().map_or(0, Vec::len) + 64);
    out.extend_from_slice(b"RIFF\0\0\0\0WEBP");
    if let Some(alph) = &alph {
        let mut vp8x = vec![0x10, 0, 0, 0];
        vp8x.extend_from_slice(&(w - 1).to_le_bytes()[..3]);
        vp8x.extend_from_slice(&(h - 1).to_le_bytes()[..3]);
        push_chunk(&mut out, b"VP8X", &vp8x);
        push_chunk(&mut out, b"ALPH", alph);
    }
    push_chunk(&mut out, b"VP8 ", &frame);
    let riff_len = (out.len() - 8) as u32;
    out[4..8].copy_from_slice(&riff_len.to_le_bytes());
    Ok(out)
}

/// vaam-image-webp's quality for a quality on libwebp's scale, so that a recipe's
/// `quality` means the same in the wasm build as natively. Calibrated on the bench
/// corpus's 20 photos as 320 px thumbnails: for each libwebp quality, the vaam quality
/// with the same mean luma SSIM against a full-decode Lanczos reference (the shared
/// harness's `quality.py`; `core/tests/common/webp_scale.rs`). At 75 libwebp gives SSIM
/// 0.9645 in 166,722 bytes and vaam at 88 gives 0.9641 in 188,348 (at 75 it gave
/// 0.928); linear between the measured points. Compiled in every build, so that its
/// test runs with the native features too.
#[cfg_attr(any(feature = "libwebp", not(feature = "pure-webp")), allow(dead_code))]
fn libwebp_scale(q: u8) -> u8 {
    const POINTS: [(u8, u8); 12] = [
        (1, 40),
        (10, 56),
        (20, 65),
        (30, 73),
        (40, 78),
        (50, 82),
        (60, 85),
        (75, 88),
        (85, 94),
        (90, 97),
        (95, 99),
        (100, 100),
    ];
    let q = q.clamp(1, 100);
    let i = POINTS
        .iter()
        .position(|&(l, _)| l >= q)
        .unwrap_or(POINTS.len() - 1);
    if i == 0 {
        return POINTS[0].1;
    }
    let ((l0, v0), (l1, v1)) = (POINTS[i - 1], POINTS[i]);
    let t = (q - l0) as f64 / (l1 - l0) as f64;
    (v0 as f64 + t * (v1 as f64 - v0 as f64)).round() as u8
}

/// RGB (gray widened, alpha dropped) padded to `pw` x `ph` by repeating the last
/// column and row.
#[cfg(all(not(feature = "libwebp"), feature = "pure-webp"))]
fn padded_rgb(px: &Pixels, pw: u32, ph: u32) -> Result<Vec<u8>, Error> {
    let (w, h) = (px.width as usize, px.height as usize);
    let ch = px.layout.channels();
    let mut out = super::pixels::reserve(pw as usize * ph as usize * 3, "the padded WebP input")?;
    for y in 0..ph as usize {
        let row = &px.buf[y.min(h - 1) * w * ch..][..w * ch];
        let rgb = |p: &[u8]| {
            if ch == 1 {
                [p[0]; 3]
            } else {
                [p[0], p[1], p[2]]
            }
        };
        for p in row.chunks_exact(ch) {
            out.extend_from_slice(&rgb(p));
        }
        let last = rgb(&row[(w - 1) * ch..]);
        for _ in w..pw as usize {
            out.extend_from_slice(&last);
        }
    }
    Ok(out)
}

/// The payload of the first chunk named `id` in a RIFF WebP file.
fn riff_chunk<'a>(webp: &'a [u8], id: &[u8; 4]) -> Option<&'a [u8]> {
    let mut pos = 12;
    while let Some(head) = webp.get(pos..pos + 8) {
        let len = u32::from_le_bytes(head[4..8].try_into().ok()?) as usize;
        let body = webp.get(pos + 8..pos + 8 + len)?;
        if &head[..4] == id {
            return Some(body);
        }
        pos += 8 + len + (len & 1);
    }
    None
}

/// Appends a RIFF chunk, padded to an even length.
fn push_chunk(out: &mut Vec<u8>, id: &[u8; 4], body: &[u8]) {
    out.extend_from_slice(id);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    if body.len() % 2 == 1 {
        out.push(0);
    }
}

/// A lossy WebP made by another encoder for a deferred output (the browser's), written
/// as the pipeline writes one: its `VP8 ` stream alone in a simple-format file, without
/// the colour profile or metadata chunks that encoder adds (Chromium adds an sRGB
/// profile). `None` unless `webp` is a lossy, still, opaque WebP of `width` x `height`.
pub(crate) fn plain_webp(webp: &[u8], width: u32, height: u32) -> Option<Vec<u8>> {
    if webp.get(..4) != Some(b"RIFF") || webp.get(8..12) != Some(b"WEBP") {
        return None;
    }
    if [b"ALPH", b"ANIM", b"VP8L"]
        .iter()
        .any(|id| riff_chunk(webp, id).is_some())
    {
        return None;
    }
    let vp8 = riff_chunk(webp, b"VP8 ")?;
    // Frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height.
    let size = |at: usize| Some(u16::from_le_bytes(vp8.get(at..at + 2)?.try_into().ok()?) & 0x3FFF);
    if vp8.get(3..6) != Some(&[0x9d, 0x01, 0x2a])
        || size(6)? as u32 != width
        || size(8)? as u32 != height
    {
        return None;
    }
    let mut out = Vec::with_capacity(vp8.len() + 21);
    out.extend_from_slice(b"RIFF\0\0\0\0WEBP");
    push_chunk(&mut out, b"VP8 ", vp8);
    let riff_len = (out.len() - 8) as u32;
    out[4..8].copy_from_slice(&riff_len.to_le_bytes());
    Some(out)
}

#[cfg(all(not(feature = "libwebp"), not(feature = "pure-webp")))]
fn webp(px: &Pixels, spec: &OutputSpec, check: Check<'_>) -> Result<Vec<u8>, Error> {
    // image's lossless encoder cannot be stopped once it runs: ask before it starts.
    check()?;
    if !spec.lossless {
        return Err(fail(
            spec,
            "lossy WebP needs the `libwebp` or `pure-webp` feature; use \"lossless\": true",
        ));
    }
    let px = widened(px)?;
    let ct = if px.layout == Layout::Rgba8 {
        image::ExtendedColorType::Rgba8
    } else {
        image::ExtendedColorType::Rgb8
    };
    let mut out = Vec::new();
    use image::ImageEncoder as _;
    image::codecs::webp::WebPEncoder::new_lossless(&mut out)
        .write_image(&px.buf, px.width, px.height, ct)
        .map_err(|e| fail(spec, e))?;
    Ok(out)
}

/// An encoder's output that asks the job whether it may go on every [`CHECK_EVERY`]
/// bytes written; once the check says stop, every write fails and [`finish`] returns the
/// job's error instead of the encoder's.
///
/// [`finish`]: CheckedWriter::finish
#[cfg_attr(feature = "mozjpeg", allow(dead_code))]
struct CheckedWriter<'a> {
    out: Vec<u8>,
    check: Check<'a>,
    next_check: usize,
    stopped: Option<Error>,
}

/// Bytes an encoder may write between two checks.
const CHECK_EVERY: usize = 64 * 1024;

#[cfg_attr(feature = "mozjpeg", allow(dead_code))]
impl<'a> CheckedWriter<'a> {
    fn new(out: Vec<u8>, check: Check<'a>) -> CheckedWriter<'a> {
        CheckedWriter {
            out,
            check,
            next_check: CHECK_EVERY,
            stopped: None,
        }
    }

    /// The bytes written, or the job's error when a check stopped the encoder.
    fn finish(self, encoded: Result<(), Error>) -> Result<Vec<u8>, Error> {
        match (self.stopped, encoded) {
            (Some(e), _) => Err(e),
            (None, Err(e)) => Err(e),
            (None, Ok(())) => Ok(self.out),
        }
    }
}

impl std::io::Write for CheckedWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.stopped.is_some() {
            return Err(std::io::Error::other("the job was stopped"));
        }
        if self.out.len() + buf.len() >= self.next_check {
            if let Err(e) = (self.check)() {
                self.stopped = Some(e);
                return Err(std::io::Error::other("the job was stopped"));
            }
            self.next_check = self.out.len() + buf.len() + CHECK_EVERY;
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// The wasm build's WebP quality follows libwebp's scale: the calibrated points,
    /// in between them monotonic, and the ends of the range.
    #[test]
    fn pure_webp_quality_follows_libwebps_scale() {
        assert_eq!(libwebp_scale(75), 88);
        assert_eq!(libwebp_scale(1), 40);
        assert_eq!(libwebp_scale(100), 100);
        assert_eq!(libwebp_scale(50), 82);
        let all: Vec<u8> = (1..=100).map(libwebp_scale).collect();
        assert!(all.windows(2).all(|w| w[0] <= w[1]), "{all:?}");
        assert_eq!(libwebp_scale(0), 40, "clamped");
    }

    /// Noise, so that no encoder finds a shortcut.
    fn noise(width: u32, height: u32, layout: Layout) -> Pixels {
        let len = width as usize * height as usize * layout.channels();
        let mut state = 0x2545_f491_u32;
        let buf = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state >> 24) as u8
            })
            .collect();
        Pixels {
            width,
            height,
            layout,
            buf,
        }
    }

    fn specs() -> Vec<OutputSpec> {
        let mut lossless = OutputSpec::new("lossless", OutputFormat::Webp);
        lossless.lossless = true;
        vec![
            OutputSpec::new("jpeg", OutputFormat::Jpeg),
            OutputSpec::new("png", OutputFormat::Png),
            OutputSpec::new("webp", OutputFormat::Webp),
            lossless,
        ]
    }

    /// Every encoder asks the job again and again while it runs, and stops at the first
    /// "no", returning the job's own error.
    #[test]
    fn encoders_ask_while_they_run_and_stop_when_told() {
        let px = noise(1024, 1024, Layout::Rgb8);
        for spec in specs() {
            let asked = Cell::new(0u32);
            let count = || {
                asked.set(asked.get() + 1);
                Ok(())
            };
            encode(&px, &spec, None, &count).unwrap();
            let full = asked.get();
            // Gated builds (pure-Rust WebP, image's lossless WebP) ask once, up front.
            let gated = cfg!(not(feature = "libwebp")) && spec.format == OutputFormat::Webp;
            if !gated {
                assert!(full >= 4, "{}: asked only {full} times", spec.name);
            }

            let stop_at = full.div_ceil(2);
            let asked = Cell::new(0u32);
            let stop = || {
                asked.set(asked.get() + 1);
                if asked.get() >= stop_at {
                    Err(Error::new(ErrorKind::Cancelled, "stop").at(Stage::Encode))
                } else {
                    Ok(())
                }
            };
            let e = encode(&px, &spec, None, &stop).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Cancelled, "{}: {e}", spec.name);
            assert_eq!(e.message, "stop", "{}", spec.name);
            assert_eq!(
                asked.get(),
                stop_at,
                "{}: went on after the job said stop",
                spec.name
            );
        }
    }
}
