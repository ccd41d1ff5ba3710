//! What the `pipeline` and `recipe` fuzz targets do with one input, and the checks on
//! what comes back. This file depends only on the `conveyor` crate and std, because it
//! is compiled twice: into the fuzz targets (nightly, libFuzzer) and, through
//! `#[path]`, into `core/tests/fuzz_regressions.rs`, which replays every committed seed
//! and regression file on stable. So CI runs exactly the code the fuzzer ran.
//!
//! A check that fails panics; under libFuzzer any panic (even one the pool would catch)
//! aborts and is reported as a crash.
//!
//! The `recipe` target also checks that parsing is strict (issue 18): whatever
//! `Recipe::from_json` or `PoolConfig::from_json` accepts is exactly one JSON object
//! (nothing after it), with every struct (the recipe, each output) an object, never the
//! positional array form, no duplicate keys and no `null`; and on the fixed images each
//! output is never `panicked`, never 0 wide or high, within its box, and exactly the box
//! for `contain` (and for `cover` and `fill` when enlargement is allowed).

use std::sync::OnceLock;

use conveyor::pipeline::{run, Context};
use conveyor::{Error, ErrorKind, Fit, Limits, OutputFormat, PoolConfig, Recipe, Report, Stage};

/// The fixed recipe of the `pipeline` target: the upload workload of the README, a
/// 1600 px JPEG and a 320 px WebP cover thumbnail.
pub const PIPELINE_RECIPE: &str = r#"{"outputs":[
  {"name":"large","width":1600,"height":1600,"format":"jpeg","quality":80},
  {"name":"thumb","width":320,"height":320,"fit":"cover","format":"webp","quality":75}]}"#;

/// Modest limits so one execution stays fast: 4 MP, 2048 px a side, 8 MiB of input,
/// 256 MiB per decoder allocation.
pub fn fuzz_limits() -> Limits {
    Limits::default()
        .with_max_pixels(4_000_000)
        .with_max_width(8192)
        .with_max_height(8192)
        .with_max_input_bytes(8 << 20)
        .with_max_alloc(256 << 20)
}

/// The pool configuration of the `ffi_submit` target (same limits, same default recipe).
pub fn fuzz_pool_config_json() -> String {
    format!(
        r#"{{"workers":2,"queue_capacity":4,"limits":{{"max_pixels":4000000,"max_width":8192,"max_height":8192,"max_input_bytes":8388608,"max_alloc":268435456}},"default_recipe":{}}}"#,
        PIPELINE_RECIPE
    )
}

/// The small fixed images every valid fuzzed recipe is run on: a 64x48 RGBA PNG (alpha
/// flattening, padding) and a 48x64 JPEG with EXIF orientation 6 (orientation,
/// shrink-on-load).
pub const RECIPE_INPUTS: [(&str, &[u8]); 2] = [
    (
        "rgba_64x48.png",
        include_bytes!("../../testdata/fuzz/fixed/rgba_64x48.png"),
    ),
    (
        "orient6_48x64.jpg",
        include_bytes!("../../testdata/fuzz/fixed/orient6_48x64.jpg"),
    ),
];

/// Runs a valid recipe only while its outputs stay under this many pixels in total:
/// recipes may legitimately ask for 16 outputs of 16383x16383 (testdata/fuzz/README.md),
/// which would make each execution take seconds and a gigabyte.
pub const RECIPE_MAX_OUTPUT_PIXELS: u64 = 1_000_000;

fn pipeline_recipe() -> &'static Recipe {
    static R: OnceLock<Recipe> = OnceLock::new();
    R.get_or_init(|| Recipe::from_json(PIPELINE_RECIPE).expect("the fixed recipe is valid"))
}

fn run_with_limits(data: &[u8], recipe: &Recipe) -> Result<Report, Error> {
    let limits = fuzz_limits();
    let ctx = Context {
        key: "fuzz",
        ..Context::new(&limits)
    };
    let last: std::cell::Cell<Option<Stage>> = std::cell::Cell::new(None);
    let result = run(data, recipe, &ctx, &|stage| {
        last.set(Some(stage));
        Ok(())
    });
    if let Err(e) = &result {
        // A failure after validation happens in a stage the checkpoint announced.
        if e.kind != ErrorKind::InvalidRecipe {
            assert!(last.get().is_some(), "error before any stage: {e:?}");
        }
    }
    result
}

/// The `pipeline` target: untrusted bytes through the fixed recipe.
pub fn pipeline(data: &[u8]) -> Result<Report, Error> {
    let recipe = pipeline_recipe();
    let result = run_with_limits(data, recipe);
    check_outcome(recipe, &result, data.len());
    if let Ok(report) = &result {
        let (l, t) = (&report.outputs[0], &report.outputs[1]);
        assert!(
            l.width <= 1600 && l.height <= 1600,
            "large is {}x{}",
            l.width,
            l.height
        );
        assert!(
            t.width <= 320 && t.height <= 320,
            "thumb is {}x{}",
            t.width,
            t.height
        );
    }
    result
}

