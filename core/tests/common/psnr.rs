//! The PSNR that the shared vectors' `psnr_min` means, in one place for every Rust
//! replay: core (`core/tests/vectors.rs`), the wasm build run natively
//! (`wasm/tests/pure_vectors.rs`) and the C door (`ffi/tests/fuzz_regressions.rs`),
//! which include this file by path. The Python and browser replays compute the same.

use image::RgbaImage;

/// The PSNR of two images of the same size over R, G, B and A (99 when identical).
pub fn psnr(a: &RgbaImage, b: &RgbaImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let se: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    let mse = se / a.as_raw().len() as f64;
    if mse == 0.0 {
        99.0
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}
