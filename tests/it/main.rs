//! Integration tests: the binaries driven from the outside, on real files.
//!
//! One test binary for the workspace (as in uutils), one module per tool; `common` holds
//! the harness (commands with a fixed clock, fixtures, "nothing written" assertions).

mod common;
mod corpus;
mod digest_pin;
mod doc_examples;
mod freshness_check;
mod gate_eval;
mod health_probe;
mod image_resolve;
mod policy_apply;
mod prune_plan;
mod shell_results;
mod tag_bump;
mod tag_bump_ssh;
