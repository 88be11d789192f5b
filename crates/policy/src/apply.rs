//! One apply, from the registry as read to the record that is sealed: the idempotency key
//! and its replay, the registry read and checked (`--expect-revision`, byte-preserving
//! edits possible), the next rollout state and its edits checked against the invariants and
//! `--schema`, and the `apply-record` built from all of it.

use std::path::Path;

use rollout_core::audit::Tail;
use rollout_core::doc::{Kind, SCHEMA_VERSION};
use rollout_core::jsonedit;
use serde_json::{Map, Value};

use crate::error::PolicyError;
use crate::model::{
    ApplyRecord, DecisionRef, Governance, Intent, RegistryRef, Request, RolloutChange,
    RolloutState, Status,
};
use crate::rules;
use crate::store::{self, Paths};

/// The request's idempotency key: `--idempotency-key`, else one derived from the decision
/// and intent (so a re-run of a CI job replays, and one promote decision drives one expand,
/// unless `--reuse-decision`); and the request's fingerprint.
#[derive(Debug, Clone)]
pub struct Key {
    /// The key, if any.
    pub key: Option<String>,
    /// The key was derived from the decision (not given).
    pub derived: bool,
    /// The request's fingerprint.
    pub fingerprint: String,
}

impl Key {
    /// The key of `request`.
    pub fn of(
        request: &Request,
        given: Option<&str>,
        reuse_decision: bool,
        decision: Option<&Value>,
    ) -> Key {
        let derived = decision
            .filter(|_| given.is_none() && !reuse_decision)
            .and_then(|doc| {
                crate::model::derived_key(
                    request.intent,
                    &rollout_core::hash::canonical_digest(doc),
                )
            });
        Key {
            derived: derived.is_some(),
            key: given.map(str::to_string).or(derived),
            fingerprint: request.fingerprint(),
        }
    }
}

/// The stored record of a key already used by this request, marked as replayed; a key used
/// by another request is refused.
pub fn replay(paths: &Paths, key: &Key, intent: Intent) -> Result<Option<Value>, PolicyError> {
    let Some(k) = &key.key else {
        return Ok(None);
    };
    let Some(entry) = store::lookup(paths, k)? else {
        return Ok(None);
    };
    if entry.fingerprint != key.fingerprint {
        let seq = entry.record["seq"].as_u64().unwrap_or(0);
        return Err(if key.derived {
            PolicyError::DecisionAlreadyUsed {
                intent: intent.as_str().into(),
                seq,
            }
        } else {
            PolicyError::IdempotencyConflict {
                key: k.clone(),
                seq,
            }
        });
    }
    let mut replay = entry.record;
    replay["status"] = Value::String("replayed".into());
    replay["replayed"] = Value::Bool(true);
    Ok(Some(replay))
}

/// The registry as read: its text, revision, document and rollout state.
pub struct Registry<'a> {
    text: String,
    origin: String,
    revision: String,
    doc: Value,
    before: RolloutState,
    rollout_pointer: &'a str,
    governance_pointer: &'a str,
}

/// A planned mutation: the new text (none when nothing changes) and both revisions.
pub struct Change {
    /// The registry's text before.
    pub text: String,
    /// The new text, when the rollout changes.
    pub new_text: Option<String>,
    /// `sha256:` of the registry before.
    pub revision_before: String,
    /// `sha256:` of the registry after.
    pub revision_after: String,
    /// The rollout before and after.
    pub rollout: RolloutChange,
}

/// What a record is made of besides the change.
pub struct Context<'a> {
    /// `--registry` as given (the record keeps the path as given).
    pub registry_path: &'a Path,
    /// The request.
    pub request: &'a Request,
    /// The bound decision.
    pub decision: Option<DecisionRef>,
    /// The governance written.
    pub governance: Governance,
    /// The idempotency key.
    pub key: &'a Key,
    /// When (the injected clock), formatted.
    pub timestamp: String,
    /// The trace id.
    pub trace_id: String,
    /// `--evidence-ref`, duplicates dropped.
    pub evidence_refs: Vec<String>,
}

