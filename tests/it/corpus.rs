//! The bad-input corpus: `tests/corpus/cases.jsonl`, one case per line, across every tool.
//!
//! A case names a tool, its arguments (`{root}` is the repository), the files of its
//! working directory and its stdin, and what must happen:
//!
//! * `exit` ≥ 2: stderr is one line `TOOL: error: …` containing `message` (then only
//!   `  hint:` lines), `--json-errors` prints an error document with `reason`, and every
//!   file in the directory is byte-identical afterwards;
//! * `exit` 0 or 1 (bad evidence is a verdict, a symlink is skipped): stdout contains
//!   `stdout_contains`, and the files in `unchanged` are byte-identical.
//!
//! Every case also runs with a canary secret in each credential variable the tools read
//! (`GIT_TOKEN`, `GITHUB_TOKEN`, `GH_TOKEN`), with `GITHUB_STEP_SUMMARY` in its directory,
//! and checks that neither the canary nor a credential written into a case's URLs
//! (`canary-…`) appears in stdout, stderr or any file written (summaries included).
//!
//! File specs: a string (UTF-8 text), `{"hex": …}` (any bytes), `{"copy": PATH}` (from the
//! repository), `{"symlink": TARGET}`, `{"gen": "nest"|"long"|"yaml-nest"|"alias-bomb"|"alias-bytes", "n":
//! …}` (large or deep inputs made here, not committed), `{"git-init": true}` at `DIR/.git`
//! (a repository of the files under DIR, one commit).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::common::{NOW, git, tool};

/// The secret every case runs with, in every credential variable.
const CANARY: &str = "canary-9f3b7e1d-env-s3cret";

/// The strings that must never be printed or written: the canary, and the credentials the
/// corpus puts in URLs (they all contain `canary-` and end in `pass` or `user`).
fn secrets(case: &Value) -> Vec<String> {
    let mut out = vec![CANARY.to_string()];
    for a in case["args"].as_array().into_iter().flatten() {
        let a = a.as_str().unwrap_or_default();
        if let Some(at) = a.find('@')
            && let Some(scheme) = a.find("://")
        {
            for part in a[scheme + 3..at].split(':') {
                if part.starts_with("canary-") {
                    out.push(part.to_string());
                }
            }
        }
    }
    out
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn generated(spec: &Value) -> Vec<u8> {
    let n = spec["n"].as_u64().unwrap_or(0) as usize;
    match spec["gen"].as_str().expect("gen") {
        "nest" => format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes(),
        "long" => format!("{{\"a\": \"{}\"}}\n", "x".repeat(n)).into_bytes(),
        "yaml-nest" => format!(
            "schemaVersion: v1\nkind: gates\nx: {}{}\n",
            "[".repeat(n),
            "]".repeat(n)
        )
        .into_bytes(),
        "alias-bomb" => {
            let mut lines = vec!["a0: &a0 [x, x, x, x, x, x, x, x, x, x]".to_string()];
            for i in 1..10 {
                let refs = vec![format!("*a{}", i - 1); 10].join(", ");
                lines.push(format!("a{i}: &a{i} [{refs}]"));
            }
            (lines.join("\n") + "\n").into_bytes()
        }
        // one 1 MiB string, then n aliases of it: few nodes, n MiB of text
        "alias-bytes" => {
            let mut y = format!("big: &a \"{}\"\nmany:\n", "x".repeat(1 << 20));
            for _ in 0..n {
                y.push_str("  - *a\n");
            }
            y.into_bytes()
        }
        other => panic!("unknown generator {other}"),
    }
}

fn materialise(dir: &Path, files: &serde_json::Map<String, Value>) {
    let mut repos = Vec::new();
    for (name, spec) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        match spec {
            Value::String(text) => std::fs::write(&path, text).unwrap(),
            Value::Object(o) if o.contains_key("hex") => {
                std::fs::write(&path, hex(o["hex"].as_str().unwrap())).unwrap()
            }
            Value::Object(o) if o.contains_key("copy") => {
                std::fs::copy(root().join(o["copy"].as_str().unwrap()), &path).unwrap();
            }
            Value::Object(o) if o.contains_key("symlink") => {
                std::os::unix::fs::symlink(o["symlink"].as_str().unwrap(), &path).unwrap()
            }
            Value::Object(o) if o.contains_key("gen") => {
                std::fs::write(&path, generated(spec)).unwrap()
            }
            Value::Object(o) if o.contains_key("git-init") => {
                repos.push(path.parent().unwrap().to_path_buf())
            }
            other => panic!("unknown file spec {other}"),
        }
    }
    for repo in repos {
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "--allow-empty", "-m", "c"]);
    }
}

