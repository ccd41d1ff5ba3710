//! The shared vectors (`testdata/vectors`) through the pipeline as the wasm build has it
//! (no libjpeg, no libwebp: the entropy check and jpeg-decoder for JPEG, vaam-image-webp
//! for lossy WebP), run natively so that it needs no browser: every case must give the
//! native door's outcome, and every output with a `psnr_min` must be within it of the
//! native door's pixels (its `reference`). The browser replay (`browser.test.mjs`) runs
//! the same cases in Chromium.
//!
//! Also: the damaged-JPEG policy (`fail_on`) gives the native door's answers.
//!
//! Run it on its own (`cargo test -p conveyor-wasm --test pure_vectors`): within
//! `cargo test --workspace` the core's features unify with the native doors' and the
//! native decoders run instead.

#[path = "../../core/tests/common/psnr.rs"]
mod psnr;

use std::path::PathBuf;

use conveyor::pipeline::{run_valid, Context};
use conveyor::{ErrorKind, Limits, Report, ValidRecipe};
use psnr::psnr;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

fn run(input: &[u8], recipe: &str, limits: &Limits) -> Result<Report, conveyor::Error> {
    let recipe = ValidRecipe::from_json(recipe)?;
    let ctx = Context::new(limits);
    run_valid(input, &recipe, &ctx, &|_| Ok(()))
}

#[test]
fn every_vector_gives_the_native_outcome_and_pixels() {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("vectors/vectors.json")).unwrap(),
    )
    .unwrap();
    let mut checked = 0;
    let mut report = Vec::new();
    for case in doc["cases"].as_array().unwrap() {
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
        let text = match case.get("recipe_text") {
            Some(t) => t.as_str().unwrap().to_string(),
            None => case["recipe"].to_string(),
        };
        let result = run(&input, &text, &limits);
        // `expect_wasm`: what a build without the native-only codecs (AVIF) gives; under
        // `cargo test --workspace` the native codecs are unified in and `expect` holds.
        let expect = match (case.get("expect_wasm"), &result) {
            (Some(wasm), Err(_)) => wasm,
            _ => &case["expect"],
        };
        match (expect["ok"].as_bool().unwrap(), result) {
            (true, Ok(r)) => {
                let want = expect["outputs"].as_array().unwrap();
                assert_eq!(r.outputs.len(), want.len(), "{name}");
                for (got, want) in r.outputs.iter().zip(want) {
                    assert_eq!(
                        (got.width as u64, got.height as u64),
                        (
                            want["width"].as_u64().unwrap(),
                            want["height"].as_u64().unwrap()
                        ),
                        "{name}/{}",
                        got.name
                    );
                    let bytes = got.data.as_deref().unwrap();
                    // Under `cargo test --workspace` the native codecs are unified in,
                    // AVIF among them, which `image` cannot decode: check its brand.
                    if got.format == conveyor::OutputFormat::Avif {
                        assert_eq!(bytes.get(4..12), Some(&b"ftypavif"[..]), "{name}");
                        continue;
                    }
                    let decoded = image::load_from_memory(bytes)
                        .unwrap_or_else(|e| panic!("{name}/{}: {e}", got.name))
                        .to_rgba8();
                    assert_eq!(decoded.dimensions(), (got.width, got.height), "{name}");
                    // An animated WebP (the pure-Rust encoder's frames in conveyor's
                    // container): every frame decodes, at the output's size.
                    if let Some(frames) = want.get("frames").and_then(Value::as_u64) {
                        use image::AnimationDecoder as _;
                        assert_eq!(got.frames.map(u64::from), Some(frames), "{name}");
                        let dec =
                            image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(bytes))
                                .unwrap();
                        let all = dec.into_frames().collect_frames().unwrap();
                        assert_eq!(all.len() as u64, frames, "{name}");
                        for f in &all {
                            assert_eq!(f.buffer().dimensions(), (got.width, got.height));
                        }
                    }
                    let Some(floor) = want.get("psnr_min").and_then(Value::as_f64) else {
                        continue;
                    };
                    let path = root()
                        .join("vectors")
                        .join(want["reference"].as_str().unwrap());
                    let reference = image::open(&path).unwrap().to_rgba8();
                    let db = psnr(&decoded, &reference);
                    report.push(format!("{name}/{}: {db:.1} dB", got.name));
                    assert!(
                        db >= floor,
                        "{name}/{}: {db:.1} dB, floor {floor}",
                        got.name
                    );
                    checked += 1;
                }
            }
            (false, Err(e)) => {
                assert_eq!(
                    e.kind.as_str(),
                    expect["code"].as_str().unwrap(),
                    "{name}: {e}"
                )
            }
            (ok, got) => panic!(
                "{name}: expected ok={ok}, got {:?}",
                got.map(|_| ()).map_err(|e| e.to_string())
            ),
        }
    }
    println!("{}", report.join("\n"));
    assert!(checked >= 15, "only {checked} outputs checked by pixels");
}

