//! The edge every tool shares: common flags, the environment, the clock, and how a run ends.
//!
//! A `bin/*.rs` file is a few lines: parse with [`parse`], run the tool, hand the result to
//! [`finish`]. That makes the failure surface identical across tools: one line
//! `TOOL: error: MESSAGE` on stderr (plus indented hints), the exit code of the error's
//! class, an `error` document on stdout with `--json-errors`, and `::error::` workflow
//! commands under GitHub Actions.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

pub use crate::env::Env;
use jiff::Timestamp;

use crate::doc::{ErrorDocument, Kind, SCHEMA_VERSION};
use crate::error::{CoreError, ExitClass, Failure};

/// Flags every tool takes (CONTRACT.md §3).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CommonArgs {
    /// The primary input document (- reads stdin).
    #[arg(short = 'i', long = "input", value_name = "FILE", global = true)]
    pub input: Option<String>,
    /// Pretty-print the output (default on a terminal).
    #[arg(long, global = true, conflicts_with = "compact")]
    pub pretty: bool,
    /// Print the output on one line (default in a pipe).
    #[arg(long, global = true)]
    pub compact: bool,
    /// Filter the output document with a jq program (jaq dialect); strings print raw.
    #[arg(long, value_name = "FILTER", global = true)]
    pub jq: Option<String>,
    /// The clock, for reproducible runs (RFC 3339).
    #[arg(
        long,
        value_name = "RFC3339",
        env = "ROLLOUT_NOW",
        hide_env_values = true,
        global = true
    )]
    pub now: Option<String>,
    /// Trace id (else inherited from the input document, else generated).
    #[arg(
        long,
        value_name = "ID",
        env = "ROLLOUT_TRACE_ID",
        hide_env_values = true,
        global = true
    )]
    pub trace_id: Option<String>,
    /// Also write a Markdown summary to FILE.
    #[arg(long, value_name = "FILE", global = true)]
    pub summary: Option<PathBuf>,
    /// Do not append the summary to $GITHUB_STEP_SUMMARY.
    #[arg(long, global = true)]
    pub no_step_summary: bool,
    /// On failure also print an error document on stdout.
    #[arg(long, env = "ROLLOUT_JSON_ERRORS", hide_env_values = true, global = true,
          value_parser = clap::builder::FalseyValueParser::new(), num_args = 0,
          default_missing_value = "true")]
    pub json_errors: bool,
}

/// `--lock-timeout`, for tools that take a lock on shared state (CONTRACT.md §5).
#[derive(clap::Args, Debug, Clone)]
pub struct LockArgs {
    /// How long to wait for a lock held by another run.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub lock_timeout: String,
}

impl LockArgs {
    /// The timeout as a duration.
    pub fn timeout(&self) -> Result<crate::time::Duration, CoreError> {
        crate::time::Duration::parse(&self.lock_timeout)
    }
}

impl CommonArgs {
    /// How this run prints its document: `--pretty`/`--compact`/`--jq`, jq's clock `now`.
    pub fn output(&self, now: Timestamp) -> Result<crate::output::Output, CoreError> {
        crate::output::Output::new(
            self.pretty,
            self.compact,
            self.jq.as_deref(),
            epoch_seconds(now),
        )
    }

    /// Refuse `-i` for a tool that reads no input document: accepting and ignoring it
    /// would let a user believe their file was used.
    pub fn refuse_input(&self, tool: &str) -> Result<(), CoreError> {
        match &self.input {
            Some(_) => Err(CoreError::Usage {
                message: format!("{tool} reads no input document (-i); name the values with flags"),
            }),
            None => Ok(()),
        }
    }

    /// Write this run's Markdown summary where `--summary`, `--no-step-summary` and
    /// `GITHUB_STEP_SUMMARY` say.
    pub fn publish_summary(&self, markdown: &str, env: &Env) -> Result<(), CoreError> {
        crate::summary::publish(markdown, self.summary.as_deref(), self.no_step_summary, env)
    }
}

/// Resolve the clock: `--now`/`ROLLOUT_NOW` when given and not empty, else the system clock
/// (seconds).
pub fn resolve_now(flag: Option<&str>) -> Result<Timestamp, CoreError> {
    // An empty value is unset, as for the trace id: a workflow writes
    // `ROLLOUT_NOW: ${{ inputs.now }}` and leaves the input empty.
    match flag.filter(|s| !s.trim().is_empty()) {
        Some(text) => crate::time::parse_timestamp(text),
        None => Ok(Timestamp::from_second(Timestamp::now().as_second()).unwrap_or_default()),
    }
}

/// Seconds since the epoch as a float, for jq's `now`.
pub fn epoch_seconds(ts: Timestamp) -> f64 {
    ts.as_millisecond() as f64 / 1000.0
}

