//! freshness-check on real git repositories built with chosen commit dates and paths.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{NOW, assert_refused, assert_schema, git, json_out, tool};

const TOOL: &str = "freshness-check";

fn commit(dir: &Path, date: &str, file: &str, subject: &str) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    text.push_str(subject);
    text.push('\n');
    std::fs::write(&path, text).unwrap();
    git(dir, &["add", "-A"]);
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "commit",
            "-qm",
            subject,
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
}

/// The private repository of the replaced alarm: released at ci-v0.1.0 on 2026-10-01, then
/// one unrelated commit, one on an imported skill, one on CLAUDE.md (2026-10-20).
fn private_repo(root: &Path) -> PathBuf {
    let dir = root.join("private");
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    commit(&dir, "2026-10-01T00:00:00Z", "CLAUDE.md", "release");
    commit(
        &dir,
        "2026-10-01T00:00:00Z",
        "skills/git/SKILL.md",
        "git skill",
    );
    git(&dir, &["tag", "-a", "ci-v0.1.0", "-m", "ci-v0.1.0"]);
    commit(&dir, "2026-10-05T00:00:00Z", "other.txt", "unrelated");
    commit(
        &dir,
        "2026-10-10T00:00:00Z",
        "skills/git/SKILL.md",
        "skills: git tweak",
    );
    commit(&dir, "2026-10-20T00:00:00Z", "CLAUDE.md", "claude md");
    dir
}

/// `git clone --depth 1` of `repo` into `root/shallow`, plus the pinned tag at depth 1:
/// the replaced alarm's checkout.
fn shallow_clone(repo: &Path, root: &Path) -> PathBuf {
    let url = format!("file://{}", repo.display());
    git(root, &["clone", "-q", "--depth", "1", &url, "shallow"]);
    let shallow = root.join("shallow");
    git(
        &shallow,
        &[
            "fetch",
            "-q",
            "--depth",
            "1",
            "origin",
            "refs/tags/ci-v0.1.0:refs/tags/ci-v0.1.0",
        ],
    );
    shallow
}

fn fresh(repo: &Path) -> assert_cmd::Command {
    let mut c = tool(TOOL);
    c.arg("--repo")
        .arg(repo)
        .args(["--now", NOW, "--trace-id", "t", "--compact"]);
    c
}

fn run_ok(cmd: &mut assert_cmd::Command, code: i32) -> Value {
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json_out(&out);
    assert_schema(&doc);
    doc
}

#[test]
fn stale_on_the_watched_paths_only() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = private_repo(tmp.path());
    let doc = run_ok(
        fresh(&repo).args([
            "--pinned",
            "ci-v0.1.0",
            "--path",
            "skills/git/",
            "--path",
            "CLAUDE.md",
        ]),
        0,
    );
    assert_eq!(doc["status"], "stale");
    assert_eq!(doc["stale"], true);
    assert_eq!(
        doc["commitsAhead"], 2,
        "the unrelated commit is not counted"
    );
    assert_eq!(doc["gapDays"], 19);
    assert_eq!(doc["gap"], "19d");
    let subjects: Vec<&str> = doc["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["claude md", "skills: git tweak"]);
    assert_eq!(
        doc["commits"][1]["paths"],
        serde_json::json!(["skills/git/SKILL.md"])
    );
    assert_eq!(doc["pinned"]["committedAt"], "2026-10-01T00:00:00Z");
    assert_eq!(
        doc["paths"],
        serde_json::json!(["CLAUDE.md", "skills/git/"])
    );
    // --fail-on-stale turns it into exit 1, after the report
    run_ok(
        fresh(&repo).args([
            "--pinned",
            "ci-v0.1.0",
            "--path",
            "CLAUDE.md",
            "--fail-on-stale",
        ]),
        1,
    );
    // nothing on the paths, or a gap within the limit: fresh
    let doc = run_ok(
        fresh(&repo).args(["--pinned", "ci-v0.1.0", "--path", "agents/"]),
        0,
    );
    assert_eq!(
        (doc["status"].as_str(), doc["commitsAhead"].as_u64()),
        (Some("fresh"), Some(0))
    );
    let doc = run_ok(
        fresh(&repo).args([
            "--pinned",
            "ci-v0.1.0",
            "--path",
            "skills/",
            "--max-gap",
            "20d",
        ]),
        0,
    );
    assert_eq!(
        (doc["status"].as_str(), doc["commitsAhead"].as_u64()),
        (Some("fresh"), Some(1))
    );
}

