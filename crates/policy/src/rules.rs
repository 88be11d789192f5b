//! The rules of a mutation, as pure functions of the registry, the request, the decision
//! and `now`: what the rollout is, what it becomes, which bytes change, and whether the
//! result is allowed. Nothing here reads a file or the clock.

use jiff::Timestamp;
use rollout_core::doc::{Kind, check_envelope};
use rollout_core::hash::canonical_digest;
use rollout_core::jsonedit::pointer_tokens;
use rollout_core::time::{Duration, format_timestamp, parse_timestamp};
use serde_json::Value;

use crate::error::PolicyError;
use crate::model::{DecisionRef, Governance, Intent, RolloutState};

use rollout_core::bad_value as bad;

/// The step of an expand (default 25) and the target of a rollback, each only with its
/// intent and in range; a step over `max_step` is refused.
pub fn check_amounts(
    intent: Intent,
    step: Option<u64>,
    to_percent: Option<u64>,
    max_step: Option<u64>,
) -> Result<Option<u64>, PolicyError> {
    if let Some(s) = step
        && intent != Intent::Expand
    {
        return Err(bad("--step", s, "only --intent expand takes a step"));
    }
    if let Some(p) = to_percent
        && intent != Intent::Rollback
    {
        return Err(bad(
            "--to-percent",
            p,
            "only --intent rollback takes a target percent",
        ));
    }
    let step = (intent == Intent::Expand).then(|| step.unwrap_or(25));
    if let Some(s) = step {
        if !(1..=100).contains(&s) {
            return Err(bad("--step", s, "must be from 1 to 100"));
        }
        if let Some(max) = max_step
            && s > max
        {
            return Err(PolicyError::StepAboveMax { step: s, max });
        }
    }
    if let Some(p) = to_percent
        && p > 100
    {
        return Err(bad("--to-percent", p, "must be from 0 to 100"));
    }
    Ok(step)
}

/// Both pointers are JSON Pointers.
pub fn check_pointers(rollout: &str, governance: &str) -> Result<(), PolicyError> {
    for (flag, ptr) in [
        ("--rollout-pointer", rollout),
        ("--governance-pointer", governance),
    ] {
        if !ptr.starts_with('/') {
            return Err(bad(flag, ptr, "a JSON Pointer starts with /"));
        }
    }
    Ok(())
}

/// The value at a JSON Pointer.
pub fn at<'a>(doc: &'a Value, pointer: &str) -> Result<Option<&'a Value>, PolicyError> {
    pointer_tokens(pointer)?;
    Ok(doc.pointer(pointer))
}

/// Read the rollout state at `pointer`, refusing a missing object or invalid values.
pub fn read_rollout(
    registry: &Value,
    pointer: &str,
    origin: &str,
) -> Result<RolloutState, PolicyError> {
    let invalid = |code, message: String| PolicyError::RegistryInvalid {
        origin: origin.to_string(),
        message,
        code,
    };
    let rollout = match at(registry, pointer)? {
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(invalid(
                "registry_invalid",
                format!(
                    "{pointer} is a {}, not an object",
                    rollout_core::doc::json_type(other)
                ),
            ));
        }
        None => {
            return Err(invalid(
                "pointer_absent",
                format!("no rollout object at {pointer}"),
            ));
        }
    };
    let canary_percent = match rollout.get("canaryPercent") {
        None => 100,
        Some(v) => v.as_u64().filter(|n| *n <= 100).ok_or_else(|| {
            invalid(
                "registry_invalid",
                format!("{pointer}/canaryPercent is {v}; it must be an integer from 0 to 100"),
            )
        })?,
    };
    let manual_pause = match rollout.get("pause") {
        None => false,
        Some(Value::Object(p)) => match p.get("manual") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                return Err(invalid(
                    "registry_invalid",
                    format!("{pointer}/pause/manual is {v}; it must be true or false"),
                ));
            }
        },
        Some(v) => {
            return Err(invalid(
                "registry_invalid",
                format!("{pointer}/pause is {v}; it must be an object"),
            ));
        }
    };
    Ok(RolloutState {
        canary_percent,
        manual_pause,
    })
}

