//! digest-pin from the outside: real trees, real files, every failure mode of the issue.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{
    NOW, assert_refused, change_tree_before_write, copy_dir, error_line, fixture, git, json_out,
    snapshot, tool,
};

const REVIEW: &str = "776980ed9009fe17dfdb782960978bd573842dc867728bd4e63d734871cdeef1";
const FIX: &str = "da2b6e52ad20159252cb6f24147d4ece221182dbb0b21df9fb32966126e24a20";
const EXPLAIN: &str = "23dd59f2651ebc9aba93b5c143d5b78d256c8abe1ebf970ad9c218f6aa06ff77";
const NEW_REVIEW: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const NEW_FIX: &str = "2222222222222222222222222222222222222222222222222222222222222222";
const NEW_EXPLAIN: &str = "3333333333333333333333333333333333333333333333333333333333333333";
const RELEASE_1: &str = "5f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e";

/// A copy of the example workflow tree (examples/pins), plus a git-ignored file and a binary file that
/// must never be touched.
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/pins"),
            dir.path(),
        );
        std::fs::create_dir(dir.path().join("build")).unwrap();
        std::fs::write(
            dir.path().join("build/rendered.yml"),
            format!("container: ghcr.io/glitchwerks/claude-runtime-fix@sha256:{FIX}\n"),
        )
        .unwrap();
        let mut binary = b"\x00\x01ELF".to_vec();
        binary.extend_from_slice(format!("claude-runtime-fix@sha256:{FIX}").as_bytes());
        std::fs::write(dir.path().join("runtime/blob.bin"), binary).unwrap();
        Tree { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    fn cmd(&self) -> assert_cmd::Command {
        let mut c = tool("digest-pin");
        c.current_dir(self.dir.path()).args(["--now", NOW]);
        c
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.cmd().args(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        json_out(&out)
    }
}

fn set_args(review: &str, fix: &str, explain: &str) -> Vec<String> {
    vec![
        "--set".into(),
        format!("claude-runtime-review=sha256:{review}"),
        "--set".into(),
        format!("claude-runtime-fix=sha256:{fix}"),
        "--set".into(),
        format!("claude-runtime-explain={explain}"),
    ]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The failure contract (see `common::assert_refused`) on the tree.
fn refused(t: &Tree, args: &[&str], code: i32, reason: &str, message: &str) {
    let mut cmd = t.cmd();
    cmd.args(args);
    assert_refused(t.dir.path(), cmd, "digest-pin", code, reason, message);
}

#[test]
fn promote_rewrites_every_shape_and_only_the_digest_bytes() {
    let t = Tree::new();
    let before = snapshot(t.dir.path());
    let mut args = set_args(NEW_REVIEW, NEW_FIX, NEW_EXPLAIN);
    args.extend(["--expect", "9", "--expect-image", "claude-runtime-fix=4"].map(String::from));
    let r = t.ok(&strs(&args));
    assert_eq!(r["kind"], "pin-report");
    assert_eq!(r["mode"], "write");
    assert_eq!(r["total"], 9);
    assert_eq!(r["changed"], 9);
    assert_eq!(r["filesChanged"], 6);
    assert_eq!(
        r["perImage"]["claude-runtime-fix"],
        serde_json::json!({"found": 4, "changed": 4, "alreadyPinned": 0, "malformed": 0})
    );
    assert_eq!(r["perImage"]["claude-runtime-explain"]["found"], 3);
    assert_eq!(
        r["skipped"],
        serde_json::json!([{"file": "runtime/blob.bin", "reason": "binary"}])
    );
    let first = &r["changes"][0];
    assert_eq!(first["file"], ".github/workflows/claude-apply-fix.yml");
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(12), Some(55))
    );
    assert_eq!(first["old"], format!("sha256:{FIX}"));
    assert_eq!(first["new"], format!("sha256:{NEW_FIX}"));
    let df = r["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["file"] == "runtime/Dockerfile")
        .unwrap();
    assert_eq!(df["tag"], "2026.11", "the tag of name:tag@digest is kept");

    // Every file is the old text with exactly the set's digests replaced: the look-alike
    // image, the git-ignored file and the binary file keep theirs.
    for (path, old) in before {
        let old = String::from_utf8_lossy(&old).into_owned();
        let now = std::fs::read(&path).unwrap();
        let rel = path
            .strip_prefix(t.dir.path())
            .unwrap()
            .display()
            .to_string();
        let expected = if rel.starts_with("build/") || rel.ends_with(".bin") {
            old.clone()
        } else {
            old.replace(
                &format!("claude-runtime-fix@sha256:{FIX}"),
                &format!("claude-runtime-fix@sha256:{NEW_FIX}"),
            )
            .replace(
                &format!("@sha256:{REVIEW}\""),
                &format!("@sha256:{NEW_REVIEW}\""),
            )
            .replace(
                &format!(":2026.11@sha256:{REVIEW}"),
                &format!(":2026.11@sha256:{NEW_REVIEW}"),
            )
            .replace(EXPLAIN, NEW_EXPLAIN)
        };
        assert_eq!(String::from_utf8_lossy(&now), expected, "{rel}");
    }
    assert!(
        t.read(".github/workflows/claude-lint-failure.yml")
            .contains(&format!("claude-runtime-fix-extra@sha256:{REVIEW}"))
    );
}

/// A first promotion in a repository without `.rollout/`: the ledger's directory is
/// created, and the report names every file the run changed, so a workflow can commit
/// exactly those (and the ledger), never a lock file.
#[test]
fn a_first_recorded_promotion_starts_the_ledger_and_reports_every_changed_file() {
    let t = Tree::new();
    let git = |args: &[&str]| git(t.dir.path(), args);
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "tree"]);
    let ledger = ".rollout/digests.jsonl";
    let mut args = set_args(NEW_REVIEW, NEW_FIX, NEW_EXPLAIN);
    args.extend(["--record", "--ledger", ledger, "--release", RELEASE_1].map(String::from));
    let report = t.ok(&strs(&args));
    assert_eq!(report["ledger"]["path"], ledger);
    assert_eq!(t.read(ledger).lines().count(), 1);

    let mut reported: Vec<String> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["file"].as_str().unwrap().to_string())
        .chain([ledger.to_string()])
        .collect();
    reported.sort();
    reported.dedup();
    let mut changed: Vec<String> = git(&["status", "--porcelain", "-uall"])
        .lines()
        .map(|l| l[3..].to_string())
        .filter(|p| !p.ends_with(".lock"))
        .collect();
    changed.sort();
    assert_eq!(changed, reported);
    assert!(reported.iter().any(|f| f == "deploy/kustomization.yaml"));
    assert!(reported.iter().any(|f| f == "runtime/Dockerfile"));
}

