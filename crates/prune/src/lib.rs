//! # rollout-prune: `prune-plan`, a registry clean-up plan that never deletes what is in use
//!
//! Registries fill with per-commit and per-PR images; clean-up must never delete what is
//! still in use: a digest git pins, the platform images of a kept multi-arch index, more
//! than a threshold at once. prune-plan turns an inventory into a plan a person can review, diff and feed to
//! `gh api`, with the invariants checked before anything could be deleted:
//!
//! * [`listing`]: every shape of the GitHub Packages listing (pages, slurped pages, JSONL,
//!   generic lists, several packages), read without a `Value` tree (by the private `decode` module);
//! * [`version`]: the records in a listing (version, id, URL parts) and the name grammar;
//! * [`protect`]: the digests a repository pins (digest-pin's scan, set, ledger, or a plain
//!   list) and the image-index map, read fail-closed;
//! * [`inputs`]: the protection files, read before the listing;
//! * [`rules`]: globs and regexes compiled and checked up front;
//! * [`plan`]: the pure decision, each kept version with its reason;
//! * [`report`]: the `prune-plan` document, its Markdown summary, the `gh api` lines;
//! * [`reviewed`]: a reviewed plan's deletions, checked against the listing it came from;
//! * [`cli`]: flags and the run sequence.

pub mod cli;
mod decode;
pub mod error;
pub mod inputs;
pub mod listing;
pub mod plan;
pub mod protect;
pub mod report;
pub mod reviewed;
pub mod rules;
pub mod version;