/// Every file under `dir` (symlinks as their target's name), lock files left out: a lock
/// file stays by design (CONTRACT: FILE.lock) and holds no data.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    crate::common::snapshot(dir)
        .into_iter()
        .filter(|(p, _)| p.extension().is_none_or(|e| e != "lock"))
        .collect()
}

fn run_case(case: &Value) -> Result<(), String> {
    let name = case["tool"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    if let Some(files) = case["files"].as_object() {
        materialise(dir.path(), files);
    }
    let before = snapshot(dir.path());
    let expected = case["exit"].as_i64().unwrap() as i32;
    let root = root().display().to_string();
    let mut cmd = tool(name);
    cmd.current_dir(dir.path())
        .env("ROLLOUT_NOW", NOW)
        .env("GIT_TOKEN", CANARY)
        .env("GITHUB_TOKEN", CANARY)
        .env("GH_TOKEN", CANARY)
        // summaries land in the case directory, so the secret scan and the "nothing
        // written on refusal" check cover them too
        .env("GITHUB_STEP_SUMMARY", dir.path().join("step-summary.md"))
        .env("HOME", dir.path())
        .env_remove("RUNTIME_HEALTH_URLS")
        .timeout(Duration::from_secs(120))
        .write_stdin(case["stdin"].as_str().unwrap_or("").to_string());
    for a in case["args"].as_array().unwrap() {
        cmd.arg(a.as_str().unwrap().replace("{root}", &root));
    }
    if expected >= 2 {
        cmd.arg("--json-errors");
    }
    let out = cmd.output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(expected) {
        return Err(format!(
            "exit {:?}, expected {expected}; stderr: {stderr}",
            out.status.code()
        ));
    }
    let after = snapshot(dir.path());
    for secret in secrets(case) {
        if stdout.contains(&secret) || stderr.contains(&secret) {
            return Err(format!("the secret {secret:?} was printed"));
        }
        let written = after
            .iter()
            .filter(|f| !before.contains(f))
            .find(|(_, bytes)| bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
        if let Some((path, _)) = written {
            return Err(format!(
                "the secret {secret:?} was written to {}",
                path.display()
            ));
        }
    }
    if expected >= 2 {
        let first = stderr.lines().next().unwrap_or_default();
        let message = case["message"].as_str().unwrap().replace("{root}", &root);
        let prefix = format!("{name}: error: ");
        if !first.starts_with(&prefix) || !first.contains(&message) {
            return Err(format!(
                "error line {first:?}, expected {prefix}…{message}…"
            ));
        }
        if let Some(extra) = stderr.lines().skip(1).find(|l| !l.starts_with("  hint: ")) {
            return Err(format!("more than one error line: {extra:?}"));
        }
        let doc: Value = stdout
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
            .ok_or_else(|| format!("no error document on stdout: {stdout:?}"))?;
        if doc["reasonCode"] != case["reason"] {
            return Err(format!(
                "reason {}, expected {}",
                doc["reasonCode"], case["reason"]
            ));
        }
        if after != before {
            return Err("a file changed although the run was refused".into());
        }
    } else {
        if let Some(want) = case["stdout_contains"].as_str()
            && !stdout.contains(want)
        {
            return Err(format!("stdout lacks {want:?}: {stdout}"));
        }
        for f in case["unchanged"].as_array().into_iter().flatten() {
            let p = dir.path().join(f.as_str().unwrap());
            let was = before.iter().find(|(q, _)| *q == p).map(|(_, b)| b);
            let now = after.iter().find(|(q, _)| *q == p).map(|(_, b)| b);
            if was != now {
                return Err(format!("{} changed", p.display()));
            }
        }
    }
    Ok(())
}

#[test]
fn every_bad_input_is_refused_cleanly() {
    let text = std::fs::read_to_string(root().join("tests/corpus/cases.jsonl")).unwrap();
    let cases: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a case"))
        .collect();
    assert!(cases.len() >= 150, "the corpus has {} cases", cases.len());
    let tools: std::collections::BTreeSet<&str> =
        cases.iter().map(|c| c["tool"].as_str().unwrap()).collect();
    assert_eq!(tools.len(), 8, "every tool has cases: {tools:?}");

    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    if let Err(e) = run_case(case) {
                        failures.lock().unwrap().push(format!(
                            "{} / {}: {e}",
                            case["tool"].as_str().unwrap(),
                            case["name"].as_str().unwrap()
                        ));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
