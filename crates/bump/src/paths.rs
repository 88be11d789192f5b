//! Where a configured path may point: every file tag-bump edits or creates is resolved
//! inside the working copy first (no absolute path, no `..` out, no symlink that leaves it,
//! nothing under `.git/`; the containment rule is `rollout_core::contain`'s), and shown
//! relative to its root.

use std::path::{Path, PathBuf};

use rollout_core::contain;

use crate::error::BumpError;

/// Resolve a configured path inside the repository: no absolute paths, no `..` out, no
/// symlink that leaves it.
pub fn inside(root: &Path, rel: &str) -> Result<PathBuf, BumpError> {
    let outside = || BumpError::from(contain::outside(rel, root));
    contain::check_relative(rel, root)?;
    let p = Path::new(rel);
    let joined = root.join(p);
    let canon_root = root.canonicalize().map_err(|e| BumpError::RepoInvalid {
        path: root.display().to_string(),
        message: e.to_string(),
    })?;
    match joined.canonicalize() {
        Ok(c)
            if c.strip_prefix(&canon_root)
                .is_ok_and(|r| r.components().any(|p| p.as_os_str() == ".git")) =>
        {
            Err(BumpError::PathInGitDir {
                path: rel.to_string(),
            })
        }
        Ok(c) => {
            contain::ensure_inside(&c, &canon_root, rel).map_err(|_| outside())?;
            Ok(c)
        }
        Err(_) if std::fs::symlink_metadata(&joined).is_ok() => Err(outside()),
        Err(_) => Err(BumpError::FileMissing {
            file: rel.to_string(),
        }),
    }
}

/// Resolve a file to create inside the repository: its directory must exist and be inside
/// (the rules of [`inside`]), its name a plain file name.
pub fn new_file(root: &Path, rel: &str) -> Result<PathBuf, BumpError> {
    let p = Path::new(rel);
    let (Some(parent), Some(name)) = (p.parent(), p.file_name()) else {
        return Err(BumpError::FileMissing {
            file: rel.to_string(),
        });
    };
    if name == ".git" || rel.ends_with('/') {
        return Err(BumpError::PathInGitDir {
            path: rel.to_string(),
        });
    }
    let dir = if parent.as_os_str().is_empty() {
        root.canonicalize().map_err(|e| BumpError::RepoInvalid {
            path: root.display().to_string(),
            message: e.to_string(),
        })?
    } else {
        inside(root, &parent.to_string_lossy())?
    };
    if !dir.is_dir() {
        return Err(BumpError::FileMissing {
            file: format!("{rel} (its directory does not exist)"),
        });
    }
    Ok(dir.join(name))
}

/// The path of a file relative to the repository root, with `/` separators.
pub fn relative(root: &Path, path: &Path) -> String {
    let canon_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    path.strip_prefix(&canon_root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}
