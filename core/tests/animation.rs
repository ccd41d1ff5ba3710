//! `animated: true`: animated GIF, APNG and WebP inputs become animated WebP outputs
//! (every frame resized, the source's delays and loop count), one-frame formats get
//! the first frame and a warning, and every frame counts against the limits. The
//! outputs are read back with the `image` crate's own WebP animation decoder.
#![allow(missing_docs)]

use std::cell::Cell;
use std::time::{Duration, Instant};

use conveyor::pipeline::{run, Context};
use conveyor::{ErrorKind, InputFormat, Limits, Recipe, Report, Stage, WarningKind};
use image::{AnimationDecoder, Delay, Frame, RgbaImage};

const RED: [u8; 4] = [230, 20, 20, 255];
const GREEN: [u8; 4] = [20, 230, 20, 255];
const BLUE: [u8; 4] = [20, 20, 230, 255];

/// A GIF of `size` whose frames fill the canvas with these colours, shown these
/// milliseconds (multiples of 10, GIF's unit), looping `repeat` times (`None`: no
/// NETSCAPE extension).
fn gif(size: (u32, u32), frames: &[([u8; 4], u32)], repeat: Option<u16>) -> Vec<u8> {
    use image::codecs::gif::{GifEncoder, Repeat};
    let mut out = Vec::new();
    {
        let mut enc = GifEncoder::new(&mut out);
        if let Some(n) = repeat {
            enc.set_repeat(Repeat::Finite(n)).unwrap();
        }
        for &(colour, ms) in frames {
            let img = RgbaImage::from_pixel(size.0, size.1, image::Rgba(colour));
            enc.encode_frame(Frame::from_parts(
                img,
                0,
                0,
                Delay::from_numer_denom_ms(ms, 1),
            ))
            .unwrap();
        }
    }
    out
}

/// An APNG written with the png crate: RGBA frames of these colours and delays.
fn apng(size: (u32, u32), frames: &[([u8; 4], u16)], plays: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, size.0, size.1);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_animated(frames.len() as u32, plays).unwrap();
        let mut w = enc.write_header().unwrap();
        for &(colour, ms) in frames {
            w.set_frame_delay(ms, 1000).unwrap();
            let data: Vec<u8> = colour
                .iter()
                .copied()
                .cycle()
                .take(size.0 as usize * size.1 as usize * 4)
                .collect();
            w.write_image_data(&data).unwrap();
        }
        w.finish().unwrap();
    }
    out
}

fn process(data: &[u8], json: &str) -> Result<Report, conveyor::Error> {
    conveyor::process(data, &Recipe::from_json(json).unwrap())
}

fn bytes(r: &Report, i: usize) -> &[u8] {
    r.outputs[i].data.as_deref().unwrap()
}

/// An output read back: its frames (size, a middle pixel, milliseconds) and loop count.
struct Anim {
    frames: Vec<((u32, u32), [u8; 4], u32)>,
    /// Plays; 0 for forever.
    loops: u32,
}

fn read_webp(data: &[u8]) -> Anim {
    let dec = image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(data)).unwrap();
    assert!(dec.has_animation(), "not an animated WebP");
    let loops = match dec.loop_count() {
        image::metadata::LoopCount::Infinite => 0,
        image::metadata::LoopCount::Finite(n) => n.get(),
    };
    let frames = dec
        .into_frames()
        .collect_frames()
        .unwrap()
        .into_iter()
        .map(|f| {
            let (n, d) = f.delay().numer_denom_ms();
            let b = f.buffer();
            let mid = b.get_pixel(b.width() / 2, b.height() / 2).0;
            (b.dimensions(), mid, n / d)
        })
        .collect();
    Anim { frames, loops }
}

fn close(got: [u8; 4], want: [u8; 4], tolerance: u8) -> bool {
    got.iter()
        .zip(want)
        .all(|(a, b)| a.abs_diff(b) <= tolerance)
}

