//! Stage 3 for one output: encode to JPEG (jpeg-encoder, SIMD, 4:2:0, standard Huffman
//! tables), PNG (image's encoder) or WebP (libwebp with the `libwebp` feature; the pure-Rust
//! vaam-image-webp with `pure-webp`, for wasm; otherwise lossless only, through image).
//!
//! No EXIF or XMP is ever written: orientation has been applied to the pixels and GPS
//! must not leak. The ICC profile is written only when the recipe keeps metadata.

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};

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

/// Encodes `px` as `spec` asks, with `icc` embedded when given.
pub(crate) fn encode(px: &Pixels, spec: &OutputSpec, icc: Option<&[u8]>) -> Result<Vec<u8>, Error> {
    match spec.format {
        OutputFormat::Jpeg => jpeg(px, spec, icc),
        OutputFormat::Png => png(px, spec, icc),
        OutputFormat::Webp => webp(px, spec),
    }
}

/// JPEG through mozjpeg with libjpeg-turbo's fast settings (no trellis), optimised
/// Huffman tables and 4:2:0 chroma, like sharp's defaults.
#[cfg(feature = "mozjpeg")]
fn jpeg(px: &Pixels, spec: &OutputSpec, icc: Option<&[u8]>) -> Result<Vec<u8>, Error> {
    let flat = px.flatten(spec.effective_background().0)?;
    let out = super::pixels::reserve(flat.buf.len() / 8, "the encoded JPEG")?;
    let result = std::panic::catch_unwind(|| -> std::io::Result<Vec<u8>> {
        let gray = flat.layout == Layout::L8;
        let cs = if gray {
            mozjpeg::ColorSpace::JCS_GRAYSCALE
        } else {
            mozjpeg::ColorSpace::JCS_RGB
        };
        let mut c = mozjpeg::Compress::new(cs);
        c.set_fastest_defaults();
        c.set_size(flat.width as usize, flat.height as usize);
        c.set_quality(spec.effective_quality() as f32);
        c.set_optimize_coding(true);
        if !gray {
            c.set_chroma_sampling_pixel_sizes((2, 2), (2, 2));
        }
        if spec.progressive {
            c.set_progressive_mode();
        }
        let mut started = c.start_compress(out)?;
        if let Some(icc) = icc {
            started.write_icc_profile(icc);
        }
        started.write_scanlines(&flat.buf)?;
        started.finish()
    });
    match result {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(fail(spec, e)),
        Err(_) => Err(fail(spec, "libjpeg failed")),
    }
}

#[cfg(not(feature = "mozjpeg"))]
fn jpeg(px: &Pixels, spec: &OutputSpec, icc: Option<&[u8]>) -> Result<Vec<u8>, Error> {
    let flat = px.flatten(spec.effective_background().0)?;
    let (w, h) = (u16::try_from(flat.width), u16::try_from(flat.height));
    let (Ok(w), Ok(h)) = (w, h) else {
        return Err(fail(spec, "JPEG is limited to 65535x65535"));
    };
    let mut out = super::pixels::reserve(flat.buf.len() / 8, "the encoded JPEG")?;
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
    enc.encode(&flat.buf, w, h, ct).map_err(|e| fail(spec, e))?;
    Ok(out)
}

fn png(px: &Pixels, spec: &OutputSpec, icc: Option<&[u8]>) -> Result<Vec<u8>, Error> {
    // Room for a typical result up front; growth past it is bounded by the output
    // limits (`geometry::check`).
    let mut out = super::pixels::reserve(px.buf.len() / 2 + 1024, "the encoded PNG")?;
    let compression = match spec.effective_compression() {
        0 => CompressionType::Uncompressed,
        n => CompressionType::Level(n),
    };
    let mut enc = PngEncoder::new_with_quality(&mut out, compression, FilterType::Adaptive);
    if let Some(icc) = icc {
        // An unsupported profile is not worth failing the job for.
        let _ = enc.set_icc_profile(icc.to_vec());
    }
    let ct = match px.layout {
        Layout::L8 => ExtendedColorType::L8,
        Layout::Rgb8 => ExtendedColorType::Rgb8,
        Layout::Rgba8 => ExtendedColorType::Rgba8,
    };
    enc.write_image(&px.buf, px.width, px.height, ct)
        .map_err(|e| fail(spec, e))?;
    Ok(out)
}

