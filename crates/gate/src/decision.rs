//! The `gate-decision` document and its Markdown summary.
//!
//! The decision is what every later step trusts (policy-apply refuses anything but a fresh
//! `promote` for the right subject), so it carries what it was computed from: digests of the
//! gates file, of each evidence source and of the whole evidence, the params as resolved,
//! the clock and a validity window. `summary.reasonCodes` is sorted and unique, so the same
//! inputs and `--now` give byte-identical output.

use indexmap::IndexMap;
use rollout_core::doc::Kind;
use rollout_core::summary::cell;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::Severity;

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every non-shadow block gate passed.
    Promote,
    /// At least one non-shadow block gate failed.
    Hold,
}

/// A gate's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GateStatus {
    /// Every check passed.
    Pass,
    /// A check failed in a block gate.
    Fail,
    /// A check failed in a warn gate, or a check warned.
    Warn,
}

/// What a check observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// The comparison held.
    Pass,
    /// The comparison did not hold.
    Fail,
    /// The expression errored or yielded null, nothing or several values.
    Missing,
    /// `when` was false.
    Skipped,
}

/// How a check counts, after `onMissing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Counts as passed.
    Pass,
    /// Fails the gate.
    Fail,
    /// Reported in `summary.warnings`.
    Warn,
    /// Not counted.
    Skipped,
}

/// One evaluated check (one per item for a forEach).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    /// The reason code this check emits when it fails or is missing (`{item}` resolved).
    pub reason_code: String,
    /// `assert`, `value`, `age` or `rate`.
    #[serde(rename = "type")]
    pub check_type: String,
    /// For people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The forEach item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<Value>,
    /// What was observed.
    pub status: CheckStatus,
    /// How it counts.
    pub outcome: Outcome,
    /// The observed value (for age checks, the age).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<Value>,
    /// The limit it was compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<Value>,
    /// Extra figures (rate numerator/denominator, age timestamp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
    /// Why the check is missing or failed, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One evaluated gate.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GateResult {
    /// Gate id.
    pub id: String,
    /// For people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// block or warn.
    pub severity: Severity,
    /// Evaluated and reported, never changes the decision.
    pub shadow: bool,
    /// pass, fail or warn.
    pub status: GateStatus,
    /// Reason codes in evaluation order (unique).
    pub reasons: Vec<String>,
    /// Every check.
    pub checks: Vec<CheckResult>,
}

/// The decision at a glance.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// promote or hold.
    pub decision: Verdict,
    /// `decision == promote`.
    pub promote: bool,
    /// Non-shadow gates that did not fail.
    pub gate_pass_count: usize,
    /// Non-shadow block gates that failed.
    pub gate_fail_count: usize,
    /// Ids of failed non-shadow block gates, in gate order.
    pub failed_gates: Vec<String>,
    /// Reason codes of warnings (warn gates, `onMissing: warn`), sorted and unique.
    pub warnings: Vec<String>,
    /// Reason codes of failed non-shadow block gates, sorted and unique.
    pub reason_codes: Vec<String>,
    /// Ids of shadow gates that would have failed.
    pub shadow_failed_gates: Vec<String>,
}

impl Summary {
    /// Derive the summary from the gate results.
    pub fn of(gates: &[GateResult]) -> Summary {
        let mut failed_gates = Vec::new();
        let mut shadow_failed_gates = Vec::new();
        let mut warnings = Vec::new();
        let mut reason_codes = Vec::new();
        let mut pass = 0;
        for g in gates {
            if g.shadow {
                if g.status != GateStatus::Pass {
                    shadow_failed_gates.push(g.id.clone());
                }
                continue;
            }
            match g.status {
                GateStatus::Fail => {
                    failed_gates.push(g.id.clone());
                    for c in &g.checks {
                        match c.outcome {
                            Outcome::Fail => reason_codes.push(c.reason_code.clone()),
                            Outcome::Warn => warnings.push(c.reason_code.clone()),
                            _ => {}
                        }
                    }
                }
                GateStatus::Warn | GateStatus::Pass => {
                    pass += 1;
                    warnings.extend(g.reasons.iter().cloned());
                }
            }
        }
        for list in [&mut warnings, &mut reason_codes] {
            list.sort();
            list.dedup();
        }
        let promote = failed_gates.is_empty();
        Summary {
            decision: if promote {
                Verdict::Promote
            } else {
                Verdict::Hold
            },
            promote,
            gate_pass_count: pass,
            gate_fail_count: failed_gates.len(),
            failed_gates,
            warnings,
            reason_codes,
            shadow_failed_gates,
        }
    }
}

/// Where the gates came from.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatesInput {
    /// The gates file path, or `preset:NAME`.
    pub source: String,
    /// sha256 of the gates file's bytes.
    pub digest: String,
}

/// The primary input document (`-i`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileInput {
    /// The path, or `stdin`.
    pub path: String,
    /// sha256 of its bytes.
    pub digest: String,
}

/// Whether an evidence source could be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SourceState {
    /// Read and parsed.
    Ok,
    /// Not given, or the file does not exist.
    Missing,
    /// Unreadable, malformed, or too large.
    Invalid,
}

