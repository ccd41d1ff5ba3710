//! The input as recipe JSON (`Recipe::from_json`) and pool configuration JSON
//! (`PoolConfig::from_json`); a valid recipe is round-tripped and run on small fixed
//! images.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = conveyor_fuzz::core_harness::recipe(data);
});
