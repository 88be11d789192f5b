//! The history between a pinned ref and head, through libgit2.
//!
//! The replaced alarm cloned with `--depth=1`: head had no parents, so its path-scoped count
//! was 1 whenever head differed from the pin and 0 otherwise, whatever the paths. Here the
//! walk notes every shallow boundary it meets (a commit listed in `.git/shallow`, whose
//! parents are missing); meeting one means the count could be short, and the caller refuses
//! to report it as fresh or stale.

use std::collections::HashSet;

use git2::{Commit, DiffOptions, Oid, Repository, Sort};
use jiff::Timestamp;

use crate::error::FreshError;

/// One end of the comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    /// The ref as given.
    pub refname: String,
    /// The commit it names (peeled through annotated tags).
    pub sha: String,
    /// Its committer date.
    pub committed_at: Timestamp,
}

/// A commit ahead of the pin that touches the paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ahead {
    /// Full sha.
    pub sha: String,
    /// First line of the message.
    pub subject: String,
    /// The paths it touches (among the watched ones), sorted.
    pub paths: Vec<String>,
}

/// What the walk found.
#[derive(Debug, Clone)]
pub struct History {
    /// The pinned commit.
    pub pinned: Side,
    /// The head commit.
    pub head: Side,
    /// Commits reachable from head and not from pinned that touch the paths, newest first.
    pub ahead: Vec<Ahead>,
    /// Whether the repository is a shallow clone.
    pub shallow: bool,
    /// The first shallow boundary the walk met (the count is then incomplete).
    pub boundary: Option<String>,
}

fn side(repo: &Repository, flag: &'static str, refname: &str) -> Result<(Side, Oid), FreshError> {
    let not_found = |e: git2::Error| FreshError::RefNotFound {
        flag,
        refname: refname.to_string(),
        message: e.message().to_string(),
    };
    let commit = repo
        .revparse_single(refname)
        .and_then(|o| o.peel_to_commit())
        .map_err(not_found)?;
    Ok((
        Side {
            refname: refname.to_string(),
            sha: commit.id().to_string(),
            committed_at: commit_time(&commit),
        },
        commit.id(),
    ))
}

fn commit_time(c: &Commit<'_>) -> Timestamp {
    Timestamp::from_second(c.committer().when().seconds()).unwrap_or_default()
}