/// One evidence source, as `$sources.NAME` shows it to jq.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceInfo {
    /// ok, missing or invalid.
    pub state: SourceState,
    /// The path given with `--evidence`, or null when not given.
    pub path: Option<String>,
    /// `json`, `jsonl` or `yaml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// sha256 of the file's bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Records in a JSONL file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<u64>,
    /// Records kept after the source's filter and window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<u64>,
    /// Why the source is missing or invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The evidence as a whole.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceInput {
    /// Canonical sha256 of the evidence document the gates saw.
    pub digest: String,
}

/// What the decision was computed from.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Inputs {
    /// The gates file.
    pub gates: GatesInput,
    /// The `-i` document, when one was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<FileInput>,
    /// Every evidence source by name.
    pub sources: IndexMap<String, SourceInfo>,
    /// The whole evidence.
    pub evidence: EvidenceInput,
}

/// The `gate-decision` document.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GateDecision {
    /// Always `v1`.
    pub schema_version: String,
    /// Always `gate-decision`.
    pub kind: Kind,
    /// When the decision was made (`--now`).
    pub generated_at: String,
    /// After this the decision must not be acted on (`generatedAt + --ttl`).
    pub valid_until: String,
    /// Trace id.
    pub trace_id: String,
    /// What was decided on (`--subject`).
    pub subject: Option<String>,
    /// What it was computed from.
    pub inputs: Inputs,
    /// Params as resolved (durations as text).
    pub params: IndexMap<String, Value>,
    /// The decision at a glance.
    pub summary: Summary,
    /// Every gate and check.
    pub gates: Vec<GateResult>,
    /// `hmac-sha256:HEX` over the document without this field, when ROLLOUT_SIGNING_KEY is
    /// set (policy-apply then requires it); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

fn show(v: &Option<Value>) -> String {
    match v {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k} {s}"),
                other => format!("{k} {other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
}

/// The Markdown summary: decision, failed gates with reasons, a table of checks.
pub fn markdown(d: &GateDecision) -> String {
    let s = &d.summary;
    let mut out = String::new();
    let verdict = match s.decision {
        Verdict::Promote => "PROMOTE",
        Verdict::Hold => "HOLD",
    };
    out.push_str(&format!("## gate-eval: {verdict}\n\n"));
    if let Some(subject) = &d.subject {
        out.push_str(&format!("- Subject: `{}`\n", subject.replace('`', "'")));
    }
    out.push_str(&format!(
        "- Gates: `{}`\n",
        d.inputs.gates.source.replace('`', "'")
    ));
    out.push_str(&format!(
        "- Generated: {} (valid until {})\n- Trace: `{}`\n",
        d.generated_at,
        d.valid_until,
        d.trace_id.replace('`', "'")
    ));
    out.push_str(&format!(
        "- Gates passed: {}, failed: {}\n\n",
        s.gate_pass_count, s.gate_fail_count
    ));
    if !s.failed_gates.is_empty() {
        out.push_str("### Failed gates\n\n");
        for g in d.gates.iter().filter(|g| s.failed_gates.contains(&g.id)) {
            let codes: Vec<String> = g.reasons.iter().map(|r| format!("`{r}`")).collect();
            out.push_str(&format!("- **{}**: {}\n", g.id, codes.join(", ")));
        }
        out.push('\n');
    }
    if !s.warnings.is_empty() {
        let codes: Vec<String> = s.warnings.iter().map(|r| format!("`{r}`")).collect();
        out.push_str(&format!("### Warnings\n\n{}\n\n", codes.join(", ")));
    }
    if !s.shadow_failed_gates.is_empty() {
        out.push_str(&format!(
            "Shadow gates that would have failed: {}\n\n",
            s.shadow_failed_gates.join(", ")
        ));
    }
    out.push_str(
        "### Checks\n\n| gate | check | status | observed | limit |\n|---|---|---|---|---|\n",
    );
    for g in &d.gates {
        for c in &g.checks {
            let status = match (c.status, c.outcome) {
                (CheckStatus::Missing, Outcome::Fail) => "missing (fail)".to_string(),
                (CheckStatus::Missing, Outcome::Warn) => "missing (warn)".to_string(),
                (CheckStatus::Missing, _) => "missing (pass)".to_string(),
                (st, _) => serde_json::to_value(st)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
            };
            let mut observed = show(&c.observed);
            if let Some(m) = &c.message {
                observed = if observed.is_empty() {
                    m.clone()
                } else {
                    format!("{observed} ({m})")
                };
            }
            let tag = match (g.shadow, g.severity) {
                (true, _) => " (shadow)",
                (false, Severity::Warn) => " (warn)",
                _ => "",
            };
            out.push_str(&format!(
                "| {}{} | `{}` | {} | {} | {} |\n",
                cell(&g.id),
                tag,
                cell(&c.reason_code),
                status,
                cell(&observed),
                cell(&show(&c.limit)),
            ));
        }
    }
    out
}
