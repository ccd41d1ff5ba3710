//! Generates what other languages need from the wire contract (`conveyor::wire`), and
//! checks the contract's schema against what serde really reads and writes.
//!
//! Generated (committed, never edited by hand):
//! - `wasm/js/codes.js`: the error codes, stages and event names for the JS door;
//! - `wasm/js/types.d.ts`: TypeScript types for the recipe, settings, outcome, events;
//! - `python/conveyor/_codes.py`: the same tables for Python, plus the field names of
//!   the shared objects (the Python result classes are checked against them).
//!
//! `CONVEYOR_BLESS=1 cargo test -p conveyor --test bindings` rewrites them; without it
//! the test fails with a diff when a committed file differs from what core makes now.
//! The C struct layouts that Python's ctypes mirror are generated and checked on the
//! C side (`ffi/tests/ctypes_layout.rs`), from the header.
#![allow(missing_docs)]

use std::fmt::Write as _;
use std::path::PathBuf;

use conveyor::wire::schema::{self, Direction, Object, StrEnum, Type, Union};
use conveyor::ErrorKind;
use serde::de::{self, Deserialize, Deserializer, Visitor};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

const BLESS: &str = "CONVEYOR_BLESS=1 cargo test -p conveyor --test bindings";

/// The generated-file notice, each line starting with `prefix`.
fn header(prefix: &str) -> String {
    format!(
        "{prefix}Generated from core/src/wire (conveyor::wire::schema and the code tables) by\n\
         {prefix}`{BLESS}`; do not edit.\n"
    )
}

// ---------------------------------------------------------------------------------
// The emitters.

fn ts_type(t: &Type) -> String {
    match *t {
        Type::Bool => "boolean".into(),
        Type::BoolLiteral(b) => b.to_string(),
        Type::Uint => "number".into(),
        Type::Str => "string".into(),
        Type::StrLiteral(s) => format!("'{s}'"),
        Type::Enum(n) | Type::Named(n) => n.into(),
        Type::List(inner) => match inner {
            Type::Nullable(_) => format!("({})[]", ts_type(inner)),
            _ => format!("{}[]", ts_type(inner)),
        },
        Type::Map(Type::Enum(k), v) => format!("Partial<Record<{k}, {}>>", ts_type(v)),
        Type::Map(_, v) => format!("Record<string, {}>", ts_type(v)),
        Type::Nullable(inner) => format!("{} | null", ts_type(inner)),
    }
}

fn ts_enum(out: &mut String, e: &StrEnum) {
    let values: Vec<String> = e.values.iter().map(|v| format!("'{v}'")).collect();
    writeln!(out, "/** {} */", e.doc).unwrap();
    writeln!(
        out,
        "export type {} =\n  | {};\n",
        e.name,
        values.join("\n  | ")
    )
    .unwrap();
}

fn ts_object(out: &mut String, o: &Object) {
    writeln!(out, "/** {} */", o.doc).unwrap();
    writeln!(out, "export interface {} {{", o.name).unwrap();
    for f in o.fields {
        let q = if f.optional { "?" } else { "" };
        writeln!(out, "  /** {} */", f.doc).unwrap();
        writeln!(out, "  {}{q}: {};", f.name, ts_type(&f.ty)).unwrap();
    }
    writeln!(out, "}}\n").unwrap();
}

fn ts_union(out: &mut String, u: &Union) {
    writeln!(out, "/** {} Told apart by `{}`. */", u.doc, u.tag).unwrap();
    writeln!(
        out,
        "export type {} =\n  | {};\n",
        u.name,
        u.members.join("\n  | ")
    )
    .unwrap();
}

