//! The working copy a run edits: `--repo DIR` as it is, or `--clone URL` into `--workdir`
//! (reused and synced when it is already a clone of that URL) or into a temporary directory;
//! the branch of a fresh clone chosen from what the remote has; the git directory the lock
//! goes into.

use std::path::{Path, PathBuf};

use rollout_core::CoreError;

use crate::branch;
use crate::cli::Cli;
use crate::error::BumpError;
use crate::git::{Git, RemoteBranches, Transport, check_url, ls_remote_url, redact_userinfo};

/// Where the working copy comes from.
pub struct Workspace {
    /// The repository, when git operations are asked for.
    pub git: Option<Git>,
    /// The working directory.
    pub root: PathBuf,
    /// Its git directory (where the lock lives).
    pub git_dir: PathBuf,
    /// The working copy as the report shows it (a path, or the URL without userinfo).
    pub display: String,
    /// Kept alive for a temporary clone; removed on drop.
    pub temp: Option<tempfile::TempDir>,
    /// Whether the working copy was freshly cloned or reused (then it is always synced).
    pub cloned: bool,
    /// The branch chosen before a fresh clone, and what the remote has.
    pub chosen: Option<(String, RemoteBranches)>,
}

impl Workspace {
    /// A working copy tag-bump cloned (or reused and synced): its root and git directory
    /// are the clone's.
    fn cloned(
        git: Git,
        display: String,
        temp: Option<tempfile::TempDir>,
        chosen: Option<(String, RemoteBranches)>,
    ) -> Workspace {
        Workspace {
            root: git.root.clone(),
            git_dir: git.repo.path().to_path_buf(),
            git: Some(git),
            display,
            temp,
            cloned: true,
            chosen,
        }
    }
}

/// Choose the branch of a fresh clone from what `url` has; returns it, what to check out
/// (the branch, or the default one when --create-branch names a new branch) and the
/// remote's branches.
fn clone_branch(
    cli: &Cli,
    url: &str,
    transport: &Transport,
) -> Result<(String, String, RemoteBranches), BumpError> {
    let have = ls_remote_url(url, transport)?;
    let branch = branch::choose(
        cli.branch.as_deref(),
        &have,
        &redact_userinfo(url),
        None,
        cli.create_branch,
    )?;
    let checkout = if have.branches.contains(&branch) {
        branch.clone()
    } else {
        have.default
            .clone()
            .or_else(|| have.branches.first().cloned())
            .unwrap_or_else(|| branch.clone())
    };
    Ok((branch, checkout, have))
}

/// The git directory of a working copy, found without libgit2: `.git` is a directory, or a
/// file saying `gitdir: PATH` (worktrees, submodules).
fn git_dir_of(dir: &Path) -> Result<PathBuf, BumpError> {
    let dot = dir.join(".git");
    let invalid = |message: &str| BumpError::RepoInvalid {
        path: dir.display().to_string(),
        message: message.to_string(),
    };
    let git_dir = if dot.is_dir() {
        dot
    } else {
        let text = std::fs::read_to_string(&dot)
            .map_err(|_| invalid("not the root of a git working copy (no .git)"))?;
        let target = text
            .trim()
            .strip_prefix("gitdir:")
            .ok_or_else(|| invalid(".git is a file without a gitdir: line"))?
            .trim();
        dir.join(target)
    };
    // The lock goes into this directory: it must be a git directory (as git checks before
    // it uses one), so a `.git` file naming any other directory cannot put a file there.
    let is_git_dir = git_dir.join("HEAD").is_file()
        && (git_dir.join("objects").is_dir() || git_dir.join("commondir").is_file());
    if !is_git_dir {
        return Err(invalid(&format!(
            ".git points to {}, which is not a git directory (no HEAD and objects)",
            git_dir.display()
        )));
    }
    git_dir
        .canonicalize()
        .map_err(|e| invalid(&format!("{}: {e}", git_dir.display())))
}

/// The working copy of this run, from `--repo` or `--clone` (cloned, or reused and
/// synced); `git_ops` says whether libgit2 is needed at all.
pub fn workspace(cli: &Cli, transport: &Transport, git_ops: bool) -> Result<Workspace, BumpError> {
    let Some(url) = &cli.clone else {
        let dir = cli.repo.clone().unwrap_or_else(|| PathBuf::from("."));
        // An edit without commit, push or sync needs no libgit2 (whose start-up loads the
        // system's CA bundle): the directory and its git dir are found directly.
        let git = if git_ops {
            Some(Git::open(&dir)?)
        } else {
            None
        };
        let (root, git_dir) = match &git {
            Some(g) => (g.root.clone(), g.repo.path().to_path_buf()),
            None => (dir.clone(), git_dir_of(&dir)?),
        };
        return Ok(Workspace {
            git,
            root,
            git_dir,
            display: dir.display().to_string(),
            temp: None,
            cloned: false,
            chosen: None,
        });
    };
    check_url(url).map_err(|m| crate::cli::bad("--clone", &redact_userinfo(url), m))?;
    match &cli.workdir {
        Some(dir) if dir.join(".git").exists() => {
            let git = Git::open(dir)?;
            let origin = git.remote("origin")?;
            if origin.url != *url {
                return Err(BumpError::RepoInvalid {
                    path: dir.display().to_string(),
                    message: format!(
                        "is a clone of {}, not {}; remove it or choose another --workdir",
                        redact_userinfo(&origin.url),
                        redact_userinfo(url)
                    ),
                });
            }
            Ok(Workspace::cloned(
                git,
                dir.display().to_string(),
                None,
                None,
            ))
        }
        // A dry run writes nothing: a --workdir that does not exist yet is not created,
        // the preview comes from a temporary clone.
        Some(dir) if !cli.dry_run => {
            if dir.exists()
                && std::fs::read_dir(dir)
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(true)
            {
                return Err(BumpError::RepoInvalid {
                    path: dir.display().to_string(),
                    message: "exists and is not an empty directory or a git clone".into(),
                });
            }
            let (branch, checkout, have) = clone_branch(cli, url, transport)?;
            let git = Git::clone(url, dir, &checkout, transport)?;
            Ok(Workspace::cloned(
                git,
                dir.display().to_string(),
                None,
                Some((branch, have)),
            ))
        }
        _ => {
            let temp = tempfile::Builder::new()
                .prefix("tag-bump-")
                .tempdir()
                .map_err(|source| CoreError::Write {
                    path: std::env::temp_dir(),
                    source,
                })?;
            let (branch, checkout, have) = clone_branch(cli, url, transport)?;
            let git = Git::clone(url, temp.path(), &checkout, transport)?;
            Ok(Workspace::cloned(
                git,
                redact_userinfo(url),
                Some(temp),
                Some((branch, have)),
            ))
        }
    }
}
