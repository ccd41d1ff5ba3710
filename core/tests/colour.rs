//! Colour management against LittleCMS: every input of `testdata/colour` (Display P3,
//! Adobe RGB, ProPhoto and Rec.2020 in JPEG, PNG and WebP; TIFF; a PNG cICP chunk; a
//! CMYK JPEG with a LUT profile; broken profiles) is converted by conveyor and compared
//! with what LittleCMS (Pillow's ImageCms) made of the same input
//! (`scripts/colour-testimages.py` wrote both). The measure is CIEDE2000, mean and
//! 99th percentile per image; the table prints with `--nocapture`.
//!
//! Also: `colour: "keep"` leaves the pixels and embeds the source profile, metadata
//! kept after a conversion means an sRGB profile, and a profile over `max_icc_bytes`
//! is ignored with a warning, never a failure.

use std::path::PathBuf;

use conveyor::pipeline::{run, Context};
use conveyor::{Limits, Recipe, Report, WarningKind};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/colour")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn run_with(input: &[u8], recipe: &str, limits: &Limits) -> Report {
    let recipe = Recipe::from_json(recipe).unwrap();
    let ctx = Context::new(limits);
    run(input, &recipe, &ctx, &|_| Ok(())).unwrap()
}

/// The first output, decoded to 8-bit RGB.
fn pixels(report: &Report) -> image::RgbImage {
    image::load_from_memory(report.outputs[0].data.as_ref().unwrap())
        .unwrap()
        .to_rgb8()
}

const PNG: &str = r#"{"outputs":[{"name":"o","format":"png"}]}"#;
const KEEP: &str = r#"{"outputs":[{"name":"o","format":"png"}],"colour":"keep"}"#;

// -- CIEDE2000 -------------------------------------------------------------------------