#[test]
fn title_and_dedupe_key_do_not_move_with_the_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = private_repo(tmp.path());
    git(
        &repo,
        &[
            "remote",
            "add",
            "origin",
            "https://x-access-token:s3cr3t@github.com/glitchwerks/claude-configs.git",
        ],
    );
    let args = ["--pinned", "ci-v0.1.0", "--path", "CLAUDE.md"];
    let a = run_ok(fresh(&repo).args(args), 0);
    commit(&repo, "2026-11-01T00:00:00Z", "CLAUDE.md", "more");
    let b = run_ok(fresh(&repo).args(args), 0);
    assert_ne!(a["commitsAhead"], b["commitsAhead"]);
    assert_eq!(a["title"], b["title"]);
    assert_eq!(a["dedupeKey"], b["dedupeKey"]);
    assert_eq!(
        a["title"],
        "Stale pinned ref: ci-v0.1.0 in https://github.com/glitchwerks/claude-configs"
    );
    assert_eq!(
        a["dedupeKey"],
        "freshness:https://github.com/glitchwerks/claude-configs@ci-v0.1.0"
    );
    let body = b["body"].as_str().unwrap();
    assert!(
        body.ends_with(
            "<!-- freshness:https://github.com/glitchwerks/claude-configs@ci-v0.1.0 -->\n"
        ),
        "{body}"
    );
    assert!(
        body.contains("2 commit(s) ahead on the watched paths; gap 31d (limit 14d)."),
        "{body}"
    );
    // the token never shows
    let out = fresh(&repo).args(args).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("s3cr3t"));

    // a runner whose git config rewrites GitHub URLs (url.*.insteadOf, as an SSH or mirror
    // setup does) still names the repository as configured: the same title and key
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".gitconfig"),
        "[url \"git@github.com:\"]\n\tinsteadOf = https://x-access-token:s3cr3t@github.com/\n",
    )
    .unwrap();
    let c = run_ok(fresh(&repo).env("HOME", home.path()).args(args), 0);
    assert_eq!(c["title"], a["title"]);
    assert_eq!(c["dedupeKey"], a["dedupeKey"]);
}

#[test]
fn a_shallow_clone_is_refused_not_undercounted() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = private_repo(tmp.path());
    let shallow = shallow_clone(&repo, tmp.path());
    // The replaced alarm reported 1 here whatever the paths; the report says it cannot know.
    let out = fresh(&shallow)
        .args([
            "--pinned",
            "ci-v0.1.0",
            "--path",
            "other.txt",
            "--json-errors",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    // stdout holds the report and nothing else, even with --json-errors
    let doc = json_out(&out);
    assert_eq!(doc["status"], "incomplete_history");
    assert_eq!(doc["shallow"], true);
    assert_eq!(doc["stale"], false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("freshness-check: error: "), "{stderr}");
    assert!(
        stderr.contains("is a shallow clone and the history between ci-v0.1.0 and HEAD is cut at"),
        "{stderr}"
    );
    // with the full history the same run counts correctly
    git(&shallow, &["fetch", "-q", "--unshallow"]);
    let doc = run_ok(
        fresh(&shallow).args(["--pinned", "ci-v0.1.0", "--path", "other.txt"]),
        0,
    );
    assert_eq!(
        (doc["commitsAhead"].as_u64(), doc["shallow"].as_bool()),
        (Some(1), Some(false))
    );
}

#[test]
fn a_pin_newer_than_head_is_skipped_not_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = private_repo(tmp.path());
    let out = fresh(&repo)
        .args(["--pinned", "main", "--head", "ci-v0.1.0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc = json_out(&out);
    assert_eq!(doc["status"], "skipped_negative_gap");
    assert_eq!(doc["gapDays"], -19);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("freshness-check: warning: the pinned commit is newer than ci-v0.1.0")
    );
}

#[test]
fn paths_from_a_manifest_through_jq() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = private_repo(tmp.path());
    let manifest = tmp.path().join("ci-manifest.yaml");
    std::fs::write(
        &manifest,
        "shared:\n  imports_from_private:\n    skills: [git, git]\n    agents: [ops]\n\
         overlays:\n  review:\n    imports_from_private:\n      agents: [ops, debugger]\n",
    )
    .unwrap();
    let query = "[.shared.imports_from_private, .overlays[].imports_from_private] | map((.skills[]? | \"skills/\\(.)/\"), (.agents[]? | \"agents/\\(.).md\"), (.claude_md // \"CLAUDE.md\"))";
    let doc = run_ok(
        fresh(&repo)
            .args(["--pinned", "ci-v0.1.0", "--paths-from"])
            .arg(&manifest)
            .args(["--paths-query", query]),
        0,
    );
    assert_eq!(
        doc["paths"],
        serde_json::json!([
            "CLAUDE.md",
            "agents/debugger.md",
            "agents/ops.md",
            "skills/git/"
        ])
    );
    assert_eq!(doc["commitsAhead"], 2);
}

