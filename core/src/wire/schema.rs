//! The shapes of the shared JSON, as data, for the files other languages need: every
//! object's fields with their JSON types, the string enumerations, and the unions (the
//! events, the outcome). `core/tests/bindings.rs` generates the JS and Python code
//! tables and the TypeScript types from this, and checks every object and enumeration
//! here against what serde really reads and writes (field names, their order, which
//! are optional), so a field added in Rust and forgotten here fails a test.
//!
//! Language-neutral on purpose: no TypeScript or Python lives in `core`.

use crate::error::ErrorKind;
use crate::format::{InputFormat, OutputFormat};
use crate::outcome::WarningKind;

/// A JSON type, as another language sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// `true` or `false`.
    Bool,
    /// A fixed boolean (the `ok` of an outcome, which tells the two shapes apart).
    BoolLiteral(bool),
    /// A non-negative integer.
    Uint,
    /// A string.
    Str,
    /// A fixed string (the `type` tag of an event).
    StrLiteral(&'static str),
    /// One of the strings of the [`StrEnum`] with this name.
    Enum(&'static str),
    /// The [`Object`] (or [`Union`]) with this name.
    Named(&'static str),
    /// An array of this type.
    List(&'static Type),
    /// An object whose keys are strings (of the enum given, when `Enum`) and whose
    /// values are of the second type.
    Map(&'static Type, &'static Type),
    /// This type or `null`.
    Nullable(&'static Type),
}

/// One field of an [`Object`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The JSON name.
    pub name: &'static str,
    /// The JSON type.
    pub ty: Type,
    /// May be absent (a default when read, left out when it has no value when written).
    pub optional: bool,
    /// One line for humans.
    pub doc: &'static str,
}

/// Which way an object travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Given to conveyor (recipe, limits, settings, pool configuration).
    In,
    /// Shown by conveyor (outcomes, events, statistics).
    Out,
}

/// A JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Object {
    /// Its name in generated code (the Rust type's name, or the event's).
    pub name: &'static str,
    /// Which way it travels.
    pub direction: Direction,
    /// One line for humans.
    pub doc: &'static str,
    /// Its fields, in the order serde writes them.
    pub fields: &'static [Field],
}

/// A set of strings (a Rust enum serialised by its snake_case name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrEnum {
    /// Its name in generated code.
    pub name: &'static str,
    /// One line for humans.
    pub doc: &'static str,
    /// Every value, in declaration order.
    pub values: Vec<&'static str>,
}

/// One of several [`Object`]s, told apart by a literal field (`type` or `ok`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Union {
    /// Its name in generated code.
    pub name: &'static str,
    /// One line for humans.
    pub doc: &'static str,
    /// The field that tells the members apart.
    pub tag: &'static str,
    /// The members' names.
    pub members: &'static [&'static str],
}

const fn f(name: &'static str, ty: Type, doc: &'static str) -> Field {
    Field {
        name,
        ty,
        optional: false,
        doc,
    }
}

const fn opt(name: &'static str, ty: Type, doc: &'static str) -> Field {
    Field {
        name,
        ty,
        optional: true,
        doc,
    }
}

use Direction::{In, Out};
use Type::*;

const UINT: &Type = &Uint;
const STR: &Type = &Str;

