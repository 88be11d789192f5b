//! The documents a run reads besides the registry: the gate decision (a file or stdin,
//! checked as a `gate-decision` envelope) and the JSON Schema the mutated registry must
//! satisfy. Both are read before the lock is taken, so a bad one is a usage error.

use rollout_core::doc::Kind;
use rollout_core::input::{Source, read_json};
use serde_json::Value;

use crate::error::PolicyError;
use crate::model::Intent;

/// The decision document and where it came from; required by expand and resume.
pub fn read_decision(
    spec: Option<&str>,
    intent: Intent,
) -> Result<Option<(Value, String)>, PolicyError> {
    let Some(spec) = spec else {
        if intent.needs_decision() {
            return Err(PolicyError::DecisionRequired {
                intent: intent.as_str().into(),
            });
        }
        return Ok(None);
    };
    let src = Source::parse(spec);
    let doc = read_json(&src, "a gate-decision document")?;
    let origin = src.origin();
    rollout_core::doc::check_envelope(&doc, Kind::GateDecision, &origin)?;
    Ok(Some((doc, origin)))
}

/// A compiled `--schema`.
pub fn read_schema(path: &std::path::Path) -> Result<jsonschema::Validator, PolicyError> {
    let src = Source::File(path.to_path_buf());
    let doc = read_json(&src, "a JSON Schema")?;
    jsonschema::validator_for(&doc).map_err(|e| PolicyError::SchemaUnusable {
        origin: src.origin(),
        message: e.to_string(),
    })
}
