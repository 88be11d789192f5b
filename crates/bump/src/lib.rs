//! tag-bump: set an image tag in a GitOps repository, commit and push, safely and
//! idempotently (see tag-bump(1)).
//!
//! The crate is split the way the run goes: [`tag`] checks the values, [`services`] maps
//! services to files, [`branch`] chooses the branch (pure), [`edit`] changes the bytes
//! (pure), [`git`] syncs, commits and pushes through libgit2 (with [`ssh`] for keys and
//! host keys, and [`transfer`] bounding each operation's time and size), [`report`] is the
//! output document with its human and Markdown forms, [`workspace`] finds or clones the
//! working copy, [`paths`] keeps every file inside it, [`tree`] finds a Flux setter tree's
//! files, and [`cli`] ties them together.

pub mod branch;
pub mod cli;
pub mod edit;
pub mod error;
pub mod git;
pub mod paths;
pub mod report;
pub mod services;
pub mod ssh;
pub mod tag;
pub mod transfer;
pub mod tree;
pub mod workspace;
