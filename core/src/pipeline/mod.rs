//! The pipeline for one job, on the current thread: decode once, then for each output
//! render (crop, resize, orient, pad), encode and optionally save.
//!
//! This module knows nothing of threads or queues: the pool calls it from its workers,
//! and the wasm build calls it directly. Between stages it calls a *checkpoint*, through
//! which the caller can stop the job (cancellation, deadlines).

mod analysis;
mod animated;
mod animation;
mod avif;
mod budget_encode;
mod colour;
mod decode;
mod encode;
mod estimate;
mod geometry;
mod input;
mod jpeg;
// Used by the decoder of builds without libjpeg; natively, its tests compare it with
// libjpeg's own warnings.
#[cfg_attr(feature = "mozjpeg", allow(dead_code))]
mod jpeg_entropy;
#[cfg(feature = "mozjpeg")]
mod libjpeg;
#[cfg(feature = "libwebp")]
mod libwebp;
mod parallel;
mod pixels;
mod placeholder;
mod render;
mod save;
mod smartcrop;
mod webp_anim;

pub use parallel::{Chore, Helpers};
#[cfg(not(target_arch = "wasm32"))]
pub use save::sweep;

use std::path::Path;

use bytes::Bytes;
use image::metadata::Orientation;
use web_time::Instant;

use crate::error::{Error, Stage};
use crate::format::InputFormat;
use crate::limits::Limits;
use crate::outcome::{OutputInfo, Report, Timings};
use crate::recipe::{Recipe, ValidRecipe};

/// Asks to run a job whose peak memory is estimated at the given bytes; an `Err`
/// refuses it (over the budget, or its deadline passed while it waited).
pub type Admit<'a> = &'a dyn Fn(u64) -> Result<(), Error>;

/// Everything the pipeline needs besides the bytes and the recipe.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// Limits on the input.
    pub limits: &'a Limits,
    /// The input formats allowed.
    pub formats: &'a [InputFormat],
    /// Where to save outputs; `None` returns the bytes instead.
    pub output_dir: Option<&'a Path>,
    /// The folder under `output_dir` for this job's outputs (a validated key).
    pub key: &'a str,
    /// Called with the job's memory estimate after the header is read and before any
    /// pixel is decoded (the pool's memory budget); `None` admits every job.
    pub admit: Option<Admit<'a>>,
    /// Threads that may run pieces of this job while it runs (the pool's idle
    /// workers); `None` runs everything on the calling thread.
    pub helpers: Option<&'a dyn Helpers>,
    /// Lossy WebP outputs returned as bytes (no `output_dir`) that need nothing but the
    /// VP8 encode (opaque pixels, no colour profile to embed, no `max_bytes` search) are
    /// left for the caller to encode: such an output's `data` is its RGBA
    /// pixels and [`OutputInfo::deferred_quality`] its quality. The browser door sets
    /// it to encode them with the browser's libwebp, faster than the wasm's encoder.
    pub defer_lossy_webp: bool,
}

impl<'a> Context<'a> {
    /// One job on the calling thread under `limits`: every input format, the outputs'
    /// bytes returned rather than saved, no memory budget and no helpers. Set the other
    /// fields with struct update syntax, e.g. `Context { key: "k", ..Context::new(&l) }`.
    pub fn new(limits: &'a Limits) -> Context<'a> {
        Context {
            limits,
            formats: &InputFormat::ALL,
            output_dir: None,
            key: "job",
            admit: None,
            helpers: None,
            defer_lossy_webp: false,
        }
    }
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("limits", self.limits)
            .field("formats", &self.formats)
            .field("output_dir", &self.output_dir)
            .field("key", &self.key)
            .field("admit", &self.admit.is_some())
            .field("helpers", &self.helpers.is_some())
            .finish()
    }
}

