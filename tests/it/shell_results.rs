//! The shell entry points' result documents (`orchestrate-result`, `gate-config-result`)
//! hold to their schemas (`rollout_core::results`, published in `schemas/`), on the paths a
//! run takes: a preview, an apply whose verification fails and is rolled back (with its
//! rollback command), a failure at the arguments, and a gate-config dry run.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{GOV, NOW, assert_schema};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A script of `bin/`, with the tools just built first on PATH.
fn script(name: &str, dir: &Path) -> Command {
    let tools = Path::new(env!("CARGO_BIN_EXE_gate-eval")).parent().unwrap();
    let path = format!(
        "{}:{}:{}",
        tools.display(),
        root().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new(root().join("bin").join(name));
    cmd.current_dir(dir)
        .env("PATH", path)
        .env("ROLLOUT_NOW", NOW)
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("RUNTIME_ROLLBACK_COMMAND")
        .env_remove("ROLLOUT_TRACE_ID");
    cmd
}

fn orchestrate(dir: &Path, args: &[&str]) -> (Option<i32>, Value) {
    let demo = root().join("examples/demo");
    std::fs::copy(demo.join("registry.v1.json"), dir.join("registry.v1.json")).unwrap();
    let out = script("rollout-orchestrate", dir)
        .args(["--registry", "registry.v1.json", "--out-dir", "out"])
        .args(args)
        .output()
        .unwrap();
    let text = std::fs::read_to_string(dir.join("out/orchestrate-result.json"))
        .unwrap_or_else(|e| panic!("no result ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), serde_json::from_str(&text).unwrap())
}

fn gates() -> Vec<String> {
    let demo = root().join("examples/demo");
    let p = |f: &str| demo.join(f).display().to_string();
    vec![
        "--gates".into(),
        p("gates.yaml"),
        "-i".into(),
        p("evidence.json"),
        "--evidence".into(),
        format!("requests={}", p("requests.jsonl")),
        "--evidence".into(),
        format!("health={}", p("health.json")),
        "--subject".into(),
        "payments-api@1.14.0".into(),
    ]
}

#[test]
fn orchestrate_results_hold_to_their_schema() {
    let g = gates();
    let g: Vec<&str> = g.iter().map(String::as_str).collect();

    let dir = tempfile::tempdir().unwrap();
    let (code, doc) = orchestrate(dir.path(), &[&["--mode", "dry_run"], &g[..]].concat());
    assert_eq!(code, Some(0), "{doc}");
    assert_eq!(doc["status"], "preview");
    assert_schema(&doc);

    // applied, then the runtime (a port nothing listens on) disagrees: rolled back, and
    // the rollback command runs
    let dir = tempfile::tempdir().unwrap();
    let args = [
        &[
            "--mode",
            "apply",
            "--verify-urls",
            "http://127.0.0.1:9/healthz",
        ][..],
        &["--rollback-command", "echo undone"],
        &g[..],
        &GOV[..],
    ]
    .concat();
    let (code, doc) = orchestrate(dir.path(), &args);
    assert_eq!(code, Some(1), "{doc}");
    assert_eq!(doc["status"], "rolled_back", "{doc}");
    assert_eq!(doc["rollback"]["command"]["exitCode"], 0, "{doc}");
    assert_schema(&doc);

    // a failure at the arguments still writes a result that names the stage
    let dir = tempfile::tempdir().unwrap();
    let (code, doc) = orchestrate(dir.path(), &["--mode", "sideways"]);
    assert_eq!(code, Some(2), "{doc}");
    assert_eq!(doc["status"], "failed");
    assert_eq!(doc["error"]["stage"], "arguments");
    assert_schema(&doc);
}

#[test]
fn a_gate_config_result_holds_to_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    let out = script("rollout-gate-config", dir.path())
        .args(["--repo", "acme/payments", "--dry-run"])
        .args(["--urls", "https://payments.example.com/healthz"])
        .args(["--rollback-command", "kubectl rollout undo deploy/api"])
        .args(["--dispatch", "rollout.yml", "--ref", "main"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["dryRun"], true);
    assert_eq!(doc["secrets"].as_array().unwrap().len(), 2);
    assert_eq!(doc["dispatch"]["status"], "would_run");
    assert_schema(&doc);
}
