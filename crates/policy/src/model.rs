//! The request an operator makes and the records policy-apply writes.

use rollout_core::doc::Kind;
use rollout_core::hash::canonical_digest;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What the operator wants done to the rollout.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Intent {
    /// Widen the canary by a step (needs a promote decision); clears the manual pause.
    Expand,
    /// Clear the manual pause (needs a promote decision).
    Resume,
    /// Set the manual pause.
    Pause,
    /// Set the manual pause and optionally lower the canary; works on expired governance.
    Rollback,
}

impl Intent {
    /// The name as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Expand => "expand",
            Intent::Resume => "resume",
            Intent::Pause => "pause",
            Intent::Rollback => "rollback",
        }
    }

    /// Whether the intent needs a fresh promote decision.
    pub fn needs_decision(self) -> bool {
        matches!(self, Intent::Expand | Intent::Resume)
    }
}

/// Who changed the rollout, on whose approval, why, and until when it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Governance {
    /// Who made the change.
    pub actor: String,
    /// The approval (ticket, change request).
    pub approval_ref: String,
    /// Why.
    pub rationale: String,
    /// When the change was made (the clock).
    pub changed_at: String,
    /// When the change must be reviewed.
    pub review_by: String,
}

impl Governance {
    /// The governance an apply writes: the request's, changed now.
    pub fn written(request: &Request, now: jiff::Timestamp) -> Governance {
        Governance {
            actor: request.actor.clone(),
            approval_ref: request.approval_ref.clone(),
            rationale: request.rationale.clone(),
            changed_at: rollout_core::time::format_timestamp(now),
            review_by: request.review_by.clone(),
        }
    }
}

/// Everything the operator supplied that shapes the mutation; its hash is the fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The intent.
    pub intent: Intent,
    /// Expand step (percent points).
    pub step: Option<u64>,
    /// Rollback target percent.
    pub to_percent: Option<u64>,
    /// Who.
    pub actor: String,
    /// Approval reference.
    pub approval_ref: String,
    /// Why.
    pub rationale: String,
    /// Review date, normalised to UTC.
    pub review_by: String,
    /// `--review-in` as given, when the review date was computed from it (the fingerprint
    /// then names the window, not the date, so a retry later is the same request).
    pub review_in: Option<String>,
    /// Subject the decision must be for.
    pub subject: Option<String>,
    /// The registry, canonicalised (symlinks and relative spellings resolved).
    pub registry: String,
    /// Where the rollout object is.
    pub rollout_pointer: String,
    /// Where the governance object is.
    pub governance_pointer: String,
}

/// The idempotency key of a request that names none: `decision:INTENT:DIGEST`, for the
/// intents a decision drives (expand, resume). One decision then drives one mutation per
/// intent: the same request again replays, another request with it is refused.
pub fn derived_key(intent: Intent, decision_digest: &str) -> Option<String> {
    intent
        .needs_decision()
        .then(|| format!("decision:{}:{decision_digest}", intent.as_str()))
}

impl Request {
    /// The canonical hash of the request: same key + same fingerprint = a retry.
    pub fn fingerprint(&self) -> String {
        let mut request = json!({
            "intent": self.intent.as_str(),
            "step": self.step,
            "toPercent": self.to_percent,
            "actor": self.actor,
            "approvalRef": self.approval_ref,
            "rationale": self.rationale,
            "reviewBy": self.review_by,
            "subject": self.subject,
            "registry": self.registry,
            "rolloutPointer": self.rollout_pointer,
            "governancePointer": self.governance_pointer,
        });
        if let Some(window) = &self.review_in {
            request["reviewBy"] = Value::Null;
            request["reviewIn"] = Value::String(window.clone());
        }
        canonical_digest(&request)
    }
}

/// The decision a mutation relied on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DecisionRef {
    /// promote or hold.
    pub decision: String,
    /// The decision's trace id.
    pub trace_id: Option<String>,
    /// When it was made.
    pub generated_at: String,
    /// When it expires.
    pub valid_until: String,
    /// Canonical sha256 of the decision document.
    pub digest: String,
}

/// The two values policy-apply governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutState {
    /// Percent of the fleet on the new release (absent in the registry means 100).
    pub canary_percent: u64,
    /// Whether an operator paused the rollout.
    pub manual_pause: bool,
}

/// Before and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutChange {
    /// Before the mutation.
    pub before: RolloutState,
    /// After the mutation.
    pub after: RolloutState,
    /// Whether anything changed.
    pub changed: bool,
}

