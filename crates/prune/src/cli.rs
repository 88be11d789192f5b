//! The `prune-plan` command line and its run sequence.
//!
//! Flags, regexes, globs and protection files are checked before the listing is read; the
//! plan is computed in memory; the summary is written and the plan printed; a plan over the
//! threshold is printed too, then refused with exit 3. The tool never calls the registry.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use rollout_core::CoreError;
use rollout_core::cli::{CommonArgs, Env, resolve_now, warn};
use rollout_core::doc::{Kind, check_envelope};
use rollout_core::input::{Source, open, read_json};
use rollout_core::output::write_stdout;
use rollout_core::time::Duration;
use rollout_core::trace;

use crate::error::PruneError;
use crate::inputs;
use crate::listing::{Listing, MAX_LISTING_BYTES, check_package_name, is_login, read_listing};
use crate::plan::{Action, plan};
use crate::report::{Envelope, InputDoc, Owner, commands, delete_commands, document, markdown};
use crate::reviewed;
use crate::rules::{RuleArgs, Rules, Untagged};

const TOOL: &str = "prune-plan";

/// The Examples section of `--help` (and of the man page), kept beside the man page's
/// hand-written sections.
const EXAMPLES: &str = include_str!("../doc/prune-plan.examples");

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The prune-plan document.
    Json,
    /// One delete command per version: `gh api -X DELETE …`, or `skopeo delete …` for an
    /// OCI repository.
    Commands,
}

