//! Bounded jobs through the C door: `ffi/tests/c/bounds.c` (hostile shared inputs,
//! scan limit, memory budget, failure timings), built against the committed header and
//! the fresh library, run plain and under valgrind.
#![allow(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

fn build() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let lib = exe.parent().unwrap().parent().unwrap().to_path_buf();
    assert!(
        lib.join("libconveyor.so").exists(),
        "run `cargo build -p conveyor-ffi` first"
    );
    let out = lib.join("c-tests");
    std::fs::create_dir_all(&out).unwrap();
    let bin = out.join("bounds");
    let status = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-O1", "-I"])
        .arg(root().join("include"))
        .arg(root().join("ffi/tests/c/bounds.c"))
        .arg("-o")
        .arg(&bin)
        .arg(format!("-L{}", lib.display()))
        .arg("-lconveyor")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lpthread", "-lm", "-ldl"])
        .status()
        .expect("cc");
    assert!(status.success());
    bin
}

#[test]
fn hostile_inputs_and_the_memory_budget_through_c() {
    let bin = build();
    let dir = root().join("testdata/vectors/inputs");
    let out = Command::new(&bin).arg(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("all bounds checks passed"), "{stdout}");
    let supp = root().join("ffi/tests/valgrind.supp");
    let out = Command::new("valgrind")
        .args(["--quiet", "--error-exitcode=99", "--leak-check=full"])
        .arg(format!("--suppressions={}", supp.display()))
        .arg(&bin)
        .arg(&dir)
        .output()
        .expect("valgrind is installed");
    assert!(
        out.status.success(),
        "valgrind: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
