//! Colour management: the input's colour profile (an embedded ICC profile, or a PNG's
//! `cICP` chunk) is read once after the header, and the decoded pixels are converted
//! to sRGB before anything else touches them (the recipe's `colour: "srgb"`), or left
//! alone with the profile embedded in the outputs (`"keep"`).
//!
//! The engine is [moxcms](https://docs.rs/moxcms) (pure Rust, so the wasm build converts
//! the same way; matrix-shaper and LUT profiles, RGB, grey and CMYK; already in the
//! dependency tree through `image`). The conversion runs in place, a band of pixels at
//! a time through a small scratch buffer, with the job's check between bands.
//!
//! A profile that cannot be used never fails the job: it is ignored, the pixels are
//! taken as sRGB, and a [`Warning`] says why. What does not live here: reading the
//! profile's bytes out of the file (`decode.rs`, `jpeg.rs`, bounded by
//! `max_icc_bytes`) and writing one into an output (`encode.rs`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use moxcms::{
    CicpColorPrimaries, CicpProfile, ColorProfile, DataColorSpace, Layout as CmsLayout,
    MatrixCoefficients, ProfileClass, RenderingIntent, TransferCharacteristics,
    Transform8BitExecutor, TransformOptions,
};

use super::pixels::{Layout, Pixels};
use crate::error::{Error, ErrorKind, Stage};
use crate::outcome::{Warning, WarningKind};
use crate::recipe::ColourMode;

/// A compact sRGB profile (480 bytes, CC0; saucecontrol's Compact-ICC-Profiles), written
/// into colour outputs that keep metadata (`icc/README.md`).
pub(crate) const SRGB_ICC: &[u8] = include_bytes!("icc/sRGB-v4.icc");
/// Grey with sRGB's tone curve (360 bytes, same source), for grey outputs.
pub(crate) const SGREY_ICC: &[u8] = include_bytes!("icc/sGrey-v4.icc");

/// Pixels converted between two checks.
const BAND_PIXELS: usize = 64 * 1024;

/// What the header says about colour, before any pixel is decoded.
#[derive(Debug, Default)]
pub(crate) struct Found {
    /// The embedded ICC profile, when it fits `max_icc_bytes`.
    pub icc: Option<Vec<u8>>,
    /// A profile was present but larger than `max_icc_bytes` (the limit).
    pub icc_over: Option<u32>,
    /// A profile was present but could not be extracted (why).
    pub icc_unreadable: Option<String>,
    /// A PNG's `cICP` chunk: primaries, transfer, matrix, full range.
    pub cicp: Option<[u8; 4]>,
}

/// The source profile, parsed.
enum Source {
    /// Nothing to do: no profile, or one that was ignored.
    None,
    /// An ICC profile (or one built from `cICP`) for the decoded pixels.
    Profile(Box<ColorProfile>),
}

/// One job's colour decisions. Built once from the header ([`Colour::new`]), used by
/// the JPEG decoder for CMYK ([`Colour::cmyk`]), then on the decoded pixels
/// ([`Colour::apply`]) and by every output ([`Colour::embed`]).
pub(crate) struct Colour {
    mode: ColourMode,
    strip_metadata: bool,
    source: Source,
    /// The source's ICC bytes, kept for `keep`.
    icc: Option<Vec<u8>>,
    /// Whether the pixels were converted to sRGB.
    converted: bool,
    /// What was worked around.
    pub warnings: Vec<Warning>,
}

fn ignored(warnings: &mut Vec<Warning>, why: impl std::fmt::Display, mode: ColourMode) {
    let then = match mode {
        ColourMode::Srgb => "used as sRGB",
        ColourMode::Keep => "not kept; used as sRGB",
    };
    let mut message = format!("embedded ICC profile {why}: {then}");
    truncate(&mut message);
    warnings.push(Warning::new(WarningKind::IccIgnored, message));
}

/// Keeps a message to one short line (a parser's error may quote the file).
fn truncate(message: &mut String) {
    message.retain(|c| !c.is_control());
    if message.len() > 300 {
        let mut end = 297;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push_str("...");
    }
}

