//! The recipe features beyond the peers: the byte budget (`max_bytes`), placeholders,
//! smart crop (`position`), AVIF output and animated input's frame count, through the
//! public pipeline on real codecs.
#![allow(missing_docs)]

use conveyor::{ErrorKind, OutputFormat, Recipe, Report};

fn png(img: &image::RgbImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn photo() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/vectors/inputs/photo_640x480.jpg"
    );
    std::fs::read(path).unwrap()
}

fn run(data: &[u8], json: &str) -> Result<Report, conveyor::Error> {
    conveyor::process(data, &Recipe::from_json(json).unwrap())
}

fn bytes(r: &Report, i: usize) -> &[u8] {
    r.outputs[i].data.as_deref().unwrap()
}

/// The size of `data` encoded at a fixed quality (no budget).
fn size_at(data: &[u8], format: &str, quality: u32) -> u64 {
    let json = format!(
        r#"{{"outputs":[{{"name":"o","width":480,"format":"{format}","quality":{quality}}}]}}"#
    );
    run(data, &json).unwrap().outputs[0].byte_len
}

#[test]
fn byte_budget_picks_the_largest_quality_that_fits_in_seven_encodes() {
    let data = photo();
    for format in ["jpeg", "webp"] {
        let full = size_at(&data, format, 80);
        let budgets = [
            size_at(&data, format, 20) + 3,
            size_at(&data, format, 45),
            size_at(&data, format, 70) - 1,
            full - 1,
        ];
        for budget in budgets {
            let json = format!(
                r#"{{"outputs":[{{"name":"o","width":480,"format":"{format}","max_bytes":{budget}}}]}}"#
            );
            let r = run(&data, &json).unwrap();
            let o = &r.outputs[0];
            let (q, n) = (o.quality.unwrap(), o.encodes.unwrap());
            assert!(
                o.byte_len <= budget,
                "{format} {budget}: {} bytes",
                o.byte_len
            );
            assert!((1..=7).contains(&n), "{format}: {n} encodes");
            assert!((1..80).contains(&q), "{format}: quality {q}");
            assert_eq!(
                size_at(&data, format, q),
                o.byte_len,
                "{format}: same bytes as quality {q}"
            );
            // Maximal: one step up no longer fits (sizes grow with quality here).
            assert!(
                size_at(&data, format, q + 1) > budget,
                "{format} {budget}: q{} fits too",
                q + 1
            );
        }
        // A generous budget keeps the ceiling (80) in two encodes.
        let json = format!(
            r#"{{"outputs":[{{"name":"o","width":480,"format":"{format}","max_bytes":{}}}]}}"#,
            full + 1
        );
        let o = &run(&data, &json).unwrap().outputs[0];
        assert_eq!((o.quality, o.encodes), (Some(80), Some(2)), "{format}");
        // A ceiling of 50 that fits costs one encode.
        let json = format!(
            r#"{{"outputs":[{{"name":"o","width":480,"format":"{format}","quality":50,"max_bytes":{}}}]}}"#,
            full
        );
        let o = &run(&data, &json).unwrap().outputs[0];
        assert_eq!((o.quality, o.encodes), (Some(50), Some(1)), "{format}");
    }
}

#[test]
fn a_budget_nothing_fits_fails_with_limit_exceeded() {
    let e = run(
        &photo(),
        r#"{"outputs":[{"name":"o","format":"jpeg","max_bytes":200}]}"#,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitExceeded);
    assert!(e.message.contains("max_bytes (200)"), "{}", e.message);
    assert!(e.message.len() <= 300);
}

#[test]
fn budget_fields_are_validated() {
    for (json, needle) in [
        (
            r#"{"outputs":[{"name":"o","format":"png","max_bytes":10}]}"#,
            "outputs[0].max_bytes",
        ),
        (
            r#"{"outputs":[{"name":"o","format":"webp","lossless":true,"max_bytes":10}]}"#,
            "outputs[0].max_bytes",
        ),
        (
            r#"{"outputs":[{"name":"o","format":"jpeg","max_bytes":0}]}"#,
            "outputs[0].max_bytes",
        ),
        (
            r#"{"outputs":[{"name":"o","format":"jpeg","max_bytes":null}]}"#,
            "outputs[0].max_bytes",
        ),
        (
            r#"{"outputs":[{"name":"o","format":"jpeg","width":9,"position":"entropy"}]}"#,
            "outputs[0].position",
        ),
        (
            r#"{"outputs":[{"name":"o","format":"jpeg","speed":5}]}"#,
            "outputs[0].speed",
        ),
        (
            r#"{"outputs":[{"name":"o","format":"avif","speed":11}]}"#,
            "outputs[0].speed",
        ),
        (
            r#"{"outputs":[{"name":"o","format":"jpeg"}],"placeholder":"pixels"}"#,
            "placeholder",
        ),
    ] {
        let e = Recipe::from_json(json).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRecipe, "{json}");
        assert!(e.message.contains(needle), "{json}: {}", e.message);
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let mut out = Vec::new();
    for chunk in s.as_bytes().chunks(4) {
        let digits: Vec<u8> = chunk
            .iter()
            .filter(|&&c| c != b'=')
            .map(|&c| val(c))
            .collect();
        let n = digits
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &d)| n | (d as u32) << (18 - 6 * i));
        out.extend(n.to_be_bytes()[1..digits.len()].iter());
    }
    out
}

