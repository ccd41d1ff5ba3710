//! conveyor in the browser: the core pipeline (`conveyor::pipeline::run`, unchanged)
//! exported with wasm-bindgen, for one Web Worker per wasm instance.
//!
//! The JS side (`js/`) owns the pool, the bounded queue and the workers; this crate
//! only runs one job synchronously inside a worker. Results cross as one JSON string,
//! the job's outcome exactly as `conveyor::wire` writes it for every door, plus one
//! `Uint8Array` per output, whose buffers the worker hands to the page as
//! transferables. Errors are thrown as the wire error object
//! `{code, numeric_code, stage, message}` with the shared snake_case codes.

use conveyor::pipeline::{run_valid, Context};
use conveyor::wire::{ErrorJson, OutcomeJson};
use conveyor::{Error, ErrorKind, InputFormat, JobId, Limits, Settings, Stage, ValidRecipe};
use wasm_bindgen::prelude::*;

/// Installs the panic hook, so that a Rust panic shows its message in the console.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// The library version (the same as the Rust crate, C header and npm package).
#[wasm_bindgen]
pub fn version() -> String {
    conveyor::VERSION.to_string()
}

/// The shared error-code table as JSON: `[{"code":1,"name":"invalid_recipe"},...]`.
#[wasm_bindgen(js_name = errorCodes)]
pub fn error_codes() -> String {
    let rows: Vec<_> = ErrorKind::ALL
        .iter()
        .map(|k| serde_json::json!({"code": k.code(), "name": k.as_str(), "description": k.description()}))
        .collect();
    serde_json::Value::Array(rows).to_string()
}

/// The wire error object, as a JS object.
fn js_error(e: &Error) -> JsValue {
    let json = serde_json::to_string(&ErrorJson::from(e)).expect("errors serialise");
    js_sys::JSON::parse(&json).unwrap_or_else(|_| JsValue::from_str(&e.to_string()))
}

/// Processes one image. `recipe_json` is the shared recipe JSON; `limits_json` the
/// shared limits object (or empty for the defaults). Returns
/// `{outcome: string (the wire outcome JSON, job_id 0 and key null: no pool gave it),
/// buffers: Uint8Array[]}`, one buffer per output in recipe order; throws
/// `{code, numeric_code, stage, message}`.
#[wasm_bindgen]
pub fn process(input: &[u8], recipe_json: &str, limits_json: &str) -> Result<JsValue, JsValue> {
    let recipe = ValidRecipe::from_json(recipe_json).map_err(|e| js_error(&e))?;
    let limits: Limits = if limits_json.trim().is_empty() {
        Limits::default()
    } else {
        Limits::from_json(limits_json).map_err(|e| js_error(&e.at(Stage::Validate)))?
    };
    let ctx = Context::new(&limits);
    let report = run_valid(input, &recipe, &ctx, &|_| Ok(())).map_err(|e| js_error(&e))?;
    finish(JobId(0), None, report)
}

fn parse_settings(settings_json: &str) -> Result<Settings, Error> {
    if settings_json.trim().is_empty() {
        return Ok(Settings::default());
    }
    Settings::from_json(settings_json).map_err(|e| e.at(Stage::Validate))
}

/// Checks the shared settings object (`{default_recipe, limits, formats}`, every field
/// optional, as in `Pool::reload`); throws `{code, numeric_code, stage, message}` when
/// it is not valid (`invalid_argument`, or `invalid_recipe` for the default recipe).
#[wasm_bindgen(js_name = checkSettings)]
pub fn check_settings(settings_json: &str) -> Result<(), JsValue> {
    parse_settings(settings_json)
        .map(|_| ())
        .map_err(|e| js_error(&e))
}

/// Checks recipe JSON as every door does (strict parsing, then validation); throws
/// `{code: "invalid_recipe", numeric_code, stage, message}` when it is not valid. The
/// JS pool calls it on the page's thread, so a bad recipe is refused before it is
/// queued.
#[wasm_bindgen(js_name = checkRecipe)]
pub fn check_recipe(recipe_json: &str) -> Result<(), JsValue> {
    ValidRecipe::from_json(recipe_json)
        .map(|_| ())
        .map_err(|e| js_error(&e))
}

/// As [`process`], under the live settings of the JS pool: `settings_json` is the shared
/// settings object (limits, allowed formats, and the default recipe used when
/// `recipe_json` is empty); `job_id` and `key` (validated as the native pool does) are
/// the JS pool's, and go into the outcome.
///
/// With `defer_webp`, lossy WebP outputs that need only the VP8 encode are not encoded
/// (`Context::defer_lossy_webp`): the result then also has `deferred`, an array of
/// `{index, width, height, quality}`, and such an output's buffer holds its RGBA
/// pixels; the caller encodes them (the browser's encoder, or
/// [`encode_deferred_webp`]) and sets the outcome's `byte_len` for it.
#[wasm_bindgen(js_name = processWith)]
pub fn process_with(
    input: &[u8],
    recipe_json: &str,
    settings_json: &str,
    job_id: f64,
    key: Option<String>,
    defer_webp: Option<bool>,
) -> Result<JsValue, JsValue> {
    if let Some(k) = &key {
        conveyor::validate_key(k).map_err(|e| js_error(&e))?;
    }
    let settings = parse_settings(settings_json).map_err(|e| js_error(&e))?;
    let recipe = if recipe_json.trim().is_empty() {
        ValidRecipe::new(settings.default_recipe.clone())
    } else {
        ValidRecipe::from_json(recipe_json)
    }
    .map_err(|e| js_error(&e))?;
    let ctx = Context {
        formats: &settings.formats,
        defer_lossy_webp: defer_webp.unwrap_or(false),
        ..Context::new(&settings.limits)
    };
    let report = run_valid(input, &recipe, &ctx, &|_| Ok(())).map_err(|e| js_error(&e))?;
    finish(JobId(job_id as u64), key, report)
}

