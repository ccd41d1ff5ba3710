//! The atomics (and, under loom, the lock) behind the pool's lock-free cancel table (`registry.rs`),
//! taken from `std` normally and from [loom](https://docs.rs/loom) under `--cfg loom`,
//! where loom explores every interleaving of the model tests in `registry.rs`:
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p conveyor --lib loom
//! ```
//!
//! Only the registry's test build switches (`all(test, loom)`): under `--cfg loom` the
//! library itself, which the crate's own integration tests link, stays on `std` and
//! needs no loom. Only the registry uses this module; the rest of the pool stays on
//! `std`.

#[cfg(all(test, loom))]
pub(crate) use loom::sync::atomic::{AtomicU64, AtomicUsize};
#[cfg(all(test, loom))]
pub(crate) use loom::sync::Mutex;
#[cfg(not(all(test, loom)))]
pub(crate) use std::sync::atomic::{AtomicU64, AtomicUsize};