/// The commits listed in `.git/shallow`.
fn shallow_commits(repo: &Repository) -> HashSet<Oid> {
    std::fs::read_to_string(repo.path().join("shallow"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| Oid::from_str(l.trim()).ok())
        .collect()
}

/// Walk `pinned..head`, keeping the commits that touch `pathspecs` (all commits when empty).
///
/// A merge counts only when it differs on the paths from every parent (what `git log --
/// PATHS` shows by default); any other commit when it differs from its parent. The paths
/// each commit touches are listed for the first `listed` commits kept (the ones a report
/// shows); the rest are counted by the cheap question alone where it answers.
///
/// The cheap question: for literal paths (and for the whole tree), a commit leaves the
/// paths alone when its tree holds the same object, of the same mode, at each as its
/// parent's, which needs a lookup per path instead of a diff of two trees.
pub fn walk(
    repo: &Repository,
    pinned: &str,
    head: &str,
    pathspecs: &[String],
    listed: usize,
) -> Result<History, FreshError> {
    let (pinned_side, pinned_oid) = side(repo, "--pinned", pinned)?;
    let (head_side, head_oid) = side(repo, "--head", head)?;
    let shallow = repo.is_shallow();
    let boundaries = if shallow {
        shallow_commits(repo)
    } else {
        HashSet::new()
    };
    let mut revwalk = repo.revwalk()?;
    revwalk.set_sorting(Sort::TOPOLOGICAL | Sort::TIME)?;
    revwalk.push(head_oid)?;
    revwalk.hide(pinned_oid)?;
    let literal = literal_paths(pathspecs);
    let mut ahead = Vec::new();
    let mut boundary = None;
    for oid in revwalk {
        let oid = oid?;
        if boundary.is_none() && boundaries.contains(&oid) {
            boundary = Some(oid.to_string());
        }
        let commit = repo.find_commit(oid)?;
        let paths = match unchanged(&commit, literal.as_deref())? {
            Some(true) => None,
            Some(false) if ahead.len() >= listed => Some(Vec::new()),
            // counted: the paths it changes against its first parent, for the listing
            Some(false) => {
                let first = commit.parents().next();
                Some(diff_paths(repo, &commit, first.as_ref(), pathspecs)?)
            }
            None => touched(repo, &commit, pathspecs)?,
        };
        if let Some(paths) = paths {
            ahead.push(Ahead {
                sha: oid.to_string(),
                subject: commit
                    .summary()
                    .ok()
                    .flatten()
                    .unwrap_or_default()
                    .to_string(),
                paths,
            });
        }
    }
    Ok(History {
        pinned: pinned_side,
        head: head_side,
        ahead,
        shallow,
        boundary,
    })
}

/// The paths under `pathspecs` (all paths when empty) that differ between `parent` (none:
/// the empty tree) and `commit`, sorted.
fn diff_paths(
    repo: &Repository,
    commit: &Commit<'_>,
    parent: Option<&Commit<'_>>,
    pathspecs: &[String],
) -> Result<Vec<String>, FreshError> {
    let mut opts = DiffOptions::new();
    for p in pathspecs {
        opts.pathspec(p);
    }
    let old = parent.map(|p| p.tree()).transpose()?;
    let diff = repo.diff_tree_to_tree(old.as_ref(), Some(&commit.tree()?), Some(&mut opts))?;
    let mut paths: Vec<String> = diff
        .deltas()
        .filter_map(|d| {
            d.new_file()
                .path()
                .or_else(|| d.old_file().path())
                .map(|p| p.to_string_lossy().into_owned())
        })
        .collect();
    paths.sort();
    paths.dedup();
    Ok(paths)
}

/// The watched paths `commit` changes, or `None` when it changes none of them (a merge:
/// when it is the same on them as one of its parents).
fn touched(
    repo: &Repository,
    commit: &Commit<'_>,
    pathspecs: &[String],
) -> Result<Option<Vec<String>>, FreshError> {
    let parents: Vec<Commit<'_>> = commit.parents().collect();
    if parents.len() <= 1 {
        let paths = diff_paths(repo, commit, parents.first(), pathspecs)?;
        return Ok((!paths.is_empty()).then_some(paths));
    }
    let mut first = None;
    for p in &parents {
        let paths = diff_paths(repo, commit, Some(p), pathspecs)?;
        if paths.is_empty() {
            return Ok(None);
        }
        first.get_or_insert(paths);
    }
    Ok(first)
}

/// The pathspecs as literal paths (no glob, no `:` magic, not the whole tree), or `None`
/// when one is not: those are answered by a diff. No pathspec is the whole tree: an empty
/// list.
fn literal_paths(pathspecs: &[String]) -> Option<Vec<&std::path::Path>> {
    pathspecs
        .iter()
        .map(|p| {
            let p = p.trim_end_matches('/');
            let plain = !p.is_empty()
                && p != "."
                && !p.starts_with(':')
                && !p.starts_with('/')
                && !p.contains(['*', '?', '[', '\\'])
                && !p.split('/').any(|c| c.is_empty() || c == "." || c == "..");
            plain.then(|| std::path::Path::new(p))
        })
        .collect()
}

/// The cheap question, for literal paths: `Some(true)` when a parent holds the same at
/// every path (the commit does not count), `Some(false)` when every parent differs (it
/// counts; with no path watched, always), `None` when only a diff can tell (a pathspec
/// that is no literal path, or a root commit).
fn unchanged(
    commit: &Commit<'_>,
    literal: Option<&[&std::path::Path]>,
) -> Result<Option<bool>, FreshError> {
    let Some(literal) = literal else {
        return Ok(None);
    };
    if literal.is_empty() {
        // no path watched: every commit counts, as `git rev-list --count` counts them
        return Ok(Some(false));
    }
    if commit.parent_count() == 0 {
        return Ok(None);
    }
    let tree = commit.tree()?;
    for parent in commit.parents() {
        let theirs = parent.tree()?;
        if literal
            .iter()
            .all(|path| entry(&tree, path) == entry(&theirs, path))
        {
            return Ok(Some(true));
        }
    }
    Ok(Some(false))
}

/// The object at `path` in `tree` and its mode (`None`: nothing there).
fn entry(tree: &git2::Tree<'_>, path: &std::path::Path) -> Option<(Oid, i32)> {
    tree.get_path(path).ok().map(|e| (e.id(), e.filemode()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_are_literal() {
        let specs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            literal_paths(&specs(&["apps/web/", "base"])),
            Some(vec![
                std::path::Path::new("apps/web"),
                std::path::Path::new("base")
            ])
        );
        for odd in [
            "apps/*.yaml",
            ":(glob)apps",
            ".",
            "",
            "/abs",
            "a//b",
            "a/../b",
            "a?",
        ] {
            assert_eq!(literal_paths(&specs(&["base", odd])), None, "{odd}");
        }
        assert_eq!(
            literal_paths(&[]),
            Some(vec![]),
            "no pathspec: the whole tree"
        );
    }
}
