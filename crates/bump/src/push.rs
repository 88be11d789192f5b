//! Commit and push: exactly the changed files are committed; the push names its refspec;
//! a lost race (non-fast-forward) fetches, resets to the remote's branch, plans the change
//! again and pushes again, up to `--push-retries` times, with a short spread-out pause.
//! Every failure says what was left behind (a commit not pushed, a reset working copy).

use std::time::Duration as StdDuration;

use rollout_core::cli::{Env, warn};
use rollout_core::tree::Fault;

use crate::TOOL;
use crate::change::{Changes, Job, commit_message, write_files};
use crate::error::{BumpError, GitReason};
use crate::git::{Git, PushOutcome, RemoteSpec, Transport};
use crate::report::{CommitDoc, PushDoc};
use crate::request::Request;
use crate::targets::Origin;

/// What a commit is made with.
pub struct Committer<'a> {
    /// The working copy.
    pub git: &'a Git,
    /// Plans the change again after a reset.
    pub job: &'a Job<'a>,
    /// `--message`.
    pub template: &'a str,
    /// The checked request.
    pub request: &'a Request,
    /// Author and committer.
    pub sig: git2::Signature<'static>,
    /// How remotes are reached.
    pub transport: &'a Transport,
    /// The fault a write test injects.
    pub fault: &'a Fault,
}

impl Committer<'_> {
    /// Commit the changed files of `changes` (none changed: no commit).
    pub fn commit(&self, changes: &Changes) -> Result<Option<CommitDoc>, BumpError> {
        let files: Vec<(String, Vec<u8>)> = changes
            .plans
            .iter()
            .filter(|p| p.after != p.before)
            .map(|p| (p.file.clone(), p.after.clone().into_bytes()))
            .collect();
        if files.is_empty() {
            return Ok(None);
        }
        let mut message = commit_message(self.template, self.request, &changes.edits);
        if self.job.origin == Origin::Tree {
            // one commit for every file the policy marks: the body lists them
            message.push_str("\n\nFiles:\n");
            for (f, _) in &files {
                message.push_str(&format!("- {f}\n"));
            }
        }
        let oid = self
            .git
            .commit_files(&files, &message, &self.sig, self.transport)?;
        Ok(Some(CommitDoc {
            sha: oid.to_string(),
            message,
            author: format!(
                "{} <{}>",
                self.sig.name().unwrap_or_default(),
                self.sig.email().unwrap_or_default()
            ),
        }))
    }

    /// Plan, write and commit the change again on the working copy as it is now.
    fn redo(&self, changes: &mut Changes) -> Result<(), BumpError> {
        (changes.plans, changes.edits) = self.job.plan()?;
        write_files(self.job.root, &changes.plans, self.fault)?;
        changes.commit = None;
        changes.commit = self.commit(changes)?;
        Ok(())
    }
}

/// Where a push goes and how hard it tries.
pub struct Destination<'a> {
    /// The remote.
    pub remote: &'a RemoteSpec,
    /// The branch.
    pub branch: &'a str,
    /// `--push-retries`.
    pub retries: u32,
    /// The working copy as the report names it.
    pub display: &'a str,
    /// The working copy is a temporary clone (removed at the end).
    pub temporary: bool,
}

impl Destination<'_> {
    /// What a failed push leaves behind, for the error message.
    fn left(&self, commit: &Option<CommitDoc>) -> Option<String> {
        commit.as_ref().map(|c| {
            if self.temporary {
                format!(
                    "commit {} was made in a temporary clone, now removed",
                    &c.sha[..7]
                )
            } else {
                format!(
                    "commit {} stays in {}, not pushed",
                    &c.sha[..7],
                    self.display
                )
            }
        })
    }
}

