//! Builds the C and C++ examples and the misuse test with the system compilers against
//! the committed header and the freshly built library, dynamically and statically, and
//! runs them: plain, under valgrind (0 errors, no leaks; one suppression for Rust's
//! main-thread handle) and under ASan + UBSan.
#![allow(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// The folder holding libconveyor.so / .a (target/<profile>).
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

fn out_dir() -> PathBuf {
    let d = lib_dir().join("c-tests");
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[derive(Clone, Copy, PartialEq)]
enum Link {
    Dynamic,
    Static,
}

fn compile(src: &str, link: Link, sanitize: bool) -> PathBuf {
    let src = root().join(src);
    let cpp = src.extension().is_some_and(|e| e == "cpp");
    let stem = src.file_stem().unwrap().to_string_lossy().into_owned();
    let name = format!(
        "{stem}-{}{}",
        if link == Link::Static {
            "static"
        } else {
            "dynamic"
        },
        if sanitize { "-asan" } else { "" }
    );
    let exe = out_dir().join(name);
    let lib = lib_dir();
    let mut cmd = Command::new(if cpp { "c++" } else { "cc" });
    cmd.args([
        if cpp { "-std=c++17" } else { "-std=c11" },
        "-Wall",
        "-Wextra",
        "-Werror",
        "-g",
        "-O1",
    ]);
    cmd.arg("-I")
        .arg(root().join("include"))
        .arg(&src)
        .arg("-o")
        .arg(&exe);
    if sanitize {
        cmd.args([
            "-fsanitize=address,undefined",
            "-fno-omit-frame-pointer",
            "-fno-sanitize-recover=undefined",
        ]);
    }
    match link {
        Link::Dynamic => {
            cmd.arg(format!("-L{}", lib.display()))
                .arg("-lconveyor")
                .arg(format!("-Wl,-rpath,{}", lib.display()));
        }
        Link::Static => {
            cmd.arg(lib.join("libconveyor.a"));
        }
    }
    cmd.args(["-lpthread", "-lm", "-ldl"]);
    let out = cmd.output().expect("run the C compiler");
    assert!(
        out.status.success(),
        "compiling {} failed:\n{}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

fn inputs() -> PathBuf {
    root().join("testdata/vectors/inputs")
}

fn check_ok(out: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn run(exe: &Path, args: &[&Path]) -> Output {
    Command::new(exe).args(args).output().unwrap()
}

fn valgrind(exe: &Path, args: &[&Path]) -> Output {
    let supp = root().join("ffi/tests/valgrind.supp");
    Command::new("valgrind")
        .args([
            "--quiet",
            "--error-exitcode=99",
            "--leak-check=full",
            "--show-leak-kinds=definite,indirect,possible",
        ])
        .args(["--errors-for-leak-kinds=definite,indirect,possible"])
        .arg(format!("--suppressions={}", supp.display()))
        .arg(exe)
        .args(args)
        .output()
        .expect("valgrind is installed (apt-get install valgrind)")
}

fn asan(exe: &Path, args: &[&Path]) -> Output {
    Command::new(exe)
        .args(args)
        .env(
            "ASAN_OPTIONS",
            "detect_leaks=1:abort_on_error=0:exitcode=98",
        )
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        .output()
        .unwrap()
}

fn check_process_dir(stdout: &str) {
    assert!(stdout.contains("done: 12 jobs, 3 failed"), "{stdout}");
    assert!(
        stdout.contains("ok photo_640x480.jpg: jpeg 640x480 -> small=jpeg:64x48:"),
        "{stdout}"
    );
    assert!(stdout.contains(" thumb=webp:32x32:"), "{stdout}");
    assert!(
        stdout.contains("ok card_orient6.jpg: jpeg 240x320 -> small=jpeg:64x48:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("failed bomb_50000x50000.png: limit_exceeded at decode:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("failed garbage.bin: unsupported_format at decode:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("failed fake.png: decode_failed at decode:"),
        "{stdout}"
    );
}

fn check_poll_dir(stdout: &str) {
    assert!(
        stdout
            .contains("done: 12 jobs, 3 failed; empty poll: timed_out; after shutdown: shut_down"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok gradient_120x90.gif: gif 120x90 -> png 64x48"),
        "{stdout}"
    );
}

fn check_futures(stdout: &str) {
    assert!(stdout.contains("done: 12 jobs, 3 failed"), "{stdout}");
    assert!(
        stdout.contains("ok rgba_300x200.png: png -> webp 48x48"),
        "{stdout}"
    );
}

fn check_misuse(stdout: &str) {
    assert!(
        stdout.contains("misuse: ") && stdout.contains(" passed, 0 failed"),
        "{stdout}"
    );
}

fn check_readme(stdout: &str) {
    assert!(
        stdout.contains("photo_640x480.jpg: large jpeg 640x480"),
        "{stdout}"
    );
    assert!(
        stdout.contains("photo_640x480.jpg: thumb webp 320x240"),
        "{stdout}"
    );
    assert!(
        stdout.contains("garbage.bin: unsupported_format"),
        "{stdout}"
    );
}

type Check = fn(&str);

fn programs() -> Vec<(&'static str, Vec<PathBuf>, Check)> {
    let dir = inputs();
    vec![
        (
            "examples/c/process_dir.c",
            vec![dir.clone()],
            check_process_dir as Check,
        ),
        ("examples/c/poll_dir.c", vec![dir.clone()], check_poll_dir),
        ("examples/cpp/futures.cpp", vec![dir.clone()], check_futures),
        (
            "examples/c/readme.c",
            vec![dir.join("photo_640x480.jpg"), dir.join("garbage.bin")],
            check_readme,
        ),
        ("ffi/tests/c/misuse.c", vec![], check_misuse),
    ]
}

#[test]
fn c_and_cpp_programs_run_linked_dynamically() {
    for (src, args, check) in programs() {
        let args: Vec<&Path> = args.iter().map(|p| p.as_path()).collect();
        check(&check_ok(
            &run(&compile(src, Link::Dynamic, false), &args),
            src,
        ));
    }
}

#[test]
fn c_and_cpp_programs_run_linked_statically() {
    for (src, args, check) in programs() {
        let args: Vec<&Path> = args.iter().map(|p| p.as_path()).collect();
        check(&check_ok(
            &run(&compile(src, Link::Static, false), &args),
            src,
        ));
    }
}

#[test]
fn c_and_cpp_programs_are_clean_under_valgrind() {
    for (src, args, check) in programs() {
        let args: Vec<&Path> = args.iter().map(|p| p.as_path()).collect();
        let out = valgrind(&compile(src, Link::Dynamic, false), &args);
        check(&check_ok(&out, &format!("valgrind {src}")));
    }
}

#[test]
fn c_and_cpp_programs_are_clean_under_asan_and_ubsan() {
    for (src, args, check) in programs() {
        let args: Vec<&Path> = args.iter().map(|p| p.as_path()).collect();
        let out = asan(&compile(src, Link::Dynamic, true), &args);
        check(&check_ok(&out, &format!("asan {src}")));
    }
}
