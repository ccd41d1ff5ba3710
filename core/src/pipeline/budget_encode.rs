//! The byte budget of one output (`max_bytes`): the largest quality whose encoding
//! fits, found by bisection over the already-rendered pixels in at most
//! [`MAX_ENCODES`] encodes.
//!
//! The search keeps `lo`, the best quality known to fit (0: none yet), and `hi`, the
//! lowest known not to (the ceiling + 1 at first). With `k` encodes left and
//! `hi - lo <= 2^k`, it tries `min(hi - 1, lo + 2^(k-1))`: either answer leaves at most
//! `2^(k-1)` candidates, so 7 encodes settle any ceiling up to 127 exactly, and the
//! highest candidate is tried as early as that allows (a ceiling of 64 or less that
//! fits costs one encode; the default 80 costs two). Where size grows with quality,
//! the result is the largest fitting quality; where it does not, it still fits.
//!
//! What does not live here: the encoders (`encode.rs`, `avif.rs`).

use super::pixels::Pixels;
use crate::error::{Error, ErrorKind, Stage};
use crate::recipe::OutputSpec;

/// The most encodes one output's search spends.
pub(crate) const MAX_ENCODES: u32 = 7;

/// One output's encoding, with what the budget search chose.
#[derive(Debug)]
pub(crate) struct Encoded {
    /// The encoded bytes.
    pub bytes: Vec<u8>,
    /// With a budget: the quality chosen.
    pub quality: Option<u32>,
    /// With a budget: the encodes spent.
    pub encodes: Option<u32>,
}

/// Encodes `px` as `spec` asks; with `max_bytes`, at the largest quality that fits.
/// `checkpoint` is called before each encode after the first (cancellation). `index`
/// names the output in errors.
pub(crate) fn encode(
    px: &Pixels,
    spec: &OutputSpec,
    icc: Option<&[u8]>,
    index: usize,
    checkpoint: &dyn Fn() -> Result<(), Error>,
) -> Result<Encoded, Error> {
    let Some(budget) = spec.max_bytes else {
        return Ok(Encoded {
            bytes: super::encode::encode(px, spec, icc, checkpoint)?,
            quality: None,
            encodes: None,
        });
    };
    let ceiling = spec.effective_quality() as u32;
    let mut trial = spec.clone();
    let (mut lo, mut hi) = (0u32, ceiling + 1);
    let mut best: Option<Vec<u8>> = None;
    let mut at_one = 0usize;
    let mut encodes = 0u32;
    while hi - lo > 1 && encodes < MAX_ENCODES {
        if encodes > 0 {
            checkpoint()?;
        }
        let left = MAX_ENCODES - encodes;
        let q = (hi - 1).min(lo + (1 << (left - 1)));
        trial.quality = Some(q);
        let bytes = super::encode::encode(px, &trial, icc, checkpoint)?;
        encodes += 1;
        if bytes.len() as u64 <= budget {
            lo = q;
            best = Some(bytes);
        } else {
            if q == 1 {
                at_one = bytes.len();
            }
            hi = q;
        }
    }
    match best {
        Some(bytes) => Ok(Encoded {
            bytes,
            quality: Some(lo),
            encodes: Some(encodes),
        }),
        None => Err(Error::new(
            ErrorKind::LimitExceeded,
            format!(
                "outputs[{index}] ({:?}): even quality 1 makes {at_one} bytes at {}x{}, past max_bytes ({budget})",
                spec.name, px.width, px.height
            ),
        )
        .at(Stage::Encode)),
    }
}

#[cfg(test)]
mod tests {
    /// The search on a model size curve: the answer, and the encodes spent.
    fn search(ceiling: u32, fits: impl Fn(u32) -> bool) -> (u32, u32) {
        let (mut lo, mut hi, mut n) = (0u32, ceiling + 1, 0u32);
        while hi - lo > 1 && n < super::MAX_ENCODES {
            let q = (hi - 1).min(lo + (1 << (super::MAX_ENCODES - n - 1)));
            n += 1;
            if fits(q) {
                lo = q
            } else {
                hi = q
            }
        }
        (lo, n)
    }

    #[test]
    fn every_threshold_and_ceiling_is_found_exactly_in_seven() {
        for ceiling in 1..=100 {
            for t in 0..=ceiling {
                let (q, n) = search(ceiling, |q| q <= t);
                assert_eq!(q, t, "ceiling {ceiling}, threshold {t}");
                assert!(n <= 7);
            }
        }
        assert_eq!(search(80, |_| true), (80, 2));
        assert_eq!(search(64, |_| true), (64, 1));
    }
}