/// What the rollout becomes under `intent`.
pub fn next_state(
    intent: Intent,
    before: RolloutState,
    step: Option<u64>,
    to_percent: Option<u64>,
) -> Result<RolloutState, PolicyError> {
    Ok(match intent {
        Intent::Expand => RolloutState {
            canary_percent: (before.canary_percent + step.unwrap_or(25)).min(100),
            manual_pause: false,
        },
        Intent::Resume => RolloutState {
            manual_pause: false,
            ..before
        },
        Intent::Pause => RolloutState {
            manual_pause: true,
            ..before
        },
        Intent::Rollback => {
            let canary_percent = match to_percent {
                Some(to) if to > before.canary_percent => {
                    return Err(PolicyError::ToPercentRaises {
                        to,
                        current: before.canary_percent,
                    });
                }
                Some(to) => to,
                None => before.canary_percent,
            };
            RolloutState {
                canary_percent,
                manual_pause: true,
            }
        }
    })
}

/// The registry edits that take `before` to `after` and record `governance`.
///
/// Only values that change are edited; an absent `pause.manual` already means false.
pub fn edits(
    rollout_pointer: &str,
    governance_pointer: &str,
    registry: &Value,
    after: RolloutState,
    governance: &Governance,
) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let rollout = registry.pointer(rollout_pointer);
    let percent_now = rollout.and_then(|r| r.get("canaryPercent"));
    if percent_now.and_then(Value::as_u64).unwrap_or(100) != after.canary_percent {
        out.push((
            format!("{rollout_pointer}/canaryPercent"),
            Value::from(after.canary_percent),
        ));
    }
    let pause_now = rollout
        .and_then(|r| r.pointer("/pause/manual"))
        .and_then(Value::as_bool);
    if pause_now.unwrap_or(false) != after.manual_pause {
        out.push((
            format!("{rollout_pointer}/pause/manual"),
            Value::Bool(after.manual_pause),
        ));
    }
    let g = serde_json::to_value(governance).unwrap_or(Value::Null);
    for field in ["actor", "approvalRef", "rationale", "changedAt", "reviewBy"] {
        out.push((format!("{governance_pointer}/{field}"), g[field].clone()));
    }
    out
}

/// The invariants every mutated registry must keep.
pub fn check_invariants(
    registry: &Value,
    rollout_pointer: &str,
    governance_pointer: &str,
    origin: &str,
) -> Result<(), PolicyError> {
    let violation = |message: String| PolicyError::SchemaViolation { message };
    read_rollout(registry, rollout_pointer, origin).map_err(|e| violation(e.to_string()))?;
    let gov = registry
        .pointer(governance_pointer)
        .and_then(Value::as_object)
        .ok_or_else(|| violation(format!("no governance object at {governance_pointer}")))?;
    for field in ["actor", "approvalRef", "rationale", "changedAt", "reviewBy"] {
        match gov.get(field).and_then(Value::as_str) {
            Some(s) if !s.trim().is_empty() => {}
            _ => {
                return Err(violation(format!(
                    "{governance_pointer}/{field} must be a non-empty string"
                )));
            }
        }
    }
    let ts = |f: &str| {
        parse_timestamp(gov[f].as_str().unwrap_or_default())
            .map_err(|e| violation(format!("{governance_pointer}/{f}: {e}")))
    };
    if ts("reviewBy")? <= ts("changedAt")? {
        return Err(violation(format!(
            "{governance_pointer}/reviewBy must be after changedAt"
        )));
    }
    Ok(())
}

/// Check the operator's review date: in the future, within the window.
pub fn check_review_by(
    review_by: Timestamp,
    now: Timestamp,
    window: Duration,
) -> Result<(), PolicyError> {
    if review_by <= now {
        return Err(PolicyError::ReviewByPast {
            review_by: format_timestamp(review_by),
            now: format_timestamp(now),
        });
    }
    let latest = rollout_core::time::add(now, window)?;
    if review_by > latest {
        return Err(PolicyError::ReviewByBeyondWindow {
            review_by: format_timestamp(review_by),
            window: window.to_string(),
            latest: format_timestamp(latest),
        });
    }
    Ok(())
}

/// The decision an apply records. For expand and resume it must hold: signed with `key`
/// when one is set, then every check of [`check_decision`]. Rollback and pause accept any
/// decision (an emergency needs none) and record what it says.
pub fn bind_decision(
    doc: &Value,
    origin: &str,
    intent: Intent,
    now: Timestamp,
    subject: Option<&str>,
    max_age: Option<Duration>,
    key: Option<&rollout_core::sign::SigningKey>,
) -> Result<DecisionRef, PolicyError> {
    if !intent.needs_decision() {
        return Ok(
            check_decision(doc, origin, now, None, None).unwrap_or_else(|_| as_recorded(doc))
        );
    }
    if let Some(key) = key {
        check_signature(doc, origin, key)?;
    }
    check_decision(doc, origin, now, subject, max_age)
}