/// The first step: `--record --baseline` records what the tree pins today, so the first
/// promotion has a release to roll back to; an image pinned at two digests is refused.
#[test]
fn a_baseline_gives_the_first_promotion_something_to_roll_back_to() {
    let t = Tree::new();
    let original = snapshot(t.dir.path());
    let base = t.ok(&[
        "--record",
        "--baseline",
        "--ledger",
        "l.jsonl",
        "--release",
        "base",
    ]);
    assert_eq!(
        (base["changed"].as_u64(), base["ledger"]["seq"].as_u64()),
        (Some(0), Some(1))
    );
    let list = t.ok(&["ledger", "--ledger", "l.jsonl"]);
    assert_eq!(list["records"][0]["action"], "baseline");
    assert_eq!(
        list["records"][0]["images"]["ghcr.io/glitchwerks/claude-runtime-fix"],
        format!("sha256:{FIX}")
    );
    let mut promote = set_args(NEW_REVIEW, NEW_FIX, NEW_EXPLAIN);
    promote.extend(["--record", "--ledger", "l.jsonl", "--release", RELEASE_1].map(String::from));
    assert_eq!(t.ok(&strs(&promote))["changed"], 9);
    let back = t.ok(&["--ledger", "l.jsonl", "--release", "base", "--record"]);
    assert_eq!(back["changed"], 9);
    let restored: Vec<_> = snapshot(t.dir.path())
        .into_iter()
        .filter(|(p, _)| !p.to_string_lossy().contains("l.jsonl"))
        .collect();
    assert_eq!(restored, original);

    // one image at two digests: no baseline can say which is in use
    let wf = t.read(".github/workflows/claude-apply-fix.yml");
    std::fs::write(
        t.path(".github/workflows/claude-apply-fix.yml"),
        wf.replacen(FIX, NEW_FIX, 1),
    )
    .unwrap();
    refused(
        &t,
        &[
            "--record",
            "--baseline",
            "--ledger",
            "l.jsonl",
            "--release",
            "base-2",
        ],
        3,
        "baseline_ambiguous",
        "ghcr.io/glitchwerks/claude-runtime-fix is pinned at 2 digests",
    );
    let out = t.run(&[
        "--record",
        "--baseline",
        "--ledger",
        "l.jsonl",
        "--release",
        "b",
        "--set",
        &format!("claude-runtime-fix=sha256:{FIX}"),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

/// Another repository checked out inside the tree (the toolkit's own source in a CI
/// workspace) is not this tree's: its pins are neither counted nor rewritten.
#[test]
fn a_nested_repository_is_skipped_not_counted() {
    let t = Tree::new();
    let nested = t.path(".rollout-tools");
    std::fs::create_dir_all(nested.join(".git")).unwrap();
    std::fs::create_dir_all(nested.join("examples")).unwrap();
    let pinned = format!("image: ghcr.io/glitchwerks/claude-runtime-fix@sha256:{FIX}\n");
    std::fs::write(nested.join("examples/ci.yml"), &pinned).unwrap();
    let mut args = set_args(NEW_REVIEW, NEW_FIX, NEW_EXPLAIN);
    args.extend(["--expect", "9"].map(String::from));
    let report = t.ok(&strs(&args));
    assert_eq!(report["changed"], 9);
    assert!(
        report["skipped"].as_array().unwrap().contains(
            &serde_json::json!({"file": ".rollout-tools", "reason": "nested_repository"})
        ),
        "{}",
        report["skipped"]
    );
    assert_eq!(t.read(".rollout-tools/examples/ci.yml"), pinned);
    let scan = t.ok(&["scan"]);
    assert!(
        scan["references"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| !r["file"].as_str().unwrap().starts_with(".rollout-tools"))
    );
}

#[test]
fn uppercase_digests_are_written_lowercase() {
    let t = Tree::new();
    let r = t.ok(&[
        "--set",
        &format!("claude-runtime-fix=SHA256:{}", NEW_FIX.replace('2', "A")),
    ]);
    assert_eq!(
        r["images"]["claude-runtime-fix"],
        format!("sha256:{}", NEW_FIX.replace('2', "a"))
    );
    assert!(
        t.read(".github/workflows/claude-ci-failure.yml")
            .contains(&NEW_FIX.replace('2', "a"))
    );
}

#[test]
fn promote_then_rollback_through_the_ledger() {
    let t = Tree::new();
    let original = snapshot(t.dir.path());
    // Record what runs today, then promote release 1 and record it.
    let r0 = t.ok(&strs(
        &[
            set_args(REVIEW, FIX, EXPLAIN),
            ["--record", "--ledger", "ledger.jsonl", "--release", "r0"]
                .map(String::from)
                .to_vec(),
        ]
        .concat(),
    ));
    assert_eq!(
        (r0["changed"].as_u64(), r0["ledger"]["seq"].as_u64()),
        (Some(0), Some(1))
    );
    let r1 = t.ok(&strs(
        &[
            set_args(NEW_REVIEW, NEW_FIX, NEW_EXPLAIN),
            [
                "--record",
                "--ledger",
                "ledger.jsonl",
                "--release",
                RELEASE_1,
            ]
            .map(String::from)
            .to_vec(),
        ]
        .concat(),
    ));
    assert_eq!(r1["changed"], 9);
    assert_eq!(r1["ledger"]["recorded"], true);

    // The ledger lists newest first and prints a release as a digest-set.
    let list = t.ok(&["ledger", "--ledger", "ledger.jsonl"]);
    assert_eq!(list["kind"], "digest-ledger");
    assert_eq!(list["records"][0]["release"], RELEASE_1);
    assert_eq!(list["records"][1]["release"], "r0");
    assert_eq!(list["records"][0]["action"], "promote");
    let set = t.ok(&["ledger", "--ledger", "ledger.jsonl", "--release", "r0"]);
    assert_eq!(set["kind"], "digest-set");
    assert_eq!(set["images"]["claude-runtime-fix"], format!("sha256:{FIX}"));

    // Roll back by release id: every file is byte-identical to before the promote.
    let back = t.ok(&[
        "--ledger",
        "ledger.jsonl",
        "--release",
        "r0",
        "--record",
        "--expect",
        "9",
    ]);
    assert_eq!(back["changed"], 9);
    let restored: Vec<_> = snapshot(t.dir.path())
        .into_iter()
        .filter(|(p, _)| {
            !p.starts_with(t.path("ledger.jsonl")) && !p.ends_with("ledger.jsonl.lock")
        })
        .collect();
    assert_eq!(restored, original);
    let list = t.ok(&["ledger", "--ledger", "ledger.jsonl"]);
    assert_eq!(list["records"][0]["action"], "rollback");
    assert_eq!(list["records"][0]["seq"], 3);

    // A retry of the same rollback changes nothing and does not record twice.
    let again = t.ok(&["--ledger", "ledger.jsonl", "--release", "r0", "--record"]);
    assert_eq!(again["changed"], 0);
    assert_eq!(again["ledger"]["recorded"], false);
    assert_eq!(t.read("ledger.jsonl").lines().count(), 3);

    // The printed digest-set feeds straight back in with -i.
    std::fs::write(
        t.path("r1.json"),
        serde_json::to_vec(&t.ok(&["ledger", "--ledger", "ledger.jsonl", "--release", RELEASE_1]))
            .unwrap(),
    )
    .unwrap();
    let r = t.ok(&["-i", "r1.json", "--dry-run", "--allow-missing", "runtime"]);
    assert_eq!(r["release"], RELEASE_1);
    assert_eq!(r["changed"], 2);
    // Forward again to release 1 from the ledger: a promote, not a rollback.
    let fwd = t.ok(&[
        "--ledger",
        "ledger.jsonl",
        "--release",
        RELEASE_1,
        "--record",
    ]);
    assert_eq!(fwd["changed"], 9);
    let list = t.ok(&["ledger", "--ledger", "ledger.jsonl"]);
    assert_eq!(list["records"][0]["action"], "promote");
    // A pin changed by hand, put back from the ledger: a restore of the release in effect.
    let dockerfile = t.read("runtime/Dockerfile");
    std::fs::write(
        t.path("runtime/Dockerfile"),
        dockerfile.replace(NEW_EXPLAIN, EXPLAIN),
    )
    .unwrap();
    let back = t.ok(&[
        "--ledger",
        "ledger.jsonl",
        "--release",
        RELEASE_1,
        "--record",
    ]);
    assert_eq!(back["changed"], 1);
    let list = t.ok(&["ledger", "--ledger", "ledger.jsonl"]);
    assert_eq!(list["records"][0]["action"], "restore");
    assert_eq!(t.read("runtime/Dockerfile"), dockerfile);
    let rollback_records = list["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "rollback")
        .count();
    assert_eq!(rollback_records, 1);
}

#[test]
fn check_reports_drift_and_dry_run_shows_a_diff_without_writing() {
    let t = Tree::new();
    let before = snapshot(t.dir.path());
    let mut args = set_args(NEW_REVIEW, NEW_FIX, NEW_EXPLAIN);
    args.push("--check".into());
    let out = t.run(&strs(&args));
    assert_eq!(out.status.code(), Some(1));
    let r = json_out(&out);
    assert_eq!(r["mode"], "check");
    assert_eq!(r["inSync"], false);
    assert_eq!(r["changes"].as_array().unwrap().len(), 9);

    let mut args = set_args(NEW_REVIEW, NEW_FIX, NEW_EXPLAIN);
    args.extend(["--dry-run", "--diff"].map(String::from));
    let r = t.ok(&strs(&args));
    assert_eq!(r["mode"], "dry-run");
    let diff = r["diff"].as_str().unwrap();
    assert!(diff.contains("--- a/deploy/kustomization.yaml"), "{diff}");
    assert!(
        diff.contains(&format!("-    digest: sha256:{EXPLAIN}")),
        "{diff}"
    );
    assert!(
        diff.contains(&format!("+    digest: sha256:{NEW_EXPLAIN}")),
        "{diff}"
    );
    assert_eq!(
        snapshot(t.dir.path()),
        before,
        "check and dry run write nothing"
    );

    let r = t.ok(&strs(&set_args(REVIEW, FIX, EXPLAIN)));
    assert_eq!(r["inSync"], true);
    let mut args = set_args(REVIEW, FIX, EXPLAIN);
    args.push("--check".into());
    assert_eq!(t.run(&strs(&args)).status.code(), Some(0));
}

#[test]
fn bad_digests_and_sets_are_usage_errors() {
    let t = Tree::new();
    let short = format!("claude-runtime-fix=sha256:{}", &NEW_FIX[1..]);
    refused(&t, &["--set", &short], 2, "digest_invalid", "not 63");
    let nonhex = format!("claude-runtime-fix=sha256:{}x", &NEW_FIX[1..]);
    refused(
        &t,
        &["--set", &nonhex],
        2,
        "digest_invalid",
        "'x' is not a hex digit",
    );
    let md5 = format!("claude-runtime-fix=md5:{NEW_FIX}");
    refused(
        &t,
        &["--set", &md5],
        2,
        "digest_invalid",
        "unknown digest algorithm",
    );
    let fix = format!("claude-runtime-fix={NEW_FIX}");
    refused(
        &t,
        &["--set", &fix, "--set", &fix],
        2,
        "digest_set_duplicate_image",
        "given twice",
    );
    let full = format!("ghcr.io/glitchwerks/claude-runtime-fix={NEW_FIX}");
    refused(
        &t,
        &["--set", &fix, "--set", &full],
        2,
        "digest_set_ambiguous",
        "same pins",
    );
    let tagged = format!("claude-runtime-fix:v1={NEW_FIX}");
    refused(&t, &["--set", &tagged], 2, "image_invalid", "without a tag");
    refused(&t, &[], 2, "digest_set_required", "no digests given");
    // A ledger next to --set is only ever written: without --record it would be ignored.
    refused(
        &t,
        &["--set", &fix, "--ledger", "l.jsonl"],
        2,
        "argument_invalid",
        "add --record",
    );

    std::fs::write(
        t.path("dup.json"),
        format!(
            r#"{{"schemaVersion":"v1","kind":"digest-set","release":"r2","images":{{"claude-runtime-fix":"{NEW_FIX}","claude-runtime-fix":"{NEW_REVIEW}"}}}}"#
        ),
    )
    .unwrap();
    refused(
        &t,
        &["-i", "dup.json"],
        2,
        "digest_set_duplicate_image",
        "given twice",
    );
    std::fs::write(
        t.path("err.json"),
        r#"{"schemaVersion":"v1","kind":"error","tool":"gate-eval","exitCode":2,"reasonCode":"input_malformed","message":"boom"}"#,
    )
    .unwrap();
    refused(&t, &["-i", "err.json"], 2, "upstream_error", "boom");
    let upper_commit = "5F3E2D1C0B9A8F7E6D5C4B3A2F1E0D9C8B7A6F5E";
    refused(
        &t,
        &[
            "--set",
            &fix,
            "--release",
            upper_commit,
            "--record",
            "--ledger",
            "l.jsonl",
        ],
        2,
        "release_id_invalid",
        "40-character lowercase SHA",
    );
}

#[test]
fn assertions_refuse_and_write_nothing() {
    let t = Tree::new();
    let mut args = set_args(NEW_REVIEW, NEW_FIX, NEW_EXPLAIN);
    args.extend(["--expect", "7"].map(String::from));
    refused(
        &t,
        &strs(&args),
        3,
        "digest_count_mismatch",
        "total: expected 7 pins, found 9",
    );
    let mut args = set_args(NEW_REVIEW, NEW_FIX, NEW_EXPLAIN);
    args.extend(["--expect-image", "claude-runtime-fix=3"].map(String::from));
    refused(
        &t,
        &strs(&args),
        3,
        "digest_count_mismatch",
        "image claude-runtime-fix: expected 3 pins, found 4",
    );
    let absent = format!("claude-runtime-base={NEW_FIX}");
    let fix = format!("claude-runtime-fix={NEW_FIX}");
    refused(
        &t,
        &["--set", &fix, "--set", &absent],
        3,
        "digest_image_missing",
        "claude-runtime-base",
    );
    let r = t.ok(&[
        "--set",
        &fix,
        "--set",
        &absent,
        "--allow-missing",
        "--dry-run",
    ]);
    assert_eq!(r["perImage"]["claude-runtime-base"]["found"], 0);

    // A pin of a set image with a broken digest would be left behind: refused.
    std::fs::write(
        t.path("deploy/broken.yaml"),
        format!(
            "image: ghcr.io/glitchwerks/claude-runtime-fix@sha256:{}\n",
            &FIX[1..]
        ),
    )
    .unwrap();
    refused(
        &t,
        &["--set", &fix],
        3,
        "digest_stale_pin",
        "deploy/broken.yaml:1:",
    );
}

/// Give a file an old mtime, so a replaced-and-restored file shows a new one.
fn age(path: &Path) {
    let touched = std::process::Command::new("touch")
        .args(["-d", "@946684800"])
        .arg(path)
        .status()
        .unwrap();
    assert!(touched.success());
}

#[test]
fn a_read_only_file_in_the_middle_stops_the_run_before_any_file_is_replaced() {
    let t = Tree::new();
    let first = t.path(".github/workflows/claude-apply-fix.yml");
    age(&first);
    let ro = t.path(".github/workflows/claude-lint-failure.yml");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o444)).unwrap();
    refused(
        &t,
        &strs(&set_args(NEW_REVIEW, NEW_FIX, NEW_EXPLAIN)),
        5,
        "file_read_only",
        "claude-lint-failure.yml: read-only (mode 444); nothing was written",
    );
    assert_eq!(std::fs::metadata(&first).unwrap().mtime(), 946684800);
    let litter: Vec<_> = snapshot(t.dir.path())
        .into_iter()
        .filter(|(p, _)| p.to_string_lossy().contains(".rollout-tmp-"))
        .collect();
    assert!(litter.is_empty(), "temp files left: {litter:?}");
}

#[test]
fn a_failure_part_way_through_the_renames_restores_the_files_already_replaced() {
    let t = Tree::new();
    let first = t.path(".github/workflows/claude-apply-fix.yml");
    let second = t.path(".github/workflows/claude-ci-failure.yml");
    age(&first);
    age(&second);
    let before = snapshot(t.dir.path());
    let out = t
        .cmd()
        .env("DIGEST_PIN_FAULT", "rename-fails-at:2")
        .args(strs(&set_args(NEW_REVIEW, NEW_FIX, NEW_EXPLAIN)))
        .arg("--json-errors")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let line = error_line(&out, "digest-pin");
    assert!(
        line.contains("claude-lint-failure.yml: cannot write: injected fault")
            && line.contains("the 2 file(s) already replaced were restored; nothing changed"),
        "{line}"
    );
    assert_eq!(json_out(&out)["reasonCode"], "io_error");
    assert_eq!(
        snapshot(t.dir.path()),
        before,
        "every file is byte-identical"
    );
    // The first two were replaced (new mtime), then put back with their mode.
    for f in [&first, &second] {
        let m = std::fs::metadata(f).unwrap();
        assert!(m.mtime() > 946684800, "{}", f.display());
        assert_eq!(m.permissions().mode() & 0o777, 0o644);
    }
}

#[test]
fn temp_files_left_by_a_killed_run_are_skipped() {
    let t = Tree::new();
    std::fs::write(
        t.path("deploy/.rollout-tmp-AbC123"),
        format!("image: ghcr.io/glitchwerks/claude-runtime-fix@sha256:{FIX}\n"),
    )
    .unwrap();
    let r = t.ok(&[
        "--set",
        &format!("claude-runtime-fix={NEW_FIX}"),
        "--expect",
        "4",
        "--dry-run",
    ]);
    assert!(r["skipped"].as_array().unwrap().contains(
        &serde_json::json!({"file": "deploy/.rollout-tmp-AbC123", "reason": "temp_file"})
    ));
}

#[test]
fn paths_must_stay_inside_the_root() {
    let t = Tree::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("x.yml"),
        format!("a: claude-runtime-fix@sha256:{FIX}\n"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path().join("x.yml"), t.path("deploy/link.yml")).unwrap();
    let fix = format!("claude-runtime-fix={NEW_FIX}");
    let out_path = outside.path().join("x.yml").display().to_string();
    refused(
        &t,
        &["--set", &fix, &out_path],
        3,
        "path_outside_root",
        "outside the root",
    );
    refused(
        &t,
        &["--set", &fix, "deploy/link.yml"],
        3,
        "path_outside_root",
        "deploy/link.yml",
    );
    refused(
        &t,
        &["--set", &fix, "--root", "deploy", "runtime"],
        3,
        "path_outside_root",
        "runtime",
    );
    refused(
        &t,
        &["--set", &fix, "no/such.yml"],
        2,
        "input_missing",
        "no/such.yml",
    );
    // In a walk the symlink is skipped and reported, never followed.
    let r = t.ok(&["--set", &fix, "--dry-run"]);
    assert!(
        r["skipped"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"file": "deploy/link.yml", "reason": "symlink"}))
    );
    assert_eq!(
        std::fs::read_to_string(outside.path().join("x.yml")).unwrap(),
        format!("a: claude-runtime-fix@sha256:{FIX}\n")
    );
}

