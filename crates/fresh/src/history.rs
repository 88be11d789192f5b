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
/// PATHS` shows by default); any other commit when it differs from its parent.
pub fn walk(
    repo: &Repository,
    pinned: &str,
    head: &str,
    pathspecs: &[String],
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
    let mut ahead = Vec::new();
    let mut boundary = None;
    for oid in revwalk {
        let oid = oid?;
        if boundary.is_none() && boundaries.contains(&oid) {
            boundary = Some(oid.to_string());
        }
        let commit = repo.find_commit(oid)?;
        if let Some(paths) = touched(repo, &commit, pathspecs)? {
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

/// The watched paths `commit` changes, or `None` when it changes none of them.
fn touched(
    repo: &Repository,
    commit: &Commit<'_>,
    pathspecs: &[String],
) -> Result<Option<Vec<String>>, FreshError> {
    let tree = commit.tree()?;
    let diff_with = |parent: Option<&Commit<'_>>| -> Result<Vec<String>, FreshError> {
        let mut opts = DiffOptions::new();
        for p in pathspecs {
            opts.pathspec(p);
        }
        let old = parent.map(|p| p.tree()).transpose()?;
        let diff = repo.diff_tree_to_tree(old.as_ref(), Some(&tree), Some(&mut opts))?;
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
    };
    let parents: Vec<Commit<'_>> = commit.parents().collect();
    if parents.len() <= 1 {
        let paths = diff_with(parents.first())?;
        return Ok((!paths.is_empty()).then_some(paths));
    }
    let mut first = None;
    for p in &parents {
        let paths = diff_with(Some(p))?;
        if paths.is_empty() {
            return Ok(None);
        }
        first.get_or_insert(paths);
    }
    Ok(first)
}
