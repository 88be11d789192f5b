//! The `policy-apply` command line and its run sequence.
//!
//! Usage errors (flags, governance presence, unreadable decision or schema files) are found
//! before the lock is taken. Under the lock: recovery, the audit tail, the idempotency
//! lookup, then the decision and time checks (so a retry replays even after its decision
//! expired), then the mutation.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rollout_core::audit;
use rollout_core::cli::{CommonArgs, Env, LockArgs, resolve_now};
use rollout_core::fsx::write_state_file;
use rollout_core::time::{Duration, format_timestamp};
use rollout_core::trace;
use serde_json::Value;

use crate::error::PolicyError;
use crate::governance::GovernanceArgs;
use crate::model::{
    Governance, Intent, PolicyRequest, Request, RequestGovernance, dedup_keep_order,
};
use crate::store::{self, Fault, Paths};
use crate::{TOOL, apply, inputs, report, rules, verify};
use rollout_core::doc::{Kind, SCHEMA_VERSION};

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
    /// Governance: who, on whose approval, why, until when.
    #[command(flatten)]
    pub governance: GovernanceArgs,
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
    /// Check the request only (amounts, governance, review date, pointers) as a run would,
    /// print it as a policy-request document and stop: no registry, decision or lock is
    /// read or written, so an expand needs no decision yet.
    #[arg(long, conflicts_with = "dry_run")]
    pub check: bool,
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
    Verify(verify::VerifyArgs),
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

/// Run policy-apply with parsed flags; returns the exit code on success.
pub fn run(cli: &Cli, env: &Env, fault: Option<Fault>) -> Result<u8, PolicyError> {
    let now = resolve_now(cli.common.now.as_deref())?;
    let output = cli.common.output(now)?;
    let signing_key = env.signing_key()?;
    if let Some(Command::Verify(args)) = &cli.command {
        return args.run(signing_key, now, &output);
    }
    let registry_path = cli.registry.clone().unwrap_or_default();
    let intent = cli.intent.unwrap_or(Intent::Pause);

    // 1. Everything refusable from the flags alone (`--check` stops here), then the files.
    let flags = check_flags(cli, intent, now)?;
    if cli.check {
        rules::check_review_by(flags.review_by, now, flags.window)?;
        output.emit_serialize(&checked(cli, intent, &flags, now))?;
        return Ok(0);
    }
    let decision_spec = cli.decision.clone().or_else(|| cli.common.input.clone());
    let decision_doc = inputs::read_decision(decision_spec.as_deref(), intent)?;
    let schema = cli.schema.as_deref().map(inputs::read_schema).transpose()?;
    // Every spelling of the registry's path takes the same lock and writes the same file.
    let paths = Paths::new(
        &store::real_registry(&registry_path)?,
        cli.audit_log.as_deref().map(store::real_file).as_deref(),
    );
    let request = request(cli, intent, &flags, &paths);
    let key = apply::Key::of(
        &request,
        cli.idempotency_key.as_deref(),
        cli.reuse_decision,
        decision_doc.as_ref().map(|(d, _)| d),
    );

    // 2. Under the lock: recovery, tail, idempotency. A dry run writes nothing, not even
    //    the lock file, so it reads without the lock and leaves recovery to the next apply.
    let _lock = store::lock_for_apply(&paths, flags.lock_timeout, cli.dry_run, &mut |note| {
        rollout_core::cli::warn(TOOL, env, note)
    })?;
    let tail = store::tail(&paths, signing_key)?;
    if let Some(replay) = apply::replay(&paths, &key, intent)? {
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
            flags.max_decision_age,
            signing_key,
        )?),
        None => None,
    };
    rules::check_review_by(flags.review_by, now, flags.window)?;

    // 4. The mutation, checked against the invariants and the schema; the sealed record.
    let registry = apply::Registry::read(
        &paths,
        cli.expect_revision.as_deref(),
        &cli.rollout_pointer,
        &cli.governance_pointer,
    )?;
    let governance = Governance::written(&request, now);
    let change = registry.mutate(&paths, &tail, &request, &governance, schema.as_ref())?;
    let trace_id = trace::resolve(
        cli.common.trace_id.as_deref(),
        decision.as_ref().and_then(|d| d.trace_id.as_deref()),
        trace::random_uuid,
    );
    let record = change.record(apply::Context {
        registry_path: &registry_path,
        request: &request,
        decision,
        governance,
        key: &key,
        timestamp: format_timestamp(now),
        trace_id,
        evidence_refs: dedup_keep_order(&cli.evidence_refs),
    })?;
    let sealed = audit::seal(record, &tail, signing_key);
    if cli.dry_run {
        let label = registry_path.display().to_string();
        output.emit(&change.dry_run_view(sealed, cli.diff.then_some(label.as_str())))?;
        return Ok(0);
    }

    // 5. Durable, in the journal's order.
    change.commit(&paths, &sealed, &key, fault)?;
    let doc = Value::Object(sealed);
    if let Some(path) = &cli.state_file {
        write_state_file(path, &doc)?;
    }
    cli.common.publish_summary(&report::markdown(&doc), env)?;
    output.emit(&doc)?;
    Ok(0)
}