/// Plan a registry clean-up: what may be deleted, and why the rest is kept.
#[derive(Debug, Parser)]
#[command(
    name = "prune-plan",
    version,
    about = "Plan a registry clean-up that never deletes what is still in use",
    long_about = "Read a container registry inventory (the GitHub Packages versions listing, \
every page of it, or any OCI repository's tags from image-resolve tags --digests) and print a prune-plan: the versions a rule selects that are old enough and \
unprotected, and every other version with the reason it is kept. Protection comes from tags \
(--protect-tag), from the digests a repository still pins or may roll back to \
(--protect-digests: a digest-pin scan, digest set, ledger or plain list), from the newest N \
per group (--keep-latest, --keep-per), and from image indexes (--manifests) and signature \
tags, so a multi-arch image never loses a platform. Over --max-delete candidates, the plan \
is refused. prune-plan never deletes anything itself: --format commands prints the gh api \
calls (skopeo delete for an OCI repository) for a reviewed plan.",
    after_help = EXAMPLES
)]
pub struct Cli {
    /// The package of a bare listing, or the one package to take from a {"PKG": [...]} map.
    #[arg(long, value_name = "NAME")]
    pub package: Option<String>,
    /// Select versions with a tag matching GLOB (repeatable; * ? [..] as in the shell).
    #[arg(long = "match", value_name = "GLOB")]
    pub globs: Vec<String>,
    /// Untagged versions: keep (default) or delete like a matched tag.
    #[arg(long, value_enum, value_name = "keep|delete", default_value = "keep")]
    pub untagged: Untagged,
    /// Only versions created strictly before now minus DURATION are candidates.
    #[arg(long, value_name = "DURATION", default_value = "14d")]
    pub older_than: String,
    /// Keep versions with a tag matching REGEX (repeatable; adds to the default
    /// ^[0-9a-f]{40}$; `none` drops the default).
    #[arg(long = "protect-tag", value_name = "REGEX|none")]
    pub protect_tags: Vec<String>,
    /// Keep versions whose digest the FILE lists: a digest-scan, digest-set or
    /// digest-ledger from digest-pin, a digest-pin ledger (JSONL), or one digest per line.
    #[arg(long = "protect-digests", value_name = "FILE")]
    pub protect_digests: Vec<PathBuf>,
    /// Keep the N newest selected versions (per group with --keep-per).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_latest: Option<u32>,
    /// Group versions for --keep-latest by the first capture of REGEX over their tags.
    #[arg(long, value_name = "REGEX", requires = "keep_latest")]
    pub keep_per: Option<String>,
    /// Keep the child manifests of kept image indexes: {"INDEX_DIGEST": [CHILD_DIGEST...]}.
    #[arg(long, value_name = "FILE")]
    pub manifests: Option<PathBuf>,
    /// Refuse the plan (exit 3) when more versions than N would be deleted.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub max_delete: usize,
    /// json (the plan) or commands (gh api -X DELETE lines).
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
    /// The delete commands of this reviewed plan (with --format commands), after checking
    /// that -i is the listing it was made from; nothing is planned again.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["globs", "protect_digests", "manifests", "keep_latest", "protect_tags"])]
    pub plan: Option<PathBuf>,
    /// With --format commands: the organisation that owns the packages.
    #[arg(long, value_name = "ORG", conflicts_with = "user")]
    pub org: Option<String>,
    /// With --format commands: the user that owns the packages.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Flags every tool takes.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Entry point of the `prune-plan` binary.
pub fn main() -> ExitCode {
    rollout_core::cli::main(TOOL, |cli: &Cli, env| run(cli, env))
}

impl rollout_core::cli::ToolCli for Cli {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

fn owner(cli: &Cli) -> Result<Owner, PruneError> {
    let check = |flag: &'static str, v: &str| {
        if is_login(v) {
            Ok(())
        } else {
            Err(PruneError::from(CoreError::BadValue {
                flag,
                value: v.to_string(),
                message: "expected a GitHub login (letters, digits, '-', '_')".into(),
            }))
        }
    };
    if let Some(o) = &cli.org {
        check("--org", o)?;
        return Ok(Owner::Org(o.clone()));
    }
    if let Some(u) = &cli.user {
        check("--user", u)?;
        return Ok(Owner::User(u.clone()));
    }
    Ok(Owner::FromListing)
}

/// Run prune-plan with parsed flags; returns the exit code on success.
pub fn run(cli: &Cli, env: &Env) -> Result<u8, PruneError> {
    let now = resolve_now(cli.common.now.as_deref())?;
    if cli.format == Format::Commands && cli.common.jq.is_some() {
        let jq = cli.common.jq.as_deref().unwrap_or_default();
        let why = "filters the JSON plan; it cannot be used with --format commands";
        return Err(CoreError::bad_value("--jq", jq, why).into());
    }
    if cli.format == Format::Json && (cli.org.is_some() || cli.user.is_some()) {
        return Err(PruneError::from(CoreError::bad_value(
            if cli.org.is_some() { "--org" } else { "--user" },
            cli.org.clone().or(cli.user.clone()).unwrap_or_default(),
            "names the owner in the delete commands; give --format commands",
        )));
    }
    let output = cli.common.output(now)?;
    let owner = owner(cli)?;
    if let Some(p) = &cli.package {
        check_package_name(p).map_err(|m| CoreError::bad_value("--package", p, m))?;
    }

    if let Some(path) = &cli.plan {
        return run_reviewed(cli, path, &owner);
    }

    // 1. Rules and protections, before the (possibly large) listing is read.
    let args = RuleArgs {
        globs: cli.globs.clone(),
        untagged_delete: cli.untagged == Untagged::Delete,
        older_than: Some(Duration::parse(&cli.older_than)?),
        protect_tags: cli.protect_tags.clone(),
        keep_latest: cli.keep_latest.map(|n| n as usize),
        keep_per: cli.keep_per.clone(),
        max_delete: cli.max_delete,
    };
    let mut rules = Rules::compile(&args, now)?;
    inputs::protections(
        &mut rules,
        &cli.protect_digests,
        cli.manifests.as_deref(),
        &mut |w| warn(TOOL, env, w),
    )?;

    // 2. The listing, streamed.
    let (listing, origin) = listing_of(cli)?;
    let input = InputDoc {
        source: origin.clone(),
        sha256: listing.sha256,
    };
    let packages = listing.packages;
    if cli.format == Format::Commands && packages.iter().any(|p| p.name.is_none()) {
        return Err(PruneError::from(CoreError::bad_value(
            "--package",
            String::new(),
            "the listing does not name its package (no version URLs); give --package NAME for the delete commands",
        )));
    }

    // 3. Plan (pure), summarise, print.
    let planned = plan(&packages, &rules);
    let trace_id = trace::resolve(cli.common.trace_id.as_deref(), None, trace::random_uuid);
    let doc = document(
        &planned,
        &rules,
        Envelope {
            now,
            trace_id,
            input,
        },
    );
    cli.common.publish_summary(&markdown(&doc), env)?;
    let refused = doc.action == Action::RefusedThreshold;
    // On a refusal stderr carries only the error line (CONTRACT.md §4).
    if !refused {
        eprintln!("{TOOL}: {}", count_line(&doc.summary));
    }
    match cli.format {
        Format::Json => output.emit_serialize(&doc)?,
        Format::Commands if !refused => {
            let mut text = String::new();
            for line in commands(&planned, &owner) {
                text.push_str(&line);
                text.push('\n');
            }
            write_stdout(text.as_bytes())?;
        }
        Format::Commands => {}
    }
    if refused {
        return Err(PruneError::Threshold {
            candidates: planned.candidates,
            max: rules.max_delete,
            plan_printed: cli.format == Format::Json,
        });
    }
    Ok(0)
}

/// The listing of `-i` (stdin when not given), streamed and hashed.
fn listing_of(cli: &Cli) -> Result<(Listing, String), PruneError> {
    let source = Source::parse(cli.common.input.as_deref().unwrap_or("-"));
    let origin = source.origin();
    let reader = open(&source, "a package versions listing (JSON)")?;
    let listing = read_listing(reader, &origin, cli.package.as_deref(), MAX_LISTING_BYTES)?;
    Ok((listing, origin))
}

/// `--plan FILE --format commands`: the reviewed plan's deletions as commands.
fn run_reviewed(cli: &Cli, path: &Path, owner: &Owner) -> Result<u8, PruneError> {
    if cli.format != Format::Commands {
        return Err(PruneError::from(CoreError::bad_value(
            "--plan",
            path.display().to_string(),
            "turns a reviewed plan into delete commands: give --format commands",
        )));
    }
    let source = Source::File(path.to_path_buf());
    let plan_origin = source.origin();
    let plan = read_json(&source, "a prune-plan document")?;
    check_envelope(&plan, Kind::PrunePlan, &plan_origin)?;
    let (listing, origin) = listing_of(cli)?;
    let deletions = reviewed::deletions(&plan, &plan_origin, &listing)?;
    let lines = delete_commands(deletions, owner);
    eprintln!(
        "{TOOL}: {} deletion(s) from the reviewed plan {} ({} is the listing it was made from)",
        lines.len(),
        rollout_core::cli::one_line(&plan_origin),
        rollout_core::cli::one_line(&origin)
    );
    let mut text = String::new();
    for line in lines {
        text.push_str(&line);
        text.push('\n');
    }
    write_stdout(text.as_bytes())?;
    Ok(0)
}

/// The one-line count on stderr: versions, packages, candidates, kept, by reason.
fn count_line(s: &crate::report::SummaryDoc) -> String {
    let reasons = if s.by_reason.is_empty() {
        String::new()
    } else {
        let each: Vec<String> = s
            .by_reason
            .iter()
            .map(|(r, n)| format!("{} {n}", r.as_str()))
            .collect();
        format!(" ({})", each.join(", "))
    };
    format!(
        "{} version(s) in {} package(s): {} candidate(s), {} kept{reasons}",
        s.total_versions, s.packages, s.candidates, s.keep
    )
}
