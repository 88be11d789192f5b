//! Bounds on one evaluation: time, memory and stack, so that a gates file from a pull
//! request cannot hang or crash the job that evaluates it.
//!
//! jq is a complete language: `until(false; .)` never ends, `[range(1e12)]` eats memory,
//! `def f: 1+f; f` recurses until the stack runs out, and jaq has no budget of its own.
//! Nothing inside the interpreter can be interrupted, so the evaluation runs on a worker
//! thread with a large stack, and the main thread watches it: when the run has been
//! evaluating longer than `--eval-timeout`, or the process's resident memory passes
//! `--max-memory`, the main thread stops the run with an error (exit 2, naming the gate and
//! check being evaluated) and the process exits before anything is written. The worker's
//! stack is larger than the memory bound, so deep recursion meets the memory bound (stack
//! pages are resident memory) before it could overflow.
//!
//! The memory bound reads the resident set (`rollout_core::resources`); where there is none
//! (macOS), only the time bound and the stack size hold.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::GateError;

/// What one run may use, and where it is.
#[derive(Debug)]
pub struct Budget {
    /// Longest evaluation (`--eval-timeout`).
    pub timeout: Duration,
    /// Most resident memory (`--max-memory`), in bytes.
    pub max_memory: u64,
    /// The flags as given, for messages.
    pub shown: (String, String),
    armed: Mutex<Option<Instant>>,
    at: Mutex<(String, String)>,
}

impl Budget {
    /// A budget; not armed until [`Budget::arm`].
    pub fn new(timeout: Duration, max_memory: u64, shown: (String, String)) -> Budget {
        Budget {
            timeout,
            max_memory,
            shown,
            armed: Mutex::new(None),
            at: Mutex::new(("the sources".into(), String::new())),
        }
    }

    /// Start the clock (evaluation begins).
    pub fn arm(&self) {
        *self.armed.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }

    /// Stop the clock (evaluation is over; what follows is writing the decision).
    pub fn disarm(&self) {
        *self.armed.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Say which gate is being evaluated now (for the message of a stopped run).
    pub fn at_gate(&self, gate: String) {
        *self.at.lock().unwrap_or_else(|p| p.into_inner()) = (gate, String::new());
    }

    /// Say which check of that gate is being evaluated now.
    pub fn at_check(&self, check: String) {
        self.at.lock().unwrap_or_else(|p| p.into_inner()).1 = check;
    }

    fn label(&self) -> String {
        let (gate, check) = self.at.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if check.is_empty() {
            gate
        } else {
            format!("{gate}, {check}")
        }
    }

    /// The error that stops the run, when at `now` with `memory` resident bytes it is over
    /// budget.
    pub fn exceeded(&self, now: Instant, memory: Option<u64>) -> Option<GateError> {
        let started = (*self.armed.lock().unwrap_or_else(|p| p.into_inner()))?;
        let at = self.label();
        if now.duration_since(started) > self.timeout {
            return Some(GateError::BudgetExceeded {
                at,
                message: format!(
                    "evaluation ran longer than --eval-timeout {} (an expression that never ends, such as until(false; .) or last(range(1e12))?)",
                    self.shown.0
                ),
            });
        }
        if memory.is_some_and(|m| m > self.max_memory) {
            return Some(GateError::BudgetExceeded {
                at,
                message: format!(
                    "evaluation used more than --max-memory {} (an expression that builds without end, such as [range(1e12)], or recurses without end?)",
                    self.shown.1
                ),
            });
        }
        None
    }

    /// The stack the worker thread gets: more than the memory bound, so that recursion
    /// meets the memory bound first.
    pub fn stack_bytes(&self) -> usize {
        usize::try_from(self.max_memory)
            .unwrap_or(usize::MAX / 2)
            .saturating_add(256 << 20)
    }
}

/// `--max-memory`: a size (`rollout_core::resources::parse_size`) of 64MiB at least.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let bytes = rollout_core::resources::parse_size(text)?;
    if bytes < 64 << 20 {
        return Err(format!(
            "{text:?} is below 64MiB, too little to evaluate anything"
        ));
    }
    Ok(bytes)
}

/// How often the main thread looks at the worker.
pub const POLL: Duration = Duration::from_millis(5);

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> Budget {
        Budget::new(
            Duration::from_secs(2),
            1 << 30,
            ("2s".into(), "1GiB".into()),
        )
    }

    #[test]
    fn nothing_is_exceeded_until_armed_then_time_and_memory_are() {
        let b = budget();
        let later = Instant::now() + Duration::from_secs(10);
        assert!(b.exceeded(later, Some(u64::MAX)).is_none(), "not armed");
        b.arm();
        b.at_gate("gate g".into());
        b.at_check("check c".into());
        assert!(b.exceeded(Instant::now(), Some(1 << 20)).is_none());
        let e = b.exceeded(later, None).unwrap();
        assert!(e.to_string().contains("at gate g, check c:"), "{e}");
        assert!(e.to_string().contains("--eval-timeout 2s"), "{e}");
        let e = b.exceeded(Instant::now(), Some(2 << 30)).unwrap();
        assert!(e.to_string().contains("--max-memory 1GiB"), "{e}");
        b.disarm();
        assert!(b.exceeded(later, Some(u64::MAX)).is_none());
        assert!(b.stack_bytes() > (1 << 30));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert!(parse_size("1MiB").unwrap_err().contains("below 64MiB"));
        assert!(parse_size("2GB").is_err());
    }
}