#[test]
fn a_directory_swapped_for_a_symlink_before_the_write_is_not_followed() {
    let t = Tree::new();
    let outside = tempfile::tempdir().unwrap();
    let decoy = outside.path().join("kustomization.yaml");
    std::fs::copy(t.path("deploy/kustomization.yaml"), &decoy).unwrap();
    let decoy_before = std::fs::read(&decoy).unwrap();
    let before = snapshot(t.dir.path());
    let mut cmd = t.cmd();
    cmd.args(strs(&set_args(NEW_REVIEW, NEW_FIX, NEW_EXPLAIN)))
        .arg("--json-errors");
    let out = change_tree_before_write(cmd, "DIGEST_PIN_FAULT", || {
        std::fs::rename(t.path("deploy"), outside.path().join("moved")).unwrap();
        std::os::unix::fs::symlink(outside.path(), t.path("deploy")).unwrap();
    });
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_out(&out)["reasonCode"], "file_changed");
    assert!(
        error_line(&out, "digest-pin")
            .contains("deploy/kustomization.yaml: its directory \"deploy\" is now a symbolic link"),
        "{}",
        error_line(&out, "digest-pin")
    );
    // nothing written outside, nothing written inside
    assert_eq!(std::fs::read(&decoy).unwrap(), decoy_before);
    std::fs::remove_file(t.path("deploy")).unwrap();
    std::fs::rename(outside.path().join("moved"), t.path("deploy")).unwrap();
    assert_eq!(snapshot(t.dir.path()), before);
}

