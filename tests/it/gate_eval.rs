//! gate-eval from the outside: decisions, presets, persistence, and every failure mode.

use serde_json::{Value, json};

use crate::common::{NOW, error_line, fixture, fx, json_out, snapshot, tool};

fn gate() -> assert_cmd::Command {
    let mut c = tool("gate-eval");
    c.args(["--now", NOW, "--trace-id", "trace-test", "--compact"]);
    c
}

fn superloop(status: &str, handoff: &str, drills: &str) -> assert_cmd::Command {
    let mut c = gate();
    c.args(["--preset", "superloop-v1", "--subject", "fleet-a"]);
    c.arg("--evidence")
        .arg(format!("status={}", fx("gate", status)));
    c.arg("--evidence")
        .arg(format!("handoff={}", fx("gate", handoff)));
    c.arg("--evidence")
        .arg(format!("drills={}", fx("gate", drills)));
    c
}

fn codes(doc: &Value) -> Vec<String> {
    doc["summary"]["reasonCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn check<'a>(doc: &'a Value, code: &str) -> &'a Value {
    doc["gates"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["checks"].as_array().unwrap())
        .find(|c| c["reasonCode"] == code)
        .unwrap_or_else(|| panic!("no check {code}"))
}

#[test]
fn superloop_promotes_on_healthy_evidence_and_is_byte_identical() {
    let a = superloop("status-ok.json", "handoff-ok.jsonl", "drills-ok.json")
        .output()
        .unwrap();
    assert_eq!(
        a.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&a.stderr)
    );
    let doc = json_out(&a);
    assert_eq!(doc["kind"], "gate-decision");
    assert_eq!(doc["schemaVersion"], "v1");
    assert_eq!(doc["summary"]["decision"], "promote");
    assert_eq!(doc["summary"]["gatePassCount"], 5);
    assert_eq!(doc["generatedAt"], NOW);
    assert_eq!(doc["validUntil"], "2026-11-21T09:00:00Z");
    assert_eq!(doc["subject"], "fleet-a");
    assert_eq!(doc["traceId"], "trace-test");
    // The window keeps the last 20 autonomous executions: the 10 bad old ones are outside.
    let handoff = &doc["inputs"]["sources"]["handoff"];
    assert_eq!(handoff["kept"], 20);
    assert_eq!(handoff["records"], 90);
    assert_eq!(
        check(&doc, "promotion_autonomous_failure_rate_exceeded")["observed"],
        0.2
    );
    // Exactly 168 h old passes; a first duplicate id wins over a later failing one.
    assert_eq!(
        check(&doc, "promotion_drill_stale_kill_switch")["observed"],
        "7d"
    );
    assert_eq!(
        check(&doc, "promotion_drill_stale_kill_switch")["status"],
        "pass"
    );
    // Digests bind the decision to its inputs.
    let raw = std::fs::read(fixture("gate", "handoff-ok.jsonl")).unwrap();
    assert_eq!(handoff["digest"], crate::common::sha256sum(&raw));
    let b = superloop("status-ok.json", "handoff-ok.jsonl", "drills-ok.json")
        .output()
        .unwrap();
    assert_eq!(
        a.stdout, b.stdout,
        "same inputs and --now must give identical bytes"
    );
}

#[test]
fn superloop_drill_bug_is_fixed_every_drill_reports_its_own_failure() {
    // The replaced script promoted this input with zero reason codes (superloop §10.1).
    let out = superloop(
        "status-ok.json",
        "handoff-ok.jsonl",
        "drills-superloop-bug.json",
    )
    .output()
    .unwrap();
    let doc = json_out(&out);
    assert_eq!(doc["summary"]["decision"], "hold");
    assert_eq!(doc["summary"]["failedGates"], json!(["drill_recency"]));
    assert_eq!(
        codes(&doc),
        [
            "promotion_drill_not_passed_ambiguous_retry_guard",
            "promotion_drill_not_passed_kill_switch",
            "promotion_drill_not_passed_sprite_service_outage",
            "promotion_drill_timestamp_invalid_ambiguous_retry_guard",
        ]
    );
}