#[test]
fn thumbhash_decodes_to_the_images_average_colour_and_aspect() {
    let img = image::RgbImage::from_pixel(300, 150, image::Rgb([200, 60, 30]));
    let r = run(
        &png(&img),
        r#"{"outputs":[{"name":"o","width":64,"format":"webp"}],"placeholder":"thumbhash"}"#,
    )
    .unwrap();
    let text = r.placeholder.as_deref().unwrap();
    assert!(text.len() < 48, "{text}");
    let hash = base64_decode(text);
    let (red, green, blue, alpha) = thumbhash::thumb_hash_to_average_rgba(&hash).unwrap();
    for (got, want) in [(red, 200.0), (green, 60.0), (blue, 30.0), (alpha, 255.0)] {
        assert!((got * 255.0 - want).abs() < 12.0, "{got} vs {want}: {text}");
    }
    let aspect = thumbhash::thumb_hash_to_approximate_aspect_ratio(&hash).unwrap();
    assert!((aspect - 2.0).abs() < 0.3, "{aspect}"); // ThumbHash stores it coarsely
                                                     // No placeholder unless asked for; BlurHash when asked for.
    let r = run(&png(&img), r#"{"outputs":[{"name":"o","format":"webp"}]}"#).unwrap();
    assert!(r.placeholder.is_none());
    let r = run(
        &png(&img),
        r#"{"outputs":[{"name":"o","format":"webp"}],"placeholder":"blurhash"}"#,
    )
    .unwrap();
    assert_eq!(r.placeholder.unwrap().len(), 28);
}

/// 800x200: flat grey, with a 160x200 detailed (noise) or salient (red) block at `at`.
fn scene(at: u32, red: bool) -> Vec<u8> {
    let mut seed = 1u32;
    let img = image::RgbImage::from_fn(800, 200, |x, _| {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let n = (seed >> 16) as u8;
        if (at..at + 160).contains(&x) {
            if red {
                image::Rgb([230, 20, 20])
            } else {
                image::Rgb([n, n / 2, 255 - n])
            }
        } else {
            image::Rgb([128, 128, 128])
        }
    });
    png(&img)
}

#[test]
fn smart_crops_keep_the_interesting_part_and_report_the_box() {
    for at in [40u32, 600] {
        for (position, red) in [
            ("entropy", false),
            ("attention", false),
            ("attention", true),
        ] {
            let json = format!(
                r#"{{"outputs":[{{"name":"o","width":100,"height":100,"fit":"cover","position":"{position}","format":"png"}}]}}"#
            );
            let r = run(&scene(at, red), &json).unwrap();
            let o = &r.outputs[0];
            assert_eq!((o.width, o.height), (100, 100));
            let c = o.crop.unwrap();
            assert_eq!((c.width, c.height, c.top), (200, 200, 0));
            assert!(
                c.left <= at && c.left + c.width >= at + 160,
                "{position} red={red}: block at {at}, crop {c:?}"
            );
            // The pixels are the block's, not the grey around it.
            let img = image::load_from_memory(bytes(&r, 0)).unwrap().to_rgb8();
            let grey = img.pixels().filter(|p| p.0 == [128, 128, 128]).count();
            assert!(grey < 100 * 100 / 4, "{position}: {grey} grey pixels");
        }
    }
    // Centre: the middle, and the box is reported too.
    let r = run(
        &scene(40, false),
        r#"{"outputs":[{"name":"o","width":100,"height":100,"fit":"cover","format":"png"}]}"#,
    )
    .unwrap();
    let c = r.outputs[0].crop.unwrap();
    assert_eq!((c.left, c.top, c.width, c.height), (300, 0, 200, 200));
    // No crop box when nothing is cropped.
    let r = run(
        &scene(40, false),
        r#"{"outputs":[{"name":"o","width":100,"format":"png"}]}"#,
    )
    .unwrap();
    assert!(r.outputs[0].crop.is_none());
}

#[test]
fn smart_crops_follow_the_exif_orientation() {
    // card_orient6.jpg is stored landscape and shown portrait (rotate 90); an entropy
    // crop must land inside the upright image and give the box's size.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/vectors/inputs/card_orient6.jpg"
    );
    let data = std::fs::read(path).unwrap();
    let r = run(
        &data,
        r#"{"outputs":[{"name":"o","width":40,"height":40,"fit":"cover","position":"entropy","format":"png"}]}"#,
    )
    .unwrap();
    let (w, h) = (r.input.width, r.input.height);
    let c = r.outputs[0].crop.unwrap();
    assert!(
        c.left + c.width <= h && c.top + c.height <= w,
        "{c:?} in {h}x{w}"
    );
    assert_eq!((r.outputs[0].width, r.outputs[0].height), (40, 40));
}

