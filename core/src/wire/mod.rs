//! The one JSON contract every door shows: the outcome of a job, the error object, the
//! lag marker in event streams, and the output-name rule. This is the only place that
//! decides these field names; the upload server, the batch CLI, the wasm door (and
//! through it JS), C and Python all show what is built here, and the tables other
//! languages need are generated from [`schema`] (see `core/tests/bindings.rs`).
//!
//! An outcome, as JSON (`Outcome` serialises to it):
//!
//! ```json
//! {"job_id":1,"key":"img-1","ok":true,
//!  "input":{"format":"jpeg","width":640,"height":480,"byte_len":44788,"orientation":1},
//!  "outputs":[{"name":"thumb","format":"webp","width":320,"height":240,"byte_len":9120,
//!              "path":"out/img-1/thumb.webp"}],
//!  "memory_estimate":2457600,
//!  "warnings":[{"code":"icc_ignored","message":"embedded ICC profile is unreadable (…): used as sRGB"}],
//!  "timings":{"queued_us":12,"decode_us":2100,"resize_us":800,"encode_us":3000,"save_us":90,"total_us":6100}}
//!
//! {"job_id":2,"key":null,"ok":false,
//!  "error":{"code":"decode_failed","numeric_code":4,"stage":"decode","message":"…"},
//!  "timings":{"queued_us":9,"decode_us":0,"resize_us":0,"encode_us":0,"save_us":0,"total_us":310}}
//! ```
//!
//! Sizes are `byte_len` (input and outputs alike), durations whole microseconds
//! (`*_us`), the job's key is `key`, the error's name is `code` (the snake_case
//! [`ErrorKind`] name) beside its `numeric_code`. Output bytes never appear in JSON:
//! the C, Python and JS doors hand them over beside it (`data`). `path` appears only
//! when the pool saved the output.
//!
//! Events serialise as [`Event`](crate::Event) does (`{"type":"job_queued",...}`); a
//! subscriber that fell behind sees [`lagged_json`] in the same stream.
//!
//! What does not live here: the Rust types themselves (`outcome.rs`, `error.rs`,
//! `events.rs`) and anything a door adds around the contract (the server's upload id and
//! URLs, the batch CLI's file name).

pub mod schema;

use serde::{Deserialize, Serialize, Serializer};

use crate::error::{Error, ErrorKind, Stage};
use crate::format::OutputFormat;
use crate::job::JobId;
use crate::outcome::{InputInfo, Outcome, OutputInfo, Report, Timings, Warning};

/// The file name an output is saved under: `<name>.<ext>` (`thumb.webp`). The pipeline
/// saves under this name and every door that names saved files calls it.
///
/// ```
/// use conveyor::{wire, OutputFormat};
/// assert_eq!(wire::output_file_name("thumb", OutputFormat::Jpeg), "thumb.jpg");
/// ```
pub fn output_file_name(name: &str, format: OutputFormat) -> String {
    format!("{name}.{}", format.extension())
}

/// The JSON object every door shows for a lag, in the same stream as the events:
/// `{"type":"lagged","missed":n}` (the Rust API reports it as `RecvError::Lagged`).
pub fn lagged_json(missed: u64) -> serde_json::Value {
    serde_json::json!({ "type": "lagged", "missed": missed })
}

/// An error as JSON: `{"code","numeric_code","stage","message"}`. [`Error`]
/// serialises to (and parses from) exactly this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorJson {
    /// The stable snake_case name of the kind (`"decode_failed"`).
    pub code: ErrorKind,
    /// The kind's stable number (the C `CONVEYOR_*` value).
    pub numeric_code: u32,
    /// The stage that failed, or null.
    pub stage: Option<Stage>,
    /// What happened, for humans.
    pub message: String,
}

impl From<&Error> for ErrorJson {
    fn from(e: &Error) -> ErrorJson {
        ErrorJson {
            code: e.kind,
            numeric_code: e.kind.code(),
            stage: e.stage,
            message: e.message.clone(),
        }
    }
}

impl From<Error> for ErrorJson {
    fn from(e: Error) -> ErrorJson {
        ErrorJson::from(&e)
    }
}

impl From<ErrorJson> for Error {
    /// The error back; `numeric_code` is implied by `code` and not checked.
    fn from(j: ErrorJson) -> Error {
        Error {
            kind: j.code,
            stage: j.stage,
            message: j.message,
        }
    }
}

/// An outcome as JSON (see the module doc): success and failure share `job_id`, `key`,
/// `ok` and `timings`; a success adds `input`, `outputs`, `memory_estimate` and
/// `warnings` (often empty), a failure `error`. [`Outcome`] serialises to this; parse outcomes with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeJson {
    /// The id the pool gave the job.
    pub job_id: JobId,
    /// The job's key, or null.
    pub key: Option<String>,
    /// Whether the job succeeded.
    pub ok: bool,
    /// On failure, why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorJson>,
    /// On success, the decoded input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputInfo>,
    /// On success, one entry per recipe output, in recipe order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Vec<OutputInfo>>,
    /// On success, the job's estimated peak memory in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_estimate: Option<u64>,
    /// On success, what the job worked around without failing (an unusable colour
    /// profile); an empty list for most jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<Warning>>,
    /// On success, the placeholder the recipe asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    /// Time queued, per stage and in total (zero where the job never got).
    pub timings: Timings,
}