/// The flag values stage 1 checked.
struct Flags<'a> {
    step: Option<u64>,
    who: [&'a str; 3],
    review_by: jiff::Timestamp,
    window: Duration,
    max_decision_age: Option<Duration>,
    lock_timeout: Duration,
}

/// Every check the flags alone allow: amounts, governance, limits, pointers.
fn check_flags(cli: &Cli, intent: Intent, now: jiff::Timestamp) -> Result<Flags<'_>, PolicyError> {
    let step = rules::check_amounts(intent, cli.step, cli.to_percent, cli.max_step)?;
    let (who, review_by) = cli.governance.check(now)?;
    let flags = Flags {
        step,
        who,
        review_by,
        window: Duration::parse(&cli.max_review_window)?,
        max_decision_age: Some(Duration::parse(&cli.max_decision_age)?),
        lock_timeout: cli.lock.timeout()?,
    };
    rules::check_pointers(&cli.rollout_pointer, &cli.governance_pointer)?;
    Ok(flags)
}

/// `--check`'s document: the request as this run accepted it.
fn checked(cli: &Cli, intent: Intent, flags: &Flags, now: jiff::Timestamp) -> PolicyRequest {
    let [actor, approval_ref, rationale] = flags.who.map(str::to_string);
    PolicyRequest {
        schema_version: SCHEMA_VERSION.to_string(),
        kind: Kind::PolicyRequest,
        timestamp: format_timestamp(now),
        trace_id: trace::resolve(cli.common.trace_id.as_deref(), None, trace::random_uuid),
        intent,
        step: flags.step,
        to_percent: cli.to_percent,
        subject: cli.subject.clone(),
        idempotency_key: cli.idempotency_key.clone(),
        governance: RequestGovernance {
            actor,
            approval_ref,
            rationale,
            review_by: format_timestamp(flags.review_by),
        },
        evidence_refs: dedup_keep_order(&cli.evidence_refs),
    }
}

/// The request as its fingerprint sees it.
fn request(cli: &Cli, intent: Intent, flags: &Flags, paths: &Paths) -> Request {
    let [actor, approval_ref, rationale] = flags.who;
    Request {
        intent,
        step: flags.step,
        to_percent: cli.to_percent,
        actor: actor.to_string(),
        approval_ref: approval_ref.to_string(),
        rationale: rationale.to_string(),
        review_by: format_timestamp(flags.review_by),
        review_in: cli.governance.review_in.clone(),
        subject: cli.subject.clone(),
        registry: store::registry_identity(paths),
        rollout_pointer: cli.rollout_pointer.clone(),
        governance_pointer: cli.governance_pointer.clone(),
    }
}
