//! Parameters: typed defaults from the gates file, overridden by `--set NAME=VALUE`.
//!
//! Every value is type-checked (and range-checked) before any evidence is read, so a typo in
//! a workflow file fails the run with exit 2 instead of silently comparing against a string.
//! In jq, `$params.NAME` holds the value; durations are seconds there, and are written back
//! as durations (`168h` prints as `1w`) in the decision's `params`.

use indexmap::IndexMap;
use rollout_core::time::Duration;
use serde_json::{Number, Value};

use crate::error::GateError;
use crate::model::{ParamSpec, ParamType};

/// A resolved, type-checked param value.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// A number or integer.
    Number(Number),
    /// A duration.
    Duration(Duration),
    /// A string.
    String(String),
    /// A list.
    List(Vec<Value>),
    /// A boolean.
    Boolean(bool),
}

impl ParamValue {
    /// The value as jq sees it (durations in seconds).
    pub fn to_jq(&self) -> Value {
        match self {
            ParamValue::Duration(d) => Value::from(d.as_secs()),
            other => other.to_doc(),
        }
    }

    /// The value as the decision document reports it (durations as text).
    pub fn to_doc(&self) -> Value {
        match self {
            ParamValue::Number(n) => Value::Number(n.clone()),
            ParamValue::Duration(d) => Value::String(d.to_string()),
            ParamValue::String(s) => Value::String(s.clone()),
            ParamValue::List(items) => Value::Array(items.clone()),
            ParamValue::Boolean(b) => Value::Bool(*b),
        }
    }
}

/// Resolved params, in declaration order.
pub type Params = IndexMap<String, ParamValue>;

/// Type-check the defaults, apply `--set` overrides, and require every param to have a value.
pub fn resolve(
    specs: &IndexMap<String, ParamSpec>,
    sets: &[(String, String)],
) -> Result<Params, GateError> {
    let mut out = Params::new();
    for (name, spec) in specs {
        if let Some(default) = &spec.default {
            let v = from_json(spec, default).map_err(|message| GateError::InvalidParam {
                origin: "default of".into(),
                name: name.clone(),
                value: default.to_string(),
                message,
            })?;
            out.insert(name.clone(), v);
        }
    }
    for (name, text) in sets {
        let Some(spec) = specs.get(name) else {
            return Err(GateError::UnknownParam {
                name: name.clone(),
                declared: declared(specs),
            });
        };
        let v = from_text(spec, text).map_err(|message| GateError::InvalidParam {
            origin: "--set".into(),
            name: name.clone(),
            value: text.clone(),
            message,
        })?;
        out.insert(name.clone(), v);
    }
    for name in specs.keys() {
        if !out.contains_key(name) {
            return Err(GateError::InvalidParam {
                origin: "param".into(),
                name: name.clone(),
                value: String::new(),
                message: "has no default; give it with --set".into(),
            });
        }
    }
    // Keep declaration order whatever the order of --set flags.
    let mut ordered = Params::new();
    for name in specs.keys() {
        if let Some(v) = out.swap_remove(name) {
            ordered.insert(name.clone(), v);
        }
    }
    Ok(ordered)
}