#[test]
fn missing_and_corrupt_evidence_hold_with_reasons_instead_of_failing() {
    let out = superloop(
        "no-such-status.json",
        "handoff-corrupt.jsonl",
        "no-such-drills.json",
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc = json_out(&out);
    let c = codes(&doc);
    for want in [
        "promotion_fleet_status_missing",
        "promotion_policy_mode_not_guarded_auto",
        "promotion_handoff_telemetry_invalid",
        "promotion_autonomous_sample_insufficient",
        "promotion_manual_backlog_unavailable",
        "promotion_drill_state_missing",
    ] {
        assert!(c.contains(&want.to_string()), "{want} not in {c:?}");
    }
    let handoff = &doc["inputs"]["sources"]["handoff"];
    assert_eq!(handoff["state"], "invalid");
    assert!(
        handoff["error"].as_str().unwrap().starts_with("line 6:"),
        "{handoff}"
    );
    assert_eq!(doc["inputs"]["sources"]["status"]["state"], "missing");
}

#[test]
fn superloop_boundaries_equal_passes_and_one_more_fails() {
    let dir = tempfile::tempdir().unwrap();
    let status = dir.path().join("status.json");
    let mut s: Value =
        serde_json::from_slice(&std::fs::read(fixture("gate", "status-ok.json")).unwrap()).unwrap();
    s["autonomous"]["outcomeRollup"]["manual_backlog"] = json!(6);
    std::fs::write(&status, s.to_string()).unwrap();
    let out = gate()
        .args(["--preset", "superloop-v1"])
        .arg(format!("--evidence=status={}", status.display()))
        .arg(format!(
            "--evidence=handoff={}",
            fx("gate", "handoff-boundary.jsonl")
        ))
        .arg(format!(
            "--evidence=drills={}",
            fx("gate", "drills-ok.json")
        ))
        .output()
        .unwrap();
    let doc = json_out(&out);
    // rates of exactly 0.2 pass; a backlog of 6 > 5 fails
    assert_eq!(codes(&doc), ["promotion_manual_backlog_exceeded"]);
    assert_eq!(
        check(&doc, "promotion_autonomous_ambiguity_rate_exceeded")["status"],
        "pass"
    );
    // one second later the 168 h drill is stale
    let out = tool("gate-eval")
        .args([
            "--compact",
            "--now",
            "2026-11-21T08:00:01Z",
            "--preset",
            "superloop-v1",
        ])
        .arg(format!(
            "--evidence=drills={}",
            fx("gate", "drills-ok.json")
        ))
        .output()
        .unwrap();
    assert!(codes(&json_out(&out)).contains(&"promotion_drill_stale_kill_switch".to_string()));
}

#[test]
fn params_are_overridable_and_reported() {
    let out = superloop("status-ok.json", "handoff-ok.jsonl", "drills-ok.json")
        .args([
            "--set",
            "maxManualBacklog=4",
            "--set",
            "maxDrillAge=2d",
            "--set",
            "windowExecutions=25",
        ])
        .output()
        .unwrap();
    let doc = json_out(&out);
    assert_eq!(doc["params"]["maxManualBacklog"], 4);
    assert_eq!(doc["params"]["maxDrillAge"], "2d");
    let c = codes(&doc);
    assert!(
        c.contains(&"promotion_manual_backlog_exceeded".into()),
        "{c:?}"
    );
    assert!(
        c.contains(&"promotion_drill_stale_kill_switch".into()),
        "{c:?}"
    );
    // a wider window takes in 5 of the bad old runs: 45 failed of 125 is over 0.2, while
    // 25 ambiguous of 125 is exactly 0.2 and passes
    assert!(
        c.contains(&"promotion_autonomous_failure_rate_exceeded".into()),
        "{c:?}"
    );
    assert!(
        !c.contains(&"promotion_autonomous_ambiguity_rate_exceeded".into()),
        "{c:?}"
    );
}

#[test]
fn custom_gates_cover_every_check_type_and_option() {
    let out = gate()
        .args([
            "--gates",
            &fx("gate", "custom.yaml"),
            "-i",
            &fx("gate", "custom-evidence.json"),
        ])
        .output()
        .unwrap();
    let doc = json_out(&out);
    let s = &doc["summary"];
    assert_eq!(s["decision"], "hold");
    assert_eq!(s["failedGates"], json!(["probes"]));
    assert_eq!(s["reasonCodes"], json!(["probe_stale_us"]));
    assert_eq!(s["warnings"], json!(["changelog_missing", "owner_unknown"]));
    assert_eq!(s["shadowFailedGates"], json!(["experimental"]));
    assert_eq!(check(&doc, "probe_stale_eu")["observed"], "30m");
    assert_eq!(
        check(&doc, "probe_stale_us")["detail"]["at"],
        "2026-11-21T07:15:00Z"
    );
    assert_eq!(check(&doc, "p99_too_high")["status"], "pass");
    assert_eq!(
        check(&doc, "error_rate_exceeded")["detail"],
        json!({"numerator": 1.0, "denominator": 100.0})
    );
    let many = check(&doc, "many_values");
    assert_eq!(many["status"], "missing");
    assert!(
        many["message"]
            .as_str()
            .unwrap()
            .contains("yielded 2 values")
    );
    // the trace id is inherited from the input when no flag or env gives one
    let out = tool("gate-eval")
        .args([
            "--now",
            NOW,
            "--gates",
            &fx("gate", "custom.yaml"),
            "-i",
            &fx("gate", "custom-evidence.json"),
        ])
        .output()
        .unwrap();
    assert_eq!(json_out(&out)["traceId"], "trace-from-input");
}

#[test]
fn fail_on_hold_exits_1_after_persisting() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("decision.json");
    let history = dir.path().join("decisions.jsonl");
    let summary = dir.path().join("summary.md");
    let step = dir.path().join("step.md");
    for _ in 0..2 {
        let out = superloop(
            "status-ok.json",
            "handoff-ok.jsonl",
            "drills-superloop-bug.json",
        )
        .arg("--fail-on-hold")
        .arg("--state-file")
        .arg(&state)
        .arg("--history-file")
        .arg(&history)
        .arg("--summary")
        .arg(&summary)
        .env("GITHUB_STEP_SUMMARY", &step)
        .output()
        .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved["summary"]["decision"], "hold");
    let lines = std::fs::read_to_string(&history).unwrap();
    assert_eq!(lines.lines().count(), 2);
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("## gate-eval: HOLD"), "{md}");
    assert!(
        md.contains("- **drill_recency**: `promotion_drill_not_passed_kill_switch`"),
        "{md}"
    );
    assert!(md.contains("| drill_recency | `promotion_drill_timestamp_invalid_ambiguous_retry_guard` | missing (fail) |"), "{md}");
    assert_eq!(std::fs::read_to_string(&step).unwrap(), format!("{md}{md}"));
    // --no-step-summary leaves the step summary alone
    superloop("status-ok.json", "handoff-ok.jsonl", "drills-ok.json")
        .arg("--no-step-summary")
        .env("GITHUB_STEP_SUMMARY", &step)
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&step).unwrap(), format!("{md}{md}"));
}