/// The registry file and its revisions (`sha256:` of its bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistryRef {
    /// The path as given.
    pub path: String,
    /// Revision before.
    pub revision_before: String,
    /// Revision after (equal to before for a noop).
    pub revision_after: String,
}

/// What a record says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The registry changed.
    Applied,
    /// The request changed nothing (recorded all the same).
    Noop,
    /// Printed for a retry with the same idempotency key: the original record, unchanged.
    Replayed,
    /// Printed by `--dry-run`: the registry would change (nothing was written).
    #[serde(rename = "would_apply")]
    WouldApply,
}

/// The `policy-request` document (`--check`): a request as a run would accept it, before
/// any file is read. A caller that runs several tools (rollout-orchestrate) checks its
/// flags with it, and takes the run's clock and trace id from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyRequest {
    /// Always `v1`.
    pub schema_version: String,
    /// Always `policy-request`.
    pub kind: Kind,
    /// When (the clock).
    pub timestamp: String,
    /// Trace id (from --trace-id or `ROLLOUT_TRACE_ID`, else generated).
    pub trace_id: String,
    /// The intent.
    pub intent: Intent,
    /// Expand step (the default 25 filled in).
    pub step: Option<u64>,
    /// Rollback target percent.
    pub to_percent: Option<u64>,
    /// The subject a decision must be for.
    pub subject: Option<String>,
    /// The idempotency key, when given.
    pub idempotency_key: Option<String>,
    /// The governance a run would write (`reviewBy` resolved from `--review-in`).
    pub governance: RequestGovernance,
    /// Evidence references, caller order kept, duplicates dropped.
    pub evidence_refs: Vec<String>,
}

/// The governance of a checked request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestGovernance {
    /// Who.
    pub actor: String,
    /// The approval.
    pub approval_ref: String,
    /// Why.
    pub rationale: String,
    /// When the change must be reviewed.
    pub review_by: String,
}

/// The `apply-record` document: one line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplyRecord {
    /// Always `v1`.
    pub schema_version: String,
    /// Always `apply-record`.
    pub kind: Kind,
    /// When (the clock).
    pub timestamp: String,
    /// applied, noop (replayed when printed for a retry).
    pub status: Status,
    /// The intent.
    pub intent: Intent,
    /// Expand step.
    pub step: Option<u64>,
    /// Rollback target percent.
    pub to_percent: Option<u64>,
    /// The subject.
    pub subject: Option<String>,
    /// The decision relied on, or null (pause, rollback without one).
    pub decision: Option<DecisionRef>,
    /// The governance written.
    pub governance: Governance,
    /// The rollout before and after.
    pub rollout: RolloutChange,
    /// The registry and its revisions.
    pub registry: RegistryRef,
    /// The idempotency key, when given.
    pub idempotency_key: Option<String>,
    /// Canonical hash of the request.
    pub request_fingerprint: String,
    /// Trace id (from --trace-id, else the decision, else generated).
    pub trace_id: String,
    /// Evidence references, caller order kept, duplicates dropped.
    pub evidence_refs: Vec<String>,
    /// True only when printed for a retry.
    pub replayed: bool,
    /// Position in the audit log.
    pub seq: u64,
    /// Hash of the previous record.
    pub prev_hash: String,
    /// Canonical sha256 of this record without `hash`.
    pub hash: String,
}

/// The first record that breaks an audit chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChainBreak {
    /// 1-based line.
    pub line: u64,
    /// The seq expected there.
    pub expected_seq: u64,
    /// truncated, malformed, reordered, missing_record, chain_broken or edited.
    pub reason: String,
    /// For people.
    pub message: String,
}

/// The `audit-verification` document of `policy-apply verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditVerification {
    /// Always `v1`.
    pub schema_version: String,
    /// Always `audit-verification`.
    pub kind: Kind,
    /// The log.
    pub audit_log: String,
    /// When (the clock).
    pub verified_at: String,
    /// Whether the whole chain verifies.
    pub ok: bool,
    /// Records that verify (from the start).
    pub records: u64,
    /// Whether a signing key checked the records' macs.
    pub keyed: bool,
    /// Records, from the first, that carry no mac (with no key: every record).
    pub unkeyed_records: u64,
    /// The registry whose rollout state the last record was checked against, or null.
    pub registry: Option<String>,
    /// The first break, or null.
    pub first_break: Option<ChainBreak>,
}

/// Drop duplicates, keep the caller's order.
pub fn dedup_keep_order(refs: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in refs {
        if !out.contains(r) {
            out.push(r.clone());
        }
    }
    out
}
