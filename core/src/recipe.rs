//! The recipe: what to make from one input. One JSON schema, passed unchanged by every
//! binding (Rust, C, Python, JavaScript).
//!
//! ```json
//! {"outputs":[
//!    {"name":"large","width":1600,"height":1600,"fit":"inside","format":"jpeg","quality":80},
//!    {"name":"thumb","width":320,"height":320,"fit":"cover","format":"webp","quality":75}],
//!  "auto_orient":true,"strip_metadata":true}
//! ```
//!
//! # Schema
//!
//! The JSON is read strictly, the same in every door: exactly one object and nothing
//! after it; every struct as an object (never the positional array form); no unknown,
//! duplicate or `null` fields (omit a field to get its default). Anything else is
//! `invalid_recipe`, with a message naming the field.
//!
//! Top level:
//!
//! | field | type | default | meaning |
//! |---|---|---|---|
//! | `outputs` | array of output specs, 1–16 | required | what to produce |
//! | `auto_orient` | bool | `true` | apply the EXIF orientation to the pixels |
//! | `strip_metadata` | bool | `true` | write no metadata; `false` writes an ICC profile (JPEG, PNG, WebP): sRGB's with `colour: "srgb"`, the source's with `"keep"`. EXIF, XMP and GPS are never written |
//! | `colour` | `srgb` \| `keep` | `srgb` | colour management (see [`ColourMode`]): `srgb` converts pixels with an embedded profile to sRGB; `keep` leaves them and embeds the source profile |
//! | `fail_on` | `none` \| `truncated` \| `error` \| `warning` | `warning` | which damage refuses an input (sharp's `failOn`, see [`FailOn`]) |
//! | `placeholder` | `thumbhash` \| `blurhash` | none | also compute a tiny blurred preview of the (oriented) image; the outcome's `placeholder` carries it (ThumbHash as base64, BlurHash as its own 4x3-component string) |
//! | `animated` | bool | `false` | keep every frame of an animated GIF, APNG or WebP: WebP outputs become animated WebPs (the source's delays and loop count, every frame rendered with the same geometry, the output reports `frames`); other formats get the first frame and a `frames_dropped` warning. Every frame counts against the limits (`max_frames`; `max_pixels` and `max_output_pixels_total` summed over frames) and the memory estimate. Not allowed with `max_bytes` on a WebP output |
//!
//! Output spec:
//!
//! | field | type | default | meaning |
//! |---|---|---|---|
//! | `name` | string, `[A-Za-z0-9_-]{1,64}`, unique | required | the output's name, and its file name when saved |
//! | `width`, `height` | 1–16383 | none | the target box; omit one to keep the aspect ratio, both for the original size |
//! | `fit` | `inside` \| `cover` \| `contain` \| `fill` | `inside` | as sharp defines them |
//! | `without_enlargement` | bool | `true` | never scale up |
//! | `format` | `jpeg` \| `png` \| `webp` \| `avif` | required | output format (`avif` needs the `avif` cargo feature, on by default and off in the wasm build, which answers `unsupported_format`) |
//! | `quality` | 1–100 | 80 | JPEG, lossy WebP and AVIF quality |
//! | `lossless` | bool | `false` | WebP only: lossless encoding |
//! | `progressive` | bool | `false` | JPEG only: progressive scans |
//! | `compression` | 0–9 | 6 | PNG only: zlib effort |
//! | `background` | `"#rgb"`, `"#rrggbb"` or `"#rrggbbaa"` | `"#ffffff"` | flattening colour for JPEG and padding colour for `contain` |
//! | `max_bytes` | 1–2³² | none | JPEG, lossy WebP and AVIF: the largest `quality` (at most the given one, default 80) whose encoding fits in this many bytes, found by bisection in at most 7 encodes; the outcome's output reports `quality` and `encodes`. If not even quality 1 fits, the job fails with `limit_exceeded` |
//! | `position` | `centre` \| `entropy` \| `attention` | `centre` | `cover` only: which part to keep (sharp's meanings: the middle; the region of highest Shannon entropy; the region of strongest edges, saturation and skin tones). The outcome's output reports the `crop` box |
//! | `speed` | 1–10 | 6 | AVIF only: rav1e's speed preset (1 slowest and smallest) |
//!
//! Fit modes, for a target box `width`×`height` (with `without_enlargement` the scale is
//! capped at 1):
//! - `inside`: keep the aspect ratio, as large as possible within the box.
//! - `cover`: keep the aspect ratio, cover the box, crop to exactly the box (centred,
//!   or where `position` finds the interesting part).
//! - `contain`: keep the aspect ratio, fit within the box, pad to exactly the box.
//! - `fill`: ignore the aspect ratio, stretch to exactly the box.
//!
//! With only one of `width`/`height` every fit behaves like `inside`.
//!
//! The sizes this gives are bounded before any pixel is decoded: each output against
//! its format's ceiling (WebP 16 383 px a side, JPEG 65 500) and the pool's
//! [`Limits`](crate::Limits) (`max_output_width`, `max_output_height`,
//! `max_output_pixels`, and `max_output_pixels_total` over all outputs); past them
//! the job fails with `limit_exceeded`, naming the output, its size and the limit.
//! Outputs are never 0 pixels wide or high.

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, ErrorKind, Stage};
use crate::format::OutputFormat;