#[test]
fn jq_output_prints_strings_raw() {
    gate()
        .args(["--preset", "superloop-v1", "--jq", ".summary.reasonCodes[]"])
        .arg(format!(
            "--evidence=drills={}",
            fx("gate", "drills-superloop-bug.json")
        ))
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "\npromotion_drill_not_passed_kill_switch\n",
        ))
        .stdout(predicates::str::contains("\"").not());
}

use predicates::prelude::PredicateBooleanExt;

#[test]
fn runtime_health_preset() {
    let report = |ok2: bool, at: &str| {
        json!({"schemaVersion": "v1", "kind": "health-report", "checkedAt": at,
               "checks": [{"url": "https://a.example/health", "ok": true, "status": 200},
                          {"url": "https://b.example/health", "ok": ok2, "status": if ok2 {200} else {503}}],
               "summary": {"total": 2, "healthy": 2, "unhealthy": 0, "allHealthy": true}})
        .to_string()
    };
    let run = |input: String| {
        let out = gate()
            .args(["--preset", "runtime-health"])
            .write_stdin(input)
            .output()
            .unwrap();
        json_out(&out)
    };
    assert_eq!(
        run(report(true, "2026-11-21T07:50:00Z"))["summary"]["decision"],
        "promote"
    );
    // the checks are judged, not the report's own (hand-editable) summary
    assert_eq!(
        codes(&run(report(false, "2026-11-21T07:50:00Z"))),
        ["runtime_health_unhealthy"]
    );
    assert_eq!(
        codes(&run(report(true, "2026-11-21T07:00:00Z"))),
        ["runtime_health_report_stale"]
    );
    assert_eq!(
        codes(&run(report(true, "yesterday"))),
        ["runtime_health_report_timestamp_invalid"]
    );
    assert_eq!(
        codes(&run(
            json!({"schemaVersion": "v1", "kind": "prune-plan"}).to_string()
        )),
        ["runtime_health_report_missing"]
    );
}

