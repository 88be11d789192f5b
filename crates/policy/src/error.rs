//! policy-apply's errors, each with its exit class and reason code.

use rollout_core::{CoreError, ExitClass, Failure};

/// Everything that stops policy-apply before (or instead of) a mutation.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A shared-contract failure (input, files, locks, jq).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// Governance flags are missing or empty: all of them are named at once.
    #[error("governance is required for every intent: {} missing or empty", missing_list(.flags))]
    GovernanceMissing {
        /// The flags, in the order of the usage line.
        flags: Vec<&'static str>,
    },
    /// `--review-by` is not in the future.
    #[error("--review-by {review_by} is not in the future (now is {now})")]
    ReviewByPast {
        /// As given, normalised.
        review_by: String,
        /// The clock.
        now: String,
    },
    /// `--review-by` is further away than `--max-review-window`.
    #[error("--review-by {review_by} is beyond the review window of {window} (latest {latest})")]
    ReviewByBeyondWindow {
        /// As given, normalised.
        review_by: String,
        /// The window.
        window: String,
        /// now + window.
        latest: String,
    },
    /// expand/resume without a decision document.
    #[error("--intent {intent} needs a promote decision: give --decision FILE (or -i FILE)")]
    DecisionRequired {
        /// The intent.
        intent: String,
    },
    /// The decision is not promote.
    #[error("the decision is {decision:?}, not \"promote\" (reasons: {reasons})")]
    DecisionNotPromote {
        /// What it says.
        decision: String,
        /// Its reason codes.
        reasons: String,
    },
    /// The decision's validUntil has passed.
    #[error("the decision expired at {valid_until} (now is {now})")]
    DecisionExpired {
        /// Its validUntil.
        valid_until: String,
        /// The clock.
        now: String,
    },
    /// The decision is older than `--max-decision-age`.
    #[error("the decision was generated at {generated_at}, more than {max_age} ago")]
    DecisionTooOld {
        /// Its generatedAt.
        generated_at: String,
        /// The limit.
        max_age: String,
    },
    /// A signing key is set and the decision carries no signature.
    #[error(
        "{origin}: the decision is not signed, and ROLLOUT_SIGNING_KEY is set: only a gate-eval run with the same key makes decisions policy-apply acts on"
    )]
    DecisionUnsigned {
        /// Where the decision came from.
        origin: String,
    },
    /// The decision's signature is not the key's over its content.
    #[error(
        "{origin}: the decision's signature does not match (it was altered after gate-eval signed it, or signed with another key)"
    )]
    DecisionSignatureInvalid {
        /// Where the decision came from.
        origin: String,
    },
    /// The audit log's last record does not describe the registry's rollout state.
    #[error(
        "the audit log's last record (seq {seq}) left the rollout at {recorded}, but the registry says {current}: a record was removed or the rollout was changed outside policy-apply (policy-apply verify shows where; a rollback or pause records the state as it is)"
    )]
    AuditStateMismatch {
        /// The last record's seq.
        seq: u64,
        /// The state it recorded.
        recorded: String,
        /// The registry's state.
        current: String,
    },
    /// The decision is for another subject.
    #[error("the decision is for subject {decision:?}, not {wanted:?}")]
    DecisionSubjectMismatch {
        /// The decision's subject.
        decision: String,
        /// `--subject`.
        wanted: String,
    },
    /// The decision lacks a field a gate-decision always has.
    #[error("{origin}: not a usable gate-decision: {message}")]
    DecisionMalformed {
        /// The file.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// `--step` larger than `--max-step`.
    #[error("--step {step} is larger than --max-step {max}")]
    StepAboveMax {
        /// The step.
        step: u64,
        /// The limit.
        max: u64,
    },
    /// `--to-percent` would raise the canary.
    #[error("--to-percent {to} would raise the canary from {current}%; rollback only lowers it")]
    ToPercentRaises {
        /// Requested.
        to: u64,
        /// Current.
        current: u64,
    },
    /// The registry lacks the rollout object, or holds invalid values.
    #[error("{origin}: {message}")]
    RegistryInvalid {
        /// The registry file.
        origin: String,
        /// What is wrong.
        message: String,
        /// `pointer_absent` or `registry_invalid`.
        code: &'static str,
    },
    /// The mutated registry breaks an invariant or the `--schema`.
    #[error("the mutated registry is invalid: {message}")]
    SchemaViolation {
        /// What is violated, with its location.
        message: String,
    },
    /// The `--schema` file itself is not a usable JSON Schema.
    #[error("{origin}: not a valid JSON Schema: {message}")]
    SchemaUnusable {
        /// The schema file.
        origin: String,
        /// Why.
        message: String,
    },
    /// The same idempotency key was used for a different request.
    #[error("idempotency key {key:?} was used for a different request (record seq {seq})")]
    IdempotencyConflict {
        /// The key.
        key: String,
        /// The record it belongs to.
        seq: u64,
    },
    /// The decision already drove this intent, for another request (its derived key).
    #[error(
        "this decision already drove an {intent} (record seq {seq}): a decision drives one mutation per intent"
    )]
    DecisionAlreadyUsed {
        /// The intent.
        intent: String,
        /// The record it drove.
        seq: u64,
    },
    /// `--expect-revision` does not match.
    #[error("the registry is at revision {actual}, not the expected {expected}")]
    RevisionConflict {
        /// `--expect-revision`.
        expected: String,
        /// The registry's revision.
        actual: String,
    },
    /// An interrupted apply cannot be completed because the registry changed since.
    #[error(
        "an interrupted apply ({pending}) cannot be completed: the registry changed since; inspect it and remove the file"
    )]
    RecoveryConflict {
        /// The pending journal.
        pending: String,
    },
    /// The audit log's end does not verify.
    #[error("{message}")]
    AuditBroken {
        /// From the tail check.
        message: String,
    },
}

