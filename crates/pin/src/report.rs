//! The documents digest-pin prints and the ledger records it appends.

use indexmap::IndexMap;
use rollout_core::doc::Kind;
use rollout_core::summary;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::plan::{Change, Counts};
use crate::reference::Digest;
use crate::walk::Skipped;

/// How the run treated the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// The files were rewritten.
    Write,
    /// Everything computed, nothing written.
    DryRun,
    /// Drift check: nothing written; exit 1 when a pin differs.
    Check,
}

/// A file not read, and why.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SkippedFile {
    /// Relative to the root.
    pub file: String,
    /// `binary`, `too_large`, `symlink`, `not_a_file` or `temp_file`.
    pub reason: String,
}

/// A file read only partly (for example YAML that did not parse: text pins only).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FileWarning {
    /// Relative to the root.
    pub file: String,
    /// What happened.
    pub message: String,
}

/// What happened to the ledger.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LedgerNote {
    /// The ledger file.
    pub path: String,
    /// Whether a record was appended (not when the same release was already the latest
    /// record and nothing changed: a retry does not record twice).
    pub recorded: bool,
    /// The record's sequence number (the existing one when not recorded).
    pub seq: u64,
}

/// `kind: pin-report`: what a rewrite, dry run or check found and did.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PinReport {
    /// Always `v1`.
    pub schema_version: String,
    /// Always `pin-report`.
    pub kind: Kind,
    /// write, dry-run or check.
    pub mode: Mode,
    /// The release id, if known.
    pub release: Option<String>,
    /// The clock of the run.
    pub generated_at: String,
    /// Trace id.
    pub trace_id: String,
    /// The root, as given.
    pub root: String,
    /// The digest set applied (image → digest).
    pub images: IndexMap<String, String>,
    /// Every pin that changes (check: that differs), in file and line order.
    pub changes: Vec<Change>,
    /// Per image of the set: pins found, changed, already pinned.
    pub per_image: IndexMap<String, Counts>,
    /// Pins found for the set's images (occurrences, not lines).
    pub total: u64,
    /// Pins changed (check: that differ).
    pub changed: u64,
    /// Files that change.
    pub files_changed: u64,
    /// Files read.
    pub files_scanned: u64,
    /// Whether every pin already held its digest.
    pub in_sync: bool,
    /// Files not read.
    pub skipped: Vec<SkippedFile>,
    /// Files read only in part.
    pub warnings: Vec<FileWarning>,
    /// The ledger record, with `--record`.
    pub ledger: Option<LedgerNote>,
    /// With `--dry-run --diff`: the unified diff of every file that changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// One digest reference found by `digest-pin scan`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Reference {
    /// Relative to the root.
    pub file: String,
    /// 1-based line of the digest.
    pub line: usize,
    /// 1-based column of the digest.
    pub column: usize,
    /// The repository.
    pub image: String,
    /// The tag kept with the digest.
    pub tag: Option<String>,
    /// The digest as written.
    pub digest: String,
    /// Wrong length or glued characters: not a usable digest.
    pub malformed: bool,
}

/// `kind: digest-scan`: every digest pin in a tree.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DigestScan {
    /// Always `v1`.
    pub schema_version: String,
    /// Always `digest-scan`.
    pub kind: Kind,
    /// The clock of the run.
    pub generated_at: String,
    /// Trace id.
    pub trace_id: String,
    /// The root, as given.
    pub root: String,
    /// Every pin, in file and line order.
    pub references: Vec<Reference>,
    /// Repository → the distinct well-formed digests pinned for it, sorted.
    pub images: IndexMap<String, Vec<String>>,
    /// Every distinct well-formed digest the files hold, sorted, pinned to a named image or
    /// reached through a variable (for `prune-plan --protect-digests`; with `--image`, only
    /// those images' digests).
    pub digests: Vec<String>,
    /// Digests assigned to a variable that no use in its file attaches to an image
    /// (`ARG BASE_DIGEST=sha256:…` used only in a `RUN` line): not attributed to an image,
    /// but listed here and in `digests`, never dropped.
    pub unattributed: Vec<UnattributedDigest>,
    /// Files read.
    pub files_scanned: u64,
    /// Files not read.
    pub skipped: Vec<SkippedFile>,
    /// Files read only in part.
    pub warnings: Vec<FileWarning>,
}