/// Every enumeration, with its values from the Rust enum where it has a list of them.
pub fn enums() -> Vec<StrEnum> {
    vec![
        StrEnum {
            name: "ErrorCode",
            doc: "The stable snake_case name of an error kind (numbers: ERROR_CODES).",
            values: ErrorKind::ALL.iter().map(|k| k.as_str()).collect(),
        },
        StrEnum {
            name: "Stage",
            doc: "The part of a job's life in which something happened (or failed).",
            values: vec![
                "submit", "queue", "validate", "decode", "resize", "encode", "save",
            ],
        },
        StrEnum {
            name: "InputFormat",
            doc: "An input format conveyor decodes (detected from the bytes).",
            values: InputFormat::ALL.iter().map(|f| f.as_str()).collect(),
        },
        StrEnum {
            name: "OutputFormat",
            doc: "An output format conveyor encodes.",
            values: OutputFormat::ALL.iter().map(|f| f.as_str()).collect(),
        },
        StrEnum {
            name: "Fit",
            doc: "How an image fits its target box (sharp's definitions).",
            values: vec!["inside", "cover", "contain", "fill"],
        },
        StrEnum {
            name: "FailOn",
            doc: "Which damage refuses an input (sharp's failOn).",
            values: vec!["none", "truncated", "error", "warning"],
        },
        // colour management (issue 14)
        StrEnum {
            name: "ColourMode",
            doc: "Colour management: convert to sRGB, or keep the source profile.",
            values: vec!["srgb", "keep"],
        },
        StrEnum {
            name: "WarningCode",
            doc: "The stable snake_case name of a warning (something a job worked around).",
            values: WarningKind::ALL.iter().map(|k| k.as_str()).collect(),
        },
        StrEnum {
            name: "Placeholder",
            doc: "Which placeholder to compute (a tiny blurred preview).",
            values: vec!["thumbhash", "blurhash"],
        },
        StrEnum {
            name: "Position",
            doc: "Which part of the image fit \"cover\" keeps (sharp's strategies).",
            values: vec!["centre", "entropy", "attention"],
        },
    ]
}

/// The event objects, in the order of [`EVENTS`]'s members.
const EVENT_OBJECTS: &[Object] = &[
    Object {
        name: "JobQueuedEvent",
        direction: Out,
        doc: "A job was accepted into the queue.",
        fields: &[
            f("type", StrLiteral("job_queued"), "The event's name."),
            f("job_id", Uint, "The job."),
            f("input_bytes", Uint, "Its input size."),
        ],
    },
    Object {
        name: "JobRejectedEvent",
        direction: Out,
        doc: "A job announced as queued did not fit and was handed back.",
        fields: &[
            f("type", StrLiteral("job_rejected"), "The event's name."),
            f("job_id", Uint, "The job."),
            f(
                "reason",
                Enum("ErrorCode"),
                "queue_full, timed_out or shut_down.",
            ),
        ],
    },
    Object {
        name: "JobStartedEvent",
        direction: Out,
        doc: "A worker started a job.",
        fields: &[
            f("type", StrLiteral("job_started"), "The event's name."),
            f("job_id", Uint, "The job."),
            f("worker", Uint, "The worker's index."),
            f("queued_us", Uint, "Time spent queued, in microseconds."),
        ],
    },
    Object {
        name: "JobFinishedEvent",
        direction: Out,
        doc: "A job finished; its outcome is being delivered.",
        fields: &[
            f("type", StrLiteral("job_finished"), "The event's name."),
            f("job_id", Uint, "The job."),
            f("ok", Bool, "Whether it succeeded."),
            opt("error", Enum("ErrorCode"), "The error code, on failure."),
            opt("stage", Enum("Stage"), "The failing stage, on failure."),
            f(
                "timings",
                Named("Timings"),
                "Stage timings (zero where the job never got).",
            ),
        ],
    },
    Object {
        name: "ConfigReloadedEvent",
        direction: Out,
        doc: "`reload` changed the live settings.",
        fields: &[f(
            "type",
            StrLiteral("config_reloaded"),
            "The event's name.",
        )],
    },
    Object {
        name: "StatsEvent",
        direction: Out,
        doc: "Periodic statistics (see stats_interval_ms).",
        fields: &[
            f("type", StrLiteral("stats"), "The event's name."),
            f("stats", Named("StatsSnapshot"), "The figures."),
        ],
    },
    Object {
        name: "ShuttingDownEvent",
        direction: Out,
        doc: "The pool started shutting down.",
        fields: &[
            f("type", StrLiteral("shutting_down"), "The event's name."),
            f(
                "graceful",
                Bool,
                "true for shutdown (drain), false for shutdown_now (cancel queued).",
            ),
        ],
    },
];

