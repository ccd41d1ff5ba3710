//! Pure geometry: where each output's pixels come from and what size they end up,
//! for the four fit modes, computed in the oriented (upright) coordinate space.
//!
//! No pixels are touched here, so every fit mode is unit-tested exhaustively.

use crate::error::{Error, ErrorKind, Stage};
use crate::limits::Limits;
use crate::recipe::{Fit, OutputSpec};

/// How to make one output from an upright source of `sw`×`sh`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Plan {
    /// Region of the source to use, `[x, y, w, h]`, always centred. `None`: all of it.
    pub crop: Option<[f64; 4]>,
    /// Size the region is resized to.
    pub resize: (u32, u32),
    /// Pad onto a canvas `(w, h, x, y)` (for `contain`).
    pub canvas: Option<(u32, u32, u32, u32)>,
}

impl Plan {
    /// The output's final size.
    pub(crate) fn final_size(&self) -> (u32, u32) {
        match self.canvas {
            Some((w, h, _, _)) => (w, h),
            None => self.resize,
        }
    }
}

fn round(v: f64) -> u32 {
    // `as` saturates: a side past u32 stays huge (and is refused by `check`), never 0.
    (v.round() as u32).max(1)
}

/// Refuses, before anything is decoded, outputs past the limits: each side against
/// the format's ceiling and `max_output_width`/`max_output_height`, each output's
/// pixels against `max_output_pixels`, their sum against `max_output_pixels_total`,
/// and the resizer's working image (output width × source height, 4 bytes a pixel)
/// against `max_alloc`. `upright` is the source's upright size. The error is
/// `limit_exceeded` and names the output, its size and the limit.
pub(crate) fn check(
    specs: &[OutputSpec],
    plans: &[Plan],
    upright: (u32, u32),
    limits: &Limits,
) -> Result<(), Error> {
    let refuse = |i: usize, spec: &OutputSpec, (w, h): (u32, u32), why: String| {
        Err(Error::new(
            ErrorKind::LimitExceeded,
            format!(
                "outputs[{i}] ({:?}) would be {w}x{h} pixels from a {}x{} input: {why}",
                spec.name, upright.0, upright.1
            ),
        )
        .at(Stage::Validate))
    };
    let mut total = 0u64;
    for (i, (spec, plan)) in specs.iter().zip(plans).enumerate() {
        let (w, h) = plan.final_size();
        let ceiling = spec.format.max_dimension();
        if w > ceiling || h > ceiling {
            let why = format!("{} holds at most {ceiling} pixels a side", spec.format);
            return refuse(i, spec, (w, h), why);
        }
        if w > limits.max_output_width {
            let why = format!("past max_output_width ({})", limits.max_output_width);
            return refuse(i, spec, (w, h), why);
        }
        if h > limits.max_output_height {
            let why = format!("past max_output_height ({})", limits.max_output_height);
            return refuse(i, spec, (w, h), why);
        }
        let pixels = w as u64 * h as u64;
        if pixels > limits.max_output_pixels {
            let why = format!("past max_output_pixels ({})", limits.max_output_pixels);
            return refuse(i, spec, (w, h), why);
        }
        total += pixels;
        if total > limits.max_output_pixels_total {
            let why = format!(
                "the outputs so far total {total} pixels, past max_output_pixels_total ({})",
                limits.max_output_pixels_total
            );
            return refuse(i, spec, (w, h), why);
        }
        let (rw, rh) = plan.resize;
        if plan.crop.is_none() && plan.resize == upright {
            continue; // no resizing
        }
        let working = (rw as u64 * upright.1 as u64).max(rh as u64 * upright.0 as u64) * 4;
        if working > limits.max_alloc {
            let why = format!(
                "resizing needs a {working}-byte working image, past max_alloc ({})",
                limits.max_alloc
            );
            return refuse(i, spec, (w, h), why);
        }
    }
    Ok(())
}

