//! The one error vocabulary of conveyor.
//!
//! Every failure anywhere in the engine is an [`Error`]: an [`ErrorKind`] (a stable
//! snake_case name and a stable numeric code, shared unchanged by the C, Python and
//! JavaScript bindings), the [`Stage`] that failed, and a human-readable message.
//!
//! This module holds only the vocabulary; the errors returned by `submit` and friends,
//! which hand the job back, live in `pool::submit`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What went wrong, as a stable name and code.
///
/// The numeric codes are part of the ABI: they are never reused or renumbered. A retired
/// kind keeps its number reserved. `0` is success in the C ABI and never appears here.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u32)]
pub enum ErrorKind {
    /// The recipe JSON is malformed, has unknown fields or out-of-range values.
    InvalidRecipe = 1,
    /// An argument other than the recipe is invalid (a job key, a configuration value).
    InvalidArgument = 2,
    /// The input is not an image format conveyor decodes, or the format is not allowed.
    UnsupportedFormat = 3,
    /// The input claims to be a supported format but could not be decoded.
    DecodeFailed = 4,
    /// The input is larger than the configured [`Limits`](crate::Limits).
    LimitExceeded = 5,
    /// An output could not be encoded.
    EncodeFailed = 6,
    /// An output could not be written to the output directory.
    SaveFailed = 7,
    /// The job queue is full (only from the non-blocking submit calls).
    QueueFull = 8,
    /// The pool is shutting down or shut down.
    ShutDown = 9,
    /// The job was cancelled, by `cancel` or by `shutdown_now`.
    Cancelled = 10,
    /// The job's deadline passed (time spent queued counts).
    TimedOut = 11,
    /// The job panicked inside the engine. The worker survived; the job did not.
    Panicked = 12,
}

impl ErrorKind {
    /// Every kind, in code order. Bindings generate their tables from this list.
    pub const ALL: [ErrorKind; 12] = [
        ErrorKind::InvalidRecipe,
        ErrorKind::InvalidArgument,
        ErrorKind::UnsupportedFormat,
        ErrorKind::DecodeFailed,
        ErrorKind::LimitExceeded,
        ErrorKind::EncodeFailed,
        ErrorKind::SaveFailed,
        ErrorKind::QueueFull,
        ErrorKind::ShutDown,
        ErrorKind::Cancelled,
        ErrorKind::TimedOut,
        ErrorKind::Panicked,
    ];

