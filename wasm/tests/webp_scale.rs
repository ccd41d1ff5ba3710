//! Lossy WebP at several qualities through the wasm build's encoders (vaam-image-webp), run natively: a measurement for calibrating
//! the quality scales (see `core/tests/common/webp_scale.rs`), ignored in test runs.

#[path = "../../core/tests/common/webp_scale.rs"]
mod webp_scale;

#[test]
#[ignore = "a measurement: needs WEBP_SCALE_CORPUS and WEBP_SCALE_OUT"]
fn webp_at_several_qualities() {
    webp_scale::run();
}
