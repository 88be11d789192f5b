//! The `health-report` document and its Markdown summary.
//!
//! gate-eval's `runtime-health` preset judges `checks[].ok`, not `summary`, so the summary
//! is for people and dashboards. A `--validate-only` report has no checks at all, so it can
//! never pass that gate by accident.

use rollout_core::doc::Kind;
use rollout_core::summary::cell;
use schemars::JsonSchema;
use serde::Serialize;

use crate::check::Check;

/// health-probe's report (kind `health-report`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthReport {
    /// Always "v1".
    pub schema_version: String,
    /// Always "health-report".
    pub kind: Kind,
    /// The clock of the run (when the probes started).
    pub checked_at: String,
    /// The trace id.
    pub trace_id: String,
    /// True when the list was only validated (`--validate-only`): no checks were run.
    pub validate_only: bool,
    /// The normalised URL list, in order, without duplicates.
    pub urls: Vec<String>,
    /// The settings the checks ran with.
    pub settings: Settings,
    /// One verdict per URL, in the order of `urls` (empty with `validateOnly`).
    pub checks: Vec<CheckDoc>,
    /// Counts over `checks`.
    pub summary: Summary,
}

/// The settings of the run, as resolved.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// Per-attempt timeout (`5s`, `500ms`).
    pub timeout: String,
    /// Further attempts after a failed one.
    pub retries: u32,
    /// Wait between attempts.
    pub retry_delay: String,
    /// Accepted statuses (`200-299`).
    pub expect_status: String,
    /// The body pattern, if any.
    pub expect_body: Option<String>,
    /// Redirects followed at most.
    pub max_redirects: u32,
    /// Checks run at once.
    pub concurrency: usize,
    /// False with `--insecure`.
    pub tls_verify: bool,
}

/// One URL's verdict.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckDoc {
    /// The normalised URL.
    pub url: String,
    /// Healthy: an expected status (and body) within the attempts.
    pub ok: bool,
    /// The last HTTP status received (after redirects), null when none came.
    pub status: Option<u16>,
    /// Wall time of the last attempt, in milliseconds.
    pub latency_ms: u64,
    /// Attempts made (1 + retries used).
    pub attempts: u32,
    /// Why the last attempt failed: `timeout`, `connection_refused`, `connection_failed`,
    /// `dns`, `tls`, `too_many_redirects`, `redirect_downgrade`, `http_error`, `status`,
    /// `body`; null when ok.
    pub reason: Option<String>,
    /// The same, for people; null when ok.
    pub error: Option<String>,
}

/// Counts over the checks.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Checks run.
    pub total: usize,
    /// Checks that passed.
    pub healthy: usize,
    /// Checks that failed.
    pub unhealthy: usize,
    /// At least one check ran and every one passed.
    pub all_healthy: bool,
}

/// Build the report from the run's results.
pub fn report(
    checked_at: String,
    trace_id: String,
    validate_only: bool,
    urls: Vec<String>,
    settings: Settings,
    checks: &[Check],
) -> HealthReport {
    let healthy = checks.iter().filter(|c| c.ok).count();
    HealthReport {
        schema_version: "v1".into(),
        kind: Kind::HealthReport,
        checked_at,
        trace_id,
        validate_only,
        urls,
        settings,
        checks: checks
            .iter()
            .map(|c| CheckDoc {
                url: c.url.clone(),
                ok: c.ok,
                status: c.status,
                latency_ms: c.latency_ms,
                attempts: c.attempts,
                reason: c.reason.map(str::to_string),
                error: c.error.clone(),
            })
            .collect(),
        summary: Summary {
            total: checks.len(),
            healthy,
            unhealthy: checks.len() - healthy,
            all_healthy: !checks.is_empty() && healthy == checks.len(),
        },
    }
}

/// The Markdown summary of a report.
pub fn markdown(r: &HealthReport) -> String {
    let mut out = String::new();
    if r.validate_only {
        out.push_str(&format!(
            "## Runtime health URLs: {} valid (not probed)\n\n",
            r.urls.len()
        ));
        for url in &r.urls {
            out.push_str(&format!("- `{url}`\n"));
        }
        return out;
    }
    let s = &r.summary;
    out.push_str(&format!(
        "## Runtime health: {} of {} healthy{}\n\n",
        s.healthy,
        s.total,
        if s.all_healthy { "" } else { " ❌" }
    ));
    out.push_str("| URL | Result | Status | Latency | Attempts | Error |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for c in &r.checks {
        out.push_str(&format!(
            "| {} | {} | {} | {} ms | {} | {} |\n",
            cell(&c.url),
            if c.ok { "✅ healthy" } else { "❌ unhealthy" },
            c.status.map_or("–".to_string(), |s| s.to_string()),
            c.latency_ms,
            c.attempts,
            cell(c.error.as_deref().unwrap_or("")),
        ));
    }
    out.push_str(&format!(
        "\nChecked at {} (timeout {}, retries {}, expect {}{}).\n",
        r.checked_at,
        r.settings.timeout,
        r.settings.retries,
        r.settings.expect_status,
        if r.settings.tls_verify {
            ""
        } else {
            ", TLS verification OFF"
        }
    ));
    out
}