/// The shapes the usual tools print about an image, each as its documentation shows it:
/// `docker inspect` (an array; `Config.Labels`), `skopeo inspect` (skopeo-inspect(1): `Labels`
/// at the top, beside `Digest`, `RepoTags`, `Architecture`), an image config as `crane config`
/// and `skopeo inspect --config` print it (OCI image-spec config.md: `config.Labels`), and a
/// plain label map (`docker inspect --format '{{json .Config.Labels}}'`).
fn image_shapes(labels: &Value) -> Vec<(&'static str, Value)> {
    vec![
        (
            "docker inspect",
            json!([{"Id": "sha256:x", "RepoTags": ["ghcr.io/acme/app:v1"],
                    "Config": {"Env": ["PATH=/usr/bin"], "Labels": labels}}]),
        ),
        (
            "skopeo inspect",
            json!({"Name": "ghcr.io/acme/app", "Digest": format!("sha256:{}", "a".repeat(64)),
                   "RepoTags": ["v1"], "Created": "2026-11-30T10:00:00Z", "Labels": labels,
                   "Architecture": "amd64", "Os": "linux", "Layers": [], "Env": []}),
        ),
        (
            "crane config",
            json!({"architecture": "amd64", "os": "linux", "created": "2026-11-30T10:00:00Z",
                   "config": {"Env": ["PATH=/usr/bin"], "Labels": labels},
                   "rootfs": {"type": "layers", "diff_ids": []}, "history": []}),
        ),
        ("a label map", labels.clone()),
    ]
}

#[test]
fn oci_labels_preset_reads_every_tool_s_shape() {
    let rev = "0123456789abcdef0123456789abcdef01234567";
    let labels = json!({
        "org.opencontainers.image.source": "https://github.com/acme/app",
        "org.opencontainers.image.revision": rev,
        "org.opencontainers.image.created": "2026-11-30T10:00:00Z"
    });
    let run = |input: &Value, set: &[&str]| {
        let mut c = gate();
        c.args(["--preset", "oci-labels"]);
        for s in set {
            c.args(["--set", s]);
        }
        json_out(&c.write_stdin(input.to_string()).output().unwrap())
    };
    let expected = format!("expectedRevision={rev}");
    let other = format!("expectedRevision={}", "f".repeat(40));
    for (tool, input) in image_shapes(&labels) {
        // the OCI labels are all a default run asks for, and the revision is found
        let doc = run(&input, &[&expected]);
        assert_eq!(doc["summary"]["decision"], "promote", "{tool}: {doc}");
        assert_eq!(
            codes(&run(&input, &[&other])),
            ["revision_label_mismatch"],
            "{tool}"
        );
    }
    // a project's own labels are asked for by name (the replaced runtime's four, here)
    let own = "requiredLabels=org.opencontainers.image.source,org.opencontainers.image.revision,\
               dev.glitchwerks.ci.private_ref,dev.glitchwerks.ci.cli_version";
    for (tool, input) in image_shapes(&labels) {
        assert_eq!(
            codes(&run(&input, &[own])),
            [
                "label_missing_dev_glitchwerks_ci_cli_version",
                "label_missing_dev_glitchwerks_ci_private_ref"
            ],
            "{tool}"
        );
    }
    let mut bad = labels.clone();
    bad["org.opencontainers.image.revision"] = json!("0123456789ABCDEF0123456789abcdef01234567");
    bad["org.opencontainers.image.source"] = json!("");
    for (tool, input) in image_shapes(&bad) {
        assert_eq!(
            codes(&run(&input, &[&expected])),
            [
                "label_missing_org_opencontainers_image_source",
                "revision_label_malformed",
                "revision_label_mismatch"
            ],
            "{tool}"
        );
    }
    // an image without labels, and output that is no image at all
    for input in [
        json!([{"Id": "sha256:x", "Config": {"Labels": null}}]),
        json!({"Name": "ghcr.io/acme/app", "Labels": null}),
        json!([]),
        json!("ghcr.io/acme/app:v1"),
    ] {
        let doc = run(&input, &[]);
        assert_eq!(doc["summary"]["decision"], "hold", "{input}");
        assert!(
            codes(&doc).contains(&"labels_unavailable".to_string()),
            "{input}: {doc}"
        );
    }
}

#[test]
fn presets_are_listed_and_printable() {
    let out = tool("gate-eval")
        .args(["presets", "--compact"])
        .output()
        .unwrap();
    let doc = json_out(&out);
    assert_eq!(doc["kind"], "preset-list");
    let names: Vec<&str> = doc["presets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "oci-labels",
            "runtime-health",
            "superloop-v1",
            "upstream-freshness"
        ]
    );
    let out = tool("gate-eval")
        .args(["presets", "superloop-v1"])
        .output()
        .unwrap();
    let shipped = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("crates/gate/presets/superloop-v1.yaml"),
    )
    .unwrap();
    assert_eq!(out.stdout, shipped);
}

