//! Saving: a job's outputs land under `output_dir/<key>/<name>.<ext>` all together or
//! not at all (a full disk between two outputs leaves nothing), never overwrite an
//! earlier set, get mode 0644 minus the umask, and what a crash left is swept; keys that
//! try to escape the directory are refused before any work.

mod common;

use conveyor::{ErrorKind, Job, OutputFormat, OutputSpec, Pool, Recipe, Stage};

#[test]
fn outputs_are_saved_under_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let pool = Pool::builder()
        .workers(1)
        .output_dir(dir.path())
        .build()
        .unwrap();
    let r = pool
        .submit(Job::new(common::jpeg(2000, 1000)).with_key("user-7/photo-1"))
        .unwrap()
        .wait()
        .result
        .unwrap();
    let large = r.output("large").unwrap();
    let path = large.path.as_ref().unwrap();
    assert_eq!(path, &dir.path().join("user-7/photo-1/large.jpg"));
    // The one output-name rule that every door uses to name saved files.
    for o in &r.outputs {
        let name = conveyor::wire::output_file_name(&o.name, o.format);
        assert_eq!(o.path.as_ref().unwrap().file_name().unwrap(), &*name);
    }
    assert!(large.data.is_none());
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(bytes.len() as u64, large.byte_len);
    assert_eq!(common::sniff(&bytes), (image::ImageFormat::Jpeg, 1600, 800));
    let thumb = std::fs::read(dir.path().join("user-7/photo-1/thumb.webp")).unwrap();
    assert_eq!(common::sniff(&thumb), (image::ImageFormat::WebP, 320, 160));
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path().join("user-7/photo-1"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // Without a key, the job id names the folder.
    let t = pool.submit(Job::new(common::png(10, 10))).unwrap();
    let id = t.id();
    t.wait().result.unwrap();
    assert!(dir.path().join(id.to_string()).join("large.jpg").exists());
}

#[test]
fn keys_that_escape_the_directory_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    let pool = Pool::builder().workers(1).output_dir(&out).build().unwrap();
    for key in [
        "../escape",
        "a/../../escape",
        "/tmp/escape",
        "a\\..\\escape",
        "nul\0byte",
        ".hidden",
        "",
    ] {
        let e = pool
            .submit(Job::new(common::png(10, 10)).with_key(key))
            .unwrap()
            .wait()
            .result
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{key:?}");
        assert_eq!(e.stage, Some(Stage::Validate), "{key:?}");
    }
    let entries: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, vec![std::ffi::OsString::from("out")]);
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
}

#[test]
fn an_unwritable_directory_gives_save_failed() {
    let dir = tempfile::tempdir().unwrap();
    let pool = Pool::builder()
        .workers(1)
        .output_dir(dir.path())
        .build()
        .unwrap();
    // A file where the job's folder should be.
    std::fs::write(dir.path().join("taken"), b"x").unwrap();
    let e = pool
        .submit(Job::new(common::png(10, 10)).with_key("taken"))
        .unwrap()
        .wait()
        .result
        .unwrap_err();
    assert_eq!(
        (e.kind, e.stage),
        (ErrorKind::SaveFailed, Some(Stage::Save))
    );
}

/// The modes a plain new file (0666) and folder (0777) get here: the umask applied.
#[cfg(unix)]
fn umask_allows() -> (u32, u32) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (file, folder) = (dir.path().join("f"), dir.path().join("d"));
    std::fs::File::create(&file).unwrap();
    std::fs::create_dir(&folder).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    (mode(&file), mode(&folder))
}

#[cfg(unix)]
#[test]
fn saved_files_are_0644_and_folders_0755_minus_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let (file_allowed, folder_allowed) = umask_allows();
    let dir = tempfile::tempdir().unwrap();
    let pool = Pool::builder()
        .workers(1)
        .output_dir(dir.path())
        .build()
        .unwrap();
    let r = pool
        .submit(Job::new(common::png(64, 64)).with_key("a/b"))
        .unwrap()
        .wait()
        .result
        .unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for o in &r.outputs {
        let path = o.path.as_ref().unwrap();
        assert_eq!(mode(path), 0o644 & file_allowed, "{path:?}");
    }
    assert_eq!(mode(&dir.path().join("a/b")), 0o755 & folder_allowed);
}

