//! Replays the committed inputs of the `ffi_submit` fuzz target
//! (`testdata/fuzz/{seeds,corpus,regressions}/ffi_submit/`) through the real shared
//! library: `tests/c/fuzz_replay.c`, built with the system C compiler against the committed
//! header, submits each file as `recipe NUL image` on one pool and checks exactly one
//! callback, then one userdata_free, per accepted submit and none per refused one.
//!
//! The codes it prints are then checked against the core, through the same harness the
//! fuzz targets use (`fuzz/src/core_harness.rs`): a submit is refused exactly when the
//! recipe is invalid, and with the pool's default recipe the job ends as
//! `conveyor::pipeline::run` does with the same limits.
//!
//! The same program replays the shared vectors (`testdata/vectors/vectors.json`) with
//! `-o`: outcomes, sizes, and the pixels of the bytes the C door hands over, decoded
//! here with the `image` crate (C has no image decoder) and compared with the vectors'
//! reference decodes.
#![allow(missing_docs)]

#[path = "../../fuzz/src/core_harness.rs"]
#[allow(dead_code)]
mod core_harness;
#[path = "../../core/tests/common/psnr.rs"]
mod psnr;

use std::path::{Path, PathBuf};
use std::process::Command;

use psnr::psnr;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// Regression files (relative to `testdata/fuzz/regressions/`) that fail today, with
/// the reason; remove them from here once fixed.
const KNOWN_FAILING: &[(&str, &str)] = &[];

/// Finding F1, fixed: planned outputs are bounded like inputs.
const F1: &str = "ffi_submit/oom-width-only-enlarge-1x4000.bin";

/// The folder holding libconveyor.so (target/<profile>), as in c_programs.rs.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    assert!(
        dir.join("libconveyor.so").exists(),
        "{} has no libconveyor.so; run `cargo build -p conveyor-ffi`",
        dir.display()
    );
    dir
}

/// Builds the replay program once per test binary (tests run in parallel, and a
/// second compile over a running executable fails with "text file busy").
fn build_replay() -> PathBuf {
    static EXE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    EXE.get_or_init(compile_replay).clone()
}