fn types_d_ts() -> String {
    let mut out = header("// ");
    out.push_str(
        "// The shared JSON of conveyor as TypeScript types: what the recipe, settings and\n\
         // limits accept, what an outcome and the events carry. Every door uses these names.\n\n",
    );
    for e in schema::enums() {
        ts_enum(&mut out, &e);
    }
    out.push_str("// -- given to conveyor\n\n");
    for o in schema::objects()
        .iter()
        .filter(|o| o.direction == Direction::In)
    {
        ts_object(&mut out, o);
    }
    out.push_str("// -- shown by conveyor\n\n");
    for o in schema::objects()
        .iter()
        .filter(|o| o.direction == Direction::Out)
    {
        ts_object(&mut out, o);
    }
    for u in schema::unions() {
        ts_union(&mut out, &u);
    }
    out.push_str("/** An event's name. */\nexport type PoolEventType = PoolEvent['type'];\n\n");
    out.push_str(
        "/** Each event's name mapped to the DOM event the pool dispatches (`e.detail` is the event). */\n\
         export interface PoolEventMap {\n",
    );
    for m in schema::EVENTS.members {
        let o = schema::object(m).unwrap();
        let Type::StrLiteral(name) = o.fields[0].ty else {
            panic!("{m}: the first field is the type tag")
        };
        writeln!(out, "  {name}: CustomEvent<{m}>;").unwrap();
    }
    out.push_str("}\n");
    out
}

fn codes_js() -> String {
    let mut out = header("// ");
    out.push_str("// The shared code tables for the JS door (types: index.d.ts, types.d.ts).\n\n");
    out.push_str(
        "/** The shared error codes (the same names and numbers in Rust, C, Python and JS). */\n\
         export const ERROR_CODES = Object.freeze({\n",
    );
    for k in ErrorKind::ALL {
        writeln!(out, "  {}: {},", k.as_str(), k.code()).unwrap();
    }
    out.push_str("});\n\n");
    let list = |name: &str, doc: &str, values: &[&str]| {
        let quoted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
        format!(
            "/** {doc} */\nexport const {name} = Object.freeze([{}]);\n",
            quoted.join(", ")
        )
    };
    let stages = schema::enums()
        .into_iter()
        .find(|e| e.name == "Stage")
        .unwrap();
    out.push_str(&list(
        "STAGES",
        "Every stage name, in job order.",
        &stages.values,
    ));
    out.push('\n');
    out.push_str(&list(
        "EVENT_TYPES",
        "Every event name of the pool's bus (a lag is `lagged`, not an event).",
        &schema::event_types(),
    ));
    out
}

fn codes_py() -> String {
    let mut out =
        String::from("\"\"\"The shared code tables and field names for the Python door.\n\n");
    out.push_str(&header(""));
    out.push_str("\"\"\"\n\nfrom __future__ import annotations\n\n");
    out.push_str("#: Each error code's stable number (the same in Rust, C, JS).\nERROR_CODES: dict[str, int] = {\n");
    for k in ErrorKind::ALL {
        writeln!(out, "    \"{}\": {},", k.as_str(), k.code()).unwrap();
    }
    out.push_str(
        "}\n\n#: Each error code's one-line description.\nERROR_DESCRIPTIONS: dict[str, str] = {\n",
    );
    for k in ErrorKind::ALL {
        writeln!(out, "    \"{}\": {:?},", k.as_str(), k.description()).unwrap();
    }
    out.push_str("}\n\n");
    let tuple = |values: &[&str]| {
        let quoted: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
        format!("({},)", quoted.join(", "))
    };
    let stages = schema::enums()
        .into_iter()
        .find(|e| e.name == "Stage")
        .unwrap();
    writeln!(
        out,
        "#: Every stage name, in job order.\nSTAGES: tuple[str, ...] = {}\n",
        tuple(&stages.values)
    )
    .unwrap();
    writeln!(
        out,
        "#: Every event name of the pool's bus (a lag is ``lagged``, not an event).\nEVENT_TYPES: tuple[str, ...] = {}\n",
        tuple(&schema::event_types())
    )
    .unwrap();
    out.push_str("#: The fields of each object conveyor shows, in order (the result classes mirror them).\nFIELDS: dict[str, tuple[str, ...]] = {\n");
    for o in schema::objects()
        .iter()
        .filter(|o| o.direction == Direction::Out)
    {
        let names: Vec<&str> = o.fields.iter().map(|f| f.name).collect();
        writeln!(out, "    \"{}\": {},", o.name, tuple(&names)).unwrap();
    }
    out.push_str("}\n");
    out
}