/// Runs a call into the colour engine, which parses untrusted bytes: a panic in it
/// becomes an error (the profile is then ignored), never a failed job.
fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err("the colour engine failed".into()))
}

/// A profile built from a PNG `cICP` chunk, or why it is not converted here.
fn from_cicp(c: [u8; 4]) -> Result<Option<ColorProfile>, String> {
    let [primaries, transfer, matrix, full] = c;
    if matrix != 0 || full != 1 {
        return Err(format!(
            "names matrix {matrix} / full range {full} (PNG allows RGB, full range only)"
        ));
    }
    // sRGB's own primaries and curve: nothing to convert.
    if primaries == 1 && transfer == 13 {
        return Ok(None);
    }
    if matches!(transfer, 16 | 18) {
        return Err(format!(
            "names an HDR transfer function ({}); HDR is not converted",
            if transfer == 16 { "PQ" } else { "HLG" }
        ));
    }
    // ITU-T H.273 codes with a defined RGB gamut and an SDR curve.
    if !matches!(primaries, 1 | 4..=9 | 11 | 12 | 22) || !matches!(transfer, 1 | 4..=8 | 13..=15) {
        return Err(format!(
            "names primaries {primaries} / transfer {transfer}, which are not converted"
        ));
    }
    let p = CicpColorPrimaries::try_from(primaries).map_err(|e| e.to_string())?;
    let t = TransferCharacteristics::try_from(transfer).map_err(|e| e.to_string())?;
    Ok(Some(ColorProfile::new_from_cicp(CicpProfile {
        color_primaries: p,
        transfer_characteristics: t,
        matrix_coefficients: MatrixCoefficients::Identity,
        full_range: true,
    })))
}

impl Colour {
    /// Decides what to do with what the header found; never fails (a profile that
    /// cannot be used becomes a warning).
    pub(crate) fn new(mode: ColourMode, strip_metadata: bool, found: Found) -> Colour {
        let mut warnings = Vec::new();
        let mut c = Colour {
            mode,
            strip_metadata,
            source: Source::None,
            icc: None,
            converted: false,
            warnings: Vec::new(),
        };
        if let Some(limit) = found.icc_over {
            ignored(
                &mut warnings,
                format_args!("is larger than max_icc_bytes ({limit} bytes)"),
                mode,
            );
        }
        if let Some(why) = &found.icc_unreadable {
            ignored(&mut warnings, format_args!("is unreadable ({why})"), mode);
        }
        // A PNG's cICP chunk takes precedence over its ICC profile (PNG, 3rd edition).
        if let Some(cicp) = found.cicp {
            match guarded(|| from_cicp(cicp)) {
                Ok(Some(profile)) if mode == ColourMode::Srgb => {
                    c.source = Source::Profile(Box::new(profile));
                    c.warnings = warnings;
                    return c;
                }
                Ok(None) => {
                    c.warnings = warnings;
                    return c;
                }
                Ok(Some(_)) => warnings.push(Warning::new(
                    WarningKind::CicpIgnored,
                    "PNG cICP chunk is not written into outputs with colour \"keep\"",
                )),
                Err(why) => {
                    let mut message = format!("PNG cICP chunk {why}: used the ICC profile or sRGB");
                    truncate(&mut message);
                    warnings.push(Warning::new(WarningKind::CicpIgnored, message));
                }
            }
        }
        if let Some(icc) = found.icc {
            match guarded(|| ColorProfile::new_from_slice(&icc).map_err(|e| e.to_string())) {
                Ok(p) if !usable_class(p.profile_class) => ignored(
                    &mut warnings,
                    format_args!("is a {:?} profile, not an image's", p.profile_class),
                    mode,
                ),
                Ok(p)
                    if !matches!(
                        p.color_space,
                        DataColorSpace::Rgb | DataColorSpace::Gray | DataColorSpace::Cmyk
                    ) =>
                {
                    ignored(
                        &mut warnings,
                        format_args!(
                            "is for {:?} data (RGB, grey and CMYK are converted)",
                            p.color_space
                        ),
                        mode,
                    )
                }
                Ok(p) => {
                    c.source = Source::Profile(Box::new(p));
                    c.icc = Some(icc);
                }
                Err(e) => ignored(
                    &mut warnings,
                    format_args!("is unreadable ({} bytes: {e})", icc.len()),
                    mode,
                ),
            }
        }
        c.warnings = warnings;
        c
    }

