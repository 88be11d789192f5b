//! A reviewed plan turned into delete commands, without planning again.
//!
//! The plan a person reviewed (the artifact of a scheduled run) is what may be deleted: a
//! second planning run with a later clock can add candidates the review never saw. So
//! `--plan` takes the deletions from the plan itself, after checking that the listing given
//! with `-i` is the one the plan was made from (its sha256) and that every version to
//! delete is in it with the same digest. Nothing here plans or reads files: the checks are
//! a pure function of the two documents.

use std::collections::HashMap;

use serde_json::Value;

use crate::error::PruneError;
use crate::listing::{Listing, Package, Version, VersionId};

/// The deletions of a reviewed plan, per package of the listing, in the plan's order.
pub fn deletions<'a>(
    plan: &Value,
    plan_origin: &str,
    listing: &'a Listing,
) -> Result<Vec<(&'a Package, Vec<&'a Version>)>, PruneError> {
    let mismatch = |message: String| PruneError::PlanMismatch {
        origin: plan_origin.to_string(),
        message,
    };
    let made_from = plan.pointer("/input/sha256").and_then(Value::as_str);
    if made_from != Some(listing.sha256.as_str()) {
        return Err(mismatch(format!(
            "was made from a listing with sha256 {}, not this one ({}): list the versions again and plan again, or give the listing the plan was made from",
            made_from.unwrap_or("(none)"),
            listing.sha256
        )));
    }
    match plan.get("action").and_then(Value::as_str) {
        Some("delete") | Some("nothing") => {}
        Some("refused_threshold") => {
            return Err(mismatch(
                "was refused (more candidates than --max-delete): it deletes nothing".into(),
            ));
        }
        other => return Err(mismatch(format!("has no usable action ({other:?})"))),
    }
    let mut out = Vec::new();
    for doc in plan
        .get("packages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = doc.get("package").and_then(Value::as_str);
        let package = listing
            .packages
            .iter()
            .find(|p| p.name.as_deref() == name)
            .ok_or_else(|| {
                mismatch(format!(
                    "names package {name:?}, which the listing does not have"
                ))
            })?;
        // by id: a plan deletes thousands of versions of a listing of hundreds of thousands
        let by_id: HashMap<&VersionId, &Version> =
            package.versions.iter().map(|v| (&v.id, v)).collect();
        let mut versions = Vec::new();
        for entry in doc
            .get("delete")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let id = entry.get("id").cloned().unwrap_or(Value::Null);
            let digest = entry
                .get("digest")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let key = match &id {
                Value::Number(n) => n.as_u64().map(VersionId::Number),
                Value::String(s) => Some(VersionId::Text(s.as_str().into())),
                _ => None,
            };
            let version = key
                .and_then(|k| by_id.get(&k).copied())
                .filter(|v| v.digest() == digest)
                .ok_or_else(|| {
                    mismatch(format!(
                        "deletes version {id} ({digest}), which the listing does not hold"
                    ))
                })?;
            versions.push(version);
        }
        out.push((package, versions));
    }
    Ok(out)
}