fn generated() -> Vec<(&'static str, String)> {
    vec![
        ("wasm/js/codes.js", codes_js()),
        ("wasm/js/types.d.ts", types_d_ts()),
        ("python/conveyor/_codes.py", codes_py()),
    ]
}

/// The first lines where `a` and `b` differ, for the failure message.
fn diff(committed: &str, fresh: &str) -> String {
    let (a, b): (Vec<_>, Vec<_>) = (committed.lines().collect(), fresh.lines().collect());
    let first = (0..a.len().max(b.len()))
        .find(|&i| a.get(i) != b.get(i))
        .unwrap_or(0);
    let mut out = String::new();
    for i in first.saturating_sub(2)..(first + 6).min(a.len().max(b.len())) {
        match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) if x == y => writeln!(out, "  {:4}   {x}", i + 1).unwrap(),
            (x, y) => {
                if let Some(x) = x {
                    writeln!(out, "  {:4} - {x}", i + 1).unwrap();
                }
                if let Some(y) = y {
                    writeln!(out, "  {:4} + {y}", i + 1).unwrap();
                }
            }
        }
    }
    out
}

#[test]
fn committed_bindings_are_current() {
    let bless = std::env::var_os("CONVEYOR_BLESS").is_some();
    let mut stale = Vec::new();
    for (path, fresh) in generated() {
        let full = root().join(path);
        if bless {
            std::fs::write(&full, &fresh).unwrap();
        }
        let committed = std::fs::read_to_string(&full).unwrap_or_default();
        if committed != fresh {
            stale.push(format!(
                "{path} differs from what core generates (- committed, + generated):\n{}",
                diff(&committed, &fresh)
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "{}\nrun `{BLESS}` and commit the files",
        stale.join("\n")
    );
}

// ---------------------------------------------------------------------------------
// The schema against serde: a deserializer that only records the field (or variant)
// names serde asks for, which are exactly the names a derived `Deserialize` accepts.

#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stop")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Stop
    }
}

struct Names<'a>(&'a mut Vec<&'static str>);

impl<'de> Deserializer<'de> for Names<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        self.0.extend_from_slice(fields);
        Err(Stop)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        self.0.extend_from_slice(variants);
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
        identifier ignored_any
    }
}

/// The names serde's derived `Deserialize` of `T` knows (fields or variants).
fn serde_names<T: for<'de> Deserialize<'de>>() -> Vec<&'static str> {
    let mut names = Vec::new();
    let _ = T::deserialize(Names(&mut names));
    names
}

fn schema_fields(name: &str) -> Vec<&'static str> {
    schema::object(name)
        .unwrap_or_else(|| panic!("no object {name} in the schema"))
        .fields
        .iter()
        .map(|f| f.name)
        .collect()
}

#[test]
fn every_object_has_the_fields_serde_reads() {
    use conveyor::outcome::{CropBox, InputInfo, OutputInfo, Timings};
    use conveyor::stats::{LatencySnapshot, StatsSnapshot};
    use conveyor::{Limits, OutputSpec, PoolConfig, Recipe, Settings};
    let pairs: Vec<(&str, Vec<&str>)> = vec![
        ("Recipe", serde_names::<Recipe>()),
        ("OutputSpec", serde_names::<OutputSpec>()),
        ("Limits", serde_names::<Limits>()),
        ("Settings", serde_names::<Settings>()),
        ("PoolConfig", serde_names::<PoolConfig>()),
        ("InputInfo", serde_names::<InputInfo>()),
        ("OutputInfo", serde_names::<OutputInfo>()),
        ("CropBox", serde_names::<CropBox>()),
        ("Timings", serde_names::<Timings>()),
        ("ErrorInfo", serde_names::<conveyor::wire::ErrorJson>()),
        ("LatencySnapshot", serde_names::<LatencySnapshot>()),
        ("StatsSnapshot", serde_names::<StatsSnapshot>()),
        ("Warning", serde_names::<conveyor::Warning>()),
    ];
    for (name, serde) in pairs {
        assert!(!serde.is_empty(), "{name}: serde named no fields");
        assert_eq!(schema_fields(name), serde, "{name}: schema vs serde");
    }
    // The outcome's two shapes together are the fields of `OutcomeJson`.
    let mut both = schema_fields("OutcomeOk");
    for f in schema_fields("OutcomeErr") {
        if !both.contains(&f) {
            both.push(f);
        }
    }
    let mut serde = serde_names::<conveyor::wire::OutcomeJson>();
    both.sort_unstable();
    serde.sort_unstable();
    assert_eq!(both, serde, "Outcome: schema vs serde");
}

