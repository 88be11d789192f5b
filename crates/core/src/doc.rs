//! The document envelope: `schemaVersion` and `kind` on everything a tool prints.
//!
//! Tools are chained through pipes, so a reader must know what it was handed before it
//! trusts a single field. [`check_envelope`] is that first look: it refuses a document of
//! another kind or version, and it turns an upstream `error` document into an error of its
//! own, so a failure half-way through a pipeline is reported with the original message
//! instead of as a confusing "field missing".

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::CoreError;

/// The one schema version every document of this release carries.
pub const SCHEMA_VERSION: &str = "v1";

/// Every kind of document the toolkit reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// gate-eval's decision.
    GateDecision,
    /// A gates file (gate-eval's configuration).
    Gates,
    /// policy-apply's record of one mutation.
    ApplyRecord,
    /// policy-apply verify's report on an audit log.
    AuditVerification,
    /// policy-apply --check's view of a request that would be accepted.
    PolicyRequest,
    /// A set of image digests (digest-pin input).
    DigestSet,
    /// digest-pin's report on a rewrite.
    PinReport,
    /// digest-pin scan's listing.
    DigestScan,
    /// digest-pin ledger's listing of recorded releases.
    DigestLedger,
    /// tag-bump's report.
    BumpReport,
    /// prune-plan's plan.
    PrunePlan,
    /// health-probe's report.
    HealthReport,
    /// freshness-check's report.
    FreshnessReport,
    /// image-resolve's report on image references.
    ImageReport,
    /// image-resolve's tag listing.
    ImageTags,
    /// A listing of gate-eval's built-in presets.
    PresetList,
    /// A failure, printed with `--json-errors`.
    Error,
    /// rollout-orchestrate's result ([`crate::results::OrchestrateResult`]).
    OrchestrateResult,
    /// rollout-gate-config's result ([`crate::results::GateConfigResult`]).
    GateConfigResult,
}

impl Kind {
    /// The name as written in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::GateDecision => "gate-decision",
            Kind::Gates => "gates",
            Kind::ApplyRecord => "apply-record",
            Kind::AuditVerification => "audit-verification",
            Kind::PolicyRequest => "policy-request",
            Kind::DigestSet => "digest-set",
            Kind::PinReport => "pin-report",
            Kind::DigestScan => "digest-scan",
            Kind::DigestLedger => "digest-ledger",
            Kind::BumpReport => "bump-report",
            Kind::PrunePlan => "prune-plan",
            Kind::HealthReport => "health-report",
            Kind::FreshnessReport => "freshness-report",
            Kind::ImageReport => "image-report",
            Kind::ImageTags => "image-tags",
            Kind::PresetList => "preset-list",
            Kind::Error => "error",
            Kind::OrchestrateResult => "orchestrate-result",
            Kind::GateConfigResult => "gate-config-result",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `error` document printed on stdout with `--json-errors`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDocument {
    /// Always `v1`.
    pub schema_version: String,
    /// Always `error`.
    pub kind: Kind,
    /// The tool that failed.
    pub tool: String,
    /// The process exit code.
    pub exit_code: u8,
    /// Stable snake_case reason code.
    pub reason_code: String,
    /// The message for people.
    pub message: String,
    /// What to try next.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
}

/// If `doc` is an `error` document, refuse it with the upstream tool's message.
pub fn refuse_error_document(doc: &Value, origin: &str) -> Result<(), CoreError> {
    if doc.get("kind").and_then(Value::as_str) == Some(Kind::Error.as_str()) {
        let tool = doc
            .get("tool")
            .and_then(Value::as_str)
            .unwrap_or("tool")
            .to_string();
        let message = doc
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("(no message)")
            .to_string();
        return Err(CoreError::Upstream {
            origin: origin.to_string(),
            tool,
            message,
        });
    }
    Ok(())
}

/// Check that `doc` is a `v1` document of kind `expected`; refuse anything else.
///
/// An `error` document is refused with the upstream message; a missing `kind` or
/// `schemaVersion` is reported as such (so hand-written stubs are not mistaken for output).
pub fn check_envelope(doc: &Value, expected: Kind, origin: &str) -> Result<(), CoreError> {
    refuse_error_document(doc, origin)?;
    let describe = |v: Option<&Value>| match v {
        None => "no \"kind\" field".to_string(),
        Some(v) => v.to_string(),
    };
    let Some(obj) = doc.as_object() else {
        return Err(CoreError::WrongKind {
            origin: origin.to_string(),
            expected: expected.as_str().to_string(),
            found: format!("a JSON {}", json_type(doc)),
        });
    };
    if obj.get("kind").and_then(Value::as_str) != Some(expected.as_str()) {
        return Err(CoreError::WrongKind {
            origin: origin.to_string(),
            expected: expected.as_str().to_string(),
            found: describe(obj.get("kind")),
        });
    }
    match obj.get("schemaVersion") {
        Some(Value::String(v)) if v == SCHEMA_VERSION => Ok(()),
        other => Err(CoreError::WrongSchemaVersion {
            origin: origin.to_string(),
            expected: SCHEMA_VERSION.to_string(),
            found: other.map_or_else(|| "(missing)".to_string(), Value::to_string),
        }),
    }
}

/// The JSON type name of a value, as jq's `type` says it.
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A typed document as a JSON object, for the tools that add to it before it is printed
/// (an audit record is sealed, a decision gets its digest). Documents are structs of
/// strings, numbers, booleans and string-keyed maps, which always serialize; printing one
/// as it is goes through [`crate::output::Output::emit_serialize`].
pub fn to_object<T: Serialize>(doc: &T) -> Result<serde_json::Map<String, Value>, CoreError> {
    match serde_json::to_value(doc) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(CoreError::usage(format!(
            "a document must be a JSON object, not {}",
            json_type(&other)
        ))),
        Err(e) => Err(CoreError::usage(format!(
            "a document does not serialize: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_the_expected_kind() {
        let d = json!({"schemaVersion": "v1", "kind": "gate-decision"});
        check_envelope(&d, Kind::GateDecision, "x").unwrap();
    }

    #[test]
    fn refuses_other_kinds_versions_and_errors() {
        let d = json!({"schemaVersion": "v1", "kind": "prune-plan"});
        let e = check_envelope(&d, Kind::GateDecision, "x").unwrap_err();
        assert!(e.to_string().contains("\"prune-plan\""), "{e}");
        let d = json!({"schemaVersion": "v2", "kind": "gate-decision"});
        let e = check_envelope(&d, Kind::GateDecision, "x").unwrap_err();
        assert!(matches!(e, CoreError::WrongSchemaVersion { .. }));
        let d =
            json!({"schemaVersion": "v1", "kind": "error", "tool": "gate-eval", "message": "boom"});
        let e = check_envelope(&d, Kind::GateDecision, "x").unwrap_err();
        assert_eq!(e.to_string(), "x: upstream gate-eval failed: boom");
        let e = check_envelope(&json!([1]), Kind::GateDecision, "x").unwrap_err();
        assert!(e.to_string().contains("a JSON array"));
    }
}
