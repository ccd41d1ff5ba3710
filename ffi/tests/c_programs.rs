//! Builds the C and C++ examples and the misuse test with the system compilers against
//! the committed header and the freshly built library, dynamically and statically, and
//! runs them: plain, under valgrind (0 errors, no leaks; one suppression for Rust's
//! main-thread handle) and under ASan + UBSan. The event bus has two programs: the bus
//! stress test (with the others) and the replay of the shared event script
//! `testdata/events/events.json` (`ffi/tests/c/events.c`, fed commands made here).
//! `ffi/tests/c/options.c` covers `conveyor_job_options` (key, deadline, queue wait,
//! the `struct_size` rule) and the key in results and published folder names.
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
        // Programs that time things relax their bounds under valgrind's slowness.
        .env("CONVEYOR_UNDER_VALGRIND", "1")
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

/// "done: N jobs, M failed" for the shared inputs under the examples' recipe and the
/// default limits: an input fails when a vector without `limits` and with a valid
/// recipe expects it to, unless another such vector with the default `fail_on` accepts
/// it (then the failure came from that recipe, e.g. a byte budget nothing fits).
fn done_line() -> String {
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("testdata/vectors/vectors.json")).unwrap(),
    )
    .unwrap();
    let mut failing = std::collections::BTreeSet::new();
    let mut accepted = std::collections::BTreeSet::new();
    for case in doc["cases"].as_array().unwrap() {
        let expect = &case["expect"];
        let input = case["input"].as_str().unwrap().to_string();
        if case.get("limits").is_some() {
            continue;
        }
        if expect["ok"] == false && expect["code"] != "invalid_recipe" {
            failing.insert(input);
        } else if expect["ok"] == true && case["recipe"].get("fail_on").is_none() {
            accepted.insert(input);
        }
    }
    failing.retain(|input| !accepted.contains(input));
    let total = std::fs::read_dir(inputs()).unwrap().count();
    format!("done: {total} jobs, {} failed", failing.len())
}