/// The `ispe` (image spatial extent) box's width and height.
fn avif_size(data: &[u8]) -> (u32, u32) {
    let at = data
        .windows(4)
        .position(|w| w == b"ispe")
        .expect("an ispe box");
    let be = |i: usize| u32::from_be_bytes(data[i..i + 4].try_into().unwrap());
    (be(at + 8), be(at + 12))
}

#[cfg(feature = "avif")]
#[test]
fn avif_output_is_an_avif_file_of_the_planned_size() {
    let r = run(
        &photo(),
        r#"{"outputs":[{"name":"a","width":320,"format":"avif","quality":60,"speed":9},{"name":"b","width":100,"height":100,"fit":"cover","format":"avif","max_bytes":3000,"speed":10}]}"#,
    )
    .unwrap();
    for (i, size) in [(0, (320, 240)), (1, (100, 100))] {
        let data = bytes(&r, i);
        assert_eq!(&data[4..12], b"ftypavif", "output {i}");
        assert_eq!(avif_size(data), size, "output {i}");
        assert_eq!((r.outputs[i].width, r.outputs[i].height), size);
        assert_eq!(r.outputs[i].format, OutputFormat::Avif);
    }
    assert!(r.outputs[1].byte_len <= 3000);
    assert!(r.outputs[1].encodes.unwrap() <= 7);
    // Quality matters: a lower one makes a smaller file.
    let small = run(
        &photo(),
        r#"{"outputs":[{"name":"a","width":320,"format":"avif","quality":20,"speed":9}]}"#,
    )
    .unwrap();
    assert!(small.outputs[0].byte_len < r.outputs[0].byte_len);
    // With alpha.
    let rgba = image::RgbaImage::from_pixel(33, 17, image::Rgba([10, 200, 30, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    rgba.write_to(&mut out, image::ImageFormat::Png).unwrap();
    let r = run(
        out.get_ref(),
        r#"{"outputs":[{"name":"a","format":"avif","speed":10}]}"#,
    )
    .unwrap();
    assert_eq!(avif_size(bytes(&r, 0)), (33, 17));
    assert_eq!(
        conveyor::wire::output_file_name("a", OutputFormat::Avif),
        "a.avif"
    );
}

#[test]
fn animated_gifs_report_their_frames_and_use_the_first() {
    use image::codecs::gif::GifEncoder;
    use image::{Delay, Frame, RgbaImage};
    let mut gif = Vec::new();
    {
        let mut enc = GifEncoder::new(&mut gif);
        for colour in [[250, 0, 0, 255], [0, 250, 0, 255], [0, 0, 250, 255]] {
            let img = RgbaImage::from_pixel(30, 20, image::Rgba(colour));
            enc.encode_frame(Frame::from_parts(
                img,
                0,
                0,
                Delay::from_numer_denom_ms(100, 1),
            ))
            .unwrap();
        }
    }
    let r = run(&gif, r#"{"outputs":[{"name":"o","format":"png"}]}"#).unwrap();
    assert_eq!(r.input.frames, 3);
    let img = image::load_from_memory(bytes(&r, 0)).unwrap().to_rgb8();
    let p = img.get_pixel(10, 10).0;
    assert!(p[0] > 200 && p[1] < 50 && p[2] < 50, "{p:?}");
    let v = serde_json::to_value(r.input).unwrap();
    assert_eq!(v["frames"], 3);
    // A still image is one frame.
    let still = image::RgbImage::from_pixel(4, 4, image::Rgb([1, 2, 3]));
    let r = run(&png(&still), r#"{"outputs":[{"name":"o","format":"png"}]}"#).unwrap();
    assert_eq!(r.input.frames, 1);
}
