//! The `digest-pin` command line and its run sequence.
//!
//! Everything refusable is refused before a byte is written: the digest set, the flags,
//! the ledger (with `--record` its lock is held for the whole run), then every file is read
//! and planned, then the count assertions and the re-scan verification. Only then are the
//! files replaced, all or nothing, and the ledger record appended.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rollout_core::cli::{CommonArgs, Env, LockArgs, resolve_now, verdict_code};
use rollout_core::doc::{Kind, SCHEMA_VERSION};
use rollout_core::output::Output;
use rollout_core::time::format_timestamp;
use rollout_core::trace;
use rollout_core::tree::Fault;

use crate::error::PinError;
use crate::plan::{Expectations, Totals};
use crate::report::{Mode, PinReport, markdown, skipped_docs};
use crate::rewrite::plan_tree;
use crate::source::{self, SourceFlags};
use crate::walk::SelectArgs;
use crate::{TOOL, inventory, ledger};

/// The Examples section of `--help` (and of the man page), kept beside the man page's
/// hand-written sections.
const EXAMPLES: &str = include_str!("../doc/digest-pin.examples");

/// Promote and roll back image digest pins across files, counted and all-or-nothing.
#[derive(Debug, Parser)]
#[command(
    name = "digest-pin",
    version,
    about = "Promote and roll back image digest pins across files, counted and all-or-nothing",
    long_about = "Rewrite the digest of every NAME[:TAG]@sha256:… pin of the given images, in \
any text file of a tree (workflow YAML, kustomizations, shell, Dockerfiles), changing only the \
digest bytes. Counts are asserted by occurrence, the result is re-scanned before anything is \
written, and files are replaced all or nothing. A ledger remembers every release, so a \
rollback names a release instead of digging through git history.",
    after_help = EXAMPLES
)]
pub struct Cli {
    /// Subcommands.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Which files.
    #[command(flatten)]
    pub select: SelectArgs,
    /// A digest to pin: IMAGE=DIGEST (repeatable). IMAGE with a slash is a full
    /// repository; a bare name matches the last path component.
    #[arg(long = "set", value_name = "IMAGE=DIGEST")]
    pub sets: Vec<String>,
    /// The ledger (JSONL): the source of a rollback with --release, the target of --record.
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
    /// The release: names the set of --set, or takes a recorded release from --ledger.
    #[arg(long, value_name = "ID")]
    pub release: Option<String>,
    /// Assert the total number of pins of the set's images (occurrences, not lines).
    #[arg(long, value_name = "N")]
    pub expect: Option<u64>,
    /// Assert the number of pins of one image: IMAGE=N (repeatable).
    #[arg(long, value_name = "IMAGE=N")]
    pub expect_image: Vec<String>,
    /// Do not refuse when an image of the set has no pin.
    #[arg(long)]
    pub allow_missing: bool,
    /// After a successful rewrite, append the applied set to --ledger.
    #[arg(long, requires = "ledger", conflicts_with_all = ["dry_run", "check"])]
    pub record: bool,
    /// With --record: record what the tree pins today (every image pinned at one digest),
    /// so the first promotion has a release to roll back to. Changes no file.
    #[arg(long, requires = "record", conflicts_with_all = ["sets", "expect", "expect_image"])]
    pub baseline: bool,
    /// Compute and report everything; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: include a unified diff of every changed file (field "diff").
    #[arg(long, requires = "dry_run")]
    pub diff: bool,
    /// Drift check: write nothing; exit 1 when any pin differs from the set.
    #[arg(long, conflicts_with = "dry_run")]
    pub check: bool,
    /// Ledger lock timeout.
    #[command(flatten)]
    pub lock: LockArgs,
    /// Flags every tool takes.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// digest-pin subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every digest pin in a tree (kind: digest-scan).
    Scan {
        /// Which files.
        #[command(flatten)]
        select: SelectArgs,
        /// Only pins of these images (repeatable; same matching as --set).
        #[arg(long, value_name = "IMAGE")]
        image: Vec<String>,
    },
    /// List the recorded releases, newest first, or print one as a digest-set.
    Ledger {
        /// The ledger.
        #[arg(long, value_name = "FILE", required = true)]
        ledger: PathBuf,
        /// Print this release's digest set.
        #[arg(long, value_name = "ID")]
        release: Option<String>,
    },
}

/// Entry point of the `digest-pin` binary.
pub fn main() -> ExitCode {
    rollout_core::cli::main(TOOL, |cli: &Cli, env| {
        // The fault-injection hook of the write tests, read here at the edge
        // (`rename-fails-at:K`, `wait-for:PATH`; see rollout_core::tree::Fault).
        let fault = Fault::parse(std::env::var("DIGEST_PIN_FAULT").ok().as_deref());
        run(cli, env, &fault)
    })
}