#[test]
fn gif_frames_become_a_resized_animated_webp_with_delays_and_loops() {
    let frames = [(RED, 100), (GREEN, 250), (BLUE, 40)];
    let data = gif((60, 40), &frames, Some(2));
    let r = process(
        &data,
        r#"{"animated":true,"outputs":[
            {"name":"anim","width":30,"format":"webp","quality":90},
            {"name":"poster","width":30,"format":"jpeg"}]}"#,
    )
    .unwrap();
    assert_eq!(r.input.frames, 3);
    let o = &r.outputs[0];
    assert_eq!((o.width, o.height, o.frames), (30, 20, Some(3)));
    let anim = read_webp(bytes(&r, 0));
    // GIF's count is of repeats after the first play, WebP's of plays (as gif2webp).
    assert_eq!(anim.loops, 3);
    assert_eq!(anim.frames.len(), 3);
    for ((size, mid, ms), (colour, want_ms)) in anim.frames.iter().zip(frames) {
        assert_eq!(*size, (30, 20));
        assert_eq!(*ms, want_ms);
        assert!(close(*mid, colour, 12), "{mid:?} for {colour:?}");
    }
    // The JPEG holds the first frame, and the outcome says the others were dropped.
    assert_eq!(r.outputs[1].frames, None);
    let poster = image::load_from_memory(bytes(&r, 1)).unwrap().to_rgba8();
    assert_eq!(poster.dimensions(), (30, 20));
    assert!(close(poster.get_pixel(15, 10).0, RED, 12));
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert_eq!(r.warnings[0].code, WarningKind::FramesDropped);
    assert!(r.warnings[0].message.contains("\"poster\""));
    // The outcome JSON names the output's frame count.
    let v = serde_json::to_value(&r.outputs[0]).unwrap();
    assert_eq!(v["frames"], 3);
    assert!(serde_json::to_value(&r.outputs[1])
        .unwrap()
        .get("frames")
        .is_none());
}

#[test]
fn apng_frames_keep_alpha_exactly_in_lossless_webp() {
    let half = [10, 200, 90, 128];
    let frames = [(RED, 70), (half, 30), (BLUE, 500)];
    let data = apng((20, 10), &frames, 0);
    let r = process(
        &data,
        r#"{"animated":true,"outputs":[{"name":"o","format":"webp","lossless":true}]}"#,
    )
    .unwrap();
    assert_eq!((r.input.format, r.input.frames), (InputFormat::Png, 3));
    assert_eq!(r.outputs[0].frames, Some(3));
    let anim = read_webp(bytes(&r, 0));
    assert_eq!(anim.loops, 0);
    let got: Vec<_> = anim.frames.iter().map(|f| (f.0, f.1, f.2)).collect();
    let want: Vec<_> = frames
        .iter()
        .map(|&(c, ms)| ((20, 10), c, ms as u32))
        .collect();
    assert_eq!(got, want);
    assert!(r.warnings.is_empty());
}

#[test]
fn animated_webp_inputs_animate_too_with_the_same_crop_for_every_frame() {
    // conveyor's own animated WebP as the input of a second job.
    let data = gif((64, 32), &[(RED, 100), (GREEN, 100)], None);
    let first = process(
        &data,
        r#"{"animated":true,"outputs":[{"name":"o","format":"webp","lossless":true}]}"#,
    )
    .unwrap();
    let webp = bytes(&first, 0);
    // No NETSCAPE extension: the GIF plays once, and so does the WebP.
    assert_eq!(read_webp(webp).loops, 1);
    let r = process(
        webp,
        r#"{"animated":true,"outputs":[{"name":"sq","width":16,"height":16,"fit":"cover","format":"webp"}]}"#,
    )
    .unwrap();
    assert_eq!((r.input.format, r.input.frames), (InputFormat::Webp, 2));
    let o = &r.outputs[0];
    assert_eq!((o.width, o.height, o.frames), (16, 16, Some(2)));
    let crop = o.crop.unwrap();
    assert_eq!(
        (crop.left, crop.top, crop.width, crop.height),
        (16, 0, 32, 32)
    );
    let anim = read_webp(bytes(&r, 0));
    assert_eq!(anim.frames.len(), 2);
    assert!(close(anim.frames[0].1, RED, 12));
    assert!(close(anim.frames[1].1, GREEN, 12));
}

#[test]
fn without_animated_and_for_still_inputs_outputs_are_still() {
    let data = gif((20, 20), &[(RED, 100), (GREEN, 100)], Some(0));
    let r = process(&data, r#"{"outputs":[{"name":"o","format":"webp"}]}"#).unwrap();
    assert_eq!((r.input.frames, r.outputs[0].frames), (2, None));
    let dec = image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(bytes(&r, 0))).unwrap();
    assert!(!dec.has_animation());

    let one = gif((20, 20), &[(BLUE, 100)], None);
    let r = process(
        &one,
        r#"{"animated":true,"outputs":[{"name":"o","format":"webp"}]}"#,
    )
    .unwrap();
    assert_eq!((r.input.frames, r.outputs[0].frames), (1, None));
    let dec = image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(bytes(&r, 0))).unwrap();
    assert!(!dec.has_animation());
    assert!(r.warnings.is_empty());
}

