//! The ledger of applied releases (`.rollout/digests.jsonl`): read, looked up, appended.
//!
//! A rollback is a lookup here instead of archaeology in commit subjects: every rewrite
//! with `--record` appends one record (release, images and digests, action, files, counts)
//! under the ledger's lock, and `--release ID` reads the newest record of a release back.

use std::path::Path;

use indexmap::IndexMap;
use rollout_core::doc::{Kind, SCHEMA_VERSION};
use rollout_core::fsx::append_jsonl;
use rollout_core::input::{MAX_DOCUMENT_BYTES, Source, as_text, read_bytes};
use rollout_core::output::Output;
use serde_json::Value;

use crate::error::PinError;
use crate::model::{Action, DigestSet, LedgerRecord, parse_ledger};
use crate::plan::Totals;
use crate::report::{DigestLedger, DigestSetDoc, LedgerNote, LedgerRecordDoc};

/// The newest record of `release`.
pub fn latest<'r>(records: &'r [LedgerRecord], release: &str) -> Option<&'r LedgerRecord> {
    records.iter().rev().find(|r| r.release == release)
}

/// Read the ledger; a missing file is an empty ledger unless `must_exist`.
pub fn read(path: &Path, must_exist: bool) -> Result<Vec<LedgerRecord>, PinError> {
    if !must_exist && !path.exists() {
        return Ok(Vec::new());
    }
    let src = Source::File(path.to_path_buf());
    let bytes = match read_bytes(&src, "a digest-pin ledger", MAX_DOCUMENT_BYTES) {
        Ok(b) => b,
        Err(rollout_core::CoreError::EmptyInput { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let text = as_text(&bytes, &src.origin())?;
    parse_ledger(text, &src.origin())
}

/// A set's images and digests as the ledger and documents write them.
pub fn images_map(set: &DigestSet) -> IndexMap<String, String> {
    set.images
        .iter()
        .map(|(i, d)| (i.as_str().to_string(), d.to_string()))
        .collect()
}

/// What one rewrite appends to the ledger: its release, what it did, where, and when.
pub struct Entry<'a> {
    /// The release and its digests.
    pub set: &'a DigestSet,
    /// Promote, rollback, restore or baseline.
    pub action: Action,
    /// The counts of the rewrite.
    pub totals: &'a Totals,
    /// The files it changed, relative to the root.
    pub files: &'a [String],
    /// The root it ran in.
    pub root: &'a Path,
    /// The clock of the run.
    pub now: &'a str,
    /// The run's trace id.
    pub trace_id: &'a str,
}

/// Append `entry` to the ledger at `path` (whose records are `records`, read under its
/// lock); a retry that changed nothing after the same release was recorded last is not
/// recorded twice.
pub fn record(
    path: &Path,
    records: &[LedgerRecord],
    entry: &Entry,
) -> Result<LedgerNote, PinError> {
    let Entry {
        set,
        action,
        totals,
        files,
        root,
        now,
        trace_id,
    } = *entry;
    let release = set.release.clone().unwrap_or_default();
    let images = images_map(set);
    // A retry after a crash between the rewrite and the append finds nothing to change:
    // record it then (the release is in effect), but never twice in a row.
    if totals.changed() == 0
        && let Some(last) = records.last()
        && last.release == release
        && last.images == images
    {
        return Ok(LedgerNote {
            path: path.display().to_string(),
            recorded: false,
            seq: last.seq,
        });
    }
    let seq = records.last().map(|r| r.seq).unwrap_or(0) + 1;
    let rec = LedgerRecordDoc {
        seq,
        release,
        recorded_at: now.to_string(),
        action: action.as_str().to_string(),
        images,
        labels: set.labels.clone(),
        root: root.display().to_string(),
        files: files.to_vec(),
        per_image: totals.per_image(set),
        total: totals.total(),
        changed: totals.changed(),
        trace_id: trace_id.to_string(),
    };
    append_jsonl(path, &serde_json::to_value(&rec).unwrap_or_default())?;
    Ok(LedgerNote {
        path: path.display().to_string(),
        recorded: true,
        seq,
    })
}

/// `digest-pin ledger`: the whole ledger (newest first), or one release as a `digest-set`.
pub fn show(path: &Path, release: Option<&str>, output: &Output) -> Result<u8, PinError> {
    let records = read(path, true)?;
    let origin = path.display().to_string();
    match release {
        Some(id) => {
            let rec = latest(&records, id).ok_or_else(|| PinError::ReleaseNotInLedger {
                release: id.to_string(),
                ledger: origin.clone(),
            })?;
            let set = rec.to_set(&origin)?;
            output.emit_serialize(&DigestSetDoc {
                schema_version: SCHEMA_VERSION.into(),
                kind: Kind::DigestSet,
                release: set.release.clone(),
                images: images_map(&set),
                labels: set.labels.clone(),
                recorded_at: rec
                    .raw
                    .get("recordedAt")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })?;
        }
        None => output.emit_serialize(&DigestLedger {
            schema_version: SCHEMA_VERSION.into(),
            kind: Kind::DigestLedger,
            ledger: origin,
            records: records.iter().rev().map(|r| r.raw.clone()).collect(),
        })?,
    }
    Ok(0)
}

/// With `--record`, the ledger's lock for the whole run (two recorded rewrites of one tree
/// never interleave) and its records; a release recorded with other digests is refused
/// before any file is touched.
pub fn open_for_record(
    path: &Path,
    set: &DigestSet,
    timeout: rollout_core::time::Duration,
) -> Result<(rollout_core::fsx::Lock, Vec<LedgerRecord>), PinError> {
    rollout_core::fsx::create_parent(path)?;
    let lock = rollout_core::fsx::Lock::acquire(path, timeout)?;
    let records = read(path, false)?;
    let release = set.release.clone().unwrap_or_default();
    if let Some(r) = records
        .iter()
        .find(|r| r.release == release && r.images != images_map(set))
    {
        return Err(PinError::LedgerReleaseConflict {
            release,
            seq: r.seq,
        });
    }
    Ok((lock, records))
}
