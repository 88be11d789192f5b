//! Commit and push: exactly the changed files are committed; the push names its refspec;
//! a lost race (non-fast-forward) fetches, resets to the remote's branch, plans the change
//! again and pushes again. Every failure says what was left behind (a commit not pushed, a
//! reset working copy).
//!
//! Retries are bounded by time (`--push-timeout`), not by a small count: when a matrix of
//! jobs pushes to one branch, the remote takes one push at a time, so the last job waits
//! for all the others, and a count that suits 5 racers fails the 100th. Each pause is
//! drawn at random from a window that grows with the races this run lost and is scaled by
//! how long one try takes here ("full jitter"): racers spread out instead of colliding in
//! step, and the window fits the remote's real pace. The window may grow to 12s, so that
//! 100 racers can spread to about one try per landing (a smaller cap let them make ten
//! tries per landing, and the wasted tries slowed the remote for the one that could land);
//! it never reaches past the deadline, so the last pause still leaves room for a try.
//! Each fetch after a lost race counts the commits others landed since the last one (the
//! contention seen), and the window is kept to twice one try per such commit: once the
//! crowd thins out, the last racers do not sleep out a window sized for a hundred.
//! `--push-retries` can cap the count too.

use std::hash::{BuildHasher, RandomState};
use std::time::{Duration as StdDuration, Instant};

