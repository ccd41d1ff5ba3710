//! The pipeline on real images: every input format, every output format, every fit
//! mode's dimensions, all eight EXIF orientations, and metadata stripping.

mod common;

use common::*;
use conveyor::{process, ErrorKind, Fit, OutputFormat, OutputSpec, Recipe};
use image::{GenericImageView, ImageFormat};

fn one(spec: OutputSpec) -> Recipe {
    Recipe::new(vec![spec])
}

#[test]
fn every_input_format_decodes_and_reports_its_format() {
    for (name, bytes) in every_format(120, 80) {
        let recipe = one(OutputSpec::new("o", OutputFormat::Png).size(60, 60));
        let report = process(&bytes, &recipe).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(report.input.format.as_str(), name);
        assert_eq!(
            (report.input.width, report.input.height),
            (120, 80),
            "{name}"
        );
        let out = &report.outputs[0];
        assert_eq!((out.width, out.height), (60, 40), "{name}");
        let (f, w, h) = sniff(out.data.as_ref().unwrap());
        assert_eq!((f, w, h), (ImageFormat::Png, 60, 40), "{name}");
    }
}

#[test]
fn every_output_format_encodes() {
    let input = jpeg(400, 300);
    let mut lossless = OutputSpec::new("webp_ll", OutputFormat::Webp).size(100, 100);
    lossless.lossless = true;
    let mut progressive = OutputSpec::new("jpeg_prog", OutputFormat::Jpeg).size(100, 100);
    progressive.progressive = true;
    let recipe = Recipe::new(vec![
        OutputSpec::new("jpeg", OutputFormat::Jpeg)
            .size(200, 200)
            .quality(70),
        progressive,
        OutputSpec::new("png", OutputFormat::Png).size(100, 100),
        OutputSpec::new("webp", OutputFormat::Webp)
            .size(100, 100)
            .quality(75),
        lossless,
    ]);
    let report = process(&input, &recipe).unwrap();
    let expect = [
        (ImageFormat::Jpeg, 200, 150),
        (ImageFormat::Jpeg, 100, 75),
        (ImageFormat::Png, 100, 75),
        (ImageFormat::WebP, 100, 75),
        (ImageFormat::WebP, 100, 75),
    ];
    for (out, want) in report.outputs.iter().zip(expect) {
        let data = out.data.as_ref().unwrap();
        assert_eq!(data.len() as u64, out.byte_len);
        assert_eq!(sniff(data), want, "{}", out.name);
    }
    // Lossy WebP is much smaller than lossless for a photo-like gradient.
    assert!(report.outputs[3].byte_len < report.outputs[4].byte_len);
}

#[test]
fn fit_modes_give_sharps_dimensions() {
    let input = png(400, 300);
    let cases = [
        (Fit::Inside, (100, 75)),
        (Fit::Cover, (100, 100)),
        (Fit::Contain, (100, 100)),
        (Fit::Fill, (100, 100)),
    ];
    for (fit, dims) in cases {
        let report = process(
            &input,
            &one(OutputSpec::new("o", OutputFormat::Png)
                .size(100, 100)
                .fit(fit)),
        )
        .unwrap();
        assert_eq!(
            (report.outputs[0].width, report.outputs[0].height),
            dims,
            "{fit:?}"
        );
    }
    // Portrait box and tall source.
    let tall = png(300, 900);
    for (fit, dims) in [
        (Fit::Inside, (67, 200)),
        (Fit::Cover, (120, 200)),
        (Fit::Contain, (120, 200)),
        (Fit::Fill, (120, 200)),
    ] {
        let r = process(
            &tall,
            &one(OutputSpec::new("o", OutputFormat::Png)
                .size(120, 200)
                .fit(fit)),
        )
        .unwrap();
        assert_eq!((r.outputs[0].width, r.outputs[0].height), dims, "{fit:?}");
    }
}

#[test]
fn contain_pads_with_the_background_and_cover_crops_the_centre() {
    let input = jpeg_of(&card(400, 200), &[]);
    let mut spec = OutputSpec::new("o", OutputFormat::Png)
        .size(100, 100)
        .fit(Fit::Contain);
    spec.background = Some("#000000".parse().unwrap());
    let r = process(&input, &one(spec)).unwrap();
    let img = image::load_from_memory(r.outputs[0].data.as_ref().unwrap())
        .unwrap()
        .to_rgb8();
    // 100x50 image centred: rows 0..25 and 75..100 are padding.
    assert_eq!(img.get_pixel(50, 5).0, [0, 0, 0]);
    assert_eq!(img.get_pixel(50, 95).0, [0, 0, 0]);
    assert_eq!(colour_name(img.get_pixel(10, 30).0), "red");

    // cover on a 2:1 card to a square keeps the middle half: left half red/blue
    // quadrants' inner parts and right half green/white.
    let r = process(
        &input,
        &one(OutputSpec::new("o", OutputFormat::Png)
            .size(100, 100)
            .fit(Fit::Cover)),
    )
    .unwrap();
    let img = image::load_from_memory(r.outputs[0].data.as_ref().unwrap())
        .unwrap()
        .to_rgb8();
    assert_eq!(colour_name(img.get_pixel(10, 10).0), "red");
    assert_eq!(colour_name(img.get_pixel(90, 10).0), "green");
    assert_eq!(colour_name(img.get_pixel(10, 90).0), "blue");
}

