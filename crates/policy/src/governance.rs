//! The governance of a change: who makes it, on whose approval, why, and until when it must
//! be reviewed. All four are required, and a missing one is named with every other one
//! missing in one error.

use jiff::Timestamp;
use rollout_core::time::{Duration, parse_timestamp};

use crate::error::PolicyError;

/// The governance flags.
#[derive(Debug, Clone, clap::Args)]
pub struct GovernanceArgs {
    /// Governance: who makes the change.
    #[arg(long, visible_alias = "by", value_name = "NAME")]
    pub actor: Option<String>,
    /// Governance: the approval (ticket, change request).
    #[arg(long, value_name = "REF")]
    pub approval_ref: Option<String>,
    /// Governance: why.
    #[arg(long, value_name = "TEXT")]
    pub rationale: Option<String>,
    /// Governance: when the change must be reviewed (RFC 3339, in the future).
    #[arg(long, value_name = "RFC3339")]
    pub review_by: Option<String>,
    /// Governance: review within DURATION from now (7d, 2w), instead of --review-by.
    #[arg(long, value_name = "DURATION", conflicts_with = "review_by")]
    pub review_in: Option<String>,
}

impl GovernanceArgs {
    /// The four governance values, or every missing one named in one error.
    fn values(&self) -> Result<[&str; 4], PolicyError> {
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().filter(|s| !s.trim().is_empty())
        }
        let review = given(&self.review_by).or(given(&self.review_in));
        let values = [
            ("--actor", given(&self.actor)),
            ("--approval-ref", given(&self.approval_ref)),
            ("--rationale", given(&self.rationale)),
            ("--review-by (or --review-in)", review),
        ];
        let flags: Vec<&'static str> = values
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(f, _)| *f)
            .collect();
        if !flags.is_empty() {
            return Err(PolicyError::GovernanceMissing { flags });
        }
        Ok(values.map(|(_, v)| v.unwrap_or_default()))
    }

    /// Actor, approval and rationale, and the review time (`--review-in` counts from now).
    pub fn check(&self, now: Timestamp) -> Result<([&str; 3], Timestamp), PolicyError> {
        let [actor, approval_ref, rationale, review_text] = self.values()?;
        let review_by = match &self.review_in {
            Some(_) => rollout_core::time::add(now, Duration::parse(review_text)?)?,
            None => parse_timestamp(review_text)?,
        };
        Ok(([actor, approval_ref, rationale], review_by))
    }
}
