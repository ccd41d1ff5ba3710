//! The job's peak memory, estimated from the header and the recipe before any pixel is
//! decoded: what the pool's memory budget admits jobs against.
//!
//! The estimate adds up the buffers the pipeline holds at its two peaks:
//! - **decoding:** the decoder's working memory (for a progressive JPEG, libjpeg's
//!   coefficient buffer for the whole stored image, 2 bytes per coefficient, whatever
//!   the DCT scaling) plus the decoded pixels (after DCT scaling) and, where the
//!   decoder's layout is not 8-bit gray/RGB/RGBA, the converted copy;
//! - **rendering an output:** the decoded pixels (kept while a later output needs
//!   them), the resizer's premultiplied copy of an image with alpha and its
//!   intermediate (output width × source height), the resized,
//!   oriented or flattened copies, the encoded bytes, and the largest earlier output
//!   kept as the intermediate for smaller ones; and, when outputs come back as bytes
//!   rather than being saved, the earlier outputs' encoded bytes (counted at the raw
//!   size for PNG and lossless WebP, half of it for lossy formats).
//!
//! Plus, when the recipe asks for smart crops or a placeholder, the analysis image and
//! its maps ([`analysis_bytes`]), and a fixed allowance for codec state. With
//! `animated: true` and an animated input, `animated.rs` adds the decoder's canvases and
//! every frame's encoding to this one-frame estimate. It is meant to be an upper bound for the
//! common layouts; `core/examples/memory.rs` compares it with the measured peak over a
//! corpus (the README has the table).

use super::decode::{Header, Kind};
use super::geometry::Plan;
use crate::recipe::OutputSpec;

/// Codec state, tables and small buffers that do not scale with the image.
pub(crate) const FIXED_BYTES: u64 = 2 << 20;

/// The estimated peak, in bytes. `shrink` is the JPEG DCT scale (1, 2, 4 or 8).
/// `specs` are the recipe's outputs, in the order of `plans`; `keeps_outputs` says
/// whether encoded outputs stay in memory until the job ends; `raw_webp`, whether lossy
/// WebP outputs without a byte budget stay as RGBA pixels instead
/// (`Context::defer_lossy_webp`).
pub(crate) fn peak_bytes(
    header: &Header<'_>,
    shrink: u32,
    plans: &[Plan],
    specs: &[OutputSpec],
    keeps_outputs: bool,
    raw_webp: bool,
) -> u64 {
    let (w, h) = (header.info.width as u64, header.info.height as u64);
    let (decoded_px, channels, decode_peak) = match &header.kind {
        Kind::Jpeg(j) => {
            let s = if cfg!(feature = "mozjpeg") {
                shrink.clamp(1, 8) as u64
            } else {
                1
            };
            let (dw, dh) = (w.div_ceil(s), h.div_ceil(s));
            let channels = if j.components == 1 { 1 } else { 3 };
            let decoded = dw * dh * channels;
            // CMYK is decoded to 4 channels, then converted.
            let cmyk = if j.components == 4 { dw * dh * 4 } else { 0 };
            let (mh, mv) = (
                j.max_sampling.0.max(1) as u64,
                j.max_sampling.1.max(1) as u64,
            );
            let mcus = w.div_ceil(8 * mh) * h.div_ceil(8 * mv);
            let coefficients = if !cfg!(feature = "mozjpeg") {
                // Without libjpeg (wasm), the entropy walk keeps every block's
                // coefficients (128 bytes a block) whatever the mode, and for a
                // progressive image one mask (8); jpeg-decoder the component planes (64).
                mcus * j.sampling_sum as u64 * 200
            } else if j.progressive {
                // libjpeg keeps every block of a progressive image.
                mcus * j.sampling_sum as u64 * 128
            } else {
                // Baseline: a few MCU rows.
                w.div_ceil(8 * mh) * j.sampling_sum as u64 * 128 * 4
            };
            (dw * dh, channels, coefficients + decoded + cmyk)
        }
        Kind::Other {
            native_bytes,
            channels,
            converts,
            ..
        } => {
            let converted = if *converts { w * h * channels } else { 0 };
            (w * h, *channels, native_bytes + converted)
        }
    };
    let decoded = decoded_px * channels;
    let src_h = (decoded_px / w.max(1)).max(1);
    // The resizer premultiplies alpha into a copy of the source.
    let premultiplied = if channels == 4 { decoded } else { 0 };
    let mut render_peak = 0u64;
    let mut largest_kept = 0u64;
    let mut encoded_kept = 0u64;
    for (plan, spec) in plans.iter().zip(specs) {
        let (ow, oh) = plan.resize;
        let (fw, fh) = plan.canvas.map_or((ow, oh), |(cw, ch, _, _)| (cw, ch));
        let out = ow as u64 * oh as u64 * 4;
        let fin = fw as u64 * fh as u64 * 4;
        let resize_tmp = ow as u64 * src_h * channels;
        // Resized + oriented/padded + flattened + encoded (at most the raw size).
        let mut this = premultiplied + resize_tmp + out + fin * 3;
        // The byte budget keeps the best fitting encoding beside the one in progress.
        if spec.max_bytes.is_some() {
            this += fin;
        }
        // rav1e's frames: the source, reconstruction and reference planes, with
        // padding (an allowance of 8 bytes a pixel beside the 4 counted above; not yet measured).
        if spec.format == crate::format::OutputFormat::Avif {
            this += fin * 2;
        }
        render_peak = render_peak.max(this + largest_kept + encoded_kept);
        largest_kept = largest_kept.max(out);
        if keeps_outputs {
            let raw = spec.format == crate::format::OutputFormat::Png
                || spec.lossless
                || (raw_webp
                    && spec.format == crate::format::OutputFormat::Webp
                    && spec.max_bytes.is_none());
            encoded_kept += if raw { fin } else { fin / 2 };
        }
    }
    decode_peak.max(decoded + render_peak) + FIXED_BYTES
}

/// The memory of the analysis for smart crops and placeholders (`analysis.rs`): the
/// resizer's intermediate (analysis width x decoded height), the analysis image and
/// the attention maps (three `f32` planes and the luminance). 0 when `side` is 0.
pub(crate) fn analysis_bytes(header: &Header<'_>, shrink: u32, side: u32) -> u64 {
    if side == 0 {
        return 0;
    }
    let h = header.info.height.max(header.info.width) as u64;
    let decoded_h = if matches!(header.kind, Kind::Jpeg(_)) && cfg!(feature = "mozjpeg") {
        h.div_ceil(shrink.clamp(1, 8) as u64)
    } else {
        h
    };
    let side = side as u64;
    side * decoded_h * 4 + side * side * (4 + 4 * 3 + 1)
}
