//! The `health-probe` command line and its run sequence.

use rollout_core::CoreError;
use std::process::ExitCode;

use clap::Parser;
use rollout_core::cli::{CommonArgs, Env, resolve_now, verdict_code, warn};
use rollout_core::input::{Source, as_text, read_bytes};
use rollout_core::pattern::compile_bytes;
use rollout_core::time::{format_timestamp, format_wait, parse_wait};
use rollout_core::trace;

use crate::check::{Expect, Policy, StatusRanges, probe_all};
use crate::error::ProbeError;
use crate::http::HttpFetch;
use crate::report::{Settings, markdown, report};
use crate::urls::{Piece, Shape, parse};

const TOOL: &str = "health-probe";

/// The variable read when no URL is given on the command line.
pub const URLS_VAR: &str = "RUNTIME_HEALTH_URLS";

/// The Examples section of `--help` (and of the man page), kept beside the man page's
/// hand-written sections.
const EXAMPLES: &str = include_str!("../doc/health-probe.examples");

/// Check the runtime health URLs over HTTP and report, as evidence for gate-eval.
#[derive(Debug, Parser)]
#[command(
    name = "health-probe",
    version,
    about = "Check the runtime health URLs over HTTP and report, as evidence for gate-eval",
    long_about = "GET every URL of the list (--url, --urls, -i FILE, else \
$RUNTIME_HEALTH_URLS) concurrently, with a per-attempt timeout, bounded retries and redirects, and TLS verified \
against the system trust store. A check is healthy when an attempt answers with an expected \
status (and a body matching --expect-body). Prints a health-report, which gate-eval's \
runtime-health preset reads. --validate-only checks and normalises the list without any \
request.",
    after_help = EXAMPLES
)]
pub struct Cli {
    /// One health URL (repeatable).
    #[arg(long = "url", value_name = "URL")]
    pub url: Vec<String>,
    /// A list of URLs separated by commas, whitespace or newlines (or a JSON array).
    /// `-i FILE` reads one the same way. Without --url, --urls and -i, $RUNTIME_HEALTH_URLS
    /// is read.
    #[arg(long, value_name = "LIST")]
    pub urls: Option<String>,
    /// Parse, check and normalise the list and print it; no request is made.
    #[arg(long)]
    pub validate_only: bool,
    /// Per-attempt timeout, covering connect, TLS, redirects and the answer.
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub timeout: String,
    /// Further attempts after a failed one (0-10).
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub retries: u32,
    /// Wait between attempts.
    #[arg(long, value_name = "DURATION", default_value = "1s")]
    pub retry_delay: String,
    /// Accepted statuses: codes and ranges, comma-separated.
    #[arg(long, value_name = "RANGE", default_value = "200-299")]
    pub expect_status: String,
    /// A regular expression the body must match (first 1 MiB).
    #[arg(long, value_name = "REGEX")]
    pub expect_body: Option<String>,
    /// Redirects followed at most (0-20); more is a failure. 0: a 3xx is judged as is.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_redirects: u32,
    /// Checks run at once (1-64).
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,
    /// Do not verify TLS certificates (warns on every run).
    #[arg(long)]
    pub insecure: bool,
    /// Accept an https URL that redirects to plain http (else a failure, redirect_downgrade).
    #[arg(long)]
    pub allow_downgrade: bool,
    /// Exit 1 when any check fails (after printing the report).
    #[arg(long)]
    pub fail_on_unhealthy: bool,
    /// Flags every tool takes.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Entry point of the `health-probe` binary.
pub fn main() -> ExitCode {
    rollout_core::cli::main(TOOL, |cli: &Cli, env| {
        let from_env = std::env::var(URLS_VAR).ok();
        run(cli, env, from_env.as_deref())
    })
}

impl rollout_core::cli::ToolCli for Cli {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

/// The most a URL list read with `-i` may hold.
const MAX_LIST_BYTES: u64 = 1024 * 1024;

/// The URL list from `--url`, `--urls` and `-i` (`file` is its origin and text), else from
/// the variable's value `from_env`.
fn url_list(
    cli: &Cli,
    file: Option<(&str, &str)>,
    from_env: Option<&str>,
) -> Result<Vec<String>, ProbeError> {
    let mut pieces: Vec<Piece<'_>> = cli
        .url
        .iter()
        .map(|text| Piece {
            origin: "--url",
            shape: Shape::Single,
            text,
        })
        .collect();
    if let Some(text) = &cli.urls {
        pieces.push(Piece {
            origin: "--urls",
            shape: Shape::List,
            text,
        });
    }
    if let Some((origin, text)) = file {
        pieces.push(Piece {
            origin,
            shape: Shape::List,
            text,
        });
    }
    if pieces.is_empty()
        && let Some(text) = from_env
    {
        pieces.push(Piece {
            origin: URLS_VAR,
            shape: Shape::List,
            text,
        });
    }
    parse(&pieces)
}

/// Check the flags that shape the probes.
fn policy(cli: &Cli) -> Result<(Policy, Settings, std::time::Duration), ProbeError> {
    let timeout = parse_wait(&cli.timeout)?;
    if timeout.is_zero() {
        return Err(rollout_core::bad_value(
            "--timeout",
            &cli.timeout,
            "must be more than 0",
        ));
    }
    let retry_delay = parse_wait(&cli.retry_delay)?;
    if cli.retries > 10 {
        return Err(rollout_core::bad_value(
            "--retries",
            cli.retries,
            "at most 10",
        ));
    }
    if !(1..=64).contains(&cli.concurrency) {
        return Err(rollout_core::bad_value(
            "--concurrency",
            cli.concurrency,
            "between 1 and 64",
        ));
    }
    if cli.max_redirects > 20 {
        return Err(rollout_core::bad_value(
            "--max-redirects",
            cli.max_redirects,
            "at most 20",
        ));
    }
    let status = StatusRanges::parse(&cli.expect_status)
        .map_err(|m| CoreError::bad_value("--expect-status", &cli.expect_status, m))?;
    let body = cli
        .expect_body
        .as_deref()
        .map(|p| {
            compile_bytes(p).map_err(|m| {
                CoreError::bad_value("--expect-body", p, format!("invalid regex: {m}"))
            })
        })
        .transpose()?;
    let settings = Settings {
        timeout: format_wait(timeout),
        retries: cli.retries,
        retry_delay: format_wait(retry_delay),
        expect_status: status.to_string(),
        expect_body: cli.expect_body.clone(),
        max_redirects: cli.max_redirects,
        concurrency: cli.concurrency,
        tls_verify: !cli.insecure,
    };
    let policy = Policy {
        expect: Expect { status, body },
        retries: cli.retries,
        retry_delay,
        concurrency: cli.concurrency,
    };
    Ok((policy, settings, timeout))
}

/// Run health-probe with parsed flags and the value of `RUNTIME_HEALTH_URLS`; returns the
/// exit code on success.
pub fn run(cli: &Cli, env: &Env, from_env: Option<&str>) -> Result<u8, ProbeError> {
    let now = resolve_now(cli.common.now.as_deref())?;
    let output = cli.common.output(now)?;
    let (policy, settings, timeout) = policy(cli)?;
    let file = match cli.common.input.as_deref() {
        Some(spec) => {
            let source = Source::parse(spec);
            let origin = source.origin();
            let bytes = read_bytes(&source, "a URL list", MAX_LIST_BYTES)?;
            Some((origin, as_text(&bytes, &source.origin())?.to_string()))
        }
        None => None,
    };
    let urls = url_list(
        cli,
        file.as_ref().map(|(o, t)| (o.as_str(), t.as_str())),
        from_env,
    )?;
    let trace_id = trace::resolve(cli.common.trace_id.as_deref(), None, trace::random_uuid);

    let checks = if cli.validate_only {
        Vec::new()
    } else {
        if cli.insecure {
            warn(
                TOOL,
                env,
                "TLS verification is off (--insecure): any server on the path can answer for these URLs",
            );
        }
        let fetch = HttpFetch::new(
            timeout,
            cli.max_redirects,
            cli.insecure,
            cli.allow_downgrade,
        );
        probe_all(&fetch, &urls, &policy, &std::thread::sleep)
    };
    let doc = report(
        format_timestamp(now),
        trace_id,
        cli.validate_only,
        urls,
        settings,
        &checks,
    );
    for c in checks.iter().filter(|c| !c.ok) {
        warn(
            TOOL,
            env,
            &format!(
                "{}: {} ({} attempt{})",
                c.url,
                c.error.as_deref().unwrap_or("unhealthy"),
                c.attempts,
                if c.attempts == 1 { "" } else { "s" }
            ),
        );
    }
    cli.common.publish_summary(&markdown(&doc), env)?;
    output.emit_serialize(&doc)?;
    Ok(verdict_code(
        cli.fail_on_unhealthy && !cli.validate_only && !doc.summary.all_healthy,
    ))
}