/// A failure mode: exit code, reason code (via --json-errors), message, nothing written.
fn refused(args: &[&str], stdin: Option<&str>, code: i32, reason: &str, message: &str) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("decision.json");
    let history = dir.path().join("history.jsonl");
    std::fs::write(&history, "{\"old\":1}\n").unwrap();
    let before = snapshot(dir.path());
    let mut c = tool("gate-eval");
    c.args(["--trace-id", "trace-test", "--compact"]);
    if !args.contains(&"--now") {
        c.args(["--now", NOW]);
    }
    c.args(args)
        .arg("--json-errors")
        .arg("--state-file")
        .arg(&state)
        .arg("--history-file")
        .arg(&history);
    if let Some(s) = stdin {
        c.write_stdin(s);
    }
    let out = c.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = error_line(&out, "gate-eval");
    assert!(line.contains(message), "{args:?}: {line}");
    let doc = json_out(&out);
    assert_eq!(doc["kind"], "error");
    assert_eq!(doc["reasonCode"], reason, "{args:?}");
    assert_eq!(doc["exitCode"], code);
    assert_eq!(snapshot(dir.path()), before, "{args:?} changed files");
}

#[test]
fn an_upstream_error_document_is_named_as_the_error() {
    // The refusals of bad flags, gates files and evidence are corpus cases
    // (tests/corpus/cases.jsonl, "refusal NN"); these read an error document as evidence.
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let upstream = "{\"schemaVersion\":\"v1\",\"kind\":\"error\",\"tool\":\"health-probe\",\"message\":\"no URLs given\"}";
    refused(
        &["--preset", "runtime-health"],
        Some(upstream),
        2,
        "upstream_error",
        "upstream health-probe failed: no URLs given",
    );
    let err_file = write("probe-error.json", upstream);
    refused(
        &[
            "--preset",
            "runtime-health",
            "--evidence",
            &format!("health={err_file}"),
        ],
        None,
        2,
        "upstream_error",
        "upstream health-probe failed",
    );
}

#[test]
fn no_input_on_a_terminal_exits_2_instead_of_waiting() {
    // `script` gives the command a pseudo-terminal as stdin.
    let bin = env!("CARGO_BIN_EXE_gate-eval");
    let custom = fx("gate", "custom.yaml");
    let out = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("{bin} --gates {custom} --now {NOW}"),
            "/dev/null",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script(1) from util-linux");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("gate-eval: error: no input: expected an evidence JSON document on stdin or with -i FILE"), "{text}");
}

#[test]
fn github_actions_errors_are_annotated() {
    let out = gate()
        .args(["--preset", "nope"])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("::error title=gate-eval::unknown preset"),
        "{stderr}"
    );
}

#[test]
fn a_full_history_lock_times_out_with_exit_4_and_no_write() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("h.jsonl");
    std::fs::write(&history, "").unwrap();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.path().join("h.jsonl.lock"))
        .unwrap();
    lock.lock().unwrap();
    let out = gate()
        .args([
            "--gates",
            &fx("gate", "custom.yaml"),
            "-i",
            &fx("gate", "custom-evidence.json"),
            "--lock-timeout",
            "0s",
            "--json-errors",
        ])
        .arg("--history-file")
        .arg(&history)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(json_out(&out)["reasonCode"], "lock_timeout");
    assert_eq!(std::fs::read(&history).unwrap(), b"");
}

#[test]
fn an_unwritable_state_file_is_exit_5_with_a_plain_message_and_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blocker"), b"a file, not a directory").unwrap();
    let state = dir.path().join("blocker/decision.json");
    let out = gate()
        .args([
            "--gates",
            &fx("gate", "custom.yaml"),
            "-i",
            &fx("gate", "custom-evidence.json"),
            "--json-errors",
        ])
        .arg("--state-file")
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let line = error_line(&out, "gate-eval");
    assert_eq!(
        line,
        format!(
            "gate-eval: error: cannot write {}: File exists (os error 17)",
            state.display()
        )
    );
    assert_eq!(json_out(&out)["reasonCode"], "io_error");
    assert_eq!(snapshot(dir.path()).len(), 1, "only the blocker");
}