#[test]
fn ledger_failures_are_named() {
    let t = Tree::new();
    let fix = format!("claude-runtime-fix={NEW_FIX}");
    t.ok(&[
        "--set",
        &fix,
        "--record",
        "--ledger",
        "l.jsonl",
        "--release",
        "r1",
        "--allow-missing",
    ]);
    refused(
        &t,
        &["--ledger", "l.jsonl", "--release", "r9"],
        3,
        "release_not_in_ledger",
        "\"r9\" is not in the ledger",
    );
    let other = format!("claude-runtime-fix={NEW_REVIEW}");
    refused(
        &t,
        &[
            "--set",
            &other,
            "--record",
            "--ledger",
            "l.jsonl",
            "--release",
            "r1",
        ],
        3,
        "ledger_release_conflict",
        "already recorded (record 1)",
    );
    let mut text = t.read("l.jsonl");
    text.push_str("{\"seq\": 2, \"release\": \n");
    std::fs::write(t.path("l.jsonl"), text).unwrap();
    refused(
        &t,
        &["--ledger", "l.jsonl", "--release", "r1"],
        2,
        "ledger_malformed",
        "l.jsonl:2:",
    );
    refused(
        &t,
        &["ledger", "--ledger", "l.jsonl"],
        2,
        "ledger_malformed",
        "l.jsonl:2:",
    );
}