#[test]
fn every_enum_has_the_values_serde_reads() {
    use conveyor::recipe::FailOn;
    use conveyor::{Fit, InputFormat, OutputFormat, Placeholder, Position, Stage};
    for e in schema::enums() {
        let serde = match e.name {
            "ErrorCode" => serde_names::<ErrorKind>(),
            "Stage" => serde_names::<Stage>(),
            "InputFormat" => serde_names::<InputFormat>(),
            "OutputFormat" => serde_names::<OutputFormat>(),
            "Fit" => serde_names::<Fit>(),
            "FailOn" => serde_names::<FailOn>(),
            "ColourMode" => serde_names::<conveyor::ColourMode>(),
            "WarningCode" => serde_names::<conveyor::WarningKind>(),
            "Placeholder" => serde_names::<Placeholder>(),
            "Position" => serde_names::<Position>(),
            other => panic!("the test does not know the enum {other}: add it here"),
        };
        assert_eq!(e.values, serde, "{}: schema vs serde", e.name);
    }
}

/// The keys of a serialised value, sorted (serde_json's map sorts them; the order of
/// the fields is checked against `Deserialize` above).
fn keys(v: &serde_json::Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// The schema's fields of `name`, sorted: all of them, or the required ones only.
fn expected(name: &str, all: bool) -> Vec<String> {
    let mut names: Vec<String> = schema::object(name)
        .unwrap()
        .fields
        .iter()
        .filter(|f| all || !f.optional)
        .map(|f| f.name.to_string())
        .collect();
    names.sort_unstable();
    names
}

#[test]
fn outcomes_serialise_as_the_schema_says() {
    use conveyor::{Job, Pool};
    let pool = Pool::builder().workers(1).build().unwrap();
    let ok = pool
        .submit(Job::new(conveyor::doc_image(40, 30)).with_key("k"))
        .unwrap()
        .wait();
    let v = serde_json::to_value(&ok).unwrap();
    assert_eq!(keys(&v), expected("OutcomeOk", false));
    assert_eq!(keys(&v["input"]), expected("InputInfo", true));
    assert_eq!(keys(&v["outputs"][0]), expected("OutputInfo", false));
    // Every optional field of a success, when the recipe asks for all of them.
    let recipe = conveyor::Recipe::from_json(
        r#"{"outputs":[{"name":"a","width":20,"height":20,"fit":"cover","format":"jpeg","max_bytes":100000}],"placeholder":"thumbhash"}"#,
    )
    .unwrap();
    let full = pool
        .submit(Job::new(conveyor::doc_image(40, 30)).with_recipe(recipe))
        .unwrap()
        .wait();
    let v = serde_json::to_value(&full).unwrap();
    assert_eq!(keys(&v), expected("OutcomeOk", true));
    // `frames` is for animated WebP outputs, which take no `max_bytes`: checked below.
    let mut all_but_path = expected("OutputInfo", true);
    all_but_path.retain(|k| k != "path" && k != "frames");
    assert_eq!(keys(&v["outputs"][0]), all_but_path);
    let mut gif = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new(&mut gif);
        for i in 0..2u8 {
            let img = image::RgbaImage::from_pixel(8, 8, image::Rgba([i * 200, 0, 0, 255]));
            enc.encode_frame(image::Frame::new(img)).unwrap();
        }
    }
    let recipe = conveyor::Recipe::from_json(
        r#"{"animated":true,"outputs":[{"name":"a","format":"webp"}]}"#,
    )
    .unwrap();
    let animated = pool
        .submit(Job::new(gif).with_recipe(recipe))
        .unwrap()
        .wait();
    let va = serde_json::to_value(&animated).unwrap();
    assert!(va["ok"] == true, "{va}");
    let mut with_frames = expected("OutputInfo", false);
    with_frames.push("frames".into());
    with_frames.sort_unstable();
    assert_eq!(keys(&va["outputs"][0]), with_frames);
    assert_eq!(va["outputs"][0]["frames"], 2);
    assert_eq!(keys(&v["outputs"][0]["crop"]), expected("CropBox", true));
    assert_eq!(keys(&v["timings"]), expected("Timings", true));
    let bad = pool.submit(Job::new(vec![1, 2, 3])).unwrap().wait();
    let v = serde_json::to_value(&bad).unwrap();
    assert_eq!(keys(&v), expected("OutcomeErr", true));
    assert_eq!(keys(&v["error"]), expected("ErrorInfo", true));
    assert_eq!(v["key"], serde_json::Value::Null);
    let stats = serde_json::to_value(pool.stats()).unwrap();
    assert_eq!(keys(&stats), expected("StatsSnapshot", true));
    pool.shutdown();
}

