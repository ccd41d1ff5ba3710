//! Untrusted bytes through `conveyor::pipeline::run` with the fixed upload recipe (a
//! 1600 px JPEG and a 320 px WebP cover thumbnail) and 4 MP limits.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = conveyor_fuzz::core_harness::pipeline(data);
});
