//! Replays the committed fuzz seeds, minimised corpus and regression files
//! (`testdata/fuzz/`) through the very harness the cargo-fuzz targets run
//! (`fuzz/src/core_harness.rs`, compiled in here with `#[path]`), on stable: no panic,
//! and exactly one report or one typed error per input. The C ABI target's files are
//! replayed by `ffi/tests/fuzz_regressions.rs`.
//!
//! A regression that still fails today is listed in `KNOWN_FAILING` and replayed by
//! its own `#[ignore]`d test, so CI stays green and `cargo test -- --ignored` shows it.
#![allow(missing_docs)]

#[path = "../../fuzz/src/core_harness.rs"]
#[allow(dead_code)]
mod core_harness;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use core_harness::RecipeRun;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/fuzz")
}

/// Regression files (relative to `testdata/fuzz/regressions/`) that fail today, with
/// the reason. Each has an `#[ignore]`d test below; remove both once fixed.
const KNOWN_FAILING: &[(&str, &str)] = &[];

fn files(sub: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join(sub);
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "md"))
        .collect();
    v.sort();
    v
}

fn known_failing(path: &Path) -> bool {
    let rel = path.strip_prefix(fuzz_dir().join("regressions")).ok();
    rel.is_some_and(|r| KNOWN_FAILING.iter().any(|(f, _)| Path::new(f) == r))
}

/// Runs `f` on every file, collecting the ones that panic, and fails naming them all.
fn replay(paths: &[PathBuf], f: impl Fn(&[u8])) {
    let mut failed = Vec::new();
    for p in paths {
        if known_failing(p) {
            continue;
        }
        let data = std::fs::read(p).unwrap();
        if catch_unwind(AssertUnwindSafe(|| f(&data))).is_err() {
            failed.push(p.display().to_string());
        }
    }
    assert!(failed.is_empty(), "failed: {failed:#?}");
}

#[test]
fn pipeline_seeds_are_valid_images_of_every_format() {
    let seeds = files("seeds/pipeline");
    assert!(seeds.len() >= 20, "the seed corpus is missing");
    let formats = std::cell::RefCell::new(std::collections::BTreeSet::new());
    replay(&seeds, |data| {
        let report = core_harness::pipeline(data).expect("a seed image is processed");
        formats.borrow_mut().insert(report.input.format);
    });
    let missing: Vec<_> = conveyor::InputFormat::ALL
        .iter()
        .filter(|f| !formats.borrow().contains(f))
        .collect();
    assert!(missing.is_empty(), "no seed of {missing:?}");
}

#[test]
fn every_pipeline_input_gives_one_report_or_one_typed_error() {
    let mut all = files("seeds/pipeline");
    all.extend(files("corpus/pipeline"));
    all.extend(files("regressions/pipeline"));
    replay(&all, |data| {
        let _ = core_harness::pipeline(data);
    });
}

#[test]
fn every_recipe_input_parses_round_trips_and_runs() {
    let seeds = files("seeds/recipe");
    assert!(seeds.len() >= 10, "the recipe seeds are missing");
    let mut all = seeds.clone();
    all.extend(files("corpus/recipe"));
    all.extend(files("regressions/recipe"));
    all.extend(files("regressions/pool_config"));
    replay(&all, |data| {
        let _ = core_harness::recipe(data);
    });
    // The seeds taken from the docs and vectors are valid recipes or pool configs.
    let ran = seeds
        .iter()
        .filter(|p| core_harness::recipe(&std::fs::read(p).unwrap()) == RecipeRun::Ran)
        .count();
    assert!(ran >= 10, "only {ran} recipe seeds ran");
}

#[test]
fn the_fixed_images_are_within_the_fuzz_limits() {
    for (name, data) in core_harness::RECIPE_INPUTS {
        let (_, w, h) = conveyor::probe(
            data,
            &core_harness::fuzz_limits(),
            &conveyor::InputFormat::ALL,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(w <= 64 && h <= 64, "{name} is {w}x{h}");
    }
}

/// Finding F2 (testdata/fuzz/README.md): `event_capacity` has no upper bound, so a
/// configuration that `PoolConfig::from_json` accepts makes `Pool::from_config` panic
/// (usize::MAX: tokio's broadcast channel refuses it) or abort the process on a 149 TB
/// allocation (2^40, `event-capacity-2pow40.json`). Fixed: `PoolConfig::validate`
/// refuses capacities over 2^20 with `invalid_argument`.
#[test]
fn regression_f2_huge_event_capacity_is_refused() {
    let path = fuzz_dir().join("regressions/pool_config/event-capacity-usize-max.json");
    let json = std::fs::read_to_string(path).unwrap();
    let built = catch_unwind(|| {
        conveyor::PoolConfig::from_json(&json).and_then(conveyor::Pool::from_config)
    });
    match built {
        Ok(Err(e)) => assert_eq!(e.kind, conveyor::ErrorKind::InvalidArgument, "{e}"),
        Ok(Ok(_)) => panic!("a pool with event_capacity = usize::MAX was built"),
        Err(_) => panic!("Pool::from_config panicked"),
    }
}
