//! From a gates file to an executable plan: validated, limits resolved, jq compiled once.
//!
//! Everything that can be wrong with a gates file is found here, before any evidence is
//! read: unknown fields, a check with no type or two types, a comparison without a limit, a
//! `$param` that does not exist or has the wrong type, a malformed reason code, a jq syntax
//! error. Each message names the gate id and check code. All jq expressions of the file are
//! compiled into one [`JqBundle`] and referenced by index.

use indexmap::IndexMap;
use rollout_core::doc::{Kind, check_envelope};
use rollout_core::jq::{BundleEntry, JqBundle};
use rollout_core::time::Duration;
use serde_json::{Number, Value};

use crate::error::GateError;
use crate::model::{Check, GatesFile, OnMissing, ParamType, Severity};
use crate::params::{ParamValue, Params, is_identifier};

/// jq globals every expression sees, in this order; `let` names follow.
pub const FIXED_VARS: [&str; 4] = ["params", "sources", "now", "item"];

/// Parse and validate a gates file (JSON or YAML) without resolving params.
pub fn parse_gates(text: &str, origin: &str) -> Result<GatesFile, GateError> {
    let value = if origin.ends_with(".json") {
        rollout_core::input::parse_json(text.as_bytes(), origin)?
    } else {
        rollout_core::yaml::parse_yaml(text, origin)?
    };
    check_envelope(&value, Kind::Gates, origin)?;
    let invalid = |message: String| GateError::InvalidGates {
        origin: origin.to_string(),
        message,
    };
    // Stage the parse so that an error names the gate and check it is about.
    let gates = match value.get("gates") {
        Some(Value::Array(g)) if !g.is_empty() => g,
        Some(Value::Array(_)) => return Err(invalid("\"gates\" is empty".into())),
        _ => return Err(invalid("\"gates\" must be a list of gates".into())),
    };
    for (gi, gate) in gates.iter().enumerate() {
        let gid = gate
            .get("id")
            .and_then(Value::as_str)
            .map_or_else(|| format!("#{}", gi + 1), |s| format!("{s:?}"));
        if let Some(Value::Array(checks)) = gate.get("checks") {
            for (ci, check) in checks.iter().enumerate() {
                let cid = check
                    .get("code")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("#{}", ci + 1), |s| format!("{s:?}"));
                serde_json::from_value::<Check>(check.clone())
                    .map_err(|e| invalid(format!("gate {gid} check {cid}: {e}")))?;
            }
        }
        let mut header = gate.clone();
        if let Some(obj) = header.as_object_mut() {
            obj.insert("checks".into(), Value::Array(Vec::new()));
        }
        serde_json::from_value::<crate::model::Gate>(header)
            .map_err(|e| invalid(format!("gate {gid}: {e}")))?;
        if gate
            .get("checks")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
        {
            return Err(invalid(format!(
                "gate {gid}: \"checks\" must be a non-empty list"
            )));
        }
    }
    let file: GatesFile = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
    validate(&file).map_err(invalid)?;
    Ok(file)
}