/// The largest width or height an output may ask for (WebP's limit, 16383).
pub const MAX_OUTPUT_DIMENSION: u32 = 16383;
/// The largest number of outputs one recipe may ask for.
pub const MAX_OUTPUTS: usize = 16;

/// What to make from one input: one or more outputs plus whole-image options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// The outputs, in order. One decode feeds all of them.
    #[serde(deserialize_with = "crate::json::objects")]
    pub outputs: Vec<OutputSpec>,
    /// Apply the EXIF orientation to the pixels. Default `true`.
    #[serde(default = "yes")]
    pub auto_orient: bool,
    /// Write no metadata. `false` writes an ICC profile (JPEG, PNG, WebP): sRGB's, or the
    /// source's with [`ColourMode::Keep`] (which embeds it either way). Default `true`.
    #[serde(default = "yes")]
    pub strip_metadata: bool,
    /// Which damage refuses an input. Default [`FailOn::Warning`], as in sharp.
    #[serde(default, skip_serializing_if = "FailOn::is_default")]
    pub fail_on: FailOn,
    /// Colour management: convert to sRGB (the default) or keep the source profile.
    #[serde(default, skip_serializing_if = "ColourMode::is_default")]
    pub colour: ColourMode,
    /// Also compute a placeholder (a tiny blurred preview) of the oriented image; the
    /// report's `placeholder` carries it. Default none.
    #[serde(
        default,
        deserialize_with = "crate::json::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub placeholder: Option<Placeholder>,
    /// Keep every frame of an animated input (GIF, APNG, animated WebP): WebP outputs
    /// become animated WebPs with the source's frame delays and loop count, each frame
    /// rendered with the same geometry; other formats get the first frame and a
    /// `frames_dropped` warning. Every frame counts against the limits
    /// ([`Limits::max_frames`](crate::Limits), and `max_pixels` and
    /// `max_output_pixels_total` over all frames) and the memory estimate. Default
    /// `false`: the first frame only, as sharp does without `animated`. A still input
    /// gives still outputs either way. Not allowed with `max_bytes` on a WebP output.
    #[serde(default, skip_serializing_if = "is_false")]
    pub animated: bool,
}

/// Which placeholder to compute for [`Recipe::placeholder`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placeholder {
    /// [ThumbHash](https://evanw.github.io/thumbhash/), base64 (standard alphabet,
    /// padded): about 25 to 35 characters, keeps the aspect ratio and alpha.
    Thumbhash,
    /// [BlurHash](https://blurha.sh/) with 4x3 components (its own base83 text).
    Blurhash,
}

impl Placeholder {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Placeholder::Thumbhash => "thumbhash",
            Placeholder::Blurhash => "blurhash",
        }
    }
}