/// A state file or history started in a directory that does not exist yet (`.rollout/`
/// of a repository's first run) gets its directory.
#[test]
fn a_state_file_and_history_in_new_directories_are_started() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".rollout/state/decision.json");
    let history = dir.path().join(".rollout/history/decisions.jsonl");
    let out = gate()
        .args([
            "--gates",
            &fx("gate", "custom.yaml"),
            "-i",
            &fx("gate", "custom-evidence.json"),
        ])
        .arg("--state-file")
        .arg(&state)
        .arg("--history-file")
        .arg(&history)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved["kind"], "gate-decision");
    assert_eq!(
        std::fs::read_to_string(&history).unwrap().lines().count(),
        1
    );
}

/// A gates file whose one check's value is `expr`, and an evidence file, in a new directory.
fn hostile(expr: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gates.yaml"),
        format!(
            "schemaVersion: v1\nkind: gates\ngates:\n  - id: budget\n    checks:\n      - code: c\n        value: '{expr}'\n        max: 1\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("evidence.json"), "{}").unwrap();
    dir
}

#[test]
fn expressions_that_never_end_or_grow_without_end_stop_with_exit_2_never_a_crash() {
    // (expression, extra flags, the bound named in the message)
    let cases: [(&str, &[&str], &str); 7] = [
        (
            "def f: f; f",
            &["--eval-timeout", "1s"],
            "--eval-timeout 1s",
        ),
        (
            "until(false; .)",
            &["--eval-timeout", "1s"],
            "--eval-timeout 1s",
        ),
        (
            "last(range(1e12))",
            &["--eval-timeout", "1s"],
            "--eval-timeout 1s",
        ),
        (
            "[range(1e12)]",
            &["--eval-timeout", "60s", "--max-memory", "128MiB"],
            "--max-memory 128MiB",
        ),
        (
            "[repeat(.)]",
            &["--eval-timeout", "1s"],
            "--eval-timeout 1s",
        ),
        // recursion: its stack pages count as memory, and the worker's stack is larger
        (
            "def f: 1+f; f",
            &["--eval-timeout", "60s", "--max-memory", "128MiB"],
            "--max-memory 128MiB",
        ),
        (
            "def f: [f]; f",
            &["--eval-timeout", "60s", "--max-memory", "128MiB"],
            "--max-memory 128MiB",
        ),
    ];
    std::thread::scope(|s| {
        for (expr, flags, bound) in cases {
            s.spawn(move || {
                let dir = hostile(expr);
                let out = gate()
                    .current_dir(dir.path())
                    .args([
                        "--gates",
                        "gates.yaml",
                        "-i",
                        "evidence.json",
                        "--json-errors",
                    ])
                    .args(["--state-file", "decision.json", "--history-file", "h.jsonl"])
                    .args(flags)
                    .timeout(std::time::Duration::from_secs(90))
                    .output()
                    .unwrap();
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert_eq!(out.status.code(), Some(2), "{expr}: {stderr}");
                let doc = json_out(&out);
                assert_eq!(doc["reasonCode"], "evaluation_budget_exceeded", "{expr}");
                let m = doc["message"].as_str().unwrap();
                assert!(
                    m.starts_with("evaluation stopped at gate budget, check c: "),
                    "{expr}: {m}"
                );
                assert!(m.contains(bound), "{expr}: {m}");
                assert!(
                    !dir.path().join("decision.json").exists(),
                    "{expr}: nothing written"
                );
                assert!(
                    !dir.path().join("h.jsonl").exists(),
                    "{expr}: nothing written"
                );
            });
        }
    });
}

#[test]
fn a_result_nested_300000_deep_is_a_failed_check_not_a_crash() {
    let dir = hostile("reduce range(300000) as $i (0; [.])");
    let out = gate()
        .current_dir(dir.path())
        .args(["--gates", "gates.yaml", "-i", "evidence.json"])
        .args(["--jq", "[.summary.decision, .gates[0].checks[0].status]"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"["hold","missing"]"#
    );
}

#[test]
fn budget_flags_are_checked_before_anything_runs() {
    let dir = hostile("1");
    for (flags, message) in [
        (
            ["--max-memory", "1MiB"],
            "--max-memory: \"1MiB\" is below 64MiB",
        ),
        (["--max-memory", "2GB"], "unit must be B, KiB, MiB or GiB"),
        (["--eval-timeout", "soon"], "soon"),
    ] {
        let out = gate()
            .current_dir(dir.path())
            .args(["--gates", "gates.yaml", "-i", "evidence.json"])
            .args(flags)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(
            error_line(&out, "gate-eval").contains(message),
            "{}",
            error_line(&out, "gate-eval")
        );
    }
}