impl<'a> Registry<'a> {
    /// Read the registry and its rollout state; `--expect-revision` must match.
    pub fn read(
        paths: &Paths,
        expect_revision: Option<&str>,
        rollout_pointer: &'a str,
        governance_pointer: &'a str,
    ) -> Result<Registry<'a>, PolicyError> {
        let (bytes, revision) = store::read_registry(&paths.registry)?;
        let origin = paths.registry.display().to_string();
        if let Some(expected) = expect_revision
            && expected != revision
        {
            return Err(PolicyError::RevisionConflict {
                expected: expected.to_string(),
                actual: revision,
            });
        }
        let text = rollout_core::input::as_text(&bytes, &origin)?.to_string();
        jsonedit::check(&text, &origin)?;
        let doc: Value = rollout_core::input::parse_json(text.as_bytes(), &origin)?;
        let before = rules::read_rollout(&doc, rollout_pointer, &origin)?;
        Ok(Registry {
            text,
            origin,
            revision,
            doc,
            before,
            rollout_pointer,
            governance_pointer,
        })
    }

    /// The next state and the bytes that make it, checked: continuity with the last record
    /// (for expand and resume), the invariants, `--schema`.
    pub fn mutate(
        self,
        paths: &Paths,
        tail: &Tail,
        request: &Request,
        governance: &Governance,
        schema: Option<&jsonschema::Validator>,
    ) -> Result<Change, PolicyError> {
        let intent = request.intent;
        // (a dry run does not recover an interrupted apply: its journaled record counts)
        let last = store::journaled_record(&paths.registry, &self.revision).or(tail.last.clone());
        if intent.needs_decision()
            && let Some(last) = &last
            && store::describes(last, paths)
        {
            rules::check_continuity(last, self.before)?;
        }
        let after = rules::next_state(intent, self.before, request.step, request.to_percent)?;
        let changed = self.before != after;
        let (new_text, revision_after) = if changed {
            let edits = rules::edits(
                self.rollout_pointer,
                self.governance_pointer,
                &self.doc,
                after,
                governance,
            );
            let new_text = jsonedit::apply(&self.text, &edits, &self.origin)?;
            self.check(&new_text, schema)?;
            let rev = rollout_core::hash::sha256_bytes(new_text.as_bytes());
            (Some(new_text), rev)
        } else {
            (None, self.revision.clone())
        };
        Ok(Change {
            text: self.text,
            new_text,
            revision_before: self.revision,
            revision_after,
            rollout: RolloutChange {
                before: self.before,
                after,
                changed,
            },
        })
    }

    /// The mutated registry keeps the invariants and satisfies the schema.
    fn check(
        &self,
        new_text: &str,
        schema: Option<&jsonschema::Validator>,
    ) -> Result<(), PolicyError> {
        let mutated: Value = rollout_core::input::parse_json(new_text.as_bytes(), &self.origin)?;
        rules::check_invariants(
            &mutated,
            self.rollout_pointer,
            self.governance_pointer,
            &self.origin,
        )?;
        if let Some(v) = schema
            && let Some(err) = v.iter_errors(&mutated).next()
        {
            return Err(PolicyError::SchemaViolation {
                message: format!("{} (at {})", err, err.instance_path()),
            });
        }
        Ok(())
    }
}

impl Change {
    /// The record of this change, not yet sealed (`seq`, `prevHash` and `hash` are set by
    /// the audit chain).
    pub fn record(&self, c: Context<'_>) -> Result<Map<String, Value>, PolicyError> {
        let record = ApplyRecord {
            schema_version: SCHEMA_VERSION.into(),
            kind: Kind::ApplyRecord,
            timestamp: c.timestamp,
            status: if self.rollout.changed {
                Status::Applied
            } else {
                Status::Noop
            },
            intent: c.request.intent,
            step: c.request.step,
            to_percent: c.request.to_percent,
            subject: c.request.subject.clone(),
            decision: c.decision,
            governance: c.governance,
            rollout: self.rollout,
            registry: RegistryRef {
                path: c.registry_path.display().to_string(),
                revision_before: self.revision_before.clone(),
                revision_after: self.revision_after.clone(),
            },
            idempotency_key: c.key.key.clone(),
            request_fingerprint: c.key.fingerprint.clone(),
            trace_id: c.trace_id,
            evidence_refs: c.evidence_refs,
            replayed: false,
            seq: 0,
            prev_hash: String::new(),
            hash: String::new(),
        };
        Ok(rollout_core::doc::to_object(&record)?)
    }

    /// Make the change durable, in the journal's order: the record, the registry, the audit
    /// log, the key.
    pub fn commit(
        &self,
        paths: &Paths,
        sealed: &Map<String, Value>,
        key: &Key,
        fault: Option<store::Fault>,
    ) -> Result<(), PolicyError> {
        store::commit(
            paths,
            &store::Commit {
                record: sealed,
                registry_text: self.new_text.as_deref().map(str::as_bytes),
                revision_before: &self.revision_before,
                revision_after: &self.revision_after,
                key: key.key.as_deref().map(|k| (k, key.fingerprint.as_str())),
            },
            fault,
        )
    }

    /// What a dry run prints: the sealed record marked `dryRun` (status `would_apply` when
    /// it changes something), with a unified diff of the registry under `diff_label`.
    pub fn dry_run_view(&self, sealed: Map<String, Value>, diff_label: Option<&str>) -> Value {
        let mut shown = Value::Object(sealed);
        shown["dryRun"] = Value::Bool(true);
        if self.rollout.changed {
            shown["status"] = serde_json::json!(Status::WouldApply);
        }
        if let Some(label) = diff_label {
            let new = self.new_text.as_deref().unwrap_or(&self.text);
            let diff = rollout_core::output::unified_diff(label, &self.text, new);
            shown["diff"] = Value::String(diff);
        }
        shown
    }
}
