//! # digest-pin: image digest pins, promoted and rolled back with proof
//!
//! Promotion rewrites the `image@sha256:…` pins of workflows and manifests to a new build's
//! digests; rollback rewrites them to an older release's. The scripts this replaces used
//! `sed` per image and counted lines: they could not tell a look-alike image from the real
//! one's prefix, counted a line with two pins once, never checked that the new digest
//! landed, and edited files before asserting anything. This crate does the rewrite as a
//! pure plan first ([`plan`]): pins found by the reference grammar ([`reference`],
//! [`scanner`]), counts by occurrence, a re-scan of the result, and only then an
//! all-or-nothing replacement of the files (`rollout_core::tree`). A ledger of applied
//! releases ([`model`], read and appended by [`ledger`]) makes a rollback a lookup.

pub mod cli;
pub mod error;
pub mod ledger;
pub mod model;
pub mod plan;
pub mod reference;
pub mod report;
pub mod scanner;
pub mod walk;