/// 8-bit sRGB to CIELAB (D65 white).
fn lab(p: [u8; 3]) -> [f64; 3] {
    let lin = |c: u8| {
        let c = c as f64 / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let (r, g, b) = (lin(p[0]), lin(p[1]), lin(p[2]));
    let x = 0.4124564 * r + 0.3575761 * g + 0.1804375 * b;
    let y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b;
    let z = 0.0193339 * r + 0.1191920 * g + 0.9503041 * b;
    let f = |t: f64| {
        if t > (6.0f64 / 29.0).powi(3) {
            t.cbrt()
        } else {
            t / (3.0 * (6.0f64 / 29.0).powi(2)) + 4.0 / 29.0
        }
    };
    let (fx, fy, fz) = (f(x / 0.95047), f(y), f(z / 1.08883));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// CIEDE2000 (Sharma, Wu and Dalal's formulation).
fn delta_e2000(a: [f64; 3], b: [f64; 3]) -> f64 {
    use std::f64::consts::PI;
    let deg = |r: f64| r * 180.0 / PI;
    let rad = |d: f64| d * PI / 180.0;
    let (l1, a1, b1) = (a[0], a[1], a[2]);
    let (l2, a2, b2) = (b[0], b[1], b[2]);
    let c_bar = ((a1 * a1 + b1 * b1).sqrt() + (a2 * a2 + b2 * b2).sqrt()) / 2.0;
    let g = 0.5 * (1.0 - (c_bar.powi(7) / (c_bar.powi(7) + 25f64.powi(7))).sqrt());
    let (a1p, a2p) = ((1.0 + g) * a1, (1.0 + g) * a2);
    let (c1p, c2p) = ((a1p * a1p + b1 * b1).sqrt(), (a2p * a2p + b2 * b2).sqrt());
    let hue = |b: f64, a: f64| {
        if b == 0.0 && a == 0.0 {
            0.0
        } else {
            let h = deg(b.atan2(a));
            if h < 0.0 {
                h + 360.0
            } else {
                h
            }
        }
    };
    let (h1p, h2p) = (hue(b1, a1p), hue(b2, a2p));
    let dl = l2 - l1;
    let dc = c2p - c1p;
    let dh = if c1p * c2p == 0.0 {
        0.0
    } else if (h2p - h1p).abs() <= 180.0 {
        h2p - h1p
    } else if h2p - h1p > 180.0 {
        h2p - h1p - 360.0
    } else {
        h2p - h1p + 360.0
    };
    let d_h = 2.0 * (c1p * c2p).sqrt() * (rad(dh) / 2.0).sin();
    let l_bar = (l1 + l2) / 2.0;
    let cp_bar = (c1p + c2p) / 2.0;
    let hp_bar = if c1p * c2p == 0.0 {
        h1p + h2p
    } else if (h1p - h2p).abs() <= 180.0 {
        (h1p + h2p) / 2.0
    } else if h1p + h2p < 360.0 {
        (h1p + h2p + 360.0) / 2.0
    } else {
        (h1p + h2p - 360.0) / 2.0
    };
    let t = 1.0 - 0.17 * rad(hp_bar - 30.0).cos()
        + 0.24 * rad(2.0 * hp_bar).cos()
        + 0.32 * rad(3.0 * hp_bar + 6.0).cos()
        - 0.20 * rad(4.0 * hp_bar - 63.0).cos();
    let d_theta = 30.0 * (-((hp_bar - 275.0) / 25.0).powi(2)).exp();
    let rc = 2.0 * (cp_bar.powi(7) / (cp_bar.powi(7) + 25f64.powi(7))).sqrt();
    let sl = 1.0 + 0.015 * (l_bar - 50.0).powi(2) / (20.0 + (l_bar - 50.0).powi(2)).sqrt();
    let sc = 1.0 + 0.045 * cp_bar;
    let sh = 1.0 + 0.015 * cp_bar * t;
    let rt = -(rad(2.0 * d_theta)).sin() * rc;
    ((dl / sl).powi(2) + (dc / sc).powi(2) + (d_h / sh).powi(2) + rt * (dc / sc) * (d_h / sh))
        .sqrt()
}

#[test]
fn ciede2000_matches_sharmas_test_data() {
    for (a, b, want) in [
        ([50.0, 2.6772, -79.7751], [50.0, 0.0, -82.7485], 2.0425),
        ([50.0, 2.5, 0.0], [73.0, 25.0, -18.0], 27.1492),
        (
            [2.0776, 0.0795, -1.1350],
            [0.9033, -0.0636, -0.5514],
            0.9082,
        ),
        ([50.0, 2.49, -0.001], [50.0, -2.49, 0.0011], 7.2195),
    ] {
        let got = delta_e2000(a, b);
        assert!((got - want).abs() < 1e-4, "{a:?} {b:?}: {got} vs {want}");
    }
}

/// Mean and 99th percentile of CIEDE2000 over two same-sized images.
fn compare(got: &image::RgbImage, want: &image::RgbImage) -> (f64, f64, f64) {
    assert_eq!(got.dimensions(), want.dimensions());
    let mut d: Vec<f64> = got
        .pixels()
        .zip(want.pixels())
        .map(|(a, b)| delta_e2000(lab(a.0), lab(b.0)))
        .collect();
    d.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mean = d.iter().sum::<f64>() / d.len() as f64;
    let p99 = d[((d.len() as f64 * 0.99).ceil() as usize).min(d.len()) - 1];
    (mean, p99, *d.last().unwrap())
}

fn cases() -> Vec<Value> {
    let doc: Value = serde_json::from_slice(&read("cases.json")).unwrap();
    doc["cases"].as_array().unwrap().clone()
}

#[test]
fn every_input_converts_like_littlecms() {
    let limits = Limits::default();
    let mut table = vec![
        "| input | ΔE2000 mean | ΔE2000 p99 | max | unconverted mean | warning |".to_string(),
        "|---|---|---|---|---|---|".to_string(),
    ];
    let mut failures = Vec::new();
    for case in cases() {
        let name = case["input"].as_str().unwrap();
        let input = read(name);
        let want = image::load_from_memory(&read(case["reference"].as_str().unwrap()))
            .unwrap()
            .to_rgb8();
        let report = run_with(&input, PNG, &limits);
        let (mean, p99, max) = compare(&pixels(&report), &want);
        // The pixels as decoded, not converted: what conveyor made before (and what
        // `keep` makes), against the same reference.
        let kept = run_with(&input, KEEP, &limits);
        let (before, _, _) = compare(&pixels(&kept), &want);
        let codes: Vec<&str> = report.warnings.iter().map(|w| w.code.as_str()).collect();
        table.push(format!(
            "| {name} | {mean:.2} | {p99:.2} | {max:.2} | {before:.2} | {} |",
            codes.join(", ")
        ));
        let expected: Vec<&str> = case["warning"].as_str().into_iter().collect();
        if codes != expected {
            failures.push(format!(
                "{name}: warnings {:?}, expected {expected:?}",
                report.warnings
            ));
        }
        // Mean under 1 (the aim), and no pixel far off.
        if mean >= 1.0 || p99 >= 3.0 {
            failures.push(format!("{name}: mean {mean:.3}, p99 {p99:.3}"));
        }
    }
    println!("{}", table.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn wide_gamut_inputs_are_visibly_wrong_without_conversion() {
    // The test above would pass for a no-op only if the inputs were sRGB already: they
    // are not. Unconverted P3 and Rec.2020 are several ΔE off.
    for name in ["p3.png", "adobe.png", "rec2020.png", "prophoto.png"] {
        let want = image::load_from_memory(&read(&format!("{name}.srgb.png")))
            .unwrap()
            .to_rgb8();
        let kept = run_with(&read(name), KEEP, &Limits::default());
        let (mean, _, _) = compare(&pixels(&kept), &want);
        assert!(mean > 1.5, "{name}: {mean}");
    }
}

/// The ICC profile of a PNG's iCCP chunk, read by hand (the `png` crate here does not
/// hand it out).
fn png_icc(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut pos = 8;
    while pos + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        let body = &bytes[pos + 8..pos + 8 + len];
        if &bytes[pos + 4..pos + 8] == b"iCCP" {
            let nul = body.iter().position(|&b| b == 0).unwrap();
            return Some(fdeflate::decompress_to_vec(&body[nul + 2..]).unwrap());
        }
        pos += 12 + len;
    }
    None
}

/// The ICC profile of a JPEG's APP2 segments (in order), read by hand.
fn jpeg_icc(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut pos = 2;
    let mut icc = Vec::new();
    while pos + 4 <= bytes.len() && bytes[pos] == 0xFF && bytes[pos + 1] != 0xDA {
        let len = u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]) as usize;
        let seg = &bytes[pos + 4..pos + 2 + len];
        if bytes[pos + 1] == 0xE2 && seg.starts_with(b"ICC_PROFILE\0") {
            icc.extend_from_slice(&seg[14..]);
        }
        pos += 2 + len;
    }
    (!icc.is_empty()).then_some(icc)
}

#[test]
fn keep_embeds_the_source_profile_and_leaves_the_pixels() {
    let p3 = read("icc/DisplayP3-v4.icc");
    let input = read("p3.png");
    let recipe = r#"{"outputs":[{"name":"p","format":"png"},{"name":"j","format":"jpeg","quality":95}],"colour":"keep"}"#;
    let report = run_with(&input, recipe, &Limits::default());
    assert!(report.warnings.is_empty());
    assert_eq!(
        png_icc(report.outputs[0].data.as_ref().unwrap()),
        Some(p3.clone())
    );
    assert_eq!(jpeg_icc(report.outputs[1].data.as_ref().unwrap()), Some(p3));
    let source = image::load_from_memory(&input).unwrap().to_rgb8();
    assert_eq!(pixels(&report), source);
}

#[test]
fn webp_outputs_carry_the_profile_in_an_iccp_chunk() {
    use image::ImageDecoder;
    let p3 = read("icc/DisplayP3-v4.icc");
    let rgba = {
        let img = image::RgbaImage::from_fn(40, 30, |x, y| {
            image::Rgba([x as u8 * 6, y as u8 * 8, 90, 200])
        });
        let mut b = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgba8(img)
            .write_to(&mut b, image::ImageFormat::Png)
            .unwrap();
        b.into_inner()
    };
    // An RGBA input whose alpha is all opaque: libwebp writes a simple lossy file.
    let opaque_rgba = {
        let img = image::RgbaImage::from_fn(32, 32, |x, y| {
            image::Rgba([x as u8 * 8, y as u8 * 8, 9, 255])
        });
        let mut b = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgba8(img)
            .write_to(&mut b, image::ImageFormat::Png)
            .unwrap();
        b.into_inner()
    };
    // Lossy (extended file with ALPH, or simple when opaque) and lossless (simple VP8L).
    for (input, recipe, icc) in [
        (
            opaque_rgba,
            r#"{"outputs":[{"name":"o","format":"webp"}],"strip_metadata":false}"#,
            Vec::new(),
        ),
        (
            read("p3.png"),
            r#"{"outputs":[{"name":"o","format":"webp"}],"colour":"keep"}"#,
            p3.clone(),
        ),
        (
            read("p3.png"),
            r#"{"outputs":[{"name":"o","format":"webp","lossless":true}],"colour":"keep"}"#,
            p3.clone(),
        ),
        (
            rgba.clone(),
            r#"{"outputs":[{"name":"o","format":"webp"}],"strip_metadata":false}"#,
            Vec::new(),
        ),
        (
            rgba,
            r#"{"outputs":[{"name":"o","format":"webp","lossless":true}],"strip_metadata":false}"#,
            Vec::new(),
        ),
    ] {
        let report = run_with(&input, recipe, &Limits::default());
        let data = report.outputs[0].data.as_ref().unwrap();
        let mut d =
            image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(data.as_ref())).unwrap();
        let got = d
            .icc_profile()
            .unwrap()
            .unwrap_or_else(|| panic!("{recipe}: no ICCP"));
        if icc.is_empty() {
            assert_eq!(
                (got.len(), &got[36..40]),
                (480, b"acsp".as_slice()),
                "{recipe}"
            );
        } else {
            assert_eq!(got, icc, "{recipe}");
        }
        // Still a valid WebP of the same size.
        let img = image::load_from_memory(data).unwrap();
        assert_eq!(
            (img.width(), img.height()),
            (report.outputs[0].width, report.outputs[0].height)
        );
    }
}