/// Which part of the image `fit: "cover"` keeps (sharp's `position` strategies).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// The middle (the default).
    #[default]
    Centre,
    /// The region with the highest Shannon entropy: the edge with less detail is cut
    /// away, step by step, until the crop has the box's aspect ratio.
    Entropy,
    /// The region that draws the eye: strongest luminance edges, saturation and skin
    /// tones.
    Attention,
}

impl Position {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Position::Centre => "centre",
            Position::Entropy => "entropy",
            Position::Attention => "attention",
        }
    }

    fn is_default(&self) -> bool {
        *self == Position::Centre
    }
}

// -- colour management (issue 14) ------------------------------------------------------

/// What happens to an input's colour profile (an embedded ICC profile, or a PNG's
/// `cICP` chunk). The recipe's `colour` field.
///
/// | `colour` | pixels | profile in outputs |
/// |---|---|---|
/// | `srgb` (default) | converted from the source profile to sRGB before resizing | none with `strip_metadata: true`; sRGB's (480 bytes) with `false` |
/// | `keep` | left as decoded | the source profile, whatever `strip_metadata` says (JPEG, PNG and WebP) |
///
/// A profile that cannot be used (unreadable, truncated, larger than
/// [`Limits::max_icc_bytes`](crate::Limits), or for another colour model than the
/// image's) never fails the job: it is ignored, the pixels are taken as sRGB, and the
/// report's `warnings` say so. CMYK and YCCK JPEGs go through their CMYK profile.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColourMode {
    /// Convert to sRGB, as sharp and libvips do when they strip the profile.
    #[default]
    Srgb,
    /// Leave the pixels in the source's colour space and embed its profile.
    Keep,
}

impl ColourMode {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ColourMode::Srgb => "srgb",
            ColourMode::Keep => "keep",
        }
    }

    fn is_default(&self) -> bool {
        *self == ColourMode::default()
    }
}

// -- end of colour management -----------------------------------------------------------

/// How damaged an input may be and still be accepted: sharp's `failOn` levels, from
/// the most lenient to the strictest. Each level refuses what the ones before it
/// refuse.
///
/// Which damage a decoder can survive depends on the format. A JPEG decoder can go on
/// past damage: with `none` a truncated JPEG gives a partial image (libjpeg fills the
/// missing rows with grey) and corrupt entropy-coded data is decoded as well as it
/// can be. The other formats' decoders stop at any damage, so for them every level
/// refuses a truncated or corrupt file. Bad headers and limits always fail, whatever
/// the level.
#[non_exhaustive]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum FailOn {
    /// Accept whatever a decoder can make an image of.
    None,
    /// Refuse inputs that end before the image does.
    Truncated,
    /// Also refuse inputs the decoder reports as broken (the same as `truncated`
    /// for JPEG, whose decoder reports data damage as warnings).
    Error,
    /// Also refuse inputs the decoder warns about (corrupt JPEG data). The default.
    #[default]
    Warning,
}

impl FailOn {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            FailOn::None => "none",
            FailOn::Truncated => "truncated",
            FailOn::Error => "error",
            FailOn::Warning => "warning",
        }
    }

    fn is_default(&self) -> bool {
        *self == FailOn::default()
    }
}

/// One output of a [`Recipe`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// The output's name, unique in the recipe; also its file name when saved.
    pub name: String,
    /// Target box width.
    #[serde(
        default,
        deserialize_with = "crate::json::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub width: Option<u32>,
    /// Target box height.
    #[serde(
        default,
        deserialize_with = "crate::json::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub height: Option<u32>,
    /// How the image fits the box.
    #[serde(default)]
    pub fit: Fit,
    /// Never scale up. Default `true`.
    #[serde(default = "yes")]
    pub without_enlargement: bool,
    /// Output format.
    pub format: OutputFormat,
    /// Quality for JPEG and lossy WebP, 1–100. Default 80.
    #[serde(
        default,
        deserialize_with = "crate::json::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub quality: Option<u32>,
    /// WebP only: lossless.
    #[serde(default, skip_serializing_if = "is_false")]
    pub lossless: bool,
    /// JPEG only: progressive.
    #[serde(default, skip_serializing_if = "is_false")]
    pub progressive: bool,
    /// PNG only: compression level 0–9. Default 6.
    #[serde(
        default,
        deserialize_with = "crate::json::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub compression: Option<u32>,
    /// Flattening colour for JPEG, padding colour for `contain`. Default white.
    #[serde(
        default,
        deserialize_with = "crate::json::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub background: Option<Color>,
    /// JPEG, lossy WebP and AVIF: the byte budget. The largest quality up to
    /// [`effective_quality`](Self::effective_quality) whose encoding fits is chosen.
    #[serde(
        default,
        deserialize_with = "crate::json::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_bytes: Option<u64>,
    /// `cover` only: which part of the image to keep. Default [`Position::Centre`].
    #[serde(default, skip_serializing_if = "Position::is_default")]
    pub position: Position,
    /// AVIF only: the encoder's speed preset, 1 (slowest, smallest) to 10. Default 6.
    #[serde(
        default,
        deserialize_with = "crate::json::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub speed: Option<u32>,
}