#[test]
fn without_enlargement_is_the_default_and_can_be_lifted() {
    let input = png(50, 40);
    let r = process(
        &input,
        &one(OutputSpec::new("o", OutputFormat::Png).size(500, 500)),
    )
    .unwrap();
    assert_eq!((r.outputs[0].width, r.outputs[0].height), (50, 40));
    let r = process(
        &input,
        &one(OutputSpec::new("o", OutputFormat::Png)
            .size(500, 500)
            .without_enlargement(false)),
    )
    .unwrap();
    assert_eq!((r.outputs[0].width, r.outputs[0].height), (500, 400));
}

#[test]
fn all_eight_exif_orientations_come_out_upright() {
    for o in 1..=8u8 {
        let input = oriented_jpeg(160, 80, o);
        // Full size and resized both come out upright.
        for (spec, dims) in [
            (OutputSpec::new("o", OutputFormat::Png), (160, 80)),
            (
                OutputSpec::new("o", OutputFormat::Png).size(80, 80),
                (80, 40),
            ),
            (
                OutputSpec::new("o", OutputFormat::Png)
                    .size(40, 40)
                    .fit(Fit::Cover),
                (40, 40),
            ),
        ] {
            let r = process(&input, &one(spec)).unwrap();
            assert_eq!(r.input.orientation, o);
            let out = &r.outputs[0];
            assert_eq!((out.width, out.height), dims, "orientation {o}");
            let img = image::load_from_memory(out.data.as_ref().unwrap()).unwrap();
            let (w, h) = img.dimensions();
            let img = img.to_rgb8();
            let at = |x: u32, y: u32| colour_name(img.get_pixel(x, y).0);
            assert_eq!(at(w / 8, h / 8), "red", "orientation {o}, {dims:?}");
            assert_eq!(
                at(w - 1 - w / 8, h / 8),
                "green",
                "orientation {o}, {dims:?}"
            );
            assert_eq!(
                at(w / 8, h - 1 - h / 8),
                "blue",
                "orientation {o}, {dims:?}"
            );
            assert_eq!(
                at(w - 1 - w / 8, h - 1 - h / 8),
                "white",
                "orientation {o}, {dims:?}"
            );
        }
        // auto_orient off keeps the stored layout.
        let mut recipe = one(OutputSpec::new("o", OutputFormat::Png));
        recipe.auto_orient = false;
        let r = process(&input, &recipe).unwrap();
        let stored = if o >= 5 { (80, 160) } else { (160, 80) };
        assert_eq!(
            (r.outputs[0].width, r.outputs[0].height),
            stored,
            "orientation {o}"
        );
    }
}

#[test]
fn outputs_carry_no_exif_no_gps_no_stale_orientation() {
    let input = jpeg_of(&card(64, 32), &[(1, exif(6, true))]);
    assert!(input.windows(10).any(|w| w == b"GPS-SECRET"));
    let recipe = Recipe::new(vec![
        OutputSpec::new("j", OutputFormat::Jpeg),
        OutputSpec::new("p", OutputFormat::Png),
        OutputSpec::new("w", OutputFormat::Webp),
    ]);
    let r = process(&input, &recipe).unwrap();
    for out in &r.outputs {
        let data = out.data.as_ref().unwrap();
        assert!(
            !data.windows(10).any(|w| w == b"GPS-SECRET"),
            "{}",
            out.name
        );
        assert!(!data.windows(4).any(|w| w == b"Exif"), "{}", out.name);
        // Re-reading the output gives no orientation: the pixels are upright already.
        assert_eq!((out.width, out.height), (32, 64), "{}", out.name);
    }
}