#[test]
fn an_unreadable_file_fails_before_anything_is_written() {
    // Root reads every file, so the run drops to nobody when the tests run as root.
    let t = Tree::new();
    let secret = t.path("deploy/secret.yaml");
    std::fs::write(&secret, "x: 1\n").unwrap();
    let before = snapshot(t.dir.path());
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    let root = is_root();
    if root {
        let mut stack = vec![t.dir.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            std::os::unix::fs::chown(&d, Some(65534), Some(65534)).unwrap();
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p != secret {
                    std::os::unix::fs::chown(&p, Some(65534), Some(65534)).unwrap();
                }
            }
        }
    }
    let bin = crate::common::bin_path("digest-pin");
    let mut cmd = if root {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(bin);
        c
    } else {
        std::process::Command::new(bin)
    };
    let out = cmd
        .current_dir(t.dir.path())
        .args([
            "--set",
            &format!("claude-runtime-fix={NEW_FIX}"),
            "--json-errors",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = error_line(&out, "digest-pin");
    assert!(
        line.contains("deploy/secret.yaml: cannot read: Permission denied"),
        "{line}"
    );
    assert_eq!(json_out(&out)["reasonCode"], "file_unreadable");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(snapshot(t.dir.path()), before);
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn scan_lists_every_pin_of_the_corpus() {
    let corpus = fixture("corpus", "");
    let out = tool("digest-pin")
        .args(["scan", "--root"])
        .arg(&corpus)
        .args(["--now", NOW])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = json_out(&out);
    assert_eq!(r["kind"], "digest-scan");
    assert_eq!(
        r["warnings"],
        serde_json::json!([]),
        "every corpus YAML with digests parses"
    );
    let refs = r["references"].as_array().unwrap();
    let find = |file: &str, line: u64| {
        refs.iter()
            .find(|x| x["file"].as_str().unwrap().ends_with(file) && x["line"] == line)
            .unwrap_or_else(|| panic!("no pin at {file}:{line}"))
    };
    // Shapes: kustomize digest field (newName wins), newTag tag@digest, chart values,
    // docker:// step, Dockerfile syntax line, flow mapping with a BOM.
    assert_eq!(
        find("flux2__tests_image-automation_kustomization.yaml", 11)["image"],
        "ghcr.io/stefanprodan/podinfo"
    );
    assert_eq!(find("smee_kustomization.yml", 14)["tag"], "latest");
    assert_eq!(
        find("handbrake_app_release.yaml", 37)["image"],
        "docker.io/jlesage/handbrake"
    );
    assert_eq!(
        find("workflow-pins.yml", 21)["image"],
        "quay.io/acme/checkpatch"
    );
    assert_eq!(find("Dockerfile.pins", 1)["image"], "docker/dockerfile");
    assert_eq!(find("kustomization-flow-bom.yaml", 4)["image"], "redis");
    assert_eq!(find("kustomization-flow-bom.yaml", 4)["column"], 42);
    // the 9 pinned digests, and 5 the corpus holds without a name (the registry listings'
    // version names): a scan for prune protection lists every digest the tree holds
    assert_eq!(r["digests"].as_array().unwrap().len(), 14);

    // --image narrows the listing with the same matching rules as --set.
    let out = tool("digest-pin")
        .args(["scan", "--image", "claude-runtime-fix", "--root"])
        .arg(corpus.join("synthetic"))
        .output()
        .unwrap();
    let r = json_out(&out);
    let images: Vec<&str> = r["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["image"].as_str().unwrap())
        .collect();
    assert_eq!(
        images,
        [
            "ghcr.io/acme/claude-runtime-fix",
            "ghcr.io/acme/claude-runtime-fix"
        ]
    );
}

#[test]
fn every_corpus_pin_can_be_rewritten_and_only_its_digest_changes() {
    let t = tempfile::tempdir().unwrap();
    copy_dir(&fixture("corpus", ""), t.path());
    let scan = json_out(
        &tool("digest-pin")
            .args(["scan", "--root"])
            .arg(t.path())
            .output()
            .unwrap(),
    );
    let before = snapshot(t.path());
    let new = "sha256:4444444444444444444444444444444444444444444444444444444444444444";
    // Every repository found, except bare names that are also the last component of a
    // full one (`postgres` next to `docker.io/library/postgres`): those two would select
    // the same pins, which digest-pin refuses.
    let all: Vec<String> = scan["images"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let chosen: Vec<&String> = all
        .iter()
        .filter(|i| i.contains('/') || !all.iter().any(|o| o.ends_with(&format!("/{i}"))))
        .collect();
    let mut cmd = tool("digest-pin");
    cmd.arg("--root").arg(t.path());
    for i in &chosen {
        cmd.args(["--set", &format!("{i}={new}")]);
    }
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = json_out(&out);
    let expected = scan["references"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["malformed"] == false && chosen.iter().any(|c| x["image"] == c.as_str()))
        .count();
    assert_eq!(r["total"].as_u64().unwrap() as usize, expected);
    assert!(expected >= 20, "{expected}");
    for (path, old) in before {
        let now = std::fs::read(&path).unwrap();
        assert_eq!(now.len(), old.len(), "{}", path.display());
        for (i, (a, b)) in old.iter().zip(&now).enumerate() {
            if a != b {
                assert!(
                    b.is_ascii_hexdigit() && a.is_ascii_hexdigit(),
                    "{}: byte {i}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn named_files_are_always_read_and_oversized_files_are_skipped() {
    let t = Tree::new();
    let fix = format!("claude-runtime-fix={NEW_FIX}");
    // build/ is git-ignored: a walk leaves it alone, naming it reads it.
    let r = t.ok(&["--set", &fix, "build/rendered.yml"]);
    assert_eq!(r["changed"], 1);
    assert!(t.read("build/rendered.yml").contains(NEW_FIX));
    let mut big = format!("image: claude-runtime-fix@sha256:{FIX}\n").into_bytes();
    big.resize(16 * 1024 * 1024 + 1, b'#');
    std::fs::write(t.path("deploy/huge.yaml"), &big).unwrap();
    let r = t.ok(&["--set", &fix, "--dry-run", "--expect", "4"]);
    assert!(
        r["skipped"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"file": "deploy/huge.yaml", "reason": "too_large"}))
    );
}

/// Property: random digests for random subsets of the images; after a rewrite, --check
/// with the same set is clean, the counts add up (changed + already pinned = found, per
/// image and in total), and a second rewrite changes nothing.
#[test]
fn a_rewrite_then_check_is_clean_and_counts_add_up() {
    let mut next = crate::common::seeded(0x00d1_6e57_2026);
    let t = Tree::new();
    for round in 0..12 {
        let mut args: Vec<String> = Vec::new();
        for image in [
            "claude-runtime-review",
            "claude-runtime-fix",
            "claude-runtime-explain",
        ] {
            if next(3) > 0 {
                let hex: String = (0..64)
                    .map(|_| "0123456789abcdef".as_bytes()[next(16) as usize] as char)
                    .collect();
                let digest = if next(4) == 0 {
                    hex.to_uppercase()
                } else {
                    hex
                };
                args.extend(["--set".into(), format!("{image}=sha256:{digest}")]);
            }
        }
        if args.is_empty() {
            continue;
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let report = t.ok(&[&refs[..], &["--compact"]].concat());
        let total = report["total"].as_u64().unwrap();
        let mut sum = 0;
        for (image, c) in report["perImage"].as_object().unwrap() {
            let (found, changed, already) = (
                c["found"].as_u64().unwrap(),
                c["changed"].as_u64().unwrap(),
                c["alreadyPinned"].as_u64().unwrap(),
            );
            assert_eq!(changed + already, found, "round {round} {image}: {c}");
            sum += found;
        }
        assert_eq!(sum, total, "round {round}: per-image counts vs total");
        assert_eq!(
            report["changes"].as_array().unwrap().len() as u64,
            report["changed"].as_u64().unwrap(),
            "round {round}"
        );
        let check = t.run(&[&refs[..], &["--check", "--compact"]].concat());
        assert_eq!(
            check.status.code(),
            Some(0),
            "round {round}: --check after the rewrite: {}",
            String::from_utf8_lossy(&check.stdout)
        );
        let again = t.ok(&[&refs[..], &["--compact"]].concat());
        assert_eq!(
            again["changed"], 0,
            "round {round}: a second rewrite changed pins"
        );
    }
}

#[test]
fn files_git_tracks_are_read_whatever_ignore_files_say() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pin =
        |digest: &str| format!("image: ghcr.io/glitchwerks/claude-runtime-fix@sha256:{digest}\n");
    std::fs::create_dir_all(d.join("deploy")).unwrap();
    std::fs::write(d.join("deploy/prod.yaml"), pin(FIX)).unwrap();
    // a committed .ignore (ripgrep's) hiding deploy/, a .gitignore hiding *.generated.yaml,
    // and a generated file that is tracked all the same (git add -f)
    std::fs::write(d.join(".ignore"), "deploy/\n").unwrap();
    std::fs::write(d.join(".gitignore"), "*.generated.yaml\n").unwrap();
    std::fs::write(d.join("app.generated.yaml"), pin(REVIEW)).unwrap();
    git(d, &["init", "-q", "-b", "main"]);
    git(d, &["add", "-A"]);
    git(d, &["add", "-f", "app.generated.yaml"]);
    git(d, &["commit", "-qm", "seed"]);
    // untracked and git-ignored: not this repository's content
    std::fs::write(d.join("local.generated.yaml"), pin(EXPLAIN)).unwrap();
    let run = |args: &[&str]| pin_in(d, args);

    let (code, scan) = run(&["scan", "--jq", "[.references[].file] | unique"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        scan,
        serde_json::json!(["app.generated.yaml", "deploy/prod.yaml"])
    );
    // --respect-ignore: the ignore files hide tracked files too (the walker's own rules)
    let (_, scan) = run(&[
        "scan",
        "--respect-ignore",
        "--jq",
        "[.references[].file] | unique",
    ]);
    assert_eq!(scan, serde_json::json!([]));

    // The drift check and the rewrite see deploy/prod.yaml.
    let (code, report) = run(&[
        "--check",
        "--set",
        &format!("claude-runtime-fix=sha256:{NEW_FIX}"),
        "--jq",
        "[.changes[].file]",
    ]);
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(
        report,
        serde_json::json!(["app.generated.yaml", "deploy/prod.yaml"])
    );
    let (code, _) = run(&["--set", &format!("claude-runtime-fix=sha256:{NEW_FIX}")]);
    assert_eq!(code, Some(0));
    assert_eq!(
        std::fs::read_to_string(d.join("deploy/prod.yaml")).unwrap(),
        pin(NEW_FIX)
    );
    assert_eq!(
        std::fs::read_to_string(d.join("local.generated.yaml")).unwrap(),
        pin(EXPLAIN)
    );
}

#[test]
fn pins_inside_shell_default_value_expansions_are_rewritten_under_their_image() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("run.sh"),
        format!("IMAGE_B=\"${{IMAGE_B:-cgr.dev/chainguard/static:latest@sha256:{FIX}}}\"\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("Dockerfile"),
        format!("FROM ${{REDIS_IMAGE:-redis@sha256:{FIX}}}\n"),
    )
    .unwrap();
    let run = |args: &[&str]| pin_in(d, args);
    // A stale pin used to be named after its tag ("latest"): --check passed.
    let set = format!("cgr.dev/chainguard/static=sha256:{NEW_FIX}");
    let (code, _) = run(&["--check", "--set", &set]);
    assert_eq!(code, Some(1), "the stale pin is drift");
    let (code, report) = run(&["--set", &set, "--expect", "1", "--jq", "[.changes[].file]"]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report, serde_json::json!(["run.sh"]));
    assert!(
        std::fs::read_to_string(d.join("run.sh"))
            .unwrap()
            .contains(NEW_FIX)
    );
    let (_, scan) = run(&["scan", "--jq", "[.references[] | .image] | sort"]);
    assert_eq!(
        scan,
        serde_json::json!(["cgr.dev/chainguard/static", "redis"])
    );
}

#[test]
fn an_image_whose_only_pins_are_malformed_is_drift_not_missing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("x.yaml"),
        format!("image: ghcr.io/a/app@sha256:{}\n", &FIX[1..]),
    )
    .unwrap();
    let set = format!("ghcr.io/a/app=sha256:{NEW_FIX}");
    let out = tool("digest-pin")
        .current_dir(dir.path())
        .args(["--now", NOW, "--compact", "--check", "--set", &set])
        .args([
            "--jq",
            "[.inSync, [.changes[] | \"\\(.file):\\(.line)\"], .perImage[].malformed]",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_out(&out), serde_json::json!([false, ["x.yaml:1"], 1]));
    // a rewrite still refuses to leave it behind
    let out = tool("digest-pin")
        .current_dir(dir.path())
        .args(["--now", NOW, "--set", &set, "--json-errors"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn a_digest_reached_through_a_variable_is_protected_from_pruning() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("Dockerfile"),
        format!("ARG sha_digest=sha256:{FIX}\nFROM gcr.io/distroless/java17@$sha_digest\n"),
    )
    .unwrap();
    let scan = tool("digest-pin")
        .current_dir(d)
        .args(["scan", "--now", NOW])
        .output()
        .unwrap();
    assert!(scan.status.success());
    std::fs::write(d.join("pins.json"), &scan.stdout).unwrap();
    assert_eq!(
        json_out(&scan)["digests"],
        serde_json::json!([format!("sha256:{FIX}")])
    );
    let listing = serde_json::json!([
        {"id": 1, "digest": format!("sha256:{FIX}"), "createdAt": "2026-01-01T00:00:00Z", "tags": ["pending-1"]},
        {"id": 2, "digest": format!("sha256:{NEW_FIX}"), "createdAt": "2026-01-01T00:00:00Z", "tags": ["pending-2"]}
    ]);
    std::fs::write(d.join("versions.json"), listing.to_string()).unwrap();
    let plan = tool("prune-plan")
        .current_dir(d)
        .args([
            "-i",
            "versions.json",
            "--package",
            "app",
            "--match",
            "pending-*",
            "--protect-tag",
            "none",
        ])
        .args(["--protect-digests", "pins.json", "--now", NOW, "--compact"])
        .args([
            "--jq",
            "[.packages[0].delete[].id, (.packages[0].keep[] | [.id, .reason])]",
        ])
        .output()
        .unwrap();
    assert!(
        plan.status.success(),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    assert_eq!(
        json_out(&plan),
        serde_json::json!([2, [1, "protected_digest"]])
    );
}

/// digest-pin in `dir` with the fixed clock, compact: its exit code and document.
fn pin_in(dir: &Path, args: &[&str]) -> (Option<i32>, Value) {
    let out = tool("digest-pin")
        .current_dir(dir)
        .args(["--now", NOW, "--compact"])
        .args(args)
        .output()
        .unwrap();
    (out.status.code(), json_out(&out))
}

#[test]
fn a_digest_carried_by_a_variable_is_rewritten_with_its_image() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let dockerfile = format!(
        "ARG sha_digest=sha256:{FIX}\nARG BUILDER_DIGEST=sha256:{REVIEW}\nFROM gcr.io/distroless/java17@$sha_digest\nRUN echo \"built on $BUILDER_DIGEST\"\n"
    );
    std::fs::write(d.join("Dockerfile"), &dockerfile).unwrap();
    // the scan attributes the first to its image and lists the second as unattributed
    let (code, scan) = pin_in(d, &["scan"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        scan["images"]["gcr.io/distroless/java17"],
        serde_json::json!([format!("sha256:{FIX}")])
    );
    assert_eq!(
        scan["unattributed"],
        serde_json::json!([{"file": "Dockerfile", "line": 2, "column": 20, "variable": "BUILDER_DIGEST",
                            "digest": format!("sha256:{REVIEW}")}])
    );
    assert_eq!(scan["digests"].as_array().unwrap().len(), 2, "{scan}");
    // a rewrite of the image rewrites the assignment: no copy of the old digest is left
    let set = format!("gcr.io/distroless/java17=sha256:{NEW_FIX}");
    let (code, r) = pin_in(d, &["--set", &set]);
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(
        std::fs::read_to_string(d.join("Dockerfile")).unwrap(),
        dockerfile.replace(FIX, NEW_FIX)
    );
    let (code, _) = pin_in(d, &["--check", "--set", &set]);
    assert_eq!(code, Some(0), "in sync after the rewrite");
}

#[test]
fn a_reference_written_across_lines_is_rewritten_under_its_whole_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let yaml = format!(
        "spec:\n  containers:\n    - image: \"ghcr.io/glitchwerks/\\\n        claude-runtime-fix:v1@sha256:{FIX}\"\n"
    );
    std::fs::write(d.join("deploy.yaml"), &yaml).unwrap();
    let set = format!("ghcr.io/glitchwerks/claude-runtime-fix=sha256:{NEW_FIX}");
    let (code, r) = pin_in(d, &["--set", &set]);
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(r["changed"], 1, "{r}");
    assert_eq!(
        std::fs::read_to_string(d.join("deploy.yaml")).unwrap(),
        yaml.replace(FIX, NEW_FIX)
    );
    let (code, _) = pin_in(d, &["--check", "--set", &set]);
    assert_eq!(code, Some(0));
}
