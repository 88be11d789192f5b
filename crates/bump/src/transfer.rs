//! Bounds on one network operation (ls-remote, clone, fetch, push) against a remote tag-bump
//! does not control: a deadline for the whole operation, a bound on the bytes a clone or
//! fetch receives, and a bound on the memory the remote's answer makes the process use.
//!
//! libgit2's own timeouts (`--timeout`) bound the connect and each read, so a remote that
//! sends one byte a second, or advertises a million refs, is still waited on or held in
//! memory. libgit2 cannot be interrupted from outside, and it reports progress only while a
//! pack arrives, so the bounds are kept in two places:
//!
//! * the transfer-progress callback stops a clone or fetch whose pack passes
//!   `--max-transfer`, or that runs past the deadline (a pack trickling in);
//! * a watchdog thread looks at the armed operation every few milliseconds; past the
//!   deadline, or with the resident memory over `--max-memory` (a ref advertisement has no
//!   callback), it shuts down the process's network sockets, so libgit2's blocked read
//!   returns and the operation fails, and the failure is reported with the bound it met.
//!
//! An operation is armed by a [`Guard`] held for its length; the reason a tripped bound gives
//! is kept here and read when the operation's error is mapped.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Which bound an operation met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tripped {
    /// The whole operation ran past `--deadline`.
    Deadline(String),
    /// The remote sent more than `--max-transfer`, or its answer took more than
    /// `--max-memory`.
    TooLarge(String),
}

/// The bounds of every network operation of one run.
#[derive(Debug)]
pub struct Limits {
    /// `--deadline`: the longest one operation may take.
    pub deadline: Duration,
    /// `--max-transfer`: the most bytes a clone or fetch may receive.
    pub max_bytes: u64,
    /// `--max-memory`: the most resident memory while an operation runs.
    pub max_memory: u64,
    /// The three flags as given, for messages.
    pub shown: [String; 3],
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    armed: Option<(Instant, String)>,
    tripped: Option<Tripped>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new(
            Duration::from_secs(600),
            1 << 30,
            1 << 30,
            ["10m".into(), "1GiB".into(), "1GiB".into()],
        )
    }
}

/// An armed operation; dropping it disarms.
#[must_use]
pub struct Guard(Arc<Limits>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.lock().armed = None;
    }
}

impl Limits {
    /// Bounds, none armed.
    pub fn new(deadline: Duration, max_bytes: u64, max_memory: u64, shown: [String; 3]) -> Self {
        Limits {
            deadline,
            max_bytes,
            max_memory,
            shown,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Arm the bounds for the operation `what` (a `fetch ORIGIN main`); the watchdog starts
    /// with the first one.
    pub fn arm(self: &Arc<Self>, what: &str) -> Guard {
        {
            let mut s = self.lock();
            s.armed = Some((Instant::now(), what.to_string()));
            s.tripped = None;
        }
        watch(self.clone());
        Guard(self.clone())
    }

    /// The bound the armed operation met, if any (then it is to be reported instead of the
    /// error libgit2 gives for the cut connection).
    pub fn tripped(&self) -> Option<Tripped> {
        self.lock().tripped.clone()
    }

    /// The transfer-progress check: `false` stops the transfer (a bound was met).
    pub fn on_progress(&self, received_bytes: usize, now: Instant) -> bool {
        let mut s = self.lock();
        if s.tripped.is_some() {
            return false;
        }
        if received_bytes as u64 > self.max_bytes {
            s.tripped = Some(Tripped::TooLarge(format!(
                "the remote sent more than --max-transfer {} (a pack this large is not one a GitOps edit needs)",
                self.shown[1]
            )));
            return false;
        }
        if let Some(t) = self.over_time(&s, now) {
            s.tripped = Some(t);
            return false;
        }
        true
    }

    fn over_time(&self, s: &State, now: Instant) -> Option<Tripped> {
        let (started, what) = s.armed.as_ref()?;
        (now.duration_since(*started) > self.deadline).then(|| {
            Tripped::Deadline(format!(
                "{what} did not finish within --deadline {} (a remote answering a byte at a time?)",
                self.shown[0]
            ))
        })
    }

    /// The watchdog's check at `now`, `memory` giving the resident bytes (read only while
    /// an operation is armed): the bound met, once.
    pub fn check(&self, now: Instant, memory: impl FnOnce() -> Option<u64>) -> Option<Tripped> {
        let mut s = self.lock();
        if s.armed.is_none() || s.tripped.is_some() {
            return None;
        }
        let t = self.over_time(&s, now).or_else(|| {
            memory().filter(|m| *m > self.max_memory).map(|_| {
                Tripped::TooLarge(format!(
                    "the remote's answer made tag-bump use more than --max-memory {} (a remote advertising millions of refs?)",
                    self.shown[2]
                ))
            })
        })?;
        s.tripped = Some(t.clone());
        Some(t)
    }
}

/// How often the watchdog looks.
const POLL: Duration = Duration::from_millis(20);

/// Start the watchdog for `limits` (once per process).
fn watch(limits: Arc<Limits>) {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let spawned = std::thread::Builder::new()
            .name("tag-bump-watchdog".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(POLL);
                    let memory = rollout_core::resources::resident_bytes;
                    if limits.check(Instant::now(), memory).is_some() {
                        // libgit2's blocked read returns; tag-bump has no other
                        // connection open while an operation is armed
                        crate::sockets::shut_down_all();
                    }
                }
            });
        // Without the thread the callback still bounds packs and their time.
        drop(spawned);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Arc<Limits> {
        Arc::new(Limits::new(
            Duration::from_secs(5),
            1000,
            1 << 30,
            ["5s".into(), "1000B".into(), "1GiB".into()],
        ))
    }

    #[test]
    fn nothing_trips_while_disarmed_and_each_bound_names_its_flag() {
        let l = limits();
        let later = Instant::now() + Duration::from_secs(60);
        assert_eq!(l.check(later, || Some(u64::MAX)), None, "not armed");
        let unread = || -> Option<u64> { panic!("memory is read only while armed") };
        assert_eq!(l.check(later, unread), None);
        let g = l.arm("fetch origin main");
        assert!(l.on_progress(999, Instant::now()));
        assert!(!l.on_progress(1001, Instant::now()));
        assert!(
            matches!(l.tripped(), Some(Tripped::TooLarge(m)) if m.contains("--max-transfer 1000B"))
        );
        drop(g);
        let _g = l.arm("clone x");
        assert_eq!(l.tripped(), None, "a new operation starts clean");
        assert!(!l.on_progress(10, later));
        assert!(
            matches!(l.tripped(), Some(Tripped::Deadline(m)) if m.starts_with("clone x did not finish within --deadline 5s"))
        );
    }

    #[test]
    fn the_watchdog_check_trips_once_on_time_or_memory() {
        let l = limits();
        let _g = l.arm("ls-remote x");
        assert_eq!(l.check(Instant::now(), || Some(1 << 20)), None);
        let t = l.check(Instant::now(), || Some(2 << 30)).unwrap();
        assert!(matches!(&t, Tripped::TooLarge(m) if m.contains("--max-memory 1GiB")));
        assert_eq!(
            l.check(Instant::now(), || Some(2 << 30)),
            None,
            "reported once"
        );
        assert_eq!(l.tripped(), Some(t));
    }
}
