//! Gate evaluation: a pure function of the plan, the params, the evidence and `now`.
//!
//! The rules that make a decision trustworthy live here:
//!
//! * every check of every gate is evaluated; nothing short-circuits, so a hold lists every
//!   reason and one check's failure can never erase another's (the superloop drill bug,
//!   where a `reduce` reset its accumulator and promoted with zero reason codes);
//! * an expression that errors, yields nothing or yields null makes the check `missing`,
//!   which fails unless the check says `onMissing: pass` or `warn` (fail-closed);
//! * an expression must yield exactly one value; several values are an error, not a guess;
//! * `now` is a parameter; the clock is never read here.

use jaq_json::Val;
use jiff::Timestamp;
use rollout_core::jq::{from_val, to_val};
use rollout_core::time::{Duration, format_timestamp, parse_timestamp};
use serde_json::{Value, json};

use crate::decision::{CheckResult, CheckStatus, GateResult, GateStatus, Outcome};
use crate::model::{OnMissing, Severity};
use crate::plan::{Bound, CheckPlan, GatePlan, Plan, Test};

/// A timestamp further in the future than this is not a valid observation.
pub const FUTURE_TOLERANCE_SECS: i64 = 300;

/// Runs expressions of a plan with the fixed globals bound.
pub struct Runner<'a> {
    plan: &'a Plan,
    params: Val,
    sources: Val,
    now: Val,
    budget: Option<&'a crate::budget::Budget>,
}

impl<'a> Runner<'a> {
    /// Bind `$params`, `$sources` and `$now` for every expression of `plan`.
    pub fn new(plan: &'a Plan, params: &Value, sources: &Value, now: Timestamp) -> Self {
        Runner {
            plan,
            params: to_val(params),
            sources: to_val(sources),
            now: to_val(&Value::String(format_timestamp(now))),
            budget: None,
        }
    }

    /// Tell `budget` what is being evaluated, as evaluation goes.
    pub fn with_budget(mut self, budget: &'a crate::budget::Budget) -> Self {
        self.budget = Some(budget);
        self
    }

    fn at_gate(&self, id: &str) {
        if let Some(b) = self.budget {
            b.at_gate(format!("gate {id}"));
        }
    }

    fn at_check(&self, code: &str) {
        if let Some(b) = self.budget {
            b.at_check(format!("check {code}"));
        }
    }

    fn vars(&self, item: &Val, lets: &[Val]) -> Vec<Val> {
        let mut v = vec![
            self.params.clone(),
            self.sources.clone(),
            self.now.clone(),
            item.clone(),
        ];
        v.extend(lets.iter().cloned());
        v.resize(4 + self.plan.let_names.len(), Val::Null);
        v
    }

    /// Every output of expression `idx` over `input`.
    pub fn all(
        &self,
        idx: usize,
        input: &Val,
        item: &Val,
        lets: &[Val],
    ) -> Result<Vec<Val>, String> {
        self.plan
            .bundle
            .run(idx, input, &self.vars(item, lets))
            .into_iter()
            .collect()
    }

    /// The single output of expression `idx`; none is `None`, several are an error.
    pub fn one(
        &self,
        idx: usize,
        input: &Val,
        item: &Val,
        lets: &[Val],
    ) -> Result<Option<Val>, String> {
        let mut out = self.all(idx, input, item, lets)?;
        match out.len() {
            0 => Ok(None),
            1 => Ok(out.pop()),
            n => Err(format!(
                "yielded {n} values where one was expected (wrap it in [...] or first(...))"
            )),
        }
    }
}

/// Evaluate every gate of `plan` over `evidence`.
pub fn evaluate(runner: &Runner<'_>, evidence: &Value, now: Timestamp) -> Vec<GateResult> {
    let input = to_val(evidence);
    runner
        .plan
        .gates
        .iter()
        .map(|gate| evaluate_gate(runner, gate, &input, now))
        .collect()
}

/// The let values of one context, or the error of the first let that failed.
fn lets_for(
    runner: &Runner<'_>,
    gate: &GatePlan,
    input: &Val,
    item: &Val,
) -> Result<Vec<Val>, String> {
    let names = &runner.plan.let_names;
    let mut values = vec![Val::Null; names.len()];
    for &(slot, idx) in &gate.lets {
        let v = runner
            .one(idx, input, item, &values)
            .map_err(|e| format!("let ${}: {e}", names[slot]))?;
        values[slot] = v.unwrap_or(Val::Null);
    }
    Ok(values)
}

