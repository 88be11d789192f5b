//! The `digest-pin` command line and its run sequence.
//!
//! Everything refusable is refused before a byte is written: the digest set, the flags,
//! the ledger (with `--record` its lock is held for the whole run), then every file is read
//! and planned, then the count assertions and the re-scan verification. Only then are the
//! files replaced, all or nothing, and the ledger record appended.

use rollout_core::CoreError;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use indexmap::IndexMap;
use rollout_core::cli::{CommonArgs, Env, LockArgs, resolve_now};
use rollout_core::doc::{Kind, SCHEMA_VERSION};
use rollout_core::fsx::Lock;
use rollout_core::input::{MAX_DOCUMENT_BYTES, Source, as_text, json_error, read_bytes};
use rollout_core::output::{Output, unified_diff};
use rollout_core::time::format_timestamp;
use rollout_core::trace;
use rollout_core::tree::{Fault, Replacement, Tree};
use serde_json::Value;

use crate::error::PinError;
use crate::ledger;
use crate::model::{Action, DigestSet};
use crate::plan::{Change, Expectations, FilePlan, Totals, plan_file};
use crate::reference::ImageSpec;
use crate::report::{
    DigestLedger, DigestScan, DigestSetDoc, FileWarning, Mode, PinReport, Reference, SkippedFile,
    UnattributedDigest, markdown,
};
use crate::scanner::{LineIndex, is_yaml_name, scan_file};
use crate::walk::{self, Candidate, Selection, Skipped};

const TOOL: &str = "digest-pin";

/// The Examples section of `--help` (and of the man page), kept beside the man page's
/// hand-written sections.
const EXAMPLES: &str = include_str!("../doc/digest-pin.examples");