#[test]
fn icc_is_kept_only_on_request() {
    let icc = {
        let mut p = vec![0u8; 600];
        p[36..40].copy_from_slice(b"acsp");
        p
    };
    let mut app2 = b"ICC_PROFILE\0\x01\x01".to_vec();
    app2.extend(&icc);
    let input = jpeg_of(&gradient(64, 64), &[(2, app2)]);
    let mut recipe = one(OutputSpec::new("j", OutputFormat::Jpeg));
    let stripped = process(&input, &recipe).unwrap();
    assert!(!stripped.outputs[0]
        .data
        .as_ref()
        .unwrap()
        .windows(11)
        .any(|w| w == b"ICC_PROFILE"));
    recipe.strip_metadata = false;
    let kept = process(&input, &recipe).unwrap();
    assert!(kept.outputs[0]
        .data
        .as_ref()
        .unwrap()
        .windows(11)
        .any(|w| w == b"ICC_PROFILE"));
}

#[test]
fn jpeg_flattens_alpha_on_the_background() {
    let rgba = image::RgbaImage::from_pixel(20, 20, image::Rgba([0, 0, 0, 0]));
    let input = encode(&image::DynamicImage::ImageRgba8(rgba), ImageFormat::Png);
    let r = process(&input, &one(OutputSpec::new("j", OutputFormat::Jpeg))).unwrap();
    let img = image::load_from_memory(r.outputs[0].data.as_ref().unwrap())
        .unwrap()
        .to_rgb8();
    assert!(
        img.get_pixel(10, 10).0.iter().all(|&c| c > 245),
        "transparent becomes white: {:?}",
        img.get_pixel(10, 10)
    );
}

#[test]
fn garbage_and_truncation_give_typed_errors_never_panics() {
    let r = one(OutputSpec::new("o", OutputFormat::Png));
    assert_eq!(
        process(b"", &r).unwrap_err().kind,
        ErrorKind::UnsupportedFormat
    );
    assert_eq!(
        process(b"hello world, not an image", &r).unwrap_err().kind,
        ErrorKind::UnsupportedFormat
    );
    let mut fake_png = b"\x89PNG\r\n\x1a\n".to_vec();
    fake_png.extend((0..200u32).map(|i| (i * 7919 % 251) as u8));
    assert_eq!(
        process(&fake_png, &r).unwrap_err().kind,
        ErrorKind::DecodeFailed
    );
    for (name, bytes) in every_format(64, 48) {
        for cut in [8usize, 20, 40, bytes.len() / 2, bytes.len() - 3] {
            if cut >= bytes.len() {
                continue;
            }
            match process(&bytes[..cut], &r) {
                Ok(_) => {} // some decoders fill a truncated tail, as libjpeg does
                Err(e) => assert!(
                    matches!(
                        e.kind,
                        ErrorKind::DecodeFailed | ErrorKind::UnsupportedFormat
                    ),
                    "{name} cut at {cut}: {e}"
                ),
            }
        }
    }
}

#[test]
fn encoded_outputs_decode_close_to_the_source() {
    // Guards against encoder bugs that give valid-looking but wrong streams (jpeg-encoder
    // 0.7.1's optimised Huffman tables did exactly that).
    let src = gradient(200, 150);
    let input = encode(
        &image::DynamicImage::ImageRgb8(src.clone()),
        ImageFormat::Png,
    );
    for format in [OutputFormat::Jpeg, OutputFormat::Png, OutputFormat::Webp] {
        let r = process(&input, &one(OutputSpec::new("o", format))).unwrap();
        let out = image::load_from_memory(r.outputs[0].data.as_ref().unwrap())
            .unwrap()
            .to_rgb8();
        let diff: u64 = out
            .as_raw()
            .iter()
            .zip(src.as_raw())
            .map(|(a, b)| (*a as i64 - *b as i64).unsigned_abs())
            .sum();
        let mean = diff as f64 / src.as_raw().len() as f64;
        assert!(mean < 6.0, "{format}: mean abs error {mean}");
    }
}

#[test]
fn smaller_outputs_made_from_a_larger_one_stay_upright_cropped_and_padded() {
    // Output 2 and 3 are made from output 1 (four times their resolution or more).
    for o in [1u8, 6, 8] {
        let input = oriented_jpeg(640, 320, o);
        let recipe = Recipe::new(vec![
            OutputSpec::new("large", OutputFormat::Png).size(400, 400),
            OutputSpec::new("cover", OutputFormat::Png)
                .size(40, 40)
                .fit(Fit::Cover),
            OutputSpec::new("contain", OutputFormat::Png)
                .size(50, 50)
                .fit(Fit::Contain),
        ]);
        let r = process(&input, &recipe).unwrap();
        let dims: Vec<_> = r.outputs.iter().map(|o| (o.width, o.height)).collect();
        assert_eq!(
            dims,
            vec![(400, 200), (40, 40), (50, 50)],
            "orientation {o}"
        );
        let cover = image::load_from_memory(r.outputs[1].data.as_ref().unwrap())
            .unwrap()
            .to_rgb8();
        assert_eq!(
            colour_name(cover.get_pixel(4, 4).0),
            "red",
            "orientation {o}"
        );
        assert_eq!(
            colour_name(cover.get_pixel(35, 35).0),
            "white",
            "orientation {o}"
        );
        let contain = image::load_from_memory(r.outputs[2].data.as_ref().unwrap())
            .unwrap()
            .to_rgb8();
        assert_eq!(
            contain.get_pixel(25, 2).0,
            [255, 255, 255],
            "padding, orientation {o}"
        );
        assert_eq!(
            colour_name(contain.get_pixel(5, 15).0),
            "red",
            "orientation {o}"
        );
        assert_eq!(
            colour_name(contain.get_pixel(45, 15).0),
            "green",
            "orientation {o}"
        );
    }
}