/// Parse the command line of `tool`. Help and version print and exit 0; errors are reported
/// in the contract's format with exit 2.
pub fn parse<C: Parser>(tool: &str, env: &Env) -> Result<C, ExitCode> {
    match C::try_parse() {
        Ok(c) => Ok(c),
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return Err(
                    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                        ExitCode::from(2)
                    } else {
                        ExitCode::SUCCESS
                    },
                );
            }
            let rendered = e.render().to_string();
            let mut lines = rendered.lines().filter(|l| !l.trim().is_empty()).peekable();
            let mut first = lines
                .next()
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ")
                .to_string();
            // Indented lines right after the message (the missing arguments) belong to it.
            let mut listed = Vec::new();
            while let Some(l) = lines.next_if(|l| l.starts_with(' ')) {
                listed.push(l.trim().to_string());
            }
            if !listed.is_empty() {
                first = format!("{} {}", first, listed.join(", "));
            }
            // Keep clap's tips and its pointer to --help; drop the usage block.
            let hints: Vec<String> = lines
                .map(str::trim)
                .filter(|l| l.starts_with("tip:") || l.starts_with("For more information"))
                .map(|l| l.trim_start_matches("tip:").trim().to_string())
                .collect();
            let json_errors = env.json_errors || std::env::args().any(|a| a == "--json-errors");
            let err = CoreError::usage(first);
            Err(report(tool, env, json_errors, &err, &hints))
        }
    }
}

/// A tool's parsed command line, so the shared entry point can read its common flags.
pub trait ToolCli: Parser {
    /// The flags every tool takes.
    fn common(&self) -> &CommonArgs;
}

/// The whole `main` of a tool: capture the environment, parse, run, report. `run` is where a
/// tool reads anything else at the edge (fault-injection hooks, git's environment).
pub fn main<C: ToolCli, E: Failure>(
    tool: &str,
    run: impl FnOnce(&C, &Env) -> Result<u8, E>,
) -> ExitCode {
    let env = Env::capture();
    let cli = match parse::<C>(tool, &env) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let json_errors = cli.common().json_errors || env.json_errors;
    let result = run(&cli, &env);
    finish(tool, &env, json_errors, result)
}

/// End a run: success codes pass through; failures are reported and mapped to their code.
pub fn finish<E: Failure>(
    tool: &str,
    env: &Env,
    json_errors: bool,
    result: Result<u8, E>,
) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let hints = e.hints();
            let json_errors = json_errors && !e.document_printed();
            report(tool, env, json_errors, &e, &hints)
        }
    }
}

fn report(tool: &str, env: &Env, json_errors: bool, e: &dyn Failure, hints: &[String]) -> ExitCode {
    let class = e.class();
    let code = class.code();
    let message = e.to_string();
    let mut text = format!("{tool}: error: {}\n", one_line(&message));
    for h in hints {
        text.push_str(&format!("  hint: {}\n", one_line(h)));
    }
    if env.github_actions {
        text.push_str(&format!(
            "::error title={tool}::{}\n",
            escape_workflow(&message)
        ));
    }
    eprint!("{text}");
    if json_errors {
        let doc = ErrorDocument {
            schema_version: SCHEMA_VERSION.into(),
            kind: Kind::Error,
            tool: tool.into(),
            exit_code: code,
            reason_code: e.reason_code().to_string(),
            message,
            hints: hints.to_vec(),
        };
        let mut line = serde_json::to_string(&doc).unwrap_or_default();
        line.push('\n');
        let _ = crate::output::write_stdout(line.as_bytes());
    }
    ExitCode::from(code)
}

/// Print a warning: `TOOL: warning: MESSAGE` on stderr, plus `::warning::` under Actions.
pub fn warn(tool: &str, env: &Env, message: &str) {
    eprintln!("{tool}: warning: {}", one_line(message));
    if env.github_actions {
        eprintln!("::warning title={tool}::{}", escape_workflow(message));
    }
}

/// A message as one line of stderr: newlines and other control characters (which a file
/// name or a server's text may hold) are shown escaped (`\n`, `\u{1b}`). A runner reads
/// every line a step prints for workflow commands, so a raw newline followed by
/// `::add-mask::` or `::warning::` would be obeyed.
pub fn one_line(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push('\t'),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Escape a message for a GitHub workflow command.
pub fn escape_workflow(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A verdict exit (1) as a result, for `--fail-on-*` flags.
pub fn verdict_code(failed: bool) -> u8 {
    if failed { ExitClass::Verdict.code() } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_clock_is_the_system_clock() {
        let fixed = resolve_now(Some("2026-11-21T08:00:00Z")).unwrap();
        assert_eq!(fixed.to_string(), "2026-11-21T08:00:00Z");
        let past = resolve_now(Some("2020-01-01T00:00:00Z")).unwrap();
        for empty in [None, Some(""), Some("  ")] {
            let now = resolve_now(empty).unwrap();
            assert!(now > past, "{empty:?}");
        }
        assert!(resolve_now(Some("yesterday")).is_err());
    }

    #[test]
    fn workflow_messages_are_escaped() {
        assert_eq!(escape_workflow("a%b\nc"), "a%25b%0Ac");
        assert_eq!(one_line("plain"), "plain");
        assert_eq!(
            one_line("x\n::add-mask::y\r\u{1b}[31m\tz"),
            "x\\n::add-mask::y\\r\\u{1b}[31m\tz"
        );
    }

    #[test]
    fn now_flag_wins_and_system_clock_is_whole_seconds() {
        let t = resolve_now(Some("2026-11-21T08:00:00+01:00")).unwrap();
        assert_eq!(t.to_string(), "2026-11-21T07:00:00Z");
        assert_eq!(resolve_now(None).unwrap().subsec_nanosecond(), 0);
        assert!(resolve_now(Some("soon")).is_err());
    }
}