#[test]
fn converted_outputs_carry_srgb_only_when_metadata_is_kept() {
    let input = read("adobe.jpg");
    let stripped = run_with(&input, PNG, &Limits::default());
    assert_eq!(png_icc(stripped.outputs[0].data.as_ref().unwrap()), None);
    let recipe = r#"{"outputs":[{"name":"o","format":"png"}],"strip_metadata":false}"#;
    let kept = run_with(&input, recipe, &Limits::default());
    let icc = png_icc(kept.outputs[0].data.as_ref().unwrap()).unwrap();
    assert_eq!(icc.len(), 480);
    assert_eq!(&icc[36..40], b"acsp");
    assert_ne!(icc, read("icc/AdobeCompat-v4.icc"));
    // The same pixels either way: the profile says what they already are.
    assert_eq!(pixels(&kept), pixels(&stripped));
}

#[test]
fn a_profile_over_max_icc_bytes_is_ignored_with_a_warning() {
    let limits = Limits::default().with_max_icc_bytes(100);
    for name in ["p3.png", "p3.jpg", "p3.webp"] {
        let input = read(name);
        let report = run_with(&input, PNG, &limits);
        assert_eq!(report.warnings.len(), 1, "{name}");
        let w = &report.warnings[0];
        assert_eq!(w.code, WarningKind::IccIgnored, "{name}");
        assert!(
            w.message.contains("max_icc_bytes (100 bytes)"),
            "{name}: {}",
            w.message
        );
        // Taken as sRGB: the decoded pixels, unconverted.
        let kept = run_with(&input, KEEP, &Limits::default());
        assert_eq!(pixels(&report), pixels(&kept), "{name}");
    }
}

