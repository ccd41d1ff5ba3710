//! The C ABI of conveyor: `libconveyor.so` and `libconveyor.a`, described by the
//! generated header `include/conveyor.h`.
//!
//! Everything here is a thin layer over the `conveyor` crate: the recipe and pool
//! configuration are the same JSON, the result codes are the core's error kinds under
//! the same numbers, and results carry the same fields. Nothing is decided again here.
//!
//! - `result.rs`: `conveyor_result`, the version and message functions;
//! - `boundary.rs`: the panic boundary, NULL checks, C strings, the per-thread message;
//! - `job_result.rs`: `conveyor_job_result` and the memory behind it;
//! - `pool.rs`: the pool functions (`conveyor_pool_*`), polling through the core's
//!   collector;
//! - `options.rs`: `conveyor_job_options`, the growable per-job options, and its
//!   `struct_size` rule;
//! - `testing.rs`: hooks for the library's own tests, left out of the header;
//! - `events.rs`: the event bus (`conveyor_pool_subscribe`, `conveyor_subscription_*`,
//!   `conveyor_event`) and `conveyor_pool_reload`.
//!
//! `unsafe` lives only here, at the boundary, each block with its `// SAFETY:` reason.
//! No panic crosses the ABI: every exported function runs inside `boundary::guard`.

#![allow(non_camel_case_types)]

mod boundary;
mod events;
mod job_result;
mod options;
mod pool;
mod result;
mod testing;

pub use events::*;
pub use job_result::{
    conveyor_job_result, conveyor_job_result_free, conveyor_output, conveyor_timings,
};
pub use options::{
    conveyor_job_options, conveyor_job_options_init, CONVEYOR_QUEUE_WAIT_BLOCK,
    CONVEYOR_QUEUE_WAIT_NEVER, CONVEYOR_QUEUE_WAIT_TIMEOUT,
};
pub use pool::*;
pub use result::*;
pub use testing::conveyor_test_panic;
