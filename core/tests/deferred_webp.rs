//! Deferred lossy WebP outputs (`Context::defer_lossy_webp`, the browser door's path to
//! the browser's own libwebp): which outputs are left for the caller, and that the two
//! ways back (`encode_deferred_webp`, `finish_deferred_webp`) give what the pipeline
//! itself writes.

use conveyor::pipeline::{encode_deferred_webp, finish_deferred_webp, run_valid, Context};
use conveyor::{ErrorKind, Limits, Report, ValidRecipe};

/// A PNG with a gradient; with `alpha`, its left half half-transparent.
fn png(w: u32, h: u32, alpha: bool) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(w, h, |x, y| {
        let a = if alpha && x < w / 2 { 128 } else { 255 };
        image::Rgba([
            (x * 255 / w) as u8,
            (y * 255 / h) as u8,
            ((x + y) % 256) as u8,
            a,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

const RECIPE: &str = r#"{"outputs": [
    {"name": "thumb", "width": 100, "format": "webp", "quality": 75},
    {"name": "capped", "width": 100, "format": "webp", "max_bytes": 4000},
    {"name": "lossless", "width": 100, "format": "webp", "lossless": true},
    {"name": "jpeg", "width": 100, "format": "jpeg"}]}"#;

fn run(input: &[u8], defer: bool) -> Report {
    let limits = Limits::default();
    let ctx = Context {
        defer_lossy_webp: defer,
        ..Context::new(&limits)
    };
    let recipe = ValidRecipe::from_json(RECIPE).unwrap();
    run_valid(input, &recipe, &ctx, &|_| Ok(())).unwrap()
}

#[test]
fn only_plain_lossy_webp_outputs_are_deferred() {
    let input = png(200, 150, false);
    let deferred = run(&input, true);
    let thumb = &deferred.outputs[0];
    assert_eq!(thumb.deferred_quality, Some(75));
    assert_eq!((thumb.width, thumb.height), (100, 75));
    let rgba = thumb.data.as_deref().unwrap();
    assert_eq!(rgba.len(), 100 * 75 * 4);
    assert!(rgba.chunks_exact(4).all(|p| p[3] == 255));
    // A byte budget, lossless and another format are the pipeline's to encode.
    for o in &deferred.outputs[1..] {
        assert_eq!(o.deferred_quality, None, "{}", o.name);
        assert_eq!(
            o.byte_len,
            o.data.as_ref().unwrap().len() as u64,
            "{}",
            o.name
        );
    }
    // Without the flag nothing is deferred; with it, the rest is byte for byte the same.
    let plain = run(&input, false);
    assert!(plain.outputs.iter().all(|o| o.deferred_quality.is_none()));
    for (a, b) in deferred.outputs[1..].iter().zip(&plain.outputs[1..]) {
        assert_eq!(a.data, b.data, "{}", a.name);
    }
    // The estimate counts the deferred output as the RGBA pixels it keeps, not as an
    // encoded file.
    assert!(deferred.memory_estimate > plain.memory_estimate);
    // The fallback encoder gives what the pipeline writes itself.
    let own = encode_deferred_webp(rgba, 100, 75, 75).unwrap();
    assert_eq!(own.as_slice(), plain.outputs[0].data.as_deref().unwrap());
}

#[test]
fn outputs_with_transparency_are_not_deferred() {
    let report = run(&png(200, 150, true), true);
    let thumb = &report.outputs[0];
    assert_eq!(thumb.deferred_quality, None);
    let webp = thumb.data.as_deref().unwrap();
    assert_eq!(&webp[12..16], b"VP8X", "an alpha WebP");
}

fn chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut c = id.to_vec();
    c.extend_from_slice(&(body.len() as u32).to_le_bytes());
    c.extend_from_slice(body);
    if body.len() % 2 == 1 {
        c.push(0);
    }
    c
}

fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = chunks.concat();
    let mut f = b"RIFF".to_vec();
    f.extend_from_slice(&(body.len() as u32 + 4).to_le_bytes());
    f.extend_from_slice(b"WEBP");
    f.extend_from_slice(&body);
    f
}

#[test]
fn another_encoders_file_is_rewrapped_as_the_pipelines() {
    let plain = run(&png(200, 150, false), false);
    let ours = plain.outputs[0].data.as_deref().unwrap();
    assert_eq!(&ours[12..16], b"VP8 ");
    let len = u32::from_le_bytes(ours[16..20].try_into().unwrap()) as usize;
    let vp8 = &ours[20..20 + len];
    // As Chromium writes it: VP8X, an sRGB profile, then the VP8 stream.
    let mut vp8x = vec![0x20, 0, 0, 0];
    vp8x.extend_from_slice(&[99, 0, 0, 74, 0, 0]);
    let theirs = riff(&[
        chunk(b"VP8X", &vp8x),
        chunk(b"ICCP", &[1, 2, 3]),
        chunk(b"VP8 ", vp8),
    ]);
    assert_eq!(finish_deferred_webp(&theirs, 100, 75).unwrap(), ours);
    // Not of the output's size, with alpha, lossless, or not a WebP: refused.
    let refused = [
        finish_deferred_webp(&theirs, 101, 75),
        finish_deferred_webp(
            &riff(&[chunk(b"ALPH", &[0; 8]), chunk(b"VP8 ", vp8)]),
            100,
            75,
        ),
        finish_deferred_webp(&riff(&[chunk(b"VP8L", &[0x2f; 12])]), 100, 75),
        finish_deferred_webp(b"\x89PNG\r\n\x1a\n", 100, 75),
        finish_deferred_webp(&ours[..ours.len() - 10], 100, 75),
    ];
    for (i, r) in refused.into_iter().enumerate() {
        assert_eq!(r.unwrap_err().kind, ErrorKind::EncodeFailed, "case {i}");
    }
}

#[test]
fn the_fallback_encoder_checks_its_arguments() {
    for (len, w, h, q) in [
        (16, 2, 2, 0),
        (16, 2, 2, 101),
        (15, 2, 2, 75),
        (0, 0, 0, 75),
    ] {
        let e = encode_deferred_webp(&vec![255; len], w, h, q).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
    }
}