/// Plans one output for an upright source of `sw`×`sh`.
pub(crate) fn plan(sw: u32, sh: u32, spec: &OutputSpec) -> Plan {
    let (swf, shf) = (sw as f64, sh as f64);
    let cap = |s: f64| {
        if spec.without_enlargement {
            s.min(1.0)
        } else {
            s
        }
    };
    let scaled = |s: f64| (round(swf * s), round(shf * s));
    let simple = |resize| Plan {
        crop: None,
        resize,
        canvas: None,
    };
    match (spec.width, spec.height) {
        (None, None) => simple((sw, sh)),
        (Some(w), None) => simple(scaled(cap(w as f64 / swf))),
        (None, Some(h)) => simple(scaled(cap(h as f64 / shf))),
        (Some(w), Some(h)) => {
            let (sx, sy) = (w as f64 / swf, h as f64 / shf);
            match spec.fit {
                Fit::Inside => simple(scaled(cap(sx.min(sy)))),
                Fit::Fill => simple((round(swf * cap(sx)), round(shf * cap(sy)))),
                Fit::Cover => {
                    let s = cap(sx.max(sy));
                    let (ow, oh) = (w.min(round(swf * s)), h.min(round(shf * s)));
                    let (cw, ch) = ((ow as f64 / s).min(swf), (oh as f64 / s).min(shf));
                    let crop = if cw < swf - 1e-9 || ch < shf - 1e-9 {
                        Some([(swf - cw) / 2.0, (shf - ch) / 2.0, cw, ch])
                    } else {
                        None
                    };
                    Plan {
                        crop,
                        resize: (ow, oh),
                        canvas: None,
                    }
                }
                Fit::Contain => {
                    let (iw, ih) = scaled(cap(sx.min(sy)));
                    let (iw, ih) = (iw.min(w), ih.min(h));
                    let canvas = ((iw, ih) != (w, h)).then(|| (w, h, (w - iw) / 2, (h - ih) / 2));
                    Plan {
                        crop: None,
                        resize: (iw, ih),
                        canvas,
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::OutputFormat;

    fn spec(w: Option<u32>, h: Option<u32>, fit: Fit, no_enlarge: bool) -> OutputSpec {
        let mut s = OutputSpec::new("o", OutputFormat::Png)
            .fit(fit)
            .without_enlargement(no_enlarge);
        s.width = w;
        s.height = h;
        s
    }

    #[test]
    fn inside_keeps_aspect_within_box() {
        let p = plan(4000, 3000, &spec(Some(1600), Some(1600), Fit::Inside, true));
        assert_eq!(p.final_size(), (1600, 1200));
        let p = plan(3000, 4000, &spec(Some(1600), Some(1600), Fit::Inside, true));
        assert_eq!(p.final_size(), (1200, 1600));
        // never enlarged by default
        assert_eq!(
            plan(100, 50, &spec(Some(1600), Some(1600), Fit::Inside, true)).final_size(),
            (100, 50)
        );
        assert_eq!(
            plan(100, 50, &spec(Some(1600), Some(1600), Fit::Inside, false)).final_size(),
            (1600, 800)
        );
    }

    #[test]
    fn one_dimension_keeps_aspect() {
        assert_eq!(
            plan(4000, 3000, &spec(Some(400), None, Fit::Cover, true)).final_size(),
            (400, 300)
        );
        assert_eq!(
            plan(4000, 3000, &spec(None, Some(300), Fit::Fill, true)).final_size(),
            (400, 300)
        );
        assert_eq!(
            plan(40, 30, &spec(None, None, Fit::Inside, true)).final_size(),
            (40, 30)
        );
    }

    #[test]
    fn cover_crops_to_exact_box_centred() {
        let p = plan(4000, 3000, &spec(Some(320), Some(320), Fit::Cover, true));
        assert_eq!(p.final_size(), (320, 320));
        let [x, y, w, h] = p.crop.unwrap();
        assert_eq!((x, y, w, h), (500.0, 0.0, 3000.0, 3000.0));
        // small source, no enlargement: cropped to the box where it can be, never scaled up
        let p = plan(200, 100, &spec(Some(150), Some(150), Fit::Cover, true));
        assert_eq!(p.final_size(), (150, 100));
        let p = plan(200, 100, &spec(Some(150), Some(150), Fit::Cover, false));
        assert_eq!(p.final_size(), (150, 150));
    }

    #[test]
    fn contain_pads_to_exact_box() {
        let p = plan(4000, 3000, &spec(Some(320), Some(320), Fit::Contain, true));
        assert_eq!(p.resize, (320, 240));
        assert_eq!(p.canvas, Some((320, 320, 0, 40)));
        assert_eq!(p.final_size(), (320, 320));
        let p = plan(100, 50, &spec(Some(320), Some(320), Fit::Contain, true));
        assert_eq!(p.resize, (100, 50));
        assert_eq!(p.final_size(), (320, 320));
    }

    #[test]
    fn fill_stretches() {
        assert_eq!(
            plan(4000, 3000, &spec(Some(300), Some(500), Fit::Fill, true)).final_size(),
            (300, 500)
        );
        // each axis is capped on its own
        assert_eq!(
            plan(200, 100, &spec(Some(300), Some(50), Fit::Fill, true)).final_size(),
            (200, 50)
        );
    }

    #[test]
    fn tiny_sources_never_reach_zero() {
        let p = plan(1, 10000, &spec(Some(100), Some(100), Fit::Inside, true));
        assert_eq!(p.final_size(), (1, 100));
    }
}