fn compile_replay() -> PathBuf {
    let lib = lib_dir();
    let out = lib.join("c-tests");
    std::fs::create_dir_all(&out).unwrap();
    let exe = out.join("fuzz_replay");
    let out = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-O1"])
        .arg("-I")
        .arg(root().join("include"))
        .arg(root().join("ffi/tests/c/fuzz_replay.c"))
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", lib.display()))
        .arg("-lconveyor")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lpthread", "-lm", "-ldl"])
        .output()
        .expect("run the C compiler");
    assert!(
        out.status.success(),
        "compiling fuzz_replay.c failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

fn files() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for sub in [
        "seeds/ffi_submit",
        "corpus/ffi_submit",
        "regressions/ffi_submit",
    ] {
        let dir = root().join("testdata/fuzz").join(sub);
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            let rel = p
                .strip_prefix(root().join("testdata/fuzz/regressions"))
                .ok();
            let known = rel.is_some_and(|r| KNOWN_FAILING.iter().any(|(f, _)| Path::new(f) == r));
            if p.is_file() && p.extension().is_none_or(|e| e != "md") && !known {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

/// The recipe part and the image part, split as the target and the C program do.
fn split(data: &[u8]) -> (Option<&[u8]>, &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(0) => (None, &data[1..]),
        Some(i) => (Some(&data[..i]), &data[i + 1..]),
        None => (Some(data), &[]),
    }
}

#[test]
fn every_ffi_input_gets_one_callback_per_accepted_submit() {
    let files = files();
    assert!(files.len() >= 20, "the ffi_submit seeds are missing");
    let exe = build_replay();
    let out = Command::new(&exe)
        .arg(core_harness::fuzz_pool_config_json())
        .args(&files)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "fuzz_replay failed ({:?}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.starts_with("replayed:"))
        .collect();
    assert_eq!(lines.len(), files.len(), "{stdout}");
    for (path, line) in files.iter().zip(&lines) {
        let rest = line
            .strip_prefix(&*path.to_string_lossy())
            .unwrap_or_else(|| panic!("out of order: {line}"));
        let data = std::fs::read(path).unwrap();
        let (recipe, image) = split(&data);
        let recipe = match recipe {
            None => Some(conveyor::Recipe::from_json(core_harness::PIPELINE_RECIPE).unwrap()),
            Some(r) => std::str::from_utf8(r)
                .ok()
                .and_then(|s| conveyor::Recipe::from_json(s).ok()),
        };
        let Some(recipe) = recipe else {
            assert!(rest.contains(" submit=invalid_recipe "), "{line}");
            continue;
        };
        assert!(rest.contains(" submit=ok "), "{line}");
        // The pool runs the same pipeline with the same limits: the same outcome.
        let limits = core_harness::fuzz_limits();
        let ctx = conveyor::pipeline::Context {
            key: "fuzz",
            ..conveyor::pipeline::Context::new(&limits)
        };
        let core = conveyor::pipeline::run(image, &recipe, &ctx, &|_| Ok(()));
        core_harness::check_outcome(&recipe, &core, image.len());
        let want = match &core {
            Ok(r) => format!(" job=ok outputs={}", r.outputs.len()),
            Err(e) => format!(" job={} outputs=0", e.kind.as_str()),
        };
        assert!(rest.ends_with(&want), "{line}: the core says{want}");
    }
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(summary.starts_with("replayed: "), "{stdout}");
}

/// Replays one known-failing regression file with the address space capped at 4 GB, so
/// an oversized allocation fails at once (as it would on a smaller machine) instead of
/// eating the machine's memory. Passes once the job ends in a typed error.
fn replay_known_failing(name: &str) {
    let path = root().join("testdata/fuzz/regressions").join(name);
    let exe = build_replay();
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 4000000 && exec \"$0\" \"$@\"")
        .arg(&exe)
        .arg(core_harness::fuzz_pool_config_json())
        .arg(&path)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{name}: fuzz_replay died ({:?}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" submit=ok job="), "{stdout}");
}

#[test]
fn regression_f1_width_only_enlarge_is_refused_not_aborted() {
    replay_known_failing(F1);
}

/// Checks a successful case's detail lines from `fuzz_replay -o` (`  input ...`,
/// `  output K ...`) against its expectation, and the pixels of each output that
/// carries a `psnr_min`: the bytes the C program wrote to `<path>.outK`, decoded to
/// RGBA, must be within that PSNR of the `reference`. Returns the outputs checked by
/// pixels with their PSNR.
fn check_ok_case(
    name: &str,
    expect: &serde_json::Value,
    detail: &[&str],
    path: &Path,
) -> Vec<(String, f64)> {
    let input = &expect["input"];
    let want_input = format!(
        "  input {} {}x{}",
        input["format"].as_str().unwrap(),
        input["width"],
        input["height"]
    );
    assert_eq!(detail.first(), Some(&&*want_input), "{name}: {detail:?}");
    let outputs = expect["outputs"].as_array().unwrap();
    assert_eq!(detail.len(), outputs.len() + 1, "{name}: {detail:?}");
    let mut checked = Vec::new();
    for (k, (line, want)) in detail[1..].iter().zip(outputs).enumerate() {
        let prefix = format!(
            "  output {k} {} {} {}x{} ",
            want["name"].as_str().unwrap(),
            want["format"].as_str().unwrap(),
            want["width"],
            want["height"]
        );
        assert!(
            line.starts_with(&prefix),
            "{name}: {line}, expected {prefix}"
        );
        let Some(floor) = want.get("psnr_min").and_then(|v| v.as_f64()) else {
            continue;
        };
        let output = format!("{name}/{}", want["name"].as_str().unwrap());
        let reference = want["reference"].as_str().unwrap();
        let bytes = std::fs::read(path.with_extension(format!("out{k}"))).unwrap();
        let got = image::load_from_memory(&bytes)
            .unwrap_or_else(|e| panic!("{output}: the C door's bytes do not decode: {e}"))
            .to_rgba8();
        let db = psnr(
            &got,
            &image::open(root().join("testdata/vectors").join(reference))
                .unwrap()
                .to_rgba8(),
        );
        assert!(
            db >= floor,
            "{output}: {db:.1} dB against {reference}, floor {floor}"
        );
        checked.push((output, db));
    }
    checked
}

/// The shared vectors (`testdata/vectors/vectors.json`) through the C ABI, with the same
/// replay program: each case's recipe text (`recipe_text` as written, or `recipe` as
/// JSON) and input are submitted on a pool with the case's limits, and the code (the
/// submit's, or the job's when the submit is accepted) must be what the case expects;
/// a success must have the expected input format and size, the expected outputs' names,
/// formats and sizes, and, where an output carries `psnr_min`, pixels within that PSNR
/// of its reference (`check_ok_case`). `expect.frames` and `warnings` are not checked
/// here (the Rust and Python replays check them).
#[test]
fn the_shared_vectors_give_the_same_outcomes_through_the_c_abi() {
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("testdata/vectors/vectors.json")).unwrap(),
    )
    .unwrap();
    let exe = build_replay();
    // Per process: test runs sharing a target folder must not read each other's outputs.
    let dir = lib_dir().join(format!("c-tests/vectors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut pixels = Vec::new();
    for (i, case) in doc["cases"].as_array().unwrap().iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        let text = match case.get("recipe_text") {
            Some(t) => t.as_str().unwrap().to_string(),
            None => case["recipe"].to_string(),
        };
        let mut file = text.into_bytes();
        file.push(0);
        file.extend(
            std::fs::read(
                root()
                    .join("testdata/vectors/inputs")
                    .join(case["input"].as_str().unwrap()),
            )
            .unwrap(),
        );
        let path = dir.join(format!("case{i}"));
        std::fs::write(&path, file).unwrap();
        let config = match case.get("limits") {
            Some(l) => format!(r#"{{"workers":1,"limits":{l}}}"#),
            None => r#"{"workers":1}"#.to_string(),
        };
        let out = Command::new(&exe)
            .arg("-o")
            .arg(&config)
            .arg(&path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: fuzz_replay failed:\n{stdout}"
        );
        let lines: Vec<&str> = stdout
            .lines()
            .filter(|l| !l.starts_with("replayed:"))
            .collect();
        let line = lines.first().copied().unwrap_or_default();
        let expect = &case["expect"];
        let want = if expect["ok"] == true {
            let n = expect["outputs"].as_array().unwrap().len();
            format!(" submit=ok job=ok outputs={n}")
        } else {
            let code = expect["code"].as_str().unwrap();
            if line.contains(" submit=ok ") {
                format!(" submit=ok job={code} outputs=0")
            } else {
                format!(" submit={code} job=- outputs=0")
            }
        };
        assert!(line.ends_with(&want), "{name}: {line}, expected{want}");
        if expect["ok"] == true {
            pixels.extend(check_ok_case(name, expect, &lines[1..], &path));
        } else {
            assert_eq!(lines.len(), 1, "{name}: {stdout}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        pixels.len() >= 15,
        "only {} outputs checked by pixels",
        pixels.len()
    );
    println!("C door, PSNR per output (dB): {pixels:.1?}");
}
