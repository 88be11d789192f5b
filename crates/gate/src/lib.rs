//! # gate-eval: declarative promotion gates over any JSON evidence
//!
//! A promotion decision is what every later step of a rollout trusts, so it has to be right,
//! explainable and reproducible. The replaced system decided with a bash + jq script whose
//! drill gate could promote with zero reason codes; Keptn, the standalone quality gate, is
//! end-of-life; Argo Rollouts and Flagger need a cluster. gate-eval is one binary that reads
//! a *gates file* (gates made of checks whose expressions are jq) and evidence documents,
//! and prints a `gate-decision`.
//!
//! The pipeline, one module each:
//!
//! * [`model`]: the gates file as typed data (and its JSON Schema);
//! * [`params`]: typed params, `--set` overrides;
//! * [`plan`]: validation with gate/check-named errors, limits resolved, jq compiled once;
//! * [`evidence`]: `-i` plus `--evidence NAME=PATH`, JSONL windows read from the end;
//! * [`engine`]: the pure evaluation (every check evaluated, missing fails closed);
//! * [`decision`]: the output document, its summary and its Markdown;
//! * [`presets`]: the built-in gates files;
//! * [`cli`]: flags and the run sequence (nothing written before everything is validated).

pub mod budget;
pub mod cli;
pub mod decision;
pub mod engine;
pub mod error;
pub mod evidence;
pub mod model;
pub mod params;
pub mod plan;
pub mod presets;

pub use error::GateError;
