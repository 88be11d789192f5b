//! The `freshness-check` command line and its run sequence.

use rollout_core::CoreError;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use rollout_core::cli::{CommonArgs, Env, epoch_seconds, resolve_now, verdict_code, warn};
use rollout_core::input::{MAX_DOCUMENT_BYTES, Source, as_text, read_bytes};
use rollout_core::jq::JqProgram;
use rollout_core::time::Duration;
use rollout_core::trace;
use rollout_core::url::redact_userinfo;
use serde_json::Value;

use crate::error::FreshError;
use crate::history::walk;
use crate::report::{Context, Status, report};

const TOOL: &str = "freshness-check";

/// The Examples section of `--help` (and of the man page), kept beside the man page's
/// hand-written sections.
const EXAMPLES: &str = include_str!("../doc/freshness-check.examples");

/// How far a pinned ref is behind head, on the paths that matter.
#[derive(Debug, Parser)]
#[command(
    name = "freshness-check",
    version,
    about = "How far a pinned ref is behind head, on the paths that matter",
    long_about = "Count the commits reachable from --head and not from --pinned that touch \
the watched paths, and the gap between the two commits' dates, through libgit2 over the full \
history. Stale iff commits are ahead and the gap exceeds --max-gap. A shallow clone that cuts \
the history is detected and refused, never undercounted. The report carries a stable title \
and dedupe key and a Markdown body for a tracker issue.",
    after_help = EXAMPLES
)]
pub struct Cli {
    /// The git repository (a working copy or a bare repository).
    #[arg(long, value_name = "DIR")]
    pub repo: PathBuf,
    /// The pinned ref (tag, branch, sha).
    #[arg(long, value_name = "REF")]
    pub pinned: String,
    /// The ref the pin is compared with.
    #[arg(long, value_name = "REF", default_value = "HEAD")]
    pub head: String,
    /// A watched pathspec (repeatable; `dir/` a directory, globs allowed). None: all paths.
    #[arg(long = "path", value_name = "PATHSPEC")]
    pub paths: Vec<String>,
    /// A manifest (YAML or JSON) to take watched paths from, with --paths-query.
    #[arg(long, value_name = "FILE", requires = "paths_query")]
    pub paths_from: Option<PathBuf>,
    /// The jq query over --paths-from giving path strings (or arrays of them).
    #[arg(long, value_name = "JQ", requires = "paths_from")]
    pub paths_query: Option<String>,
    /// Stale only when the gap exceeds this.
    #[arg(long, value_name = "DURATION", default_value = "14d")]
    pub max_gap: String,
    /// Exit 1 when stale (after printing the report).
    #[arg(long)]
    pub fail_on_stale: bool,
    /// Flags every tool takes.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Entry point of the `freshness-check` binary.
pub fn main() -> ExitCode {
    rollout_core::cli::main(TOOL, |cli: &Cli, env| run(cli, env))
}

impl rollout_core::cli::ToolCli for Cli {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

/// Check one pathspec: relative, inside the repository.
fn check_path(p: &str) -> Result<String, String> {
    let t = p.trim();
    if t.is_empty() {
        return Err("empty path".into());
    }
    if t.starts_with('/') || t.split('/').any(|c| c == "..") {
        return Err("a watched path is relative to the repository root, without '..'".into());
    }
    Ok(t.trim_start_matches("./").to_string())
}

fn paths_from(cli: &Cli, now: f64) -> Result<Vec<String>, FreshError> {
    let (Some(file), Some(query)) = (&cli.paths_from, &cli.paths_query) else {
        return Ok(Vec::new());
    };
    let source = Source::File(file.clone());
    let origin = source.origin();
    let bytes = read_bytes(&source, "a manifest (YAML or JSON)", MAX_DOCUMENT_BYTES)?;
    let doc = rollout_core::yaml::parse_yaml(as_text(&bytes, &origin)?, &origin)?;
    let program = JqProgram::compile(query, &[], "--paths-query")?.with_now(now);
    let bad = |message: String| FreshError::Paths {
        origin: origin.clone(),
        message,
    };
    let results = program
        .run(&doc, &[])
        .map_err(|m| bad(format!("--paths-query failed: {m}")))?;
    let mut out = Vec::new();
    for v in results {
        let items = match v {
            Value::Array(a) => a,
            other => vec![other],
        };
        for item in items {
            match item {
                Value::String(s) => out.push(s),
                Value::Null => {}
                other => {
                    return Err(bad(format!(
                        "--paths-query gave {other}, expected path strings"
                    )));
                }
            }
        }
    }
    if out.is_empty() {
        return Err(bad("--paths-query gave no paths".into()));
    }
    Ok(out)
}

/// The repository as the report names it: origin's URL without credentials, else its path.
///
/// The URL as configured (`remote.origin.url`), not as this machine's `url.*.insteadOf`
/// rules rewrite it: the title and dedupe key of a tracker issue must not depend on the
/// git configuration of whichever runner made the report.
fn repository_label(repo: &git2::Repository, dir: &std::path::Path) -> String {
    let configured = repo
        .config()
        .and_then(|c| c.get_string("remote.origin.url"))
        .ok();
    if let Some(url) = configured.as_deref() {
        let url = redact_userinfo(url);
        let url = url.trim_end_matches('/');
        return url.strip_suffix(".git").unwrap_or(url).to_string();
    }
    std::fs::canonicalize(dir)
        .unwrap_or_else(|_| dir.to_path_buf())
        .display()
        .to_string()
}

/// Run freshness-check with parsed flags; returns the exit code on success.
pub fn run(cli: &Cli, env: &Env) -> Result<u8, FreshError> {
    let now = resolve_now(cli.common.now.as_deref())?;
    let output = cli.common.output(now)?;
    cli.common.refuse_input(TOOL)?;
    let max_gap = Duration::parse(&cli.max_gap)?;
    let mut paths = Vec::new();
    for p in cli
        .paths
        .iter()
        .cloned()
        .chain(paths_from(cli, epoch_seconds(now))?)
    {
        paths.push(check_path(&p).map_err(|message| {
            FreshError::from(CoreError::bad_value("--path", p.clone(), message))
        })?);
    }
    paths.sort();
    paths.dedup();

    // Objects are read without hashing each one again, as git reads them: libgit2's
    // check on every read was over half of a long walk's time, and a count reads and
    // writes nothing else (objects were verified when they were fetched).
    git2::opts::strict_hash_verification(false);
    let repo = git2::Repository::open(&cli.repo).map_err(|e| FreshError::NotARepository {
        path: cli.repo.display().to_string(),
        message: e.message().to_string(),
    })?;
    let history = walk(
        &repo,
        &cli.pinned,
        &cli.head,
        &paths,
        crate::report::MAX_LISTED,
    )?;
    let doc = report(
        &history,
        Context {
            now,
            trace_id: trace::resolve(cli.common.trace_id.as_deref(), None, trace::random_uuid),
            repository: repository_label(&repo, &cli.repo),
            paths,
            max_gap_secs: max_gap.as_secs(),
        },
    );
    cli.common.publish_summary(&doc.body, env)?;
    output.emit_serialize(&doc)?;
    match doc.status {
        Status::IncompleteHistory => Err(FreshError::Shallow {
            repo: doc.repository.clone(),
            pinned: cli.pinned.clone(),
            head: cli.head.clone(),
            boundary: history.boundary.clone().unwrap_or_default(),
            report_printed: true,
        }),
        Status::SkippedNegativeGap => {
            warn(
                TOOL,
                env,
                &format!(
                    "the pinned commit is newer than {} ({} vs {}): skipped",
                    cli.head, doc.pinned.committed_at, doc.head.committed_at
                ),
            );
            Ok(0)
        }
        Status::Stale => Ok(verdict_code(cli.fail_on_stale)),
        Status::Fresh => Ok(0),
    }
}
