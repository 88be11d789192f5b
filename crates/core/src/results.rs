//! The documents the shell entry points write: `orchestrate-result` (rollout-orchestrate)
//! and `gate-config-result` (rollout-gate-config). The scripts build them; their shapes
//! live here, once, so `xtask schemas` publishes a schema for each (`schemas/`) and the
//! integration tests hold what the scripts print to it, as for every tool's document.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::doc::Kind;

/// rollout-orchestrate's result (kind `orchestrate-result`): what one rollout step really
/// did, written also when a stage fails.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrchestrateResult {
    /// Always `v1`.
    pub schema_version: String,
    /// Always `orchestrate-result`.
    pub kind: Kind,
    /// When the run started: the clock of its first tool (policy-apply --check, or gate-eval
    /// in a dry run), RFC 3339; null when the run failed before any tool ran.
    pub timestamp: Option<String>,
    /// The one trace id of every stage: `--trace-id`, `ROLLOUT_TRACE_ID`, else the first
    /// tool's; null when none was given and no tool ran.
    pub trace_id: Option<String>,
    /// `--mode` (null when it was missing or wrong: the run failed at its arguments).
    pub mode: Option<OrchestrateMode>,
    /// What happened.
    pub status: OrchestrateStatus,
    /// `--registry`.
    pub registry: Option<String>,
    /// `--subject`.
    pub subject: Option<String>,
    /// The decision stage (gate-eval), when it ran.
    pub decision: Option<DecisionSummary>,
    /// The apply stage (policy-apply), when it ran.
    pub apply: Option<RecordSummary>,
    /// The verification stage (health-probe, then gate-eval runtime-health), when it ran.
    pub verification: Option<Verification>,
    /// The rollback, when one ran.
    pub rollback: Option<Rollback>,
    /// Where every document of the run is (null: not written).
    pub files: OrchestrateFiles,
    /// The failing stage, when one failed.
    pub error: Option<StageError>,
}

/// `--mode`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OrchestrateMode {
    /// Decide only.
    DryRun,
    /// Decide, apply, verify.
    Apply,
    /// Roll back.
    Rollback,
}

/// What an orchestration did.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OrchestrateStatus {
    /// A dry run's decision.
    Preview,
    /// The decision was hold: nothing applied.
    Held,
    /// The intent was applied.
    Applied,
    /// It was already so.
    Noop,
    /// The idempotency key was used before: its first record, nothing changed.
    Replayed,
    /// Rolled back.
    RolledBack,
    /// A stage failed (`error` names it).
    Failed,
}

/// A gate-eval decision, in short.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecisionSummary {
    /// promote or hold.
    pub decision: String,
    /// The reason codes of the decision.
    pub reason_codes: Vec<String>,
    /// The gates that failed.
    pub failed_gates: Vec<String>,
    /// The decision document.
    pub file: String,
}

/// A policy-apply record, in short.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordSummary {
    /// The intent applied.
    pub intent: String,
    /// applied, noop or replayed.
    pub status: String,
    /// A retry of a key.
    pub replayed: bool,
    /// The audit record's sequence number.
    pub seq: u64,
    /// The idempotency key, if any.
    pub idempotency_key: Option<String>,
    /// The rollout before (an apply-record's `rollout.before`).
    pub before: Value,
    /// The rollout after.
    pub after: Value,
    /// The record document.
    pub file: String,
}

/// The verification of the runtime after an apply.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Verification {
    /// Always true when present.
    pub ran: bool,
    /// health-probe's summary.
    pub health: Value,
    /// The runtime-health decision.
    pub decision: DecisionSummary,
}

/// A rollback and the platform's rollback command.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rollback {
    /// Always true when present.
    pub executed: bool,
    /// `mode` (asked for) or `verification_failed`.
    pub trigger: String,
    /// What the rollback record says: rolled_back, noop or replayed.
    pub status: String,
    /// The rollback's record.
    pub record: RecordSummary,
    /// The rollback command: null when none was given.
    pub command: Option<RollbackCommand>,
}

/// What became of the rollback command.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RollbackCommand {
    /// Whether it ran (not again for a replayed rollback).
    pub ran: bool,
    /// Its exit code, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Its output, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// Why it did not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The documents of one orchestration (null: not written by this run).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrchestrateFiles {
    /// This result.
    pub result: String,
    /// The Markdown summary.
    pub summary: String,
    /// gate-eval's decision.
    pub decision: Option<String>,
    /// policy-apply's record.
    pub apply: Option<String>,
    /// health-probe's report.
    pub health_report: Option<String>,
    /// The runtime-health decision.
    pub verify_decision: Option<String>,
    /// The rollback's record.
    pub rollback: Option<String>,
    /// The rollback command's output.
    pub rollback_command_log: Option<String>,
}

/// The stage that failed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StageError {
    /// arguments, decision, apply, verification, rollback or rollback_command.
    pub stage: String,
    /// The exit code the run ends with.
    pub exit_code: i32,
    /// The failing tool's error line.
    pub message: String,
}

/// rollout-gate-config's result (kind `gate-config-result`): the secrets set and the
/// dispatched gate run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GateConfigResult {
    /// Always `v1`.
    pub schema_version: String,
    /// Always `gate-config-result`.
    pub kind: Kind,
    /// The repository (OWNER/NAME).
    pub repo: String,
    /// Nothing written, gh not called.
    pub dry_run: bool,
    /// Each secret, in the order set.
    pub secrets: Vec<SecretSet>,
    /// The gate_only run, when one was dispatched.
    pub dispatch: Option<Dispatch>,
}

/// A secret set (or, in a dry run, that would be).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretSet {
    /// The secret's name.
    pub name: String,
    /// set or would_set.
    pub action: String,
    /// What it holds, without the value (a count of URLs, a command's length).
    pub detail: String,
}

/// A dispatched workflow run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Dispatch {
    /// The workflow (file name or id).
    pub workflow: String,
    /// The ref it ran on (null: the default branch).
    pub r#ref: Option<String>,
    /// The run's id, once seen.
    pub run_id: Option<u64>,
    /// would_run, requested, queued, in_progress, completed.
    pub status: String,
    /// The run's conclusion, once completed.
    pub conclusion: Option<String>,
    /// The run's page.
    pub url: Option<String>,
}