/// What the `recipe` target did with one input.
#[derive(Debug, PartialEq, Eq)]
pub enum RecipeRun {
    /// Not UTF-8, or not a valid recipe.
    Invalid,
    /// Valid, but its outputs are larger than [`RECIPE_MAX_OUTPUT_PIXELS`]; not run.
    TooLarge,
    /// Valid and run on every fixed image.
    Ran,
}

/// The `recipe` target: the input as recipe JSON (and as pool configuration JSON).
/// A valid recipe must survive a JSON round trip and is then run on the fixed images.
pub fn recipe(data: &[u8]) -> RecipeRun {
    let Ok(json) = std::str::from_utf8(data) else {
        return RecipeRun::Invalid;
    };
    pool_config(json);
    let recipe = match Recipe::from_json(json) {
        Ok(r) => {
            let value = strict_object(json, "recipe", true);
            let outputs = value.get("outputs").and_then(|o| o.as_array());
            assert!(
                outputs.is_some_and(|o| o.iter().all(|v| v.is_object())),
                "a recipe whose outputs are not all objects is accepted: {json:?}"
            );
            r
        }
        Err(e) => {
            assert_eq!(e.kind, ErrorKind::InvalidRecipe, "{e:?}");
            assert!(!e.message.is_empty());
            return RecipeRun::Invalid;
        }
    };
    let again = Recipe::from_json(&recipe.to_json()).unwrap_or_else(|e| {
        panic!(
            "a valid recipe's JSON is refused: {e} ({})",
            recipe.to_json()
        )
    });
    assert_eq!(again, recipe, "the recipe changed in a JSON round trip");
    if output_pixel_bound(&recipe, 64, 64) > RECIPE_MAX_OUTPUT_PIXELS {
        return RecipeRun::TooLarge;
    }
    for (_, input) in RECIPE_INPUTS {
        let result = run_with_limits(input, &recipe);
        check_outcome(&recipe, &result, input.len());
        if let Err(e) = &result {
            // The fixed inputs are valid images well within the limits.
            panic!("a valid recipe failed on a fixed image: {e:?}");
        }
    }
    RecipeRun::Ran
}

/// The pool configuration parser on the same text: errors are typed, and a valid
/// configuration survives a JSON round trip.
fn pool_config(json: &str) {
    match PoolConfig::from_json(json) {
        Ok(cfg) => {
            strict_object(json, "pool config", false);
            let text = serde_json_roundtrip(&cfg);
            let again = PoolConfig::from_json(&text)
                .unwrap_or_else(|e| panic!("a valid config's JSON is refused: {e} ({text})"));
            assert_eq!(again, cfg, "the pool config changed in a JSON round trip");
            let _ = cfg.settings();
            assert!(cfg.resolved_workers() >= 1);
            assert!(cfg.resolved_queue_capacity() >= 1);
        }
        Err(e) => assert!(
            matches!(
                e.kind,
                ErrorKind::InvalidArgument | ErrorKind::InvalidRecipe
            ),
            "{e:?}"
        ),
    }
}

/// Checks that text a parser accepted is strictly one JSON object: nothing after it
/// (`serde_json::from_str` requires the end of input) and no duplicate keys, and with
/// `no_null` (recipes: omit a field for its default) no `null` at any depth. Returns
/// the value.
fn strict_object(json: &str, what: &str, no_null: bool) -> serde_json::Value {
    let value: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| {
        panic!("a {what} that is not exactly one JSON value is accepted ({e}): {json:?}")
    });
    assert!(
        value.is_object(),
        "a {what} that is not an object is accepted: {json:?}"
    );
    assert!(
        !(no_null && has_null(&value)),
        "a {what} with a null is accepted: {json:?}"
    );
    let mut at = 0;
    if let Err(key) = no_duplicate_keys(json.as_bytes(), &mut at) {
        panic!("a {what} with the key {key:?} twice in one object is accepted: {json:?}");
    }
    value
}

fn has_null(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Array(a) => a.iter().any(has_null),
        serde_json::Value::Object(o) => o.values().any(has_null),
        _ => false,
    }
}

