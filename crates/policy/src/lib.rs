//! # policy-apply: governed, idempotent, audited rollout-policy mutation
//!
//! A promotion decision becomes real only when the rollout policy changes, so that change
//! must be deliberate (an operator intent), governed (who, on whose approval, why, until
//! when), exactly-once and auditable. The replaced bash apply rewrote the whole registry
//! lossily, let a replayed key swallow a rollback, refused the emergency rollback on expired
//! governance, and had no locking or atomic writes.
//!
//! * [`model`]: intents, governance, the request fingerprint, the records;
//! * [`rules`]: the pure rules (rollout state, next state, edits, invariants, decision binding);
//! * [`store`]: the crash-safe protocol (lock, journal, audit chain, idempotency index);
//! * [`cli`]: flags and the run sequence.

pub mod cli;
pub mod error;
pub mod model;
pub mod rules;
pub mod store;

pub use error::PolicyError;
