//! Path containment (CONTRACT §5): a path a tool is given, from a flag or a file a pull
//! request can change, must stay inside the directory the tool works in. One rule in two
//! steps, and one error ([`CoreError::PathOutside`], reason `path_outside_root`, exit 3):
//!
//! * [`check_relative`], before touching the file system: a configured path is relative,
//!   has no backslash, and never climbs above its start (`a/../b` is fine, `../b` is not);
//! * [`ensure_inside`], after resolving: the canonical path (every symlink followed) is
//!   the canonical root or below it.

use std::path::{Component, Path};

use crate::error::CoreError;

/// The error of a path that leaves `root`.
pub fn outside(path: &str, root: &Path) -> CoreError {
    CoreError::PathOutside {
        path: path.to_string(),
        root: root.display().to_string(),
    }
}

/// A configured path is relative, without a backslash, and never above its start.
pub fn check_relative(rel: &str, root: &Path) -> Result<(), CoreError> {
    let p = Path::new(rel);
    if p.is_absolute() || rel.contains('\\') {
        return Err(outside(rel, root));
    }
    let mut depth: i64 = 0;
    for c in p.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return Err(outside(rel, root));
                }
            }
            _ => return Err(outside(rel, root)),
        }
    }
    Ok(())
}

/// A resolved (canonical) path is `canon_root` or inside it; `given` is how the user wrote
/// it, for the message.
pub fn ensure_inside(canon: &Path, canon_root: &Path, given: &str) -> Result<(), CoreError> {
    if canon.starts_with(canon_root) {
        Ok(())
    } else {
        Err(outside(given, canon_root))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_stay_below_their_start() {
        let root = Path::new("/r");
        for ok in ["a", "a/b.yaml", "./a", "a/../b", "a/./b"] {
            assert!(check_relative(ok, root).is_ok(), "{ok}");
        }
        for bad in ["/etc/passwd", "../x", "a/../../x", "a\\b", ".."] {
            let e = check_relative(bad, root).unwrap_err();
            assert!(matches!(e, CoreError::PathOutside { .. }), "{bad}: {e}");
        }
    }

    #[test]
    fn resolved_paths_must_be_under_the_root() {
        let root = Path::new("/r/repo");
        assert!(ensure_inside(Path::new("/r/repo/a"), root, "a").is_ok());
        assert!(ensure_inside(Path::new("/r/repo"), root, ".").is_ok());
        assert!(ensure_inside(Path::new("/r/repository"), root, "x").is_err());
        assert!(ensure_inside(Path::new("/etc"), root, "x").is_err());
    }
}