/// The non-interleaved fixtures decode to the right colours (zune-jpeg 0.5 made red
/// green): the top-left block is red in both.
#[test]
fn non_interleaved_scans_keep_their_colours() {
    for name in ["noninterleaved_420.jpg", "noninterleaved_440.jpg"] {
        let input = std::fs::read(root().join("jpeg").join(name)).unwrap();
        let r = run(
            &input,
            r#"{"outputs":[{"name":"o","format":"png"}]}"#,
            &Limits::default(),
        )
        .unwrap();
        let img = image::load_from_memory(r.outputs[0].data.as_deref().unwrap())
            .unwrap()
            .to_rgb8();
        let p = img.get_pixel(8, 8).0;
        assert!(
            p[0] > 200 && p[1] < 60 && p[2] < 60,
            "{name}: {p:?} is not red"
        );
        let p = img.get_pixel(80, 8).0;
        assert!(
            p[2] > 200 && p[0] < 60 && p[1] < 60,
            "{name}: {p:?} is not blue"
        );
    }
}

/// `fail_on` for damaged JPEGs: refused by default with libjpeg's words, accepted with
/// "error" and "none"; a file cut short decodes under "none" as the native door's does.
#[test]
fn damaged_jpegs_follow_fail_on() {
    let recipe = |fail_on: &str| {
        format!(r#"{{"outputs":[{{"name":"o","format":"png"}}],"fail_on":"{fail_on}"}}"#)
    };
    // Junk between two scans.
    let data = std::fs::read(root().join("jpeg/noninterleaved_420.jpg")).unwrap();
    let second_scan = data
        .windows(2)
        .enumerate()
        .filter(|(_, w)| *w == [0xFF, 0xDA])
        .nth(1)
        .unwrap()
        .0;
    let mut junk = data.clone();
    junk.splice(second_scan..second_scan, [0x12, 0x34, 0x56, 0x78, 0x9A]);
    let e = run(&junk, &recipe("warning"), &Limits::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::DecodeFailed);
    assert!(
        e.message
            .contains("Corrupt JPEG data: 5 extraneous bytes before marker 0xda"),
        "{}",
        e.message
    );
    assert!(e.message.contains("fail_on"), "{}", e.message);
    for lenient in ["error", "none"] {
        let r = run(&junk, &recipe(lenient), &Limits::default());
        assert!(
            r.is_ok(),
            "{lenient}: {:?}",
            r.map(|_| ()).map_err(|e| e.to_string())
        );
    }
    // Junk before a restart marker: refused by default as libjpeg refuses it.
    let data = std::fs::read(root().join("jpeg/restart.jpg")).unwrap();
    let rst = data
        .windows(2)
        .position(|w| w[0] == 0xFF && (0xD0..=0xD7).contains(&w[1]))
        .unwrap();
    let mut junk = data.clone();
    junk.splice(
        rst..rst,
        [0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0x01, 0x23],
    );
    let e = run(&junk, &recipe("warning"), &Limits::default()).unwrap_err();
    assert!(e.message.contains("Corrupt JPEG data"), "{}", e.message);
    // Cut short: truncated unless fail_on is "none", which decodes what is there (for
    // single-scan files without restart markers; jpeg-decoder refuses the others).
    let data = std::fs::read(root().join("vectors/inputs/photo_640x480.jpg")).unwrap();
    let cut = &data[..data.len() * 2 / 3];
    let e = run(cut, &recipe("truncated"), &Limits::default()).unwrap_err();
    assert!(e.message.contains("truncated"), "{}", e.message);
    let r = run(cut, &recipe("none"), &Limits::default()).unwrap();
    assert_eq!((r.outputs[0].width, r.outputs[0].height), (640, 480));
}