impl OutcomeJson {
    /// The JSON of a job's result, for doors that hold a result rather than an
    /// [`Outcome`] (the wasm door, which runs the pipeline itself).
    pub fn new(
        job_id: JobId,
        key: Option<String>,
        result: &Result<Report, Error>,
        timings: Timings,
    ) -> OutcomeJson {
        let mut j = OutcomeJson {
            job_id,
            key,
            ok: result.is_ok(),
            error: None,
            input: None,
            outputs: None,
            memory_estimate: None,
            warnings: None,
            placeholder: None,
            timings,
        };
        match result {
            Ok(r) => {
                j.input = Some(r.input);
                j.outputs = Some(r.outputs.clone());
                j.memory_estimate = Some(r.memory_estimate);
                j.warnings = Some(r.warnings.clone());
                j.placeholder = r.placeholder.clone();
            }
            Err(e) => j.error = Some(e.into()),
        }
        j
    }
}

impl From<&Outcome> for OutcomeJson {
    fn from(o: &Outcome) -> OutcomeJson {
        OutcomeJson::new(o.job_id, o.key.clone(), &o.result, o.timings)
    }
}

impl Serialize for Outcome {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        OutcomeJson::from(self).serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::InputFormat;

    fn report() -> Report {
        Report {
            input: InputInfo {
                format: InputFormat::Png,
                width: 4,
                height: 2,
                byte_len: 99,
                orientation: 1,
                frames: 1,
            },
            outputs: vec![OutputInfo {
                name: "thumb".into(),
                format: OutputFormat::Webp,
                width: 2,
                height: 1,
                byte_len: 10,
                data: Some(bytes::Bytes::from_static(b"0123456789")),
                path: None,
                quality: None,
                encodes: None,
                crop: None,
                frames: None,
                deferred_quality: None,
            }],
            timings: Timings::default(),
            memory_estimate: 64,
            warnings: vec![Warning::new(
                crate::outcome::WarningKind::IccIgnored,
                "embedded ICC profile is unreadable: used as sRGB",
            )],
            placeholder: None,
        }
    }

    #[test]
    fn a_success_has_the_contract_fields_and_no_bytes() {
        let o = Outcome {
            job_id: JobId(3),
            key: Some("k".into()),
            result: Ok(report()),
            timings: Timings::default(),
        };
        let text = serde_json::to_string(&o).unwrap();
        assert!(
            text.starts_with(r#"{"job_id":3,"key":"k","ok":true,"input":{"format":"png","#),
            "{text}"
        );
        let at = |k: &str| text.find(&format!("\"{k}\":")).unwrap();
        assert!(at("outputs") < at("memory_estimate") && at("memory_estimate") < at("queued_us"));
        assert!(at("memory_estimate") < at("warnings") && at("warnings") < at("queued_us"));
        assert_eq!(
            v_warnings(&text),
            serde_json::json!([{"code":"icc_ignored","message":"embedded ICC profile is unreadable: used as sRGB"}])
        );
        let v = serde_json::to_value(&o).unwrap();
        assert_eq!(v["input"]["byte_len"], 99);
        assert_eq!(v["outputs"][0]["byte_len"], 10);
        assert!(v["outputs"][0].get("data").is_none());
        assert!(v["outputs"][0].get("path").is_none());
        let back: OutcomeJson = serde_json::from_value(v).unwrap();
        assert_eq!(back.outputs.unwrap()[0].name, "thumb");
    }

    fn v_warnings(text: &str) -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(text).unwrap()["warnings"].clone()
    }

    #[test]
    fn a_failure_has_the_error_object() {
        let e = Error::new(ErrorKind::DecodeFailed, "bad").at(Stage::Decode);
        let o = Outcome {
            job_id: JobId(4),
            key: None,
            result: Err(e.clone()),
            timings: Timings::default(),
        };
        let v = o.to_json_value();
        assert_eq!(v["ok"], false);
        assert!(v.get("warnings").is_none());
        assert_eq!(v["key"], serde_json::Value::Null);
        assert_eq!(
            v["error"],
            serde_json::json!({"code":"decode_failed","numeric_code":4,"stage":"decode","message":"bad"})
        );
        assert_eq!(serde_json::to_value(&e).unwrap(), v["error"]);
        let back: Error = serde_json::from_value(v["error"].clone()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn output_names() {
        assert_eq!(output_file_name("a-b_1", OutputFormat::Png), "a-b_1.png");
        assert_eq!(output_file_name("x", OutputFormat::Webp), "x.webp");
    }
}
