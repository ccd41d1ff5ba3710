//! Limits and decompression bombs: refused from the header, fast, with `limit_exceeded`,
//! and never an abort.

mod common;

use std::time::{Duration, Instant};

use common::*;
use conveyor::pipeline::{run, Context};
use conveyor::{ErrorKind, InputFormat, Limits, OutputFormat, OutputSpec, Recipe, Stage};

fn run_with(data: &[u8], limits: &Limits) -> Result<conveyor::Report, conveyor::Error> {
    let recipe = Recipe::new(vec![OutputSpec::new("o", OutputFormat::Png).size(64, 64)]);
    let ctx = Context {
        key: "k",
        ..Context::new(limits)
    };
    run(data, &recipe, &ctx, &|_| Ok(()))
}

fn assert_refused_fast(name: &str, data: &[u8], limits: &Limits) {
    let t = Instant::now();
    let e = run_with(data, limits).unwrap_err();
    let took = t.elapsed();
    assert_eq!(e.kind, ErrorKind::LimitExceeded, "{name}: {e}");
    assert_eq!(e.stage, Some(Stage::Decode), "{name}");
    // Generous for a debug build on a loaded machine; a decode would take seconds and GBs.
    assert!(took < Duration::from_millis(500), "{name} took {took:?}");
}

#[test]
fn png_header_of_50000_by_50000_is_refused_in_milliseconds() {
    assert_refused_fast(
        "png 50000^2",
        &png_bomb_header(50_000, 50_000),
        &Limits::default(),
    );
}

#[test]
fn jpeg_and_gif_bomb_headers_are_refused() {
    assert_refused_fast(
        "jpeg 65000^2",
        &jpeg_with_declared_size(65_000, 65_000),
        &Limits::default(),
    );
    assert_refused_fast(
        "gif 65535^2",
        &gif_bomb_header(65_535, 65_535),
        &Limits::default(),
    );
}

#[test]
fn a_real_compressed_bomb_is_refused_by_pixel_count() {
    // A genuine 6000x6000 PNG of zeros (~100 KB) against a 10 MP limit.
    let bomb = png_zeros(6000, 6000);
    assert!(bomb.len() < 200_000, "{}", bomb.len());
    assert_refused_fast(
        "png zeros",
        &bomb,
        &Limits::default().with_max_pixels(10_000_000),
    );
}

#[test]
fn every_limit_is_applied() {
    let img = png(300, 200);
    assert_eq!(
        run_with(&img, &Limits::default().with_max_width(299))
            .unwrap_err()
            .kind,
        ErrorKind::LimitExceeded
    );
    assert_eq!(
        run_with(&img, &Limits::default().with_max_height(199))
            .unwrap_err()
            .kind,
        ErrorKind::LimitExceeded
    );
    assert_eq!(
        run_with(&img, &Limits::default().with_max_pixels(59_999))
            .unwrap_err()
            .kind,
        ErrorKind::LimitExceeded
    );
    assert_eq!(
        run_with(
            &img,
            &Limits::default().with_max_input_bytes(img.len() as u64 - 1)
        )
        .unwrap_err()
        .kind,
        ErrorKind::LimitExceeded
    );
    assert_eq!(
        run_with(&img, &Limits::default().with_max_alloc(1000))
            .unwrap_err()
            .kind,
        ErrorKind::LimitExceeded
    );
    run_with(
        &img,
        &Limits::default()
            .with_max_pixels(60_000)
            .with_max_width(300)
            .with_max_height(200),
    )
    .unwrap();
}

#[test]
fn every_format_applies_the_limits() {
    let tight = Limits::default().with_max_pixels(1000);
    for (name, bytes) in every_format(64, 48) {
        let e = run_with(&bytes, &tight).unwrap_err();
        assert_eq!(e.kind, ErrorKind::LimitExceeded, "{name}: {e}");
    }
}

#[test]
fn the_format_allow_list_is_applied() {
    let recipe = Recipe::new(vec![OutputSpec::new("o", OutputFormat::Png)]);
    let limits = Limits::default();
    let ctx = Context {
        formats: &[InputFormat::Jpeg],
        key: "k",
        ..Context::new(&limits)
    };
    let e = run(&png(10, 10), &recipe, &ctx, &|_| Ok(())).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnsupportedFormat);
    assert!(e.message.contains("not allowed"), "{}", e.message);
    run(&jpeg(10, 10), &recipe, &ctx, &|_| Ok(())).unwrap();
}

#[test]
fn probe_reads_only_the_header() {
    let (f, w, h) = conveyor::probe(&jpeg(40, 30), &Limits::default(), &InputFormat::ALL).unwrap();
    assert_eq!((f, w, h), (InputFormat::Jpeg, 40, 30));
    let e = conveyor::probe(
        &png_bomb_header(50_000, 50_000),
        &Limits::default(),
        &InputFormat::ALL,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitExceeded);
}