/// The largest `max_bytes` a recipe may ask for (4 GiB).
pub const MAX_BYTES_LIMIT: u64 = 1 << 32;

fn yes() -> bool {
    true
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// How an image fits a target box (sharp's definitions).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fit {
    /// Keep the aspect ratio, as large as possible within the box.
    #[default]
    Inside,
    /// Keep the aspect ratio, cover the box, centre-crop to the box.
    Cover,
    /// Keep the aspect ratio, fit within the box, pad to the box.
    Contain,
    /// Stretch to the box.
    Fill,
}

/// An RGBA colour, written in JSON as `"#rgb"`, `"#rrggbb"` or `"#rrggbbaa"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Color(pub [u8; 4]);

impl Color {
    /// Opaque white, the default background.
    pub const WHITE: Color = Color([255, 255, 255, 255]);
}

impl FromStr for Color {
    type Err = String;
    fn from_str(s: &str) -> Result<Color, String> {
        let hex = s
            .strip_prefix('#')
            .ok_or_else(|| format!("colour must start with '#', got {s:?}"))?;
        let nib = |c: u8| -> Result<u8, String> {
            (c as char)
                .to_digit(16)
                .map(|d| d as u8)
                .ok_or_else(|| format!("colour has a non-hex digit: {s:?}"))
        };
        let b = hex.as_bytes();
        let byte = |i: usize| -> Result<u8, String> { Ok(nib(b[i])? << 4 | nib(b[i + 1])?) };
        match b.len() {
            3 => {
                let (r, g, bl) = (nib(b[0])?, nib(b[1])?, nib(b[2])?);
                Ok(Color([r * 17, g * 17, bl * 17, 255]))
            }
            6 => Ok(Color([byte(0)?, byte(2)?, byte(4)?, 255])),
            8 => Ok(Color([byte(0)?, byte(2)?, byte(4)?, byte(6)?])),
            _ => Err(format!(
                "colour must be #rgb, #rrggbb or #rrggbbaa, got {s:?}"
            )),
        }
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [r, g, b, a] = self.0;
        if a == 255 {
            write!(f, "#{r:02x}{g:02x}{b:02x}")
        } else {
            write!(f, "#{r:02x}{g:02x}{b:02x}{a:02x}")
        }
    }
}

impl Serialize for Color {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Color {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Color, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl OutputSpec {
    /// A new output spec with defaults: `fit: inside`, no enlargement, default quality.
    pub fn new(name: impl Into<String>, format: OutputFormat) -> OutputSpec {
        OutputSpec {
            name: name.into(),
            width: None,
            height: None,
            fit: Fit::Inside,
            without_enlargement: true,
            format,
            quality: None,
            lossless: false,
            progressive: false,
            compression: None,
            background: None,
            max_bytes: None,
            position: Position::Centre,
            speed: None,
        }
    }

    /// Sets the target box.
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.width = Some(width);
        self.height = Some(height);
        self
    }

    /// Sets the fit mode.
    pub fn fit(mut self, fit: Fit) -> Self {
        self.fit = fit;
        self
    }

    /// Sets the quality (1–100).
    pub fn quality(mut self, quality: u32) -> Self {
        self.quality = Some(quality);
        self
    }