impl rollout_core::cli::ToolCli for Cli {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

/// Run digest-pin with parsed flags; returns the exit code on success.
pub fn run(cli: &Cli, env: &Env, fault: &Fault) -> Result<u8, PinError> {
    let now = resolve_now(cli.common.now.as_deref())?;
    let output = cli.common.output(now)?;
    let now_text = format_timestamp(now);
    if cli.command.is_some() && rewrite_flags_given(cli) {
        let name = match &cli.command {
            Some(Command::Scan { .. }) => "scan",
            _ => "ledger",
        };
        return Err(rollout_core::CoreError::Usage {
            message: format!(
                "paths and rewrite flags (--set, --ledger, --root, --check, …) go after `{name}`, \
                 or without a subcommand; before it they would be ignored"
            ),
        }
        .into());
    }
    match &cli.command {
        Some(Command::Scan { select, image }) => {
            let trace_id = cli.common.trace_id.as_deref();
            inventory::scan(trace_id, env, select, image, &now_text, &output)
        }
        Some(Command::Ledger { ledger, release }) => {
            ledger::show(ledger, release.as_deref(), &output)
        }
        None => pin(cli, env, &now_text, &output, fault),
    }
}

/// Whether flags of the rewrite were given next to a subcommand (they would be ignored).
fn rewrite_flags_given(cli: &Cli) -> bool {
    !cli.select.paths.is_empty()
        || !cli.select.include.is_empty()
        || !cli.select.exclude.is_empty()
        || cli.select.root != Path::new(".")
        || !cli.sets.is_empty()
        || cli.ledger.is_some()
        || cli.release.is_some()
        || cli.expect.is_some()
        || !cli.expect_image.is_empty()
        || cli.allow_missing
        || cli.record
        || cli.dry_run
        || cli.check
}

/// The rewrite (no subcommand): promote, roll back, check or preview.
fn pin(cli: &Cli, env: &Env, now: &str, output: &Output, fault: &Fault) -> Result<u8, PinError> {
    // 1. The digests and every assertion, before any file is read.
    let source = source::digest_set(&source_flags(cli), env)?;
    let set = &source.set;
    let expect = Expectations::parse(
        cli.expect,
        &cli.expect_image,
        cli.allow_missing,
        cli.check,
        set,
    )?;
    if cli.record && set.release.is_none() {
        return Err(PinError::ReleaseRequired);
    }
    let sel = cli.select.selection()?;
    let lock_timeout = cli.lock.timeout()?;
    let trace_id = trace::resolve(
        cli.common.trace_id.as_deref(),
        source.trace.as_deref(),
        trace::random_uuid,
    );
    // 2. With --record, the ledger lock covers the whole run.
    let ledger_state = match (&cli.ledger, cli.record) {
        (Some(path), true) => Some(ledger::open_for_record(path, set, lock_timeout)?),
        _ => None,
    };
    // 3. Every file planned and verified; the counts asserted.
    let tree = plan_tree(&sel, set)?;
    let totals = Totals::of(set, tree.file_plans());
    let warnings = tree.warnings();
    for w in &warnings {
        rollout_core::cli::warn(TOOL, env, &format!("{}: {}", w.file, w.message));
    }
    let mode = if cli.check {
        Mode::Check
    } else if cli.dry_run {
        Mode::DryRun
    } else {
        Mode::Write
    };
    totals.check(set, &expect)?;
    let (changes, any_stale) = tree.changes(mode)?;
    let diff = (mode == Mode::DryRun && cli.diff).then(|| tree.diff());
    // 4. The files replaced all or none, then the ledger record.
    let mut ledger_note = None;
    if mode == Mode::Write {
        let files = tree.write(&cli.select.root, fault)?;
        if let (Some(path), Some((_lock, records))) = (&cli.ledger, &ledger_state) {
            let entry = ledger::Entry {
                set,
                action: source.action,
                totals: &totals,
                files: &files,
                root: &cli.select.root,
                now,
                trace_id: &trace_id,
            };
            ledger_note = Some(ledger::record(path, records, &entry)?);
        }
    }
    let report = PinReport {
        schema_version: SCHEMA_VERSION.into(),
        kind: Kind::PinReport,
        mode,
        release: set.release.clone(),
        generated_at: now.to_string(),
        trace_id,
        root: cli.select.root.display().to_string(),
        images: ledger::images_map(set),
        changed: changes.len() as u64,
        changes,
        per_image: totals.per_image(set),
        total: totals.total(),
        files_changed: tree.changed_files().len() as u64,
        files_scanned: tree.scanned,
        in_sync: totals.changed() == 0 && !any_stale,
        skipped: skipped_docs(&tree.skipped),
        warnings,
        ledger: ledger_note,
        diff,
    };
    cli.common.publish_summary(&markdown(&report), env)?;
    output.emit_serialize(&report)?;
    Ok(verdict_code(mode == Mode::Check && !report.in_sync))
}

fn source_flags(cli: &Cli) -> SourceFlags<'_> {
    SourceFlags {
        baseline: cli.baseline,
        input: cli.common.input.as_deref(),
        sets: &cli.sets,
        ledger: cli.ledger.as_deref(),
        record: cli.record,
        release: cli.release.as_deref(),
        select: &cli.select,
    }
}
