//! # digest-pin: image digest pins, promoted and rolled back with proof
//!
//! Promotion rewrites the `image@sha256:…` pins of workflows and manifests to a new build's
//! digests; rollback rewrites them to an older release's. The rewrite is a pure plan first
//! ([`plan`]): pins found by the reference grammar ([`reference`], [`scanner`]), counts by
//! occurrence, a re-scan of the result, and only then an all-or-nothing replacement of the
//! files ([`rewrite`], through `rollout_core::tree`). The digests come from [`source`]; a
//! ledger of applied releases ([`model`], read and appended by [`ledger`]) makes a rollback
//! a lookup; [`inventory`] lists what a tree pins; [`walk`] chooses and reads the files;
//! [`report`] is the output documents; [`cli`] holds the flags and the run sequence.

pub mod cli;
pub mod error;
pub mod inventory;
pub mod ledger;
pub mod model;
pub mod plan;
pub mod reference;
pub mod report;
pub mod rewrite;
pub mod scanner;
pub mod source;
pub mod walk;

/// The tool's name, as its messages start.
pub const TOOL: &str = "digest-pin";
