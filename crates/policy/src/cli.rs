//! The `policy-apply` command line and its run sequence.
//!
//! Usage errors (flags, governance presence, unreadable decision or schema files) are found
//! before the lock is taken. Under the lock: recovery, the audit tail, the idempotency
//! lookup, then the decision and time checks (so a retry replays even after its decision
//! expired), then the mutation.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rollout_core::cli::{CommonArgs, Env, LockArgs, resolve_now, verdict_code};
use rollout_core::doc::{Kind, SCHEMA_VERSION};
use rollout_core::fsx::write_state_file;
use rollout_core::input::{Source, read_json};
use rollout_core::output::Output;
use rollout_core::time::{Duration, format_timestamp, parse_timestamp};
use rollout_core::{audit, jsonedit, summary, trace};
use serde_json::{Map, Value};

use crate::error::PolicyError;
use crate::model::{
    ApplyRecord, AuditVerification, ChainBreak, Governance, Intent, RegistryRef, Request,
    RolloutChange, Status, dedup_keep_order, to_value,
};
use crate::rules;
use crate::store::{self, Commit, Fault, Paths};

const TOOL: &str = "policy-apply";

/// The Examples section of `--help` (and of the man page), kept beside the man page's
/// hand-written sections.
const EXAMPLES: &str = include_str!("../doc/policy-apply.examples");

/// Change a rollout policy only with a decision, governance and an audit record.
#[derive(Debug, Parser)]
#[command(
    name = "policy-apply",
    version,
    about = "Mutate a rollout policy with governance, exactly once, with a hash-chained audit record",
    long_about = "Apply an operator intent (expand, resume, pause, rollback) to the rollout \
object of a JSON registry: only with a fresh promote decision where one is needed, only with \
governance (actor, approval, rationale, review date), exactly once per idempotency key, and \
with a hash-chained audit record. Only the targeted values of the registry change; every \
other byte stays as it was.",
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// Subcommands.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The registry (JSON) holding the rollout and governance objects.
    #[arg(long, value_name = "FILE", required = true)]
    pub registry: Option<PathBuf>,
    /// What to do.
    #[arg(long, value_enum, required = true)]
    pub intent: Option<Intent>,
    /// expand: percent points to add (1..100; default 25).
    #[arg(long, value_name = "N")]
    pub step: Option<u64>,
    /// rollback: lower the canary to N percent (never raises it).
    #[arg(long, value_name = "N")]
    pub to_percent: Option<u64>,
    /// The gate-decision (expand and resume need a fresh promote); -i FILE also works.
    #[arg(long, value_name = "FILE")]
    pub decision: Option<String>,
    /// Governance: who makes the change.
    #[arg(long, visible_alias = "by", value_name = "NAME")]
    pub actor: Option<String>,
    /// Governance: the approval (ticket, change request).
    #[arg(long, value_name = "REF")]
    pub approval_ref: Option<String>,
    /// Governance: why.
    #[arg(long, value_name = "TEXT")]
    pub rationale: Option<String>,
    /// Governance: when the change must be reviewed (RFC 3339, in the future).
    #[arg(long, value_name = "RFC3339")]
    pub review_by: Option<String>,
    /// Governance: review within DURATION from now (7d, 2w), instead of --review-by.
    #[arg(long, value_name = "DURATION", conflicts_with = "review_by")]
    pub review_in: Option<String>,
    /// Make the request exactly-once: a retry with the same key replays the first record.
    /// Without it, expand and resume derive a key from the decision and the intent.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// Let a decision that already drove this intent drive it again (no key is derived).
    #[arg(long, conflicts_with = "idempotency_key")]
    pub reuse_decision: bool,
    /// Compare-and-swap: refuse unless the registry's revision (sha256 of its bytes) is REV.
    #[arg(long, value_name = "REV")]
    pub expect_revision: Option<String>,
    /// The subject the decision must be for.
    #[arg(long, value_name = "ID")]
    pub subject: Option<String>,
    /// Largest --step allowed.
    #[arg(long, value_name = "N")]
    pub max_step: Option<u64>,
    /// Furthest --review-by allowed from now.
    #[arg(long, value_name = "DURATION", default_value = "90d")]
    pub max_review_window: String,
    /// Oldest decision (generatedAt) accepted, whatever its validUntil says.
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    pub max_decision_age: String,
    /// The hash-chained audit log (default: REGISTRY.audit.jsonl).
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// Also write the latest record to FILE.
    #[arg(long, value_name = "FILE")]
    pub state_file: Option<PathBuf>,
    /// A reference to evidence (repeatable; order kept, duplicates dropped).
    #[arg(long = "evidence-ref", value_name = "REF")]
    pub evidence_refs: Vec<String>,
    /// JSON Pointer of the rollout object.
    #[arg(long, value_name = "PTR", default_value = "/policy/autonomous/rollout")]
    pub rollout_pointer: String,
    /// JSON Pointer of the governance object.
    #[arg(
        long,
        value_name = "PTR",
        default_value = "/policy/autonomous/governance"
    )]
    pub governance_pointer: String,
    /// Validate the mutated registry against this JSON Schema before writing.
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// Compute and print the record; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: include a unified diff of the registry (field "diff").
    #[arg(long, requires = "dry_run")]
    pub diff: bool,
    /// Lock timeout.
    #[command(flatten)]
    pub lock: LockArgs,
    /// Flags every tool takes.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// policy-apply subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify an audit log's hash chain (exit 1 at the first broken record).
    Verify {
        /// The audit log.
        #[arg(long, value_name = "FILE")]
        audit_log: PathBuf,
        /// The registry the log's last record must describe (default: the log's name
        /// without .audit.jsonl, when that file exists).
        #[arg(long, value_name = "FILE")]
        registry: Option<PathBuf>,
        /// JSON pointer of the rollout object in the registry.
        #[arg(long, value_name = "PTR", default_value = "/policy/autonomous/rollout")]
        rollout_pointer: String,
    },
}