#[test]
fn events_serialise_as_the_schema_says() {
    use conveyor::outcome::Timings;
    use conveyor::{Event, JobId, Stage};
    let stats = {
        let pool = conveyor::Pool::builder().workers(1).build().unwrap();
        let s = pool.stats();
        pool.shutdown();
        s
    };
    // Each variant with its optional fields set, then unset.
    let samples: Vec<(Event, Option<Event>)> = vec![
        (
            Event::JobQueued {
                job_id: JobId(1),
                input_bytes: 2,
            },
            None,
        ),
        (
            Event::JobRejected {
                job_id: JobId(1),
                reason: ErrorKind::QueueFull,
            },
            None,
        ),
        (
            Event::JobStarted {
                job_id: JobId(1),
                worker: 0,
                queued_us: 3,
            },
            None,
        ),
        (
            Event::JobFinished {
                job_id: JobId(1),
                ok: false,
                error: Some(ErrorKind::DecodeFailed),
                stage: Some(Stage::Decode),
                timings: Timings::default(),
            },
            Some(Event::JobFinished {
                job_id: JobId(1),
                ok: true,
                error: None,
                stage: None,
                timings: Timings::default(),
            }),
        ),
        (Event::ConfigReloaded, None),
        (Event::Stats { stats }, None),
        (Event::ShuttingDown { graceful: true }, None),
    ];
    let names: Vec<&str> = samples.iter().map(|(e, _)| e.name()).collect();
    assert_eq!(
        names,
        schema::event_types(),
        "one sample per event, in order"
    );
    for ((full, bare), member) in samples.iter().zip(schema::EVENTS.members) {
        let v = serde_json::to_value(full).unwrap();
        assert_eq!(keys(&v), expected(member, true), "{member}");
        assert_eq!(v["type"], full.name());
        if let Some(bare) = bare {
            let v = serde_json::to_value(bare).unwrap();
            assert_eq!(keys(&v), expected(member, false), "{member} (bare)");
        }
    }
    let lag = conveyor::wire::lagged_json(3);
    assert_eq!(keys(&lag), expected("Lagged", true));
}

#[test]
fn the_typescript_has_every_table_name() {
    let ts = types_d_ts();
    for e in schema::enums() {
        assert!(ts.contains(&format!("export type {} =", e.name)));
    }
    for o in schema::objects() {
        assert!(ts.contains(&format!("export interface {} {{", o.name)));
    }
    assert!(ts.contains("job_finished: CustomEvent<JobFinishedEvent>;"));
    assert!(codes_js().contains("decode_failed: 4,"));
    assert!(codes_py().contains("\"decode_failed\": 4,"));
}
