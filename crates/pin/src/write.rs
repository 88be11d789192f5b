//! All or nothing across files.
//!
//! Nothing starts until the whole plan passed its checks. Then, in four steps:
//!
//! 1. every file is checked: not read-only, still the bytes the plan was made from;
//! 2. every new content is staged in a temp file next to its target, with its mode;
//! 3. the data is made durable (one `syncfs` per filesystem, not one `fsync` per file);
//! 4. the temp files are renamed over their targets, and the renames made durable.
//!
//! A failure in steps 1 to 3 leaves every file untouched (the temp files are removed). A
//! failure part-way through step 4 puts back every file already replaced, in reverse
//! order, before the error is reported; if even that fails, the error names exactly the
//! files left changed (CONTRACT.md §4). Each rename is atomic, so every file is always
//! whole: old or new.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rollout_core::fsx::{TEMP_PREFIX, atomic_write, sync_filesystems};

use crate::error::PinError;

/// One file to replace.
pub struct Replacement<'a> {
    /// Relative to the root (for messages).
    pub rel: &'a str,
    /// Where it is.
    pub abs: PathBuf,
    /// The bytes the plan was computed from.
    pub old: &'a [u8],
    /// The bytes to write.
    pub new: &'a [u8],
}

fn failed(rel: &str, e: impl ToString, restored: &str) -> PinError {
    PinError::WriteFailed {
        file: rel.to_string(),
        message: e.to_string(),
        restored: restored.to_string(),
    }
}

fn parent(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Step 1 for one file: replaceable, and unchanged since it was read. Returns its mode.
fn preflight(r: &Replacement) -> Result<std::fs::Permissions, PinError> {
    const NONE: &str = "nothing was written";
    let meta = std::fs::metadata(&r.abs).map_err(|e| failed(r.rel, e, NONE))?;
    let mode = meta.permissions().mode();
    // The mode bits, not access(2): a read-only file is a statement by its owner, and
    // root would be allowed to write it anyway.
    if mode & 0o222 == 0 {
        return Err(PinError::ReadOnly {
            file: r.rel.to_string(),
            mode: mode & 0o7777,
        });
    }
    let now = std::fs::read(&r.abs).map_err(|e| failed(r.rel, e, NONE))?;
    if now != r.old {
        return Err(PinError::FileChanged {
            file: r.rel.to_string(),
        });
    }
    Ok(meta.permissions())
}

/// Replace every file, or none. `fail_rename_at` injects a failure of the k-th rename
/// (0-based), the one step whose failure needs a restore; tests use it.
pub fn replace_all(files: &[Replacement], fail_rename_at: Option<usize>) -> Result<(), PinError> {
    const NONE: &str = "nothing was written";
    if files.is_empty() {
        return Ok(());
    }
    let modes = files.iter().map(preflight).collect::<Result<Vec<_>, _>>()?;
    let dirs: Vec<PathBuf> = files.iter().map(|r| parent(&r.abs)).collect();
    let mut staged = Vec::with_capacity(files.len());
    for ((r, dir), mode) in files.iter().zip(&dirs).zip(modes) {
        let mut tmp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(dir)
            .map_err(|e| failed(r.rel, plain(&e), NONE))?;
        tmp.write_all(r.new).map_err(|e| failed(r.rel, e, NONE))?;
        tmp.as_file()
            .set_permissions(mode)
            .map_err(|e| failed(r.rel, e, NONE))?;
        staged.push(tmp);
    }
    sync_filesystems(&dirs).map_err(|e| failed(files[0].rel, e, NONE))?;
    for (k, (tmp, r)) in staged.into_iter().zip(files).enumerate() {
        let renamed = if fail_rename_at == Some(k) {
            Err(std::io::Error::other("injected fault (DIGEST_PIN_FAULT)"))
        } else {
            tmp.persist(&r.abs).map(drop).map_err(|e| e.error)
        };
        if let Err(e) = renamed {
            let left = restore(&files[..k]);
            return Err(failed(r.rel, e, &restore_note(k, &left)));
        }
    }
    sync_filesystems(&dirs).map_err(|e| {
        failed(
            files[0].rel,
            e,
            "every file holds its new content, but the renames may not be durable yet",
        )
    })
}

/// tempfile decorates its errors with the temp path; keep the plain OS message.
fn plain(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" at path \"") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Put back the original bytes of files already replaced; the files that could not be.
fn restore(done: &[Replacement]) -> Vec<String> {
    let mut left = Vec::new();
    for r in done.iter().rev() {
        if atomic_write(&r.abs, r.old).is_err() {
            left.push(r.rel.to_string());
        }
    }
    left.reverse();
    left
}

fn restore_note(done: usize, left: &[String]) -> String {
    if !left.is_empty() {
        format!(
            "could not restore {} (they hold the new digests)",
            left.join(", ")
        )
    } else if done == 0 {
        "nothing was written".into()
    } else {
        format!("the {done} file(s) already replaced were restored; nothing changed")
    }
}
