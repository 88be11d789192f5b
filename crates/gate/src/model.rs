//! The gates file: what a team declares, as typed Rust (and, through schemars, JSON Schema).
//!
//! A gates file is data, not code: parameters with types and defaults, optional per-source
//! streaming rules, and gates made of checks whose expressions are jq. Loading is strict
//! (unknown fields are errors, so a typo such as `maxAg` cannot silently disable a limit)
//! and every error names the gate and check it is about.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A gates file (`kind: gates`, `schemaVersion: v1`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatesFile {
    /// Always `v1`.
    pub schema_version: String,
    /// Always `gates`.
    pub kind: String,
    /// What these gates protect, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Typed parameters with defaults, overridable with `--set NAME=VALUE`.
    #[serde(default)]
    pub params: IndexMap<String, ParamSpec>,
    /// Per evidence name: how records are streamed from a JSONL file (or a JSON array).
    #[serde(default)]
    pub sources: IndexMap<String, SourceSpec>,
    /// The gates, evaluated in order; every check of every gate is evaluated.
    pub gates: Vec<Gate>,
}

/// A typed parameter.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParamSpec {
    /// The type `--set` values and the default are checked against.
    #[serde(rename = "type")]
    pub ty: ParamType,
    /// The value when `--set` does not give one. Without a default the param is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// Smallest allowed value (number and integer params).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest allowed value (number and integer params).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// What the param means, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Parameter types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    /// Any JSON number.
    Number,
    /// A whole number.
    Integer,
    /// A duration such as `90s`, `45m`, `36h`, `14d`, `2w` (seconds in jq).
    Duration,
    /// A string.
    String,
    /// A list (from `--set`: comma-separated strings, or a JSON array).
    List,
    /// `true` or `false`.
    Boolean,
}

impl ParamType {
    /// The name as written in gates files.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::Number => "number",
            ParamType::Integer => "integer",
            ParamType::Duration => "duration",
            ParamType::String => "string",
            ParamType::List => "list",
            ParamType::Boolean => "boolean",
        }
    }
}

/// How an evidence source is streamed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceSpec {
    /// jq applied to each record; its outputs are kept (`select(...)` to filter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Keep only the last N outputs in file order (a number or `$param`). The file is then
    /// read from the end, so only the window is ever held in memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Value>,
}

/// Gate severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A failure holds the promotion.
    #[default]
    Block,
    /// A failure is reported as a warning only.
    Warn,
}

/// One gate: a named group of checks.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Gate {
    /// Stable identifier, reported in `failedGates`.
    pub id: String,
    /// What the gate protects, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `block` (default) or `warn`.
    #[serde(default)]
    pub severity: Severity,
    /// Evaluated and reported, never changes the decision.
    #[serde(default)]
    pub shadow: bool,
    /// Named jq expressions, available to the checks as `$name` (evaluated in order).
    #[serde(default, rename = "let")]
    pub lets: IndexMap<String, String>,
    /// jq yielding items; every check runs once per item with `$item` set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_each: Option<String>,
    /// The checks.
    pub checks: Vec<Check>,
}

/// What a check does when its expression errors or yields null.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnMissing {
    /// The check fails (fail-closed; the default).
    #[default]
    Fail,
    /// The check passes.
    Pass,
    /// The check is reported as a warning.
    Warn,
}

/// Numerator and denominator of a `rate` check.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rate {
    /// jq yielding the numerator.
    pub numerator: String,
    /// jq yielding the denominator (0 makes the check missing).
    pub denominator: String,
}

/// One check: exactly one of `assert`, `value`, `age`, `rate`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Check {
    /// Reason code emitted when the check fails; `{item}` is replaced by the item.
    pub code: String,
    /// Reason code emitted when the check is missing (default: `code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_code: Option<String>,
    /// What the check means, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// jq; the check is skipped unless it yields a true value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// jq yielding items; this check runs once per item (not with a gate-level forEach).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_each: Option<String>,
    /// What happens when the expression errors or yields null.
    #[serde(default)]
    pub on_missing: OnMissing,
    /// jq that must yield `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assert: Option<String>,
    /// jq yielding a value compared with `max`/`min`/`equals`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// jq yielding a timestamp (RFC 3339 or epoch seconds) compared with `maxAge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<String>,
    /// A ratio compared with `max`/`min`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    /// Upper bound (a number or `$param`), inclusive unless `exclusive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Value>,
    /// Lower bound (a number or `$param`), inclusive unless `exclusive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Value>,
    /// Required value (any JSON or `$param`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<Value>,
    /// Make `max`/`min` strict.
    #[serde(default)]
    pub exclusive: bool,
    /// Oldest accepted age for `age` checks (a duration or `$param`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<Value>,
}

impl Check {
    /// The check type, for messages and the output document.
    pub fn kind(&self) -> Option<&'static str> {
        let kinds = [
            (self.assert.is_some(), "assert"),
            (self.value.is_some(), "value"),
            (self.age.is_some(), "age"),
            (self.rate.is_some(), "rate"),
        ];
        let mut set = kinds.iter().filter(|(on, _)| *on);
        match (set.next(), set.next()) {
            (Some((_, k)), None) => Some(k),
            _ => None,
        }
    }
}
