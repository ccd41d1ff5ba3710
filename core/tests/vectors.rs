//! Replays the shared test vectors in `testdata/vectors` (which the C, Python and JS
//! bindings replay too), checks the committed input images are what the generator
//! makes, and checks the committed error-code table.
//!
//! Outputs that carry a `psnr_min` are checked by pixels too: decoded, they must be
//! within that PSNR of their `reference` (a PNG of this door's own output, the native
//! one, written here under `CONVEYOR_BLESS=1`), so that every other door's codecs are
//! held to the native door's pixels, not only to its sizes.

mod common;

use std::path::PathBuf;

use common::psnr::psnr;
use common::*;
use conveyor::{ErrorKind, Job, Limits, Pool, Recipe};
use image::{DynamicImage, ImageFormat};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

fn bless() -> bool {
    std::env::var_os("CONVEYOR_BLESS").is_some()
}

/// A small image with strong, smooth colours (thin and tiny thumbnails of it show a
/// wrong colour at once).
fn colours(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (220 - (y * 2) % 120) as u8,
            (30 + (x * 3) % 150) as u8,
            (60 + ((x + y) * 2) % 140) as u8,
        ])
    }))
}

/// An indexed-colour PNG (colour type 3, 16 colours), written by hand: the `image`
/// encoder writes only direct colour.
fn palette_png(w: u32, h: u32) -> Vec<u8> {
    let chunk = |out: &mut Vec<u8>, kind: &[u8; 4], body: &[u8]| {
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(body);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
    };
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 3, 0, 0, 0]);
    let plte: Vec<u8> = (0..16u32)
        .flat_map(|i| [(i * 16) as u8, (255 - i * 12) as u8, (40 + i * 10) as u8])
        .collect();
    let mut raw = Vec::new();
    for y in 0..h {
        raw.push(0);
        raw.extend((0..w).map(|x| ((x / 5 + y / 5) % 16) as u8));
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"PLTE", &plte);
    chunk(&mut out, b"IDAT", &fdeflate::compress_to_vec(&raw));
    chunk(&mut out, b"IEND", &[]);
    out
}

/// An animated GIF of 60x40 whose three frames are red, green and blue, 100 ms each,
/// looping forever.
fn animated_gif() -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new(&mut out);
        enc.set_repeat(image::codecs::gif::Repeat::Infinite)
            .unwrap();
        for c in [[230, 20, 20, 255], [20, 230, 20, 255], [20, 20, 230, 255]] {
            let img = image::RgbaImage::from_pixel(60, 40, image::Rgba(c));
            let delay = image::Delay::from_numer_denom_ms(100, 1);
            enc.encode_frame(image::Frame::from_parts(img, 0, 0, delay))
                .unwrap();
        }
    }
    out
}

/// A fixture made by `testdata/jpeg/make.sh` (libjpeg-turbo's cjpeg), copied.
fn made_by_cjpeg(name: &str) -> Vec<u8> {
    std::fs::read(root().join("jpeg").join(name)).unwrap()
}

