//! `policy-apply verify`: the audit chain checked record by record (and, when the registry
//! is known, that its last record describes the registry as it is now), as an
//! `audit-verification` document; exit 1 on the first break.

use std::path::PathBuf;

use rollout_core::audit;
use rollout_core::cli::verdict_code;
use rollout_core::doc::{Kind, SCHEMA_VERSION};
use rollout_core::output::Output;
use rollout_core::time::format_timestamp;

use crate::error::PolicyError;
use crate::model::{AuditVerification, ChainBreak};
use crate::{rules, store};

/// The flags of `policy-apply verify`.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// The audit log.
    #[arg(long, value_name = "FILE")]
    pub audit_log: PathBuf,
    /// The registry the log's last record must describe (default: the log's name
    /// without .audit.jsonl, when that file exists).
    #[arg(long, value_name = "FILE")]
    pub registry: Option<PathBuf>,
    /// JSON pointer of the rollout object in the registry.
    #[arg(long, value_name = "PTR", default_value = "/policy/autonomous/rollout")]
    pub rollout_pointer: String,
}

impl VerifyArgs {
    /// Verify the chain in `--audit-log`; the registry it ends in is `--registry`, or the
    /// one the default log name gives.
    pub fn run(
        &self,
        key: Option<&rollout_core::sign::SigningKey>,
        now: jiff::Timestamp,
        output: &Output,
    ) -> Result<u8, PolicyError> {
        run(
            &self.audit_log,
            self.registry.as_deref(),
            &self.rollout_pointer,
            key,
            now,
            output,
        )
    }
}

/// Verify the chain in `path`; the registry it ends in is `registry`, or the one the
/// default log name gives.
fn run(
    path: &std::path::Path,
    registry: Option<&std::path::Path>,
    rollout_pointer: &str,
    key: Option<&rollout_core::sign::SigningKey>,
    now: jiff::Timestamp,
    output: &Output,
) -> Result<u8, PolicyError> {
    // The registry the chain ends in: named, or the default REGISTRY.audit.jsonl's.
    let registry = match registry {
        Some(r) => Some(r.to_path_buf()),
        None => path
            .to_str()
            .and_then(|p| p.strip_suffix(".audit.jsonl"))
            .map(PathBuf::from)
            .filter(|r| r.is_file()),
    };
    // An apply holds its journal (REGISTRY.pending.json) from before the registry is
    // written until its record is appended: a record cut short while it is there is one
    // being appended (a kill can cut a write that spans pages), not a damaged chain. The
    // committed records are verified, and the next apply completes or discards it.
    let appending = registry
        .as_ref()
        .is_some_and(|r| store::Paths::new(r, Some(path)).pending.exists());
    let verified = if appending {
        audit::verify_committed(path, key)?.0
    } else {
        audit::verify(path, key)?
    };
    let (records, unkeyed, first_break) = match verified {
        Ok(v) => {
            let mismatch = match (&registry, &v.last) {
                (Some(r), Some(last)) => {
                    let (bytes, revision) = store::read_registry(r)?;
                    let origin = r.display().to_string();
                    let doc = rollout_core::input::parse_json(&bytes, &origin)?;
                    let current = rules::read_rollout(&doc, rollout_pointer, &origin)?;
                    // An apply interrupted after writing the registry and before appending
                    // its record left both in its journal; the next run appends it.
                    let last =
                        store::journaled_record(r, &revision).unwrap_or_else(|| last.clone());
                    rules::check_continuity(&last, current).err()
                }
                _ => None,
            };
            let brk = mismatch.map(|e| ChainBreak {
                line: v.records,
                expected_seq: v.records + 1,
                reason: "registry_mismatch".into(),
                message: e.to_string(),
            });
            (v.records, v.unkeyed, brk)
        }
        Err(b) => (
            b.expected_seq - 1,
            0,
            Some(ChainBreak {
                line: b.line,
                expected_seq: b.expected_seq,
                reason: b.reason.to_string(),
                message: b.message,
            }),
        ),
    };
    let ok = first_break.is_none();
    let doc = AuditVerification {
        schema_version: SCHEMA_VERSION.into(),
        kind: Kind::AuditVerification,
        audit_log: path.display().to_string(),
        verified_at: format_timestamp(now),
        ok,
        records,
        keyed: key.is_some(),
        unkeyed_records: if key.is_some() { unkeyed } else { records },
        registry: registry.map(|r| r.display().to_string()),
        first_break,
    };
    output.emit_serialize(&doc)?;
    Ok(verdict_code(!ok))
}