fn evaluate_gate(runner: &Runner<'_>, gate: &GatePlan, input: &Val, now: Timestamp) -> GateResult {
    runner.at_gate(&gate.id);
    let mut checks = Vec::new();
    let gate_items: Result<Vec<Option<Val>>, String> = match gate.for_each {
        None => Ok(vec![None]),
        Some(idx) => runner
            .all(idx, input, &Val::Null, &[])
            .map(|items| items.into_iter().map(Some).collect())
            .map_err(|e| format!("gate forEach: {e}")),
    };
    match gate_items {
        Err(e) => {
            for check in &gate.checks {
                checks.push(missing_everywhere(check, &e));
            }
        }
        Ok(items) => {
            for item in items {
                let item_val = item.clone().unwrap_or(Val::Null);
                let lets = lets_for(runner, gate, input, &item_val);
                for check in &gate.checks {
                    match check.for_each {
                        None => {
                            checks.push(run_check(runner, check, input, item.as_ref(), &lets, now))
                        }
                        Some(idx) => {
                            let own = lets.clone().and_then(|l| {
                                runner
                                    .all(idx, input, &item_val, &l)
                                    .map_err(|e| format!("forEach: {e}"))
                            });
                            match own {
                                Err(e) => checks.push(missing_everywhere(check, &e)),
                                Ok(own_items) => {
                                    for own_item in own_items {
                                        let own_lets = lets_for(runner, gate, input, &own_item);
                                        checks.push(run_check(
                                            runner,
                                            check,
                                            input,
                                            Some(&own_item),
                                            &own_lets,
                                            now,
                                        ));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    let mut reasons: Vec<String> = Vec::new();
    let mut failed = false;
    let mut warned = false;
    for c in &checks {
        match c.outcome {
            Outcome::Fail => failed = true,
            Outcome::Warn => warned = true,
            _ => continue,
        }
        if !reasons.contains(&c.reason_code) {
            reasons.push(c.reason_code.clone());
        }
    }
    let status = match (failed, warned, gate.severity) {
        (true, _, Severity::Block) => GateStatus::Fail,
        (true, _, Severity::Warn) | (false, true, _) => GateStatus::Warn,
        (false, false, _) => GateStatus::Pass,
    };
    GateResult {
        id: gate.id.clone(),
        description: gate.description.clone(),
        severity: gate.severity,
        shadow: gate.shadow,
        status,
        reasons,
        checks,
    }
}

/// Replace `{item}` with the item, made safe for a snake_case code.
pub fn code_for(code: &str, item: Option<&Value>) -> String {
    let Some(item) = item else {
        return code.to_string();
    };
    let text = match item {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let safe: String = text
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '_'
            }
        })
        .collect();
    code.replace("{item}", &safe)
}

fn missing_everywhere(check: &CheckPlan, message: &str) -> CheckResult {
    let item = check
        .code
        .contains("{item}")
        .then(|| Value::String("unknown".into()));
    finish(
        check,
        item,
        CheckStatus::Missing,
        None,
        None,
        None,
        Some(message.to_string()),
    )
}

fn finish(
    check: &CheckPlan,
    item: Option<Value>,
    status: CheckStatus,
    observed: Option<Value>,
    limit: Option<Value>,
    detail: Option<Value>,
    message: Option<String>,
) -> CheckResult {
    let outcome = match status {
        CheckStatus::Pass => Outcome::Pass,
        CheckStatus::Fail => Outcome::Fail,
        CheckStatus::Skipped => Outcome::Skipped,
        CheckStatus::Missing => match check.on_missing {
            OnMissing::Fail => Outcome::Fail,
            OnMissing::Pass => Outcome::Pass,
            OnMissing::Warn => Outcome::Warn,
        },
    };
    let template = match status {
        CheckStatus::Missing => check.missing_code.as_deref().unwrap_or(&check.code),
        _ => &check.code,
    };
    CheckResult {
        reason_code: code_for(template, item.as_ref()),
        check_type: check.kind.to_string(),
        description: check.description.clone(),
        item,
        status,
        outcome,
        observed,
        limit,
        detail,
        message,
    }
}

fn truthy(v: &Val) -> bool {
    !matches!(v, Val::Null | Val::Bool(false))
}

fn run_check(
    runner: &Runner<'_>,
    check: &CheckPlan,
    input: &Val,
    item: Option<&Val>,
    lets: &Result<Vec<Val>, String>,
    now: Timestamp,
) -> CheckResult {
    runner.at_check(&check.code);
    let item_json = item.map(|v| from_val(v).unwrap_or(Value::Null));
    let done = |status, observed, limit, detail, message: Option<String>| {
        finish(
            check,
            item_json.clone(),
            status,
            observed,
            limit,
            detail,
            message,
        )
    };
    let lets = match lets {
        Ok(l) => l,
        Err(e) => return done(CheckStatus::Missing, None, None, None, Some(e.clone())),
    };
    let item_val = item.cloned().unwrap_or(Val::Null);
    if let Some(idx) = check.when {
        match runner.one(idx, input, &item_val, lets) {
            Ok(Some(v)) if truthy(&v) => {}
            Ok(_) => return done(CheckStatus::Skipped, None, None, None, None),
            Err(e) => {
                return done(
                    CheckStatus::Missing,
                    None,
                    None,
                    None,
                    Some(format!("when: {e}")),
                );
            }
        }
    }
    let value_of = |idx: usize| -> Result<Value, String> {
        match runner.one(idx, input, &item_val, lets)? {
            None => Err("yielded no value".into()),
            Some(v) => match from_val(&v)? {
                Value::Null => Err("yielded null".into()),
                v => Ok(v),
            },
        }
    };
    let v = match &check.test {
        Test::Assert(idx) => assert_test(value_of(*idx)),
        Test::Value {
            expr,
            max,
            min,
            equals,
            exclusive,
        } => value_test(value_of(*expr), max, min, equals.as_ref(), *exclusive),
        Test::Age { expr, max_age } => age_test(value_of(*expr), max_age, now),
        Test::Rate {
            numerator,
            denominator,
            max,
            min,
            exclusive,
        } => rate_test(
            value_of(*numerator),
            value_of(*denominator),
            max,
            min,
            *exclusive,
        ),
    };
    done(v.0, v.1, v.2, v.3, v.4)
}

/// A check's outcome: status, observed value, limit, detail, message.
type Verdict = (
    CheckStatus,
    Option<Value>,
    Option<Value>,
    Option<Value>,
    Option<String>,
);

/// `assert`: the expression must yield `true`.
fn assert_test(value: Result<Value, String>) -> Verdict {
    match value {
        Err(e) => (CheckStatus::Missing, None, None, None, Some(e)),
        Ok(Value::Bool(true)) => (CheckStatus::Pass, Some(json!(true)), None, None, None),
        Ok(Value::Bool(false)) => (CheckStatus::Fail, Some(json!(false)), None, None, None),
        Ok(other) => (
            CheckStatus::Fail,
            Some(other.clone()),
            None,
            None,
            Some(format!("assert yielded {other}, not true")),
        ),
    }
}

/// `value`: compared with `max`, `min` or `equals`.
fn value_test(
    value: Result<Value, String>,
    max: &Option<Bound>,
    min: &Option<Bound>,
    equals: Option<&Value>,
    exclusive: bool,
) -> Verdict {
    let limit = limit_doc(max, min, equals, exclusive);
    match value {
        Err(e) => (CheckStatus::Missing, None, Some(limit), None, Some(e)),
        Ok(observed) => match compare(&observed, max, min, equals, exclusive) {
            Ok(true) => (CheckStatus::Pass, Some(observed), Some(limit), None, None),
            Ok(false) => (CheckStatus::Fail, Some(observed), Some(limit), None, None),
            Err(e) => (
                CheckStatus::Missing,
                Some(observed),
                Some(limit),
                None,
                Some(e),
            ),
        },
    }
}

/// `age`: the timestamp is at most `max_age` old (and not in the future).
fn age_test(value: Result<Value, String>, max_age: &Duration, now: Timestamp) -> Verdict {
    let limit = json!({"maxAge": max_age.to_string()});
    let at = match value.and_then(|v| timestamp_of(&v)) {
        Ok(at) => at,
        Err(e) => return (CheckStatus::Missing, None, Some(limit), None, Some(e)),
    };
    let age_secs = now.as_second() - at.as_second();
    let detail = json!({"at": format_timestamp(at), "ageSeconds": age_secs});
    if age_secs < -FUTURE_TOLERANCE_SECS {
        return (
            CheckStatus::Missing,
            None,
            Some(limit),
            Some(detail),
            Some("timestamp is in the future".into()),
        );
    }
    let observed = Value::String(Duration::from_secs(age_secs.max(0)).compound());
    let status = if age_secs > max_age.as_secs() {
        CheckStatus::Fail
    } else {
        CheckStatus::Pass
    };
    (status, Some(observed), Some(limit), Some(detail), None)
}

/// `rate`: numerator / denominator within `max`/`min`.
fn rate_test(
    numerator: Result<Value, String>,
    denominator: Result<Value, String>,
    max: &Option<Bound>,
    min: &Option<Bound>,
    exclusive: bool,
) -> Verdict {
    let limit = limit_doc(max, min, None, exclusive);
    let number = |v: Result<Value, String>, what: &str| -> Result<f64, String> {
        let v = v.map_err(|e| format!("{what} {e}"))?;
        v.as_f64()
            .ok_or_else(|| format!("{what} is not a number: {v}"))
    };
    let (n, d) = match (
        number(numerator, "numerator"),
        number(denominator, "denominator"),
    ) {
        (Ok(n), Ok(d)) => (n, d),
        (Err(e), _) | (_, Err(e)) => {
            return (CheckStatus::Missing, None, Some(limit), None, Some(e));
        }
    };
    let detail = json!({"numerator": n, "denominator": d});
    if d == 0.0 {
        return (
            CheckStatus::Missing,
            None,
            Some(limit),
            Some(detail),
            Some("denominator is 0".into()),
        );
    }
    let rate = n / d;
    let observed = serde_json::Number::from_f64(rate).map(Value::Number);
    let status = if within(rate, max, min, exclusive) {
        CheckStatus::Pass
    } else {
        CheckStatus::Fail
    };
    (status, observed, Some(limit), Some(detail), None)
}

fn timestamp_of(v: &Value) -> Result<Timestamp, String> {
    match v {
        Value::String(s) => parse_timestamp(s).map_err(|e| e.to_string()),
        Value::Number(n) => n
            .as_f64()
            .and_then(|secs| Timestamp::from_millisecond((secs * 1000.0) as i64).ok())
            .ok_or_else(|| format!("{n} is not a valid epoch time")),
        other => Err(format!("{other} is not a timestamp")),
    }
}

fn limit_doc(
    max: &Option<Bound>,
    min: &Option<Bound>,
    equals: Option<&Value>,
    exclusive: bool,
) -> Value {
    let mut m = serde_json::Map::new();
    if let Some(b) = min {
        m.insert("min".into(), b.shown.clone());
    }
    if let Some(b) = max {
        m.insert("max".into(), b.shown.clone());
    }
    if let Some(v) = equals {
        m.insert("equals".into(), v.clone());
    }
    if exclusive {
        m.insert("exclusive".into(), Value::Bool(true));
    }
    Value::Object(m)
}

fn within(x: f64, max: &Option<Bound>, min: &Option<Bound>, exclusive: bool) -> bool {
    let below = max
        .as_ref()
        .is_none_or(|b| if exclusive { x < b.value } else { x <= b.value });
    let above = min
        .as_ref()
        .is_none_or(|b| if exclusive { x > b.value } else { x >= b.value });
    below && above
}

fn compare(
    observed: &Value,
    max: &Option<Bound>,
    min: &Option<Bound>,
    equals: Option<&Value>,
    exclusive: bool,
) -> Result<bool, String> {
    let mut ok = true;
    if let Some(want) = equals {
        ok &= match (observed.as_f64(), want.as_f64()) {
            (Some(a), Some(b)) => a == b,
            _ => observed == want,
        };
    }
    if max.is_some() || min.is_some() {
        let x = observed
            .as_f64()
            .ok_or_else(|| format!("observed value {observed} is not a number"))?;
        ok &= within(x, max, min, exclusive);
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_codes_are_snake_case() {
        assert_eq!(
            code_for(
                "label_missing_{item}",
                Some(&json!("org.opencontainers.image.Source"))
            ),
            "label_missing_org_opencontainers_image_source"
        );
        assert_eq!(code_for("x_{item}", Some(&json!(3))), "x_3");
        assert_eq!(code_for("x", None), "x");
    }

    #[test]
    fn bounds_are_inclusive_unless_exclusive() {
        let b = |v: f64| {
            Some(Bound {
                value: v,
                shown: json!(v),
            })
        };
        assert!(within(5.0, &b(5.0), &None, false));
        assert!(!within(5.0, &b(5.0), &None, true));
        assert!(within(20.0, &None, &b(20.0), false));
        assert!(!within(19.0, &None, &b(20.0), false));
        assert!(compare(&json!(1), &None, &None, Some(&json!(1.0)), false).unwrap());
        assert!(compare(&json!("x"), &b(1.0), &None, None, false).is_err());
    }
}