/// Push the change, retrying lost races; `changes` ends as what was pushed.
pub fn push(
    c: &Committer<'_>,
    to: &Destination<'_>,
    changes: &mut Changes,
    env: &Env,
) -> Result<PushDoc, BumpError> {
    let refname = format!("refs/heads/{}", to.branch);
    let mut attempts = 0u32;
    let mut pushed = false;
    loop {
        if changes.commit.is_none() && !catch_up(c, to, changes)? {
            break;
        }
        attempts += 1;
        let outcome = c
            .git
            .push(to.remote, to.branch, c.transport)
            .map_err(|e| with_left(e, to.left(&changes.commit)));
        for note in c.git.notes.borrow_mut().drain(..) {
            warn(TOOL, env, &note);
        }
        match outcome? {
            PushOutcome::Pushed => {
                c.git.note_pushed(to.remote, to.branch);
                pushed = true;
                break;
            }
            PushOutcome::Rejected(message) => {
                return Err(BumpError::PushRejected {
                    remote: to.remote.display.clone(),
                    refname,
                    message,
                    left: to.left(&changes.commit),
                });
            }
            PushOutcome::NonFastForward => {
                if attempts > to.retries {
                    return Err(BumpError::PushRetriesExhausted {
                        remote: to.remote.display.clone(),
                        refname,
                        attempts,
                        left: to.left(&changes.commit),
                    });
                }
                std::thread::sleep(backoff(attempts, &c.request.tag));
                if !after_lost_race(c, to, changes)? {
                    // The remote already holds the tag (another run set it).
                    break;
                }
            }
        }
    }
    Ok(PushDoc {
        remote: to.remote.display.clone(),
        refname,
        attempts,
        pushed,
    })
}

/// Nothing new to commit: push only what the remote lacks. Returns whether there is
/// anything to push (the working copy is redone on the remote's tip when it fell behind).
fn catch_up(
    c: &Committer<'_>,
    to: &Destination<'_>,
    changes: &mut Changes,
) -> Result<bool, BumpError> {
    let tip = c
        .git
        .fetch(to.remote, to.branch, c.transport)
        .or_else(|e| match e {
            BumpError::Git {
                reason: GitReason::BranchMissing,
                ..
            } => Ok(git2::Oid::ZERO_SHA1),
            e => Err(e),
        })?;
    match c.git.head() {
        Some(h) if h == tip => Ok(false),
        Some(h) if tip.is_zero() || c.git.contains(h, tip) => Ok(true),
        _ => {
            c.git.reset_hard(tip, c.transport)?;
            c.redo(changes)?;
            Ok(changes.commit.is_some())
        }
    }
}

/// A push race was lost: fetch, reset to the remote's branch and redo the change there.
/// Returns whether there is a new commit to push.
fn after_lost_race(
    c: &Committer<'_>,
    to: &Destination<'_>,
    changes: &mut Changes,
) -> Result<bool, BumpError> {
    let tip = c.git.fetch(to.remote, to.branch, c.transport)?;
    c.git.reset_hard(tip, c.transport)?;
    // From here the working copy is the remote's branch, not what it was.
    let state = format!(
        "a push race was lost, so {} was reset to {}/{} at {}{}",
        to.display,
        to.remote.display,
        to.branch,
        &tip.to_string()[..7],
        changes
            .commit
            .as_ref()
            .map(|c| format!("; the local commit {} was not pushed", &c.sha[..7]))
            .unwrap_or_default()
    );
    c.redo(changes).map_err(|e| BumpError::AfterReset {
        source: Box::new(e),
        state,
    })?;
    Ok(changes.commit.is_some())
}

fn with_left(e: BumpError, left: Option<String>) -> BumpError {
    match e {
        BumpError::Git {
            action,
            message,
            reason,
            ..
        } => BumpError::Git {
            action,
            message: match &left {
                Some(l) => format!("{message}; {l}"),
                None => message,
            },
            reason,
            left,
        },
        other => other,
    }
}

/// A short, growing pause before a retry, spread by the tag so racing runs drift apart.
fn backoff(attempt: u32, salt: &str) -> StdDuration {
    let spread = salt
        .bytes()
        .fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)))
        % 50;
    StdDuration::from_millis((25u64 << attempt.min(5)).min(800) + spread)
}
