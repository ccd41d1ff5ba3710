//! Stage 4: a job's outputs land under the output directory all together or not at all.
//!
//! Every output of one job is written into a hidden staging folder beside its final
//! place, `output_dir/<parent>/.<last>.partial-<random>/`, and flushed to disk. When
//! every output succeeded, one `rename` publishes the folder as `output_dir/<key>`.
//! On any failure (an encode error, a full disk, a deadline, a cancellation, a panic)
//! the staging folder is removed when [`Staging`] is dropped, so a reader never sees a
//! half set. A key whose folder already exists is refused with `save_failed`: nothing
//! is ever overwritten. A crash can leave staging folders behind; [`sweep`] removes
//! them at start.
//!
//! Files are created with mode `0644` and folders with `0755`, both minus the umask.
//! Paths are `output_dir/<key>/<name>.<ext>`, where the key has passed
//! [`validate_key`](crate::validate_key) and the name the recipe's name rule.

#[cfg(not(target_arch = "wasm32"))]
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Stage};

/// The marker in a staging folder's name: `.<last key segment>.partial-<random>`.
#[cfg(not(target_arch = "wasm32"))]
const PARTIAL_MARKER: &str = ".partial-";

fn fail(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::SaveFailed, format!("{}: {e}", path.display())).at(Stage::Save)
}

/// One job's outputs on their way to `dir/key`: created on the first write, published
/// by [`Staging::publish`], removed (with everything in it) when dropped unpublished.
pub(crate) struct Staging<'a> {
    dir: &'a Path,
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    key: &'a str,
    #[cfg(not(target_arch = "wasm32"))]
    tmp: Option<tempfile::TempDir>,
}

impl<'a> Staging<'a> {
    /// Nothing touches the disk until the first [`Staging::write`].
    pub(crate) fn new(dir: &'a Path, key: &'a str) -> Self {
        Staging {
            dir,
            key,
            #[cfg(not(target_arch = "wasm32"))]
            tmp: None,
        }
    }

    /// The folder the outputs are published as.
    #[cfg(not(target_arch = "wasm32"))]
    fn target(&self) -> PathBuf {
        self.dir.join(self.key)
    }

    /// Writes one output into the staging folder and returns the path it will have
    /// once published.
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn write(&mut self, file_name: &str, data: &[u8]) -> Result<PathBuf, Error> {
        let target = self.target();
        if self.tmp.is_none() {
            self.tmp = Some(create_staging(&target)?);
        }
        let folder = self.tmp.as_ref().map(|t| t.path()).unwrap_or(self.dir);
        let path = folder.join(file_name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o644);
        let mut file = options.open(&path).map_err(|e| fail(&path, e))?;
        file.write_all(data).map_err(|e| fail(&path, e))?;
        file.sync_data().map_err(|e| fail(&path, e))?;
        Ok(target.join(file_name))
    }

    /// There is no file system in the browser build.
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn write(&mut self, _file_name: &str, _data: &[u8]) -> Result<PathBuf, Error> {
        Err(fail(
            self.dir,
            "this build has no file system; use no output directory",
        ))
    }

    /// Publishes every output written so far with one rename. Refuses, and removes the
    /// staging folder, when `dir/key` already exists.
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn publish(mut self) -> Result<(), Error> {
        let Some(tmp) = self.tmp.take() else {
            return Ok(());
        };
        let target = self.target();
        if std::fs::symlink_metadata(&target).is_ok() {
            return Err(fail(
                &target,
                "already exists; outputs are never overwritten",
            ));
        }
        // Linux's rename replaces an empty folder and fails on a non-empty one: with
        // the check above, a folder that holds outputs is never replaced.
        std::fs::rename(tmp.path(), &target).map_err(|e| fail(&target, e))?;
        // The staging folder now is the target; nothing is left to remove.
        let _ = tmp.keep();
        if let Some(parent) = target.parent() {
            // Make the rename itself durable; not every file system allows this.
            if let Ok(f) = std::fs::File::open(parent) {
                let _ = f.sync_all();
            }
        }
        Ok(())
    }

    /// There is no file system in the browser build.
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn publish(self) -> Result<(), Error> {
        Ok(())
    }
}

/// Creates `<parent>/.<last>.partial-<random>/` for `target`.
#[cfg(not(target_arch = "wasm32"))]
fn create_staging(target: &Path) -> Result<tempfile::TempDir, Error> {
    let parent = target.parent().unwrap_or(target);
    let last = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    std::fs::create_dir_all(parent).map_err(|e| fail(parent, e))?;
    let mut builder = tempfile::Builder::new();
    let prefix = format!(".{last}{PARTIAL_MARKER}");
    builder.prefix(&prefix).rand_bytes(8);
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o755));
    builder.tempdir_in(parent).map_err(|e| fail(parent, e))
}

/// Removes what an interrupted save left under `dir`: staging folders
/// (`.<name>.partial-<random>`) and the temporary files of earlier versions
/// (`.conveyor-*.tmp`). Returns how many entries it removed.
///
/// Call it at start, before any job saves into `dir`, and only when no other process
/// is saving there: a staging folder in use looks the same as a leftover one. It walks
/// every folder under `dir` (symbolic links are not followed); a missing `dir` is not
/// an error.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::create_dir_all(dir.path().join(".a1.partial-x7Yz01ab")).unwrap();
/// std::fs::create_dir_all(dir.path().join("kept")).unwrap();
/// assert_eq!(conveyor::pipeline::sweep(dir.path()).unwrap(), 1);
/// assert!(dir.path().join("kept").exists());
/// ```
#[cfg(not(target_arch = "wasm32"))]
pub fn sweep(dir: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let entries = match std::fs::read_dir(&folder) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let file_type = entry.file_type()?;
            if file_type.is_dir() {
                if name.starts_with('.') && name.contains(PARTIAL_MARKER) {
                    std::fs::remove_dir_all(entry.path())?;
                    removed += 1;
                } else {
                    stack.push(entry.path());
                }
            } else if file_type.is_file()
                && name.starts_with(".conveyor-")
                && name.ends_with(".tmp")
            {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}