/// Entry point of the `policy-apply` binary.
pub fn main() -> ExitCode {
    rollout_core::cli::main(TOOL, |cli: &Cli, env| {
        // The fault-injection hook for crash tests, read here at the edge.
        let fault = std::env::var("POLICY_APPLY_FAULT")
            .ok()
            .and_then(|s| Fault::parse(&s));
        run(cli, env, fault)
    })
}

impl rollout_core::cli::ToolCli for Cli {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

/// The four governance values, or every missing one named in one error.
fn governance_flags(cli: &Cli) -> Result<[&str; 4], PolicyError> {
    fn given(v: &Option<String>) -> Option<&str> {
        v.as_deref().filter(|s| !s.trim().is_empty())
    }
    let review = given(&cli.review_by).or(given(&cli.review_in));
    let values = [
        ("--actor", given(&cli.actor)),
        ("--approval-ref", given(&cli.approval_ref)),
        ("--rationale", given(&cli.rationale)),
        ("--review-by (or --review-in)", review),
    ];
    let flags: Vec<&'static str> = values
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(f, _)| *f)
        .collect();
    if !flags.is_empty() {
        return Err(PolicyError::GovernanceMissing { flags });
    }
    Ok(values.map(|(_, v)| v.unwrap_or_default()))
}

fn bad(flag: &'static str, value: impl ToString, message: &str) -> PolicyError {
    PolicyError::BadValue {
        flag,
        value: value.to_string(),
        message: message.to_string(),
    }
}