    fn profile(&self) -> Option<&ColorProfile> {
        match &self.source {
            Source::Profile(p) => Some(p),
            Source::None => None,
        }
    }

    /// Drops the source profile with a warning.
    fn give_up(&mut self, why: impl std::fmt::Display) {
        ignored(&mut self.warnings, why, self.mode);
        self.source = Source::None;
        self.icc = None;
    }

    /// For a CMYK (or YCCK) JPEG: the conversion of its decoded CMYK through the
    /// embedded CMYK profile, whatever the mode (outputs are RGB, so a CMYK profile is
    /// never kept). `None` when there is no usable CMYK profile (the decoder then
    /// converts without one; a profile for another colour model is ignored, with a
    /// warning).
    pub(crate) fn cmyk(&mut self) -> Option<Cmyk> {
        let p = self.profile()?;
        if p.color_space != DataColorSpace::Cmyk {
            let space = p.color_space;
            self.give_up(format_args!("is for {space:?} data, on a CMYK image"));
            return None;
        }
        let srgb = ColorProfile::new_srgb();
        match guarded(|| transform(p, CmsLayout::Rgba, &srgb, CmsLayout::Rgb)) {
            Ok(t) => {
                self.converted = true;
                Some(Cmyk(t))
            }
            Err(e) => {
                self.give_up(format_args!("cannot convert CMYK ({e})"));
                None
            }
        }
    }

    /// Converts decoded pixels to sRGB (mode `srgb`); with `keep`, or without a usable
    /// profile, leaves them as they are. `check` runs between bands.
    pub(crate) fn apply(
        &mut self,
        px: &mut Pixels,
        check: &dyn Fn() -> Result<(), Error>,
    ) -> Result<(), Error> {
        let Some(p) = self.profile() else {
            return Ok(());
        };
        if p.color_space == DataColorSpace::Cmyk {
            if !self.converted {
                self.give_up("is a CMYK profile on an image decoded as RGB or grey");
            }
            return Ok(());
        }
        if self.mode == ColourMode::Keep {
            return Ok(());
        }
        let gray_profile = p.color_space == DataColorSpace::Gray;
        if gray_profile || px.layout == Layout::L8 {
            // One value per level: a 256-entry table, applied in place.
            let table = match guarded(|| gray_table(p)) {
                Ok(Some(t)) => t,
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.give_up(format_args!("cannot convert grey ({e})"));
                    return Ok(());
                }
            };
            let channels = px.layout.channels();
            let colour = channels.min(3);
            for (i, band) in px.buf.chunks_mut(BAND_PIXELS * channels).enumerate() {
                if i > 0 {
                    check()?;
                }
                for pixel in band.chunks_exact_mut(channels) {
                    for v in &mut pixel[..colour] {
                        *v = table[*v as usize];
                    }
                }
            }
            self.converted = true;
            return Ok(());
        }
        let layout = match px.layout {
            Layout::Rgba8 => CmsLayout::Rgba,
            _ => CmsLayout::Rgb,
        };
        let srgb = ColorProfile::new_srgb();
        let t = match guarded(|| transform(p, layout, &srgb, layout)) {
            Ok(t) => t,
            Err(e) => {
                self.give_up(format_args!("cannot convert RGB ({e})"));
                return Ok(());
            }
        };
        let channels = px.layout.channels();
        if is_identity(&*t, channels) {
            // sRGB itself, or near enough (every level within one step): leave it.
            return Ok(());
        }
        let mut scratch = super::pixels::reserve(
            BAND_PIXELS.min(px.buf.len() / channels) * channels,
            "the colour conversion",
        )
        .map_err(|e| e.at(Stage::Decode))?;
        for (i, band) in px.buf.chunks_mut(BAND_PIXELS * channels).enumerate() {
            if i > 0 {
                check()?;
            }
            scratch.clear();
            scratch.extend_from_slice(band);
            t.transform(&scratch, band).map_err(|e| {
                Error::new(
                    ErrorKind::DecodeFailed,
                    format!("colour conversion failed: {e}"),
                )
                .at(Stage::Decode)
            })?;
        }
        self.converted = true;
        Ok(())
    }

    /// The profile to write into an output whose pixels have this layout, if any:
    /// the source's with `keep` (when it fits the layout: a grey profile for grey, an
    /// RGB one for colour), sRGB's when the recipe keeps metadata, none otherwise.
    /// WebP outputs are always colour (the encoders widen grey).
    pub(crate) fn embed(&self, layout: Layout) -> Option<&[u8]> {
        if self.mode == ColourMode::Keep {
            if let (Some(p), Some(icc)) = (self.profile(), self.icc.as_deref()) {
                let fits = match p.color_space {
                    DataColorSpace::Gray => layout == Layout::L8,
                    DataColorSpace::Rgb => layout != Layout::L8,
                    _ => false,
                };
                if fits {
                    return Some(icc);
                }
            }
        }
        if self.strip_metadata {
            return None;
        }
        Some(if layout == Layout::L8 {
            SGREY_ICC
        } else {
            SRGB_ICC
        })
    }
}

