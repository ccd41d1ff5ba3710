//! Turns the command line's files and folders into a list of inputs, each with a
//! unique job key that is a safe relative path (see `conveyor::validate_key`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Extensions taken when walking folders.
const IMAGE_EXTENSIONS: [&str; 9] = [
    "jpg", "jpeg", "png", "gif", "webp", "bmp", "tif", "tiff", "ico",
];

/// One file to process.
pub struct Input {
    pub path: PathBuf,
    pub key: String,
}

fn sanitize_segment(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with('.') || out.is_empty() {
        out.insert(0, '_');
    }
    out.truncate(60);
    out
}

/// The key for `rel` (a relative path): its segments sanitised, the extension dropped.
fn key_for(rel: &Path) -> String {
    let stem = rel.with_extension("");
    let segments: Vec<String> = stem
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(sanitize_segment(&s.to_string_lossy())),
            _ => None,
        })
        .collect();
    let key = segments.join("/");
    if key.is_empty() {
        "image".into()
    } else {
        key
    }
}

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// What [`collect`] found.
pub struct Collected {
    /// The files to process, in a stable order, with unique keys.
    pub inputs: Vec<Input>,
    /// Files inside the folders that were left out: not an image extension.
    pub skipped: Vec<PathBuf>,
}

/// Lists the inputs, in a stable order, with unique keys, and the files skipped.
pub fn collect(args: &[PathBuf]) -> Result<Collected, String> {
    let mut found: Vec<(PathBuf, PathBuf)> = Vec::new(); // (path, path relative to its root)
    let mut skipped = Vec::new();
    for arg in args {
        if arg.is_dir() {
            let mut in_dir = Vec::new();
            for entry in walkdir::WalkDir::new(arg).follow_links(false) {
                let entry = entry.map_err(|e| format!("{}: {e}", arg.display()))?;
                if !entry.file_type().is_file() {
                    continue;
                }
                if !is_image(entry.path()) {
                    skipped.push(entry.path().to_path_buf());
                    continue;
                }
                let rel = entry
                    .path()
                    .strip_prefix(arg)
                    .unwrap_or(entry.path())
                    .to_path_buf();
                in_dir.push((entry.path().to_path_buf(), rel));
            }
            in_dir.sort();
            found.extend(in_dir);
        } else if arg.is_file() {
            let name = PathBuf::from(arg.file_name().unwrap_or_default());
            found.push((arg.clone(), name));
        } else {
            return Err(format!("{}: no such file or folder", arg.display()));
        }
    }
    let mut seen = HashSet::new();
    let mut inputs = Vec::with_capacity(found.len());
    for (path, rel) in found {
        let base = key_for(&rel);
        let mut key = base.clone();
        let mut n = 2;
        while !seen.insert(key.clone()) {
            key = format!("{base}-{n}");
            n += 1;
        }
        debug_assert!(conveyor::validate_key(&key).is_ok(), "{key}");
        inputs.push(Input { path, key });
    }
    skipped.sort();
    Ok(Collected { inputs, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_safe_and_unique() {
        assert_eq!(key_for(Path::new("a/b c/IMG 1.JPG")), "a/b_c/IMG_1");
        assert_eq!(key_for(Path::new(".hidden.png")), "_.hidden");
        assert_eq!(key_for(Path::new("x.y.png")), "x.y");
        conveyor::validate_key(&key_for(Path::new("..weird/ü.png"))).unwrap();
    }
}
