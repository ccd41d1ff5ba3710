//! Stage 3 for one output: encode to JPEG (jpeg-encoder, SIMD, 4:2:0, standard Huffman
//! tables), PNG (image's encoder), WebP (libwebp with the `libwebp` feature; the pure-Rust
//! vaam-image-webp with `pure-webp`, for wasm; otherwise lossless only, through image)
//! or AVIF (ravif with the `avif` feature; see `avif.rs`).
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
        OutputFormat::Avif => super::avif::encode(px, spec),
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

#[cfg(all(not(feature = "libwebp"), feature = "pure-webp"))]
fn webp(px: &Pixels, spec: &OutputSpec) -> Result<Vec<u8>, Error> {
    use vaam_webp::{ColorType, EncoderParams, WebPEncoder};
    let px = widened(px)?;
    let color = if px.layout == Layout::Rgba8 {
        ColorType::Rgba8
    } else {
        ColorType::Rgb8
    };
    let mut params = EncoderParams::default();
    if !spec.lossless {
        params.use_lossy = true;
        params.lossy_quality = spec.effective_quality();
    }
    let mut out = Vec::new();
    let mut enc = WebPEncoder::new(&mut out);
    enc.set_params(params);
    enc.encode(&px.buf, px.width, px.height, color)
        .map_err(|e| fail(spec, e))?;
    Ok(out)
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
