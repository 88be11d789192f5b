//! tag-bump: set an image tag in a GitOps repository, commit and push, safely and
//! idempotently (see tag-bump(1)).
//!
//! The crate is split the way the run goes: [`request`] checks the values (with [`tag`]
//! for the tag grammar and template), [`remote`] how remotes are reached and which branch,
//! [`environments`] reads an environment's Flux repository from an environments file,
//! [`workspace`] finds or clones the working copy, [`targets`] chooses the files and values
//! (with [`services`] for the services map and [`tree`] for a Flux setter tree), [`change`]
//! plans every edit in memory ([`edit`] changes the bytes, pure) and writes the files,
//! [`push`] commits and pushes with retries through [`git`] (libgit2, with [`ssh`] for keys
//! and host keys and [`transfer`] bounding each operation), [`branch`] is the branch rule
//! (pure), [`paths`] keeps every file inside the working copy, [`report`] is the output
//! document with its human and Markdown forms, and [`cli`] holds the flags and the run
//! sequence.

pub mod branch;
pub mod change;
pub mod cli;
pub mod edit;
pub mod environments;
pub mod error;
pub mod git;
pub mod paths;
pub mod push;
pub mod remote;
pub mod report;
pub mod request;
pub mod services;
pub mod sockets;
pub mod ssh;
pub mod tag;
pub mod targets;
pub mod transfer;
pub mod tree;
pub mod workspace;

/// The tool's name, as its messages start.
pub const TOOL: &str = "tag-bump";
