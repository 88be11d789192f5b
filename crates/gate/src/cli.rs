//! The `gate-eval` command line: flags, the run sequence, and what is written when.
//!
//! Order matters for "nothing changed on failure": everything that can be refused (flags,
//! gates file, params, jq, input) is checked before anything is written; then the state file
//! and history are written, then the summary, then the decision is printed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indexmap::IndexMap;
use rollout_core::cli::{CommonArgs, Env, LockArgs, resolve_now, verdict_code};
use rollout_core::doc::{Kind, SCHEMA_VERSION};
use rollout_core::fsx::{append_jsonl_locked, write_state_file};
use rollout_core::hash::{canonical_digest, sha256_bytes};
use rollout_core::input::{MAX_DOCUMENT_BYTES, Source, as_text, read_bytes};
use rollout_core::output::{Output, write_stdout};
use rollout_core::time::{Duration, add, format_timestamp};
use rollout_core::trace;
use serde_json::{Value, json};

use crate::decision::{
    EvidenceInput, GateDecision, GatesInput, Inputs, Summary, Verdict, markdown,
};
use crate::engine::{Runner, evaluate};
use crate::error::GateError;
use crate::evidence::{attach, empty_root, parse_args, read_root};
use crate::params::{resolve, split_assignment};
use crate::plan::{build, parse_gates};
use crate::presets::{PRESETS, find, names};

const TOOL: &str = "gate-eval";

/// The Examples section of `--help` (and of the man page), kept beside the man page's
/// hand-written sections.
const EXAMPLES: &str = include_str!("../doc/gate-eval.examples");

/// Evaluate promotion gates over JSON evidence and print a gate-decision.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "gate-eval",
    version,
    about = "Evaluate promotion gates over JSON evidence and print a gate-decision",
    long_about = "Evaluate declarative promotion gates (a gates file, or a built-in preset) over \
JSON evidence and print a gate-decision document: promote or hold, every failed gate with \
its reason codes, and each check's observed value and limit. Every check is evaluated, so a \
hold lists every reason. A missing or unparseable evidence file fails the gates that need it \
(fail-closed) instead of failing the run.",
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// Subcommands.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The gates file (JSON or YAML, kind: gates).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "preset",
        conflicts_with = "preset"
    )]
    pub gates: Option<PathBuf>,
    /// A built-in gates file (see: gate-eval presets).
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    /// Add the document at PATH to the evidence as .NAME (a .jsonl file is an array of records).
    #[arg(long = "evidence", value_name = "NAME=PATH")]
    pub evidence: Vec<String>,
    /// Override a param of the gates file (type-checked).
    #[arg(long = "set", value_name = "PARAM=VALUE")]
    pub set: Vec<String>,
    /// What is being decided on (a release, a fleet); policy-apply checks it.
    #[arg(long, value_name = "ID")]
    pub subject: Option<String>,
    /// How long the decision stays valid (validUntil = generatedAt + TTL).
    #[arg(long, value_name = "DURATION", default_value = "60m")]
    pub ttl: String,
    /// Longest the expressions may run, sources' filters included (then exit 2).
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub eval_timeout: String,
    /// Most memory the run may hold while evaluating (then exit 2; Linux).
    #[arg(long, value_name = "SIZE", default_value = "2GiB")]
    pub max_memory: String,
    /// Exit 1 on hold (after printing and persisting the decision).
    #[arg(long)]
    pub fail_on_hold: bool,
    /// Write the decision to FILE (atomically).
    #[arg(long, value_name = "FILE")]
    pub state_file: Option<PathBuf>,
    /// Append the decision to a JSONL FILE (under a lock).
    #[arg(long, value_name = "FILE")]
    pub history_file: Option<PathBuf>,
    /// Lock timeout.
    #[command(flatten)]
    pub lock: LockArgs,
    /// Flags every tool takes.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// gate-eval subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// List the built-in presets, or print one preset's gates file.
    Presets {
        /// Print this preset's gates file (YAML) instead of the list.
        name: Option<String>,
    },
}