impl Failure for PolicyError {
    fn class(&self) -> ExitClass {
        use PolicyError as E;
        match self {
            E::Core(e) => e.class(),
            E::DecisionRequired { .. }
            | E::DecisionMalformed { .. }
            | E::RegistryInvalid { .. }
            | E::SchemaUnusable { .. } => ExitClass::Usage,
            E::IdempotencyConflict { .. }
            | E::DecisionAlreadyUsed { .. }
            | E::RevisionConflict { .. }
            | E::RecoveryConflict { .. } => ExitClass::Conflict,
            _ => ExitClass::Refused,
        }
    }

    fn reason_code(&self) -> &str {
        use PolicyError as E;
        match self {
            E::Core(e) => e.reason_code(),
            E::GovernanceMissing { .. } => "governance_missing",
            E::ReviewByPast { .. } => "review_by_past",
            E::ReviewByBeyondWindow { .. } => "review_by_beyond_window",
            E::DecisionRequired { .. } => "decision_required",
            E::DecisionNotPromote { .. } => "decision_not_promote",
            E::DecisionExpired { .. } => "decision_expired",
            E::DecisionTooOld { .. } => "decision_too_old",
            E::DecisionUnsigned { .. } => "decision_unsigned",
            E::DecisionSignatureInvalid { .. } => "decision_signature_invalid",
            E::AuditStateMismatch { .. } => "audit_state_mismatch",
            E::DecisionSubjectMismatch { .. } => "decision_subject_mismatch",
            E::DecisionMalformed { .. } => "decision_malformed",
            E::StepAboveMax { .. } => "step_exceeds_max",
            E::ToPercentRaises { .. } => "to_percent_raises",
            E::RegistryInvalid { code, .. } => code,
            E::SchemaViolation { .. } => "schema_violation",
            E::SchemaUnusable { .. } => "schema_invalid",
            E::IdempotencyConflict { .. } => "idempotency_conflict",
            E::DecisionAlreadyUsed { .. } => "decision_already_used",
            E::RevisionConflict { .. } => "revision_conflict",
            E::RecoveryConflict { .. } => "recovery_conflict",
            E::AuditBroken { .. } => "audit_log_broken",
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            PolicyError::Core(e) => e.hints(),
            PolicyError::AuditBroken { .. } => {
                vec![
                    "run: policy-apply verify --audit-log FILE, and repair the log from git".into(),
                ]
            }
            PolicyError::IdempotencyConflict { .. } => {
                vec!["a retry must repeat the original request exactly; a new request needs a new key".into()]
            }
            PolicyError::DecisionSubjectMismatch { decision, wanted } if wanted == "(none)" => {
                vec![format!(
                    "pass --subject {decision:?}: a decision is applied only to the subject it was made for"
                )]
            }
            PolicyError::DecisionAlreadyUsed { .. } => {
                vec!["get a new decision from gate-eval, or pass --reuse-decision (or an --idempotency-key) to let this one drive another mutation".into()]
            }
            _ => Vec::new(),
        }
    }
}

/// `--a is`, `--a and --b are`, `--a, --b and --c are`.
fn missing_list(flags: &[&str]) -> String {
    match flags {
        [one] => format!("{one} is"),
        [init @ .., last] => format!("{} and {last} are", init.join(", ")),
        [] => "nothing is".into(),
    }
}
