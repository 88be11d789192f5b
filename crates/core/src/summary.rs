//! Markdown summaries: `--summary FILE` and the GitHub step summary.
//!
//! A person reviewing a rollout reads the summary, not the JSON. `--summary FILE` writes it
//! atomically; when `GITHUB_STEP_SUMMARY` names a file it is appended there too, unless
//! `--no-step-summary`. The environment is read once at the edge ([`crate::env::Env`]).

use std::io::Write;
use std::path::Path;

use crate::env::Env;
use crate::error::CoreError;
use crate::fsx::atomic_write;

/// Write the Markdown summary where the flags and the environment say.
pub fn publish(
    markdown: &str,
    summary_file: Option<&Path>,
    no_step_summary: bool,
    env: &Env,
) -> Result<(), CoreError> {
    if let Some(path) = summary_file {
        atomic_write(path, markdown.as_bytes())?;
    }
    if !no_step_summary && let Some(path) = &env.step_summary {
        let err = |source| CoreError::Write {
            path: path.clone(),
            source,
        };
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(err)?;
        let mut text = markdown.to_string();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        f.write_all(text.as_bytes()).map_err(err)?;
    }
    Ok(())
}

/// Escape text for a Markdown table cell (pipes and newlines would break the row).
pub fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_escaped() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