fn declared(specs: &IndexMap<String, ParamSpec>) -> String {
    if specs.is_empty() {
        "none".into()
    } else {
        specs.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

fn check_range(spec: &ParamSpec, n: f64) -> Result<(), String> {
    if let Some(min) = spec.min
        && n < min
    {
        return Err(format!("must be at least {min}"));
    }
    if let Some(max) = spec.max
        && n > max
    {
        return Err(format!("must be at most {max}"));
    }
    Ok(())
}

/// Check a JSON value (a default) against the param's type.
pub fn from_json(spec: &ParamSpec, v: &Value) -> Result<ParamValue, String> {
    match (spec.ty, v) {
        (ParamType::Number, Value::Number(n)) => {
            check_range(spec, n.as_f64().unwrap_or(f64::NAN))?;
            Ok(ParamValue::Number(n.clone()))
        }
        (ParamType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => {
            check_range(spec, n.as_f64().unwrap_or(f64::NAN))?;
            Ok(ParamValue::Number(n.clone()))
        }
        (ParamType::Duration, Value::String(s)) => Duration::parse(s)
            .map(ParamValue::Duration)
            .map_err(|e| e.to_string()),
        (ParamType::String, Value::String(s)) => Ok(ParamValue::String(s.clone())),
        (ParamType::List, Value::Array(items)) => Ok(ParamValue::List(items.clone())),
        (ParamType::Boolean, Value::Bool(b)) => Ok(ParamValue::Boolean(*b)),
        (ty, other) => Err(format!(
            "expected {} {}, found {}",
            article(ty),
            ty.as_str(),
            rollout_core::doc::json_type(other)
        )),
    }
}

fn article(ty: ParamType) -> &'static str {
    if ty == ParamType::Integer { "an" } else { "a" }
}

/// Parse a `--set` value by the param's type.
pub fn from_text(spec: &ParamSpec, text: &str) -> Result<ParamValue, String> {
    let t = text.trim();
    match spec.ty {
        ParamType::Number | ParamType::Integer => {
            let n: Number = serde_json::from_str(t)
                .ok()
                .and_then(|v: Value| v.as_number().cloned())
                .ok_or_else(|| format!("expected {} {}", article(spec.ty), spec.ty.as_str()))?;
            from_json(spec, &Value::Number(n))
        }
        ParamType::Duration => Duration::parse(t)
            .map(ParamValue::Duration)
            .map_err(|e| e.to_string()),
        ParamType::String => Ok(ParamValue::String(text.to_string())),
        ParamType::Boolean => match t {
            "true" => Ok(ParamValue::Boolean(true)),
            "false" => Ok(ParamValue::Boolean(false)),
            _ => Err("expected true or false".into()),
        },
        ParamType::List => {
            if t.starts_with('[') {
                match serde_json::from_str::<Value>(t) {
                    Ok(Value::Array(items)) => Ok(ParamValue::List(items)),
                    _ => Err("expected a JSON array or comma-separated values".into()),
                }
            } else if t.is_empty() {
                Ok(ParamValue::List(Vec::new()))
            } else {
                Ok(ParamValue::List(
                    t.split(',')
                        .map(|s| Value::String(s.trim().to_string()))
                        .collect(),
                ))
            }
        }
    }
}

/// Split `NAME=VALUE` arguments.
pub fn split_assignment(flag: &'static str, arg: &str) -> Result<(String, String), GateError> {
    match arg.split_once('=') {
        Some((name, value)) if is_identifier(name) => Ok((name.to_string(), value.to_string())),
        Some((name, _)) => Err(GateError::BadArgument {
            flag,
            arg: arg.to_string(),
            message: format!("{name:?} is not a name (letters, digits and _, not first a digit)"),
        }),
        None => Err(GateError::BadArgument {
            flag,
            arg: arg.to_string(),
            message: "expected NAME=VALUE".into(),
        }),
    }
}

/// Names usable as jq variables and object keys without quoting.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(ty: ParamType, default: Option<Value>) -> ParamSpec {
        ParamSpec {
            ty,
            default,
            min: Some(0.0),
            max: Some(1.0e9),
            description: None,
        }
    }

    #[test]
    fn sets_override_defaults_and_are_type_checked() {
        let mut specs = IndexMap::new();
        specs.insert(
            "rate".to_string(),
            spec(ParamType::Number, Some(json!(0.2))),
        );
        specs.insert(
            "age".to_string(),
            spec(ParamType::Duration, Some(json!("168h"))),
        );
        specs.insert("n".to_string(), spec(ParamType::Integer, Some(json!(20))));
        specs.insert("ids".to_string(), spec(ParamType::List, Some(json!(["a"]))));
        let p = resolve(
            &specs,
            &[("age".into(), "2d".into()), ("ids".into(), "x, y".into())],
        )
        .unwrap();
        assert_eq!(p["age"].to_jq(), json!(172_800));
        assert_eq!(p["age"].to_doc(), json!("2d"));
        assert_eq!(p["ids"].to_jq(), json!(["x", "y"]));
        assert_eq!(p.keys().collect::<Vec<_>>(), ["rate", "age", "n", "ids"]);

        for (name, bad) in [("n", "1.5"), ("n", "-1"), ("age", "soon"), ("rate", "high")] {
            let e = resolve(&specs, &[(name.into(), bad.into())]).unwrap_err();
            assert!(
                matches!(e, GateError::InvalidParam { .. }),
                "{name}={bad}: {e}"
            );
        }
        let e = resolve(&specs, &[("nope".into(), "1".into())]).unwrap_err();
        assert!(e.to_string().contains("declared: rate, age, n, ids"), "{e}");
    }

    #[test]
    fn a_param_without_default_must_be_set() {
        let mut specs = IndexMap::new();
        specs.insert("rev".to_string(), spec(ParamType::String, None));
        assert!(resolve(&specs, &[]).is_err());
        assert!(resolve(&specs, &[("rev".into(), "abc".into())]).is_ok());
    }

    #[test]
    fn assignments_need_a_name() {
        assert!(split_assignment("--set", "a=b=c").unwrap().1 == "b=c");
        assert!(split_assignment("--set", "=b").is_err());
        assert!(split_assignment("--set", "a-b=1").is_err());
        assert!(split_assignment("--set", "ab").is_err());
    }
}