/// Run policy-apply with parsed flags; returns the exit code on success.
pub fn run(cli: &Cli, env: &Env, fault: Option<Fault>) -> Result<u8, PolicyError> {
    let now = resolve_now(cli.common.now.as_deref())?;
    let output = cli.common.output(now)?;
    let signing_key = env.signing_key()?;
    if let Some(Command::Verify {
        audit_log,
        registry,
        rollout_pointer,
    }) = &cli.command
    {
        return verify(
            audit_log,
            registry.as_deref(),
            rollout_pointer,
            signing_key,
            now,
            &output,
        );
    }
    let registry_path = cli.registry.clone().unwrap_or_default();
    let intent = cli.intent.unwrap_or(Intent::Pause);

    // 1. Everything refusable without the lock.
    if cli.step.is_some() && intent != Intent::Expand {
        return Err(bad(
            "--step",
            cli.step.unwrap_or(0),
            "only --intent expand takes a step",
        ));
    }
    if cli.to_percent.is_some() && intent != Intent::Rollback {
        return Err(bad(
            "--to-percent",
            cli.to_percent.unwrap_or(0),
            "only --intent rollback takes a target percent",
        ));
    }
    let step = (intent == Intent::Expand).then(|| cli.step.unwrap_or(25));
    if let Some(s) = step {
        if !(1..=100).contains(&s) {
            return Err(bad("--step", s, "must be from 1 to 100"));
        }
        if let Some(max) = cli.max_step
            && s > max
        {
            return Err(PolicyError::StepAboveMax { step: s, max });
        }
    }
    if let Some(p) = cli.to_percent
        && p > 100
    {
        return Err(bad("--to-percent", p, "must be from 0 to 100"));
    }
    let [actor, approval_ref, rationale, review_text] = governance_flags(cli)?;
    let review_by = match &cli.review_in {
        Some(_) => rollout_core::time::add(now, Duration::parse(review_text)?)?,
        None => parse_timestamp(review_text)?,
    };
    let window = Duration::parse(&cli.max_review_window)?;
    let max_decision_age = Some(Duration::parse(&cli.max_decision_age)?);
    let lock_timeout = cli.lock.timeout()?;
    for (flag, ptr) in [
        ("--rollout-pointer", &cli.rollout_pointer),
        ("--governance-pointer", &cli.governance_pointer),
    ] {
        if !ptr.starts_with('/') {
            return Err(bad(flag, ptr, "a JSON Pointer starts with /"));
        }
    }
    let decision_spec = cli.decision.clone().or_else(|| cli.common.input.clone());
    let decision_doc = match &decision_spec {
        Some(spec) => {
            let src = Source::parse(spec);
            Some((read_json(&src, "a gate-decision document")?, src.origin()))
        }
        None if intent.needs_decision() => {
            return Err(PolicyError::DecisionRequired {
                intent: intent.as_str().into(),
            });
        }
        None => None,
    };
    if let Some((doc, origin)) = &decision_doc {
        rollout_core::doc::check_envelope(doc, Kind::GateDecision, origin)?;
    }
    let schema = match &cli.schema {
        None => None,
        Some(path) => {
            let src = Source::File(path.clone());
            let doc = read_json(&src, "a JSON Schema")?;
            let validator =
                jsonschema::validator_for(&doc).map_err(|e| PolicyError::SchemaUnusable {
                    origin: src.origin(),
                    message: e.to_string(),
                })?;
            Some(validator)
        }
    };
    // Every spelling of the registry's path takes the same lock and writes the same file.
    let paths = Paths::new(
        &store::real_registry(&registry_path)?,
        cli.audit_log.as_deref().map(store::real_file).as_deref(),
    );
    let request = Request {
        intent,
        step,
        to_percent: cli.to_percent,
        actor: actor.to_string(),
        approval_ref: approval_ref.to_string(),
        rationale: rationale.to_string(),
        review_by: format_timestamp(review_by),
        review_in: cli.review_in.clone(),
        subject: cli.subject.clone(),
        registry: store::registry_identity(&paths),
        rollout_pointer: cli.rollout_pointer.clone(),
        governance_pointer: cli.governance_pointer.clone(),
    };
    let fingerprint = request.fingerprint();
    // A request without a key of its own is keyed by its decision and intent, so a re-run
    // of a CI job replays instead of expanding again, and one promote decision drives one
    // expand (unless --reuse-decision).
    let derived = decision_doc
        .as_ref()
        .filter(|_| cli.idempotency_key.is_none() && !cli.reuse_decision)
        .and_then(|(doc, _)| {
            crate::model::derived_key(intent, &rollout_core::hash::canonical_digest(doc))
        });
    let idempotency_key = cli.idempotency_key.clone().or(derived.clone());

    // 2. Under the lock: recovery, tail, idempotency. A dry run writes nothing, not even
    //    the lock file, so it reads without the lock and leaves recovery to the next apply.
    let _lock = if cli.dry_run {
        if paths.pending.exists() {
            rollout_core::cli::warn(
                TOOL,
                env,
                "an interrupted apply is pending; the next apply will finish or discard it",
            );
        }
        None
    } else {
        let lock = store::lock(&paths, lock_timeout)?;
        if let Some(note) = store::recover(&paths)? {
            rollout_core::cli::warn(TOOL, env, &note);
        }
        Some(lock)
    };
    let tail = store::tail(&paths, signing_key)?;
    if let Some(key) = &idempotency_key
        && let Some(entry) = store::lookup(&paths, key)?
    {
        if entry.fingerprint != fingerprint {
            let seq = entry.record["seq"].as_u64().unwrap_or(0);
            return Err(match derived {
                Some(_) => PolicyError::DecisionAlreadyUsed {
                    intent: intent.as_str().into(),
                    seq,
                },
                None => PolicyError::IdempotencyConflict {
                    key: key.clone(),
                    seq,
                },
            });
        }
        let mut replay = entry.record;
        replay["status"] = Value::String("replayed".into());
        replay["replayed"] = Value::Bool(true);
        output.emit(&replay)?;
        return Ok(0);
    }

    // 3. Decision and time checks.
    let decision = match &decision_doc {
        Some((doc, origin)) => Some(rules::bind_decision(
            doc,
            origin,
            intent,
            now,
            cli.subject.as_deref(),
            max_decision_age,
            signing_key,
        )?),
        None => None,
    };
    rules::check_review_by(review_by, now, window)?;

    // 4. The mutation.
    let (bytes, revision_before) = store::read_registry(&paths.registry)?;
    let origin = paths.registry.display().to_string();
    if let Some(expected) = &cli.expect_revision
        && expected != &revision_before
    {
        return Err(PolicyError::RevisionConflict {
            expected: expected.clone(),
            actual: revision_before,
        });
    }
    let text = rollout_core::input::as_text(&bytes, &origin)?.to_string();
    jsonedit::check(&text, &origin)?;
    let registry: Value = rollout_core::input::parse_json(text.as_bytes(), &origin)?;
    let before = rules::read_rollout(&registry, &cli.rollout_pointer, &origin)?;
    // (a dry run does not recover an interrupted apply: its journaled record counts)
    let last = store::journaled_record(&paths.registry, &revision_before).or(tail.last.clone());
    if intent.needs_decision()
        && let Some(last) = &last
        && store::describes(last, &paths)
    {
        rules::check_continuity(last, before)?;
    }
    let after = rules::next_state(intent, before, step, cli.to_percent)?;
    let governance = Governance {
        actor: request.actor.clone(),
        approval_ref: request.approval_ref.clone(),
        rationale: request.rationale.clone(),
        changed_at: format_timestamp(now),
        review_by: request.review_by.clone(),
    };
    let changed = before != after;
    let (new_text, revision_after) = if changed {
        let edits = rules::edits(
            &cli.rollout_pointer,
            &cli.governance_pointer,
            &registry,
            after,
            &governance,
        );
        let new_text = jsonedit::apply(&text, &edits, &origin)?;
        let mutated: Value = rollout_core::input::parse_json(new_text.as_bytes(), &origin)?;
        rules::check_invariants(
            &mutated,
            &cli.rollout_pointer,
            &cli.governance_pointer,
            &origin,
        )?;
        if let Some(v) = &schema
            && let Some(err) = v.iter_errors(&mutated).next()
        {
            return Err(PolicyError::SchemaViolation {
                message: format!("{} (at {})", err, err.instance_path()),
            });
        }
        let rev = rollout_core::hash::sha256_bytes(new_text.as_bytes());
        (Some(new_text), rev)
    } else {
        (None, revision_before.clone())
    };
    let trace_id = trace::resolve(
        cli.common.trace_id.as_deref(),
        decision.as_ref().and_then(|d| d.trace_id.as_deref()),
        trace::random_uuid,
    );
    let record = ApplyRecord {
        schema_version: SCHEMA_VERSION.into(),
        kind: Kind::ApplyRecord,
        timestamp: format_timestamp(now),
        status: if changed {
            Status::Applied
        } else {
            Status::Noop
        },
        intent,
        step,
        to_percent: cli.to_percent,
        subject: cli.subject.clone(),
        decision,
        governance,
        rollout: RolloutChange {
            before,
            after,
            changed,
        },
        registry: RegistryRef {
            path: registry_path.display().to_string(),
            revision_before: revision_before.clone(),
            revision_after: revision_after.clone(),
        },
        idempotency_key: idempotency_key.clone(),
        request_fingerprint: fingerprint.clone(),
        trace_id,
        evidence_refs: dedup_keep_order(&cli.evidence_refs),
        replayed: false,
        seq: 0,
        prev_hash: String::new(),
        hash: String::new(),
    };
    let unsealed: Map<String, Value> = to_value(&record).as_object().cloned().unwrap_or_default();
    let sealed = audit::seal(unsealed, &tail, signing_key);

    if cli.dry_run {
        let mut shown = Value::Object(sealed);
        shown["dryRun"] = Value::Bool(true);
        if changed {
            shown["status"] = to_value(&Status::WouldApply);
        }
        if cli.diff {
            let new = new_text.as_deref().unwrap_or(&text);
            let label = registry_path.display().to_string();
            let diff = rollout_core::output::unified_diff(&label, &text, new);
            shown["diff"] = Value::String(diff);
        }
        output.emit(&shown)?;
        return Ok(0);
    }

    // 5. Durable, in the journal's order.
    let key = idempotency_key
        .as_deref()
        .map(|k| (k, fingerprint.as_str()));
    store::commit(
        &paths,
        &Commit {
            record: &sealed,
            registry_text: new_text.as_deref().map(str::as_bytes),
            revision_before: &revision_before,
            revision_after: &revision_after,
            key,
        },
        fault,
    )?;
    let doc = Value::Object(sealed);
    if let Some(path) = &cli.state_file {
        write_state_file(path, &doc)?;
    }
    cli.common.publish_summary(&markdown(&doc), env)?;
    output.emit(&doc)?;
    Ok(0)
}

