//! A job: the input bytes, an optional recipe (else the pool's default), an optional key
//! naming where outputs are saved, and an optional deadline.
//!
//! Also [`JobId`] and the key rules ([`validate_key`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Stage};
use crate::recipe::{Recipe, ValidRecipe};

/// The id the pool gives a job when it accepts it. Unique within one pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub u64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A recipe that failed validation, and why (boxed: it rides in every job).
pub(crate) type InvalidRecipe = Box<(Arc<Recipe>, Error)>;

/// One unit of work. Cheap to build: the bytes are shared, not copied.
///
/// ```
/// use conveyor::{Job, Recipe};
/// let job = Job::new(vec![0u8; 4])
///     .with_recipe(Recipe::default())
///     .with_key("user-7/avatar")
///     .with_timeout(std::time::Duration::from_secs(10));
/// assert_eq!(job.key(), Some("user-7/avatar"));
/// ```
#[derive(Debug, Clone)]
pub struct Job {
    pub(crate) data: Bytes,
    /// The job's own recipe, validated when it was given (an invalid one fails the
    /// job with its error).
    pub(crate) recipe: Option<Result<ValidRecipe, InvalidRecipe>>,
    pub(crate) key: Option<String>,
    pub(crate) timeout: Option<Duration>,
    #[cfg(feature = "fault-injection")]
    pub(crate) fault: Option<Fault>,
}

impl Job {
    /// A job over these bytes, with the pool's default recipe.
    pub fn new(data: impl Into<Bytes>) -> Job {
        Job {
            data: data.into(),
            recipe: None,
            key: None,
            timeout: None,
            #[cfg(feature = "fault-injection")]
            fault: None,
        }
    }

    /// Uses this recipe instead of the pool's default. It is validated here, once; an
    /// invalid recipe fails the job with `invalid_recipe` (the job still gets its one
    /// outcome). A door that already holds a [`ValidRecipe`] passes it to
    /// [`Job::with_valid_recipe`].
    pub fn with_recipe(mut self, recipe: impl Into<Arc<Recipe>>) -> Job {
        let recipe = recipe.into();
        self.recipe = Some(match recipe.validate() {
            Ok(()) => Ok(ValidRecipe::trusted(recipe)),
            Err(e) => Err(Box::new((recipe, e))),
        });
        self
    }

    /// Uses this validated recipe instead of the pool's default.
    pub fn with_valid_recipe(mut self, recipe: ValidRecipe) -> Job {
        self.recipe = Some(Ok(recipe));
        self
    }

    /// Saves outputs under `output_dir/key/` (see [`validate_key`]). Without a key the
    /// job id is used.
    pub fn with_key(mut self, key: impl Into<String>) -> Job {
        self.key = Some(key.into());
        self
    }

    /// Fails the job as `timed_out` if it has not finished this long after it was
    /// accepted. Time spent queued counts. Checked between stages.
    pub fn with_timeout(mut self, timeout: Duration) -> Job {
        self.timeout = Some(timeout);
        self
    }

    /// The input bytes.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// The recipe, if the job has its own.
    pub fn recipe(&self) -> Option<&Recipe> {
        self.recipe.as_ref().map(|r| match r {
            Ok(valid) => valid.recipe(),
            Err(bad) => &*bad.0,
        })
    }

    /// The key, if any.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// Test-only: make this job misbehave on purpose.
    #[cfg(feature = "fault-injection")]
    pub fn with_fault(mut self, fault: Fault) -> Job {
        self.fault = Some(fault);
        self
    }
}

/// Test-only misbehaviour, injected with [`Job::with_fault`] (feature `fault-injection`).
#[cfg(feature = "fault-injection")]
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Fault {
    /// Panic when the job starts running.
    Panic,
    /// Sleep this long before running (between the start and the first checkpoint).
    Sleep(Duration),
    /// Block until a message arrives or the sender is dropped, before running.
    Hold(crossbeam_channel::Receiver<()>),
}

/// Checks a job key: 1–200 bytes, `/`-separated segments of `A-Z a-z 0-9 . _ -`, no
/// segment empty, `.` or `..` or starting with `.`; so no absolute path, no `..`, no
/// backslash, no NUL. A key that fails is refused with `invalid_argument`.
pub fn validate_key(key: &str) -> Result<(), Error> {
    let bad = |why: &str| {
        Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("job key {key:?} refused: {why}"),
        )
        .at(Stage::Validate))
    };
    if key.is_empty() || key.len() > 200 {
        return bad("must be 1-200 bytes");
    }
    if key.contains('\0') {
        return bad("contains NUL");
    }
    if key.starts_with('/') || key.contains('\\') {
        return bad("must be a relative path with '/' separators");
    }
    for seg in key.split('/') {
        if seg.is_empty() || seg.starts_with('.') {
            return bad("path segments must be non-empty and must not start with '.'");
        }
        if !seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return bad("only A-Z a-z 0-9 . _ - and '/' are allowed");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_escape_are_refused() {
        for k in [
            "",
            "../x",
            "a/../../b",
            "/etc/passwd",
            "a\\b",
            "a\0b",
            ".hidden",
            "a//b",
            "a/",
            "..",
            "a/./b",
            "x y",
        ] {
            let e = validate_key(k).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument, "{k:?}");
        }
        for k in ["a", "user-7/avatar", "2026/11/28/img_001.v2"] {
            validate_key(k).unwrap();
        }
        validate_key(&"a".repeat(201)).unwrap_err();
    }
}