    /// Sets whether the image may be enlarged (`false` means it may).
    pub fn without_enlargement(mut self, v: bool) -> Self {
        self.without_enlargement = v;
        self
    }

    /// The quality to encode with: the given one or 80.
    pub fn effective_quality(&self) -> u8 {
        self.quality.unwrap_or(80).clamp(1, 100) as u8
    }

    /// Sets the byte budget ([`OutputSpec::max_bytes`]).
    pub fn max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = Some(max_bytes);
        self
    }

    /// Sets the `cover` crop position.
    pub fn position(mut self, position: Position) -> Self {
        self.position = position;
        self
    }

    /// The AVIF speed preset: the given one or 6.
    pub fn effective_speed(&self) -> u8 {
        self.speed.unwrap_or(6).clamp(1, 10) as u8
    }

    /// The PNG compression level: the given one or 6.
    pub fn effective_compression(&self) -> u8 {
        self.compression.unwrap_or(6).min(9) as u8
    }

    /// The background: the given one or opaque white.
    pub fn effective_background(&self) -> Color {
        self.background.unwrap_or(Color::WHITE)
    }

    fn validate(&self, i: usize) -> Result<(), Error> {
        let field = |f: &str| format!("outputs[{i}].{f}");
        let bad = |f: &str, msg: String| invalid(format!("{}: {msg}", field(f)));
        if !valid_name(&self.name) {
            return Err(bad(
                "name",
                format!(
                    "must be 1-64 characters of A-Z a-z 0-9 _ -, got {:?}",
                    self.name
                ),
            ));
        }
        for (f, v) in [("width", self.width), ("height", self.height)] {
            if let Some(v) = v {
                if v == 0 || v > MAX_OUTPUT_DIMENSION {
                    return Err(bad(
                        f,
                        format!("must be between 1 and {MAX_OUTPUT_DIMENSION}, got {v}"),
                    ));
                }
            }
        }
        if let Some(q) = self.quality {
            if !(1..=100).contains(&q) {
                return Err(bad(
                    "quality",
                    format!("must be between 1 and 100, got {q}"),
                ));
            }
            if self.format == OutputFormat::Png {
                return Err(bad("quality", "applies to jpeg, webp and avif only".into()));
            }
        }
        if let Some(c) = self.compression {
            if c > 9 {
                return Err(bad(
                    "compression",
                    format!("must be between 0 and 9, got {c}"),
                ));
            }
            if self.format != OutputFormat::Png {
                return Err(bad("compression", "applies to png only".into()));
            }
        }
        if self.lossless && self.format != OutputFormat::Webp {
            return Err(bad("lossless", "applies to webp only".into()));
        }
        if self.progressive && self.format != OutputFormat::Jpeg {
            return Err(bad("progressive", "applies to jpeg only".into()));
        }
        self.validate_features(i)
    }

    /// The fields of the byte budget, smart crop and AVIF.
    fn validate_features(&self, i: usize) -> Result<(), Error> {
        let bad = |f: &str, msg: &str| invalid(format!("outputs[{i}].{f}: {msg}"));
        if let Some(b) = self.max_bytes {
            if b == 0 || b > MAX_BYTES_LIMIT {
                return Err(bad(
                    "max_bytes",
                    &format!("must be between 1 and {MAX_BYTES_LIMIT}, got {b}"),
                ));
            }
            if self.format == OutputFormat::Png || self.lossless {
                return Err(bad(
                    "max_bytes",
                    "applies to lossy formats only (jpeg, webp without lossless, avif)",
                ));
            }
        }
        if self.position != Position::Centre && self.fit != Fit::Cover {
            return Err(bad("position", "applies to fit \"cover\" only"));
        }
        if let Some(s) = self.speed {
            if !(1..=10).contains(&s) {
                return Err(bad("speed", &format!("must be between 1 and 10, got {s}")));
            }
            if self.format != OutputFormat::Avif {
                return Err(bad("speed", "applies to avif only"));
            }
        }
        Ok(())
    }
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidRecipe, message).at(Stage::Validate)
}