#[test]
fn resized_outputs_are_converted_too() {
    // Conversion happens once, before resizing: a thumbnail of the P3 input is close
    // to a thumbnail of the reference.
    let recipe = r#"{"outputs":[{"name":"o","format":"png","width":32}]}"#;
    let report = run_with(&read("p3.png"), recipe, &Limits::default());
    let want = image::load_from_memory(&read("p3.png.srgb.png")).unwrap();
    let reference = run_with(
        &{
            let mut b = std::io::Cursor::new(Vec::new());
            want.write_to(&mut b, image::ImageFormat::Png).unwrap();
            b.into_inner()
        },
        recipe,
        &Limits::default(),
    );
    let (mean, _, _) = compare(&pixels(&report), &pixels(&reference));
    assert!(mean < 1.0, "{mean}");
}

#[test]
fn an_srgb_profile_leaves_the_pixels_exactly_as_they_are() {
    // LittleCMS's sRGB (parametric curves, v4) and moxcms's agree within one step on
    // every level, so the conversion is skipped: no rounding, no time.
    let input = read("srgb_lcms.png");
    let report = run_with(&input, PNG, &Limits::default());
    assert!(report.warnings.is_empty());
    assert_eq!(
        pixels(&report),
        image::load_from_memory(&input).unwrap().to_rgb8()
    );
}

