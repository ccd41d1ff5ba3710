//! # conveyor
//!
//! Turns untrusted image uploads into finished, compressed images on a pool of worker
//! threads. Every accepted job reports **exactly one** [`Outcome`]: a [`Report`] on
//! success, or a typed [`Error`] saying which [`Stage`] failed and why.
//!
//! ## A tour
//!
//! Build a pool, hand it bytes, wait for the outcome:
//!
//! ```
//! use conveyor::{Job, Pool, Recipe};
//! # let photo = conveyor::doc_image(2400, 1600);
//!
//! let pool = Pool::builder().workers(2).queue_capacity(8).build()?;
//! let recipe = Recipe::from_json(r#"{"outputs":[
//!     {"name":"large","width":1600,"height":1600,"format":"jpeg","quality":80},
//!     {"name":"thumb","width":320,"height":320,"fit":"cover","format":"webp","quality":75}]}"#)?;
//!
//! let ticket = pool.submit(Job::new(photo).with_recipe(recipe)).expect("pool is running");
//! let outcome = ticket.wait();
//! let report = outcome.result?;
//! assert_eq!((report.outputs[0].width, report.outputs[0].height), (1600, 1067));
//! assert_eq!((report.outputs[1].width, report.outputs[1].height), (320, 320));
//! # Ok::<(), conveyor::Error>(())
//! ```
//!
//! ### Back-pressure
//!
//! The job queue is bounded. [`Pool::submit`] blocks while it is full;
//! [`Pool::try_submit`] returns at once and hands the job back:
//!
//! ```
//! # use conveyor::{Job, Pool, SubmitError};
//! # let pool = Pool::builder().workers(1).queue_capacity(1).build()?;
//! match pool.try_submit(Job::new(vec![1, 2, 3])) {
//!     Ok(ticket) => { let _ = ticket.wait(); }
//!     Err(SubmitError::Full(job)) => { /* answer 503, or retry `job` later */ drop(job) }
//!     Err(other) => panic!("{other}"),
//! }
//! # Ok::<(), conveyor::Error>(())
//! ```
//!
//! ### Three ways back
//!
//! - a [`Ticket`] per job (`submit`, `try_submit`, `submit_timeout`);
//! - a callback run on a pool thread (`submit_with`, `try_submit_with`);
//! - the shared [`Outcomes`] receiver, for one collector thread (`submit_collected`):
//!
//! ```
//! # use conveyor::{Job, Pool};
//! # let pool = Pool::builder().workers(2).build()?;
//! for i in 0..3 {
//!     pool.submit_collected(Job::new(conveyor::doc_image(64, 64)).with_key(format!("img-{i}")))
//!         .expect("running");
//! }
//! let done: Vec<_> = pool.outcomes().take(3).collect();
//! assert!(done.iter().all(|o| o.is_ok()));
//! # Ok::<(), conveyor::Error>(())
//! ```
//!
//! ### Events
//!
//! [`Pool::subscribe`] gives a [`Subscription`] to the broadcast bus: every subscriber
//! sees every [`Event`]; one that falls behind gets [`RecvError::Lagged`] with the
//! number it missed; the pool never waits for a subscriber.
//!
//! ### Untrusted input
//!
//! The format is detected from the bytes. [`Limits`] are checked from the header
//! before any pixels are allocated, so a decompression bomb is refused in
//! milliseconds with `limit_exceeded`. Metadata is stripped (no EXIF, so no GPS);
//! EXIF orientation is applied to the pixels.
//!
//! ### One vocabulary
//!
//! [`Recipe`] (see [its schema](recipe)), [`PoolConfig`], [`ErrorKind`] and the JSON
//! of an [`Outcome`] (laid down once in [`wire`]) are the same in the C, Python and
//! JavaScript bindings; their tables and types are generated from [`wire::schema`].
//!
//! ## Features
//!
//! - `pool` (default): the worker pool and event bus. Without it, only
//!   [`process`] and [`pipeline::run`] (single-threaded), as the wasm build uses.
//! - `libwebp` (default): lossy WebP through libwebp; without it WebP is lossless only.
//! - `fault-injection`: test-only hooks (`Job::with_fault`, `Fault`).

// The one exception is the libjpeg boundary (`pipeline/libjpeg.rs`), which allows it
// for its error manager; everything else is safe Rust.
#![deny(unsafe_code)]

pub mod config;
pub mod error;
#[cfg(feature = "pool")]
pub mod events;
pub mod format;
pub mod job;
mod json;
pub mod limits;
pub mod outcome;
pub mod pipeline;
#[cfg(feature = "pool")]
pub mod pool;
pub mod recipe;
#[cfg(feature = "pool")]
pub mod stats;
pub mod wire;

pub use crate::config::{PoolConfig, Settings};
pub use crate::error::{Error, ErrorKind, Result, Stage};
#[cfg(feature = "pool")]
pub use crate::events::{Event, RecvError, Subscription, TryRecvError};
pub use crate::format::{InputFormat, OutputFormat};
#[cfg(feature = "fault-injection")]
pub use crate::job::Fault;
pub use crate::job::{validate_key, Job, JobId};
pub use crate::limits::Limits;
pub use crate::outcome::{
    CropBox, InputInfo, Outcome, OutputInfo, Report, Timings, Warning, WarningKind,
};
pub use crate::pipeline::{probe, process};
#[cfg(feature = "pool")]
pub use crate::pool::{default_memory_budget, Outcomes, Pool, PoolBuilder, SubmitError, Ticket};
pub use crate::recipe::{
    Color, ColourMode, Fit, OutputSpec, Placeholder, Position, Recipe, ValidRecipe,
};
#[cfg(feature = "pool")]
pub use crate::stats::{LatencySnapshot, StatsSnapshot};

/// The crate version, as in Cargo.toml (the C header and npm package carry the same).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A small PNG gradient of `width`×`height`, for examples and doctests.
#[doc(hidden)]
pub fn doc_image(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            (x * 255 / width.max(1)) as u8,
            (y * 255 / height.max(1)) as u8,
            128,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode a PNG in memory");
    out.into_inner()
}