fn check_process_dir(stdout: &str) {
    assert!(stdout.contains(&done_line()), "{stdout}");
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
        stdout.contains(&format!(
            "{}; empty poll: timed_out; after shutdown: shut_down",
            done_line()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok gradient_120x90.gif: gif 120x90 -> png 64x48"),
        "{stdout}"
    );
}

fn check_futures(stdout: &str) {
    assert!(stdout.contains(&done_line()), "{stdout}");
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

fn check_options(stdout: &str) {
    assert!(
        stdout.contains("options: ") && stdout.contains(" passed, 0 failed"),
        "{stdout}"
    );
}

fn check_bus_stress(stdout: &str) {
    assert!(
        stdout.contains("bus_stress: 400 jobs, 1211 events, 8 stalled kept at most")
            && stdout.contains("; 0 failures"),
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
        (
            "ffi/tests/c/options.c",
            vec![dir.join("photo_640x480.jpg")],
            check_options,
        ),
        ("ffi/tests/c/bus_stress.c", vec![], check_bus_stress),
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

/// The shared event script as commands for `events.c` (see its header), and the lines
/// it must print: outcomes and reload results as it goes, then each subscriber's stream.
fn event_script() -> (PathBuf, Vec<serde_json::Value>) {
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("testdata/events/events.json")).unwrap(),
    )
    .unwrap();
    let mut cmds = vec![format!("pool\t{}", doc["pool"])];
    let mut want = Vec::new();
    for step in doc["steps"].as_array().unwrap() {
        match step["op"].as_str().unwrap() {
            "subscribe" => cmds.push(format!(
                "subscribe\t{}\t{}",
                step["name"].as_str().unwrap(),
                step["capacity"].as_u64().unwrap_or(0)
            )),
            "submit" => {
                let input = inputs().join(step["input"].as_str().unwrap());
                let recipe = match &step["recipe"] {
                    serde_json::Value::Null => "-".to_string(),
                    r => r.to_string(),
                };
                cmds.push(format!("submit\t{}\t{recipe}", input.display()));
                let o = &step["outcome"];
                want.push(serde_json::Value::String(if o["ok"].as_bool().unwrap() {
                    let names: Vec<&str> = o["outputs"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap())
                        .collect();
                    format!("outcome ok {}", names.join(","))
                } else {
                    format!("outcome {}", o["code"].as_str().unwrap())
                }));
            }
            "reload" => {
                cmds.push(format!("reload\t{}", step["settings"]));
                want.push(serde_json::Value::String(format!(
                    "reload {}",
                    step["error"].as_str().unwrap_or("ok")
                )));
            }
            "shutdown" => cmds.push("shutdown".into()),
            other => panic!("unknown op {other}"),
        }
    }
    for (name, events) in doc["expect"].as_object().unwrap() {
        cmds.push(format!("drain\t{name}"));
        for e in events.as_array().unwrap() {
            want.push(serde_json::json!({ "subscriber": name, "event": e }));
        }
    }
    let path = out_dir().join("events.commands");
    std::fs::write(&path, cmds.join("\n") + "\n").unwrap();
    (path, want)
}

/// The matching rule of `testdata/events/README.md`.
fn matches(want: &serde_json::Value, got: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (want, got) {
        (Value::String(s), v) if s == "<us>" => v.as_u64().is_some(),
        (Value::Object(w), Value::Object(g)) => {
            w.len() == g.len()
                && w.iter()
                    .all(|(k, wv)| g.get(k).is_some_and(|gv| matches(wv, gv)))
        }
        (w, g) => w == g,
    }
}

fn check_event_replay(stdout: &str, want: &[serde_json::Value]) {
    assert!(stdout.contains("events: done, 0 failures"), "{stdout}");
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.starts_with("events: done"))
        .collect();
    assert_eq!(lines.len(), want.len(), "{stdout}");
    for (line, w) in lines.iter().zip(want) {
        match w {
            serde_json::Value::String(s) => assert_eq!(line, s, "{stdout}"),
            w => {
                let name = w["subscriber"].as_str().unwrap();
                let json = line
                    .strip_prefix(&format!("event {name} "))
                    .unwrap_or_else(|| panic!("want an event for {name}, got {line}"));
                let got: serde_json::Value = serde_json::from_str(json).unwrap();
                assert!(matches(&w["event"], &got), "want {}, got {got}", w["event"]);
            }
        }
    }
}

#[test]
fn the_shared_event_script_replays_in_c() {
    let (commands, want) = event_script();
    let args = [commands.as_path()];
    let exe = compile("ffi/tests/c/events.c", Link::Dynamic, false);
    check_event_replay(&check_ok(&run(&exe, &args), "events.c"), &want);
    check_event_replay(
        &check_ok(&valgrind(&exe, &args), "valgrind events.c"),
        &want,
    );
    let exe = compile("ffi/tests/c/events.c", Link::Dynamic, true);
    check_event_replay(&check_ok(&asan(&exe, &args), "asan events.c"), &want);
}

/// Bounded jobs through the C door (`ffi/tests/c/bounds.c`): the hostile shared inputs
/// get their typed codes, messages are one short line, failed jobs carry timings, the
/// scan limit is raised through the config JSON, a deadline stops a running AVIF encode
/// (under valgrind: only that it times out, and frees everything), and a job over a
/// 1 MiB memory budget is refused naming the budget; plain and under valgrind.
#[test]
fn bounded_jobs_through_c() {
    let exe = compile("ffi/tests/c/bounds.c", Link::Dynamic, false);
    let dir = inputs();
    let check = |out: &Output, what: &str| {
        let stdout = check_ok(out, what);
        assert!(stdout.contains("all bounds checks passed"), "{stdout}");
    };
    check(&run(&exe, &[&dir]), "bounds");
    check(&valgrind(&exe, &[&dir]), "valgrind bounds");
}
