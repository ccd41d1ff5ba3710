//! `animated: true` with an animated input (GIF, APNG, animated WebP): every frame is
//! decoded, converted to sRGB, rendered with the plan a still would get (the same crop,
//! resize, orientation and padding for every frame) and encoded; WebP outputs become
//! animated WebPs (`webp_anim.rs`) with the source's frame delays and loop count, and
//! outputs in one-frame formats (JPEG, PNG, AVIF) get the first frame and a
//! `frames_dropped` warning (sharp stacks the frames into one tall image instead; a
//! first frame is what an upload pipeline wants from a JPEG of a GIF).
//!
//! Frames stream: one decoded canvas at a time, its rendered copies, and the encoded
//! frames so far. The frame count read from the container (`animation.rs`) is checked
//! against the limits before any frame is decoded (`max_frames`, and `max_pixels` and
//! `max_output_pixels_total` summed over the frames), and again as frames arrive, so a
//! file that declares fewer frames than it holds is stopped at the same limits. The
//! job's checkpoint runs before each frame and each output, and inside the decoders.

use image::metadata::Orientation;
use web_time::Instant;

use super::decode::Header;
use super::geometry::Plan;
use super::pixels::{Layout, Pixels};
use super::{analysis, budget_encode, colour, decode, encode, estimate, input, render, save};
use super::{webp_anim, Context};
use crate::error::{Error, ErrorKind, Stage};
use crate::format::{InputFormat, OutputFormat};
use crate::limits::Limits;
use crate::outcome::{InputInfo, OutputInfo, Report, Timings, Warning, WarningKind};
use crate::recipe::{OutputSpec, Recipe};

/// Whether this job takes the animated path: the recipe asks for it and the input has
/// more than one frame.
pub(crate) fn wanted(recipe: &Recipe, info: &InputInfo) -> bool {
    recipe.animated
        && info.frames > 1
        && matches!(
            info.format,
            InputFormat::Gif | InputFormat::Png | InputFormat::Webp
        )
}

fn refuse(msg: String) -> Error {
    Error::new(ErrorKind::LimitExceeded, msg).at(Stage::Decode)
}

/// Checks `frames` frames of `size` (stored) against the limits: `max_frames`, and
/// the sums over frames of the input pixels (`max_pixels`) and of the output pixels
/// (`max_output_pixels_total`; outputs that keep one frame count once).
fn check_frames(
    frames: u32,
    size: (u32, u32),
    specs: &[OutputSpec],
    plans: &[Plan],
    limits: &Limits,
) -> Result<(), Error> {
    if frames > limits.max_frames {
        return Err(refuse(format!(
            "the animation has {frames} frames; the limit is {} (max_frames) with \
             animated: true",
            limits.max_frames
        )));
    }
    let input = frames as u64 * size.0 as u64 * size.1 as u64;
    if input > limits.max_pixels {
        return Err(refuse(format!(
            "{frames} frames of {}x{} are {input} pixels; the limit is {} (max_pixels, \
             summed over frames with animated: true)",
            size.0, size.1, limits.max_pixels
        )));
    }
    let output: u64 = specs
        .iter()
        .zip(plans)
        .map(|(spec, plan)| {
            let (w, h) = plan.final_size();
            let n = if spec.format == OutputFormat::Webp {
                frames as u64
            } else {
                1
            };
            n * w as u64 * h as u64
        })
        .sum();
    if output > limits.max_output_pixels_total {
        return Err(refuse(format!(
            "{frames} frames make {output} output pixels; the limit is {} \
             (max_output_pixels_total, summed over frames with animated: true)",
            limits.max_output_pixels_total
        )));
    }
    Ok(())
}

/// What the animated path adds to the still estimate ([`estimate::peak_bytes`] for one
/// frame): the decoder's canvases (the composited canvas it keeps, the previous one
/// for disposal, and the frame it hands over: three RGBA canvases), the encoded frames
/// of every animated output (counted at the raw size for lossless, half of it for
/// lossy, as the still estimate counts kept outputs) and the assembled file, which
/// holds them all once more.
fn extra_bytes(frames: u32, size: (u32, u32), specs: &[OutputSpec], plans: &[Plan]) -> u64 {
    let canvas = size.0 as u64 * size.1 as u64 * 4;
    let encoded: u64 = specs
        .iter()
        .zip(plans)
        .filter(|(spec, _)| spec.format == OutputFormat::Webp)
        .map(|(spec, plan)| {
            let (w, h) = plan.final_size();
            let raw = w as u64 * h as u64 * 4;
            let per_frame = if spec.lossless { raw } else { raw / 2 };
            per_frame * frames as u64
        })
        .sum();
    3 * canvas + 2 * encoded
}

/// One output's state while the frames go by.
enum Made {
    /// An animated WebP: its frames so far and their size.
    Frames(Vec<webp_anim::Frame>, (u32, u32), Layout),
    /// A one-frame output, finished from the first frame.
    Still(Box<OutputInfo>, Vec<u8>),
    /// Not made yet.
    Pending,
}

