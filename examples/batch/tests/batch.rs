//! The batch tool as a user runs it: a folder tree of real images (and a broken one),
//! the summary, `--json`, the files on disk and the exit code.
#![allow(missing_docs)]

use std::path::Path;
use std::process::Command;

fn write_jpeg(path: &Path, w: u32, h: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    img.save(path).unwrap();
}

fn tree(root: &Path, with_broken: bool) {
    write_jpeg(&root.join("a.jpg"), 2000, 1000);
    write_jpeg(&root.join("nested/deeper/b.jpg"), 640, 480);
    write_jpeg(&root.join("nested/c d.png"), 300, 300);
    std::fs::write(
        root.join("notes.txt"),
        b"not an image, and not an image extension: skipped",
    )
    .unwrap();
    if with_broken {
        std::fs::write(root.join("broken.jpg"), b"this is not really a jpeg").unwrap();
    }
}

fn batch(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_conveyor-batch"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_clean_folder_gives_a_summary_files_and_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let (src, out) = (dir.path().join("src"), dir.path().join("out"));
    tree(&src, false);
    let o = batch(&[
        src.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--workers",
        "2",
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("images: 3"), "{stdout}");
    assert!(stdout.contains("succeeded: 3"), "{stdout}");
    assert!(stdout.contains("failed: 0"), "{stdout}");
    assert!(stdout.contains("images per second:"), "{stdout}");
    let large = image::open(out.join("a/large.jpg")).unwrap();
    assert_eq!((large.width(), large.height()), (1600, 800));
    assert!(out.join("nested/deeper/b/thumb.webp").exists());
    assert!(out.join("nested/c_d/large.jpg").exists());
    // Readable by a web server running as another user (with the usual umask 022).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&out.join("a/large.jpg")), 0o644);
        assert_eq!(mode(&out.join("nested/deeper/b/thumb.webp")), 0o644);
        assert_eq!(mode(&out.join("nested/deeper/b")), 0o755);
    }
    // No staging folder is left.
    let hidden: Vec<_> = walkdir_names(&out)
        .into_iter()
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}

/// Every file and folder name under `dir`.
fn walkdir_names(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        names.push(e.file_name().to_string_lossy().into_owned());
        if e.file_type().unwrap().is_dir() {
            names.extend(walkdir_names(&e.path()));
        }
    }
    names
}

#[test]
fn failures_are_counted_by_kind_listed_and_exit_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (src, out) = (dir.path().join("src"), dir.path().join("out"));
    tree(&src, true);
    let o = batch(&[src.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("images: 4"), "{stdout}");
    assert!(
        stdout.contains("failed: 1 (unsupported_format=1)"),
        "{stdout}"
    );
    assert!(
        stderr.contains("broken.jpg: unsupported_format"),
        "{stderr}"
    );
}

#[test]
fn json_mode_prints_one_line_per_image() {
    let dir = tempfile::tempdir().unwrap();
    let (src, out) = (dir.path().join("src"), dir.path().join("out"));
    tree(&src, true);
    let recipe = dir.path().join("recipe.json");
    std::fs::write(
        &recipe,
        r#"{"outputs":[{"name":"small","width":100,"height":100,"fit":"cover","format":"png"}]}"#,
    )
    .unwrap();
    let o = batch(&[
        src.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--recipe",
        recipe.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    let ok: Vec<_> = lines.iter().filter(|l| l["ok"] == true).collect();
    assert_eq!(ok.len(), 3);
    for l in ok {
        assert_eq!(
            (
                l["outputs"][0]["width"].as_u64(),
                l["outputs"][0]["height"].as_u64()
            ),
            (Some(100), Some(100))
        );
        let rel = l["outputs"][0]["path"].as_str().unwrap();
        assert!(out.join(rel).exists(), "{rel}");
        // The wire outcome, as every door shows it.
        assert!(l["outputs"][0]["byte_len"].as_u64().unwrap() > 0);
        assert!(l["input"]["byte_len"].as_u64().unwrap() > 0);
        assert!(l["job_id"].as_u64().is_some());
        assert!(l["key"].is_string());
        assert!(l["timings"]["total_us"].as_u64().is_some());
    }
    let bad = lines.iter().find(|l| l["ok"] == false).unwrap();
    assert_eq!(bad["error"]["code"], "unsupported_format");
    assert_eq!(bad["error"]["numeric_code"], 3);
    assert!(bad["file"].as_str().unwrap().ends_with("broken.jpg"));
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = batch(&[
        dir.path().join("missing").to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let bad_recipe = dir.path().join("r.json");
    std::fs::write(
        &bad_recipe,
        r#"{"outputs":[{"name":"x","format":"jpeg","quality":500}]}"#,
    )
    .unwrap();
    let o = batch(&[
        dir.path().to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
        "--recipe",
        bad_recipe.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("outputs[0].quality"));
}

#[test]
fn short_flags_and_size_options_make_one_output_without_a_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let (src, out) = (dir.path().join("src"), dir.path().join("out"));
    tree(&src, false);
    let o = batch(&[
        src.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "-W",
        "200",
        "-H",
        "150",
        "-q",
        "60",
        "-f",
        "webp",
        "-j",
        "2",
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{stdout}\n{stderr}");
    let img = image::open(out.join("a/image.webp")).unwrap();
    assert_eq!((img.width(), img.height()), (200, 100));
    assert!(out.join("nested/deeper/b/image.webp").exists());
    assert!(!out.join("a/large.jpg").exists());
    // --fit cover fills the box; the format defaults to JPEG.
    let out2 = dir.path().join("out2");
    let o = batch(&[
        src.join("a.jpg").to_str().unwrap(),
        "-o",
        out2.to_str().unwrap(),
        "--width",
        "64",
        "--height",
        "64",
        "--fit",
        "cover",
    ]);
    assert!(o.status.success());
    let img = image::open(out2.join("a/image.jpg")).unwrap();
    assert_eq!((img.width(), img.height()), (64, 64));
}

#[test]
fn skipped_files_are_named_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (src, out) = (dir.path().join("src"), dir.path().join("out"));
    tree(&src, false);
    let o = batch(&[src.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("skipping 1 file without an image extension"),
        "{stderr}"
    );
    assert!(stderr.contains("notes.txt"), "{stderr}");
    assert!(stdout.contains("skipped (not images): 1"), "{stdout}");
}

#[test]
fn help_has_examples_and_exit_codes() {
    let o = batch(&["--help"]);
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "Examples:",
        "conveyor-batch photos/ -o out/",
        "Exit status:",
        "-o, --out",
        "-r, --recipe",
        "-W, --width",
        "-q, --quality",
        "-j, --workers",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
}

#[test]
fn bad_size_options_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("r.json");
    std::fs::write(&recipe, r#"{"outputs":[{"name":"x","format":"png"}]}"#).unwrap();
    let d = dir.path().to_str().unwrap();
    // A recipe file and size flags together.
    let o = batch(&[d, "-o", d, "-r", recipe.to_str().unwrap(), "-W", "10"]);
    assert_eq!(o.status.code(), Some(2));
    // Quality out of range: the recipe's own message.
    let o = batch(&[d, "-o", d, "-q", "500"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("quality"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Unknown format.
    let o = batch(&[d, "-o", d, "-f", "gif"]);
    assert_eq!(o.status.code(), Some(2));
}
