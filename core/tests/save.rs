//! Saving: outputs land atomically under `output_dir/<key>/<name>.<ext>`; keys that try
//! to escape the directory are refused before any work.

mod common;

use conveyor::{ErrorKind, Job, Pool, Stage};

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