impl Recipe {
    /// A recipe with these outputs and the default options.
    pub fn new(outputs: Vec<OutputSpec>) -> Recipe {
        Recipe {
            outputs,
            auto_orient: true,
            strip_metadata: true,
            fail_on: FailOn::default(),
            colour: ColourMode::default(),
            placeholder: None,
            animated: false,
        }
    }

    /// Parses and validates recipe JSON. Errors are `invalid_recipe` and name the field,
    /// e.g. `outputs[1].quality: must be between 1 and 100, got 0`.
    ///
    /// The reading is strict: exactly one JSON object (nothing after it), every struct
    /// as an object (never the positional array form), no duplicate or unknown keys,
    /// and no `null` (omit a field for its default).
    pub fn from_json(json: &str) -> Result<Recipe, Error> {
        let recipe: Recipe = crate::json::parse(json).map_err(invalid)?;
        recipe.validate()?;
        Ok(recipe)
    }

    /// The recipe as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a recipe always serialises")
    }

    /// Checks every field; errors are `invalid_recipe` and name the field.
    pub fn validate(&self) -> Result<(), Error> {
        if self.outputs.is_empty() {
            return Err(invalid("outputs: at least one output is required".into()));
        }
        if self.outputs.len() > MAX_OUTPUTS {
            return Err(invalid(format!(
                "outputs: at most {MAX_OUTPUTS} outputs, got {}",
                self.outputs.len()
            )));
        }
        for (i, out) in self.outputs.iter().enumerate() {
            out.validate(i)?;
            if self.animated && out.max_bytes.is_some() && out.format == OutputFormat::Webp {
                return Err(invalid(format!(
                    "outputs[{i}].max_bytes: not supported on a WebP output with \
                     animated: true (the budget would have to be shared among frames)"
                )));
            }
            // At most MAX_OUTPUTS names: a scan is cheaper than a hash set.
            if self.outputs[..i].iter().any(|o| o.name == out.name) {
                return Err(invalid(format!(
                    "outputs[{i}].name: {:?} is used twice",
                    out.name
                )));
            }
        }
        Ok(())
    }
}

/// A recipe that passed [`Recipe::validate`]: what a door makes of a recipe once, when
/// it takes it, and what the pipeline then trusts without checking again
/// ([`pipeline::run_valid`](crate::pipeline::run_valid),
/// [`Job::with_valid_recipe`](crate::Job::with_valid_recipe)). Cheap to clone (shared).
///
/// ```
/// let recipe = conveyor::ValidRecipe::from_json(
///     r#"{"outputs":[{"name":"thumb","width":320,"format":"webp"}]}"#,
/// ).unwrap();
/// assert_eq!(recipe.outputs[0].name, "thumb");
/// assert!(conveyor::ValidRecipe::new(conveyor::Recipe::new(vec![])).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ValidRecipe(Arc<Recipe>);

impl ValidRecipe {
    /// Validates `recipe`; the error is `invalid_recipe` naming the field.
    pub fn new(recipe: impl Into<Arc<Recipe>>) -> Result<ValidRecipe, Error> {
        let recipe = recipe.into();
        recipe.validate()?;
        Ok(ValidRecipe(recipe))
    }

    /// Parses and validates recipe JSON, as [`Recipe::from_json`] does.
    pub fn from_json(json: &str) -> Result<ValidRecipe, Error> {
        Recipe::from_json(json).map(|r| ValidRecipe(Arc::new(r)))
    }

    /// Wraps a recipe its caller has just validated.
    pub(crate) fn trusted(recipe: Arc<Recipe>) -> ValidRecipe {
        ValidRecipe(recipe)
    }

    /// The recipe.
    pub fn recipe(&self) -> &Recipe {
        &self.0
    }

    /// The shared recipe.
    pub fn as_arc(&self) -> &Arc<Recipe> {
        &self.0
    }
}

impl Deref for ValidRecipe {
    type Target = Recipe;
    fn deref(&self) -> &Recipe {
        &self.0
    }
}

impl Default for ValidRecipe {
    /// [`Recipe::default`], which is valid.
    fn default() -> ValidRecipe {
        ValidRecipe(Arc::new(Recipe::default()))
    }
}