/// A decision as it stands, checked for nothing (what a rollback or pause records).
fn as_recorded(doc: &Value) -> DecisionRef {
    let text = |name: &str| doc.get(name).and_then(Value::as_str);
    DecisionRef {
        decision: doc
            .pointer("/summary/decision")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .into(),
        trace_id: text("traceId").map(str::to_string),
        generated_at: text("generatedAt").unwrap_or_default().into(),
        valid_until: text("validUntil").unwrap_or_default().into(),
        digest: canonical_digest(doc),
    }
}

/// How far a decision's `generatedAt` may be ahead of this run's clock (runners' clocks
/// differ by a little; a decision from next year is made up).
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// With a signing key, a decision must carry that key's signature over its content.
pub fn check_signature(
    doc: &Value,
    origin: &str,
    key: &rollout_core::sign::SigningKey,
) -> Result<(), PolicyError> {
    match key.check(doc) {
        rollout_core::sign::Signature::Valid => Ok(()),
        rollout_core::sign::Signature::Missing => Err(PolicyError::DecisionUnsigned {
            origin: origin.to_string(),
        }),
        rollout_core::sign::Signature::Invalid => Err(PolicyError::DecisionSignatureInvalid {
            origin: origin.to_string(),
        }),
    }
}

/// The rollout state the audit log's last record left must be the registry's now: a
/// removed record or a change made outside policy-apply shows here.
pub fn check_continuity(
    last: &serde_json::Map<String, Value>,
    current: RolloutState,
) -> Result<(), PolicyError> {
    let recorded = last
        .get("rollout")
        .and_then(|r| r.get("after"))
        .and_then(|a| serde_json::from_value::<RolloutState>(a.clone()).ok());
    match recorded {
        Some(recorded) if recorded != current => Err(PolicyError::AuditStateMismatch {
            seq: last.get("seq").and_then(Value::as_u64).unwrap_or(0),
            recorded: describe_state(recorded),
            current: describe_state(current),
        }),
        _ => Ok(()),
    }
}

fn describe_state(s: RolloutState) -> String {
    format!(
        "canary {}%{}",
        s.canary_percent,
        if s.manual_pause { ", paused" } else { "" }
    )
}