/// A digest a variable holds, with no image attached to it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct UnattributedDigest {
    /// Relative to the root.
    pub file: String,
    /// 1-based line of the digest.
    pub line: usize,
    /// 1-based column of the digest.
    pub column: usize,
    /// The variable it is assigned to.
    pub variable: String,
    /// The digest.
    pub digest: String,
}

/// `kind: digest-set`: the images of a release and their digests.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DigestSetDoc {
    /// Always `v1`.
    pub schema_version: String,
    /// Always `digest-set`.
    pub kind: Kind,
    /// The release id.
    pub release: Option<String>,
    /// Image → digest. An image with a slash matches that repository exactly; a bare
    /// name matches the last path component.
    pub images: IndexMap<String, String>,
    /// Free labels carried along.
    #[serde(default)]
    pub labels: Map<String, Value>,
    /// When printed from the ledger: when it was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<String>,
}

/// One line of the ledger.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LedgerRecordDoc {
    /// 1-based position in the ledger.
    pub seq: u64,
    /// The release id.
    pub release: String,
    /// When it was applied.
    pub recorded_at: String,
    /// `promote` (a new set) or `rollback` (a set taken from the ledger).
    pub action: String,
    /// Image → digest.
    pub images: IndexMap<String, String>,
    /// Labels of the set.
    pub labels: Map<String, Value>,
    /// The root of the run.
    pub root: String,
    /// Files changed.
    pub files: Vec<String>,
    /// Counts per image.
    pub per_image: IndexMap<String, Counts>,
    /// Pins found.
    pub total: u64,
    /// Pins changed.
    pub changed: u64,
    /// Trace id of the run.
    pub trace_id: String,
}

/// `kind: digest-ledger`: the recorded releases, newest first.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DigestLedger {
    /// Always `v1`.
    pub schema_version: String,
    /// Always `digest-ledger`.
    pub kind: Kind,
    /// The ledger file.
    pub ledger: String,
    /// Records, newest first.
    pub records: Vec<Value>,
}

/// The Markdown summary of a rewrite, check or dry run.
pub fn markdown(r: &PinReport) -> String {
    let mode = match r.mode {
        Mode::Write => "write",
        Mode::DryRun => "dry run",
        Mode::Check => "check",
    };
    let mut out = format!(
        "## digest-pin: {} ({mode})\n\n{} pins found, {} changed, {} files changed of {} read.\n\n| image | digest | found | changed | already pinned |\n|---|---|---|---|---|\n",
        summary::cell(r.release.as_deref().unwrap_or("unnamed release")),
        r.total,
        r.changed,
        r.files_changed,
        r.files_scanned,
    );
    for (image, c) in &r.per_image {
        let digest = r.images.get(image).map(String::as_str).unwrap_or_default();
        let short = Digest::parse(digest)
            .map(|d| format!("{}…", d.short()))
            .unwrap_or_default();
        out.push_str(&format!(
            "| {} | `{short}` | {} | {} | {} |\n",
            summary::cell(image),
            c.found,
            c.changed,
            c.already_pinned
        ));
    }
    if let Some(l) = &r.ledger {
        out.push_str(&format!(
            "\nLedger `{}`: record {}{}.\n",
            summary::cell(&l.path),
            l.seq,
            if l.recorded {
                ""
            } else {
                " (already recorded)"
            }
        ));
    }
    out
}

/// The report's entry for each skipped file.
pub fn skipped_docs(skipped: &[Skipped]) -> Vec<SkippedFile> {
    skipped
        .iter()
        .map(|s| SkippedFile {
            file: s.file.clone(),
            reason: s.reason.to_string(),
        })
        .collect()
}
