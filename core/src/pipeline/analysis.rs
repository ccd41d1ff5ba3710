//! The per-job look at the whole image that smart crops (`position`) and placeholders
//! need: one small upright copy of the decoded image, made once after decoding and
//! before any output is rendered, from which each smart crop is placed (moving its
//! plan's crop window) and the placeholder is computed.
//!
//! What does not live here: the strategies themselves (`smartcrop.rs`,
//! `placeholder.rs`).

use image::metadata::Orientation;

use super::geometry::Plan;
use super::pixels::Pixels;
use super::{placeholder, render, smartcrop};
use crate::error::Error;
use crate::outcome::CropBox;
use crate::recipe::{Position, Recipe};

/// The largest side of the analysis image the recipe needs: 0 for none.
pub(crate) fn analysis_side(recipe: &Recipe) -> u32 {
    let smart = recipe
        .outputs
        .iter()
        .any(|o| o.position != Position::Centre);
    if smart {
        smartcrop::ANALYSIS_SIDE
    } else if recipe.placeholder.is_some() {
        placeholder::MAX_SIDE
    } else {
        0
    }
}

/// The whole upright image `upright` in size, fitted inside `side`x`side` (never
/// enlarged).
fn fitted(upright: (u32, u32), side: u32) -> (u32, u32) {
    let s = (side as f64 / upright.0 as f64)
        .min(side as f64 / upright.1 as f64)
        .min(1.0);
    let r = |v: u32| ((v as f64 * s).round() as u32).max(1);
    (r(upright.0), r(upright.1))
}

/// Makes the analysis image when the recipe needs one (`side` > 0), moves the smart
/// crops in `plans`, and returns the placeholder the recipe asked for.
// The pipeline's per-job state, passed as it is (a struct for one caller would only
// rename these).
#[allow(clippy::too_many_arguments)]
pub(crate) fn analyse(
    recipe: &Recipe,
    src: &Pixels,
    full: (u32, u32),
    orientation: Orientation,
    upright: (u32, u32),
    side: u32,
    plans: &mut [Plan],
    check: super::input::Check<'_>,
) -> Result<Option<String>, Error> {
    if side == 0 {
        return Ok(None);
    }
    let small = |from: &Pixels, from_full, o, size| {
        let plan = Plan {
            crop: None,
            resize: size,
            canvas: None,
        };
        render::render(from, from_full, o, &plan, ([255; 4], true), check, None)
            .map(|c| c.into_owned())
    };
    let analysis = small(src, full, orientation, fitted(upright, side))?;
    for (spec, plan) in recipe.outputs.iter().zip(plans.iter_mut()) {
        if let Some(crop) = plan.crop {
            plan.crop = Some(smartcrop::place(spec.position, &analysis, upright, crop));
        }
    }
    let Some(kind) = recipe.placeholder else {
        return Ok(None);
    };
    let size = (analysis.width, analysis.height);
    let thumb = if size.0.max(size.1) > placeholder::MAX_SIDE {
        small(
            &analysis,
            size,
            Orientation::NoTransforms,
            fitted(size, placeholder::MAX_SIDE),
        )?
    } else {
        analysis
    };
    Ok(Some(placeholder::compute(kind, &thumb)))
}

/// The crop box the outcome reports, in whole upright source pixels.
pub(crate) fn crop_box([x, y, w, h]: [f64; 4]) -> CropBox {
    let r = |v: f64| v.round().max(0.0) as u32;
    CropBox {
        left: r(x),
        top: r(y),
        width: r(w),
        height: r(h),
    }
}