/// Bind a decision to this mutation: a fresh `promote` gate-decision for the right subject.
pub fn check_decision(
    doc: &Value,
    origin: &str,
    now: Timestamp,
    subject: Option<&str>,
    max_age: Option<Duration>,
) -> Result<DecisionRef, PolicyError> {
    check_envelope(doc, Kind::GateDecision, origin)?;
    let malformed = |message: &str| PolicyError::DecisionMalformed {
        origin: origin.to_string(),
        message: message.to_string(),
    };
    let field = |name: &str| doc.get(name).and_then(Value::as_str);
    let generated_at = field("generatedAt").ok_or_else(|| malformed("no generatedAt"))?;
    let valid_until = field("validUntil").ok_or_else(|| malformed("no validUntil"))?;
    let generated =
        parse_timestamp(generated_at).map_err(|e| malformed(&format!("generatedAt: {e}")))?;
    let until = parse_timestamp(valid_until).map_err(|e| malformed(&format!("validUntil: {e}")))?;
    let decision = doc
        .pointer("/summary/decision")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("no summary.decision"))?;
    if decision != "promote" {
        let reasons = doc
            .pointer("/summary/reasonCodes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        return Err(PolicyError::DecisionNotPromote {
            decision: decision.to_string(),
            reasons: if reasons.is_empty() {
                "none given".into()
            } else {
                reasons
            },
        });
    }
    if until <= now {
        return Err(PolicyError::DecisionExpired {
            valid_until: format_timestamp(until),
            now: format_timestamp(now),
        });
    }
    if generated.as_second() > now.as_second() + MAX_CLOCK_SKEW_SECS {
        return Err(malformed(&format!(
            "generatedAt {} is later than now ({}): a decision cannot come from the future",
            format_timestamp(generated),
            format_timestamp(now)
        )));
    }
    if let Some(max) = max_age
        && now.as_second() - generated.as_second() > max.as_secs()
    {
        return Err(PolicyError::DecisionTooOld {
            generated_at: format_timestamp(generated),
            max_age: max.to_string(),
        });
    }
    let decision_subject = field("subject");
    if (subject.is_some() || decision_subject.is_some()) && subject != decision_subject {
        return Err(PolicyError::DecisionSubjectMismatch {
            decision: decision_subject.unwrap_or("(none)").to_string(),
            wanted: subject.unwrap_or("(none)").to_string(),
        });
    }
    Ok(DecisionRef {
        decision: decision.to_string(),
        trace_id: field("traceId").map(str::to_string),
        generated_at: format_timestamp(generated),
        valid_until: format_timestamp(until),
        digest: canonical_digest(doc),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn st(p: u64, m: bool) -> RolloutState {
        RolloutState {
            canary_percent: p,
            manual_pause: m,
        }
    }

    #[test]
    fn intents() {
        assert_eq!(
            next_state(Intent::Expand, st(90, true), Some(25), None).unwrap(),
            st(100, false)
        );
        assert_eq!(
            next_state(Intent::Expand, st(0, false), None, None).unwrap(),
            st(25, false)
        );
        assert_eq!(
            next_state(Intent::Resume, st(30, true), None, None).unwrap(),
            st(30, false)
        );
        assert_eq!(
            next_state(Intent::Pause, st(30, false), None, None).unwrap(),
            st(30, true)
        );
        assert_eq!(
            next_state(Intent::Rollback, st(30, false), None, Some(0)).unwrap(),
            st(0, true)
        );
        assert!(matches!(
            next_state(Intent::Rollback, st(30, false), None, Some(40)),
            Err(PolicyError::ToPercentRaises { .. })
        ));
    }

    #[test]
    fn rollout_reading() {
        let reg = json!({"policy": {"autonomous": {"rollout": {}}}});
        assert_eq!(
            read_rollout(&reg, "/policy/autonomous/rollout", "r").unwrap(),
            st(100, false)
        );
        for bad in [
            json!({"canaryPercent": 101}),
            json!({"canaryPercent": 2.5}),
            json!({"canaryPercent": "5"}),
            json!({"pause": {"manual": "yes"}}),
        ] {
            let reg = json!({"r": bad});
            let e = read_rollout(&reg, "/r", "reg.json").unwrap_err();
            assert!(
                matches!(
                    e,
                    PolicyError::RegistryInvalid {
                        code: "registry_invalid",
                        ..
                    }
                ),
                "{e}"
            );
        }
        let e = read_rollout(&json!({}), "/r", "reg.json").unwrap_err();
        assert!(matches!(
            e,
            PolicyError::RegistryInvalid {
                code: "pointer_absent",
                ..
            }
        ));
    }

    #[test]
    fn decisions_are_bound() {
        let now: Timestamp = "2026-11-21T08:00:00Z".parse().unwrap();
        let d = |decision: &str, until: &str, subject: Value| {
            json!({"schemaVersion": "v1", "kind": "gate-decision", "generatedAt": "2026-11-21T07:30:00Z",
                   "validUntil": until, "subject": subject, "traceId": "t",
                   "summary": {"decision": decision, "reasonCodes": ["x_failed"]}})
        };
        let ok = check_decision(
            &d("promote", "2026-11-21T09:00:00Z", json!("a")),
            "d",
            now,
            Some("a"),
            None,
        )
        .unwrap();
        assert_eq!(ok.trace_id.as_deref(), Some("t"));
        let e = check_decision(
            &d("hold", "2026-11-21T09:00:00Z", json!("a")),
            "d",
            now,
            Some("a"),
            None,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the decision is \"hold\", not \"promote\" (reasons: x_failed)"
        );
        assert!(matches!(
            check_decision(
                &d("promote", "2026-11-21T08:00:00Z", json!(null)),
                "d",
                now,
                None,
                None
            ),
            Err(PolicyError::DecisionExpired { .. })
        ));
        assert!(matches!(
            check_decision(
                &d("promote", "2026-11-21T09:00:00Z", json!("b")),
                "d",
                now,
                Some("a"),
                None
            ),
            Err(PolicyError::DecisionSubjectMismatch { .. })
        ));
        assert!(matches!(
            check_decision(
                &d("promote", "2026-11-21T09:00:00Z", json!("b")),
                "d",
                now,
                None,
                None
            ),
            Err(PolicyError::DecisionSubjectMismatch { .. })
        ));
        let too_old = check_decision(
            &d("promote", "2026-11-21T09:00:00Z", json!(null)),
            "d",
            now,
            None,
            Some(Duration::parse("10m").unwrap()),
        );
        assert!(matches!(too_old, Err(PolicyError::DecisionTooOld { .. })));
    }
}