/// Which files to read.
#[derive(Debug, Clone, Args)]
pub struct SelectArgs {
    /// Files or directories to read (default: the root). Named files are always read.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Paths must stay inside this directory; reported paths are relative to it.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub root: PathBuf,
    /// Only walked files whose path (relative to the root) matches a glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Skip walked files whose path matches a glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Also skip what .ignore and .gitignore name among the files git tracks.
    #[arg(long)]
    pub respect_ignore: bool,
}

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
        Some(Command::Scan { select, image }) => scan(cli, env, select, image, &now_text, &output),
        Some(Command::Ledger { ledger, release }) => {
            show_ledger(ledger, release.as_deref(), &output)
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

fn selection(select: &SelectArgs) -> Result<Selection, PinError> {
    let root = walk::root(&select.root)?;
    let paths = if select.paths.is_empty() {
        vec![root.clone()]
    } else {
        select.paths.clone()
    };
    Ok(Selection {
        root,
        paths,
        include: walk::globs("--include", &select.include)?,
        exclude: walk::globs("--exclude", &select.exclude)?,
        respect_ignore: select.respect_ignore,
    })
}

fn skipped_docs(skipped: &[Skipped]) -> Vec<SkippedFile> {
    skipped
        .iter()
        .map(|s| SkippedFile {
            file: s.file.clone(),
            reason: s.reason.to_string(),
        })
        .collect()
}

/// Where the digests come from.
struct Digests {
    set: DigestSet,
    action: Action,
    trace: Option<String>,
}

fn digest_set(cli: &Cli, env: &Env) -> Result<Digests, PinError> {
    let input = cli.common.input.as_deref();
    if cli.baseline {
        if input.is_some() {
            return Err(PinError::from(CoreError::BadValue {
                flag: "--baseline",
                value: String::new(),
                message: "records what the tree pins; it takes no -i".into(),
            }));
        }
        return baseline(cli, env);
    }
    if (!cli.sets.is_empty() || input.is_some()) && cli.ledger.is_some() && !cli.record {
        // The ledger would be silently unused: a forgotten --record, or a rollback that
        // also names the digests.
        return Err(PinError::from(CoreError::BadValue {
            flag: "--ledger",
            value: cli.ledger.as_deref().unwrap_or(Path::new("")).display().to_string(),
            message: "with --set or -i it is only written, so add --record (or drop --set/-i to roll back from it)".into(),
        }));
    }
    if !cli.sets.is_empty() {
        if input.is_some() {
            return Err(PinError::from(CoreError::BadValue {
                flag: "--set",
                value: cli.sets.join(" "),
                message: "give the digests once: --set or -i, not both".into(),
            }));
        }
        return Ok(Digests {
            set: DigestSet::from_flags(&cli.sets, cli.release.clone())?,
            action: Action::Promote,
            trace: None,
        });
    }
    if let Some(spec) = input {
        let src = Source::parse(spec);
        let origin = src.origin();
        let bytes = read_bytes(&src, "a digest-set document", MAX_DOCUMENT_BYTES)?;
        let text = as_text(&bytes, &origin)?;
        // The envelope only; an image given twice is refused by from_document, which names
        // it (digest_set_duplicate_image), so this parse keeps duplicates.
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|e| json_error(&e, &origin))?;
        let mut set = DigestSet::from_document(&doc, text, &origin)?;
        match (&set.release, &cli.release) {
            (Some(a), Some(b)) if a != b => {
                return Err(PinError::from(CoreError::BadValue {
                    flag: "--release",
                    value: b.clone(),
                    message: format!("{origin} is release {a:?}"),
                }));
            }
            (None, Some(b)) => {
                set = DigestSet::from_pairs(
                    set.images
                        .iter()
                        .map(|(i, d)| (i.as_str().to_string(), d.to_string()))
                        .collect(),
                    Some(b.clone()),
                    set.labels.clone(),
                    &origin,
                )?;
            }
            _ => {}
        }
        return Ok(Digests {
            set,
            action: Action::Promote,
            trace: doc
                .get("traceId")
                .and_then(Value::as_str)
                .map(str::to_string),
        });
    }
    match (&cli.ledger, &cli.release) {
        (Some(ledger), Some(release)) => {
            crate::reference::check_release_id(release).map_err(|message| {
                PinError::ReleaseInvalid {
                    id: release.clone(),
                    message,
                }
            })?;
            let records = ledger::read(ledger, true)?;
            let origin = ledger.display().to_string();
            let rec =
                ledger::latest(&records, release).ok_or_else(|| PinError::ReleaseNotInLedger {
                    release: release.clone(),
                    ledger: origin.clone(),
                })?;
            Ok(Digests {
                set: rec.to_set(&format!("{origin} (record {})", rec.seq))?,
                action: Action::from_ledger(&records, release),
                trace: None,
            })
        }
        _ => Err(PinError::NoDigestSource),
    }
}

fn expectations(cli: &Cli, set: &DigestSet) -> Result<Expectations, PinError> {
    let mut per_image = Vec::new();
    for e in &cli.expect_image {
        let bad = |message: &str| {
            PinError::from(CoreError::BadValue {
                flag: "--expect-image",
                value: e.clone(),
                message: message.to_string(),
            })
        };
        let (image, n) = e.rsplit_once('=').ok_or_else(|| bad("expected IMAGE=N"))?;
        let n: u64 = n
            .trim()
            .parse()
            .map_err(|_| bad("N must be a whole number"))?;
        let spec = ImageSpec::parse(image.trim()).map_err(|m| bad(&m))?;
        let i = set
            .images
            .iter()
            .position(|(s, _)| *s == spec)
            .ok_or_else(|| bad("not an image of the digest set"))?;
        per_image.push((i, n));
    }
    Ok(Expectations {
        total: cli.expect,
        per_image,
        allow_missing: cli.allow_missing,
        malformed_is_present: cli.check,
    })
}

/// A file's plan plus the bytes it was made from (kept only when the file changes).
struct Planned {
    plan: FilePlan,
    old: Option<Vec<u8>>,
    skipped: Option<&'static str>,
}

