//! # policy-apply: governed, idempotent, audited rollout-policy mutation
//!
//! A promotion decision becomes real only when the rollout policy changes, so that change
//! must be deliberate (an operator intent), governed (who, on whose approval, why, until
//! when), exactly-once and auditable (docs/ARCHITECTURE.md has the data path).
//!
//! * [`model`]: intents, governance, the request fingerprint, the records;
//! * [`rules`]: the pure rules (amounts, rollout state, next state, edits, invariants,
//!   decision binding);
//! * [`governance`]: the governance flags;
//! * [`inputs`]: the decision and schema documents;
//! * [`apply`]: one apply, from the registry read to the record built;
//! * [`store`]: the crash-safe protocol (lock, journal, audit chain, idempotency index);
//! * [`verify`]: `policy-apply verify`;
//! * [`report`]: the Markdown summary;
//! * [`cli`]: flags and the run sequence.

pub mod apply;
pub mod cli;
pub mod error;
pub mod governance;
pub mod inputs;
pub mod model;
pub mod report;
pub mod rules;
pub mod store;
pub mod verify;

pub use error::PolicyError;

/// The tool's name, as its messages start.
pub const TOOL: &str = "policy-apply";