/// Runs the job on every frame. `header` is the probed input, `plans` the outputs'
/// plans in upright space; the caller has checked them against the output limits.
// The pipeline's per-job state, passed as it is.
#[allow(clippy::too_many_arguments)]
pub(crate) fn execute(
    data: &[u8],
    recipe: &Recipe,
    ctx: &Context<'_>,
    checkpoint: &dyn Fn(Stage) -> Result<(), Error>,
    mut header: Header<'_>,
    orientation: Orientation,
    mut plans: Vec<Plan>,
    mut timings: Timings,
    t: Instant,
) -> Result<Report, Error> {
    let info = header.info;
    let full = (info.width, info.height);
    let upright = if render::transposes(orientation) {
        (full.1, full.0)
    } else {
        full
    };
    check_frames(info.frames, full, &recipe.outputs, &plans, ctx.limits)?;
    let analysis_side = analysis::analysis_side(recipe);
    let memory_estimate = estimate::peak_bytes(
        &header,
        1,
        &plans,
        &recipe.outputs,
        ctx.output_dir.is_none(),
        false,
    ) + estimate::analysis_bytes(&header, 1, analysis_side)
        + extra_bytes(info.frames, full, &recipe.outputs, &plans);
    let mut colour = colour::Colour::new(
        recipe.colour,
        recipe.strip_metadata,
        std::mem::take(&mut header.colour),
    );
    // The probe's decoder is for the still path; the frames get their own.
    drop(header);
    // Waiting for room is not decoding.
    timings.decode = t.elapsed();
    if let Some(admit) = ctx.admit {
        admit(memory_estimate)?;
    }
    let loop_count = super::animation::loop_count(info.format, data);
    let background = super::animation::webp_background(data).unwrap_or([0; 4]);

    let decode_check = || checkpoint(Stage::Decode);
    let watch = input::Watch::new(&decode_check);
    let t = Instant::now();
    let mut frames = decode::frames(info.format, data, ctx.limits, &watch)?;
    timings.decode += t.elapsed();

    let mut made: Vec<Made> = recipe.outputs.iter().map(|_| Made::Pending).collect();
    let mut placeholder = None;
    let mut warnings = Vec::new();
    let mut count = 0u32;
    loop {
        checkpoint(Stage::Decode)?;
        let t = Instant::now();
        let Some(frame) = frames.next() else {
            break;
        };
        let frame = frame.map_err(|e| {
            watch
                .stopped()
                .unwrap_or_else(|| decode::map_image_error(info.format, e, ctx.limits))
        })?;
        count += 1;
        if count > info.frames {
            // More frames than the container walk counted: the limits again, as they go.
            check_frames(count, full, &recipe.outputs, &plans, ctx.limits)?;
        }
        let (n, d) = frame.delay().numer_denom_ms();
        let duration_ms = (n as u64 + d as u64 / 2)
            .checked_div(d as u64)
            .unwrap_or(0)
            .min(webp_anim::MAX_DURATION_MS as u64) as u32;
        let canvas = frame.into_buffer();
        if canvas.dimensions() != full {
            return Err(Error::new(
                ErrorKind::DecodeFailed,
                format!(
                    "{}: frame {count} is {}x{}, not the canvas's {}x{}",
                    info.format,
                    canvas.width(),
                    canvas.height(),
                    full.0,
                    full.1
                ),
            )
            .at(Stage::Decode));
        }
        let mut px = Pixels {
            width: full.0,
            height: full.1,
            layout: Layout::Rgba8,
            buf: canvas.into_raw(),
        };
        colour.apply(&mut px, &decode_check)?;
        timings.decode += t.elapsed();

        if count == 1 {
            checkpoint(Stage::Resize)?;
            let t = Instant::now();
            placeholder = analysis::analyse(
                recipe,
                &px,
                full,
                orientation,
                upright,
                analysis_side,
                &mut plans,
                &|| checkpoint(Stage::Resize),
            )?;
            timings.resize += t.elapsed();
        }

        for (i, spec) in recipe.outputs.iter().enumerate() {
            let animated = spec.format == OutputFormat::Webp;
            if !animated && count > 1 {
                continue;
            }
            checkpoint(Stage::Resize)?;
            let t = Instant::now();
            let plan = plans[i];
            let (bg, keep_alpha) = (spec.effective_background().0, spec.format.supports_alpha());
            let check = || checkpoint(Stage::Resize);
            let out = render::render(
                &px,
                full,
                orientation,
                &plan,
                (bg, keep_alpha),
                &check,
                None,
            )?;
            timings.resize += t.elapsed();

            checkpoint(Stage::Encode)?;
            let t = Instant::now();
            let encode_check = || checkpoint(Stage::Encode);
            if animated {
                let still = encode::encode(&out, spec, None, &encode_check)?;
                let (chunks, alpha) = webp_anim::frame_chunks(&still).ok_or_else(|| {
                    Error::new(
                        ErrorKind::EncodeFailed,
                        format!(
                            "output {:?} (webp): the encoder wrote no image chunk",
                            spec.name
                        ),
                    )
                    .at(Stage::Encode)
                })?;
                let frame = webp_anim::Frame {
                    chunks,
                    duration_ms,
                    alpha,
                };
                match &mut made[i] {
                    Made::Frames(list, _, _) => list.push(frame),
                    slot => *slot = Made::Frames(vec![frame], (out.width, out.height), out.layout),
                }
            } else {
                let icc = colour.embed(out.layout);
                let encoded = budget_encode::encode(&out, spec, icc, i, &encode_check)?;
                let info = OutputInfo {
                    name: spec.name.clone(),
                    format: spec.format,
                    width: out.width,
                    height: out.height,
                    byte_len: encoded.bytes.len() as u64,
                    data: None,
                    path: None,
                    quality: encoded.quality,
                    encodes: encoded.encodes,
                    crop: plan.crop.map(analysis::crop_box),
                    frames: None,
                    deferred_quality: None,
                };
                made[i] = Made::Still(Box::new(info), encoded.bytes);
            }
            timings.encode += t.elapsed();
        }
    }
    drop(frames);

    let mut outputs = Vec::with_capacity(recipe.outputs.len());
    let mut staging = ctx.output_dir.map(|dir| save::Staging::new(dir, ctx.key));
    for (i, (spec, m)) in recipe.outputs.iter().zip(made).enumerate() {
        let (mut out, bytes) = match m {
            Made::Pending => {
                return Err(Error::new(
                    ErrorKind::DecodeFailed,
                    format!("{}: the animation has no frames", info.format),
                )
                .at(Stage::Decode))
            }
            Made::Still(out, bytes) => {
                if count > 1 {
                    warnings.push(Warning::new(
                        WarningKind::FramesDropped,
                        format!(
                            "outputs[{i}] ({:?}, {}) holds one frame: the first of {count}; only \
                         WebP outputs are animated",
                            spec.name, spec.format
                        ),
                    ));
                }
                (*out, bytes)
            }
            Made::Frames(list, size, layout) => {
                checkpoint(Stage::Encode)?;
                let t = Instant::now();
                // WebP encoders widen grey: such an output takes a colour profile.
                let icc = colour.embed(match layout {
                    Layout::L8 => Layout::Rgb8,
                    other => other,
                });
                let anim = webp_anim::Animation {
                    size,
                    loop_count,
                    background,
                    icc,
                };
                let bytes = webp_anim::assemble(&anim, &list)?;
                timings.encode += t.elapsed();
                let out = OutputInfo {
                    name: spec.name.clone(),
                    format: spec.format,
                    width: size.0,
                    height: size.1,
                    byte_len: bytes.len() as u64,
                    data: None,
                    path: None,
                    quality: None,
                    encodes: None,
                    crop: plans[i].crop.map(analysis::crop_box),
                    frames: Some(list.len() as u32),
                    deferred_quality: None,
                };
                (out, bytes)
            }
        };
        super::place(staging.as_mut(), &mut out, bytes, checkpoint, &mut timings)?;
        outputs.push(out);
    }
    super::publish(staging, checkpoint, &mut timings)?;
    let mut all_warnings = colour.warnings;
    all_warnings.append(&mut warnings);
    Ok(Report {
        input: InputInfo {
            frames: info.frames.max(count),
            ..info
        },
        outputs,
        timings,
        memory_estimate,
        warnings: all_warnings,
        placeholder,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_count_against_every_limit() {
        let specs = vec![
            OutputSpec::new("a", OutputFormat::Webp).size(10, 10),
            OutputSpec::new("b", OutputFormat::Jpeg).size(10, 10),
        ];
        let plans: Vec<Plan> = specs
            .iter()
            .map(|s| super::super::geometry::plan(100, 100, s))
            .collect();
        let limits = Limits::default();
        assert!(check_frames(1000, (100, 100), &specs, &plans, &limits).is_ok());
        let e = check_frames(1001, (100, 100), &specs, &plans, &limits).unwrap_err();
        assert_eq!(e.kind, ErrorKind::LimitExceeded);
        assert!(e.message.contains("max_frames"), "{}", e.message);
        let small = Limits::default().with_max_pixels(100 * 100 * 9);
        let e = check_frames(10, (100, 100), &specs, &plans, &small).unwrap_err();
        assert!(e.message.contains("max_pixels"), "{}", e.message);
        assert!(check_frames(9, (100, 100), &specs, &plans, &small).is_ok());
        // The WebP output counts every frame, the JPEG one frame: 10 * 100 + 100.
        let out = Limits::default().with_max_output_pixels_total(1099);
        let e = check_frames(10, (100, 100), &specs, &plans, &out).unwrap_err();
        assert!(
            e.message.contains("max_output_pixels_total"),
            "{}",
            e.message
        );
        let out = Limits::default().with_max_output_pixels_total(1100);
        assert!(check_frames(10, (100, 100), &specs, &plans, &out).is_ok());
    }
}
