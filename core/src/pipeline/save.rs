//! Stage 4 for one output: write it atomically under the output directory.
//!
//! Each file is written to a temporary file in the target folder, flushed to disk, then
//! renamed into place, so a reader (or a crash, or a shutdown) never sees half a file.
//! Paths are `output_dir/<key>/<name>.<ext>`, where the key has passed
//! [`validate_key`](crate::validate_key) and the name the recipe's name rule.

#[cfg(not(target_arch = "wasm32"))]
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Stage};

fn fail(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::SaveFailed, format!("{}: {e}", path.display())).at(Stage::Save)
}

/// Writes `data` to `dir/key/file_name` atomically and returns the final path.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn save_atomic(
    dir: &Path,
    key: &str,
    file_name: &str,
    data: &[u8],
) -> Result<PathBuf, Error> {
    let folder = dir.join(key);
    std::fs::create_dir_all(&folder).map_err(|e| fail(&folder, e))?;
    let target = folder.join(file_name);
    let mut tmp = tempfile::Builder::new()
        .prefix(".conveyor-")
        .suffix(".tmp")
        .tempfile_in(&folder)
        .map_err(|e| fail(&folder, e))?;
    tmp.write_all(data).map_err(|e| fail(&target, e))?;
    tmp.as_file().sync_data().map_err(|e| fail(&target, e))?;
    tmp.persist(&target).map_err(|e| fail(&target, e.error))?;
    Ok(target)
}

/// There is no file system in the browser build.
#[cfg(target_arch = "wasm32")]
pub(crate) fn save_atomic(
    dir: &Path,
    _key: &str,
    _file_name: &str,
    _data: &[u8],
) -> Result<PathBuf, Error> {
    Err(fail(
        dir,
        "this build has no file system; use no output directory",
    ))
}