/// Processes one input on the current thread with the default limits, returning every
/// output's bytes. The simplest way in; the pool adds threads, queues and deadlines.
///
/// ```
/// # fn png() -> Vec<u8> {
/// #     let img = image::RgbImage::from_pixel(64, 48, image::Rgb([200, 30, 30]));
/// #     let mut out = std::io::Cursor::new(Vec::new());
/// #     img.write_to(&mut out, image::ImageFormat::Png).unwrap();
/// #     out.into_inner()
/// # }
/// use conveyor::{OutputFormat, OutputSpec, Recipe};
/// let recipe = Recipe::new(vec![OutputSpec::new("small", OutputFormat::Jpeg).size(32, 32)]);
/// let report = conveyor::process(&png(), &recipe).unwrap();
/// assert_eq!((report.outputs[0].width, report.outputs[0].height), (32, 24));
/// ```
pub fn process(data: &[u8], recipe: &Recipe) -> Result<Report, Error> {
    let limits = Limits::default();
    let ctx = Context::new(&limits);
    run(data, recipe, &ctx, &|_| Ok(()))
}

/// Reads only the header: the format and stored dimensions, with limits checked, and
/// without decoding pixels.
pub fn probe(
    data: &[u8],
    limits: &Limits,
    formats: &[InputFormat],
) -> Result<(InputFormat, u32, u32), Error> {
    let go_on = || Ok(());
    let watch = input::Watch::new(&go_on);
    let header = decode::probe(data, limits, formats, false, &watch)?;
    Ok((header.info.format, header.info.width, header.info.height))
}

/// Validates `recipe`, then runs the pipeline as [`run_valid`] does. For a recipe used
/// more than once, validate it once into a [`ValidRecipe`] and call [`run_valid`].
pub fn run(
    data: &[u8],
    recipe: &Recipe,
    ctx: &Context<'_>,
    checkpoint: &dyn Fn(Stage) -> Result<(), Error>,
) -> Result<Report, Error> {
    recipe.validate()?;
    execute(data, recipe, ctx, checkpoint)
}

/// Encodes a deferred output ([`Context::defer_lossy_webp`]) with this build's own
/// WebP encoder, for a caller that cannot encode it itself (a browser without a WebP
/// canvas encoder): `rgba` is the output's `data` (4 bytes a pixel), `quality` its
/// [`OutputInfo::deferred_quality`]. The bytes are what the pipeline would have made.
pub fn encode_deferred_webp(
    rgba: &[u8],
    width: u32,
    height: u32,
    quality: u32,
) -> Result<Vec<u8>, Error> {
    let fail = |m: &str| Error::new(crate::ErrorKind::InvalidArgument, m).at(Stage::Encode);
    if rgba.len() as u64 != width as u64 * height as u64 * 4 || width == 0 || height == 0 {
        return Err(fail("the pixels are not width x height x 4 bytes"));
    }
    if !(1..=100).contains(&quality) {
        return Err(fail("the quality is not 1-100"));
    }
    let mut buf = pixels::reserve(rgba.len(), "the RGBA copy")?;
    buf.extend_from_slice(rgba);
    let px = pixels::Pixels {
        width,
        height,
        layout: pixels::Layout::Rgba8,
        buf,
    };
    let mut spec = crate::OutputSpec::new("deferred", crate::format::OutputFormat::Webp);
    spec.quality = Some(quality);
    encode::encode(&px, &spec, None, &|| Ok(()))
}

/// A deferred output ([`Context::defer_lossy_webp`]) that another lossy WebP encoder
/// made (the browser's), checked and written as the pipeline writes its own: the VP8
/// stream alone, without the colour profile or metadata that encoder may add (the
/// pixels were sRGB already). An `encode_failed` error unless `webp` is a lossy, still,
/// opaque WebP of `width` x `height`; the caller then encodes with
/// [`encode_deferred_webp`].
pub fn finish_deferred_webp(webp: &[u8], width: u32, height: u32) -> Result<Vec<u8>, Error> {
    encode::plain_webp(webp, width, height).ok_or_else(|| {
        Error::new(
            crate::ErrorKind::EncodeFailed,
            "webp: the other encoder's file is not a lossy, opaque WebP of the output's size",
        )
        .at(Stage::Encode)
    })
}

/// Runs the pipeline with a recipe validated at the door. `checkpoint(stage)` is called
/// before each stage, and inside the decoders between chunks of input and bands of
/// rows; an `Err` from it stops the job with that error. The report's `queued` and
/// `total` timings are left for the caller to fill.
pub fn run_valid(
    data: &[u8],
    recipe: &ValidRecipe,
    ctx: &Context<'_>,
    checkpoint: &dyn Fn(Stage) -> Result<(), Error>,
) -> Result<Report, Error> {
    execute(data, recipe, ctx, checkpoint)
}

