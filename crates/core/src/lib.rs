//! # rollout-core: the contract every rollout-tools binary follows
//!
//! The tools of rollout-tools are small and chained by pipes, so the value of the toolkit
//! is that they all behave the same: the same document envelope, the same flags, the same
//! exit codes, the same way of failing without changing anything. This crate holds that
//! contract (`CONTRACT.md` in the design notes) once, so no tool re-implements it:
//!
//! * [`audit`]: hash-chained JSONL audit logs, constant-cost tail checks, full verification;
//! * [`doc`]: the `schemaVersion`/`kind` envelope and the check every reader does first;
//! * [`error`]: the [`error::Failure`] trait and the one class-to-exit-code mapping;
//! * [`input`]: bounded reads of files and stdin, JSON with line and column errors;
//! * [`jsonedit`]: byte-preserving edits of JSON files by JSON Pointer, verified after;
//! * [`jsonl`]: large JSONL files hashed, validated and read backwards in bounded memory;
//! * [`oci`]: the OCI digest and tag grammar (normalised digests, tag rules);
//! * [`yaml`]: strict YAML 1.2 reading into JSON values;
//! * [`yamlspan`]: YAML span trees (byte offsets of scalars) for editors and scanners;
//! * [`yamledit`]: byte-preserving edits of YAML scalars, in their own quoting style;
//! * [`output`]: pretty/compact printing, `--jq`, quiet exit on a closed pipe;
//! * [`jq`]: jaq compiled once, `now` injected, `halt` never exits the process;
//! * [`results`]: the documents the shell entry points write (`orchestrate-result`,
//!   `gate-config-result`);
//! * [`resources`]: sizes such as `2GiB`, resident memory, for budgets;
//! * [`time`]: RFC 3339 timestamps and `90s`/`14d`/`2w` durations;
//! * [`hash`]: canonical JSON digests binding documents to their inputs;
//! * [`fsx`]: atomic writes, file locks with timeout, locked JSONL appends;
//! * [`contain`]: the one path-containment rule (`path_outside_root`);
//! * [`tree`]: edits inside a tree a pull request controls, relative to held directories;
//! * [`summary`]: Markdown summaries to a file and to the GitHub step summary;
//! * [`trace`]: trace id precedence and generation;
//! * [`url`]: URLs with their credentials removed, for messages and documents;
//! * [`env`](mod@env): the process environment the contract reads, captured once at the edge;
//! * [`cli`]: common flags, the clock, how a run ends.
//!
//! Domain code stays pure: the clock, the trace id and the environment are resolved at the
//! edge ([`cli`]) and passed in.

pub mod audit;
pub mod cli;
pub mod contain;
pub mod doc;
pub mod env;
pub mod error;
pub mod fsx;
pub mod hash;
pub mod input;
pub mod jq;
pub mod jsonedit;
pub mod jsonl;
pub mod oci;
pub mod output;
pub mod pattern;
pub mod resources;
pub mod results;
pub mod sign;
pub mod summary;
pub mod time;
pub mod trace;
pub mod tree;
pub mod url;
pub mod yaml;
pub mod yamledit;
pub mod yamlspan;

pub use error::{CoreError, ExitClass, Failure};

/// A flag's value that breaks its rule, as any tool's error (`argument_invalid`, exit 2):
/// the one usage error every tool raises for a bad flag value. Where `?` converts the error
/// anyway, [`CoreError::bad_value`] is the same value.
pub fn bad_value<E: From<CoreError>>(
    flag: &'static str,
    value: impl ToString,
    message: impl Into<String>,
) -> E {
    E::from(CoreError::bad_value(flag, value, message))
}
