//! The pipeline on one large JPEG (a 12-megapixel synthetic photo-like image), with the
//! standard upload workload: a 1600 px JPEG q80 and a 320 px WebP q75.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn photo(w: u32, h: u32) -> Vec<u8> {
    // Smooth gradients with some texture, so the encoders have realistic work.
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let t = ((x as f32 * 0.013).sin() * (y as f32 * 0.011).cos() * 60.0) as i32;
        image::Rgb([
            ((x * 200 / w) as i32 + t).clamp(0, 255) as u8,
            ((y * 200 / h) as i32 - t).clamp(0, 255) as u8,
            (((x ^ y) & 0x3f) as i32 + 90).clamp(0, 255) as u8,
        ])
    });
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 90)
        .encode(
            img.as_raw(),
            w as u16,
            h as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .unwrap();
    out
}

fn pipeline(c: &mut Criterion) {
    let input = photo(4000, 3000);
    let recipe = conveyor::Recipe::default();
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10);
    g.throughput(Throughput::Elements(1));
    g.bench_function("jpeg_12mp_default_recipe", |b| {
        b.iter(|| black_box(conveyor::process(&input, &recipe).unwrap()))
    });
    let probe_only = conveyor::Limits::default();
    g.bench_function("jpeg_12mp_probe_header", |b| {
        b.iter(|| {
            black_box(conveyor::probe(&input, &probe_only, &conveyor::InputFormat::ALL).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
