//! policy-apply from the outside: mutations, replay, crashes, races and every refusal.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::common::{GOV, NOW, assert_refused, assert_schema, json_out, snapshot, tool};

const REGISTRY: &str = r#"{
  "schemaVersion": "v1",
  "fleetId": "fleet-a",
  "loops": [{"id": "l1", "enabled": false, "retryAttempts": 1.0}],
  "policy": {
    "mode": "guarded_auto",
    "autonomous": {
      "enabled": true,
      "rollout": {"canaryPercent": 25, "autoPause": {"enabled": false}, "x-unknown": 1e3},
      "governance": {
        "actor": "bob",
        "approvalRef": "CHG-1",
        "rationale": "initial",
        "changedAt": "2026-10-01T00:00:00Z",
        "reviewBy": "2026-11-01T00:00:00Z"
      }
    }
  }
}
"#;

struct Fleet {
    dir: tempfile::TempDir,
}

impl Fleet {
    fn new(registry: &str) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("registry.json"), registry).unwrap();
        Fleet { dir }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn registry(&self) -> String {
        std::fs::read_to_string(self.path("registry.json")).unwrap()
    }
    fn decision(&self, decision: &str, valid_until: &str, subject: Option<&str>) -> String {
        let d = json!({"schemaVersion": "v1", "kind": "gate-decision", "generatedAt": "2026-11-21T07:50:00Z",
                       "validUntil": valid_until, "traceId": "trace-decision", "subject": subject,
                       "summary": {"decision": decision, "reasonCodes": if decision == "hold" { json!(["x_failed"]) } else { json!([]) }}});
        let p = self.path(&format!("decision-{decision}.json"));
        std::fs::write(&p, d.to_string()).unwrap();
        p.display().to_string()
    }
    fn verify(&self) -> assert_cmd::Command {
        let mut c = tool("policy-apply");
        c.current_dir(self.dir.path());
        c.args([
            "verify",
            "--now",
            NOW,
            "--compact",
            "--audit-log",
            "registry.json.audit.jsonl",
        ]);
        c
    }
    fn cmd(&self) -> assert_cmd::Command {
        let mut c = tool("policy-apply");
        c.current_dir(self.dir.path());
        c.args(["--now", NOW, "--compact", "--registry", "registry.json"]);
        c
    }
}

