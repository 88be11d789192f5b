//! Test harness shared by the tool modules.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The fixed clock every test runs with unless it says otherwise.
pub const NOW: &str = "2026-11-21T08:00:00Z";

/// A command for one of the workspace's binaries, with a clean, reproducible environment.
pub fn tool(name: &str) -> Command {
    let mut cmd = Command::new(bin_path(name));
    for var in [
        "ROLLOUT_NOW",
        "ROLLOUT_TRACE_ID",
        "ROLLOUT_JSON_ERRORS",
        "GITHUB_ACTIONS",
        "GITHUB_STEP_SUMMARY",
        "ROLLOUT_SIGNING_KEY",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// The path of one of the workspace's binaries.
pub fn bin_path(name: &str) -> PathBuf {
    match name {
        "gate-eval" => PathBuf::from(env!("CARGO_BIN_EXE_gate-eval")),
        "policy-apply" => PathBuf::from(env!("CARGO_BIN_EXE_policy-apply")),
        "digest-pin" => PathBuf::from(env!("CARGO_BIN_EXE_digest-pin")),
        "tag-bump" => PathBuf::from(env!("CARGO_BIN_EXE_tag-bump")),
        "prune-plan" => PathBuf::from(env!("CARGO_BIN_EXE_prune-plan")),
        "freshness-check" => PathBuf::from(env!("CARGO_BIN_EXE_freshness-check")),
        "health-probe" => PathBuf::from(env!("CARGO_BIN_EXE_health-probe")),
        "image-resolve" => PathBuf::from(env!("CARGO_BIN_EXE_image-resolve")),
        other => panic!("unknown binary {other}"),
    }
}

/// A fixture file of a tool.
pub fn fixture(tool: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(tool)
        .join(name)
}

/// A fixture path as a string argument.
pub fn fx(tool: &str, name: &str) -> String {
    fixture(tool, name).display().to_string()
}

/// Parse a command's stdout as one JSON document.
pub fn json_out(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Every file under `dir` with its bytes, to prove that a failing run changed nothing.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.file_type().is_symlink() {
                // a link is its target's name: never followed out of the directory
                let target = std::fs::read_link(&p).unwrap();
                out.push((p, target.into_os_string().into_encoded_bytes()));
            } else if meta.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

/// The one stderr line of a failure, checked for the contract's shape.
pub fn error_line(out: &std::process::Output, tool: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let first = stderr.lines().next().unwrap_or_default().to_string();
    assert!(
        first.starts_with(&format!("{tool}: error: ")),
        "stderr does not start with '{tool}: error:':\n{stderr}"
    );
    for extra in stderr.lines().skip(1) {
        assert!(
            extra.starts_with("  hint: "),
            "unexpected stderr line: {extra}"
        );
    }
    first
}

/// `sha256:<hex>` computed by sha256sum(1), independent of the code under test.
pub fn sha256sum(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    format!("sha256:{}", &String::from_utf8_lossy(&out.stdout)[..64])
}

/// The failure contract, for any tool: run `cmd` with `--json-errors` in `dir`, and assert
/// the exit code, the reason code, one error line containing `message`, and every file
/// under `dir` byte-identical afterwards (lock files aside: taking a lock may create one).
pub fn assert_refused(
    dir: &Path,
    mut cmd: Command,
    tool: &str,
    code: i32,
    reason: &str,
    message: &str,
) {
    let keep = |s: Vec<(PathBuf, Vec<u8>)>| -> Vec<(PathBuf, Vec<u8>)> {
        s.into_iter()
            .filter(|(p, _)| p.extension().is_none_or(|e| e != "lock"))
            .collect()
    };
    let before = keep(snapshot(dir));
    let out = cmd.arg("--json-errors").output().unwrap();
    let shown = format!("{cmd:?}");
    assert_eq!(
        out.status.code(),
        Some(code),
        "{shown}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = error_line(&out, tool);
    assert!(line.contains(message), "{shown}: {line}");
    assert_eq!(json_out(&out)["reasonCode"], reason, "{shown}");
    assert_eq!(keep(snapshot(dir)), before, "{shown} changed files");
}

/// Validate a document against its committed schema (`schemas/KIND.v1.schema.json`), so the
/// schemas cannot drift from what the tools really print.
pub fn assert_schema(doc: &serde_json::Value) {
    let kind = doc["kind"].as_str().expect("a document with a kind");
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(format!("{kind}.v1.schema.json"));
    let schema: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{kind} does not match its schema: {errors:#?}"
    );
}

/// Wait for a test server started by a test to write its port to `state/port`.
pub fn wait_for_port(state: &Path, what: &str) -> u16 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(p) = std::fs::read_to_string(state.join("port")) {
            return p.trim().parse().unwrap();
        }
        assert!(std::time::Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A seeded xorshift generator for property tests: `next(n)` is below `n`. A failure
/// names the case, and the same seed gives the same cases.
pub fn seeded(mut seed: u64) -> impl FnMut(u64) -> u64 {
    move |n| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    }
}

/// Run git with a fixed identity, no user config and no prompts.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Fixture")
        .env("GIT_AUTHOR_EMAIL", "fixture@example.invalid")
        .env("GIT_COMMITTER_NAME", "Fixture")
        .env("GIT_COMMITTER_EMAIL", "fixture@example.invalid")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run `cmd` with `FAULT_VAR=wait-for:GO` (rollout_core::tree::Fault): once the tool has
/// planned its writes and waits, `between` changes the tree, then the tool goes on.
pub fn change_tree_before_write(
    mut cmd: Command,
    fault_var: &str,
    between: impl FnOnce(),
) -> std::process::Output {
    let gate = tempfile::tempdir().unwrap();
    let go = gate.path().join("go");
    let waiting = gate.path().join("go.waiting");
    cmd.env(fault_var, format!("wait-for:{}", go.display()));
    let run = std::thread::spawn(move || cmd.output().unwrap());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !waiting.exists() {
        assert!(
            !run.is_finished() && std::time::Instant::now() < deadline,
            "the tool never reached its write"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    between();
    std::fs::write(&go, b"").unwrap();
    run.join().unwrap()
}

/// Copy a directory tree; files become mode 0644 (a fixture checked out read-only stays
/// writable in the copy).
pub fn copy_dir(from: &Path, to: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let p = entry.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
}

/// The governance flags of a valid policy-apply request.
pub const GOV: [&str; 8] = [
    "--actor",
    "alice",
    "--approval-ref",
    "CHG-1042",
    "--rationale",
    "promotion rollout mutation",
    "--review-by",
    "2026-12-01T00:00:00Z",
];