fn usable_class(class: ProfileClass) -> bool {
    matches!(
        class,
        ProfileClass::InputDevice
            | ProfileClass::DisplayDevice
            | ProfileClass::OutputDevice
            | ProfileClass::ColorSpace
    )
}

/// A transform to sRGB with LittleCMS's default intent (perceptual), falling back to
/// relative colorimetric for LUT profiles that have no perceptual table.
fn transform(
    p: &ColorProfile,
    from: CmsLayout,
    srgb: &ColorProfile,
    to: CmsLayout,
) -> Result<Arc<Transform8BitExecutor>, String> {
    let options = |rendering_intent| TransformOptions {
        rendering_intent,
        ..TransformOptions::default()
    };
    p.create_transform_8bit(from, srgb, to, options(RenderingIntent::Perceptual))
        .or_else(|_| {
            p.create_transform_8bit(
                from,
                srgb,
                to,
                options(RenderingIntent::RelativeColorimetric),
            )
        })
        .map_err(|e| e.to_string())
}

/// The 256 sRGB levels of a grey (or neutral RGB) input's levels; `None` when the
/// profile maps every level to itself within one step.
fn gray_table(p: &ColorProfile) -> Result<Option<[u8; 256]>, String> {
    let srgb = ColorProfile::new_srgb();
    let levels: Vec<u8> = (0..=255).collect();
    let mut rgb = vec![0u8; 256 * 3];
    if p.color_space == DataColorSpace::Gray {
        transform(p, CmsLayout::Gray, &srgb, CmsLayout::Rgb)?
            .transform(&levels, &mut rgb)
            .map_err(|e| e.to_string())?;
    } else {
        let src: Vec<u8> = levels.iter().flat_map(|&v| [v, v, v]).collect();
        transform(p, CmsLayout::Rgb, &srgb, CmsLayout::Rgb)?
            .transform(&src, &mut rgb)
            .map_err(|e| e.to_string())?;
    }
    let mut table = [0u8; 256];
    for (t, px) in table.iter_mut().zip(rgb.chunks_exact(3)) {
        *t = ((px[0] as u32 + px[1] as u32 + px[2] as u32 + 1) / 3) as u8;
    }
    let identity = table
        .iter()
        .enumerate()
        .all(|(i, &v)| (v as i32 - i as i32).abs() <= 1);
    Ok((!identity).then_some(table))
}

/// Whether `t` moves no colour of a 6×6×6 grid by more than one step: the profile is
/// sRGB in effect, and converting would only cost time and rounding.
fn is_identity(t: &Transform8BitExecutor, channels: usize) -> bool {
    const STEPS: [u8; 6] = [0, 51, 102, 153, 204, 255];
    let mut src = Vec::with_capacity(216 * channels);
    for r in STEPS {
        for g in STEPS {
            for b in STEPS {
                src.extend_from_slice(&[r, g, b, 255][..channels]);
            }
        }
    }
    let mut dst = vec![0u8; src.len()];
    if t.transform(&src, &mut dst).is_err() {
        return false;
    }
    src.iter()
        .zip(&dst)
        .all(|(&a, &b)| (a as i32 - b as i32).abs() <= 1)
}