/// A deferred output (see [`process_with`]) that the browser's encoder made, checked and
/// written as the pipeline writes its own WebP (the VP8 stream alone: Chromium adds an
/// sRGB profile). Throws `encode_failed` unless it is a lossy, still, opaque WebP of
/// `width` x `height`; the worker then uses [`encode_deferred_webp`].
#[wasm_bindgen(js_name = finishDeferredWebp)]
pub fn finish_deferred_webp(webp: &[u8], width: u32, height: u32) -> Result<Vec<u8>, JsValue> {
    conveyor::pipeline::finish_deferred_webp(webp, width, height).map_err(|e| js_error(&e))
}

/// Encodes a deferred output's RGBA pixels (see [`process_with`]) with the wasm's own
/// WebP encoder, as the pipeline would have: for browsers without a WebP canvas
/// encoder, or when theirs fails. Throws the wire error object.
#[wasm_bindgen(js_name = encodeDeferredWebp)]
pub fn encode_deferred_webp(
    rgba: &[u8],
    width: u32,
    height: u32,
    quality: u32,
) -> Result<Vec<u8>, JsValue> {
    conveyor::pipeline::encode_deferred_webp(rgba, width, height, quality).map_err(|e| js_error(&e))
}

/// The job's estimated peak memory in bytes: the header is read and the recipe planned
/// exactly as [`process_with`] would (limits, formats and the default recipe from
/// `settings_json`), and the pipeline stops where the native pool asks its memory
/// budget, before any pixel is decoded. Throws the wire error the header already earns
/// (`limit_exceeded`, `unsupported_format`, `decode_failed`, `invalid_recipe`); and,
/// when `budget` is positive and the estimate exceeds it, `limit_exceeded` naming both,
/// with the native pool's message.
#[wasm_bindgen]
pub fn estimate(
    input: &[u8],
    recipe_json: &str,
    settings_json: &str,
    budget: f64,
) -> Result<f64, JsValue> {
    let settings = parse_settings(settings_json).map_err(|e| js_error(&e))?;
    let recipe = if recipe_json.trim().is_empty() {
        ValidRecipe::new(settings.default_recipe.clone())
    } else {
        ValidRecipe::from_json(recipe_json)
    }
    .map_err(|e| js_error(&e))?;
    let found = std::cell::Cell::new(None);
    let admit = |bytes: u64| -> Result<(), Error> {
        found.set(Some(bytes));
        Err(Error::new(ErrorKind::Cancelled, "estimated"))
    };
    let ctx = Context {
        formats: &settings.formats,
        admit: Some(&admit),
        ..Context::new(&settings.limits)
    };
    let result = run_valid(input, &recipe, &ctx, &|_| Ok(()));
    let bytes = match (found.get(), result) {
        (Some(bytes), _) => bytes,
        (None, Err(e)) => return Err(js_error(&e)),
        (None, Ok(_)) => return Err(js_error(&Error::new(ErrorKind::Panicked, "no estimate"))),
    };
    if budget > 0.0 && bytes as f64 > budget {
        return Err(js_error(&over_budget(bytes, budget as u64)));
    }
    Ok(bytes as f64)
}

/// The native pool's error for a job whose estimate exceeds the whole budget
/// (`core/src/pool/budget.rs`, which the wasm build does not compile), word for word.
fn over_budget(bytes: u64, total: u64) -> Error {
    let mib = |b: u64| format!("{:.1} MiB", b as f64 / (1 << 20) as f64);
    Error::new(
        ErrorKind::LimitExceeded,
        format!(
            "the job needs an estimated {} ({bytes} bytes) of memory; the pool's memory \
             budget is {} ({total} bytes)",
            mib(bytes),
            mib(total),
        ),
    )
    .at(Stage::Decode)
}

/// `{outcome, buffers}`: the wire outcome of a successful job (the JS pool fills in the
/// queue and total times it measures) and each output's bytes.
fn finish(
    job_id: JobId,
    key: Option<String>,
    report: conveyor::Report,
) -> Result<JsValue, JsValue> {
    let buffers = js_sys::Array::new();
    let deferred = js_sys::Array::new();
    for (index, o) in report.outputs.iter().enumerate() {
        let bytes = o.data.as_deref().unwrap_or(&[]);
        buffers.push(&js_sys::Uint8Array::from(bytes));
        if let Some(quality) = o.deferred_quality {
            let d = serde_json::json!({
                "index": index, "width": o.width, "height": o.height, "quality": quality,
            });
            deferred.push(&js_sys::JSON::parse(&d.to_string())?);
        }
    }
    let obj = js_sys::Object::new();
    let timings = report.timings;
    let outcome = OutcomeJson::new(job_id, key, &Ok(report), timings);
    let json = serde_json::to_string(&outcome).map_err(|e| JsValue::from_str(&e.to_string()))?;
    js_sys::Reflect::set(&obj, &"outcome".into(), &JsValue::from_str(&json))?;
    js_sys::Reflect::set(&obj, &"buffers".into(), &buffers)?;
    js_sys::Reflect::set(&obj, &"deferred".into(), &deferred)?;
    Ok(obj.into())
}

/// Reads only the header: `{format, width, height}` as JSON, limits checked.
#[wasm_bindgen]
pub fn probe(input: &[u8]) -> Result<String, JsValue> {
    let (format, width, height) =
        conveyor::probe(input, &Limits::default(), &InputFormat::ALL).map_err(|e| js_error(&e))?;
    Ok(serde_json::json!({"format": format, "width": width, "height": height}).to_string())
}