#[test]
fn shrink_on_load_keeps_exact_sizes_and_quality() {
    // Awkward sizes, so DCT scaling (1/2, 1/4, 1/8) rounds differently from the plan;
    // smooth photo-like content (a sawtooth would alias differently at every scale).
    let src = image::RgbImage::from_fn(1001, 667, |x, y| {
        let t = ((x as f32 * 0.013).sin() * (y as f32 * 0.011).cos() * 60.0) as i32;
        image::Rgb([
            (x * 200 / 1001) as u8,
            ((y * 200 / 667) as i32 - t).clamp(0, 255) as u8,
            (90 + t).clamp(0, 255) as u8,
        ])
    });
    let input = jpeg_of(&src, &[]);
    let full = image::load_from_memory(&input).unwrap();
    for (box_, want) in [
        (500u32, (500u32, 333u32)),
        (250, (250, 167)),
        (100, (100, 67)),
        (900, (900, 600)),
    ] {
        let r = process(
            &input,
            &one(OutputSpec::new("o", OutputFormat::Png).size(box_, box_)),
        )
        .unwrap();
        let out = image::load_from_memory(r.outputs[0].data.as_ref().unwrap())
            .unwrap()
            .to_rgb8();
        assert_eq!(out.dimensions(), want, "box {box_}");
        let reference = full
            .resize_exact(want.0, want.1, image::imageops::FilterType::Lanczos3)
            .to_rgb8();
        let diff: u64 = out
            .as_raw()
            .iter()
            .zip(reference.as_raw())
            .map(|(a, b)| (*a as i64 - *b as i64).unsigned_abs())
            .sum();
        let mean = diff as f64 / out.as_raw().len() as f64;
        assert!(
            mean < 4.0,
            "box {box_}: mean abs error {mean} against a full-size decode"
        );
    }
}

#[test]
fn scaled_crops_never_leave_the_image() {
    // Sizes whose scale factors are not exact in floating point (found on a 10.7 MP
    // photo: the thumbnail's crop box came out 1e-13 px larger than the image).
    for (w, h) in [
        (4000u32, 2667u32),
        (3872, 2592),
        (2560, 1600),
        (1999, 1333),
        (5184, 3456),
    ] {
        let input = jpeg(w, h);
        let r = process(&input, &Recipe::default()).unwrap_or_else(|e| panic!("{w}x{h}: {e}"));
        let thumb = &r.outputs[1];
        assert!(thumb.width <= 320 && thumb.height <= 320, "{w}x{h}");
        let mut cover = Recipe::default();
        cover.outputs[1] = OutputSpec::new("thumb", OutputFormat::Webp)
            .size(320, 320)
            .fit(Fit::Cover);
        let r = process(&input, &cover).unwrap_or_else(|e| panic!("{w}x{h} cover: {e}"));
        assert_eq!((r.outputs[1].width, r.outputs[1].height), (320, 320));
    }
}

#[test]
fn three_outputs_never_need_a_freed_source() {
    // Found by the browser batch: a thumbnail replaced the 1600 px intermediate, and a
    // later cropped icon then needed the full-size pixels, already freed.
    let recipe = Recipe::from_json(r#"{"outputs":[{"name":"large","width":1600,"height":1600,"format":"jpeg"},{"name":"thumb","width":320,"height":320,"format":"webp"},{"name":"icon","width":64,"height":64,"fit":"cover","format":"png"}]}"#).unwrap();
    for (w, h) in [
        (1758u32, 334u32),
        (2146, 858),
        (497, 431),
        (1200, 900),
        (334, 1758),
    ] {
        let r = process(&png(w, h), &recipe).unwrap_or_else(|e| panic!("{w}x{h}: {e}"));
        assert_eq!(
            (r.outputs[2].width, r.outputs[2].height),
            (64, 64),
            "{w}x{h}"
        );
    }
}