/// Every input file, as the generator makes it.
fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    let rgb = |w, h| DynamicImage::ImageRgb8(gradient(w, h));
    let rgba = DynamicImage::ImageRgba8(image::RgbaImage::from_fn(300, 200, |x, y| {
        image::Rgba([
            (x % 256) as u8,
            (y % 256) as u8,
            100,
            if x < 150 { 255 } else { 64 },
        ])
    }));
    let mut fake = b"\x89PNG\r\n\x1a\n".to_vec();
    fake.extend((0..120u32).map(|i| (i * 31 % 251) as u8));
    vec![
        ("photo_640x480.jpg", jpeg(640, 480)),
        ("card_orient6.jpg", oriented_jpeg(320, 240, 6)),
        ("card_orient8.jpg", oriented_jpeg(320, 240, 8)),
        ("rgba_300x200.png", encode(&rgba, ImageFormat::Png)),
        (
            "gradient_120x90.gif",
            encode(&rgb(120, 90), ImageFormat::Gif),
        ),
        (
            "gradient_100x100.webp",
            encode(&rgb(100, 100), ImageFormat::WebP),
        ),
        ("gradient_64x32.bmp", encode(&rgb(64, 32), ImageFormat::Bmp)),
        ("animated_3f_60x40.gif", animated_gif()),
        (
            "gradient_80x60.tiff",
            encode(&rgb(80, 60), ImageFormat::Tiff),
        ),
        ("icon_32x32.ico", encode(&rgb(32, 32), ImageFormat::Ico)),
        (
            "garbage.bin",
            b"this is not an image at all, just text\n".to_vec(),
        ),
        ("fake.png", fake),
        ("bomb_50000x50000.png", png_bomb_header(50_000, 50_000)),
        ("scan_flood_600.jpg", hostile::scan_flood_jpeg(64, 64, 600)),
        (
            "progressive_160x120.jpg",
            hostile::progressive_jpeg(160, 120),
        ),
        (
            "truncated_40.jpg",
            hostile::truncated(&hostile::progressive_jpeg(160, 120), 40),
        ),
        ("jpeg_12bit.jpg", hostile::jpeg_variant_header(0xC1, 12)),
        ("jpeg_lossless.jpg", hostile::jpeg_variant_header(0xC3, 8)),
        (
            "jpeg_hierarchical.jpg",
            hostile::jpeg_variant_header(0xC5, 8),
        ),
        ("iccp_bomb_16m.png", hostile::png_iccp_bomb(16 << 20)),
        (
            "bmp_size_bomb.bmp",
            hostile::bmp_size_bomb(2554, 18803, 253),
        ),
        ("webp_16384.webp", hostile::webp_header(16384, 16384)),
        // Colour management: copies of scripts/colour-testimages.py's inputs.
        ("colour_p3.png", colour("p3.png")),
        ("colour_p3.jpg", colour("p3.jpg")),
        ("colour_broken_icc.jpg", colour("broken_truncated.jpg")),
        ("colour_cmyk_icc.jpg", colour("cmyk.jpg")),
        ("line_1x64.png", encode(&colours(1, 64), ImageFormat::Png)),
        ("line_64x1.png", encode(&colours(64, 1), ImageFormat::Png)),
        ("odd_37x23.png", encode(&colours(37, 23), ImageFormat::Png)),
        (
            "grey_50x30.png",
            encode(
                &DynamicImage::ImageLuma8(image::GrayImage::from_fn(50, 30, |x, y| {
                    image::Luma([(40 + x * 3 + y * 2) as u8])
                })),
                ImageFormat::Png,
            ),
        ),
        ("palette_40x30.png", palette_png(40, 30)),
        (
            "noninterleaved_420.jpg",
            made_by_cjpeg("noninterleaved_420.jpg"),
        ),
        (
            "noninterleaved_440.jpg",
            made_by_cjpeg("noninterleaved_440.jpg"),
        ),
    ]
}

/// An input of `testdata/colour` (made with Pillow by scripts/colour-testimages.py).
fn colour(name: &str) -> Vec<u8> {
    std::fs::read(root().join("colour").join(name)).unwrap()
}

#[test]
fn committed_inputs_match_the_generator() {
    let dir = root().join("vectors/inputs");
    for (name, bytes) in inputs() {
        let path = dir.join(name);
        if bless() {
            std::fs::write(&path, &bytes).unwrap();
        }
        let committed = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run with CONVEYOR_BLESS=1)", path.display()));
        assert!(
            committed == bytes,
            "{name} differs from the generator (run with CONVEYOR_BLESS=1)"
        );
    }
}

#[test]
fn the_error_code_table_is_current() {
    let table: Vec<Value> = ErrorKind::ALL
        .iter()
        .map(|k| serde_json::json!({"code": k.code(), "name": k.as_str(), "description": k.description()}))
        .collect();
    let text = serde_json::to_string_pretty(&table).unwrap() + "\n";
    let path = root().join("error_codes.json");
    if bless() {
        std::fs::write(&path, &text).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text,
        "run with CONVEYOR_BLESS=1"
    );
}

