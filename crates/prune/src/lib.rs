//! # rollout-prune: `prune-plan`, a registry clean-up plan that never deletes what is in use
//!
//! Registries fill with per-commit and per-PR images. The weekly workflow this replaces
//! deleted `pending-*` versions older than 14 days unless they carried a 40-hex tag; every
//! build carried both tags on one digest, so it never deleted anything, it counted only the
//! first page of the API, and it had no threshold. Retention actions delete the platform
//! images of multi-arch indexes and know nothing of what git still pins.
//!
//! prune-plan turns an inventory into a plan a person can review, diff and feed to
//! `gh api`, with the invariants checked before anything could be deleted:
//!
//! * [`listing`]: every shape of the GitHub Packages listing (pages, slurped pages, JSONL,
//!   generic lists, several packages), read without a `Value` tree (by the private `decode` module);
//! * [`version`]: the records in a listing (version, id, URL parts) and the name grammar;
//! * [`protect`]: the digests a repository pins (digest-pin's scan, set, ledger, or a plain
//!   list) and the image-index map, read fail-closed;
//! * [`rules`]: globs and regexes compiled and checked up front;
//! * [`plan`]: the pure decision, each kept version with its reason;
//! * [`report`]: the `prune-plan` document, its Markdown summary, the `gh api` lines;
//! * [`reviewed`]: a reviewed plan's deletions, checked against the listing it came from;
//! * [`cli`]: flags and the run sequence.

pub mod cli;
mod decode;
pub mod error;
pub mod listing;
pub mod plan;
pub mod protect;
pub mod report;
pub mod reviewed;
pub mod rules;
pub mod version;