fn audit_lines(f: &Fleet) -> Vec<Value> {
    std::fs::read_to_string(f.path("registry.json.audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn expand_changes_only_the_targeted_bytes_and_is_audited() {
    let f = Fleet::new(REGISTRY);
    let d = f.decision("promote", "2026-11-21T09:00:00Z", Some("fleet-a"));
    let out = f
        .cmd()
        .args([
            "--intent",
            "expand",
            "--step",
            "25",
            "--decision",
            &d,
            "--subject",
            "fleet-a",
        ])
        .args(GOV)
        .args([
            "--evidence-ref",
            "run/2",
            "--evidence-ref",
            "run/1",
            "--evidence-ref",
            "run/2",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rec = json_out(&out);
    assert_eq!(rec["kind"], "apply-record");
    assert_eq!(rec["status"], "applied");
    assert_eq!(
        rec["rollout"]["before"],
        json!({"canaryPercent": 25, "manualPause": false})
    );
    assert_eq!(
        rec["rollout"]["after"],
        json!({"canaryPercent": 50, "manualPause": false})
    );
    assert_eq!(rec["traceId"], "trace-decision");
    assert_eq!(rec["evidenceRefs"], json!(["run/2", "run/1"]));
    assert_eq!(rec["decision"]["decision"], "promote");
    assert_eq!(rec["seq"], 1);
    assert_eq!(rec["governance"]["rationale"], "promotion rollout mutation");
    let expected = REGISTRY
        .replace("\"canaryPercent\": 25", "\"canaryPercent\": 50")
        .replace("\"actor\": \"bob\"", "\"actor\": \"alice\"")
        .replace(
            "\"approvalRef\": \"CHG-1\"",
            "\"approvalRef\": \"CHG-1042\"",
        )
        .replace(
            "\"rationale\": \"initial\"",
            "\"rationale\": \"promotion rollout mutation\"",
        )
        .replace(
            "\"changedAt\": \"2026-10-01T00:00:00Z\"",
            "\"changedAt\": \"2026-11-21T08:00:00Z\"",
        )
        .replace(
            "\"reviewBy\": \"2026-11-01T00:00:00Z\"",
            "\"reviewBy\": \"2026-12-01T00:00:00Z\"",
        );
    assert_eq!(
        f.registry(),
        expected,
        "only the targeted values may change"
    );
    assert_eq!(
        rec["registry"]["revisionAfter"],
        crate::common::sha256sum(expected.as_bytes())
    );
    assert_eq!(audit_lines(&f), vec![rec]);
}

#[test]
fn retry_replays_conflict_refuses_noop_is_recorded() {
    let f = Fleet::new(REGISTRY);
    let d = f.decision("promote", "2026-11-21T09:00:00Z", None);
    let first = f
        .cmd()
        .args(["--intent", "expand", "-i", &d, "--idempotency-key", "k1"])
        .args(GOV)
        .output()
        .unwrap();
    let first = json_out(&first);
    let after_first = f.registry();
    // Replayed even though the decision has since expired and time moved on.
    let mut late = tool("policy-apply");
    late.current_dir(f.dir.path())
        .args([
            "--now",
            "2026-11-25T00:00:00Z",
            "--compact",
            "--registry",
            "registry.json",
        ])
        .args(["--intent", "expand", "-i", &d, "--idempotency-key", "k1"])
        .args(GOV);
    let replay = json_out(&late.output().unwrap());
    assert_eq!(replay["status"], "replayed");
    assert_eq!(replay["replayed"], true);
    assert_eq!(replay["hash"], first["hash"]);
    assert_eq!(f.registry(), after_first);
    assert_eq!(audit_lines(&f).len(), 1);
    // The superloop bug: a rollback reusing an expand key must not be swallowed.
    let out = f
        .cmd()
        .args([
            "--intent",
            "rollback",
            "--idempotency-key",
            "k1",
            "--json-errors",
        ])
        .args(GOV)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(json_out(&out)["reasonCode"], "idempotency_conflict");
    // A pause then a second pause: the second changes nothing and says so.
    f.cmd()
        .args(["--intent", "pause"])
        .args(GOV)
        .assert()
        .success();
    let before = f.registry();
    let noop = json_out(
        &f.cmd()
            .args(["--intent", "pause"])
            .args(GOV)
            .output()
            .unwrap(),
    );
    assert_eq!(noop["status"], "noop");
    assert_eq!(
        noop["registry"]["revisionBefore"],
        noop["registry"]["revisionAfter"]
    );
    assert_eq!(f.registry(), before);
    assert_eq!(audit_lines(&f).len(), 3);
    f.verify().assert().success();
}

#[test]
fn rollback_works_on_expired_governance_and_only_lowers() {
    let f = Fleet::new(REGISTRY);
    let rec = json_out(
        &f.cmd()
            .args(["--intent", "rollback", "--to-percent", "0"])
            .args(GOV)
            .output()
            .unwrap(),
    );
    assert_eq!(
        rec["rollout"]["after"],
        json!({"canaryPercent": 0, "manualPause": true})
    );
    assert!(f.registry().contains("\"canaryPercent\": 0, \"autoPause\": {\"enabled\": false}, \"x-unknown\": 1e3, \"pause\": {\"manual\": true}}"), "{}", f.registry());
}

#[test]
fn dry_run_shows_the_diff_and_writes_nothing() {
    let f = Fleet::new(REGISTRY);
    let before = snapshot(f.dir.path());
    let out = f
        .cmd()
        .args([
            "--intent",
            "rollback",
            "--to-percent",
            "10",
            "--dry-run",
            "--diff",
        ])
        .args(GOV)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let shown = json_out(&out);
    assert_eq!(shown["dryRun"], true);
    let diff = shown["diff"].as_str().unwrap();
    assert!(
        diff.starts_with("--- a/registry.json\n+++ b/registry.json\n"),
        "{diff}"
    );
    assert!(
        diff.contains("-      \"rollout\": {\"canaryPercent\": 25,"),
        "{diff}"
    );
    assert!(
        diff.contains("+      \"rollout\": {\"canaryPercent\": 10,"),
        "{diff}"
    );
    assert_eq!(snapshot(f.dir.path()), before);
}

#[test]
fn a_crash_at_every_step_then_a_retry_gives_exactly_one_mutation() {
    for step in [
        "after-pending",
        "after-registry",
        "after-audit",
        "after-key",
    ] {
        let f = Fleet::new(REGISTRY);
        let d = f.decision("promote", "2026-11-21T09:00:00Z", None);
        let crashed = f
            .cmd()
            .env("POLICY_APPLY_FAULT", step)
            .args(["--intent", "expand", "-i", &d, "--idempotency-key", "once"])
            .args(GOV)
            .output()
            .unwrap();
        assert!(!crashed.status.success(), "{step}: the fault must abort");
        let retry = f
            .cmd()
            .args(["--intent", "expand", "-i", &d, "--idempotency-key", "once"])
            .args(GOV)
            .output()
            .unwrap();
        assert_eq!(
            retry.status.code(),
            Some(0),
            "{step}: {}",
            String::from_utf8_lossy(&retry.stderr)
        );
        let rec = json_out(&retry);
        assert_eq!(rec["rollout"]["after"]["canaryPercent"], 50, "{step}");
        assert!(
            f.registry().contains("\"canaryPercent\": 50"),
            "{step}: expanded once"
        );
        let lines = audit_lines(&f);
        assert_eq!(lines.len(), 1, "{step}: exactly one audit record");
        assert!(!f.path("registry.json.pending.json").exists(), "{step}");
        // Once more: a replay, still one mutation.
        let again = json_out(
            &f.cmd()
                .args(["--intent", "expand", "-i", &d, "--idempotency-key", "once"])
                .args(GOV)
                .output()
                .unwrap(),
        );
        assert_eq!(again["status"], "replayed", "{step}");
        assert_eq!(audit_lines(&f).len(), 1, "{step}");
        f.verify().assert().success();
    }
}

#[test]
fn fifty_parallel_expands_by_one_end_at_exactly_fifty() {
    let f = Fleet::new(&REGISTRY.replace("\"canaryPercent\": 25", "\"canaryPercent\": 0"));
    let d = f.decision("promote", "2026-11-21T09:00:00Z", None);
    let bin = env!("CARGO_BIN_EXE_policy-apply");
    let children: Vec<_> = (0..50)
        .map(|i| {
            std::process::Command::new(bin)
                .current_dir(f.dir.path())
                .args([
                    "--now",
                    NOW,
                    "--compact",
                    "--registry",
                    "registry.json",
                    "--intent",
                    "expand",
                    "--step",
                    "1",
                    "-i",
                    &d,
                ])
                .args([
                    "--idempotency-key",
                    &format!("k{i}"),
                    "--lock-timeout",
                    "60s",
                ])
                .args(GOV)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    assert!(
        f.registry().contains("\"canaryPercent\": 50,"),
        "{}",
        f.registry()
    );
    let lines = audit_lines(&f);
    assert_eq!(lines.len(), 50);
    let seqs: Vec<u64> = lines.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
    let v = json_out(&f.verify().output().unwrap());
    assert_eq!(
        (v["ok"].clone(), v["records"].clone()),
        (json!(true), json!(50))
    );
}

#[test]
fn verify_names_the_first_broken_record() {
    let f = Fleet::new(REGISTRY);
    for intent in ["pause", "resume", "pause"] {
        let mut c = f.cmd();
        c.args(["--intent", intent]).args(GOV);
        if intent == "resume" {
            c.args(["-i", &f.decision("promote", "2026-11-21T09:00:00Z", None)]);
        }
        c.assert().success();
    }
    let log = f.path("registry.json.audit.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(
        &log,
        text.replacen("\"actor\":\"alice\"", "\"actor\":\"mallory\"", 2)
            .replacen("\"actor\":\"mallory\"", "\"actor\":\"alice\"", 1),
    )
    .unwrap();
    let out = f.verify().output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json_out(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["firstBreak"]["reason"], "edited");
    assert_eq!(v["firstBreak"]["expectedSeq"], 2);
    assert_eq!(v["records"], 1);
}

fn refused(f: &Fleet, args: &[&str], code: i32, reason: &str, message: &str) {
    let mut cmd = f.cmd();
    cmd.args(args);
    assert_refused(f.dir.path(), cmd, "policy-apply", code, reason, message);
}

fn with_gov(extra: &[&str]) -> Vec<String> {
    extra
        .iter()
        .chain(GOV.iter())
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn bad_registries_and_damaged_logs_are_refused() {
    for (registry, reason, message) in [
        (
            "{\"policy\": {\"autonomous\": {\"rollout\": {\"canaryPercent\": 120}}}}",
            "registry_invalid",
            "must be an integer from 0 to 100",
        ),
        (
            "{\"policy\": {\"autonomous\": {\"rollout\": {\"canaryPercent\": 12.5}}}}",
            "registry_invalid",
            "must be an integer from 0 to 100",
        ),
        (
            "{\"policy\": {\"autonomous\": {\"rollout\": {\"canaryPercent\": 10}}}",
            "input_malformed",
            "malformed JSON",
        ),
        (
            "{\"policy\": {}, \"policy\": {}}",
            "input_malformed",
            "duplicate key \"policy\"",
        ),
    ] {
        let f = Fleet::new(registry);
        let args = with_gov(&["--intent", "pause"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&f, &args, 2, reason, message);
    }
    let f = Fleet::new(REGISTRY);
    std::fs::remove_file(f.path("registry.json")).unwrap();
    let args = with_gov(&["--intent", "pause"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    refused(
        &f,
        &args,
        2,
        "input_unreadable",
        "cannot read registry.json",
    );

    let f = Fleet::new(REGISTRY);
    f.cmd()
        .args(["--intent", "pause"])
        .args(GOV)
        .assert()
        .success();
    let log = f.path("registry.json.audit.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, &text[..text.len() - 10]).unwrap();
    refused(
        &f,
        &args,
        3,
        "audit_log_broken",
        "does not verify at its end",
    );
}

#[test]
fn a_held_lock_is_a_conflict_after_the_timeout() {
    let f = Fleet::new(REGISTRY);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(f.path("registry.json.lock"))
        .unwrap();
    lock.lock().unwrap();
    let args = with_gov(&["--intent", "pause", "--lock-timeout", "0s"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    refused(&f, &args, 4, "lock_timeout", "not obtained within 0s");
}

#[test]
fn arguments_with_spaces_quotes_and_newlines_pass_through_intact() {
    let f = Fleet::new(REGISTRY);
    let rationale = "promotion rollout mutation: \"quoted\", 'single', $HOME *.json\nsecond line";
    let rec = json_out(
        &f.cmd()
            .args([
                "--intent",
                "pause",
                "--actor",
                "Ada Lovelace",
                "--approval-ref",
                "CHG 1042",
                "--rationale",
                rationale,
            ])
            .args(["--review-by", "2026-12-01T00:00:00Z"])
            .output()
            .unwrap(),
    );
    assert_eq!(rec["governance"]["rationale"], rationale);
    assert_eq!(rec["governance"]["actor"], "Ada Lovelace");
    let reg: Value = serde_json::from_str(&f.registry()).unwrap();
    assert_eq!(
        reg["policy"]["autonomous"]["governance"]["rationale"],
        rationale
    );
}

#[test]
fn the_shipped_fleet_registry_schema_accepts_a_valid_mutation() {
    let f = Fleet::new(REGISTRY);
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas/fleet-registry.v1.schema.json");
    f.cmd()
        .args(["--intent", "rollback", "--to-percent", "0", "--schema"])
        .arg(&schema)
        .args(GOV)
        .assert()
        .success();
}

#[test]
fn a_retry_naming_the_registry_differently_is_still_a_replay() {
    let f = Fleet::new(REGISTRY);
    f.cmd()
        .args(["--intent", "pause", "--idempotency-key", "k"])
        .args(GOV)
        .assert()
        .success();
    let absolute = f.path("registry.json");
    let mut retry = tool("policy-apply");
    retry
        .current_dir(f.dir.path())
        .args(["--now", NOW, "--compact", "--registry"])
        .arg(&absolute)
        .args(["--intent", "pause", "--idempotency-key", "k"])
        .args(GOV);
    let rec = json_out(&retry.output().unwrap());
    assert_eq!(rec["status"], "replayed");
    assert_eq!(
        rec["registry"]["path"], "registry.json",
        "the record keeps the path as first given"
    );
}

/// Without --idempotency-key, a decision drives one expand: the same run again (a CI job
/// re-run) replays, another request with the same decision is refused (exit 4), and
/// --reuse-decision lets it drive another.
#[test]
fn without_a_key_one_decision_drives_one_expand() {
    let f = Fleet::new(REGISTRY);
    let d = f.decision("promote", "2026-11-21T09:00:00Z", None);
    let expand = |step: &str| with_gov(&["--intent", "expand", "--step", step, "--decision", &d]);
    let first = json_out(&f.cmd().args(expand("10")).output().unwrap());
    assert_eq!(first["status"], "applied");
    let key = first["idempotencyKey"].as_str().unwrap().to_string();
    assert!(key.starts_with("decision:expand:sha256:"), "{key}");
    let after_first = f.registry();

    let again = f.cmd().args(expand("10")).output().unwrap();
    assert_eq!(again.status.code(), Some(0));
    let again = json_out(&again);
    assert_eq!(
        (again["status"].as_str(), again["seq"].as_u64()),
        (Some("replayed"), Some(1))
    );
    assert_eq!(f.registry(), after_first);

    let other = expand("20");
    refused(
        &f,
        &other.iter().map(String::as_str).collect::<Vec<_>>(),
        4,
        "decision_already_used",
        "this decision already drove an expand (record seq 1): a decision drives one mutation per intent",
    );

    let mut reuse = expand("20");
    reuse.push("--reuse-decision".into());
    let reused = json_out(&f.cmd().args(&reuse).output().unwrap());
    assert_eq!(
        (reused["status"].as_str(), reused["seq"].as_u64()),
        (Some("applied"), Some(2))
    );
    assert_eq!(reused["idempotencyKey"], Value::Null);
    f.verify().assert().success();

    let mut both = expand("5");
    both.extend(["--reuse-decision", "--idempotency-key", "k"].map(String::from));
    let out = f.cmd().args(&both).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// `--review-in 7d`: the review date is now + 7d, and a retry a day later (another now)
/// is still the same request. A dry run that would change the registry says so.
#[test]
fn review_in_is_a_window_and_dry_runs_say_would_apply() {
    let f = Fleet::new(REGISTRY);
    let gov = [
        "--intent",
        "pause",
        "--actor",
        "alice",
        "--approval-ref",
        "CHG-1",
        "--rationale",
        "r",
        "--review-in",
        "7d",
        "--idempotency-key",
        "p1",
    ];
    let dry = json_out(&f.cmd().args(gov).arg("--dry-run").output().unwrap());
    assert_eq!(dry["status"], "would_apply");
    assert_eq!(dry["governance"]["reviewBy"], "2026-11-28T08:00:00Z");
    assert!(!f.path("registry.json.audit.jsonl").exists());
    let first = json_out(&f.cmd().args(gov).output().unwrap());
    assert_eq!(first["status"], "applied");
    let mut later = tool("policy-apply");
    later
        .current_dir(f.dir.path())
        .args([
            "--now",
            "2026-11-22T08:00:00Z",
            "--compact",
            "--registry",
            "registry.json",
        ])
        .args(gov);
    let retry = json_out(&later.output().unwrap());
    assert_eq!(retry["status"], "replayed");
    // --review-in and --review-by together is a usage error
    let out = f
        .cmd()
        .args(gov)
        .args(["--review-by", "2026-11-25T00:00:00Z"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Forgetting --subject against a decision made for one says which to pass.
#[test]
fn a_missing_subject_is_named_with_a_hint() {
    let f = Fleet::new(REGISTRY);
    let d = f.decision("promote", "2026-11-21T09:00:00Z", Some("payments-api"));
    let out = f
        .cmd()
        .args(with_gov(&["--intent", "expand", "--decision", &d]))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("hint: pass --subject \"payments-api\""),
        "{stderr}"
    );
}

/// An audit log and a state file named in directories that do not exist yet are started
/// there (the registry itself must exist: it is edited, never created).
#[test]
fn an_audit_log_and_state_file_in_new_directories_are_started() {
    let f = Fleet::new(REGISTRY);
    f.cmd()
        .args(["--intent", "pause", "--audit-log", "audit/2026/log.jsonl"])
        .args(["--state-file", "out/last-apply.json"])
        .args(GOV)
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(f.path("audit/2026/log.jsonl"))
            .unwrap()
            .lines()
            .count(),
        1
    );
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.path("out/last-apply.json")).unwrap()).unwrap();
    assert_eq!(state["kind"], "apply-record");
}

/// A CI runner checks the repository out somewhere new on every run: a re-run from a copy
/// of the registry, its audit log and index in another directory is the same request.
#[test]
fn a_retry_from_a_checkout_in_another_directory_is_still_a_replay() {
    let f = Fleet::new(REGISTRY);
    let d = f.decision("promote", "2026-11-21T09:00:00Z", None);
    f.cmd()
        .args(["--intent", "expand", "--step", "5", "--decision", &d])
        .args(["--idempotency-key", "run-7"])
        .args(GOV)
        .assert()
        .success();
    let elsewhere = tempfile::tempdir().unwrap();
    let copy = elsewhere.path().join("checkout/ops");
    std::fs::create_dir_all(&copy).unwrap();
    for name in [
        "registry.json",
        "registry.json.audit.jsonl",
        "decision-promote.json",
    ] {
        std::fs::copy(f.path(name), copy.join(name)).unwrap();
    }
    let keys = copy.join("registry.json.audit.jsonl.keys");
    std::fs::create_dir(&keys).unwrap();
    for entry in std::fs::read_dir(f.path("registry.json.audit.jsonl.keys")).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, keys.join(p.file_name().unwrap())).unwrap();
    }
    let before = std::fs::read(copy.join("registry.json")).unwrap();
    let mut retry = tool("policy-apply");
    retry
        .current_dir(&copy)
        .args(["--now", NOW, "--compact", "--registry", "registry.json"])
        .args(["--intent", "expand", "--step", "5"])
        .args([
            "--decision",
            "decision-promote.json",
            "--idempotency-key",
            "run-7",
        ])
        .args(GOV);
    let out = retry.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_out(&out)["status"], "replayed");
    assert_eq!(std::fs::read(copy.join("registry.json")).unwrap(), before);
}

/// Property: random sequences of intents, steps, targets and (reused) idempotency keys on
/// one registry. After every run the percent is within 0..=100, a rollback never raised
/// it, a replay or a refusal left every byte of the registry as it was, and the audit
/// chain verifies. A seeded generator: a failure names the seed and the step.
#[test]
fn random_sequences_keep_the_invariants() {
    let mut next = crate::common::seeded(0x5eed_2026_1121);
    for sequence in 0..4 {
        let start = next(101);
        let f = Fleet::new(&REGISTRY.replace(
            "\"canaryPercent\": 25",
            &format!("\"canaryPercent\": {start}"),
        ));
        let d = f.decision("promote", "2026-11-21T09:00:00Z", None);
        let mut used: std::collections::HashMap<String, Vec<String>> = Default::default();
        for step in 0..25 {
            let intent = ["expand", "resume", "pause", "rollback"][next(4) as usize];
            let mut args: Vec<String> = vec!["--intent".into(), intent.into()];
            match intent {
                "expand" => args.extend([
                    "--step".into(),
                    (1 + next(60)).to_string(),
                    "-i".into(),
                    d.clone(),
                ]),
                "resume" => args.extend(["-i".into(), d.clone()]),
                "rollback" if next(2) == 0 => {
                    args.extend(["--to-percent".into(), next(120).to_string()])
                }
                _ => {}
            }
            let key = format!("k{}", next(6));
            args.extend(["--idempotency-key".into(), key.clone()]);
            let before = f.registry();
            let before_pct: u64 =
                serde_json::from_str::<Value>(&before).unwrap()["policy"]["autonomous"]["rollout"]
                    ["canaryPercent"]
                    .as_u64()
                    .unwrap();
            let out = f.cmd().args(&args).args(GOV).output().unwrap();
            let after = f.registry();
            let after_pct: u64 = serde_json::from_str::<Value>(&after).unwrap()["policy"]["autonomous"]["rollout"]["canaryPercent"].as_u64().unwrap();
            let at = format!("sequence {sequence} step {step} {args:?}");
            assert!(after_pct <= 100, "{at}: percent {after_pct}");
            if intent == "rollback" {
                assert!(
                    after_pct <= before_pct,
                    "{at}: a rollback raised {before_pct} -> {after_pct}"
                );
            }
            let first_use = !used.contains_key(&key);
            match out.status.code() {
                Some(0) => {
                    let rec = json_out(&out);
                    if rec["status"] == "replayed" {
                        assert!(!first_use, "{at}: a first use was replayed");
                        assert_eq!(before, after, "{at}: a replay changed the registry");
                        assert_eq!(used[&key], args, "{at}: replayed a different request");
                    } else {
                        assert!(first_use, "{at}: a reused key applied again");
                        used.insert(key, args.clone());
                    }
                }
                Some(code) => {
                    assert_eq!(before, after, "{at}: exit {code} changed the registry");
                    // a key reused for another request is a conflict (4), unless the
                    // request is refused on its own first (2 bad value, 3 refused)
                    assert!(matches!(code, 2..=4), "{at}: exit {code}");
                }
                None => panic!("{at}: killed"),
            }
            f.verify().assert().success();
        }
    }
}

const SIGNING_KEY: &str = "k3y-0f-the-pipeline-0123456789";

impl Fleet {
    /// A decision made by hand (as a pull request could), generated at `generated`.
    fn decision_at(&self, name: &str, generated: &str, valid_until: &str) -> String {
        let d = json!({"schemaVersion": "v1", "kind": "gate-decision", "generatedAt": generated,
                       "validUntil": valid_until, "traceId": "forged", "subject": null,
                       "summary": {"decision": "promote", "reasonCodes": []}});
        let p = self.path(name);
        std::fs::write(&p, d.to_string()).unwrap();
        p.display().to_string()
    }

    /// A decision made by gate-eval (signed when `key` is given).
    fn gate_eval_decision(&self, name: &str, key: Option<&str>) -> String {
        std::fs::write(
            self.path("gates.yaml"),
            "schemaVersion: v1\nkind: gates\ngates:\n  - id: ok\n    checks:\n      - {code: x_failed, assert: .ok == true}\n",
        )
        .unwrap();
        std::fs::write(self.path("evidence.json"), r#"{"ok": true}"#).unwrap();
        let mut c = tool("gate-eval");
        c.current_dir(self.dir.path()).args([
            "--gates",
            "gates.yaml",
            "-i",
            "evidence.json",
            "--now",
            NOW,
        ]);
        if let Some(k) = key {
            c.env("ROLLOUT_SIGNING_KEY", k);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(self.path(name), &out.stdout).unwrap();
        name.to_string()
    }
}

#[test]
fn a_hand_written_decision_expires_with_the_default_age_and_cannot_come_from_the_future() {
    let f = Fleet::new(REGISTRY);
    // generated two days ago, "valid" until 2099: the default --max-decision-age is 24h
    let old = f.decision_at("old.json", "2026-11-19T08:00:00Z", "2099-01-01T00:00:00Z");
    let args = with_gov(&["--intent", "resume", "-i", &old]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    refused(&f, &args, 3, "decision_too_old", "more than 1d ago");
    let future = f.decision_at(
        "future.json",
        "2099-01-01T00:00:00Z",
        "2099-01-02T00:00:00Z",
    );
    let args = with_gov(&["--intent", "resume", "-i", &future]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    refused(
        &f,
        &args,
        2,
        "decision_malformed",
        "cannot come from the future",
    );
    // A wider age is the operator's choice, on the command line.
    let mut c = f.cmd();
    c.args([
        "--intent",
        "resume",
        "-i",
        &old,
        "--max-decision-age",
        "72h",
    ])
    .args(GOV);
    c.assert().success();
}

#[test]
fn with_a_signing_key_only_gate_evals_signed_decisions_are_acted_on() {
    let f = Fleet::new(REGISTRY);
    let signed = f.gate_eval_decision("signed.json", Some(SIGNING_KEY));
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(f.path(&signed)).unwrap()).unwrap();
    assert!(
        doc["signature"]
            .as_str()
            .unwrap()
            .starts_with("hmac-sha256:")
    );
    let unsigned = f.gate_eval_decision("unsigned.json", None);
    let doc_unsigned: Value =
        serde_json::from_str(&std::fs::read_to_string(f.path(&unsigned)).unwrap()).unwrap();
    assert!(
        doc_unsigned.get("signature").is_none(),
        "no key, no signature"
    );
    let forged = f.decision("promote", "2026-11-21T09:00:00Z", None);
    let mut altered = doc.clone();
    altered["validUntil"] = json!("2099-01-01T00:00:00Z");
    std::fs::write(f.path("altered.json"), altered.to_string()).unwrap();

    let keyed = |decision: &str, step: &str| {
        let mut c = f.cmd();
        c.env("ROLLOUT_SIGNING_KEY", SIGNING_KEY)
            .args(["--intent", "expand", "--step", step, "-i", decision])
            .args(GOV);
        c
    };
    for (decision, reason, message) in [
        (
            forged.as_str(),
            "decision_unsigned",
            "the decision is not signed",
        ),
        (
            unsigned.as_str(),
            "decision_unsigned",
            "the decision is not signed",
        ),
        (
            "altered.json",
            "decision_signature_invalid",
            "altered after gate-eval signed it",
        ),
    ] {
        assert_refused(
            f.dir.path(),
            keyed(decision, "5"),
            "policy-apply",
            3,
            reason,
            message,
        );
    }
    // Another key: the signature does not match.
    let mut c = keyed(&signed, "5");
    c.env("ROLLOUT_SIGNING_KEY", "another-key-another-pipeline");
    assert_refused(
        f.dir.path(),
        c,
        "policy-apply",
        3,
        "decision_signature_invalid",
        "signed with another key",
    );
    // A key too short to be a secret is a usage error, before anything is read.
    let mut c = keyed(&signed, "5");
    c.env("ROLLOUT_SIGNING_KEY", "short");
    assert_refused(f.dir.path(), c, "policy-apply", 2, "usage", "at least 16");

    // The signed decision: applied, and the record carries a mac.
    keyed(&signed, "5").assert().success();
    assert!(f.registry().contains("\"canaryPercent\": 30"));
    let records = audit_lines(&f);
    assert!(
        records[0]["mac"]
            .as_str()
            .unwrap()
            .starts_with("hmac-sha256:")
    );
    let mut v = f.verify();
    v.env("ROLLOUT_SIGNING_KEY", SIGNING_KEY);
    let out = v.output().unwrap();
    let doc = json_out(&out);
    assert_eq!(
        (
            doc["ok"].clone(),
            doc["keyed"].clone(),
            doc["unkeyedRecords"].clone()
        ),
        (json!(true), json!(true), json!(0))
    );

    // Someone with write access but no key edits the record and recomputes its hash: the
    // chain verifies without the key, not with it, and the next apply refuses the log.
    let log = f.path("registry.json.audit.jsonl");
    let recompute = r#"
import hashlib, json, sys
path = sys.argv[1]
records = [json.loads(l) for l in open(path)]
records[0]["governance"]["actor"] = "mallory"
body = {k: v for k, v in records[0].items() if k not in ("hash", "mac")}
canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
records[0]["hash"] = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
open(path, "w").write("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))
"#;
    let ok = std::process::Command::new("python3")
        .args(["-c", recompute])
        .arg(&log)
        .status()
        .unwrap();
    assert!(ok.success());
    let out = f.verify().output().unwrap();
    assert_eq!(
        json_out(&out)["ok"],
        true,
        "without the key the rewrite is not seen"
    );
    let mut v = f.verify();
    v.env("ROLLOUT_SIGNING_KEY", SIGNING_KEY);
    let out = v.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_out(&out)["firstBreak"]["reason"], "mac_invalid");
    let again = f.gate_eval_decision("signed2.json", Some(SIGNING_KEY));
    let mut c = keyed(&again, "5");
    c.arg("--reuse-decision");
    assert_refused(
        f.dir.path(),
        c,
        "policy-apply",
        3,
        "audit_log_broken",
        "mac is not this signing key's",
    );
}

#[test]
fn a_removed_record_is_noticed_by_verify_and_by_the_next_expand() {
    let f = Fleet::new(REGISTRY);
    for (name, step) in [("d1.json", "5"), ("d2.json", "10")] {
        let d = f.decision_at(
            name,
            &format!("2026-11-21T07:5{}:00Z", step.len()),
            "2026-11-21T09:00:00Z",
        );
        let mut c = f.cmd();
        c.args(["--intent", "expand", "--step", step, "-i", &d])
            .args(GOV);
        c.assert().success();
    }
    assert!(f.registry().contains("\"canaryPercent\": 40"));
    f.verify().assert().success();
    // Delete the last record, as someone hiding a change would.
    let log = f.path("registry.json.audit.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    let first = text.lines().next().unwrap();
    std::fs::write(&log, format!("{first}\n")).unwrap();
    let out = f.verify().output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json_out(&out);
    assert_eq!(v["firstBreak"]["reason"], "registry_mismatch");
    assert_eq!(v["registry"], "registry.json");
    let m = v["firstBreak"]["message"].as_str().unwrap();
    assert!(
        m.contains("left the rollout at canary 30%, but the registry says canary 40%"),
        "{m}"
    );
    // The next expand would reuse seq 2: refused, nothing written.
    let d3 = f.decision_at("d3.json", "2026-11-21T07:58:00Z", "2026-11-21T09:00:00Z");
    let args = with_gov(&["--intent", "expand", "--step", "5", "-i", &d3]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    refused(&f, &args, 3, "audit_state_mismatch", "a record was removed");
    // An emergency rollback still works, and records the state as it is.
    let mut c = f.cmd();
    c.args(["--intent", "rollback", "--to-percent", "0"])
        .args(GOV);
    c.assert().success();
    let records = audit_lines(&f);
    assert_eq!(records[1]["rollout"]["before"]["canaryPercent"], 40);
    f.verify().assert().success();
}

/// One expand applied, then a second one killed after it replaced the registry and before
/// it appended its record (its journal stays).
fn interrupted_after_the_registry_write() -> Fleet {
    let f = Fleet::new(REGISTRY);
    let d1 = f.decision_at("d1.json", "2026-11-21T07:51:00Z", "2026-11-21T09:00:00Z");
    let mut c = f.cmd();
    c.args(["--intent", "expand", "-i", &d1]).args(GOV);
    c.assert().success();
    let d2 = f.decision_at("d2.json", "2026-11-21T07:52:00Z", "2026-11-21T09:00:00Z");
    let crashed = f
        .cmd()
        .env("POLICY_APPLY_FAULT", "after-registry")
        .args(["--intent", "expand", "-i", &d2])
        .args(GOV)
        .output()
        .unwrap();
    assert!(!crashed.status.success());
    f
}

#[test]
fn an_apply_interrupted_after_the_registry_write_is_not_a_removed_record() {
    // killed between replacing the registry (75%) and appending its record
    let f = interrupted_after_the_registry_write();
    assert!(f.registry().contains("\"canaryPercent\": 75"));
    assert_eq!(audit_lines(&f).len(), 1);
    // verify counts the journaled record; so does a dry run (which recovers nothing)
    f.verify().assert().success();
    let d3 = f.decision_at("d3.json", "2026-11-21T07:53:00Z", "2026-11-21T09:00:00Z");
    let mut c = f.cmd();
    c.args(["--intent", "expand", "--step", "5", "-i", &d3, "--dry-run"])
        .args(GOV);
    c.assert().success();
    // the next real apply completes the interrupted one, then applies its own
    let mut c = f.cmd();
    c.args(["--intent", "expand", "--step", "5", "-i", &d3])
        .args(GOV);
    c.assert().success();
    assert_eq!(audit_lines(&f).len(), 3);
    f.verify().assert().success();
}

#[test]
fn a_record_cut_short_by_a_kill_is_being_appended_not_a_broken_chain() {
    // killed while appending its record: the registry and the journal are written, and a
    // write that spans pages was cut short (a kill -9 can do that)
    let f = interrupted_after_the_registry_write();
    let log = f.path("registry.json.audit.jsonl");
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str(r#"{"schemaVersion":"v1","kind":"apply-record","timesta"#);
    std::fs::write(&log, &text).unwrap();
    // with the journal there, the committed chain verifies
    let out = f.verify().output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["records"], 1);
    // the next apply completes the interrupted one, then applies its own
    let d3 = f.decision_at("d3.json", "2026-11-21T07:53:00Z", "2026-11-21T09:00:00Z");
    let mut c = f.cmd();
    c.args(["--intent", "expand", "--step", "5", "-i", &d3])
        .args(GOV);
    c.assert().success();
    assert_eq!(audit_lines(&f).len(), 3);
    f.verify().assert().success();
    // without a journal, a record cut short is damage
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str(r#"{"seq":"#);
    std::fs::write(&log, text).unwrap();
    let out = f.verify().output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["firstBreak"]["reason"], "truncated", "{doc}");
}

#[test]
fn every_spelling_of_the_registry_takes_one_lock_and_writes_the_real_file() {
    let f = Fleet::new(REGISTRY);
    let d = f.dir.path();
    std::fs::create_dir(d.join("sub")).unwrap();
    std::os::unix::fs::symlink("registry.json", d.join("link.json")).unwrap();
    // 12 expands by 1 at once, through the real name, a symlink and a roundabout path
    let spellings = ["registry.json", "link.json", "sub/../registry.json"];
    std::thread::scope(|s| {
        for i in 0..12 {
            let f = &f;
            s.spawn(move || {
                let dec = f.decision_at(
                    &format!("d{i}.json"),
                    &format!("2026-11-21T07:55:{i:02}Z"),
                    "2026-11-21T09:00:00Z",
                );
                let mut c = tool("policy-apply");
                c.current_dir(f.dir.path())
                    .args(["--now", NOW, "--compact", "--registry", spellings[i % 3]])
                    .args(["--audit-log", "registry.json.audit.jsonl"])
                    .args([
                        "--intent",
                        "expand",
                        "--step",
                        "1",
                        "-i",
                        &dec,
                        "--lock-timeout",
                        "60s",
                    ])
                    .args(GOV);
                c.assert().success();
            });
        }
    });
    assert!(
        f.registry().contains("\"canaryPercent\": 37"),
        "{}",
        f.registry()
    );
    assert!(
        std::fs::symlink_metadata(d.join("link.json"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the symlink is still a symlink"
    );
    assert_eq!(audit_lines(&f).len(), 12);
    f.verify().assert().success();

    // A hard link: two names, two locks, and a rename would split them: refused.
    std::fs::hard_link(d.join("registry.json"), d.join("hard.json")).unwrap();
    let dec = f.decision_at("dh.json", "2026-11-21T07:56:00Z", "2026-11-21T09:00:00Z");
    let mut c = tool("policy-apply");
    c.current_dir(d)
        .args(["--now", NOW, "--compact", "--registry", "hard.json"])
        .args(["--intent", "expand", "--step", "1", "-i", &dec])
        .args(GOV);
    assert_refused(
        d,
        c,
        "policy-apply",
        2,
        "registry_hard_linked",
        "2 hard links",
    );
}

#[test]
fn a_symlink_planted_as_the_lock_file_is_not_followed() {
    // A pull request can add `registry.json.lock` next to the registry; as a symlink it
    // would make every apply create (or lock) a file wherever it points.
    let f = Fleet::new(REGISTRY);
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("created-by-policy-apply");
    std::os::unix::fs::symlink(&victim, f.path("registry.json.lock")).unwrap();
    let dec = f.decision_at("d.json", "2026-11-21T07:56:00Z", "2026-11-21T09:00:00Z");
    let mut c = f.cmd();
    c.args(["--intent", "expand", "--step", "1", "-i", &dec])
        .args(GOV);
    assert_refused(
        f.dir.path(),
        c,
        "policy-apply",
        5,
        "io_error",
        "registry.json.lock: a symbolic link stands where the lock file goes; not followed",
    );
    assert!(!victim.exists());
}

/// `--check` accepts a request before its decision exists and reads or writes nothing (the
/// registry need not exist); flags a run refuses, it refuses with the same exit code and
/// the same message, so a caller that checks first says what the run would have said.
#[test]
fn check_judges_the_flags_as_a_run_would_and_touches_nothing() {
    let f = Fleet::new(REGISTRY);
    let promote = f.decision("promote", "2026-11-21T09:00:00Z", None);
    let before = snapshot(f.dir.path());
    let mut ok = tool("policy-apply");
    ok.current_dir(f.dir.path()).args([
        "--now",
        NOW,
        "--compact",
        "--registry",
        "missing.json",
        "--intent",
        "expand",
        "--check",
        "--trace-id",
        "t-1",
        "--evidence-ref",
        "a",
        "--evidence-ref",
        "a",
    ]);
    let doc = json_out(&ok.args(GOV).output().unwrap());
    assert_schema(&doc);
    assert_eq!(doc["kind"], "policy-request");
    assert_eq!(doc["step"], 25);
    assert_eq!(doc["traceId"], "t-1");
    assert_eq!(doc["timestamp"], NOW);
    assert_eq!(doc["governance"]["reviewBy"], "2026-12-01T00:00:00Z");
    assert_eq!(doc["evidenceRefs"], json!(["a"]));
    assert_eq!(snapshot(f.dir.path()), before);

    // the flags, then the governance with its review date
    let request = |flags: &[&str], review_by: &str| -> Vec<String> {
        let mut args: Vec<String> = flags
            .iter()
            .chain(GOV.iter())
            .map(|s| s.to_string())
            .collect();
        *args.last_mut().unwrap() = review_by.to_string();
        args
    };
    let good = "2026-12-01T00:00:00Z";
    let cases = [
        request(&["--intent", "expand", "--step", "500"], good),
        request(&["--intent", "expand"], "2026-11-20T00:00:00Z"),
        request(&["--intent", "expand"], "2027-06-01T00:00:00Z"),
        request(&["--intent", "expand", "--to-percent", "0"], good),
        request(&["--intent", "rollback", "--rollout-pointer", "x"], good),
        vec![
            "--intent".into(),
            "rollback".into(),
            "--actor".into(),
            "a".into(),
        ],
    ];
    for args in cases {
        let run = f.cmd().args(&args).args(["-i", &promote]).output().unwrap();
        let check = f.cmd().args(&args).arg("--check").output().unwrap();
        assert!(run.status.code().unwrap_or(0) >= 2, "{args:?}");
        assert_eq!(check.status.code(), run.status.code(), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&check.stderr),
            String::from_utf8_lossy(&run.stderr),
            "{args:?}"
        );
    }
    assert_eq!(f.registry(), REGISTRY);
}
