//! What a job produces: a [`Report`] on success, an [`Error`] on failure, wrapped in an
//! [`Outcome`] that carries the job's id and key. Every accepted job yields exactly one.
//!
//! All of these serialise to JSON with the same field names in every binding, as
//! [`crate::wire`] lays down (`Outcome`'s own `Serialize` lives there); durations are
//! written as whole microseconds (`*_us`) and output bytes are never serialised.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};
use crate::format::{InputFormat, OutputFormat};
use crate::job::JobId;

/// The single result of one accepted job.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The id the pool gave the job when it accepted it.
    pub job_id: JobId,
    /// The job's key, if it had one.
    pub key: Option<String>,
    /// The report, or why the job failed.
    pub result: Result<Report, Error>,
    /// Time queued and in total, on success and failure alike (on success also the
    /// stage timings, as in the report).
    pub timings: Timings,
}

impl Outcome {
    /// Whether the job succeeded.
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }

    /// The error kind, or `None` on success.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        self.result.as_ref().err().map(|e| e.kind)
    }

    /// The outcome as the JSON object every binding shows (see [`crate::wire`]):
    /// `{"job_id":..,"key":..,"ok":true,"input":{..},"outputs":[..],"memory_estimate":..,"timings":{..}}`
    /// or `{"job_id":..,"key":..,"ok":false,"error":{"code":..,"numeric_code":..,"stage":..,"message":..},"timings":{..}}`.
    pub fn to_json_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("outcomes serialise")
    }
}

/// What a successful job made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The decoded input.
    pub input: InputInfo,
    /// One entry per recipe output, in recipe order.
    pub outputs: Vec<OutputInfo>,
    /// Time spent in each stage.
    pub timings: Timings,
    /// The job's peak memory as estimated from the header before decoding, in bytes
    /// (what the pool's memory budget admitted it with).
    #[serde(default)]
    pub memory_estimate: u64,
    /// What the job worked around without failing (an unusable colour profile), in
    /// the order it happened; empty for most jobs.
    #[serde(default)]
    pub warnings: Vec<Warning>,
    /// The placeholder the recipe asked for (`placeholder`), or `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
}

// -- warnings (issue 14: colour management) ----------------------------------------------

/// Something a job worked around without failing, with the same `code` in every door:
/// `{"code":"icc_ignored","message":"..."}` in the outcome's `warnings` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// The stable snake_case name.
    pub code: WarningKind,
    /// What happened, one line for humans; never parse it.
    pub message: String,
}

impl Warning {
    /// A warning of this kind.
    pub fn new(code: WarningKind, message: impl Into<String>) -> Warning {
        Warning {
            code,
            message: message.into(),
        }
    }
}

/// The kinds of [`Warning`]. New kinds may be added; codes are never reused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// The embedded ICC profile could not be used (unreadable, truncated, over
    /// `max_icc_bytes`, or for another colour model than the image's): the pixels were
    /// taken as sRGB.
    IccIgnored,
    /// A PNG's `cICP` chunk names a colour space not converted here (HDR transfer
    /// functions, unknown codes): the ICC profile, if any, or sRGB was used instead.
    CicpIgnored,
    /// With `animated: true`, an output in a format that holds one frame (JPEG, PNG,
    /// AVIF) got the first frame of an animated input.
    FramesDropped,
}

impl WarningKind {
    /// Every kind, in declaration order.
    pub const ALL: [WarningKind; 3] = [
        WarningKind::IccIgnored,
        WarningKind::CicpIgnored,
        WarningKind::FramesDropped,
    ];

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            WarningKind::IccIgnored => "icc_ignored",
            WarningKind::CicpIgnored => "cicp_ignored",
            WarningKind::FramesDropped => "frames_dropped",
        }
    }
}

impl std::fmt::Display for WarningKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

// -- end of warnings -----------------------------------------------------------------------

impl Report {
    /// The output with this name.
    pub fn output(&self, name: &str) -> Option<&OutputInfo> {
        self.outputs.iter().find(|o| o.name == name)
    }
}

/// The input as it was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputInfo {
    /// Detected format.
    pub format: InputFormat,
    /// Width as stored (before orientation).
    pub width: u32,
    /// Height as stored (before orientation).
    pub height: u32,
    /// Size in bytes (`byte_len`, as every door names it).
    pub byte_len: u64,
    /// The EXIF orientation found (1–8; 1 when none).
    pub orientation: u8,
    /// Frames in the file: more than 1 for an animated GIF, PNG (APNG) or WebP, of
    /// which only the first is decoded unless the recipe says `animated: true`; 1
    /// otherwise.
    #[serde(default = "one_frame")]
    pub frames: u32,
}

fn one_frame() -> u32 {
    1
}

/// A crop box in the upright (oriented) source's pixels: what `fit: "cover"` kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CropBox {
    /// Left edge.
    pub left: u32,
    /// Top edge.
    pub top: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

/// One finished output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputInfo {
    /// The recipe's name for it.
    pub name: String,
    /// Its format.
    pub format: OutputFormat,
    /// Final width.
    pub width: u32,
    /// Final height.
    pub height: u32,
    /// Encoded size in bytes.
    pub byte_len: u64,
    /// The encoded bytes, when the pool has no output directory.
    #[serde(skip)]
    pub data: Option<Bytes>,
    /// Where it was saved, when the pool has an output directory.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path: Option<PathBuf>,
    /// With `max_bytes`: the quality chosen (the largest that fits).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub quality: Option<u32>,
    /// With `max_bytes`: how many encodes the search spent.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub encodes: Option<u32>,
    /// With `fit: "cover"` when it cropped: the part of the upright source kept.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crop: Option<CropBox>,
    /// With `animated: true` and an animated input, for an animated WebP output: its
    /// frame count.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub frames: Option<u32>,
    /// With [`Context::defer_lossy_webp`](crate::pipeline::Context::defer_lossy_webp):
    /// this lossy WebP output was not encoded; `data` holds its pixels (RGBA, 4 bytes a
    /// pixel, opaque, sRGB), for the caller to encode at this quality (1-100, libwebp's
    /// scale) and to set `byte_len` from. Never on the wire.
    #[serde(skip)]
    pub deferred_quality: Option<u32>,
}

/// Time spent per stage. Resize, encode and save are summed over all outputs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// Waiting in the queue.
    #[serde(rename = "queued_us", with = "micros")]
    pub queued: Duration,
    /// Header, limits and decode.
    #[serde(rename = "decode_us", with = "micros")]
    pub decode: Duration,
    /// Resize, orientation, crop and pad.
    #[serde(rename = "resize_us", with = "micros")]
    pub resize: Duration,
    /// Encoding.
    #[serde(rename = "encode_us", with = "micros")]
    pub encode: Duration,
    /// Writing files.
    #[serde(rename = "save_us", with = "micros")]
    pub save: Duration,
    /// From acceptance to the outcome.
    #[serde(rename = "total_us", with = "micros")]
    pub total: Duration,
}

mod micros {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_micros().min(u64::MAX as u128) as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_micros(u64::deserialize(d)?))
    }
}