/// The cost of the conversion on a 12 MP P3 image: decode time with `srgb` minus with
/// `keep`. A measurement, not a check (timings vary with the machine): run with
/// `cargo test -p conveyor --release --test colour conversion_cost -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement; run by hand"]
fn conversion_cost() {
    let p3 = read("icc/DisplayP3-v4.icc");
    let img = image::RgbImage::from_fn(4000, 3000, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 256) as u8])
    });
    let mut png = Vec::new();
    {
        use image::ImageEncoder;
        let mut enc = image::codecs::png::PngEncoder::new_with_quality(
            &mut png,
            image::codecs::png::CompressionType::Fast,
            image::codecs::png::FilterType::NoFilter,
        );
        enc.set_icc_profile(p3).unwrap();
        enc.write_image(img.as_raw(), 4000, 3000, image::ExtendedColorType::Rgb8)
            .unwrap();
    }
    let recipe = |mode: &str| {
        format!(r#"{{"outputs":[{{"name":"o","width":320,"format":"jpeg"}}],"colour":"{mode}"}}"#)
    };
    let mut best = [u128::MAX; 2];
    for _ in 0..5 {
        for (i, mode) in ["srgb", "keep"].into_iter().enumerate() {
            let r = run_with(&png, &recipe(mode), &Limits::default());
            best[i] = best[i].min(r.timings.decode.as_micros());
        }
    }
    println!(
        "12 MP P3 PNG: decode {} ms with srgb, {} ms with keep: conversion {} ms",
        best[0] / 1000,
        best[1] / 1000,
        (best[0] - best[1]) / 1000
    );
}

/// The colour-accuracy row of the side-by-side bench (`bench/colour/run.sh`): conveyor's
/// conversion and other tools' (their sRGB PNGs of the same inputs, named
/// `<input>.png` in a folder per tool) against LittleCMS (Pillow's ImageCms, the
/// references), ΔE2000 mean and p99 per image and over all. `CONVEYOR_COLOUR_PEERS`
/// names the tools: `sharp=/path,pyvips=/path`. A measurement, not a check: run with
/// `cargo test -p conveyor --test colour peers_against_littlecms -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement; bench/colour/run.sh runs it"]
fn peers_against_littlecms() {
    let peers: Vec<(String, PathBuf)> = std::env::var("CONVEYOR_COLOUR_PEERS")
        .unwrap_or_default()
        .split(',')
        .filter_map(|p| p.split_once('='))
        .map(|(name, dir)| (name.to_string(), PathBuf::from(dir)))
        .collect();
    let limits = Limits::default();
    let tools: Vec<&str> = std::iter::once("conveyor")
        .chain(peers.iter().map(|(n, _)| n.as_str()))
        .collect();
    let mut head = "| input |".to_string();
    let mut rule = "|---|".to_string();
    for t in &tools {
        head += &format!(" {t} mean | {t} p99 |");
        rule += "---|---|";
    }
    let mut table = vec![head, rule];
    // Per tool: the means and p99s of the images it converted.
    let mut all: Vec<Vec<(f64, f64)>> = vec![Vec::new(); tools.len()];
    for case in cases() {
        let name = case["input"].as_str().unwrap();
        let want = image::load_from_memory(&read(case["reference"].as_str().unwrap()))
            .unwrap()
            .to_rgb8();
        let ours = pixels(&run_with(&read(name), PNG, &limits));
        let mut row = format!("| {name} |");
        let mut results = vec![Some(compare(&ours, &want))];
        for (_, dir) in &peers {
            let theirs = std::fs::read(dir.join(format!("{name}.png")))
                .ok()
                .and_then(|b| image::load_from_memory(&b).ok())
                .map(|i| i.to_rgb8())
                .filter(|i| i.dimensions() == want.dimensions());
            results.push(theirs.map(|t| compare(&t, &want)));
        }
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Some((mean, p99, _)) => {
                    row += &format!(" {mean:.2} | {p99:.2} |");
                    all[i].push((mean, p99));
                }
                None => row += " - | - |",
            }
        }
        table.push(row);
    }
    let mut row = "| **all (mean of means, worst p99)** |".to_string();
    for per in &all {
        let mean = per.iter().map(|r| r.0).sum::<f64>() / per.len().max(1) as f64;
        let worst = per.iter().map(|r| r.1).fold(0.0, f64::max);
        row += &format!(" {mean:.2} | {worst:.2} |");
    }
    table.push(row);
    println!("{}", table.join("\n"));
    assert!(!all[0].is_empty());
}