impl TryFrom<Recipe> for ValidRecipe {
    type Error = Error;
    fn try_from(recipe: Recipe) -> Result<ValidRecipe, Error> {
        ValidRecipe::new(recipe)
    }
}

impl FromStr for ValidRecipe {
    type Err = Error;
    fn from_str(s: &str) -> Result<ValidRecipe, Error> {
        ValidRecipe::from_json(s)
    }
}

impl Serialize for ValidRecipe {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl Default for Recipe {
    /// The standard upload workload: a 1600 px JPEG (quality 80) and a 320 px WebP
    /// thumbnail (quality 75), both `inside`, never enlarged, metadata stripped.
    fn default() -> Recipe {
        Recipe::new(vec![
            OutputSpec::new("large", OutputFormat::Jpeg)
                .size(1600, 1600)
                .quality(80),
            OutputSpec::new("thumb", OutputFormat::Webp)
                .size(320, 320)
                .quality(75),
        ])
    }
}

impl FromStr for Recipe {
    type Err = Error;
    fn from_str(s: &str) -> Result<Recipe, Error> {
        Recipe::from_json(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let r = Recipe::from_json(r#"{"outputs":[{"name":"large","width":1600,"height":1600,"fit":"inside","format":"jpeg","quality":80},{"name":"thumb","width":320,"height":320,"fit":"cover","format":"webp","quality":75}],"auto_orient":true,"strip_metadata":true}"#).unwrap();
        assert_eq!(r.outputs.len(), 2);
        assert_eq!(r.outputs[1].fit, Fit::Cover);
        assert!(r.outputs[0].without_enlargement);
        let again = Recipe::from_json(&r.to_json()).unwrap();
        assert_eq!(again, r);
    }

    #[test]
    fn unknown_fields_are_refused_naming_the_field() {
        let e = Recipe::from_json(r#"{"outputs":[{"name":"a","format":"png","colour":1}]}"#)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRecipe);
        assert!(e.message.contains("colour"), "{}", e.message);
        assert!(e.message.contains("outputs[0]"), "{}", e.message);
    }

    #[test]
    fn out_of_range_values_name_the_field() {
        for (json, needle) in [
            (
                r#"{"outputs":[{"name":"a","format":"jpeg","quality":0}]}"#,
                "outputs[0].quality",
            ),
            (
                r#"{"outputs":[{"name":"a","format":"jpeg"},{"name":"b","format":"png","width":0}]}"#,
                "outputs[1].width",
            ),
            (
                r#"{"outputs":[{"name":"a","format":"png","compression":10}]}"#,
                "outputs[0].compression",
            ),
            (
                r#"{"outputs":[{"name":"../x","format":"png"}]}"#,
                "outputs[0].name",
            ),
            (
                r#"{"outputs":[{"name":"a","format":"gif"}]}"#,
                "outputs[0].format",
            ),
            (
                r#"{"outputs":[{"name":"a","format":"png","fit":"squash"}]}"#,
                "outputs[0].fit",
            ),
            (
                r#"{"outputs":[{"name":"a","format":"png","background":"red"}]}"#,
                "outputs[0].background",
            ),
            (
                r#"{"outputs":[{"name":"a","format":"jpeg","lossless":true}]}"#,
                "outputs[0].lossless",
            ),
            (
                r#"{"outputs":[{"name":"a","format":"jpeg"},{"name":"a","format":"png"}]}"#,
                "outputs[1].name",
            ),
            (r#"{"outputs":[]}"#, "outputs"),
            (r#"{"auto_orient":true}"#, "outputs"),
            (
                r#"{"outputs":[{"name":"a","format":"jpeg","width":-5}]}"#,
                "outputs[0].width",
            ),
        ] {
            let e = Recipe::from_json(json).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidRecipe, "{json}");
            assert!(e.message.contains(needle), "{json}: {}", e.message);
        }
        assert_eq!(
            Recipe::from_json("not json").unwrap_err().kind,
            ErrorKind::InvalidRecipe
        );
    }

    #[test]
    fn only_the_documented_shape_is_accepted() {
        let ok = r#"{"outputs":[{"name":"a","format":"png"}]}"#;
        Recipe::from_json(ok).unwrap();
        Recipe::from_json(&format!(" \n{ok}\n ")).unwrap();
        for (json, needle) in [
            (format!("{ok} {ok}"), "unexpected data after the JSON value"),
            (format!("{ok}x"), "unexpected data after the JSON value"),
            (format!("{ok}]"), "unexpected data after the JSON value"),
            (
                r#"[[{"name":"a","format":"png"}]]"#.into(),
                "expected an object",
            ),
            (
                r#"{"outputs":[["a",10,10,"inside",true,"png"]]}"#.into(),
                "outputs[0]: invalid type: sequence, expected an object",
            ),
            (
                r#"{"outputs":[{"name":"a","format":"png","format":"jpeg"}]}"#.into(),
                "duplicate field `format`",
            ),
            (
                r#"{"outputs":[{"name":"a","format":"png"}],"auto_orient":true,"auto_orient":false}"#
                    .into(),
                "duplicate field `auto_orient`",
            ),
            (
                r#"{"outputs":[{"name":"a","format":"png","width":null}]}"#.into(),
                "outputs[0].width: invalid type: null",
            ),
            (
                r#"{"outputs":{"name":"a","format":"png"}}"#.into(),
                "expected an array of objects",
            ),
            (
                r#"{"outputs":[{"name":"a","format":"png","width":1.5}]}"#.into(),
                "outputs[0].width",
            ),
            (
                r#"{"outputs":[{"name":"a","format":"png","width":"10"}]}"#.into(),
                "outputs[0].width",
            ),
            (
                r#"{"outputs":[{"name":"a","format":"png","width":4294967296}]}"#.into(),
                "outputs[0].width",
            ),
            ("".into(), "EOF"),
        ] {
            let e = Recipe::from_json(&json).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidRecipe, "{json}");
            assert!(e.message.contains(needle), "{json}: {}", e.message);
        }
    }

    #[test]
    fn pool_config_settings_and_limits_are_read_as_strictly() {
        use crate::{Limits, PoolConfig, Settings};
        assert_eq!(
            PoolConfig::from_json(r#"{"workers":2,"limits":null}"#)
                .unwrap()
                .workers,
            Some(2)
        );
        for json in [
            r#"{"workers":2} {"workers":3}"#,
            r#"[2,8]"#,
            r#"{"limits":[1,2,3]}"#,
            r#"{"workers":2,"workers":3}"#,
            r#"{"default_recipe":{"outputs":[["a"]]}}"#,
        ] {
            let e = PoolConfig::from_json(json).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument, "{json}: {}", e.message);
        }
        assert!(Settings::from_json(r#"{"limits":{"max_pixels":5}} x"#).is_err());
        assert!(Settings::from_json(r#"{"limits":[5]}"#).is_err());
        assert_eq!(
            Limits::from_json(r#"{"max_output_pixels":7}"#)
                .unwrap()
                .max_output_pixels,
            7
        );
        assert!(Limits::from_json(r#"{"max_pixels":1}{}"#).is_err());
        assert!(Limits::from_json(r#"{"max_pixelz":1}"#).is_err());
    }

    #[test]
    fn colours_parse_and_print() {
        assert_eq!("#fff".parse::<Color>().unwrap(), Color::WHITE);
        assert_eq!(
            "#102030".parse::<Color>().unwrap(),
            Color([16, 32, 48, 255])
        );
        assert_eq!(
            "#10203040".parse::<Color>().unwrap(),
            Color([16, 32, 48, 64])
        );
        assert_eq!(Color([16, 32, 48, 64]).to_string(), "#10203040");
        assert!("#12".parse::<Color>().is_err());
        assert!("#gggggg".parse::<Color>().is_err());
    }

    #[test]
    fn default_recipe_is_the_upload_workload() {
        let r = Recipe::default();
        r.validate().unwrap();
        assert_eq!(r.outputs[0].format, OutputFormat::Jpeg);
        assert_eq!(r.outputs[1].effective_quality(), 75);
    }
}
