//! The working copy a run edits: `--repo DIR` as it is, or `--clone URL` into `--workdir`
//! (reused and synced when it is already a clone of that URL) or into a temporary directory;
//! the branch of a fresh clone chosen from what the remote has; the git directory the lock
//! goes into; the lock, the remote and the branch a run syncs from and pushes to.

use std::path::{Path, PathBuf};

use rollout_core::CoreError;
use rollout_core::cli::{Env, LockArgs, warn};
use rollout_core::fsx::Lock;

use crate::TOOL;
use crate::branch;
use crate::error::BumpError;
use crate::git::{
    Git, RemoteBranches, RemoteSpec, Transport, check_url, ls_remote_url, redact_userinfo,
};

/// Where the run's working copy is asked to come from (the flags, borrowed).
#[derive(Debug, Clone, Copy)]
pub struct Spec<'a> {
    /// `--repo DIR`.
    pub repo: Option<&'a Path>,
    /// `--clone URL`.
    pub clone: Option<&'a str>,
    /// `--workdir DIR`.
    pub workdir: Option<&'a Path>,
    /// `--branch`.
    pub branch: Option<&'a str>,
    /// `--create-branch`.
    pub create_branch: bool,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--sync`.
    pub sync: bool,
    /// `--commit`.
    pub commit: bool,
    /// `--push`.
    pub push: bool,
    /// `--remote`.
    pub remote: &'a str,
    /// `--lock-timeout`.
    pub lock_timeout: &'a LockArgs,
}

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
    spec: &Spec<'_>,
    url: &str,
    transport: &Transport,
) -> Result<(String, String, RemoteBranches), BumpError> {
    let have = ls_remote_url(url, transport)?;
    let branch = branch::choose(
        spec.branch,
        &have,
        &redact_userinfo(url),
        None,
        spec.create_branch,
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

/// Clone `url` into `dir`: the branch, and what the remote has. With `--branch` (and no
/// `--create-branch`) the clone asks for that branch directly, saving the round trip of a
/// listing; only when it fails is the remote listed, so that a missing branch is named
/// with the ones there are.
fn clone(
    spec: &Spec<'_>,
    url: &str,
    dir: &Path,
    transport: &Transport,
) -> Result<(Git, String, RemoteBranches), BumpError> {
    if let Some(b) = spec.branch.filter(|_| !spec.create_branch) {
        return match Git::clone(url, dir, b, transport) {
            Ok(git) => {
                let have = RemoteBranches {
                    default: None,
                    branches: vec![b.to_string()],
                };
                Ok((git, b.to_string(), have))
            }
            Err(e) => match ls_remote_url(url, transport) {
                Ok(have) if !have.branches.iter().any(|x| x == b) => {
                    Err(
                        branch::choose(Some(b), &have, &redact_userinfo(url), None, false)
                            .err()
                            .unwrap_or(e),
                    )
                }
                _ => Err(e),
            },
        };
    }
    let (branch, checkout, have) = clone_branch(spec, url, transport)?;
    let git = Git::clone(url, dir, &checkout, transport)?;
    Ok((git, branch, have))
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
pub fn workspace(
    spec: &Spec<'_>,
    transport: &Transport,
    git_ops: bool,
) -> Result<Workspace, BumpError> {
    let Some(url) = spec.clone else {
        let dir = spec
            .repo
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
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
    check_url(url)
        .map_err(|m| BumpError::from(CoreError::bad_value("--clone", redact_userinfo(url), m)))?;
    match spec.workdir {
        Some(dir) if dir.join(".git").exists() => {
            let git = Git::open(dir)?;
            let origin = git.remote("origin")?;
            if origin.url != url {
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
        Some(dir) if !spec.dry_run => {
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
            let (git, branch, have) = clone(spec, url, dir, transport)?;
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
            let (git, branch, have) = clone(spec, url, temp.path(), transport)?;
            Ok(Workspace::cloned(
                git,
                redact_userinfo(url),
                Some(temp),
                Some((branch, have)),
            ))
        }
    }
}

/// The working copy, found or cloned; its lock (none for a dry run); the remote to sync
/// from and push to; the branch; synced when asked (or when it is tag-bump's own clone).
pub fn prepare(
    spec: &Spec<'_>,
    env: &Env,
    transport: &Transport,
) -> Result<(Workspace, Option<Lock>, Option<RemoteSpec>, String), BumpError> {
    let git_ops = spec.commit || spec.push || spec.sync || spec.clone.is_some();
    let ws = workspace(spec, transport, git_ops)?;
    // Two runs in one working copy would reset each other's edits; a dry run writes
    // nothing, not even the lock file.
    let lock = if spec.dry_run {
        None
    } else {
        Some(Lock::acquire(
            &ws.git_dir.join("tag-bump"),
            spec.lock_timeout.timeout()?,
        )?)
    };
    // In its own --workdir clone, tag-bump removes the git lock files a killed run left.
    if lock.is_some() && ws.cloned && spec.workdir.is_some() {
        for file in crate::git::remove_stale_locks(&ws.git_dir) {
            let what = format!(
                "removed {} left by an interrupted run in {}",
                file.display(),
                ws.display
            );
            warn(TOOL, env, &what);
        }
    }
    // A remote is needed only to sync or push: --commit works in a repository without one.
    let needs_remote = spec.clone.is_some() || spec.sync || spec.push;
    let remote: Option<RemoteSpec> = match (needs_remote, &ws.git, spec.clone) {
        (true, Some(git), Some(_)) => Some(git.remote("origin")?),
        (true, Some(git), None) => Some(git.remote(spec.remote)?),
        _ => None,
    };
    let (branch, sync_from) = choose_branch(
        spec.branch,
        spec.create_branch,
        &ws,
        remote.as_ref(),
        transport,
    )?;
    // A clone made by this very run has the remote's tip already: fetching it again is
    // a round trip for nothing. A reused --workdir clone is always synced.
    let fresh = ws.chosen.is_some();
    if (spec.sync || ws.cloned) && !fresh && !spec.dry_run {
        let git = ws.git.as_ref().expect("opened for --sync");
        let tip = git.fetch(
            remote.as_ref().expect("resolved for --sync"),
            &sync_from,
            transport,
        )?;
        git.reset_hard(tip, transport)?;
    } else if spec.sync && spec.dry_run {
        warn(
            TOOL,
            env,
            "--dry-run: --sync skipped; the preview is of the working copy as it is",
        );
    }
    Ok((ws, lock, remote, branch))
}

/// The branch to push to and the one to sync from (they differ only for a branch the push
/// creates, which starts from the remote's default): chosen before a fresh clone, else from
/// what the remote has; a run that neither syncs nor pushes only names it in the report.
pub fn choose_branch(
    asked: Option<&str>,
    create_branch: bool,
    ws: &Workspace,
    remote: Option<&RemoteSpec>,
    transport: &Transport,
) -> Result<(String, String), BumpError> {
    let (branch, have) = match (ws.chosen.clone(), remote, &ws.git) {
        (Some(chosen), _, _) => chosen,
        (None, Some(remote), Some(git)) => {
            let have = git.ls_remote(remote, transport)?;
            let tracking = remote.name.as_deref().and_then(|n| git.tracking_branch(n));
            let b = branch::choose(
                asked,
                &have,
                &remote.display,
                tracking.as_deref(),
                create_branch,
            )?;
            (b, have)
        }
        (None, _, git) => {
            // no remote involved: the branch given, else the one checked out
            let b = asked
                .map(str::to_string)
                .or_else(|| git.as_ref().and_then(Git::current_branch))
                .unwrap_or_default();
            return Ok((b.clone(), b));
        }
    };
    let sync_from = if have.branches.contains(&branch) {
        branch.clone()
    } else {
        have.default.clone().unwrap_or_default()
    };
    Ok((branch, sync_from))
}