/// The lag marker a subscriber that fell behind sees in its stream.
pub const LAGGED: Object = Object {
    name: "Lagged",
    direction: Out,
    doc: "This subscriber fell behind: this many events were dropped for it.",
    fields: &[
        f("type", StrLiteral("lagged"), "Always \"lagged\"."),
        f("missed", Uint, "How many events were missed."),
    ],
};

/// Every event, told apart by `type`.
pub const EVENTS: Union = Union {
    name: "PoolEvent",
    doc: "An event of the pool's bus, with the same names and fields in every door.",
    tag: "type",
    members: &[
        "JobQueuedEvent",
        "JobRejectedEvent",
        "JobStartedEvent",
        "JobFinishedEvent",
        "ConfigReloadedEvent",
        "StatsEvent",
        "ShuttingDownEvent",
    ],
};

/// An outcome, told apart by `ok`.
pub const OUTCOME: Union = Union {
    name: "Outcome",
    doc: "The single result of one accepted job.",
    tag: "ok",
    members: &["OutcomeOk", "OutcomeErr"],
};

const OBJECTS: &[Object] = &[
    // -- given to conveyor ------------------------------------------------------------
    Object {
        name: "Recipe",
        direction: In,
        doc: "What to make from one input (the shared recipe schema).",
        fields: &[
            f(
                "outputs",
                List(&Named("OutputSpec")),
                "The outputs, in order (1 to 16). One decode feeds all of them.",
            ),
            opt(
                "auto_orient",
                Bool,
                "Apply the EXIF orientation to the pixels. Default true.",
            ),
            opt(
                "strip_metadata",
                Bool,
                "Write no metadata; false writes an ICC profile (sRGB's, or the source's with colour \"keep\"). Default true.",
            ),
            opt(
                "fail_on",
                Enum("FailOn"),
                "Which damage refuses an input. Default \"warning\".",
            ),
            opt(
                "colour",
                Enum("ColourMode"),
                "\"srgb\" converts profiled inputs to sRGB; \"keep\" embeds the source profile. Default \"srgb\".",
            ),
            opt(
                "placeholder",
                Enum("Placeholder"),
                "Also compute this placeholder; the outcome's placeholder carries it.",
            ),
            opt(
                "animated",
                Bool,
                "Keep every frame of an animated input: WebP outputs are animated, others get the first frame and a frames_dropped warning. Default false.",
            ),
        ],
    },
    Object {
        name: "OutputSpec",
        direction: In,
        doc: "One output of a recipe.",
        fields: &[
            f(
                "name",
                Str,
                "[A-Za-z0-9_-]{1,64}, unique in the recipe; the file name when saved.",
            ),
            opt("width", Uint, "Target box width, 1 to 16383."),
            opt("height", Uint, "Target box height, 1 to 16383."),
            opt(
                "fit",
                Enum("Fit"),
                "How the image fits the box. Default \"inside\".",
            ),
            opt("without_enlargement", Bool, "Never scale up. Default true."),
            f("format", Enum("OutputFormat"), "Output format."),
            opt(
                "quality",
                Uint,
                "JPEG, lossy WebP and AVIF quality, 1 to 100. Default 80.",
            ),
            opt("lossless", Bool, "WebP only: lossless encoding."),
            opt("progressive", Bool, "JPEG only: progressive scans."),
            opt(
                "compression",
                Uint,
                "PNG only: zlib effort 0 to 9. Default 6.",
            ),
            opt(
                "background",
                Str,
                "\"#rgb\", \"#rrggbb\" or \"#rrggbbaa\". Default white.",
            ),
            opt(
                "max_bytes",
                Uint,
                "Lossy formats: the largest quality (up to quality) whose encoding fits in this many bytes.",
            ),
            opt(
                "position",
                Enum("Position"),
                "cover only: which part to keep. Default \"centre\".",
            ),
            opt(
                "speed",
                Uint,
                "AVIF only: encoder speed, 1 (slowest, smallest) to 10. Default 6.",
            ),
        ],
    },
    Object {
        name: "Limits",
        direction: In,
        doc: "Limits on one input, checked from the header before decoding.",
        fields: &[
            opt(
                "max_input_bytes",
                Uint,
                "Largest input in bytes. Default 64 MiB.",
            ),
            opt("max_width", Uint, "Largest width. Default 30000."),
            opt("max_height", Uint, "Largest height. Default 30000."),
            opt(
                "max_pixels",
                Uint,
                "Largest width x height. Default 100000000.",
            ),
            opt(
                "max_alloc",
                Uint,
                "Largest single decoder allocation in bytes. Default 1 GiB.",
            ),
            opt(
                "max_icc_bytes",
                Uint,
                "Largest ICC profile read (to convert or keep). Default 1 MiB.",
            ),
            opt(
                "max_scans",
                Uint,
                "Most scans a JPEG may have. Default 100.",
            ),
            opt(
                "max_output_width",
                Uint,
                "Largest output width in pixels. Default 30000.",
            ),
            opt(
                "max_output_height",
                Uint,
                "Largest output height in pixels. Default 30000.",
            ),
            opt(
                "max_output_pixels",
                Uint,
                "Largest width x height of one output. Default 100000000.",
            ),
            opt(
                "max_output_pixels_total",
                Uint,
                "Largest sum of width x height over a recipe's outputs. Default 300000000.",
            ),
            opt(
                "max_frames",
                Uint,
                "Most frames of an animated input kept with animated: true. Default 1000.",
            ),
        ],
    },
    Object {
        name: "Settings",
        direction: In,
        doc: "The live settings that reload replaces as a whole.",
        fields: &[
            opt(
                "default_recipe",
                Named("Recipe"),
                "The recipe for jobs that bring none.",
            ),
            opt("limits", Named("Limits"), "Limits on each input."),
            opt(
                "formats",
                List(&Enum("InputFormat")),
                "Allowed input formats. Default: all.",
            ),
        ],
    },
    Object {
        name: "PoolConfig",
        direction: In,
        doc: "Everything needed to build a native pool (C and Python take this JSON).",
        fields: &[
            opt(
                "workers",
                Uint,
                "Worker threads. Default: the available parallelism.",
            ),
            opt(
                "queue_capacity",
                Uint,
                "Queue capacity. Default: 4 x workers.",
            ),
            opt(
                "output_dir",
                Str,
                "Save outputs here; without it outputs come back as bytes.",
            ),
            opt(
                "event_capacity",
                Uint,
                "Events buffered per subscriber before it lags. Default 1024.",
            ),
            opt(
                "stats_interval_ms",
                Uint,
                "Emit a stats event this often. Default: never.",
            ),
            opt(
                "default_recipe",
                Named("Recipe"),
                "The recipe for jobs that bring none.",
            ),
            opt("limits", Named("Limits"), "Limits on each input."),
            opt(
                "formats",
                List(&Enum("InputFormat")),
                "Allowed input formats.",
            ),
            opt(
                "memory_budget",
                Uint,
                "Job memory budget in bytes. Default: half the machine's memory.",
            ),
        ],
    },
    // -- shown by conveyor --------------------------------------------------------------
    Object {
        name: "InputInfo",
        direction: Out,
        doc: "The input as it was received.",
        fields: &[
            f("format", Enum("InputFormat"), "Detected format."),
            f("width", Uint, "Width as stored (before orientation)."),
            f("height", Uint, "Height as stored (before orientation)."),
            f("byte_len", Uint, "Size in bytes."),
            f(
                "orientation",
                Uint,
                "The EXIF orientation found (1 to 8; 1 when none).",
            ),
            f(
                "frames",
                Uint,
                "Frames in the file (more than 1 for an animation; the first is used unless animated: true).",
            ),
        ],
    },
    Object {
        name: "OutputInfo",
        direction: Out,
        doc: "One finished output (its bytes travel beside the JSON, as data).",
        fields: &[
            f("name", Str, "The recipe's name for it."),
            f("format", Enum("OutputFormat"), "Its format."),
            f("width", Uint, "Final width."),
            f("height", Uint, "Final height."),
            f("byte_len", Uint, "Encoded size in bytes."),
            opt(
                "path",
                Str,
                "Where it was saved, when the pool has an output directory.",
            ),
            opt(
                "quality",
                Uint,
                "With max_bytes: the quality chosen (the largest that fits).",
            ),
            opt("encodes", Uint, "With max_bytes: the encodes the search spent."),
            opt(
                "crop",
                Named("CropBox"),
                "With fit \"cover\", when it cropped: the part of the upright source kept.",
            ),
            opt(
                "frames",
                Uint,
                "With animated: true, for an animated WebP output: its frame count.",
            ),
        ],
    },
    Object {
        name: "CropBox",
        direction: Out,
        doc: "A box in the upright (oriented) source's pixels.",
        fields: &[
            f("left", Uint, "Left edge."),
            f("top", Uint, "Top edge."),
            f("width", Uint, "Width."),
            f("height", Uint, "Height."),
        ],
    },
    Object {
        name: "Timings",
        direction: Out,
        doc: "Microseconds per stage; resize, encode and save are summed over outputs.",
        fields: &[
            f("queued_us", Uint, "Waiting in the queue."),
            f("decode_us", Uint, "Header, limits and decode."),
            f("resize_us", Uint, "Resize, orientation, crop and pad."),
            f("encode_us", Uint, "Encoding."),
            f("save_us", Uint, "Writing files."),
            f("total_us", Uint, "From acceptance to the outcome."),
        ],
    },
    Object {
        name: "ErrorInfo",
        direction: Out,
        doc: "A failure as JSON (the error object of every door).",
        fields: &[
            f("code", Enum("ErrorCode"), "The stable snake_case name."),
            f("numeric_code", Uint, "The stable number (ERROR_CODES)."),
            f(
                "stage",
                Nullable(&Enum("Stage")),
                "The stage that failed, or null.",
            ),
            f("message", Str, "What happened, for humans; never parse it."),
        ],
    },
    Object {
        name: "OutcomeOk",
        direction: Out,
        doc: "A job that succeeded.",
        fields: &[
            f("job_id", Uint, "The id the pool gave the job."),
            f("key", Nullable(STR), "The job's key, or null."),
            f("ok", BoolLiteral(true), "true."),
            f("input", Named("InputInfo"), "The decoded input."),
            f(
                "outputs",
                List(&Named("OutputInfo")),
                "One entry per recipe output, in recipe order.",
            ),
            f(
                "memory_estimate",
                Uint,
                "The job's estimated peak memory, in bytes.",
            ),
            opt(
                "placeholder",
                Str,
                "The placeholder the recipe asked for (ThumbHash as base64, or BlurHash).",
            ),
            f(
                "warnings",
                List(&Named("Warning")),
                "What the job worked around without failing; usually empty.",
            ),
            f(
                "timings",
                Named("Timings"),
                "Time queued, per stage and in total.",
            ),
        ],
    },
    Object {
        name: "Warning",
        direction: Out,
        doc: "Something a job worked around without failing (an unusable colour profile).",
        fields: &[
            f("code", Enum("WarningCode"), "The stable snake_case name."),
            f("message", Str, "What happened, for humans; never parse it."),
        ],
    },
    Object {
        name: "OutcomeErr",
        direction: Out,
        doc: "A job that failed.",
        fields: &[
            f("job_id", Uint, "The id the pool gave the job."),
            f("key", Nullable(STR), "The job's key, or null."),
            f("ok", BoolLiteral(false), "false."),
            f("error", Named("ErrorInfo"), "Why it failed."),
            f(
                "timings",
                Named("Timings"),
                "Time queued and until the failure.",
            ),
        ],
    },
    Object {
        name: "LatencySnapshot",
        direction: Out,
        doc: "One stage's latency histogram.",
        fields: &[
            f("count", Uint, "Samples."),
            f("sum_us", Uint, "Their sum, in microseconds."),
            f(
                "p50_us",
                Uint,
                "Median, as its bucket's upper bound, in microseconds.",
            ),
            f(
                "p99_us",
                Uint,
                "99th percentile, as its bucket's upper bound.",
            ),
            f(
                "cumulative_buckets",
                List(UINT),
                "Samples at or under each bucket bound (Prometheus style).",
            ),
        ],
    },
    Object {
        name: "StatsSnapshot",
        direction: Out,
        doc: "The pool's statistics.",
        fields: &[
            f("workers", Uint, "Worker threads."),
            f("queue_capacity", Uint, "Queue capacity."),
            f("queued", Uint, "Jobs waiting in the queue."),
            f("running", Uint, "Jobs running."),
            f("accepted", Uint, "Jobs accepted since the start."),
            f("completed", Uint, "Jobs that succeeded."),
            f(
                "failed",
                Map(&Enum("ErrorCode"), UINT),
                "Jobs that failed, per error code.",
            ),
            f(
                "rejected",
                Uint,
                "Submissions refused (queue full, shut down).",
            ),
            f(
                "latency",
                Map(STR, &Named("LatencySnapshot")),
                "Latency histograms per stage.",
            ),
            opt("memory_budget", Uint, "The job memory budget, in bytes."),
            opt(
                "memory_in_use",
                Uint,
                "Memory held by running jobs, in bytes.",
            ),
            opt("memory_waiting", Uint, "Jobs waiting for memory."),
        ],
    },
];