/// Walks one JSON value of text already known to be valid JSON, from `*at`; `Err` with
/// the first key that appears twice in one object (keys compared as written).
fn no_duplicate_keys(b: &[u8], at: &mut usize) -> Result<(), String> {
    let ws = |at: &mut usize| {
        while *at < b.len() && b[*at].is_ascii_whitespace() {
            *at += 1;
        }
    };
    // A string starting at `*at` (on its quote); returns its raw text.
    let string = |at: &mut usize| -> String {
        let start = *at + 1;
        *at += 1;
        while *at < b.len() && b[*at] != b'"' {
            *at += if b[*at] == b'\\' { 2 } else { 1 };
        }
        *at += 1;
        String::from_utf8_lossy(&b[start..*at - 1]).into_owned()
    };
    ws(at);
    match b.get(*at) {
        Some(b'{') => {
            *at += 1;
            let mut keys = std::collections::HashSet::new();
            loop {
                ws(at);
                match b.get(*at) {
                    Some(b'}') | None => break,
                    Some(b',') => *at += 1,
                    _ => {
                        let key = string(at);
                        ws(at);
                        *at += 1; // the colon
                        no_duplicate_keys(b, at)?;
                        if !keys.insert(key.clone()) {
                            return Err(key);
                        }
                    }
                }
            }
            *at += 1;
        }
        Some(b'[') => {
            *at += 1;
            loop {
                ws(at);
                match b.get(*at) {
                    Some(b']') | None => break,
                    Some(b',') => *at += 1,
                    _ => no_duplicate_keys(b, at)?,
                }
            }
            *at += 1;
        }
        Some(b'"') => {
            string(at);
        }
        _ => {
            while *at < b.len() && !b",]} \t\r\n".contains(&b[*at]) {
                *at += 1;
            }
        }
    }
    Ok(())
}

fn serde_json_roundtrip(cfg: &PoolConfig) -> String {
    // The config has no to_json; its Serialize impl is what bindings echo back.
    serde_json::to_string(cfg).expect("a pool config always serialises")
}

/// An upper bound on the pixels a recipe renders from an image of at most `w`x`h`:
/// the box when the output may be enlarged or padded, else the image.
pub fn output_pixel_bound(recipe: &Recipe, w: u32, h: u32) -> u64 {
    recipe
        .outputs
        .iter()
        .map(|o| {
            let bw = o.width.unwrap_or(w).max(w) as u64;
            let bh = o.height.unwrap_or(h).max(h) as u64;
            if !o.without_enlargement || o.fit == Fit::Contain {
                // With one side given, `inside` scales the other side along with it.
                let s = (bw.max(bh)) * (bw.max(bh));
                s.min(16383 * 16383)
            } else {
                (w as u64) * (h as u64)
            }
        })
        .sum()
}

/// Checks one outcome: exactly one result or one typed error, and on success one output
/// per spec, in order, with bytes of the right format and a size within the box.
pub fn check_outcome(recipe: &Recipe, result: &Result<Report, Error>, input_len: usize) {
    match result {
        Ok(report) => {
            assert_eq!(report.outputs.len(), recipe.outputs.len());
            assert_eq!(report.input.byte_len, input_len as u64);
            assert!(report.input.width >= 1 && report.input.height >= 1);
            for (spec, out) in recipe.outputs.iter().zip(&report.outputs) {
                assert_eq!(out.name, spec.name);
                assert_eq!(out.format, spec.format);
                assert!(out.width >= 1 && out.height >= 1, "{out:?}");
                if let Some(w) = spec.width {
                    assert!(
                        out.width <= w.max(1),
                        "{}: {} > box {w}",
                        out.name,
                        out.width
                    );
                }
                if let Some(h) = spec.height {
                    assert!(
                        out.height <= h.max(1),
                        "{}: {} > box {h}",
                        out.name,
                        out.height
                    );
                }
                if let (Some(w), Some(h)) = (spec.width, spec.height) {
                    let exact = spec.fit == Fit::Contain
                        || (!spec.without_enlargement
                            && matches!(spec.fit, Fit::Cover | Fit::Fill));
                    assert!(
                        !exact || (out.width, out.height) == (w, h),
                        "{}: {}x{}, not the {w}x{h} box ({:?})",
                        out.name,
                        out.width,
                        out.height,
                        spec.fit
                    );
                }
                let data = out.data.as_ref().expect("outputs come back as bytes");
                assert_eq!(data.len() as u64, out.byte_len);
                assert!(
                    has_magic(spec.format, data),
                    "{}: not {:?}",
                    out.name,
                    spec.format
                );
            }
        }
        Err(e) => {
            assert!(
                matches!(
                    e.kind,
                    ErrorKind::InvalidRecipe
                        | ErrorKind::UnsupportedFormat
                        | ErrorKind::DecodeFailed
                        | ErrorKind::LimitExceeded
                        | ErrorKind::EncodeFailed
                ),
                "unexpected error kind: {e:?}"
            );
            assert!(e.stage.is_some(), "an error without a stage: {e:?}");
            assert!(!e.message.is_empty(), "an error without a message: {e:?}");
        }
    }
}

fn has_magic(format: OutputFormat, data: &[u8]) -> bool {
    match format {
        OutputFormat::Jpeg => data.starts_with(&[0xff, 0xd8, 0xff]),
        OutputFormat::Png => data.starts_with(b"\x89PNG\r\n\x1a\n"),
        OutputFormat::Webp => data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP",
        _ => true,
    }
}