/// Checks an output's pixels against its reference (or writes the reference when
/// blessing). Returns the PSNR.
fn check_pixels(case: &str, want: &Value, bytes: &[u8]) -> Option<f64> {
    let floor = want.get("psnr_min")?.as_f64().unwrap();
    let reference = want["reference"]
        .as_str()
        .expect("psnr_min needs a reference");
    let path = root().join("vectors").join(reference);
    let got = image::load_from_memory(bytes).unwrap().to_rgba8();
    if bless() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        got.save_with_format(&path, ImageFormat::Png).unwrap();
    }
    let reference = image::open(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with CONVEYOR_BLESS=1)", path.display()))
        .to_rgba8();
    let db = psnr(&got, &reference);
    assert!(
        db >= floor,
        "{case}: {db:.1} dB against {}, floor {floor}",
        path.display()
    );
    Some(db)
}

#[test]
fn every_vector_gives_the_expected_outcome() {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("vectors/vectors.json")).unwrap(),
    )
    .unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 15);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let input = std::fs::read(
            root()
                .join("vectors/inputs")
                .join(case["input"].as_str().unwrap()),
        )
        .unwrap();
        let limits: Limits = match case.get("limits") {
            Some(l) => serde_json::from_value(l.clone()).unwrap(),
            None => Limits::default(),
        };
        let expect = &case["expect"];
        // The recipe goes through its JSON text, exactly as the bindings pass it
        // (`recipe_text`: the raw text, for shapes a JSON object cannot hold).
        let text = match case.get("recipe_text") {
            Some(t) => t.as_str().expect("recipe_text is a string").to_string(),
            None => case["recipe"].to_string(),
        };
        let outcome = Recipe::from_json(&text).and_then(|recipe| {
            let pool = Pool::builder().workers(1).limits(limits).build()?;
            pool.submit(Job::new(input).with_recipe(recipe))
                .map_err(conveyor::Error::from)?
                .wait()
                .result
        });
        match (expect["ok"].as_bool().unwrap(), outcome) {
            (true, Ok(report)) => {
                let want_in = &expect["input"];
                assert_eq!(report.input.format.as_str(), want_in["format"], "{name}");
                assert_eq!(
                    (report.input.width as u64, report.input.height as u64),
                    (
                        want_in["width"].as_u64().unwrap(),
                        want_in["height"].as_u64().unwrap()
                    ),
                    "{name}"
                );
                // Optional: the warnings' codes, in order (colour profiles ignored).
                if let Some(want) = expect.get("warnings") {
                    let got: Vec<&str> = report.warnings.iter().map(|w| w.code.as_str()).collect();
                    let want: Vec<&str> = want
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|w| w.as_str().unwrap())
                        .collect();
                    assert_eq!(got, want, "{name}: {:?}", report.warnings);
                }
                let want = expect["outputs"].as_array().unwrap();
                assert_eq!(report.outputs.len(), want.len(), "{name}");
                for (got, want) in report.outputs.iter().zip(want) {
                    assert_eq!(got.name, want["name"].as_str().unwrap(), "{name}");
                    assert_eq!(
                        got.format.as_str(),
                        want["format"].as_str().unwrap(),
                        "{name}"
                    );
                    assert_eq!(
                        (got.width as u64, got.height as u64),
                        (
                            want["width"].as_u64().unwrap(),
                            want["height"].as_u64().unwrap()
                        ),
                        "{name}/{}",
                        got.name
                    );
                    let (f, w, h) = sniff(got.data.as_ref().unwrap());
                    assert_eq!(
                        (f.extensions_str()[0], w, h),
                        (got.format.extension(), got.width, got.height),
                        "{name}: bytes match the report"
                    );
                    // Optional: an animated output's frame count (replayed here only).
                    if let Some(frames) = want.get("frames") {
                        assert_eq!(got.frames.map(u64::from), frames.as_u64(), "{name}");
                    }
                    check_pixels(name, want, got.data.as_ref().unwrap());
                }
            }
            (false, Err(e)) => assert_eq!(
                e.kind.as_str(),
                expect["code"].as_str().unwrap(),
                "{name}: {e}"
            ),
            (ok, got) => panic!(
                "{name}: expected ok={ok}, got {:?}",
                got.map(|r| r.outputs.len())
            ),
        }
    }
}
