//! The `freshness-report` document, its stable issue title and key, and its Markdown body.
//!
//! The replaced alarm put the commit and day counts in the issue title and deduplicated by
//! exact title, so a new issue opened almost every week. Here `title` and `dedupeKey`
//! depend only on the repository and the pinned ref; the counts live in the body.

use jiff::Timestamp;
use rollout_core::doc::Kind;
use rollout_core::summary::cell;
use schemars::JsonSchema;
use serde::Serialize;

use crate::history::{History, Side};

/// How many commits the report lists (the total is always given).
pub const MAX_LISTED: usize = 30;

/// freshness-check's report (kind `freshness-report`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FreshnessReport {
    /// Always "v1".
    pub schema_version: String,
    /// Always "freshness-report".
    pub kind: Kind,
    /// The clock of the run.
    pub checked_at: String,
    /// The trace id.
    pub trace_id: String,
    /// The repository: its origin URL without credentials, else the directory.
    pub repository: String,
    /// The pinned ref and its commit.
    pub pinned: SideDoc,
    /// The head ref and its commit.
    pub head: SideDoc,
    /// The watched pathspecs, sorted, without duplicates (empty: every path).
    pub paths: Vec<String>,
    /// Commits reachable from head and not from pinned that touch the paths.
    pub commits_ahead: usize,
    /// The first of them, newest first (at most 30; `commitsAhead` is the total).
    pub commits: Vec<CommitDoc>,
    /// Head's commit date minus the pin's, in whole days (truncated).
    pub gap_days: i64,
    /// The same gap, written as a duration (`16d3h`).
    pub gap: String,
    /// `--max-gap`.
    pub max_gap: String,
    /// Whether the repository is a shallow clone.
    pub shallow: bool,
    /// commitsAhead > 0 and the gap exceeds maxGap.
    pub stale: bool,
    /// `fresh`, `stale`, `skipped_negative_gap` (the pin is newer than head) or
    /// `incomplete_history` (a shallow clone cuts the history: nothing is concluded).
    pub status: Status,
    /// Stable across runs: the repository and the pinned ref only.
    pub dedupe_key: String,
    /// Stable issue title.
    pub title: String,
    /// Markdown for the tracker issue (ends with a hidden marker holding dedupeKey).
    pub body: String,
}

/// One end of the comparison.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SideDoc {
    /// The ref as given.
    #[serde(rename = "ref")]
    pub refname: String,
    /// The commit.
    pub sha: String,
    /// Its committer date.
    pub committed_at: String,
}

/// A commit ahead of the pin.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CommitDoc {
    /// Full sha.
    pub sha: String,
    /// First line of the message.
    pub subject: String,
    /// Watched paths it touches.
    pub paths: Vec<String>,
}

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing to do.
    Fresh,
    /// The pin should move.
    Stale,
    /// The pin is newer than head (a rewound or force-pushed head): skipped, not failed.
    SkippedNegativeGap,
    /// A shallow clone cuts the history: the count is unknown.
    IncompleteHistory,
}

/// Decide (pure): the gap and the verdict.
pub fn verdict(history: &History, max_gap_secs: i64) -> (i64, Status) {
    let gap = history.head.committed_at.as_second() - history.pinned.committed_at.as_second();
    let status = if history.boundary.is_some() {
        Status::IncompleteHistory
    } else if gap < 0 {
        Status::SkippedNegativeGap
    } else if !history.ahead.is_empty() && gap > max_gap_secs {
        Status::Stale
    } else {
        Status::Fresh
    };
    (gap, status)
}

/// Inputs of the document besides the history.
pub struct Context {
    /// The clock.
    pub now: Timestamp,
    /// The trace id.
    pub trace_id: String,
    /// The repository label.
    pub repository: String,
    /// Pathspecs watched.
    pub paths: Vec<String>,
    /// `--max-gap` in seconds.
    pub max_gap_secs: i64,
}

fn side_doc(s: &Side) -> SideDoc {
    SideDoc {
        refname: s.refname.clone(),
        sha: s.sha.clone(),
        committed_at: rollout_core::time::format_timestamp(s.committed_at),
    }
}

/// Build the report.
pub fn report(history: &History, ctx: Context) -> FreshnessReport {
    let (gap, status) = verdict(history, ctx.max_gap_secs);
    let dedupe_key = format!("freshness:{}@{}", ctx.repository, history.pinned.refname);
    let title = format!(
        "Stale pinned ref: {} in {}",
        history.pinned.refname, ctx.repository
    );
    let mut doc = FreshnessReport {
        schema_version: rollout_core::doc::SCHEMA_VERSION.into(),
        kind: Kind::FreshnessReport,
        checked_at: rollout_core::time::format_timestamp(ctx.now),
        trace_id: ctx.trace_id,
        repository: ctx.repository,
        pinned: side_doc(&history.pinned),
        head: side_doc(&history.head),
        paths: ctx.paths,
        commits_ahead: history.ahead.len(),
        commits: history
            .ahead
            .iter()
            .take(MAX_LISTED)
            .map(|a| CommitDoc {
                sha: a.sha.clone(),
                subject: a.subject.clone(),
                paths: a.paths.clone(),
            })
            .collect(),
        gap_days: gap / 86_400,
        gap: rollout_core::time::Duration::from_secs(gap).compound(),
        max_gap: rollout_core::time::Duration::from_secs(ctx.max_gap_secs).compound(),
        shallow: history.shallow,
        stale: status == Status::Stale,
        status,
        dedupe_key,
        title,
        body: String::new(),
    };
    doc.body = body(&doc);
    doc
}

/// The Markdown body of the tracker issue (also the step summary).
pub fn body(doc: &FreshnessReport) -> String {
    let verdict = match doc.status {
        Status::Fresh => "fresh",
        Status::Stale => "**stale**",
        Status::SkippedNegativeGap => "skipped: the pinned commit is newer than head",
        Status::IncompleteHistory => "**unknown**: a shallow clone cuts the history",
    };
    let mut md = format!(
        "### freshness-check: {} is {verdict}\n\n| | ref | commit | committed |\n|---|---|---|---|\n",
        cell(&doc.pinned.refname)
    );
    for (label, s) in [("pinned", &doc.pinned), ("head", &doc.head)] {
        md.push_str(&format!(
            "| {label} | {} | `{}` | {} |\n",
            cell(&s.refname),
            &s.sha[..12.min(s.sha.len())],
            s.committed_at
        ));
    }
    md.push_str(&format!(
        "\n{} commit(s) ahead on the watched paths; gap {} (limit {}).\n\n",
        doc.commits_ahead, doc.gap, doc.max_gap
    ));
    if !doc.commits.is_empty() {
        md.push_str("Commits on the watched paths since the pin:\n\n");
        for c in &doc.commits {
            md.push_str(&format!("- `{}` {}\n", &c.sha[..12], cell(&c.subject)));
        }
        if doc.commits_ahead > doc.commits.len() {
            md.push_str(&format!(
                "- … and {} more\n",
                doc.commits_ahead - doc.commits.len()
            ));
        }
        md.push('\n');
    }
    if doc.paths.is_empty() {
        md.push_str("Watched paths: all.\n\n");
    } else {
        md.push_str(&format!(
            "Watched paths: {}.\n\n",
            doc.paths
                .iter()
                .map(|p| format!("`{}`", cell(p)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if doc.status == Status::Stale {
        md.push_str(
            "Review the commits above, cut a new release of the pinned repository and move the pin to it.\n\n",
        );
    }
    md.push_str(&format!("<!-- {} -->\n", doc.dedupe_key));
    md
}