/// The sRGB transfer function, decoded: an sRGB value (0 to 1) to linear light (0 to 1).
/// Used where the pipeline measures colour itself (placeholders, the attention crop).
pub(crate) fn srgb_to_linear(v: f32) -> f32 {
    if v <= 0.040_45 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

/// A WebP file with `icc` in an ICCP chunk (the WebP encoders here write none): a simple
/// file (one `VP8 ` or `VP8L` chunk) becomes an extended one with a `VP8X` header
/// (`alpha`: the image has transparency); an extended one gets the ICC flag. `None`
/// when the file is not a WebP this understands (the output is then left untagged).
pub(crate) fn webp_with_icc(
    webp: &[u8],
    icc: &[u8],
    (width, height): (u32, u32),
    alpha: bool,
) -> Option<Vec<u8>> {
    if webp.get(0..4)? != b"RIFF" || webp.get(8..12)? != b"WEBP" || width == 0 || height == 0 {
        return None;
    }
    let chunk = |fourcc: &[u8], body: &[u8]| {
        let mut c = Vec::with_capacity(body.len() + 9);
        c.extend_from_slice(fourcc);
        c.extend_from_slice(&(body.len() as u32).to_le_bytes());
        c.extend_from_slice(body);
        if body.len() % 2 == 1 {
            c.push(0);
        }
        c
    };
    let first = webp.get(12..16)?;
    let mut body = b"WEBP".to_vec();
    match first {
        b"VP8X" => {
            let len = u32::from_le_bytes(webp.get(16..20)?.try_into().ok()?) as usize;
            let mut vp8x = webp.get(20..20 + len)?.to_vec();
            *vp8x.first_mut()? |= 0x20;
            body.extend(chunk(b"VP8X", &vp8x));
            body.extend(chunk(b"ICCP", icc));
            body.extend_from_slice(webp.get(20 + len + len % 2..)?);
        }
        b"VP8 " | b"VP8L" => {
            // A simple lossy file has no ALPH chunk: it is opaque, whatever the pixels'
            // layout (the alpha flag would make decoders look for that chunk).
            let alpha = alpha && first == b"VP8L";
            let mut vp8x = vec![0x20 | if alpha { 0x10 } else { 0 }, 0, 0, 0];
            vp8x.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
            vp8x.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
            body.extend(chunk(b"VP8X", &vp8x));
            body.extend(chunk(b"ICCP", icc));
            body.extend_from_slice(webp.get(12..)?);
        }
        _ => return None,
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&u32::try_from(body.len()).ok()?.to_le_bytes());
    out.extend(body);
    Some(out)
}

/// A CMYK profile's conversion to sRGB, for the JPEG decoder.
pub(crate) struct Cmyk(Arc<Transform8BitExecutor>);

impl Cmyk {
    /// Converts decoded CMYK (`inverted`: stored as 255 − ink, as Adobe's files are)
    /// to packed RGB.
    #[cfg_attr(
        all(not(feature = "mozjpeg"), not(feature = "pure-jpeg")),
        allow(dead_code)
    )]
    pub(crate) fn to_rgb(&self, cmyk: &mut [u8], inverted: bool) -> Result<Vec<u8>, Error> {
        if inverted {
            for v in cmyk.iter_mut() {
                *v = 255 - *v;
            }
        }
        let pixels = cmyk.len() / 4;
        let mut out = super::pixels::alloc(pixels * 3, "the RGB copy of a CMYK JPEG")?;
        for (src, dst) in cmyk
            .chunks(BAND_PIXELS * 4)
            .zip(out.chunks_mut(BAND_PIXELS * 3))
        {
            self.0.transform(src, dst).map_err(|e| {
                Error::new(
                    ErrorKind::DecodeFailed,
                    format!("CMYK conversion failed: {e}"),
                )
            })?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p3() -> Vec<u8> {
        // Display P3 from cICP, written out as ICC by the engine itself.
        ColorProfile::new_display_p3().encode().unwrap()
    }

    fn px(layout: Layout, buf: Vec<u8>) -> Pixels {
        let n = (buf.len() / layout.channels()) as u32;
        Pixels {
            width: n,
            height: 1,
            layout,
            buf,
        }
    }

    fn ok() -> Result<(), Error> {
        Ok(())
    }

    #[test]
    fn p3_red_becomes_a_clipped_srgb_red_and_alpha_is_kept() {
        let found = Found {
            icc: Some(p3()),
            ..Found::default()
        };
        let mut c = Colour::new(ColourMode::Srgb, true, found);
        let mut img = px(Layout::Rgba8, vec![255, 0, 0, 77, 128, 128, 128, 255]);
        c.apply(&mut img, &ok).unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        // P3 red is outside sRGB: red clips at 255, green and blue near 0; grey stays.
        assert_eq!(img.buf[0], 255);
        assert!(img.buf[1] < 10 && img.buf[2] < 10, "{:?}", img.buf);
        assert_eq!(img.buf[3], 77);
        assert!(img.buf[4..7].iter().all(|&v| (127..=129).contains(&v)));
        assert_eq!(c.embed(Layout::Rgb8), None);
    }

    #[test]
    fn srgb_and_keep_leave_pixels_alone() {
        let srgb = ColorProfile::new_srgb().encode().unwrap();
        let original = vec![250, 10, 10, 20, 200, 30];
        for (icc, mode) in [(srgb, ColourMode::Srgb), (p3(), ColourMode::Keep)] {
            let found = Found {
                icc: Some(icc.clone()),
                ..Found::default()
            };
            let mut c = Colour::new(mode, true, found);
            let mut img = px(Layout::Rgb8, original.clone());
            c.apply(&mut img, &ok).unwrap();
            assert_eq!(img.buf, original);
            let kept = c.embed(Layout::Rgb8);
            assert_eq!(kept, (mode == ColourMode::Keep).then_some(icc.as_slice()));
        }
    }

    #[test]
    fn broken_and_oversized_profiles_become_warnings() {
        let mut truncated = p3();
        truncated.truncate(100);
        for found in [
            Found {
                icc: Some(truncated),
                ..Found::default()
            },
            Found {
                icc: Some(b"garbage".to_vec()),
                ..Found::default()
            },
            Found {
                icc_over: Some(4),
                ..Found::default()
            },
        ] {
            let mut c = Colour::new(ColourMode::Srgb, false, found);
            let mut img = px(Layout::Rgb8, vec![1, 2, 3]);
            c.apply(&mut img, &ok).unwrap();
            assert_eq!(img.buf, [1, 2, 3]);
            assert_eq!(c.warnings.len(), 1);
            assert_eq!(c.warnings[0].code, WarningKind::IccIgnored);
            assert!(c.warnings[0].message.len() <= 300);
            assert!(c.warnings[0].message.ends_with("used as sRGB"));
            // Metadata kept: the pixels are sRGB, and the profile says so.
            assert_eq!(c.embed(Layout::Rgb8), Some(SRGB_ICC));
        }
    }

    #[test]
    fn cicp_p3_converts_and_hdr_is_refused_with_a_warning() {
        let mut c = Colour::new(
            ColourMode::Srgb,
            true,
            Found {
                cicp: Some([12, 13, 0, 1]),
                ..Found::default()
            },
        );
        let mut img = px(Layout::Rgb8, vec![0, 255, 0]);
        c.apply(&mut img, &ok).unwrap();
        assert!(img.buf[0] < 10 && img.buf[1] == 255, "{:?}", img.buf);
        let c = Colour::new(
            ColourMode::Srgb,
            true,
            Found {
                cicp: Some([9, 16, 0, 1]),
                ..Found::default()
            },
        );
        assert_eq!(c.warnings[0].code, WarningKind::CicpIgnored);
        assert!(c.warnings[0].message.contains("PQ"));
    }
}
