//! The harness behind the fuzz targets in `fuzz_targets/`: one function per target,
//! which runs one input and checks what comes back. The targets are one-line wrappers,
//! so a crash file reproduces with `cargo fuzz run <target> <file>` and, on stable,
//! through the replay tests (`core/tests/fuzz_regressions.rs`,
//! `ffi/tests/fuzz_regressions.rs`).

pub mod core_harness;
pub mod ffi_harness;
