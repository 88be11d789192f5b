//! # rollout-fresh: `freshness-check`, how far a pinned ref is behind on the paths that matter
//!
//! Evidence for a gate: a repository pins another one at a release ref; when the pinned
//! repository moves on the paths that are imported, and long enough ago, the pin is stale.
//! The weekly alarm this replaces cloned with `--depth=1`, so its path-scoped count was
//! always 0 or 1, put changing counts in its issue title (a new issue every week), and failed
//! the job when the pin was newer than main. This crate:
//!
//! * [`history`]: walks `pinned..head` through libgit2 over the full history, keeps the
//!   commits that touch the watched pathspecs, and notes a shallow boundary instead of
//!   undercounting;
//! * [`report`]: the pure verdict (`fresh`, `stale`, `skipped_negative_gap`,
//!   `incomplete_history`), a stable title and dedupe key, the Markdown issue body;
//! * [`cli`]: flags (paths from flags or from a manifest through jq) and the run sequence.

pub mod cli;
pub mod error;
pub mod history;
pub mod report;