fn is_code(code: &str) -> bool {
    let plain = code.replace("{item}", "x");
    matches!(plain.chars().next(), Some(c) if c.is_ascii_lowercase())
        && plain
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn validate(file: &GatesFile) -> Result<(), String> {
    let mut ids = std::collections::HashSet::new();
    for (name, spec) in &file.params {
        if !is_identifier(name) {
            return Err(format!("param {name:?}: not a valid name"));
        }
        if (spec.min.is_some() || spec.max.is_some())
            && !matches!(spec.ty, ParamType::Number | ParamType::Integer)
        {
            return Err(format!("param {name:?}: min/max apply to numbers only"));
        }
    }
    for name in file.sources.keys() {
        if !is_identifier(name) {
            return Err(format!("source {name:?}: not a valid evidence name"));
        }
    }
    for gate in &file.gates {
        let g = &gate.id;
        if gate.id.is_empty() || !is_code(&gate.id) || gate.id.contains('{') {
            return Err(format!(
                "gate {g:?}: ids are snake_case (lowercase letters, digits, _)"
            ));
        }
        if !ids.insert(gate.id.clone()) {
            return Err(format!("gate {g:?}: duplicate gate id"));
        }
        for name in gate.lets.keys() {
            if !is_identifier(name) || FIXED_VARS.contains(&name.as_str()) || name.starts_with("__")
            {
                return Err(format!(
                    "gate {g:?} let {name:?}: not a valid name (reserved: params, sources, now, item)"
                ));
            }
        }
        for check in &gate.checks {
            let c = &check.code;
            let at = format!("gate {g:?} check {c:?}");
            let Some(kind) = check.kind() else {
                return Err(format!(
                    "{at}: a check needs exactly one of assert, value, age, rate"
                ));
            };
            for code in std::iter::once(c).chain(check.missing_code.iter()) {
                if !is_code(code) {
                    return Err(format!(
                        "{at}: reason code {code:?} must be snake_case (lowercase letters, digits, _, and {{item}})"
                    ));
                }
                if code.contains("{item}") && gate.for_each.is_none() && check.for_each.is_none() {
                    return Err(format!("{at}: {{item}} in a code needs a forEach"));
                }
            }
            if gate.for_each.is_some() && check.for_each.is_some() {
                return Err(format!("{at}: forEach on both the gate and the check"));
            }
            let has_bounds = check.max.is_some() || check.min.is_some();
            match kind {
                "assert" if has_bounds || check.equals.is_some() || check.max_age.is_some() => {
                    return Err(format!("{at}: assert takes no max, min, equals or maxAge"));
                }
                "value" if !has_bounds && check.equals.is_none() => {
                    return Err(format!("{at}: value needs max, min or equals"));
                }
                "value" if check.max_age.is_some() => {
                    return Err(format!("{at}: maxAge belongs to age checks"));
                }
                "age" if check.max_age.is_none() => {
                    return Err(format!("{at}: age needs maxAge"));
                }
                "age" if has_bounds || check.equals.is_some() => {
                    return Err(format!("{at}: age takes maxAge only"));
                }
                "rate" if !has_bounds => return Err(format!("{at}: rate needs max or min")),
                "rate" if check.equals.is_some() || check.max_age.is_some() => {
                    return Err(format!("{at}: rate takes max and min only"));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// A numeric limit: the value compared and how it is reported.
#[derive(Debug, Clone)]
pub struct Bound {
    /// The value compared.
    pub value: f64,
    /// The value as reported in the decision.
    pub shown: Value,
}

/// What a check computes and compares.
#[derive(Debug, Clone)]
pub enum Test {
    /// jq that must yield `true`.
    Assert(usize),
    /// A value compared with bounds or equality.
    Value {
        /// Expression index.
        expr: usize,
        /// Upper bound.
        max: Option<Bound>,
        /// Lower bound.
        min: Option<Bound>,
        /// Required value.
        equals: Option<Value>,
        /// Strict bounds.
        exclusive: bool,
    },
    /// The age of a timestamp.
    Age {
        /// Expression index.
        expr: usize,
        /// Oldest accepted age.
        max_age: Duration,
    },
    /// A ratio compared with bounds.
    Rate {
        /// Numerator expression index.
        numerator: usize,
        /// Denominator expression index.
        denominator: usize,
        /// Upper bound.
        max: Option<Bound>,
        /// Lower bound.
        min: Option<Bound>,
        /// Strict bounds.
        exclusive: bool,
    },
}

/// A check ready to run.
#[derive(Debug, Clone)]
pub struct CheckPlan {
    /// Reason code (may hold `{item}`).
    pub code: String,
    /// Reason code when missing.
    pub missing_code: Option<String>,
    /// For people.
    pub description: Option<String>,
    /// Optional guard expression.
    pub when: Option<usize>,
    /// Optional per-check items expression.
    pub for_each: Option<usize>,
    /// Missing policy.
    pub on_missing: OnMissing,
    /// The test.
    pub test: Test,
    /// `assert`, `value`, `age` or `rate`.
    pub kind: &'static str,
}

/// A gate ready to run.
#[derive(Debug, Clone)]
pub struct GatePlan {
    /// Gate id.
    pub id: String,
    /// For people.
    pub description: Option<String>,
    /// block or warn.
    pub severity: Severity,
    /// Never changes the decision.
    pub shadow: bool,
    /// (position of the let's variable among all let names, expression index), in order.
    pub lets: Vec<(usize, usize)>,
    /// Optional items expression.
    pub for_each: Option<usize>,
    /// The checks.
    pub checks: Vec<CheckPlan>,
}

/// A source's streaming rule, ready to run.
#[derive(Debug, Clone)]
pub struct SourcePlan {
    /// Per-record filter expression index.
    pub filter: Option<usize>,
    /// Keep the last N outputs.
    pub last: Option<usize>,
}

/// The executable form of a gates file.
pub struct Plan {
    /// Every jq expression of the file.
    pub bundle: JqBundle,
    /// All let names across gates (jq globals after [`FIXED_VARS`]).
    pub let_names: Vec<String>,
    /// Streaming rules by evidence name.
    pub sources: IndexMap<String, SourcePlan>,
    /// Gates in order.
    pub gates: Vec<GatePlan>,
}

struct Builder<'a> {
    entries: Vec<BundleEntry<'a>>,
    params: &'a Params,
}

impl<'a> Builder<'a> {
    /// One check's plan: its expressions compiled into the bundle, its bounds checked.
    fn check(&mut self, check: &'a Check, g: &str, origin: &str) -> Result<CheckPlan, GateError> {
        let invalid = |message: String| GateError::InvalidGates {
            origin: origin.to_string(),
            message,
        };
        let c = &check.code;
        let at = format!("gate {g:?} check {c:?}");
        let when = check
            .when
            .as_deref()
            .map(|code| self.expr(code, format!("{at} (when)")));
        let check_for_each = check
            .for_each
            .as_deref()
            .map(|code| self.expr(code, format!("{at} (forEach)")));
        let kind = check.kind().unwrap_or("assert");
        let bounds = |b: &Builder| -> Result<(Option<Bound>, Option<Bound>), String> {
            Ok((
                check
                    .max
                    .as_ref()
                    .map(|v| b.bound(&at, "max", v))
                    .transpose()?,
                check
                    .min
                    .as_ref()
                    .map(|v| b.bound(&at, "min", v))
                    .transpose()?,
            ))
        };
        let test = match kind {
            "assert" => Test::Assert(self.expr(
                check.assert.as_deref().unwrap_or("false"),
                format!("{at} (assert)"),
            )),
            "value" => {
                let (max, min) = bounds(self).map_err(invalid)?;
                let equals = check
                    .equals
                    .as_ref()
                    .map(|v| self.equals(&at, v))
                    .transpose()
                    .map_err(invalid)?;
                Test::Value {
                    expr: self.expr(
                        check.value.as_deref().unwrap_or("null"),
                        format!("{at} (value)"),
                    ),
                    max,
                    min,
                    equals,
                    exclusive: check.exclusive,
                }
            }
            "age" => Test::Age {
                max_age: self
                    .duration(&at, check.max_age.as_ref().unwrap_or(&Value::Null))
                    .map_err(invalid)?,
                expr: self.expr(
                    check.age.as_deref().unwrap_or("null"),
                    format!("{at} (age)"),
                ),
            },
            _ => {
                let (max, min) = bounds(self).map_err(invalid)?;
                let rate = check.rate.as_ref().expect("validated rate");
                Test::Rate {
                    numerator: self.expr(&rate.numerator, format!("{at} (rate numerator)")),
                    denominator: self.expr(&rate.denominator, format!("{at} (rate denominator)")),
                    max,
                    min,
                    exclusive: check.exclusive,
                }
            }
        };
        Ok(CheckPlan {
            code: check.code.clone(),
            missing_code: check.missing_code.clone(),
            description: check.description.clone(),
            when,
            for_each: check_for_each,
            on_missing: check.on_missing,
            test,
            kind,
        })
    }

    fn expr(&mut self, code: &'a str, context: String) -> usize {
        self.entries.push(BundleEntry { code, context });
        self.entries.len() - 1
    }

    fn param(&self, at: &str, field: &str, name: &str) -> Result<&'a ParamValue, String> {
        self.params.get(name).ok_or_else(|| {
            format!("{at}: {field} refers to ${name}, which is not a declared param")
        })
    }

    /// A `$param` reference (`$$` escapes a literal dollar) or a literal.
    fn reference(&self, v: &Value) -> Option<Result<String, Value>> {
        match v {
            Value::String(s) if s.starts_with("$$") => Some(Err(Value::String(s[1..].into()))),
            Value::String(s) if s.starts_with('$') => Some(Ok(s[1..].to_string())),
            _ => None,
        }
    }

    fn bound(&self, at: &str, field: &str, v: &Value) -> Result<Bound, String> {
        let number = match self.reference(v) {
            Some(Ok(name)) => match self.param(at, field, &name)? {
                ParamValue::Number(n) => n.clone(),
                other => {
                    return Err(format!(
                        "{at}: {field} refers to ${name}, which is not a number ({})",
                        other.to_doc()
                    ));
                }
            },
            _ => match v {
                Value::Number(n) => n.clone(),
                other => {
                    return Err(format!(
                        "{at}: {field} must be a number or $param, found {other}"
                    ));
                }
            },
        };
        Ok(Bound {
            value: number.as_f64().unwrap_or(f64::NAN),
            shown: Value::Number(number),
        })
    }

    fn equals(&self, at: &str, v: &Value) -> Result<Value, String> {
        match self.reference(v) {
            Some(Ok(name)) => Ok(self.param(at, "equals", &name)?.to_jq()),
            Some(Err(literal)) => Ok(literal),
            None => Ok(v.clone()),
        }
    }

    fn duration(&self, at: &str, v: &Value) -> Result<Duration, String> {
        match self.reference(v) {
            Some(Ok(name)) => match self.param(at, "maxAge", &name)? {
                ParamValue::Duration(d) => Ok(*d),
                _ => Err(format!(
                    "{at}: maxAge refers to ${name}, which is not a duration"
                )),
            },
            _ => match v {
                Value::String(s) => Duration::parse(s).map_err(|e| format!("{at}: maxAge: {e}")),
                other => Err(format!(
                    "{at}: maxAge must be a duration such as 36h, found {other}"
                )),
            },
        }
    }

    fn count(&self, at: &str, v: &Value) -> Result<usize, String> {
        let n: Option<Number> = match self.reference(v) {
            Some(Ok(name)) => match self.param(at, "last", &name)? {
                ParamValue::Number(n) => Some(n.clone()),
                _ => None,
            },
            _ => v.as_number().cloned(),
        };
        n.and_then(|n| n.as_u64())
            .filter(|n| *n >= 1)
            .map(|n| n as usize)
            .ok_or_else(|| format!("{at}: last must be a whole number >= 1 (or an integer $param)"))
    }
}

/// Resolve limits against `params` and compile every expression into one bundle.
pub fn build(file: &GatesFile, params: &Params, origin: &str) -> Result<Plan, GateError> {
    let invalid = |message: String| GateError::InvalidGates {
        origin: origin.to_string(),
        message,
    };
    let mut b = Builder {
        entries: Vec::new(),
        params,
    };
    let mut sources = IndexMap::new();
    for (name, spec) in &file.sources {
        let at = format!("source {name:?}");
        let filter = spec
            .filter
            .as_deref()
            .map(|code| b.expr(code, format!("{at} filter")));
        let last = spec
            .last
            .as_ref()
            .map(|v| b.count(&at, v))
            .transpose()
            .map_err(invalid)?;
        sources.insert(name.clone(), SourcePlan { filter, last });
    }
    let mut let_names: Vec<String> = Vec::new();
    let mut gates = Vec::new();
    for gate in &file.gates {
        let g = &gate.id;
        let mut lets = Vec::new();
        for (name, code) in &gate.lets {
            let slot = match let_names.iter().position(|n| n == name) {
                Some(i) => i,
                None => {
                    let_names.push(name.clone());
                    let_names.len() - 1
                }
            };
            lets.push((slot, b.expr(code, format!("gate {g:?} let {name:?}"))));
        }
        let for_each = gate
            .for_each
            .as_deref()
            .map(|code| b.expr(code, format!("gate {g:?} forEach")));
        let checks = gate
            .checks
            .iter()
            .map(|check| b.check(check, g, origin))
            .collect::<Result<Vec<_>, _>>()?;
        gates.push(GatePlan {
            id: gate.id.clone(),
            description: gate.description.clone(),
            severity: gate.severity,
            shadow: gate.shadow,
            lets,
            for_each,
            checks,
        });
    }
    let vars: Vec<&str> = FIXED_VARS
        .iter()
        .copied()
        .chain(let_names.iter().map(String::as_str))
        .collect();
    let bundle = JqBundle::compile(&b.entries, &vars)?;
    Ok(Plan {
        bundle,
        let_names,
        sources,
        gates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<GatesFile, GateError> {
        parse_gates(&format!("schemaVersion: v1\nkind: gates\n{body}"), "g.yaml")
    }

    #[test]
    fn errors_name_the_gate_and_check() {
        let cases = [
            (
                "gates:\n- id: a\n  checks:\n  - code: c\n    regex: x\n",
                "gate \"a\" check \"c\": unknown field `regex`",
            ),
            (
                "gates:\n- id: a\n  checks:\n  - code: c\n",
                "gate \"a\" check \"c\": a check needs exactly one of",
            ),
            (
                "gates:\n- id: a\n  checks:\n  - code: c\n    assert: 'true'\n    value: '1'\n",
                "exactly one of",
            ),
            (
                "gates:\n- id: a\n  checks:\n  - code: c\n    value: '1'\n",
                "value needs max, min or equals",
            ),
            (
                "gates:\n- id: a\n  checks:\n  - code: Bad-Code\n    assert: 'true'\n",
                "must be snake_case",
            ),
            (
                "gates:\n- id: a\n  checks:\n  - code: c_{item}\n    assert: 'true'\n",
                "{item} in a code needs a forEach",
            ),
            (
                "gates:\n- id: a\n  checks:\n  - code: c\n    age: .t\n",
                "age needs maxAge",
            ),
            (
                "gates:\n- id: a\n  checks: []\n",
                "gate \"a\": \"checks\" must be a non-empty list",
            ),
            ("gates: []\n", "\"gates\" is empty"),
            (
                "gates:\n- id: a\n  checks:\n  - {code: c, assert: 'true'}\n- id: a\n  checks:\n  - {code: c, assert: 'true'}\n",
                "duplicate gate id",
            ),
        ];
        for (body, want) in cases {
            let e = parse(body).unwrap_err().to_string();
            assert!(e.contains(want), "{body}\n=> {e}");
            assert!(e.starts_with("g.yaml: "), "{e}");
        }
    }

    #[test]
    fn wrong_kind_is_refused() {
        let e =
            parse_gates("schemaVersion: v1\nkind: prune-plan\ngates: []\n", "g.yaml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "g.yaml: expected a document of kind \"gates\", found \"prune-plan\""
        );
    }

    #[test]
    fn jq_errors_name_gate_and_check() {
        let file = parse("gates:\n- id: g\n  checks:\n  - code: c\n    assert: '.a |'\n").unwrap();
        let e = build(&file, &Params::new(), "g.yaml")
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with("gate \"g\" check \"c\" (assert): jq error: expected"),
            "{e}"
        );
    }

    #[test]
    fn limits_resolve_params_and_check_types() {
        let file = parse(
            "params:\n  n: {type: integer, default: 3}\n  s: {type: string, default: x}\n\
             gates:\n- id: g\n  checks:\n  - code: c\n    value: '1'\n    max: $s\n",
        )
        .unwrap();
        let params = crate::params::resolve(&file.params, &[]).unwrap();
        let e = build(&file, &params, "g.yaml").err().unwrap().to_string();
        assert!(e.contains("max refers to $s, which is not a number"), "{e}");
        let file =
            parse("gates:\n- id: g\n  checks:\n  - code: c\n    value: '1'\n    max: $nope\n")
                .unwrap();
        let e = build(&file, &Params::new(), "g.yaml")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("$nope, which is not a declared param"), "{e}");
    }
}
