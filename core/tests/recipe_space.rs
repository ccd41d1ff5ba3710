//! A property test of the whole recipe space (issue 18, point 4): generated recipes on
//! generated images, run through the real [`Pool`], with every job checked against the
//! schema's rules rather than against stored answers.
//!
//! **Recipes** (built as JSON text, as every door sends them): 1 to 16 outputs; `width`
//! and `height` absent or from 1 to past the limits (up to 40 000); every fit, format,
//! quality, `lossless`, `progressive`, `compression`, `background`,
//! `without_enlargement`, `auto_orient`, `strip_metadata` and `fail_on`. About one
//! recipe in eight is made invalid on purpose (a value out of range, an option on the
//! wrong format, a duplicate name, 0 or 17 outputs, a bad colour).
//!
//! **Images** (see [`Source::make`] for the names): 1×1, 1×N, N×1, odd sizes; RGB,
//! RGBA with fully transparent pixels, grey, grey+alpha, palette PNGs of 1, 2, 4 and 8
//! bits (with `tRNS`), 2-bit grey, 16-bit PNGs of every colour type, PNGs with an eXIf
//! orientation, RGB, grey and CMYK JPEGs, JPEGs with every EXIF orientation 1 to 8,
//! progressive JPEGs, GIF, lossless WebP, BMP, and some of the shared vector inputs
//! (`testdata/vectors/inputs`). Sides stay at most 64 px (300 for 1×N and N×1).
//!
//! **Checks, for every job:**
//! - a recipe is refused by `Recipe::from_json` with `invalid_recipe` exactly when it
//!   was made invalid; one that deserialises into the struct anyway (a width of 40 000)
//!   is refused by the pool too, as `invalid_recipe` at stage `validate`;
//! - exactly one outcome per accepted job (callbacks counted per job id, and none left
//!   over once the pool is shut down), never `panicked`;
//! - the outcome is what the recipe asks for: `limit_exceeded` at stage `validate`
//!   (before any decoding) exactly when an output is past the limits (each side against
//!   the format's ceiling and `max_output_width`/`max_output_height`, each output's
//!   pixels, the sum over the outputs, the resizer's working image against
//!   `max_alloc`), and success otherwise;
//! - on success, the input as generated (format, stored size, EXIF orientation), and for
//!   each output: its name and format; never 0 wide or high; within its box by the fit
//!   rules (`inside` and one-sided boxes keep the aspect ratio within rounding and
//!   touch the box unless capped at the source's size; `cover`, `contain` and `fill`
//!   are exactly the box when enlargement is allowed, `contain` always is, `cover` and
//!   `fill` without enlargement are the box capped at the upright source on each axis;
//!   without enlargement nothing but `contain`'s padding is larger than the upright
//!   source); the size the rules give (a model of `recipe.rs`'s fit rules, rounding
//!   half away from zero and never below 1); bytes that decode, with `image`, in the
//!   right format at the reported size; a memory estimate at least the largest output;
//! - a lossless output (PNG, or lossless WebP) at the upright source's own size is
//!   pixel-identical to the source as `image` decodes and orients it (every non-JPEG
//!   source, 16-bit ones included: the engine documents its 8-bit conversion as
//!   `image`'s `to_rgb8`/`to_rgba8`/`to_luma8`, so the reference is converted the same
//!   way). JPEG sources are left out of this check: the engine decodes them with
//!   libjpeg-turbo (mozjpeg), the reference would be zune-jpeg, and the two may
//!   differ by a level or two;
//! - each output of a recipe with several outputs equals the same output made alone
//!   in a one-output recipe: byte for byte when it is not resampled (original size,
//!   pure crops and pads: the same pixels through the same deterministic encoder), and
//!   otherwise, compared premultiplied by alpha, within a PSNR of [`MIN_PSNR_DB`]
//!   (30 dB). The engine may make a smaller output from a larger earlier one (at least
//!   twice its resolution) instead of from the source; on these tiny hard-edged
//!   images, and on the dithered GIFs, that differs from Lanczos from the source by up
//!   to about 20 levels at edges (lowest measured: 31.6 dB over 4 549 comparisons,
//!   seed 2026, 300 s; about 36 dB in the default run), so 40 dB would fail a correct
//!   plan. Lossy outputs below quality [`MIN_COMPARED_QUALITY`] (75) are compared for
//!   size only: at quality 5 to 34 the encoder's own error brought such comparisons
//!   down to 30.6 dB, so the bound would test the encoder rather than the plan.
//!   When a JPEG source would be decoded at another DCT scale alone than with the
//!   others (shrink-on-load takes the scale every output allows), the two are different
//!   decodes and the bound is only [`MIN_PSNR_OTHER_SHRINK_DB`] (15 dB; measured as low
//!   as 18.3 dB; 19.6 dB for a 6x1 output of a 52x10 JPEG decoded at 1/8): a check against
//!   a wrong orientation, crop or channel order. The run prints the distribution.
//!
//! **Regressions first.** Every failure this test ever found is kept in
//! `testdata/recipes/regressions/*.json` (image name, recipe, optional limits and
//! expected outcome, and what was wrong; see `testdata/recipes/README.md`) and replayed
//! before the generated jobs, with the same checks.
//!
//! **Running it.** CI runs it with a fixed seed for a bounded time:
//! `cargo test -p conveyor --test recipe_space` (about 45 s of generated jobs on a debug
//! build; the seed and the number of jobs are printed with `--nocapture`). The seed
//! fixes the sequence of jobs; the time bound decides how far along it a run gets
//! (about 1 600 recipes, 3 600 jobs on two shared cores). The generated part stops
//! early after 10 failures. A longer run on demand, with another seed:
//!
//! ```text
//! CONVEYOR_PROP_SECS=1800 CONVEYOR_PROP_SEED=12345 \
//!     cargo test --release -p conveyor --test recipe_space -- --nocapture
//! ```
//!
//! A failure is shrunk (outputs, then optional fields, removed while it still fails)
//! and printed as a regression case ready to be saved in `testdata/recipes/regressions/`
//! (also written to `$CARGO_TARGET_TMPDIR/recipe-space-failures/`).

mod common;

use std::collections::HashMap;
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use conveyor::{
    ErrorKind, Fit, InputFormat, Job, JobId, Limits, Outcome, OutputFormat, OutputSpec, Pool,
    Recipe, Report, Stage,
};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Rgba, RgbaImage};
use serde_json::{json, Map, Value};

/// The lowest PSNR, in dB, between an output made with others and the same output made
/// alone, when it is resampled from the same decoded pixels (see the module doc).
const MIN_PSNR_DB: f64 = 30.0;

/// Lossy outputs below this quality are not compared pixel by pixel with the output
/// made alone (see the module doc).
const MIN_COMPARED_QUALITY: u8 = 75;

/// The same, when a JPEG source is decoded at another DCT scale alone than with the
/// others (shrink-on-load takes the smallest scale any output allows). Only a sanity
/// bound: it catches a wrong orientation, crop or channel order, not filter
/// differences (see the module doc).
const MIN_PSNR_OTHER_SHRINK_DB: f64 = 15.0;