#[test]
fn failures_name_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = private_repo(tmp.path());
    let d = tmp.path();
    let mut c = fresh(&d.join("nope"));
    c.args(["--pinned", "x"]);
    assert_refused(d, c, TOOL, 2, "repository_invalid", "not a git repository");
    let mut c = fresh(&repo);
    c.args(["--pinned", "ci-v9.9.9"]);
    assert_refused(
        d,
        c,
        TOOL,
        2,
        "ref_not_found",
        "--pinned \"ci-v9.9.9\": no such commit",
    );
    let mut c = fresh(&repo);
    c.args(["--pinned", "ci-v0.1.0", "--path", "../etc"]);
    assert_refused(d, c, TOOL, 2, "argument_invalid", "--path \"../etc\"");
    let mut c = fresh(&repo);
    c.args(["--pinned", "ci-v0.1.0", "--max-gap", "two weeks"]);
    assert_refused(d, c, TOOL, 2, "duration_invalid", "two weeks");
    let manifest = d.join("m.json");
    std::fs::write(&manifest, r#"{"paths": [1]}"#).unwrap();
    let mut c = fresh(&repo);
    c.args(["--pinned", "ci-v0.1.0", "--paths-from"])
        .arg(&manifest)
        .args(["--paths-query", ".paths"]);
    assert_refused(
        d,
        c,
        TOOL,
        2,
        "paths_invalid",
        "--paths-query gave 1, expected path strings",
    );
    let mut c = fresh(&repo);
    c.args(["--pinned", "ci-v0.1.0", "--paths-from"])
        .arg(&manifest);
    assert_refused(d, c, TOOL, 2, "usage", "--paths-query");
    // regression: -i was accepted and ignored
    let mut c = fresh(&repo);
    c.args(["--pinned", "ci-v0.1.0", "-i"]).arg(&manifest);
    assert_refused(
        d,
        c,
        TOOL,
        2,
        "usage",
        "freshness-check reads no input document (-i)",
    );
}

#[test]
fn feeds_the_upstream_freshness_gate() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = private_repo(tmp.path());
    let gate = |report: &[u8]| {
        let out = tool("gate-eval")
            .args(["--preset", "upstream-freshness", "--now", NOW, "--compact"])
            .write_stdin(report.to_vec())
            .output()
            .unwrap();
        let d = json_out(&out);
        (
            d["summary"]["decision"].as_str().unwrap().to_string(),
            d["summary"]["reasonCodes"].clone(),
        )
    };
    let report = |args: &[&str]| fresh(&repo).args(args).output().unwrap().stdout;

    let stale = report(&["--pinned", "ci-v0.1.0", "--path", "skills/"]);
    assert_eq!(
        gate(&stale),
        ("hold".into(), serde_json::json!(["upstream_pin_stale"]))
    );
    // within the allowed gap, or no commit on the paths: promote
    let within = report(&[
        "--pinned",
        "ci-v0.1.0",
        "--path",
        "skills/",
        "--max-gap",
        "30d",
    ]);
    assert_eq!(gate(&within).0, "promote");
    let untouched = report(&["--pinned", "ci-v0.1.0", "--path", "docs/"]);
    assert_eq!(gate(&untouched).0, "promote");
    // a pin newer than head is not stale
    let newer = report(&["--pinned", "HEAD", "--head", "ci-v0.1.0"]);
    assert_eq!(gate(&newer).0, "promote");

    // a shallow clone cannot conclude: the gate holds instead of reading "0 behind"
    let cut = fresh(&shallow_clone(&repo, tmp.path()))
        .args(["--pinned", "ci-v0.1.0"])
        .output()
        .unwrap()
        .stdout;
    assert_eq!(
        gate(&cut),
        (
            "hold".into(),
            serde_json::json!(["freshness_history_incomplete"])
        )
    );
}

