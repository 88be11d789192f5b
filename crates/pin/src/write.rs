//! All or nothing across files.
//!
//! Every file is replaced through a temp file and a rename, so each file is always whole.
//! Across files, nothing starts until the whole plan passed its checks, and a failure
//! part-way (a read-only file, a file someone changed meanwhile, a full disk) puts back
//! every file already replaced, in reverse order, before the error is reported. If even
//! that fails, the error names exactly the files left changed (CONTRACT.md §4).

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use rollout_core::fsx::atomic_write;

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

/// Check that a file can be replaced and still holds the bytes the plan was made from.
fn preflight(r: &Replacement) -> Result<(), PinError> {
    let meta = std::fs::metadata(&r.abs).map_err(|e| PinError::WriteFailed {
        file: r.rel.to_string(),
        message: e.to_string(),
        restored: String::new(),
    })?;
    let mode = meta.permissions().mode();
    // The mode bits, not access(2): a read-only file is a statement by its owner, and
    // root would be allowed to write it anyway.
    if mode & 0o222 == 0 {
        return Err(PinError::ReadOnly {
            file: r.rel.to_string(),
            mode: mode & 0o7777,
        });
    }
    let now = std::fs::read(&r.abs).map_err(|e| PinError::WriteFailed {
        file: r.rel.to_string(),
        message: e.to_string(),
        restored: String::new(),
    })?;
    if now != r.old {
        return Err(PinError::FileChanged {
            file: r.rel.to_string(),
        });
    }
    Ok(())
}

/// Replace every file, or none: on a failure the files already replaced are restored.
pub fn replace_all(files: &[Replacement]) -> Result<(), PinError> {
    for (done, r) in files.iter().enumerate() {
        let step = preflight(r).and_then(|()| {
            atomic_write(&r.abs, r.new).map_err(|e| PinError::WriteFailed {
                file: r.rel.to_string(),
                message: plain_io(&e),
                restored: String::new(),
            })
        });
        if let Err(e) = step {
            let restore = restore(&files[..done]);
            return Err(with_restore_note(e, done, restore));
        }
    }
    Ok(())
}

/// Put back the original bytes of files already replaced; the files that could not be.
fn restore(done: &[Replacement]) -> Vec<String> {
    let mut failed = Vec::new();
    for r in done.iter().rev() {
        if atomic_write(&r.abs, r.old).is_err() {
            failed.push(r.rel.to_string());
        }
    }
    failed.reverse();
    failed
}

fn plain_io(e: &rollout_core::CoreError) -> String {
    let text = e.to_string();
    // CoreError::Write reads "PATH: message"; the path is in our own message already.
    match text.split_once(": ") {
        Some((_, m)) => m.to_string(),
        None => text,
    }
}

fn with_restore_note(e: PinError, done: usize, failed: Vec<String>) -> PinError {
    let note = if failed.is_empty() {
        if done == 0 {
            "nothing was written".to_string()
        } else {
            format!("the {done} file(s) already replaced were restored; nothing changed")
        }
    } else {
        format!(
            "could not restore {} (they hold the new digests)",
            failed.join(", ")
        )
    };
    match e {
        PinError::WriteFailed { file, message, .. } => PinError::WriteFailed {
            file,
            message,
            restored: note,
        },
        // Read-only and changed-file errors say "nothing was written" themselves; when
        // files were already replaced and restored that is still true of the tree.
        other if failed.is_empty() => other,
        other => PinError::WriteFailed {
            file: match &other {
                PinError::ReadOnly { file, .. } | PinError::FileChanged { file } => file.clone(),
                _ => String::new(),
            },
            message: other.to_string(),
            restored: note,
        },
    }
}