    /// The stable numeric code (the value of the matching `CONVEYOR_*` constant in C).
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The stable snake_case name, e.g. `"decode_failed"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidRecipe => "invalid_recipe",
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::UnsupportedFormat => "unsupported_format",
            ErrorKind::DecodeFailed => "decode_failed",
            ErrorKind::LimitExceeded => "limit_exceeded",
            ErrorKind::EncodeFailed => "encode_failed",
            ErrorKind::SaveFailed => "save_failed",
            ErrorKind::QueueFull => "queue_full",
            ErrorKind::ShutDown => "shut_down",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::TimedOut => "timed_out",
            ErrorKind::Panicked => "panicked",
        }
    }

    /// A one-line description of the kind, for documentation and `conveyor_result_str`.
    pub fn description(self) -> &'static str {
        match self {
            ErrorKind::InvalidRecipe => "the recipe is invalid",
            ErrorKind::InvalidArgument => "an argument is invalid",
            ErrorKind::UnsupportedFormat => "the input format is not supported or not allowed",
            ErrorKind::DecodeFailed => "the input could not be decoded",
            ErrorKind::LimitExceeded => "the input exceeds the configured limits",
            ErrorKind::EncodeFailed => "an output could not be encoded",
            ErrorKind::SaveFailed => "an output could not be saved",
            ErrorKind::QueueFull => "the job queue is full",
            ErrorKind::ShutDown => "the pool is shut down",
            ErrorKind::Cancelled => "the job was cancelled",
            ErrorKind::TimedOut => "the job's deadline passed",
            ErrorKind::Panicked => "the job panicked inside the engine",
        }
    }

    /// The kind with this numeric code, if any.
    pub fn from_code(code: u32) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The kind with this snake_case name, if any.
    pub fn from_name(name: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The part of a job's life in which something happened (or failed).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Handing the job to the pool.
    Submit,
    /// Waiting in the queue.
    Queue,
    /// Checking the recipe and the job's arguments before any work.
    Validate,
    /// Detecting the format, reading the header, checking limits and decoding.
    Decode,
    /// Resizing, orienting, cropping and padding one output.
    Resize,
    /// Encoding one output.
    Encode,
    /// Writing one output to the output directory.
    Save,
}

impl Stage {
    /// The stable snake_case name, e.g. `"decode"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Submit => "submit",
            Stage::Queue => "queue",
            Stage::Validate => "validate",
            Stage::Decode => "decode",
            Stage::Resize => "resize",
            Stage::Encode => "encode",
            Stage::Save => "save",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A typed failure: what went wrong, where, and why. As JSON it is the wire error
/// object `{"code","numeric_code","stage","message"}` ([`crate::wire::ErrorJson`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(into = "crate::wire::ErrorJson", from = "crate::wire::ErrorJson")]
pub struct Error {
    /// The stable kind.
    pub kind: ErrorKind,
    /// The stage that failed, when there is one.
    pub stage: Option<Stage>,
    /// What happened, for humans. Never parse it; match on `kind`.
    pub message: String,
}

impl Error {
    /// A new error of `kind` with `message`, not tied to a stage. The message is made
    /// one line (runs of whitespace, newlines included, become one space) of at most
    /// [`MAX_MESSAGE_CHARS`] characters, so every door can show it as it is.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            stage: None,
            message: tidy(message.into()),
        }
    }

    /// The same error, attributed to `stage`.
    pub fn at(mut self, stage: Stage) -> Error {
        self.stage = Some(stage);
        self
    }

    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The stage that failed, if known.
    pub fn stage(&self) -> Option<Stage> {
        self.stage
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stage {
            Some(stage) => write!(f, "{} (stage {}): {}", self.kind, stage, self.message),
            None => write!(f, "{}: {}", self.kind, self.message),
        }
    }
}

/// The longest error message, in characters; longer ones are cut with an ellipsis.
pub const MAX_MESSAGE_CHARS: usize = 300;

fn tidy(message: String) -> String {
    let clean = !message.starts_with(char::is_whitespace)
        && !message.ends_with(char::is_whitespace)
        && !message.chars().any(|c| c.is_whitespace() && c != ' ')
        && !message.contains("  ");
    let mut m = if clean {
        message
    } else {
        message.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    if m.chars().count() > MAX_MESSAGE_CHARS {
        m = m.chars().take(MAX_MESSAGE_CHARS - 1).collect();
        m.push('…');
    }
    m
}

/// A `Result` whose error is conveyor's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip_and_are_unique() {
        let mut codes: Vec<u32> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
        codes.dedup();
        assert_eq!(codes.len(), ErrorKind::ALL.len());
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_code(kind.code()), Some(kind));
            assert_eq!(ErrorKind::from_name(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert_eq!(ErrorKind::from_code(0), None);
        assert_eq!(ErrorKind::DecodeFailed.code(), 4);
    }

    #[test]
    fn messages_are_one_bounded_line() {
        let e = Error::new(ErrorKind::DecodeFailed, "line one\n  line two\t\r\n");
        assert_eq!(e.message, "line one line two");
        let e = Error::new(ErrorKind::DecodeFailed, "x".repeat(1000));
        assert_eq!(e.message.chars().count(), MAX_MESSAGE_CHARS);
        assert!(e.message.ends_with('…'));
        let plain = "jpeg: 12-bit sample precision is not supported";
        assert_eq!(
            Error::new(ErrorKind::UnsupportedFormat, plain).message,
            plain
        );
    }

    #[test]
    fn display_names_kind_stage_and_message() {
        let e = Error::new(ErrorKind::DecodeFailed, "truncated").at(Stage::Decode);
        assert_eq!(e.to_string(), "decode_failed (stage decode): truncated");
    }
}