use rollout_core::bad_value;
use rollout_core::cli::{Env, warn};
use rollout_core::time::{format_wait, parse_wait};
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
    /// `--push-retries` (None: as many as the timeout allows).
    pub retries: Option<u32>,
    /// `--push-timeout`: no retry starts after it.
    pub timeout: StdDuration,
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
    let started = Instant::now();
    let mut pacing = Pacing::starting(Instant::now());
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
                let left = to.timeout.saturating_sub(started.elapsed());
                let pause = pacing.lost(attempts, left);
                if pause.is_none() || to.retries.is_some_and(|n| attempts > n) {
                    return Err(BumpError::PushRetriesExhausted {
                        remote: to.remote.display.clone(),
                        refname,
                        attempts,
                        elapsed: format_wait(round_ms(started.elapsed())),
                        left: to.left(&changes.commit),
                    });
                }
                std::thread::sleep(pause.unwrap_or_default());
                pacing.try_started();
                let (more, landed) = after_lost_race(c, to, changes)?;
                pacing.saw(landed);
                if !more {
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
/// Returns whether there is a new commit to push, and how many commits landed on the
/// branch since the working copy last had it (None: not known).
fn after_lost_race(
    c: &Committer<'_>,
    to: &Destination<'_>,
    changes: &mut Changes,
) -> Result<(bool, Option<usize>), BumpError> {
    let before = c.git.head();
    let tip = c.git.fetch(to.remote, to.branch, c.transport)?;
    // the commits the remote has and HEAD has not: what others landed meanwhile
    let landed = before.and_then(|b| c.git.ahead(tip, b));
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
    Ok((changes.commit.is_some(), landed))
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

/// `--push-timeout`: at least 1s, at most an hour.
pub fn timeout(text: &str) -> Result<StdDuration, BumpError> {
    let d = parse_wait(text)?;
    if d < StdDuration::from_secs(1) {
        return Err(bad_value("--push-timeout", text, "at least 1s"));
    }
    Ok(d)
}

fn round_ms(d: StdDuration) -> StdDuration {
    StdDuration::from_millis(d.as_millis() as u64)
}

/// The pauses between tries after lost races.
#[derive(Debug)]
struct Pacing {
    /// When the current try (fetch, reset, re-apply, push) started.
    try_start: Instant,
    /// How many commits others landed between the last two fetches (None: not seen yet).
    landed: Option<usize>,
    /// A random source seeded by the OS for this run, so racers draw apart.
    random: RandomState,
}

impl Pacing {
    /// The pacing of a run whose first try (the first push) begins at `first_try`.
    fn starting(first_try: Instant) -> Self {
        Pacing {
            try_start: first_try,
            landed: None,
            random: RandomState::new(),
        }
    }

    /// The pause after the `lost`-th lost race, `left` being the time until the deadline:
    /// uniform in [0, window), the window being the length of the try just made (at least
    /// 20ms) doubled per race lost, at most 12s, at most the time the racers seen landing
    /// in the last round take to land again, and short enough that a try of the same
    /// length still ends before the deadline. None: no try fits in what is left.
    fn lost(&mut self, lost: u32, left: StdDuration) -> Option<StdDuration> {
        let unit = self.try_start.elapsed().max(StdDuration::from_millis(20));
        let room = left.checked_sub(unit).filter(|r| !r.is_zero())?;
        let mut window = pause_window(unit, lost).min(room);
        if let Some(landed) = self.landed {
            window = window.min(contention_window(unit, landed));
        }
        let draw = self.random.hash_one((lost, Instant::now()));
        Some(StdDuration::from_nanos(
            draw % window.as_nanos().max(1) as u64,
        ))
    }

    /// A new try starts now.
    fn try_started(&mut self) {
        self.try_start = Instant::now();
    }

    /// A fetch after a lost race found `landed` commits others pushed since the last one.
    fn saw(&mut self, landed: Option<usize>) {
        self.landed = landed;
    }
}

/// The window the contention seen allows: `landed` others landed while this run waited
/// and tried, so about that many race it still; twice the time they take at one try each
/// spreads this run's next try among theirs. After many lost races the doubling window
/// is far wider than that once the crowd has thinned out, and would leave the branch
/// idle while the last racers wait.
fn contention_window(unit: StdDuration, landed: usize) -> StdDuration {
    unit.saturating_mul(2 * (landed.min(1 << 16) as u32 + 1))
}

/// The window a pause is drawn from: `unit` doubled per race lost (from the first), at
/// most [`MAX_WINDOW`].
fn pause_window(unit: StdDuration, lost: u32) -> StdDuration {
    unit.saturating_mul(1 << lost.clamp(1, 10)).min(MAX_WINDOW)
}

/// The widest pause window: wide enough for about 100 racers to spread out to one try
/// per landing on a remote that lands a push in about 0.1s.
const MAX_WINDOW: StdDuration = StdDuration::from_secs(12);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_doubles_per_race_lost_and_stops_at_twelve_seconds() {
        let ms = StdDuration::from_millis;
        assert_eq!(pause_window(ms(30), 1), ms(60));
        assert_eq!(pause_window(ms(30), 3), ms(240));
        assert_eq!(pause_window(ms(30), 8), ms(7680));
        assert_eq!(pause_window(ms(30), 40), StdDuration::from_secs(12));
        assert_eq!(
            pause_window(StdDuration::from_secs(10), 1),
            StdDuration::from_secs(12)
        );
    }

    #[test]
    fn pauses_are_drawn_inside_the_window_and_differ() {
        let mut p = Pacing::starting(Instant::now());
        let hour = StdDuration::from_secs(3600);
        let pauses: Vec<StdDuration> = (1..=20).map(|n| p.lost(n, hour).unwrap()).collect();
        assert!(pauses.iter().all(|d| *d < MAX_WINDOW));
        let distinct: std::collections::BTreeSet<_> = pauses.iter().collect();
        assert!(distinct.len() > 10, "{pauses:?}");
    }

    #[test]
    fn the_contention_seen_narrows_the_window() {
        let ms = StdDuration::from_millis;
        assert_eq!(contention_window(ms(100), 0), ms(200));
        assert_eq!(contention_window(ms(100), 4), ms(1000));
        let mut p = Pacing::starting(Instant::now() - ms(100));
        let hour = StdDuration::from_secs(3600);
        // ten races lost, one commit landed in the last round: at most 2 tries' time
        p.saw(Some(1));
        for _ in 0..20 {
            assert!(p.lost(10, hour).unwrap() < ms(500));
        }
        // nothing known: the doubling window alone
        p.saw(None);
        let widest = (0..50).map(|_| p.lost(10, hour).unwrap()).max().unwrap();
        assert!(widest > ms(1000), "{widest:?}");
    }

    #[test]
    fn a_pause_leaves_room_for_one_more_try_before_the_deadline() {
        let mut p = Pacing::starting(Instant::now() - StdDuration::from_millis(500));
        // 2s left, a try takes 0.5s: the pause ends by 1.5s, whatever the window says
        for lost in [3, 10, 40] {
            let pause = p.lost(lost, StdDuration::from_secs(2)).unwrap();
            assert!(pause < StdDuration::from_millis(1500), "{pause:?}");
        }
        // less left than one try takes: no try
        assert_eq!(p.lost(5, StdDuration::from_millis(400)), None);
        assert_eq!(p.lost(5, StdDuration::ZERO), None);
    }
}
