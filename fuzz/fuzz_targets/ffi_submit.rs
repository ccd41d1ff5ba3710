//! The C ABI submit path, in-process: `recipe_json NUL image_bytes` through
//! `conveyor_pool_submit` on one lazily created pool; exactly one callback per accepted
//! submit, none per refused one.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = conveyor_fuzz::ffi_harness::submit(data);
});