/// Seconds of generated jobs (`CONVEYOR_PROP_SECS`, default 45).
fn budget() -> Duration {
    let secs = std::env::var("CONVEYOR_PROP_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(45.0);
    Duration::from_secs_f64(secs)
}

/// The generator's seed (`CONVEYOR_PROP_SEED`, default fixed).
fn seed() -> u64 {
    std::env::var("CONVEYOR_PROP_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x00c0_ffee_2026_1218)
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

// ---------------------------------------------------------------------------------
// A small deterministic PRNG (SplitMix64): the same seed gives the same jobs on every
// platform, with no dependency.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    /// True with probability `n` in `d`.
    fn chance(&mut self, n: u64, d: u64) -> bool {
        self.next() % d < n
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------------------------
// Images, by name: `kind:WxH`, or `vector:FILE` for a shared vector input.

/// One input image and what the test knows about it independently of the engine.
struct Source {
    name: String,
    bytes: Vec<u8>,
    format: InputFormat,
    /// Stored size.
    stored: (u32, u32),
    /// EXIF orientation, 1 to 8.
    orientation: u8,
    /// The pixels as `image` decodes them (stored, not oriented), for pixel identity;
    /// `None` for JPEG sources (see the module doc).
    reference: Option<DynamicImage>,
}

/// Kinds of generated image (the part of the name before `:`).
const KINDS: &[&str] = &[
    "png_rgb",
    "png_rgba",
    "png_grey",
    "png_greya",
    "png_pal1",
    "png_pal2",
    "png_pal4",
    "png_pal8",
    "png_grey2",
    "png16_rgb",
    "png16_rgba",
    "png16_grey",
    "png16_greya",
    "png_orient1",
    "png_orient2",
    "png_orient3",
    "png_orient4",
    "png_orient5",
    "png_orient6",
    "png_orient7",
    "png_orient8",
    "jpeg_rgb",
    "jpeg_grey",
    "jpeg_cmyk",
    "jpeg_prog",
    "jpeg_orient1",
    "jpeg_orient2",
    "jpeg_orient3",
    "jpeg_orient4",
    "jpeg_orient5",
    "jpeg_orient6",
    "jpeg_orient7",
    "jpeg_orient8",
    "gif",
    "webp_lossless",
    "bmp",
];

/// Shared vector inputs used as sources (small enough for many jobs).
const VECTORS: &[&str] = &[
    "card_orient6.jpg",
    "card_orient8.jpg",
    "gradient_120x90.gif",
    "gradient_100x100.webp",
    "gradient_64x32.bmp",
    "gradient_80x60.tiff",
    "icon_32x32.ico",
    "progressive_160x120.jpg",
    "rgba_300x200.png",
    "photo_640x480.jpg",
];

/// A sample of channel `c` (0..4) at `(x, y)`, 16 bits: a quadrant card (hard edges)
/// blended with gradients, so resampling has both edges and ramps to get wrong.
fn sample(w: u32, h: u32, x: u32, y: u32, c: u32) -> u16 {
    let quad = match (x * 2 < w, y * 2 < h) {
        (true, true) => [65535, 0, 0],
        (false, true) => [0, 65535, 0],
        (true, false) => [0, 0, 65535],
        (false, false) => [65535, 65535, 65535],
    };
    if c == 3 {
        // Alpha: fully transparent blocks (whose colour must still survive a lossless
        // copy), and the rest graded.
        return if (x / 3 + y / 3) % 4 == 0 {
            0
        } else {
            (65535 - (x * 40000 / w.max(1))) as u16
        };
    }
    let ramp = match c {
        0 => x as u64 * 65535 / w.max(1) as u64,
        1 => y as u64 * 65535 / h.max(1) as u64,
        _ => ((x + y) as u64 * 65535 / (w + h).max(1) as u64) ^ 0x1234,
    };
    ((quad[c as usize] as u64 + (ramp & 0xffff)) / 2) as u16
}

/// A PNG written by hand: any colour type and bit depth, optional PLTE/tRNS/eXIf.
fn png_raw(w: u32, h: u32, depth: u8, colour: u8, extra: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
    let channels = match colour {
        0 | 3 => 1,
        2 => 3,
        4 => 2,
        _ => 4,
    };
    let mut p = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([depth, colour, 0, 0, 0]);
    p.extend(common::hostile::png_chunk(b"IHDR", &ihdr));
    for (kind, data) in extra {
        p.extend(common::hostile::png_chunk(kind, data));
    }
    let mut raw = Vec::new();
    for y in 0..h {
        raw.push(0u8);
        let mut bits: u32 = 0;
        let mut nbits = 0;
        for x in 0..w {
            for c in 0..channels {
                // Grey and palette take the first channel (palette: an index).
                let c = if channels == 2 && c == 1 { 3 } else { c };
                let v = sample(w, h, x, y, c);
                let v = if colour == 3 {
                    // Palette index: spread over the palette.
                    ((x + 3 * y) % (1 << depth.min(8))) as u16
                } else {
                    v
                };
                match depth {
                    16 => raw.extend(v.to_be_bytes()),
                    8 => raw.push(if colour == 3 { v as u8 } else { (v >> 8) as u8 }),
                    d => {
                        let d = d as u32;
                        let s = if colour == 3 {
                            v as u32
                        } else {
                            v as u32 >> (16 - d)
                        };
                        bits = (bits << d) | s;
                        nbits += d;
                        if nbits == 8 {
                            raw.push(bits as u8);
                            bits = 0;
                            nbits = 0;
                        }
                    }
                }
            }
        }
        if nbits > 0 {
            raw.push((bits << (8 - nbits)) as u8);
        }
    }
    let mut idat = Vec::new();
    {
        let mut c = fdeflate::Compressor::new(&mut idat).unwrap();
        c.write_data(&raw).unwrap();
        c.finish().unwrap();
    }
    p.extend(common::hostile::png_chunk(b"IDAT", &idat));
    p.extend(common::hostile::png_chunk(b"IEND", &[]));
    p
}

fn rgba_image(w: u32, h: u32) -> RgbaImage {
    RgbaImage::from_fn(w, h, |x, y| {
        Rgba([0, 1, 2, 3].map(|c| (sample(w, h, x, y, c) >> 8) as u8))
    })
}

fn jpeg_raw(w: u32, h: u32, kind: jpeg_encoder::ColorType, segments: &[(u8, Vec<u8>)]) -> Vec<u8> {
    use jpeg_encoder::ColorType as C;
    let img = rgba_image(w, h);
    let data: Vec<u8> = match kind {
        C::Luma => img.pixels().map(|p| p.0[0]).collect(),
        C::Cmyk => img
            .pixels()
            .flat_map(|p| [255 - p.0[0], 255 - p.0[1], 255 - p.0[2], p.0[3] / 4])
            .collect(),
        _ => img
            .pixels()
            .flat_map(|p| [p.0[0], p.0[1], p.0[2]])
            .collect(),
    };
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, 90);
    if kind == C::Rgb && segments.is_empty() && (w + h) % 2 == 0 {
        enc.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    }
    for (n, d) in segments {
        enc.add_app_segment(*n, d.clone()).unwrap();
    }
    enc.encode(&data, w as u16, h as u16, kind).unwrap();
    out
}

impl Source {
    /// Makes the image called `name` (`kind:WxH` or `vector:FILE`).
    fn make(name: &str) -> Source {
        let (kind, rest) = name.split_once(':').expect("kind:WxH");
        let bytes = if kind == "vector" {
            std::fs::read(root().join("vectors/inputs").join(rest)).unwrap()
        } else {
            let (w, h) = rest.split_once('x').expect("kind:WxH");
            let (w, h): (u32, u32) = (w.parse().unwrap(), h.parse().unwrap());
            Source::bytes_of(kind, w, h)
        };
        // What `image` says, independently of the engine.
        let reader = ImageReader::new(Cursor::new(&bytes))
            .with_guessed_format()
            .unwrap();
        let fmt = reader.format().expect("a known format");
        let mut decoder = reader.into_decoder().unwrap();
        let orientation = decoder
            .orientation()
            .unwrap_or(Orientation::NoTransforms)
            .to_exif();
        let img = DynamicImage::from_decoder(decoder).unwrap();
        let format = match fmt {
            ImageFormat::Png => InputFormat::Png,
            ImageFormat::Jpeg => InputFormat::Jpeg,
            ImageFormat::Gif => InputFormat::Gif,
            ImageFormat::WebP => InputFormat::Webp,
            ImageFormat::Bmp => InputFormat::Bmp,
            ImageFormat::Tiff => InputFormat::Tiff,
            ImageFormat::Ico => InputFormat::Ico,
            other => panic!("{name}: {other:?}"),
        };
        Source {
            name: name.to_string(),
            stored: (img.width(), img.height()),
            orientation,
            reference: (format != InputFormat::Jpeg).then_some(img),
            format,
            bytes,
        }
    }

    fn bytes_of(kind: &str, w: u32, h: u32) -> Vec<u8> {
        let exif_tiff = |o: u8| common::exif(o as u16, false)[6..].to_vec();
        let palette = |n: usize| -> Vec<(&'static [u8; 4], Vec<u8>)> {
            let plte: Vec<u8> = (0..n)
                .flat_map(|i| {
                    [
                        (i * 97 % 256) as u8,
                        (i * 53 % 256) as u8,
                        (255 - i * 31 % 256) as u8,
                    ]
                })
                .collect();
            let trns: Vec<u8> = (0..n.min(3)).map(|i| (i * 100) as u8).collect();
            vec![(b"PLTE", plte), (b"tRNS", trns)]
        };
        if let Some(o) = kind.strip_prefix("png_orient") {
            let o: u8 = o.parse().unwrap();
            return png_raw(w, h, 8, 2, &[(b"eXIf", exif_tiff(o))]);
        }
        if let Some(o) = kind.strip_prefix("jpeg_orient") {
            let o: u8 = o.parse().unwrap();
            let app1 = common::exif(o as u16, false);
            return jpeg_raw(w, h, jpeg_encoder::ColorType::Rgb, &[(1, app1)]);
        }
        let rgba = DynamicImage::ImageRgba8(rgba_image(w, h));
        match kind {
            "png_rgb" => png_raw(w, h, 8, 2, &[]),
            "png_rgba" => png_raw(w, h, 8, 6, &[]),
            "png_grey" => png_raw(w, h, 8, 0, &[]),
            "png_greya" => png_raw(w, h, 8, 4, &[]),
            "png_grey2" => png_raw(w, h, 2, 0, &[]),
            "png_pal1" => png_raw(w, h, 1, 3, &palette(2)),
            "png_pal2" => png_raw(w, h, 2, 3, &palette(4)),
            "png_pal4" => png_raw(w, h, 4, 3, &palette(16)),
            "png_pal8" => png_raw(w, h, 8, 3, &palette(256)),
            "png16_rgb" => png_raw(w, h, 16, 2, &[]),
            "png16_rgba" => png_raw(w, h, 16, 6, &[]),
            "png16_grey" => png_raw(w, h, 16, 0, &[]),
            "png16_greya" => png_raw(w, h, 16, 4, &[]),
            "jpeg_rgb" => jpeg_raw(w, h, jpeg_encoder::ColorType::Rgb, &[]),
            "jpeg_grey" => jpeg_raw(w, h, jpeg_encoder::ColorType::Luma, &[]),
            "jpeg_cmyk" => jpeg_raw(w, h, jpeg_encoder::ColorType::Cmyk, &[]),
            "jpeg_prog" => common::hostile::progressive_jpeg(w as u16, h as u16),
            "gif" => common::encode(&rgba, ImageFormat::Gif),
            "webp_lossless" => common::encode(&rgba, ImageFormat::WebP),
            "bmp" => common::encode(&DynamicImage::ImageRgb8(rgba.to_rgb8()), ImageFormat::Bmp),
            other => panic!("unknown image kind {other:?}"),
        }
    }

    /// A random image name: small sides, thin strips, odd sizes, or a shared vector.
    fn random_name(rng: &mut Rng) -> String {
        if rng.chance(1, 10) {
            return format!("vector:{}", rng.pick(VECTORS));
        }
        let kind = rng.pick(KINDS);
        let (w, h) = match rng.range(0, 9) {
            0 => (1, 1),
            1 => (1, rng.range(2, 300) as u32),
            2 => (rng.range(2, 300) as u32, 1),
            3 | 4 => (
                rng.range(0, 31) as u32 * 2 + 1,
                rng.range(0, 31) as u32 * 2 + 1,
            ),
            5 => (rng.range(2, 4) as u32, rng.range(2, 4) as u32),
            _ => (rng.range(1, 64) as u32, rng.range(1, 64) as u32),
        };
        format!("{kind}:{w}x{h}")
    }
}

// ---------------------------------------------------------------------------------
// Recipes: generated as JSON, valid or made invalid on purpose.

/// A box side: mostly small, sometimes near the source, sometimes huge.
fn side(rng: &mut Rng, source: u32) -> u64 {
    match rng.range(0, 19) {
        0..=8 => rng.range(1, 64),
        9..=11 => rng.range(65, 512),
        12..=14 => (source as u64 + rng.range(0, 2)).saturating_sub(1).max(1),
        15..=17 => rng.range(513, 16383),
        _ => rng.pick(&[16383, 16384, 20000, 30000, 30001, 40000]),
    }
}

const FORMATS: [&str; 3] = ["jpeg", "png", "webp"];
const FITS: [&str; 4] = ["inside", "cover", "contain", "fill"];

/// A valid output spec as a JSON object (keys in a random order).
fn random_output(rng: &mut Rng, i: usize, src: (u32, u32)) -> Map<String, Value> {
    let mut o = Map::new();
    let format = rng.pick(&FORMATS);
    let mut fields: Vec<(&str, Value)> =
        vec![("name", json!(format!("o{i}"))), ("format", json!(format))];
    let (w, h) = (side(rng, src.0), side(rng, src.1));
    match rng.range(0, 5) {
        0 => {}
        1 => fields.push(("width", json!(w.min(16383)))),
        2 => fields.push(("height", json!(h.min(16383)))),
        _ => {
            fields.push(("width", json!(w.min(16383))));
            fields.push(("height", json!(h.min(16383))));
        }
    }
    if rng.chance(3, 4) {
        fields.push(("fit", json!(rng.pick(&FITS))));
    }
    if rng.chance(2, 3) {
        fields.push(("without_enlargement", json!(rng.chance(1, 2))));
    }
    match format {
        "jpeg" => {
            if rng.chance(1, 2) {
                fields.push(("quality", json!(rng.range(1, 100))));
            }
            if rng.chance(1, 3) {
                fields.push(("progressive", json!(rng.chance(1, 2))));
            }
        }
        "webp" => {
            if rng.chance(1, 2) {
                fields.push(("quality", json!(rng.range(1, 100))));
            }
            if rng.chance(1, 2) {
                fields.push(("lossless", json!(rng.chance(2, 3))));
            }
        }
        _ => {
            if rng.chance(1, 2) {
                fields.push(("compression", json!(rng.range(0, 9))));
            }
        }
    }
    if rng.chance(1, 3) {
        let c = rng.next();
        let colour = match rng.range(0, 2) {
            0 => format!("#{:03x}", c & 0xfff),
            1 => format!("#{:06x}", c & 0xff_ffff),
            _ => format!("#{:08x}", c & 0xffff_ffff),
        };
        fields.push(("background", json!(colour)));
    }
    // A random key order: the object form is what matters, not the order.
    while !fields.is_empty() {
        let k = (rng.next() % fields.len() as u64) as usize;
        let (key, v) = fields.swap_remove(k);
        o.insert(key.to_string(), v);
    }
    o
}

/// Makes a valid recipe invalid in one way; returns what was done.
fn break_recipe(rng: &mut Rng, r: &mut Value) -> String {
    let outs = r["outputs"].as_array_mut().unwrap();
    let i = (rng.next() % outs.len() as u64) as usize;
    let format = outs[i]["format"].as_str().unwrap().to_string();
    let o = outs[i].as_object_mut().unwrap();
    let (key, v): (&str, Value) = match rng.range(0, 12) {
        0 => ("width", json!(0)),
        1 => ("height", json!(rng.range(16384, 40000))),
        2 => ("width", json!(rng.range(16384, 40000))),
        3 => ("quality", json!(rng.pick(&[0, 101, 1000]))),
        4 => ("compression", json!(10)),
        5 => match format.as_str() {
            "png" => ("quality", json!(50)),
            "jpeg" => ("lossless", json!(true)),
            _ => ("progressive", json!(true)),
        },
        6 => match format.as_str() {
            "png" => ("lossless", json!(true)),
            _ => ("compression", json!(3)),
        },
        7 => (
            "background",
            json!(rng.pick(&["red", "#12", "#gggggg", "#1234567"])),
        ),
        8 => ("name", json!(rng.pick(&["", "../x", "a b", "é"]))),
        9 => ("fit", json!("squash")),
        10 => {
            // A duplicate name, or no outputs at all, or too many.
            let n = outs.len();
            return match rng.range(0, 2) {
                0 if n >= 2 => {
                    let first = outs[0]["name"].clone();
                    outs[n - 1]["name"] = first;
                    "a duplicate output name".into()
                }
                1 => {
                    outs.clear();
                    "no outputs".into()
                }
                _ => {
                    let spare = outs[0].clone();
                    while outs.len() < 17 {
                        let mut s = spare.clone();
                        s["name"] = json!(format!("extra{}", outs.len()));
                        outs.push(s);
                    }
                    "17 outputs".into()
                }
            };
        }
        11 => ("colour", json!(1)),
        _ => ("format", json!("gif")),
    };
    o.insert(key.to_string(), v.clone());
    format!("outputs[{i}].{key} = {v}")
}

/// A generated case: image, recipe JSON, and whether it was made invalid (and how).
struct Case {
    image: String,
    recipe: Value,
    broken: Option<String>,
}

fn random_case(rng: &mut Rng, src: &Source) -> Case {
    let upright = if src.orientation >= 5 {
        (src.stored.1, src.stored.0)
    } else {
        src.stored
    };
    let n = match rng.range(0, 9) {
        0..=3 => 1,
        4..=6 => rng.range(2, 4) as usize,
        7 => rng.range(5, 8) as usize,
        _ => rng.range(9, 16) as usize,
    };
    let outputs: Vec<Value> = (0..n)
        .map(|i| Value::Object(random_output(rng, i, upright)))
        .collect();
    let mut recipe = json!({ "outputs": outputs });
    if rng.chance(1, 3) {
        recipe["auto_orient"] = json!(rng.chance(1, 2));
    }
    if rng.chance(1, 3) {
        recipe["strip_metadata"] = json!(rng.chance(1, 2));
    }
    if rng.chance(1, 5) {
        recipe["fail_on"] = json!(rng.pick(&["none", "truncated", "error", "warning"]));
    }
    let broken = rng.chance(1, 8).then(|| break_recipe(rng, &mut recipe));
    Case {
        image: src.name.clone(),
        recipe,
        broken,
    }
}

// ---------------------------------------------------------------------------------
// The model: the fit rules and the output limits, written from the schema's text.

/// The output limits the model applies (the engine's `Limits` fields of the same names).
#[derive(Clone, Copy, Debug)]
struct OutputLimits {
    width: u64,
    height: u64,
    pixels: u64,
    total: u64,
    alloc: u64,
}

fn output_limits(l: &Limits) -> OutputLimits {
    OutputLimits {
        width: l.max_output_width as u64,
        height: l.max_output_height as u64,
        pixels: l.max_output_pixels,
        total: l.max_output_pixels_total,
        alloc: l.max_alloc,
    }
}

/// The limits of the generated jobs: small output limits so that refusals are common
/// and accepted outputs stay cheap on a debug build.
fn job_limits() -> Limits {
    Limits::default()
        .with_max_output_width(2000)
        .with_max_output_height(2000)
        .with_max_output_pixels(300_000)
        .with_max_output_pixels_total(600_000)
}

/// What one output should be, by the fit rules (`recipe.rs`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Planned {
    /// The final size.
    size: (u64, u64),
    /// The size the (cropped) source is resized to.
    resize: (u64, u64),
    /// Whether pixels are resampled (a scale other than 1).
    resampled: bool,
    /// Whether `contain` pads.
    padded: bool,
    /// The region of the upright source it is made from (the crop, or all of it).
    region: (f64, f64),
}

fn round(v: f64) -> u64 {
    (v.round() as u64).max(1)
}

fn plan(u: (u32, u32), spec: &OutputSpec) -> Planned {
    let (sw, sh) = (u.0 as f64, u.1 as f64);
    let cap = |s: f64| {
        if spec.without_enlargement {
            s.min(1.0)
        } else {
            s
        }
    };
    let scaled = |s: f64| (round(sw * s), round(sh * s), s != 1.0);
    let simple = |(w, h, r): (u64, u64, bool)| Planned {
        size: (w, h),
        resize: (w, h),
        resampled: r,
        padded: false,
        region: (sw, sh),
    };
    match (spec.width, spec.height) {
        (None, None) => simple((u.0 as u64, u.1 as u64, false)),
        (Some(w), None) => simple(scaled(cap(w as f64 / sw))),
        (None, Some(h)) => simple(scaled(cap(h as f64 / sh))),
        (Some(w), Some(h)) => {
            let (sx, sy) = (w as f64 / sw, h as f64 / sh);
            match spec.fit {
                Fit::Inside => simple(scaled(cap(sx.min(sy)))),
                Fit::Fill => {
                    let (fx, fy) = (cap(sx), cap(sy));
                    simple((round(sw * fx), round(sh * fy), fx != 1.0 || fy != 1.0))
                }
                Fit::Cover => {
                    let s = cap(sx.max(sy));
                    let size = ((w as u64).min(round(sw * s)), (h as u64).min(round(sh * s)));
                    Planned {
                        size,
                        resize: size,
                        resampled: s != 1.0,
                        padded: false,
                        region: ((size.0 as f64 / s).min(sw), (size.1 as f64 / s).min(sh)),
                    }
                }
                _ => {
                    let (iw, ih, r) = scaled(cap(sx.min(sy)));
                    let inner = (iw.min(w as u64), ih.min(h as u64));
                    Planned {
                        size: (w as u64, h as u64),
                        resize: inner,
                        resampled: r,
                        padded: inner != (w as u64, h as u64),
                        region: (sw, sh),
                    }
                }
            }
        }
    }
}

/// The DCT scale a JPEG is decoded at for these outputs (shrink-on-load, as the
/// pipeline documents it: the largest of 8, 4, 2, 1 that leaves every output at least
/// its own resolution).
fn shrink(plans: &[&Planned]) -> u32 {
    plans
        .iter()
        .map(|p| {
            let ratio = (p.region.0 / p.resize.0 as f64).min(p.region.1 / p.resize.1 as f64);
            [8, 4, 2, 1]
                .into_iter()
                .find(|&d| d as f64 <= ratio)
                .unwrap_or(1)
        })
        .min()
        .unwrap_or(1)
}

fn max_dimension(f: OutputFormat) -> u64 {
    match f {
        OutputFormat::Webp => 16383,
        OutputFormat::Avif => 16384,
        OutputFormat::Jpeg => 65500,
        _ => i32::MAX as u64,
    }
}

/// Why the recipe must be refused with `limit_exceeded`, or `None` if it must succeed.
fn over_limits(
    specs: &[OutputSpec],
    plans: &[Planned],
    u: (u32, u32),
    l: OutputLimits,
) -> Option<String> {
    let mut total = 0u64;
    for (i, (spec, p)) in specs.iter().zip(plans).enumerate() {
        let (w, h) = p.size;
        let why = |s: &str| Some(format!("outputs[{i}] {w}x{h}: {s}"));
        if w > max_dimension(spec.format) || h > max_dimension(spec.format) {
            return why("past the format's ceiling");
        }
        if w > l.width || h > l.height {
            return why("past max_output_width/height");
        }
        if w.saturating_mul(h) > l.pixels {
            return why("past max_output_pixels");
        }
        total = total.saturating_add(w * h);
        if total > l.total {
            return why("past max_output_pixels_total");
        }
        if p.resampled || p.resize != (u.0 as u64, u.1 as u64) {
            let (rw, rh) = p.resize;
            let working = (rw.saturating_mul(u.1 as u64)).max(rh.saturating_mul(u.0 as u64)) * 4;
            if working > l.alloc {
                return why("the resizer's working image is past max_alloc");
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------------
// Running jobs through the pool, counting outcomes per job id.

struct Runner {
    pool: Pool,
    limits: Limits,
    tx: mpsc::Sender<Outcome>,
    rx: mpsc::Receiver<Outcome>,
    /// Outcomes seen per job id (exactly one each).
    seen: HashMap<JobId, u32>,
    /// Outcomes that arrived for a job already done.
    extra: Vec<JobId>,
    jobs: u64,
}

impl Runner {
    fn new(limits: Limits) -> Runner {
        let pool = Pool::builder()
            .workers(2)
            .limits(limits)
            .build()
            .expect("a pool");
        let (tx, rx) = mpsc::channel();
        Runner {
            pool,
            limits,
            tx,
            rx,
            seen: HashMap::new(),
            extra: Vec::new(),
            jobs: 0,
        }
    }

    /// Runs these jobs at once; returns each one's outcome, in order (`Err` when it
    /// never came).
    fn run(&mut self, jobs: Vec<Job>) -> Vec<Result<Outcome, String>> {
        let mut ids = Vec::new();
        for job in jobs {
            let tx = self.tx.clone();
            self.jobs += 1;
            match self.pool.submit_with(job, move |o| {
                let _ = tx.send(o);
            }) {
                Ok(id) => ids.push(Ok(id)),
                Err(e) => ids.push(Err(format!("submit refused: {:?}", e.kind()))),
            }
        }
        let mut got: HashMap<JobId, Outcome> = HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(300);
        let want = ids.iter().filter(|i| i.is_ok()).count();
        while got.len() < want {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(o) = self.rx.recv_timeout(left) else {
                break;
            };
            let n = self.seen.entry(o.job_id).or_insert(0);
            *n += 1;
            if *n > 1 {
                self.extra.push(o.job_id);
                continue;
            }
            got.insert(o.job_id, o);
        }
        ids.into_iter()
            .map(|id| {
                let id = id?;
                got.remove(&id)
                    .ok_or_else(|| format!("no outcome for job {id:?} within 300 s"))
            })
            .collect()
    }

    /// Shuts the pool down and returns the job ids that had more than one outcome.
    fn finish(self) -> Vec<JobId> {
        let Runner {
            pool,
            tx,
            rx,
            mut seen,
            mut extra,
            ..
        } = self;
        pool.shutdown();
        drop(pool);
        drop(tx);
        for o in rx.try_iter() {
            let n = seen.entry(o.job_id).or_insert(0);
            *n += 1;
            if *n > 1 {
                extra.push(o.job_id);
            }
        }
        extra
    }
}

// ---------------------------------------------------------------------------------
// The checks on one job.

/// PSNR and largest difference over the first `channels` channels; with 4 channels the
/// colours are compared premultiplied by alpha (what a viewer sees: the colour of a
/// nearly transparent pixel hardly matters, and resamplers work premultiplied).
fn psnr(a: &RgbaImage, b: &RgbaImage, channels: usize) -> (f64, u8) {
    let pre = |p: &Rgba<u8>, c: usize| -> u8 {
        if channels == 4 && c < 3 {
            ((p.0[c] as u32 * p.0[3] as u32 + 127) / 255) as u8
        } else {
            p.0[c]
        }
    };
    let (mut se, mut n, mut max) = (0f64, 0f64, 0u8);
    for (p, q) in a.pixels().zip(b.pixels()) {
        for c in 0..channels {
            let d = pre(p, c).abs_diff(pre(q, c));
            max = max.max(d);
            se += (d as f64) * (d as f64);
            n += 1.0;
        }
    }
    if se == 0.0 {
        return (f64::INFINITY, 0);
    }
    (10.0 * (255.0f64 * 255.0 / (se / n)).log10(), max)
}

fn decode_output(bytes: &[u8]) -> Result<(ImageFormat, DynamicImage), String> {
    let format = image::guess_format(bytes).map_err(|e| e.to_string())?;
    let img = image::load_from_memory(bytes).map_err(|e| e.to_string())?;
    Ok((format, img))
}

fn image_format(f: OutputFormat) -> ImageFormat {
    match f {
        OutputFormat::Jpeg => ImageFormat::Jpeg,
        OutputFormat::Png => ImageFormat::Png,
        _ => ImageFormat::WebP,
    }
}

fn lossless(spec: &OutputSpec) -> bool {
    spec.format == OutputFormat::Png || (spec.format == OutputFormat::Webp && spec.lossless)
}

/// Checks a successful report against the source, the recipe and the model.
fn check_report(
    src: &Source,
    recipe: &Recipe,
    plans: &[Planned],
    report: &Report,
    problems: &mut Vec<String>,
) {
    let mut bad = |s: String| problems.push(s);
    let input = &report.input;
    if (input.format, input.width, input.height, input.orientation)
        != (src.format, src.stored.0, src.stored.1, src.orientation)
    {
        bad(format!(
            "input: reported {:?} {}x{} orientation {}, generated {:?} {}x{} orientation {}",
            input.format,
            input.width,
            input.height,
            input.orientation,
            src.format,
            src.stored.0,
            src.stored.1,
            src.orientation
        ));
    }
    if report.outputs.len() != recipe.outputs.len() {
        bad(format!(
            "{} outputs for {} specs",
            report.outputs.len(),
            recipe.outputs.len()
        ));
        return;
    }
    let orientation = if recipe.auto_orient {
        Orientation::from_exif(src.orientation).unwrap_or(Orientation::NoTransforms)
    } else {
        Orientation::NoTransforms
    };
    let upright = upright(src, recipe);
    let mut largest = 0u64;
    for ((spec, out), p) in recipe.outputs.iter().zip(&report.outputs).zip(plans) {
        let n = &spec.name;
        let (w, h) = (out.width as u64, out.height as u64);
        largest = largest.max(w * h);
        if out.name != *n || out.format != spec.format {
            bad(format!("{n}: reported as {} {:?}", out.name, out.format));
        }
        if w == 0 || h == 0 {
            bad(format!("{n}: {w}x{h}, an empty output"));
            continue;
        }
        let (uw, uh) = (upright.0 as u64, upright.1 as u64);
        // The fit rules, stated directly.
        let both = spec
            .width
            .zip(spec.height)
            .map(|(a, b)| (a as u64, b as u64));
        let mut rule = |ok: bool, what: &str| {
            if !ok {
                bad(format!(
                    "{n}: {w}x{h} from {uw}x{uh} breaks the rule: {what}"
                ));
            }
        };
        match (both, spec.fit) {
            (Some((bw, bh)), Fit::Contain) => {
                rule((w, h) == (bw, bh), "contain is exactly the box")
            }
            (Some((bw, bh)), Fit::Cover | Fit::Fill) if !spec.without_enlargement => rule(
                (w, h) == (bw, bh),
                "cover/fill with enlargement are exactly the box",
            ),
            (Some((bw, bh)), Fit::Cover | Fit::Fill) => rule(
                (w, h) == (bw.min(uw), bh.min(uh)),
                "cover/fill without enlargement are the box capped at the source",
            ),
            _ => {
                // inside, or a one-sided box: within the box, aspect kept within
                // rounding, and touching the box unless capped at the source.
                let (bw, bh) = (spec.width.map(|v| v as u64), spec.height.map(|v| v as u64));
                rule(
                    bw.is_none_or(|b| w <= b) && bh.is_none_or(|b| h <= b),
                    "inside the box",
                );
                let lo = |v: u64, s: u64| {
                    if v <= 1 {
                        0.0
                    } else {
                        (v as f64 - 0.5) / s as f64
                    }
                };
                let hi = |v: u64, s: u64| (v as f64 + 0.5) / s as f64;
                rule(
                    lo(w, uw).max(lo(h, uh)) <= hi(w, uw).min(hi(h, uh)) + 1e-9,
                    "the aspect ratio is kept within rounding",
                );
                let touches = bw == Some(w) || bh == Some(h) || (bw.is_none() && bh.is_none());
                let capped = spec.without_enlargement && (w, h) == (uw, uh);
                rule(touches || capped, "as large as the box allows");
            }
        }
        if spec.without_enlargement && !(both.is_some() && spec.fit == Fit::Contain) {
            rule(
                w <= uw && h <= uh,
                "never larger than the source without enlargement",
            );
        }
        if (w, h) != p.size {
            bad(format!(
                "{n}: {w}x{h}, the fit rules give {}x{}",
                p.size.0, p.size.1
            ));
        }
        // The bytes.
        let Some(data) = out.data.as_ref() else {
            bad(format!("{n}: no bytes"));
            continue;
        };
        if data.len() as u64 != out.byte_len {
            bad(format!(
                "{n}: byte_len {} for {} bytes",
                out.byte_len,
                data.len()
            ));
        }
        let img = match decode_output(data) {
            Ok((f, img)) => {
                if f != image_format(spec.format) {
                    bad(format!("{n}: bytes are {f:?}, not {:?}", spec.format));
                }
                if (img.width() as u64, img.height() as u64) != (w, h) {
                    bad(format!(
                        "{n}: decodes at {}x{}, reported {w}x{h}",
                        img.width(),
                        img.height()
                    ));
                    continue;
                }
                img
            }
            Err(e) => {
                bad(format!("{n}: the bytes do not decode: {e}"));
                continue;
            }
        };
        // Lossless at the source's own size: the source's pixels.
        if let Some(reference) = &src.reference {
            if lossless(spec) && !p.resampled && !p.padded && (w, h) == (uw, uh) {
                let mut want = reference.clone();
                want.apply_orientation(orientation);
                let (want, got) = (want.to_rgba8(), img.to_rgba8());
                if want != got {
                    let (db, max) = psnr(&want, &got, 4);
                    let differ = want.pixels().zip(got.pixels()).filter(|(a, b)| a != b);
                    let (all, hidden) = differ.fold((0, 0), |(n, h), (a, b)| {
                        (n + 1, h + (a.0[3] == 0 && b.0[3] == 0) as u32)
                    });
                    bad(format!(
                        "{n}: a lossless {:?} at the source's size is not the source's pixels \
                         (PSNR {db:.1} dB, max diff {max}; {all} pixels differ, {hidden} of them \
                         fully transparent in both)",
                        spec.format
                    ));
                }
            }
        }
    }
    if report.memory_estimate < largest {
        bad(format!(
            "memory estimate {} below the largest output's {largest} pixels",
            report.memory_estimate
        ));
    }
}

/// The upright size the recipe sees.
fn upright(src: &Source, recipe: &Recipe) -> (u32, u32) {
    if recipe.auto_orient && src.orientation >= 5 {
        (src.stored.1, src.stored.0)
    } else {
        src.stored
    }
}

/// What a regression case or the generator expects of a recipe's outcome.
#[derive(Clone, Debug, Default)]
struct Expect {
    /// Made invalid on purpose (how), for generated cases.
    broken: Option<String>,
    /// A pinned outcome: `"ok"` or an error code.
    pinned: Option<String>,
}

/// Every resampled comparison with the output made alone: PSNR, largest difference,
/// and whether a JPEG source was decoded at another scale alone (printed as a summary).
static STATS: std::sync::Mutex<Vec<(f64, u8, bool)>> = std::sync::Mutex::new(Vec::new());

fn stats_line() -> String {
    let mut v = STATS.lock().unwrap().clone();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let part = |jpeg: bool| {
        let s: Vec<_> = v.iter().filter(|x| x.2 == jpeg).collect();
        match s.first() {
            None => "none".to_string(),
            Some(lo) => format!(
                "{} (lowest {:.1} dB, 5th percentile {:.1} dB, largest diff {})",
                s.len(),
                lo.0,
                s[s.len() / 20].0,
                s.iter().map(|x| x.1).max().unwrap_or(0)
            ),
        }
    };
    format!(
        "resampled outputs compared with the same made alone: from the same decode {}, \
         from a JPEG decoded at another scale alone {}",
        part(false),
        part(true)
    )
}

/// Runs one recipe (JSON text) on one source and returns every problem found.
fn check(runner: &mut Runner, src: &Source, text: &str, expect: &Expect) -> Vec<String> {
    let mut problems = Vec::new();
    let parsed = Recipe::from_json(text);
    let recipe = match (parsed, &expect.broken) {
        (Err(e), broken) => {
            if e.kind != ErrorKind::InvalidRecipe {
                problems.push(format!("from_json: {e}, expected invalid_recipe"));
            }
            if broken.is_none() && expect.pinned.as_deref() != Some("invalid_recipe") {
                problems.push(format!("a valid recipe is refused: {e}"));
            }
            // A recipe that deserialises into the struct anyway (an out-of-range
            // value) is refused by the pool as well, before any work.
            if let Ok(raw) = serde_json::from_str::<Recipe>(text) {
                let job = Job::new(src.bytes.clone()).with_recipe(raw);
                match runner.run(vec![job]).pop().unwrap() {
                    Ok(o) => match o.result {
                        Err(e)
                            if e.kind == ErrorKind::InvalidRecipe
                                && e.stage == Some(Stage::Validate) => {}
                        other => problems.push(format!(
                            "the pool ran an invalid recipe struct: {:?}",
                            other.map(|r| r.outputs.len())
                        )),
                    },
                    Err(e) => problems.push(e),
                }
            }
            return problems;
        }
        (Ok(_), Some(how)) => {
            problems.push(format!("an invalid recipe is accepted ({how})"));
            return problems;
        }
        (Ok(r), None) => r,
    };
    let u = upright(src, &recipe);
    let plans: Vec<Planned> = recipe.outputs.iter().map(|s| plan(u, s)).collect();
    let refusal = over_limits(&recipe.outputs, &plans, u, output_limits(&runner.limits));
    let several = recipe.outputs.len() > 1 && refusal.is_none();
    let mut jobs = vec![Job::new(src.bytes.clone()).with_recipe(recipe.clone())];
    if several {
        for spec in &recipe.outputs {
            let mut alone = recipe.clone();
            alone.outputs = vec![spec.clone()];
            jobs.push(Job::new(src.bytes.clone()).with_recipe(alone));
        }
    }
    let mut outcomes = runner.run(jobs).into_iter();
    let main = match outcomes.next().unwrap() {
        Ok(o) => o,
        Err(e) => {
            problems.push(e);
            return problems;
        }
    };
    let got = match &main.result {
        Ok(_) => "ok",
        Err(e) => e.kind.as_str(),
    };
    if let Some(pinned) = &expect.pinned {
        if got != pinned {
            problems.push(format!(
                "expected {pinned}, got {got}: {:?}",
                main.result.as_ref().err()
            ));
        }
    }
    let report = match (&main.result, &refusal) {
        (Err(e), _) if e.kind == ErrorKind::Panicked => {
            problems.push(format!("panicked: {e}"));
            return problems;
        }
        (Err(e), Some(_)) => {
            if e.kind != ErrorKind::LimitExceeded || e.stage != Some(Stage::Validate) {
                problems.push(format!("expected limit_exceeded at validate, got {e}"));
            }
            return problems;
        }
        (Err(e), None) => {
            problems.push(format!("failed within the limits: {e}"));
            return problems;
        }
        (Ok(_), Some(why)) => {
            problems.push(format!("succeeded past the limits: {why}"));
            return problems;
        }
        (Ok(r), None) => r,
    };
    check_report(src, &recipe, &plans, report, &mut problems);
    // Each output as if made alone.
    for ((spec, p), alone) in recipe.outputs.iter().zip(&plans).zip(outcomes) {
        let n = &spec.name;
        let alone = match alone.map(|o| o.result) {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                problems.push(format!("{n}: fails alone ({e}) but not with the others"));
                continue;
            }
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let (Some(with), Some(alone)) = (report.output(n), alone.outputs.first()) else {
            continue;
        };
        let (Some(a), Some(b)) = (with.data.as_ref(), alone.data.as_ref()) else {
            continue;
        };
        if (with.width, with.height) != (alone.width, alone.height) {
            problems.push(format!(
                "{n}: {}x{} with the others, {}x{} alone",
                with.width, with.height, alone.width, alone.height
            ));
            continue;
        }
        if !p.resampled {
            if a != b {
                problems.push(format!(
                    "{n}: not resampled, yet its bytes differ from the output made alone"
                ));
            }
            continue;
        }
        if let (Ok((_, x)), Ok((_, y))) = (decode_output(a), decode_output(b)) {
            let channels = if spec.format == OutputFormat::Jpeg {
                3
            } else {
                4
            };
            // A lossy encoder at low quality turns a level of difference in its input
            // into many in its output: those outputs are compared for size only.
            if !lossless(spec) && spec.effective_quality() < MIN_COMPARED_QUALITY {
                continue;
            }
            let (db, max) = psnr(&x.to_rgba8(), &y.to_rgba8(), channels);
            let all: Vec<&Planned> = plans.iter().collect();
            let other_shrink = src.format == InputFormat::Jpeg && shrink(&all) != shrink(&[p]);
            STATS.lock().unwrap().push((db, max, other_shrink));
            let min = if other_shrink {
                MIN_PSNR_OTHER_SHRINK_DB
            } else {
                MIN_PSNR_DB
            };
            if db < min {
                let scales = if src.format == InputFormat::Jpeg {
                    format!(
                        " (decoded at 1/{} with the others, 1/{} alone)",
                        shrink(&all),
                        shrink(&[p])
                    )
                } else {
                    String::new()
                };
                problems.push(format!(
                    "{n}: differs from the output made alone: PSNR {db:.1} dB < {min} dB, \
                     max diff {max}{scales}"
                ));
            }
        }
    }
    problems
}

// ---------------------------------------------------------------------------------
// Shrinking and reporting.

/// Removes outputs, then optional fields, while the case still fails the same way.
fn minimise(
    runner: &mut Runner,
    src: &Source,
    recipe: &Value,
    expect: &Expect,
    first: &str,
) -> Value {
    let tag = |p: &[String]| {
        p.first()
            .map(|s| s.split(':').next().unwrap_or("").to_string())
    };
    let want = first.split(':').next().unwrap_or("").to_string();
    let still = |runner: &mut Runner, r: &Value| {
        tag(&check(runner, src, &r.to_string(), expect)) == Some(want.clone())
    };
    let mut best = recipe.clone();
    let mut tries = 0;
    let mut changed = true;
    while changed && tries < 80 {
        changed = false;
        let mut candidates = Vec::new();
        let n = best["outputs"].as_array().map_or(0, |a| a.len());
        for i in 0..n {
            if n > 1 {
                let mut c = best.clone();
                c["outputs"].as_array_mut().unwrap().remove(i);
                candidates.push(c);
            }
        }
        for i in 0..n {
            let keys: Vec<String> = best["outputs"][i]
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            for k in keys
                .iter()
                .filter(|k| !["name", "format"].contains(&k.as_str()))
            {
                let mut c = best.clone();
                c["outputs"][i].as_object_mut().unwrap().remove(k);
                candidates.push(c);
            }
        }
        for k in ["auto_orient", "strip_metadata", "fail_on"] {
            if best.get(k).is_some() {
                let mut c = best.clone();
                c.as_object_mut().unwrap().remove(k);
                candidates.push(c);
            }
        }
        for c in candidates {
            tries += 1;
            if still(runner, &c) {
                best = c;
                changed = true;
                break;
            }
        }
    }
    best
}

/// A regression case from `testdata/recipes/regressions/`.
struct Regression {
    name: String,
    image: String,
    text: String,
    limits: Option<Limits>,
    expect: Expect,
}

fn regressions() -> Vec<Regression> {
    let dir = root().join("recipes/regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                v["found"].as_str().is_some_and(|s| !s.is_empty()),
                "{name}: say what was found"
            );
            let text = match (v.get("recipe"), v.get("recipe_text")) {
                (Some(r), None) => r.to_string(),
                (None, Some(t)) => t.as_str().expect("recipe_text is a string").to_string(),
                _ => panic!("{name}: exactly one of recipe and recipe_text"),
            };
            Regression {
                image: v["image"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: image"))
                    .to_string(),
                limits: v
                    .get("limits")
                    .map(|l| serde_json::from_value(l.clone()).unwrap()),
                expect: Expect {
                    broken: None,
                    pinned: v.get("expect").map(|e| e.as_str().unwrap().to_string()),
                },
                name,
                text,
            }
        })
        .collect()
}

fn save_failure(seed: u64, n: usize, case: &Value) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("recipe-space-failures");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{seed}-{n}.json"));
    let _ = std::fs::write(&path, serde_json::to_string_pretty(case).unwrap() + "\n");
}

#[test]
fn the_recipe_space_holds() {
    let mut failures: Vec<String> = Vec::new();

    // Every failure ever found, first.
    let cases = regressions();
    assert!(cases.len() >= 5, "the regression cases are missing");
    let mut default_runner = Runner::new(Limits::default());
    let mut runners: Vec<Runner> = Vec::new();
    for case in &cases {
        let src = Source::make(&case.image);
        let runner = match case.limits {
            None => &mut default_runner,
            Some(l) => {
                runners.push(Runner::new(l));
                runners.last_mut().unwrap()
            }
        };
        for p in check(runner, &src, &case.text, &case.expect) {
            failures.push(format!("regression {}: {p}", case.name));
        }
    }
    let mut replayed = default_runner.jobs + runners.iter().map(|r| r.jobs).sum::<u64>();
    for r in runners.into_iter().chain([default_runner]) {
        for id in r.finish() {
            failures.push(format!("regressions: job {id:?} had more than one outcome"));
        }
    }
    println!(
        "recipe_space: {} regression cases, {replayed} jobs",
        cases.len()
    );

    // Then the generated space, for a bounded time.
    let seed = seed();
    let mut rng = Rng(seed);
    let mut runner = Runner::new(job_limits());
    let mut sources: HashMap<String, Source> = HashMap::new();
    let (start, budget) = (Instant::now(), budget());
    let (mut recipes, mut found) = (0u64, 0usize);
    while start.elapsed() < budget && found < 10 {
        let name = Source::random_name(&mut rng);
        let src = sources
            .entry(name.clone())
            .or_insert_with(|| Source::make(&name));
        let case = random_case(&mut rng, src);
        recipes += 1;
        let expect = Expect {
            broken: case.broken.clone(),
            pinned: None,
        };
        let problems = check(&mut runner, src, &case.recipe.to_string(), &expect);
        if let Some(first) = problems.first() {
            found += 1;
            let small = minimise(&mut runner, src, &case.recipe, &expect, first);
            let again = check(&mut runner, src, &small.to_string(), &expect);
            let repro = json!({
                "image": case.image,
                "recipe": small,
                "found": again.first().unwrap_or(first),
                "seed": seed,
                "recipe_number": recipes,
            });
            save_failure(seed, found, &repro);
            failures.push(format!(
                "generated (seed {seed}, recipe {recipes}): {}\n  all: {problems:?}\n  minimal repro:\n{}",
                first,
                serde_json::to_string_pretty(&repro).unwrap()
            ));
        }
    }
    replayed = runner.jobs;
    for id in runner.finish() {
        failures.push(format!("generated: job {id:?} had more than one outcome"));
    }
    println!(
        "recipe_space: seed {seed}, {recipes} generated recipes on {} images, {replayed} jobs in {:.1} s",
        sources.len(),
        start.elapsed().as_secs_f64()
    );
    println!("recipe_space: {}", stats_line());
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