/// Entry point of the `gate-eval` binary.
pub fn main() -> ExitCode {
    rollout_core::cli::main(TOOL, |cli: &Cli, env| run_bounded(cli, env))
}

impl rollout_core::cli::ToolCli for Cli {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

/// Run gate-eval with parsed flags; returns the exit code on success.
/// Run gate-eval on a worker thread with a stack larger than the memory bound, and stop it
/// when it goes past `--eval-timeout` or `--max-memory` ([`crate::budget`]).
pub fn run_bounded(cli: &Cli, env: &Env) -> Result<u8, GateError> {
    let timeout = Duration::parse(&cli.eval_timeout)?;
    let max_memory = crate::budget::parse_size(&cli.max_memory).map_err(|message| {
        GateError::Core(rollout_core::CoreError::usage(format!(
            "--max-memory: {message}"
        )))
    })?;
    let budget = std::sync::Arc::new(crate::budget::Budget::new(
        std::time::Duration::from_secs(timeout.as_secs().max(1) as u64),
        max_memory,
        (cli.eval_timeout.clone(), cli.max_memory.clone()),
    ));
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = {
        let (cli, env, budget) = (cli.clone(), env.clone(), std::sync::Arc::clone(&budget));
        std::thread::Builder::new()
            .name("gate-eval".into())
            .stack_size(budget.stack_bytes())
            .spawn(move || {
                let _ = tx.send(run(&cli, &env, &budget));
            })
    };
    worker.map_err(|e| {
        GateError::Core(rollout_core::CoreError::usage(format!(
            "cannot start the evaluation ({e}); lower --max-memory"
        )))
    })?;
    loop {
        match rx.recv_timeout(crate::budget::POLL) {
            Ok(result) => return result,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if let Some(e) = budget.exceeded(
                    std::time::Instant::now(),
                    rollout_core::resources::resident_bytes(),
                ) {
                    return Err(e);
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(GateError::Core(rollout_core::CoreError::usage(
                    "the evaluation stopped unexpectedly (see the message above)",
                )));
            }
        }
    }
}

/// Run gate-eval with parsed flags within `budget`; returns the exit code on success.
pub fn run(cli: &Cli, env: &Env, budget: &crate::budget::Budget) -> Result<u8, GateError> {
    let now = resolve_now(cli.common.now.as_deref())?;
    let output = cli.common.output(now)?;
    if let Some(Command::Presets { name }) = &cli.command {
        return list_presets(name.as_deref(), &output).map(|_| 0);
    }

    // 1. Everything that can be refused, before anything is read or written.
    let ttl = Duration::parse(&cli.ttl)?;
    let lock_timeout = cli.lock.timeout()?;
    let (text, origin, source_label) = load_gates_text(cli)?;
    let file = parse_gates(&text, &origin)?;
    let sets = cli
        .set
        .iter()
        .map(|a| split_assignment("--set", a))
        .collect::<Result<Vec<_>, _>>()?;
    let params = resolve(&file.params, &sets)?;
    let plan = build(&file, &params, &origin)?;
    let evidence_args = parse_args(&cli.evidence)?;
    let valid_until = add(now, ttl)?;

    // 2. Evidence.
    let (mut root, input_info) = evidence_root(cli, evidence_args.is_empty())?;
    let inherited_trace = root
        .get("traceId")
        .and_then(Value::as_str)
        .map(str::to_string);
    let params_jq: Value = params.iter().map(|(k, v)| (k.clone(), v.to_jq())).collect();
    budget.arm();
    let loader = Runner::new(&plan, &params_jq, &Value::Null, now);
    let sources = attach(&mut root, &evidence_args, &plan.sources, &loader)?;
    let sources_json = serde_json::to_value(&sources).unwrap_or(Value::Null);

    // 3. Decide (pure).
    let runner = Runner::new(&plan, &params_jq, &sources_json, now).with_budget(budget);
    let gates = evaluate(&runner, &root, now);
    drop(runner);
    let summary_doc = Summary::of(&gates);
    let decision = GateDecision {
        schema_version: SCHEMA_VERSION.into(),
        kind: Kind::GateDecision,
        generated_at: format_timestamp(now),
        valid_until: format_timestamp(valid_until),
        trace_id: trace::resolve(
            cli.common.trace_id.as_deref(),
            inherited_trace.as_deref(),
            trace::random_uuid,
        ),
        subject: cli.subject.clone(),
        inputs: Inputs {
            gates: GatesInput {
                source: source_label,
                digest: sha256_bytes(text.as_bytes()),
            },
            input: input_info,
            sources,
            evidence: EvidenceInput {
                digest: canonical_digest(&root),
            },
        },
        params: params
            .iter()
            .map(|(k, v)| (k.clone(), v.to_doc()))
            .collect::<IndexMap<_, _>>(),
        summary: summary_doc,
        gates,
        signature: None,
    };
    let mut doc = Value::Object(rollout_core::doc::to_object(&decision)?);
    if let Some(key) = env.signing_key()? {
        key.sign_in_place(&mut doc);
    }

    // 4. Persist, summarise, print: nothing of the budget is spent on writing.
    budget.disarm();
    if let Some(path) = &cli.state_file {
        write_state_file(path, &doc)?;
    }
    if let Some(path) = &cli.history_file {
        append_jsonl_locked(path, &doc, lock_timeout)?;
    }
    cli.common.publish_summary(&markdown(&decision), env)?;
    output.emit(&doc)?;
    let hold = decision.summary.decision == Verdict::Hold;
    if hold && env.github_actions {
        rollout_core::cli::warn(
            TOOL,
            env,
            &format!("hold: {}", decision.summary.reason_codes.join(", ")),
        );
    }
    Ok(verdict_code(hold && cli.fail_on_hold))
}

/// The evidence root: `-i`, else stdin when no `--evidence` names the evidence, else an
/// empty root; with what the report says of it.
fn evidence_root(
    cli: &Cli,
    no_evidence_flags: bool,
) -> Result<(Value, Option<crate::decision::FileInput>), GateError> {
    let root_input = match &cli.common.input {
        Some(spec) => Some(read_root(&Source::parse(spec))?),
        None if no_evidence_flags => Some(read_root(&Source::Stdin)?),
        None => None,
    };
    Ok(match root_input {
        Some(r) => (r.value, Some(r.info)),
        None => (empty_root(), None),
    })
}

fn load_gates_text(cli: &Cli) -> Result<(String, String, String), GateError> {
    if let Some(name) = &cli.preset {
        let p = find(name).ok_or_else(|| GateError::UnknownPreset {
            name: name.clone(),
            known: names(),
        })?;
        let label = format!("preset:{}", p.name);
        return Ok((p.text.to_string(), label.clone(), label));
    }
    let path = cli.gates.clone().unwrap_or_default();
    let source = Source::File(path.clone());
    let bytes = read_bytes(&source, "a gates file", MAX_DOCUMENT_BYTES)?;
    let origin = source.origin();
    let text = as_text(&bytes, &origin)?.to_string();
    Ok((text, origin.clone(), path.display().to_string()))
}

fn list_presets(name: Option<&str>, output: &Output) -> Result<(), GateError> {
    if let Some(name) = name {
        let p = find(name).ok_or_else(|| GateError::UnknownPreset {
            name: name.to_string(),
            known: names(),
        })?;
        write_stdout(p.text.as_bytes())?;
        return Ok(());
    }
    let mut presets = Vec::new();
    for p in PRESETS {
        let file = parse_gates(p.text, &format!("preset:{}", p.name))?;
        let params: IndexMap<String, Value> = file
            .params
            .iter()
            .map(|(k, s)| {
                (
                    k.clone(),
                    json!({"type": s.ty.as_str(), "default": s.default}),
                )
            })
            .collect();
        presets.push(json!({
            "name": p.name,
            "summary": p.summary,
            "gates": file.gates.iter().map(|g| g.id.clone()).collect::<Vec<_>>(),
            "params": params,
        }));
    }
    let doc =
        json!({"schemaVersion": SCHEMA_VERSION, "kind": Kind::PresetList, "presets": presets});
    output.emit(&doc)?;
    Ok(())
}