#[test]
fn a_second_job_with_the_same_key_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let pool = Pool::builder()
        .workers(1)
        .output_dir(dir.path())
        .build()
        .unwrap();
    let first = pool
        .submit(Job::new(common::png(64, 64)).with_key("same"))
        .unwrap()
        .wait()
        .result
        .unwrap();
    let path = first.output("large").unwrap().path.clone().unwrap();
    let before = std::fs::read(&path).unwrap();
    let e = pool
        .submit(Job::new(common::jpeg(300, 100)).with_key("same"))
        .unwrap()
        .wait()
        .result
        .unwrap_err();
    assert_eq!(
        (e.kind, e.stage),
        (ErrorKind::SaveFailed, Some(Stage::Save))
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // Nothing else is left: the refused set's staging folder is gone.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("same")]);
}

/// A tmpfs mounted for one test, unmounted when dropped (before its holder folder is
/// removed).
struct Tmpfs {
    point: std::path::PathBuf,
    _holder: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` where mounting is not allowed (not root, or no tmpfs).
    fn mount(size: &str) -> Option<Tmpfs> {
        let holder = tempfile::tempdir().unwrap();
        let point = holder.path().join("fs");
        std::fs::create_dir(&point).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&point)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs {
            point,
            _holder: holder,
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.point)
            .status();
    }
}

#[test]
fn a_full_disk_between_two_outputs_leaves_nothing_visible() {
    // A real full disk: a 256 KiB tmpfs. The first output (a small JPEG) fits; the
    // second (a 600x600 PNG of noise, about 1 MB) does not.
    let Some(fs) = Tmpfs::mount("256k") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let pool = Pool::builder()
        .workers(1)
        .output_dir(&fs.point)
        .build()
        .unwrap();
    let recipe = Recipe::new(vec![
        OutputSpec::new("small", OutputFormat::Jpeg).size(32, 32),
        OutputSpec::new("full", OutputFormat::Png),
    ]);
    let e = pool
        .submit(
            Job::new(common::hostile::png_noise_rgb(600, 600))
                .with_recipe(recipe)
                .with_key("full-disk"),
        )
        .unwrap()
        .wait()
        .result
        .unwrap_err();
    assert_eq!(
        (e.kind, e.stage),
        (ErrorKind::SaveFailed, Some(Stage::Save)),
        "{e}"
    );
    let left: Vec<_> = std::fs::read_dir(&fs.point)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    // The space came back: a job that fits is saved whole.
    pool.submit(Job::new(common::png(64, 64)).with_key("fits"))
        .unwrap()
        .wait()
        .result
        .unwrap();
    assert!(fs.point.join("fits/large.jpg").exists());
}

#[test]
fn sweep_removes_what_a_crash_left_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for p in [
        "kept/large.jpg",
        ".up1.partial-AbCd1234/large.jpg",
        "user/.photo.partial-x/thumb.webp",
        "user/photo/.conveyor-abc.tmp",
        "user/photo/large.jpg",
        ".hidden-but-not-ours/file",
    ] {
        let path = d.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x").unwrap();
    }
    assert_eq!(conveyor::pipeline::sweep(d).unwrap(), 3);
    assert!(d.join("kept/large.jpg").exists());
    assert!(d.join("user/photo/large.jpg").exists());
    assert!(d.join(".hidden-but-not-ours/file").exists());
    assert!(!d.join(".up1.partial-AbCd1234").exists());
    assert!(!d.join("user/.photo.partial-x").exists());
    assert!(!d.join("user/photo/.conveyor-abc.tmp").exists());
    assert_eq!(conveyor::pipeline::sweep(&d.join("missing")).unwrap(), 0);
}
