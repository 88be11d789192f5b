//! How an apply record reads to a person: the Markdown step summary.

use rollout_core::summary;
use serde_json::Value;

/// The step summary of an applied record.
pub fn markdown(record: &Value) -> String {
    let r = &record["rollout"];
    format!(
        "## policy-apply: {} ({})\n\n- Canary: {}% → {}%, manual pause: {} → {}\n- Actor: {} · Approval: {} · Review by: {}\n- Audit record {} `{}`\n",
        record["intent"].as_str().unwrap_or_default(),
        record["status"].as_str().unwrap_or_default(),
        r["before"]["canaryPercent"],
        r["after"]["canaryPercent"],
        r["before"]["manualPause"],
        r["after"]["manualPause"],
        summary::cell(record["governance"]["actor"].as_str().unwrap_or_default()),
        summary::cell(
            record["governance"]["approvalRef"]
                .as_str()
                .unwrap_or_default()
        ),
        record["governance"]["reviewBy"]
            .as_str()
            .unwrap_or_default(),
        record["seq"],
        record["hash"].as_str().unwrap_or_default(),
    )
}