/// The pipeline, for a recipe its caller has validated (a [`ValidRecipe`], or the
/// pool's settings, validated when they were built or reloaded).
pub(crate) fn execute(
    data: &[u8],
    recipe: &Recipe,
    ctx: &Context<'_>,
    checkpoint: &dyn Fn(Stage) -> Result<(), Error>,
) -> Result<Report, Error> {
    if ctx.output_dir.is_some() {
        crate::job::validate_key(ctx.key)?;
    }
    if !avif::AVAILABLE {
        if let Some(spec) = recipe
            .outputs
            .iter()
            .find(|o| o.format == crate::format::OutputFormat::Avif)
        {
            return Err(avif::unsupported(spec));
        }
    }
    let mut timings = Timings::default();

    checkpoint(Stage::Decode)?;
    let t = Instant::now();
    let decode_check = || checkpoint(Stage::Decode);
    let watch = input::Watch::new(&decode_check);
    // The colour profile is always read (bounded by `max_icc_bytes`): converting to
    // sRGB needs it as much as keeping it does.
    let mut header = decode::probe(data, ctx.limits, ctx.formats, true, &watch)?;
    let orientation = if recipe.auto_orient {
        header.orientation
    } else {
        Orientation::NoTransforms
    };
    // Plans use the stored size; the decoded pixels may be smaller (shrink-on-load).
    let full = (header.info.width, header.info.height);
    let (uw, uh) = if render::transposes(orientation) {
        (full.1, full.0)
    } else {
        full
    };
    let mut plans: Vec<geometry::Plan> = recipe
        .outputs
        .iter()
        .map(|spec| geometry::plan(uw, uh, spec))
        .collect();
    // Outputs are bounded like inputs, before anything is allocated.
    geometry::check(&recipe.outputs, &plans, (uw, uh), ctx.limits)?;
    if animated::wanted(recipe, &header.info) {
        // Every frame, with its own limits and estimate (animated.rs).
        return animated::execute(
            data,
            recipe,
            ctx,
            checkpoint,
            header,
            orientation,
            plans,
            timings,
            t,
        );
    }
    // Shrink-on-load: decode a JPEG as small as every output allows (each output keeps
    // at least its own resolution; Lanczos then does the rest).
    let ratio = plans
        .iter()
        .map(|plan| {
            let [_, _, cw, ch] = plan.crop.unwrap_or([0.0, 0.0, uw as f64, uh as f64]);
            (cw / plan.resize.0 as f64).min(ch / plan.resize.1 as f64)
        })
        .reduce(f64::min)
        .unwrap_or(1.0);
    // Without libjpeg (the wasm build), jpeg-decoder's half-size IDCT costs SSIM where
    // Lanczos is left little to do: the corpus's 1600 px JPEGs scored 0.9745 halving
    // from a ratio of 2, 0.97510 from 2.5 (Lanczos still reduces by 1.25 or more),
    // 0.97514 from 3 and 0.97517 never, against wasm-vips's 0.97488. It halves from a
    // ratio of 2.5, and shrinks by a quarter or an eighth as libjpeg does.
    let halve_from = if cfg!(feature = "mozjpeg") { 2.0 } else { 2.5 };
    let shrink = [8, 4, 2]
        .into_iter()
        .find(|&d| d as f64 <= ratio && (d > 2 || ratio >= halve_from))
        .unwrap_or(1);
    let analysis_side = analysis::analysis_side(recipe);
    let memory_estimate = estimate::peak_bytes(
        &header,
        shrink,
        &plans,
        &recipe.outputs,
        ctx.output_dir.is_none(),
        ctx.defer_lossy_webp,
    ) + estimate::analysis_bytes(&header, shrink, analysis_side);
    if let Some(admit) = ctx.admit {
        // Waiting for room is not decoding.
        timings.decode = t.elapsed();
        admit(memory_estimate)?;
    }
    let t = Instant::now();
    let input_info = header.info;
    let mut colour = colour::Colour::new(
        recipe.colour,
        recipe.strip_metadata,
        std::mem::take(&mut header.colour),
    );
    let cmyk = match &header.kind {
        decode::Kind::Jpeg(h) if h.components == 4 => colour.cmyk(),
        _ => None,
    };
    let mut decoded = decode::decode(
        input_info.format,
        header.kind,
        data,
        ctx.limits,
        &watch,
        shrink,
        recipe.fail_on,
        cmyk.as_ref(),
    )?;
    // To sRGB before anything else touches the pixels (colour.rs).
    colour.apply(&mut decoded.pixels, &decode_check)?;
    timings.decode += t.elapsed();

    // Smart crops and the placeholder look at a small upright copy of the whole image.
    checkpoint(Stage::Resize)?;
    let t = Instant::now();
    let placeholder = analysis::analyse(
        recipe,
        &decoded.pixels,
        full,
        orientation,
        (uw, uh),
        analysis_side,
        &mut plans,
        &|| checkpoint(Stage::Resize),
    )?;
    timings.resize += t.elapsed();

    // The full-size pixels, kept only while some output still needs them; shared, so
    // that helper threads can resize bands of them (parallel.rs).
    let mut source = Some(std::sync::Arc::new(decoded.pixels));

    // The largest whole-image output so far (upright, resized, not cropped, padded or
    // enlarged): later outputs at most half its resolution are made from it rather
    // than from the full-size image. Never an enlarged one: an output must be what it
    // would be if made alone, within resampling tolerance, and a lossless output of
    // the source's own size is always copied from the source itself.
    let mut intermediate: Option<(pixels::Pixels, (f64, f64))> = None;
    let mut outputs = Vec::with_capacity(recipe.outputs.len());
    // All outputs or none: saved into a staging folder, published after the last one.
    let mut staging = ctx.output_dir.map(|dir| save::Staging::new(dir, ctx.key));
    for (i, spec) in recipe.outputs.iter().enumerate() {
        checkpoint(Stage::Resize)?;
        let t = Instant::now();
        let plan = plans[i];
        let (bg, keep_alpha) = (spec.effective_background().0, spec.format.supports_alpha());
        let resize_check = || checkpoint(Stage::Resize);
        let from_inter = intermediate.as_ref().and_then(|(inter, scale)| {
            render::render_from_intermediate(
                inter,
                *scale,
                (uw, uh),
                &plan,
                bg,
                keep_alpha,
                &resize_check,
            )
        });
        let rendered = match from_inter {
            Some(px) => Some(px?),
            None => {
                let Some(src) = source.as_ref() else {
                    return Err(Error::new(
                        crate::ErrorKind::Panicked,
                        "internal: the source was freed too early",
                    )
                    .at(Stage::Resize));
                };
                let par = ctx.helpers.map(|helpers| render::Par { src, helpers });
                match render::render(
                    src,
                    full,
                    orientation,
                    &plan,
                    (bg, keep_alpha),
                    &resize_check,
                    par,
                )? {
                    std::borrow::Cow::Owned(px) => Some(px),
                    // The source itself, unchanged.
                    std::borrow::Cow::Borrowed(_) => None,
                }
            }
        };
        // Whether this output becomes the intermediate for later ones: decided once,
        // here, and both the freeing of the source and the keeping below follow it.
        let whole = plan.crop.is_none() && plan.canvas.is_none();
        let scale = (
            plan.resize.0 as f64 / uw as f64,
            plan.resize.1 as f64 / uh as f64,
        );
        let becomes_intermediate = rendered.is_some()
            && whole
            && scale.0 <= 1.0
            && scale.1 <= 1.0
            && intermediate
                .as_ref()
                .is_none_or(|(_, s)| scale.0 * scale.1 > s.0 * s.1);
        let next_scale = if becomes_intermediate {
            Some(scale)
        } else {
            intermediate.as_ref().map(|(_, s)| *s)
        };
        // Free the full-size pixels as soon as no later output needs them (memory: the
        // decode is the biggest buffer).
        let source_needed = plans[i + 1..]
            .iter()
            .any(|p| !next_scale.is_some_and(|s| render::intermediate_covers(s, (uw, uh), p)));
        let px: std::borrow::Cow<'_, pixels::Pixels> = match rendered {
            Some(px) => {
                if !source_needed {
                    source = None;
                }
                std::borrow::Cow::Owned(px)
            }
            None if source_needed => {
                std::borrow::Cow::Borrowed(&**source.as_ref().expect("rendered from it"))
            }
            // No helper holds the source by now (each piece drops it before it reports).
            None => std::borrow::Cow::Owned(std::sync::Arc::unwrap_or_clone(
                source.take().expect("rendered from it"),
            )),
        };
        timings.resize += t.elapsed();

        checkpoint(Stage::Encode)?;
        let t = Instant::now();
        // WebP encoders widen grey to RGB: such an output takes a colour profile.
        let webp = spec.format == crate::format::OutputFormat::Webp;
        let icc = colour.embed(match px.layout {
            pixels::Layout::L8 if webp => pixels::Layout::Rgb8,
            layout => layout,
        });
        // A deferred output is left to the caller as opaque RGBA; `None` when not
        // deferred (or not opaque).
        let deferred = (ctx.defer_lossy_webp
            && webp
            && !spec.lossless
            && spec.max_bytes.is_none()
            && icc.is_none()
            && staging.is_none())
        .then(|| pixels::opaque_rgba(&px))
        .flatten()
        .transpose()?;
        let (bytes, quality, encodes, deferred_quality) = match deferred {
            Some(rgba) => (rgba, None, None, Some(spec.effective_quality() as u32)),
            None => {
                let check = || checkpoint(Stage::Encode);
                let encoded = budget_encode::encode(&px, spec, icc, i, &check)?;
                let mut bytes = encoded.bytes;
                if let (true, Some(icc)) = (webp, icc) {
                    // The WebP encoders write no profile: add the ICCP chunk (colour.rs).
                    if let Some(tagged) = colour::webp_with_icc(
                        &bytes,
                        icc,
                        (px.width, px.height),
                        px.layout == pixels::Layout::Rgba8,
                    ) {
                        bytes = tagged;
                    }
                }
                (bytes, encoded.quality, encoded.encodes, None)
            }
        };
        timings.encode += t.elapsed();

        let mut info = OutputInfo {
            name: spec.name.clone(),
            format: spec.format,
            width: px.width,
            height: px.height,
            // A deferred output's size is the caller's to set once it is encoded.
            byte_len: if deferred_quality.is_some() {
                0
            } else {
                bytes.len() as u64
            },
            data: None,
            path: None,
            quality,
            encodes,
            crop: plan.crop.map(analysis::crop_box),
            frames: None,
            deferred_quality,
        };
        place(staging.as_mut(), &mut info, bytes, checkpoint, &mut timings)?;
        outputs.push(info);
        if becomes_intermediate {
            if let std::borrow::Cow::Owned(px) = px {
                intermediate = Some((px, scale));
            }
        }
    }
    publish(staging, checkpoint, &mut timings)?;
    Ok(Report {
        input: input_info,
        outputs,
        timings,
        memory_estimate,
        warnings: colour.warnings,
        placeholder,
    })
}

/// Puts one encoded output where the job wants it: into the staging folder (after a
/// check, timed as `save`; `info.path` names the file), or into the report as bytes.
fn place(
    staging: Option<&mut save::Staging>,
    info: &mut OutputInfo,
    bytes: Vec<u8>,
    checkpoint: &dyn Fn(Stage) -> Result<(), Error>,
    timings: &mut Timings,
) -> Result<(), Error> {
    match staging {
        Some(staging) => {
            checkpoint(Stage::Save)?;
            let t = Instant::now();
            let file = crate::wire::output_file_name(&info.name, info.format);
            info.path = Some(staging.write(&file, &bytes)?);
            timings.save += t.elapsed();
        }
        None => info.data = Some(Bytes::from(bytes)),
    }
    Ok(())
}

/// Publishes the staged outputs, all or none (after a check, timed as `save`).
fn publish(
    staging: Option<save::Staging>,
    checkpoint: &dyn Fn(Stage) -> Result<(), Error>,
    timings: &mut Timings,
) -> Result<(), Error> {
    if let Some(staging) = staging {
        checkpoint(Stage::Save)?;
        let t = Instant::now();
        staging.publish()?;
        timings.save += t.elapsed();
    }
    Ok(())
}
