//! The parts of the process environment the contract depends on, read once at the edge
//! ([`Env::capture`]) and passed in, so the domain never reads variables itself. Its own
//! room, so that [`crate::cli`] and [`crate::summary`] both use it without importing each
//! other.

use std::path::PathBuf;

use crate::error::CoreError;

/// The parts of the process environment the contract depends on, read once at the edge.
#[derive(Debug, Clone)]
pub struct Env {
    /// `GITHUB_ACTIONS=true`: print workflow commands for errors and warnings.
    pub github_actions: bool,
    /// `GITHUB_STEP_SUMMARY`: where summaries are appended.
    pub step_summary: Option<PathBuf>,
    /// `ROLLOUT_JSON_ERRORS` is set to a true value ([`truthy`]).
    pub json_errors: bool,
    /// `ROLLOUT_SIGNING_KEY` (see [`crate::sign`]): the key, none, or why it is unusable.
    pub signing_key: Result<Option<crate::sign::SigningKey>, String>,
}

impl Default for Env {
    fn default() -> Self {
        Env {
            github_actions: false,
            step_summary: None,
            json_errors: false,
            signing_key: Ok(None),
        }
    }
}

impl Env {
    /// The signing key, or the usage error of an unusable one.
    pub fn signing_key(&self) -> Result<Option<&crate::sign::SigningKey>, CoreError> {
        match &self.signing_key {
            Ok(key) => Ok(key.as_ref()),
            Err(message) => Err(CoreError::usage(message.clone())),
        }
    }
}

/// Whether an environment value means "on": anything but empty, `0`, `false`, `no` and
/// `off` (any case, surrounding blanks ignored). Every boolean variable the tools read is
/// parsed by this one rule.
pub fn truthy(value: &str) -> bool {
    !matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "" | "0" | "false" | "no" | "off"
    )
}

impl Env {
    /// Read the environment of this process.
    pub fn capture() -> Self {
        Env {
            github_actions: std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
            step_summary: std::env::var_os("GITHUB_STEP_SUMMARY")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            json_errors: std::env::var("ROLLOUT_JSON_ERRORS").is_ok_and(|v| truthy(&v)),
            signing_key: crate::sign::SigningKey::from_env().map_err(|e| e.to_string()),
        }
    }
}