/// Every object: the inputs, the outcome and its parts, the statistics, the events
/// and the lag marker.
pub fn objects() -> Vec<Object> {
    let mut all = OBJECTS.to_vec();
    all.extend_from_slice(EVENT_OBJECTS);
    all.push(LAGGED);
    all
}

/// Every union.
pub fn unions() -> Vec<Union> {
    vec![OUTCOME, EVENTS]
}

/// The object with this name.
pub fn object(name: &str) -> Option<Object> {
    objects().into_iter().find(|o| o.name == name)
}

/// The event names (`job_queued`, ...), in the order of [`EVENTS`].
pub fn event_types() -> Vec<&'static str> {
    EVENT_OBJECTS
        .iter()
        .filter_map(|o| match o.fields[0].ty {
            StrLiteral(s) => Some(s),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_type_exists() {
        let names: Vec<&str> = objects()
            .iter()
            .map(|o| o.name)
            .chain(unions().iter().map(|u| u.name))
            .collect();
        let enums: Vec<&str> = enums().iter().map(|e| e.name).collect();
        fn walk(t: &Type, names: &[&str], enums: &[&str]) {
            match *t {
                Named(n) => assert!(names.contains(&n), "{n}"),
                Enum(n) => assert!(enums.contains(&n), "{n}"),
                List(t) | Nullable(t) => walk(t, names, enums),
                Map(k, v) => {
                    walk(k, names, enums);
                    walk(v, names, enums);
                }
                _ => {}
            }
        }
        for o in objects() {
            for fl in o.fields {
                walk(&fl.ty, &names, &enums);
            }
        }
        for u in unions() {
            for m in u.members {
                let o = object(m).unwrap();
                assert!(o.fields.iter().any(|fl| fl.name == u.tag), "{m}");
            }
        }
        assert_eq!(event_types().len(), EVENTS.members.len());
    }
}