#[cfg(feature = "libwebp")]
fn webp(px: &Pixels, spec: &OutputSpec) -> Result<Vec<u8>, Error> {
    let px = if px.layout == Layout::L8 {
        std::borrow::Cow::Owned(widened(px)?)
    } else {
        std::borrow::Cow::Borrowed(px)
    };
    let enc = match px.layout {
        Layout::Rgba8 => webp::Encoder::from_rgba(&px.buf, px.width, px.height),
        _ => webp::Encoder::from_rgb(&px.buf, px.width, px.height),
    };
    // As `encode_simple`, plus `exact` for lossless: libwebp otherwise rewrites the
    // colour under fully transparent pixels, and a lossless output of the source's
    // size must be the source's pixels.
    let mut config = webp::WebPConfig::new().map_err(|()| fail(spec, "WebPConfig"))?;
    config.lossless = spec.lossless as i32;
    config.alpha_compression = (!spec.lossless) as i32;
    config.quality = spec.effective_quality() as f32;
    config.exact = spec.lossless as i32;
    let mem = enc
        .encode_advanced(&config)
        .map_err(|e| fail(spec, format!("{e:?}")))?;
    Ok(mem.to_vec())
}

/// Lossy WebP with vaam-image-webp, working around its frame conversion: it drops an
/// odd last row and column (a 1x1 image came out green) and pads partial macroblocks
/// with black, which smears dark edges into small images. So the pixels are padded
/// here to whole macroblocks by repeating the edge, encoded, and the VP8 frame header
/// is given the real size (the macroblock count, and so the bitstream, stays the same;
/// decoders crop). Alpha, lossless and padded to nothing, goes into an ALPH chunk of
/// the real size, encoded by the same crate's lossless encoder.
#[cfg(all(not(feature = "libwebp"), feature = "pure-webp"))]
fn webp(px: &Pixels, spec: &OutputSpec) -> Result<Vec<u8>, Error> {
    use vaam_webp::{ColorType, EncoderParams, WebPEncoder};
    let alpha = px.layout == Layout::Rgba8;
    let encode = |buf: &[u8], w: u32, h: u32, color: ColorType, lossy: bool| {
        let mut params = EncoderParams::default();
        if lossy {
            params.use_lossy = true;
            params.lossy_quality = spec.effective_quality();
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
#[cfg(all(not(feature = "libwebp"), feature = "pure-webp"))]
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
#[cfg(all(not(feature = "libwebp"), feature = "pure-webp"))]
fn push_chunk(out: &mut Vec<u8>, id: &[u8; 4], body: &[u8]) {
    out.extend_from_slice(id);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    if body.len() % 2 == 1 {
        out.push(0);
    }
}

#[cfg(all(not(feature = "libwebp"), not(feature = "pure-webp")))]
fn webp(px: &Pixels, spec: &OutputSpec) -> Result<Vec<u8>, Error> {
    if !spec.lossless {
        return Err(fail(
            spec,
            "lossy WebP needs the `libwebp` or `pure-webp` feature; use \"lossless\": true",
        ));
    }
    let px = widened(px)?;
    let ct = if px.layout == Layout::Rgba8 {
        ExtendedColorType::Rgba8
    } else {
        ExtendedColorType::Rgb8
    };
    let mut out = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut out)
        .write_image(&px.buf, px.width, px.height, ct)
        .map_err(|e| fail(spec, e))?;
    Ok(out)
}