#[test]
fn tokens_in_a_query_string_or_an_scp_like_origin_never_show() {
    for (origin, shown) in [
        (
            "https://github.com/glitchwerks/claude-configs.git?access_token=canary-q-s3cret",
            "https://github.com/glitchwerks/claude-configs.git?access_token=***",
        ),
        (
            "deploy:canary-scp-s3cret@git.example.com:ops/claude-configs.git",
            "git.example.com:ops/claude-configs",
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let repo = private_repo(tmp.path());
        git(&repo, &["remote", "add", "origin", origin]);
        let out = fresh(&repo)
            .args(["--pinned", "ci-v0.1.0", "--path", "CLAUDE.md"])
            .output()
            .unwrap();
        for stream in [&out.stdout, &out.stderr] {
            assert!(
                !String::from_utf8_lossy(stream).contains("canary-"),
                "{origin}: leaked"
            );
        }
        let doc = json_out(&out);
        assert!(doc["title"].as_str().unwrap().ends_with(shown), "{doc}");
        assert!(doc["dedupeKey"].as_str().unwrap().contains(shown), "{doc}");
    }
}

/// The counts agree with `git rev-list --count PIN..HEAD -- PATHS` for literal paths,
/// directories, globs and no path, across an exec-bit change, a deletion, a rename, a
/// merge that brings a change in and one that changes nothing on the paths, and more
/// commits than a report lists; the listed commits still name their paths.
#[test]
fn counts_agree_with_git_rev_list_on_literal_glob_and_whole_tree_paths() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("repo");
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    commit(&dir, "2026-10-01T00:00:00Z", "apps/web/deploy.yaml", "seed");
    commit(
        &dir,
        "2026-10-01T00:00:00Z",
        "apps/api/deploy.yaml",
        "seed api",
    );
    git(&dir, &["tag", "pin"]);
    for i in 0..40 {
        let file = [
            "apps/web/deploy.yaml",
            "apps/api/deploy.yaml",
            "base/ns.yaml",
        ][i % 3];
        commit(&dir, "2026-10-02T00:00:00Z", file, &format!("c{i}"));
    }
    let ci = |args: &[&str]| {
        git(
            &dir,
            &[
                &["-c", "user.name=t", "-c", "user.email=t@example.invalid"][..],
                args,
            ]
            .concat(),
        )
    };
    // the exec bit alone, a deletion, a rename
    git(
        &dir,
        &["update-index", "--chmod=+x", "apps/web/deploy.yaml"],
    );
    ci(&["commit", "-qm", "mode"]);
    git(&dir, &["rm", "-q", "base/ns.yaml"]);
    ci(&["commit", "-qm", "delete"]);
    git(&dir, &["mv", "apps/api/deploy.yaml", "apps/api/app.yaml"]);
    ci(&["commit", "-qm", "rename"]);
    // a side branch changing web, merged; and a merge that changes nothing on the paths
    git(&dir, &["checkout", "-q", "-b", "side"]);
    commit(
        &dir,
        "2026-10-03T00:00:00Z",
        "apps/web/extra.yaml",
        "side web",
    );
    git(&dir, &["checkout", "-q", "main"]);
    commit(&dir, "2026-10-03T00:00:00Z", "docs/readme.md", "docs");
    ci(&["merge", "-q", "--no-ff", "-m", "merge side", "side"]);
    git(&dir, &["checkout", "-q", "-b", "noop"]);
    commit(&dir, "2026-10-04T00:00:00Z", "docs/more.md", "docs more");
    git(&dir, &["checkout", "-q", "main"]);
    ci(&["merge", "-q", "--no-ff", "-m", "merge noop", "noop"]);

    for spec in [
        &["apps/web"][..],
        &["apps/web/"],
        &["apps/web/deploy.yaml"],
        &["apps/api", "base"],
        &["apps/*/deploy.yaml"],
        &["missing/path"],
        &[],
    ] {
        let mut args = vec!["rev-list", "--count", "pin..main", "--"];
        args.extend(spec);
        let expected: usize = git(&dir, &args).trim().parse().unwrap();
        let mut cmd = fresh(&dir);
        cmd.args(["--pinned", "pin", "--head", "main", "--max-gap", "1000d"]);
        for p in spec {
            cmd.args(["--path", p]);
        }
        let doc = run_ok(&mut cmd, 0);
        assert_eq!(doc["commitsAhead"], expected, "{spec:?}");
        // a listed commit names the watched paths it changes (with none watched, a merge
        // that is one parent's tree names none)
        let listed = doc["commits"].as_array().unwrap();
        assert_eq!(listed.len(), expected.min(30), "{spec:?}");
        if !spec.is_empty() {
            for c in listed {
                assert!(!c["paths"].as_array().unwrap().is_empty(), "{spec:?}: {c}");
            }
        }
    }
}
