//! AVIF output: AV1 still images through ravif (rav1e), 8-bit, YCbCr 4:4:4, with the
//! recipe's `quality` (1–100) and `speed` (1–10). One thread per encode: the pool's
//! workers are the parallelism.
//!
//! Behind the `avif` cargo feature (on by default, off in the wasm build, where no AV1
//! encoder is linked): without it an AVIF output fails with `unsupported_format`.
//! Decoding AVIF input is not supported here.

use super::pixels::Pixels;
use crate::error::Error;
use crate::recipe::OutputSpec;

/// The message for a build without the AVIF encoder.
#[cfg_attr(feature = "avif", allow(dead_code))]
pub(crate) const NOT_BUILT: &str = "this build has no AVIF encoder (the browser/wasm build leaves it out; native builds enable the `avif` feature): use webp or jpeg";

/// Encodes `px` as AVIF.
#[cfg(feature = "avif")]
pub(crate) fn encode(px: &Pixels, spec: &OutputSpec) -> Result<Vec<u8>, Error> {
    use rgb::FromSlice;

    use super::pixels::Layout;
    use crate::error::{ErrorKind, Stage};

    let fail = |e: &dyn std::fmt::Display| {
        Error::new(
            ErrorKind::EncodeFailed,
            format!("output {:?} (avif): {e}", spec.name),
        )
        .at(Stage::Encode)
    };
    let px = match px.layout {
        Layout::L8 => {
            let mut copy = super::pixels::reserve(px.buf.len(), "a copy of the pixels")?;
            copy.extend_from_slice(&px.buf);
            std::borrow::Cow::Owned(Pixels { buf: copy, ..*px }.widen_to(Layout::Rgb8)?)
        }
        _ => std::borrow::Cow::Borrowed(px),
    };
    let (w, h) = (px.width as usize, px.height as usize);
    let enc = ravif::Encoder::new()
        .with_quality(spec.effective_quality() as f32)
        .with_alpha_quality(spec.effective_quality() as f32)
        .with_speed(spec.effective_speed())
        .with_bit_depth(ravif::BitDepth::Eight)
        .with_num_threads(Some(1));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match px.layout {
        Layout::Rgba8 => enc.encode_rgba(ravif::Img::new(px.buf.as_rgba(), w, h)),
        _ => enc.encode_rgb(ravif::Img::new(px.buf.as_rgb(), w, h)),
    }));
    match result {
        Ok(Ok(done)) => Ok(done.avif_file),
        Ok(Err(e)) => Err(fail(&e)),
        Err(_) => Err(fail(&"the AV1 encoder failed")),
    }
}

/// Without the `avif` feature: `unsupported_format`.
#[cfg(not(feature = "avif"))]
pub(crate) fn encode(_px: &Pixels, spec: &OutputSpec) -> Result<Vec<u8>, Error> {
    Err(unsupported(spec))
}

/// The error for an AVIF output in a build without the encoder.
#[cfg_attr(feature = "avif", allow(dead_code))]
pub(crate) fn unsupported(spec: &OutputSpec) -> Error {
    use crate::error::{ErrorKind, Stage};
    Error::new(
        ErrorKind::UnsupportedFormat,
        format!("output {:?}: {NOT_BUILT}", spec.name),
    )
    .at(Stage::Validate)
}

/// Whether this build can encode AVIF.
pub(crate) const AVAILABLE: bool = cfg!(feature = "avif");
