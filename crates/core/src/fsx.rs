//! Files the tools write: atomic replacement, exclusive locks, locked JSONL appends.
//!
//! A reader must never see half a file, and two runs must never lose each other's update
//! (CONTRACT.md §5). Whole files are written to a temp file in the same directory, synced,
//! renamed over the target and the directory synced. Shared state is guarded by an
//! exclusive lock on `FILE.lock` (std `File::lock`, flock semantics) taken with a timeout.
//! Append-only logs get one `write` per record under that lock.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration as StdDuration, Instant};

use crate::error::CoreError;

fn write_err(path: &Path) -> impl Fn(std::io::Error) -> CoreError + '_ {
    move |source| CoreError::Write {
        path: path.to_path_buf(),
        source,
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Replace `path` with `bytes` atomically (temp file, fsync, rename, fsync of the directory).
///
/// The parent directory must exist: creating directories is left to the caller, so a typo
/// in a path fails instead of growing a tree.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), CoreError> {
    let dir = parent_dir(path);
    let err = write_err(path);
    // tempfile appends ` at path "<temp file>"` to its errors (and hides the OS error
    // behind a private type); report the plain OS message instead.
    let plain = |e: std::io::Error| {
        let text = e.to_string();
        match text.find(" at path \"") {
            Some(i) => std::io::Error::new(e.kind(), text[..i].to_string()),
            None => e,
        }
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(&dir)
        .map_err(|e| err(plain(e)))?;
    tmp.write_all(bytes).map_err(&err)?;
    tmp.as_file().sync_all().map_err(&err)?;
    // Keep the mode of a file we replace (a registry may be group-writable on purpose).
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = tmp.as_file().set_permissions(meta.permissions());
    }
    tmp.persist(path).map_err(|e| err(e.error))?;
    File::open(&dir).and_then(|d| d.sync_all()).map_err(&err)?;
    Ok(())
}

/// Create the missing parent directories of a log, ledger or state file a tool is asked
/// to start (`.rollout/digests.jsonl` in a repository that has no `.rollout/` yet).
///
/// Only for files the tool owns and may create; a file it edits (a registry, a workflow
/// file) must already exist, so [`atomic_write`] itself never creates directories.
pub fn create_parent(path: &Path) -> Result<(), CoreError> {
    let dir = parent_dir(path);
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(&dir).map_err(write_err(path))
}

/// Write a document as a state file (`--state-file`): pretty JSON and a newline, replaced
/// atomically, its parent directories created when missing.
pub fn write_state_file(path: &Path, doc: &serde_json::Value) -> Result<(), CoreError> {
    let mut bytes = serde_json::to_vec_pretty(doc).map_err(|e| write_err(path)(e.into()))?;
    bytes.push(b'\n');
    create_parent(path)?;
    atomic_write(path, &bytes)
}

/// The prefix of every temp file [`atomic_write`] and batch writers create; walkers skip
/// such files (a killed run may leave one behind).
pub const TEMP_PREFIX: &str = ".rollout-tmp-";

/// An exclusive lock on `FILE.lock`, released when dropped.
#[derive(Debug)]
pub struct Lock {
    file: File,
    path: PathBuf,
}

impl Lock {
    /// The lock file guarding `target`.
    pub fn path_for(target: &Path) -> PathBuf {
        let mut name = target.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        target.with_file_name(name)
    }

    /// Take the exclusive lock guarding `target`, waiting at most `timeout`.
    ///
    /// The lock file is opened without following a symbolic link: a lock file sits next to
    /// files a pull request can add, and a symlink planted in its place would otherwise
    /// create (or lock) a file wherever it points.
    pub fn acquire(target: &Path, timeout: crate::time::Duration) -> Result<Lock, CoreError> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = Self::path_for(target);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
            .map_err(|e| {
                let e = if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
                    std::io::Error::other(
                        "a symbolic link stands where the lock file goes; not followed",
                    )
                } else {
                    e
                };
                write_err(&path)(e)
            })?;
        let deadline = Instant::now() + StdDuration::from_secs(timeout.as_secs().max(0) as u64);
        let mut pause = StdDuration::from_millis(2);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Lock { file, path }),
                Err(std::fs::TryLockError::WouldBlock) => {
                    if Instant::now() >= deadline {
                        return Err(CoreError::LockTimeout {
                            path,
                            timeout: timeout.to_string(),
                        });
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(StdDuration::from_millis(100));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(write_err(&path)(e)),
            }
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Append one JSON record as a line to `path` under its lock, with a single `write`; a
/// log that does not exist yet is started, with its parent directories.
pub fn append_jsonl_locked(
    path: &Path,
    record: &serde_json::Value,
    timeout: crate::time::Duration,
) -> Result<(), CoreError> {
    create_parent(path)?;
    let _lock = Lock::acquire(path, timeout)?;
    append_jsonl(path, record)
}

/// Append one JSON record as a line with a single `write` (caller holds the lock).
///
/// If the file does not end with a newline (a torn earlier write), one is added first so
/// the new record stays on a line of its own.
pub fn append_jsonl(path: &Path, record: &serde_json::Value) -> Result<(), CoreError> {
    let err = write_err(path);
    let mut line = serde_json::to_vec(record).map_err(|e| err(std::io::Error::other(e)))?;
    line.push(b'\n');
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
        .map_err(&err)?;
    let len = file.metadata().map_err(&err)?.len();
    if len > 0 {
        use std::io::{Read, Seek, SeekFrom};
        let mut last = [0u8; 1];
        file.seek(SeekFrom::Start(len - 1)).map_err(&err)?;
        file.read_exact(&mut last).map_err(&err)?;
        if last[0] != b'\n' {
            line.insert(0, b'\n');
        }
    }
    file.write_all(&line).map_err(&err)?;
    file.sync_data().map_err(&err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    #[test]
    fn atomic_write_replaces_and_keeps_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        atomic_write(&p, b"one").unwrap();
        atomic_write(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn atomic_write_into_a_missing_directory_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let e = atomic_write(&dir.path().join("no/such/state.json"), b"x").unwrap_err();
        assert!(matches!(e, CoreError::Write { .. }));
        assert!(!e.to_string().contains("rollout-tmp"), "{e}");
        assert!(
            e.to_string()
                .ends_with("state.json: No such file or directory (os error 2)"),
            "{e}"
        );
    }

    #[test]
    fn a_held_lock_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("reg.json");
        let held = Lock::acquire(&p, Duration::from_secs(1)).unwrap();
        let e = Lock::acquire(&p, Duration::from_secs(0)).unwrap_err();
        assert!(matches!(e, CoreError::LockTimeout { .. }));
        drop(held);
        Lock::acquire(&p, Duration::from_secs(0)).unwrap();
    }

    #[test]
    fn a_symlink_in_place_of_the_lock_file_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("reg.json");
        let victim = dir.path().join("victim");
        std::os::unix::fs::symlink(&victim, Lock::path_for(&p)).unwrap();
        let e = Lock::acquire(&p, Duration::from_secs(0)).unwrap_err();
        assert!(e.to_string().ends_with("not followed"), "{e}");
        assert!(!victim.exists());
    }

    #[test]
    fn appends_are_whole_lines_even_after_a_torn_write() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.jsonl");
        std::fs::write(&p, b"{\"a\":1}\n{\"torn\":").unwrap();
        append_jsonl_locked(&p, &serde_json::json!({"b": 2}), Duration::from_secs(1)).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.lines().last().unwrap(), "{\"b\":2}");
    }
}