fn markdown(record: &Value) -> String {
    let r = &record["rollout"];
    format!(
        "## policy-apply: {} ({})\n\n- Canary: {}% → {}%, manual pause: {} → {}\n- Actor: {} · Approval: {} · Review by: {}\n- Audit record {} `{}`\n",
        record["intent"].as_str().unwrap_or_default(),
        record["status"].as_str().unwrap_or_default(),
        r["before"]["canaryPercent"],
        r["after"]["canaryPercent"],
        r["before"]["manualPause"],
        r["after"]["manualPause"],
        summary::cell(record["governance"]["actor"].as_str().unwrap_or_default()),
        summary::cell(
            record["governance"]["approvalRef"]
                .as_str()
                .unwrap_or_default()
        ),
        record["governance"]["reviewBy"]
            .as_str()
            .unwrap_or_default(),
        record["seq"],
        record["hash"].as_str().unwrap_or_default(),
    )
}

fn verify(
    path: &std::path::Path,
    registry: Option<&std::path::Path>,
    rollout_pointer: &str,
    key: Option<&rollout_core::sign::SigningKey>,
    now: jiff::Timestamp,
    output: &Output,
) -> Result<u8, PolicyError> {
    // The registry the chain ends in: named, or the default REGISTRY.audit.jsonl's.
    let registry = match registry {
        Some(r) => Some(r.to_path_buf()),
        None => path
            .to_str()
            .and_then(|p| p.strip_suffix(".audit.jsonl"))
            .map(PathBuf::from)
            .filter(|r| r.is_file()),
    };
    let (records, unkeyed, first_break) = match audit::verify(path, key)? {
        Ok(v) => {
            let mismatch = match (&registry, &v.last) {
                (Some(r), Some(last)) => {
                    let (bytes, revision) = store::read_registry(r)?;
                    let origin = r.display().to_string();
                    let doc = rollout_core::input::parse_json(&bytes, &origin)?;
                    let current = rules::read_rollout(&doc, rollout_pointer, &origin)?;
                    // An apply interrupted after writing the registry and before appending
                    // its record left both in its journal; the next run appends it.
                    let last =
                        store::journaled_record(r, &revision).unwrap_or_else(|| last.clone());
                    rules::check_continuity(&last, current).err()
                }
                _ => None,
            };
            let brk = mismatch.map(|e| ChainBreak {
                line: v.records,
                expected_seq: v.records + 1,
                reason: "registry_mismatch".into(),
                message: e.to_string(),
            });
            (v.records, v.unkeyed, brk)
        }
        Err(b) => (
            b.expected_seq - 1,
            0,
            Some(ChainBreak {
                line: b.line,
                expected_seq: b.expected_seq,
                reason: b.reason.to_string(),
                message: b.message,
            }),
        ),
    };
    let ok = first_break.is_none();
    let doc = AuditVerification {
        schema_version: SCHEMA_VERSION.into(),
        kind: Kind::AuditVerification,
        audit_log: path.display().to_string(),
        verified_at: format_timestamp(now),
        ok,
        records,
        keyed: key.is_some(),
        unkeyed_records: if key.is_some() { unkeyed } else { records },
        registry: registry.map(|r| r.display().to_string()),
        first_break,
    };
    output.emit(&to_value(&doc))?;
    Ok(verdict_code(!ok))
}
