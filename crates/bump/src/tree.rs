//! Flux setter tree mode: the files under some directories that carry a marker of one
//! image policy, found the way Flux's image automation finds them (every YAML file under
//! `update.path`), so one run edits every file a policy marks, in one commit.
//!
//! The walk never leaves the repository: directories are resolved by the caller's
//! containment rule, symbolic links are not followed, `.git` and nested repositories are
//! skipped, and only regular `*.yaml`/`*.yml` files up to the document limit are read. A
//! file is a candidate when its text holds `$imagepolicy` and the policy's name; whether it
//! marks a value of the policy is the editor's question (a file naming the policy in
//! another way is left untouched).

use std::path::{Path, PathBuf};

use rollout_core::input::MAX_DOCUMENT_BYTES;

use crate::error::BumpError;

/// The files (relative to `root`, `/`-separated, sorted) under `dirs` (the root when empty)
/// whose text mentions a setter of `policy` (`ns:name` or `name`); `inside` resolves a
/// directory given on the command line within the repository.
pub fn marked_files(
    root: &Path,
    dirs: &[String],
    policy: &str,
    inside: impl Fn(&str) -> Result<PathBuf, BumpError>,
) -> Result<Vec<String>, BumpError> {
    let canon_root = root.canonicalize().map_err(|e| BumpError::RepoInvalid {
        path: root.display().to_string(),
        message: e.to_string(),
    })?;
    let starts: Vec<PathBuf> = if dirs.is_empty() {
        vec![canon_root.clone()]
    } else {
        dirs.iter()
            .map(|d| inside(d))
            .collect::<Result<Vec<_>, _>>()?
    };
    let name = policy.rsplit(':').next().unwrap_or(policy);
    let mut found = Vec::new();
    let mut stack = starts;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let file_name = entry.file_name();
            if kind.is_dir() {
                // another repository, or git's own files: not this repository's content
                if file_name != ".git" && !path.join(".git").exists() {
                    stack.push(path);
                }
                continue;
            }
            let yaml = Path::new(&file_name)
                .extension()
                .is_some_and(|e| e == "yaml" || e == "yml");
            if !kind.is_file() || !yaml {
                continue;
            }
            if entry.metadata().is_ok_and(|m| m.len() > MAX_DOCUMENT_BYTES) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            if text.contains("$imagepolicy") && text.contains(name) {
                let rel = path
                    .strip_prefix(&canon_root)
                    .unwrap_or(&path)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                found.push(rel);
            }
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_files_are_found_below_the_paths_and_nowhere_else() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let marked = "image: a:1 # {\"$imagepolicy\": \"flux-system:app\"}\n";
        for (rel, text) in [
            ("apps/a/deploy.yaml", marked),
            ("apps/b/deploy.yml", marked),
            ("apps/b/notes.txt", marked),
            ("apps/c/plain.yaml", "image: a:1\n"),
            ("infra/x.yaml", marked),
            ("apps/nested/.git/HEAD", "ref: x\n"),
            ("apps/nested/y.yaml", marked),
        ] {
            let p = d.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        std::os::unix::fs::symlink(d.join("infra"), d.join("apps/link")).unwrap();
        let canon = d.canonicalize().unwrap();
        let inside = |r: &str| Ok(canon.join(r));
        assert_eq!(
            marked_files(d, &["apps".into()], "flux-system:app", inside).unwrap(),
            ["apps/a/deploy.yaml", "apps/b/deploy.yml"]
        );
        assert_eq!(
            marked_files(d, &[], "app", inside).unwrap(),
            ["apps/a/deploy.yaml", "apps/b/deploy.yml", "infra/x.yaml"]
        );
    }
}