fn pin(cli: &Cli, env: &Env, now: &str, output: &Output, fault: &Fault) -> Result<u8, PinError> {
    let source = digest_set(cli, env)?;
    let set = &source.set;
    let expect = expectations(cli, set)?;
    if cli.record && set.release.is_none() {
        return Err(PinError::ReleaseRequired);
    }
    let sel = selection(&cli.select)?;
    let lock_timeout = cli.lock.timeout()?;
    let trace_id = trace::resolve(
        cli.common.trace_id.as_deref(),
        source.trace.as_deref(),
        trace::random_uuid,
    );

    // With --record, the ledger lock covers the whole run: two recorded rewrites of one
    // tree never interleave, and the ledger is checked before any file is touched.
    let ledger_state = match (&cli.ledger, cli.record) {
        (Some(path), true) => {
            rollout_core::fsx::create_parent(path)?;
            let lock = Lock::acquire(path, lock_timeout)?;
            let records = ledger::read(path, false)?;
            let release = set.release.clone().unwrap_or_default();
            if let Some(r) = records
                .iter()
                .find(|r| r.release == release && r.images != ledger::images_map(set))
            {
                return Err(PinError::LedgerReleaseConflict {
                    release,
                    seq: r.seq,
                });
            }
            Some((lock, records))
        }
        _ => None,
    };

    let (files, skipped) = walk::collect(&sel)?;
    let planned = walk::par_map(&files, |c, buf| plan_one(c, set, buf))?;
    let mut skipped = skipped;
    let mut plans = Vec::new();
    let mut scanned = 0u64;
    for (c, p) in files.iter().zip(planned) {
        match p.skipped {
            Some(reason) => skipped.push(Skipped {
                file: c.rel.clone(),
                reason,
            }),
            None => {
                scanned += 1;
                plans.push((c, p));
            }
        }
    }
    skipped.sort();
    let file_plans: Vec<&FilePlan> = plans.iter().map(|(_, p)| &p.plan).collect();
    let totals = Totals::of(set, file_plans.iter().copied());
    let warnings: Vec<FileWarning> = file_plans
        .iter()
        .filter_map(|p| {
            p.warning.as_ref().map(|m| FileWarning {
                file: p.file.clone(),
                message: m.clone(),
            })
        })
        .collect();
    for w in &warnings {
        rollout_core::cli::warn(TOOL, env, &format!("{}: {}", w.file, w.message));
    }
    let stale: Vec<&Change> = file_plans.iter().flat_map(|p| &p.stale).collect();
    let mode = if cli.check {
        Mode::Check
    } else if cli.dry_run {
        Mode::DryRun
    } else {
        Mode::Write
    };
    totals.check(set, &expect)?;
    if mode != Mode::Check
        && let Some(s) = stale.first()
    {
        return Err(PinError::StalePin {
            file: s.file.clone(),
            line: s.line,
            column: s.column,
            image: s.image.clone(),
            found: s.old.clone(),
            expected: s.new.clone(),
        });
    }
    let mut changes: Vec<Change> = file_plans.iter().flat_map(|p| p.changes.clone()).collect();
    if mode == Mode::Check {
        changes.extend(stale.iter().map(|c| (*c).clone()));
        changes.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    }
    let changed_files: Vec<&(&Candidate, Planned)> = plans
        .iter()
        .filter(|(_, p)| p.plan.new_bytes.is_some())
        .collect();

    let diff = (mode == Mode::DryRun && cli.diff).then(|| {
        changed_files
            .iter()
            .map(|(c, p)| {
                let old = String::from_utf8_lossy(p.old.as_deref().unwrap_or_default());
                let new = String::from_utf8_lossy(p.plan.new_bytes.as_deref().unwrap_or_default());
                unified_diff(&c.rel, &old, &new)
            })
            .collect::<String>()
    });

    let mut ledger_note = None;
    if mode == Mode::Write {
        let replacements: Vec<Replacement> = changed_files
            .iter()
            .map(|(c, p)| Replacement {
                rel: &c.rel,
                old: p.old.as_deref().unwrap_or_default(),
                new: p.plan.new_bytes.as_deref().unwrap_or_default(),
                create: false,
            })
            .collect();
        Tree::open(&cli.select.root)?.replace_all(&replacements, fault)?;
        if let (Some(path), Some((_lock, records))) = (&cli.ledger, &ledger_state) {
            let files: Vec<String> = changed_files.iter().map(|(c, _)| c.rel.clone()).collect();
            ledger_note = Some(ledger::record(
                path,
                records,
                &ledger::Entry {
                    set,
                    action: source.action,
                    totals: &totals,
                    files: &files,
                    root: &cli.select.root,
                    now,
                    trace_id: &trace_id,
                },
            )?);
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
        files_changed: changed_files.len() as u64,
        files_scanned: scanned,
        in_sync: totals.changed() == 0 && stale.is_empty(),
        skipped: skipped_docs(&skipped),
        warnings,
        ledger: ledger_note,
        diff,
    };
    let doc = serde_json::to_value(&report).unwrap_or_default();
    cli.common.publish_summary(&markdown(&report), env)?;
    output.emit(&doc)?;
    Ok(if mode == Mode::Check && !report.in_sync {
        1
    } else {
        0
    })
}

fn plan_one(c: &Candidate, set: &DigestSet, buf: &mut Vec<u8>) -> Result<Planned, PinError> {
    if let Some(reason) = walk::read_into(c, buf)? {
        return Ok(Planned {
            plan: FilePlan::default(),
            old: None,
            skipped: Some(reason),
        });
    }
    let plan = plan_file(&c.rel, buf, is_yaml_name(&c.rel), set);
    let old = plan.new_bytes.is_some().then(|| buf.clone());
    Ok(Planned {
        plan,
        old,
        skipped: None,
    })
}

/// What a walk of the tree found.
struct TreeScan {
    references: Vec<Reference>,
    skipped: Vec<Skipped>,
    warnings: Vec<FileWarning>,
    scanned: u64,
    /// Image → its well-formed digests, sorted.
    by_image: IndexMap<String, Vec<String>>,
    /// Every well-formed digest the files hold, named or not (empty with `--image`).
    loose: Vec<String>,
    /// Digests assigned to variables no use attaches to an image (empty with `--image`).
    unattributed: Vec<UnattributedDigest>,
}

/// The set a `--baseline` records: each image the tree pins, at the one digest it pins.
fn baseline(cli: &Cli, env: &Env) -> Result<Digests, PinError> {
    let tree = scan_tree(env, &cli.select, &[])?;
    let mut pairs = Vec::new();
    for (image, digests) in &tree.by_image {
        if digests.len() > 1 {
            return Err(PinError::BaselineAmbiguous {
                image: image.clone(),
                digests: digests.clone(),
            });
        }
        pairs.push((image.clone(), digests[0].clone()));
    }
    if pairs.is_empty() {
        return Err(PinError::BaselineEmpty {
            root: cli.select.root.display().to_string(),
        });
    }
    Ok(Digests {
        set: DigestSet::from_pairs(pairs, cli.release.clone(), Default::default(), "the tree")?,
        action: Action::Baseline,
        trace: None,
    })
}

fn scan(
    cli: &Cli,
    env: &Env,
    select: &SelectArgs,
    images: &[String],
    now: &str,
    output: &Output,
) -> Result<u8, PinError> {
    let tree = scan_tree(env, select, images)?;
    let mut digests: Vec<String> = tree.by_image.values().flatten().cloned().collect();
    digests.extend(tree.loose);
    digests.sort();
    digests.dedup();
    let doc = DigestScan {
        schema_version: SCHEMA_VERSION.into(),
        kind: Kind::DigestScan,
        generated_at: now.to_string(),
        trace_id: trace::resolve(cli.common.trace_id.as_deref(), None, trace::random_uuid),
        root: select.root.display().to_string(),
        references: tree.references,
        images: tree.by_image,
        digests,
        unattributed: tree.unattributed,
        files_scanned: tree.scanned,
        skipped: skipped_docs(&tree.skipped),
        warnings: tree.warnings,
    };
    output.emit(&serde_json::to_value(&doc).unwrap_or_default())?;
    Ok(0)
}

/// Walk the selection and list every pin (of `images`, or all).
fn scan_tree(env: &Env, select: &SelectArgs, images: &[String]) -> Result<TreeScan, PinError> {
    let specs = images
        .iter()
        .map(|i| {
            ImageSpec::parse(i).map_err(|message| {
                PinError::from(CoreError::BadValue {
                    flag: "--image",
                    value: i.clone(),
                    message,
                })
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let sel = selection(select)?;
    let (files, mut skipped) = walk::collect(&sel)?;
    let found = walk::par_map(&files, |c, bytes| {
        Ok(match walk::read_into(c, bytes)? {
            Some(reason) => Err(reason),
            None => {
                let (pins, warning) = scan_file(bytes, is_yaml_name(&c.rel));
                let loose = if specs.is_empty() {
                    crate::scanner::loose_digests(bytes)
                } else {
                    Vec::new()
                };
                let mut lines = LineIndex::new(bytes);
                let unattributed: Vec<UnattributedDigest> = if specs.is_empty() {
                    crate::scanner::unattributed(bytes, &pins)
                        .into_iter()
                        .map(|v| {
                            let (line, column) = lines.locate(v.start);
                            UnattributedDigest {
                                file: c.rel.clone(),
                                line,
                                column,
                                variable: v.variable,
                                digest: v.digest,
                            }
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                let refs: Vec<Reference> = pins
                    .into_iter()
                    .filter(|p| specs.is_empty() || specs.iter().any(|s| s.matches(&p.image)))
                    .map(|p| {
                        let (line, column) = lines.locate(p.start);
                        Reference {
                            file: c.rel.clone(),
                            line,
                            column,
                            image: p.image,
                            tag: p.tag,
                            digest: p.digest,
                            malformed: p.malformed,
                        }
                    })
                    .collect();
                Ok((refs, warning, loose, unattributed))
            }
        })
    })?;
    let mut references = Vec::new();
    let mut warnings = Vec::new();
    let mut loose = Vec::new();
    let mut unattributed = Vec::new();
    let mut scanned = 0;
    for (c, r) in files.iter().zip(found) {
        match r {
            Err(reason) => skipped.push(Skipped {
                file: c.rel.clone(),
                reason,
            }),
            Ok((refs, warning, digests, floating)) => {
                scanned += 1;
                references.extend(refs);
                loose.extend(digests);
                unattributed.extend(floating);
                if let Some(message) = warning {
                    rollout_core::cli::warn(TOOL, env, &format!("{}: {message}", c.rel));
                    warnings.push(FileWarning {
                        file: c.rel.clone(),
                        message,
                    });
                }
            }
        }
    }
    skipped.sort();
    let mut by_image: IndexMap<String, Vec<String>> = IndexMap::new();
    for r in references.iter().filter(|r| !r.malformed) {
        let list = by_image.entry(r.image.clone()).or_default();
        if !list.contains(&r.digest) {
            list.push(r.digest.clone());
        }
    }
    by_image.sort_keys();
    by_image.values_mut().for_each(|v| v.sort());
    Ok(TreeScan {
        references,
        skipped,
        warnings,
        scanned,
        by_image,
        loose,
        unattributed,
    })
}

fn show_ledger(path: &Path, release: Option<&str>, output: &Output) -> Result<u8, PinError> {
    let records = ledger::read(path, true)?;
    let origin = path.display().to_string();
    let doc = match release {
        Some(id) => {
            let rec = ledger::latest(&records, id).ok_or_else(|| PinError::ReleaseNotInLedger {
                release: id.to_string(),
                ledger: origin.clone(),
            })?;
            let set = rec.to_set(&origin)?;
            serde_json::to_value(DigestSetDoc {
                schema_version: SCHEMA_VERSION.into(),
                kind: Kind::DigestSet,
                release: set.release.clone(),
                images: ledger::images_map(&set),
                labels: set.labels.clone(),
                recorded_at: rec
                    .raw
                    .get("recordedAt")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })
        }
        None => serde_json::to_value(DigestLedger {
            schema_version: SCHEMA_VERSION.into(),
            kind: Kind::DigestLedger,
            ledger: origin,
            records: records.iter().rev().map(|r| r.raw.clone()).collect(),
        }),
    }
    .unwrap_or_default();
    output.emit(&doc)?;
    Ok(0)
}