#[test]
fn a_byte_budget_on_an_animated_webp_is_refused_at_the_door() {
    let e = Recipe::from_json(
        r#"{"animated":true,"outputs":[{"name":"o","format":"webp","max_bytes":9000}]}"#,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRecipe);
    assert!(e.message.contains("outputs[0].max_bytes"), "{}", e.message);
    // JPEG outputs keep one frame: their budget is fine.
    Recipe::from_json(
        r#"{"animated":true,"outputs":[{"name":"o","format":"jpeg","max_bytes":9000}]}"#,
    )
    .unwrap();
    // Strict parsing: the field is a bool.
    let e = Recipe::from_json(r#"{"animated":1,"outputs":[{"name":"o","format":"webp"}]}"#)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRecipe);
}

/// A GIF with a `side` x `side` canvas and `frames` 1x1 frames: a few bytes a frame,
/// `side`² pixels a frame once composited.
fn flood_gif(frames: u32, side: u16) -> Vec<u8> {
    let mut g = b"GIF89a".to_vec();
    g.extend_from_slice(&side.to_le_bytes());
    g.extend_from_slice(&side.to_le_bytes());
    g.extend_from_slice(&[0x80, 0, 0]); // global table of 2 colours
    g.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
    for _ in 0..frames {
        g.push(0x2C);
        g.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0, 0]);
        // LZW, minimum code size 2: clear, index 0, end (3-bit codes), one sub-block.
        g.extend_from_slice(&[2, 2, 0x44, 0x01, 0]);
    }
    g.push(0x3B);
    g
}

fn run_with(data: &[u8], json: &str, limits: &Limits) -> Result<Report, conveyor::Error> {
    let ctx = Context::new(limits);
    run(data, &Recipe::from_json(json).unwrap(), &ctx, &|_| Ok(()))
}

#[test]
fn too_many_frames_fail_fast_before_any_is_decoded() {
    let data = flood_gif(10_000, 1000);
    let json = r#"{"animated":true,"outputs":[{"name":"o","width":100,"format":"webp"}]}"#;
    let t = Instant::now();
    let e = run_with(&data, json, &Limits::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitExceeded);
    assert!(
        e.message.contains("10000 frames") && e.message.contains("max_frames"),
        "{}",
        e.message
    );
    // With the frame limit lifted, the pixels over all frames still count.
    let limits = Limits::default().with_max_frames(1_000_000);
    let e = run_with(&data, json, &limits).unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitExceeded);
    assert!(e.message.contains("max_pixels"), "{}", e.message);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // Without `animated` the first frame alone is decoded: fine.
    let r = run_with(
        &data,
        r#"{"outputs":[{"name":"o","width":100,"format":"webp"}]}"#,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(r.input.frames, 10_000);
    // The memory estimate counts every frame's encoded output.
    let few = flood_gif(5, 200);
    let still = run_with(
        &few,
        r#"{"outputs":[{"name":"o","format":"webp","lossless":true}]}"#,
        &Limits::default(),
    )
    .unwrap();
    let anim = run_with(
        &few,
        r#"{"animated":true,"outputs":[{"name":"o","format":"webp","lossless":true}]}"#,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(anim.outputs[0].frames, Some(5));
    assert!(
        anim.memory_estimate >= still.memory_estimate + 5 * 2 * 160_000,
        "{} vs {}",
        anim.memory_estimate,
        still.memory_estimate
    );
}

#[test]
fn a_stop_while_frames_are_encoded_ends_the_job_with_its_own_error() {
    let data = gif((40, 40), &[(RED, 100); 8], None);
    let recipe =
        Recipe::from_json(r#"{"animated":true,"outputs":[{"name":"o","format":"webp"}]}"#).unwrap();
    let limits = Limits::default();
    let ctx = Context::new(&limits);
    let encodes = Cell::new(0u32);
    let stop_at_the_third_ask = |stage: Stage| {
        if stage == Stage::Encode {
            encodes.set(encodes.get() + 1);
            if encodes.get() == 3 {
                return Err(conveyor::Error::new(ErrorKind::Cancelled, "stop"));
            }
        }
        Ok(())
    };
    let e = run(&data, &recipe, &ctx, &stop_at_the_third_ask).unwrap_err();
    assert_eq!((e.kind, e.message.as_str()), (ErrorKind::Cancelled, "stop"));
    assert_eq!(encodes.get(), 3, "went on after the stop");
}
