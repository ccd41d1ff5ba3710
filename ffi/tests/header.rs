//! The committed `include/conveyor.h` is exactly what cbindgen generates now, and its
//! version macros match Cargo.toml. `CONVEYOR_BLESS=1` rewrites the committed copy.
#![allow(missing_docs)]

use std::path::Path;

#[test]
fn header_is_current() {
    let generated = std::fs::read_to_string(Path::new(env!("OUT_DIR")).join("conveyor.h")).unwrap();
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../include/conveyor.h");
    if std::env::var_os("CONVEYOR_BLESS").is_some() {
        std::fs::write(&committed_path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/conveyor.h is stale: run `CONVEYOR_BLESS=1 cargo test -p conveyor-ffi --test header` and commit it"
    );
}

#[test]
fn version_macros_match_cargo_toml() {
    let header = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../include/conveyor.h"),
    )
    .unwrap();
    let want = [
        format!("#define CONVEYOR_VERSION \"{}\"", env!("CARGO_PKG_VERSION")),
        format!(
            "#define CONVEYOR_VERSION_MAJOR {}",
            env!("CARGO_PKG_VERSION_MAJOR")
        ),
        format!(
            "#define CONVEYOR_VERSION_MINOR {}",
            env!("CARGO_PKG_VERSION_MINOR")
        ),
        format!(
            "#define CONVEYOR_VERSION_PATCH {}",
            env!("CARGO_PKG_VERSION_PATCH")
        ),
    ];
    for line in want {
        assert!(header.contains(&line), "missing {line}");
    }
}

#[test]
fn every_package_carries_the_same_version() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let v = env!("CARGO_PKG_VERSION");
    let package_json = std::fs::read_to_string(root.join("wasm/package.json")).unwrap();
    assert!(
        package_json.contains(&format!("\"version\": \"{v}\"")),
        "wasm/package.json"
    );
    let pyproject = std::fs::read_to_string(root.join("python/pyproject.toml")).unwrap();
    assert!(
        pyproject.contains(&format!("version = \"{v}\"")),
        "python/pyproject.toml"
    );
    let changelog = std::fs::read_to_string(root.join("CHANGELOG.md")).unwrap();
    assert!(
        changelog.contains(&format!("## {v}")),
        "CHANGELOG.md has no section for {v}"
    );
}
