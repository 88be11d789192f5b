//! tag-bump against real repositories: local bare remotes, and a loopback HTTPS smart-HTTP
//! server (`tests/support/git_https_server.py`: git http-backend behind TLS with a
//! self-signed certificate and Basic auth, hooks running as on a forge).

use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

use crate::common::{
    NOW, assert_refused, change_tree_before_write, git, json_out, tool, wait_for_port,
};

const TOKEN: &str = "tok-canary-5d1c9e7a";

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let p = entry.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// A "flux" repository: a bare remote seeded with examples/flux, and a working clone.
pub(crate) struct Flux {
    dir: TempDir,
}

impl Flux {
    pub(crate) fn new() -> Flux {
        let dir = tempfile::tempdir().unwrap();
        let seed = dir.path().join("seed");
        copy_tree(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/flux"),
            &seed,
        );
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/bump/gnarly-kustomization.yaml"),
            seed.join("apps/gnarly.yaml"),
        )
        .unwrap();
        git(&seed, &["init", "-q", "-b", "main"]);
        git(&seed, &["add", "-A"]);
        git(&seed, &["commit", "-qm", "seed"]);
        git(dir.path(), &["clone", "-q", "--bare", "seed", "remote.git"]);
        git(dir.path(), &["clone", "-q", "remote.git", "work"]);
        Flux { dir }
    }

    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    pub(crate) fn remote(&self) -> PathBuf {
        self.dir.path().join("remote.git")
    }

    fn clone_as(&self, name: &str) -> PathBuf {
        git(self.dir.path(), &["clone", "-q", "remote.git", name]);
        self.dir.path().join(name)
    }

    pub(crate) fn remote_log(&self) -> Vec<String> {
        git(&self.remote(), &["log", "--format=%H %P|%s", "main"])
            .lines()
            .map(str::to_string)
            .collect()
    }

    pub(crate) fn remote_file(&self, path: &str) -> String {
        git(&self.remote(), &["show", &format!("main:{path}")])
    }

    /// tag-bump in the working clone, with no credentials in the environment.
    fn bump(&self, args: &[&str]) -> Command {
        self.bump_in(&self.work(), args)
    }

    /// tag-bump in another clone of the remote.
    fn bump_in(&self, repo: &Path, args: &[&str]) -> Command {
        let mut cmd = self.bump_clone(args);
        cmd.args(["--repo", repo.to_str().unwrap()]);
        cmd
    }

    /// tag-bump with no working copy named (for --clone).
    fn bump_clone(&self, args: &[&str]) -> Command {
        let mut cmd = tool("tag-bump");
        cmd.arg("--compact")
            .args(args)
            .env("ROLLOUT_NOW", NOW)
            .env("HOME", self.dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1");
        for v in [
            "GIT_TOKEN",
            "GITHUB_TOKEN",
            "GIT_USER",
            "GIT_SSL_NO_VERIFY",
            "SSL_CERT_FILE",
        ] {
            cmd.env_remove(v);
        }
        cmd
    }
}

fn ok(mut cmd: Command) -> (Value, String) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        json_out(&out),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_first_bump_commits_only_the_tag_and_pushes() {
    let f = Flux::new();
    let before =
        std::fs::read_to_string(f.work().join("apps/backend-services/kustomization.yaml")).unwrap();
    let (r, stderr) = ok(f.bump(&[
        "--service",
        "papi",
        "--pr",
        "42",
        "--sha",
        "A1B2C3D4E5F60718",
        "--push",
    ]));
    assert_eq!(r["kind"], "bump-report");
    assert_eq!(r["changed"], true);
    assert_eq!(r["servicesAffected"], serde_json::json!(["papi", "worker"]));
    let e = &r["edits"][0];
    assert_eq!(e["file"], "apps/backend-services/kustomization.yaml");
    assert_eq!(e["imageGroup"], "backend-services");
    assert_eq!(
        (e["oldTag"].as_str(), e["newTag"].as_str()),
        (Some("pr-41-0a1b2c3"), Some("pr-42-a1b2c3d"))
    );
    assert_eq!(
        r["commit"]["message"],
        "chore(backend-services): update image tag to pr-42-a1b2c3d"
    );
    assert_eq!(r["commit"]["author"], "tag-bump <tag-bump@localhost>");
    assert_eq!(
        r["push"],
        serde_json::json!({"remote": "origin", "ref": "refs/heads/main", "attempts": 1, "pushed": true})
    );
    assert!(
        stderr.contains("✓ Updated backend-services to pr-42-a1b2c3d"),
        "{stderr}"
    );
    assert!(stderr.contains("flux reconcile"), "{stderr}");
    // The remote has exactly one new commit, whose only change is the tag.
    let log = f.remote_log();
    assert_eq!(log.len(), 2);
    assert!(log[0].starts_with(r["commit"]["sha"].as_str().unwrap()));
    assert_eq!(
        f.remote_file("apps/backend-services/kustomization.yaml"),
        before.replace("pr-41-0a1b2c3", "pr-42-a1b2c3d")
    );
    let changed = git(&f.remote(), &["diff", "--name-only", "main~1", "main"]);
    assert_eq!(changed, "apps/backend-services/kustomization.yaml\n");
    assert_eq!(git(&f.work(), &["status", "--porcelain"]), "");
}

#[test]
fn a_directory_swapped_for_a_symlink_before_the_write_is_not_followed() {
    let f = Flux::new();
    let outside = tempfile::tempdir().unwrap();
    let decoy = outside.path().join("kustomization.yaml");
    let real = f.work().join("apps/backend-services");
    std::fs::copy(real.join("kustomization.yaml"), &decoy).unwrap();
    let decoy_before = std::fs::read(&decoy).unwrap();
    let head = git(&f.work(), &["rev-parse", "HEAD"]);
    let cmd = f.bump(&[
        "--service",
        "papi",
        "--tag",
        "v9",
        "--commit",
        "--json-errors",
    ]);
    let out = change_tree_before_write(cmd, "TAG_BUMP_FAULT", || {
        std::fs::rename(&real, outside.path().join("moved")).unwrap();
        std::os::unix::fs::symlink(outside.path(), &real).unwrap();
    });
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_out(&out)["reasonCode"], "file_changed");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is now a symbolic link"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&decoy).unwrap(), decoy_before);
    assert_eq!(
        git(&f.work(), &["rev-parse", "HEAD"]),
        head,
        "nothing committed"
    );
}

#[test]
fn names_and_values_with_newlines_cannot_write_workflow_commands() {
    let f = Flux::new();
    let name = "evil\n::warning::pwned.yaml";
    std::fs::write(
        f.work().join(name),
        "images:\n  - name: web\n    newTag: \"v1\\n::add-mask::secret\"\n",
    )
    .unwrap();
    let out = f
        .bump(&["--file", name, "--image", "web", "--tag", "v9"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.lines().all(|l| !l.trim_start().starts_with("::")),
        "a line a runner would obey: {stderr}"
    );
    assert!(
        stderr.contains("in evil\\n::warning::pwned.yaml")
            && stderr.contains("(was v1\\n::add-mask::secret)"),
        "{stderr}"
    );
}

#[test]
fn a_second_run_is_a_no_op() {
    let f = Flux::new();
    ok(f.bump(&["--service", "papi", "--tag", "v2", "--push"]));
    let log = f.remote_log();
    let (r, stderr) = ok(f.bump(&["--service", "worker", "--tag", "v2", "--push"]));
    assert_eq!(r["changed"], false);
    assert_eq!(r["edits"][0]["changed"], false);
    assert_eq!(r["commit"], Value::Null);
    assert_eq!(r["push"]["pushed"], false);
    assert_eq!(r["push"]["attempts"], 0);
    assert!(stderr.contains("already at v2"), "{stderr}");
    assert_eq!(f.remote_log(), log);
}

#[test]
fn expect_current_is_a_compare_and_swap() {
    let f = Flux::new();
    let mut cmd = f.bump(&[
        "--service",
        "papi",
        "--tag",
        "v2",
        "--expect-current",
        "pr-40-0000000",
        "--push",
    ]);
    cmd.current_dir(f.work());
    assert_refused(
        &f.work(),
        cmd,
        "tag-bump",
        3,
        "current_tag_mismatch",
        "current tag of backend-services is \"pr-41-0a1b2c3\", not pr-40-0000000",
    );
    assert_eq!(f.remote_log().len(), 1);
    let (r, _) = ok(f.bump(&[
        "--service",
        "papi",
        "--tag",
        "v2",
        "--expect-current",
        "pr-41-0a1b2c3",
        "--commit",
    ]));
    assert_eq!(r["changed"], true);
    assert_eq!(r["push"], Value::Null);
}

#[test]
fn create_inserts_the_entry_in_the_files_own_indentation() {
    let f = Flux::new();
    let args = [
        "--file",
        "apps/web/kustomization.yaml",
        "--image",
        "api-gateway",
        "--tag",
        "3.1",
    ];
    assert_refused(
        &f.work(),
        f.bump(&args),
        "tag-bump",
        3,
        "image_entry_not_found",
        "images entry with name \"api-gateway\" not found",
    );
    let before = std::fs::read_to_string(f.work().join("apps/web/kustomization.yaml")).unwrap();
    let (r, _) = ok(f.bump(&[&args[..], &["--create", "--commit"]].concat()));
    assert_eq!(r["edits"][0]["created"], true);
    assert_eq!(r["edits"][0]["oldTag"], Value::Null);
    assert_eq!(r["edits"][0]["imageGroup"], Value::Null);
    assert_eq!(
        r["commit"]["message"],
        "chore(api-gateway): update image tag to 3.1"
    );
    let after = std::fs::read_to_string(f.work().join("apps/web/kustomization.yaml")).unwrap();
    assert_eq!(
        after,
        format!("{before}    -   name: api-gateway\n        newTag: \"3.1\"\n")
    );
}

#[test]
fn yaml_path_and_flux_setter_groups() {
    let f = Flux::new();
    let d = format!("sha256:{}", "ab".repeat(32));
    let (r, _) = ok(f.bump(&[
        "--service",
        "api",
        "--tag",
        "1.5.0",
        "--digest",
        &d.to_uppercase().replace("SHA256", "sha256"),
        "--service",
        "app",
        "--push",
    ]));
    // Two groups, one commit.
    assert_eq!(r["edits"].as_array().unwrap().len(), 2);
    assert_eq!(f.remote_log().len(), 2);
    assert_eq!(
        r["commit"]["message"],
        "chore(api, app): update image tag to 1.5.0"
    );
    assert_eq!(r["edits"][0]["type"], "yaml-path");
    assert_eq!(r["edits"][0]["newDigest"], d);
    let rel = f.remote_file("apps/api/helmrelease.yaml");
    assert!(rel.contains(&format!("      tag: \"1.5.0\" # the chart's appVersion is ignored\n      pullPolicy: IfNotPresent\n      digest: {d}\n")), "{rel}");
    let dep = f.remote_file("apps/app/deployment.yaml");
    assert_eq!(
        dep.matches(&format!(
            "ghcr.io/acme/app:1.5.0@{d} # {{\"$imagepolicy\": \"flux-system:app\"}}"
        ))
        .count(),
        2,
        "{dep}"
    );
    assert!(dep.contains("envoyproxy/envoy:v1.31.0"), "{dep}");
}

#[test]
fn a_gnarly_kustomization_keeps_every_other_byte() {
    let f = Flux::new();
    let path = f.work().join("apps/gnarly.yaml");
    let before = std::fs::read(&path).unwrap();
    for (image, tag) in [
        ("backend-services", "pr-42-a1b2c3d"),
        ("web", "16"),
        ("worker", "it's"),
        ("legacy", "true"),
    ] {
        ok(f.bump(&[
            "--file",
            "apps/gnarly.yaml",
            "--image",
            image,
            "--tag",
            &tag.replace('\'', ""),
        ]));
    }
    let after = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
    let expected = String::from_utf8(before)
        .unwrap()
        .replace("newTag: pr-41-0a1b2c3    #", "newTag: pr-42-a1b2c3d    #")
        .replace("newTag: 1.25,", "newTag: \"16\",")
        .replace("newTag: 'v1.2.3'", "newTag: 'its'")
        .replace("newTag: \"0x1F\"", "newTag: \"true\"");
    assert_eq!(after, expected);
    assert!(
        after.starts_with('\u{feff}')
            && after.matches("\r\n").count() == after.matches('\n').count()
    );
}

#[test]
fn the_replaced_procedures_errors_exit_3_with_a_fix() {
    let f = Flux::new();
    let w = f.work();
    assert_refused(
        &w,
        f.bump(&["--service", "nope", "--tag", "v2"]),
        "tag-bump",
        3,
        "service_unknown",
        "service \"nope\" is not in services.json",
    );
    assert_refused(
        &w,
        f.bump(&["--service", "legacy-batch", "--tag", "v2"]),
        "tag-bump",
        3,
        "service_without_image_group",
        "has no imageGroup",
    );
    assert_refused(
        &w,
        f.bump(&[
            "--file",
            "../remote.git/config",
            "--image",
            "x",
            "--tag",
            "v2",
        ]),
        "tag-bump",
        3,
        "path_outside_root",
        "outside the root",
    );
    std::os::unix::fs::symlink(f.remote().join("config"), w.join("out-link.yaml")).unwrap();
    assert_refused(
        &w,
        f.bump(&["--file", "out-link.yaml", "--image", "x", "--tag", "v2"]),
        "tag-bump",
        3,
        "path_outside_root",
        "outside the root",
    );
    assert_refused(
        &w,
        f.bump(&["--file", "apps/missing.yaml", "--image", "x", "--tag", "v2"]),
        "tag-bump",
        3,
        "file_missing",
        "apps/missing.yaml",
    );
    let d = format!("sha256:{}", "1".repeat(64));
    std::fs::write(
        w.join("pinned.yaml"),
        format!("images:\n- name: x\n  newTag: v1\n  digest: {d}\n"),
    )
    .unwrap();
    assert_refused(
        &w,
        f.bump(&["--file", "pinned.yaml", "--image", "x", "--tag", "v2"]),
        "tag-bump",
        3,
        "digest_shadows_tag",
        "which wins over the tag",
    );
    let out = f
        .bump(&["--service", "nope", "--tag", "v2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("hint: add the service under \"services\" in services.json (it has: papi, worker, web, api, app, legacy-batch)"), "{stderr}");
}

#[test]
fn bad_values_exit_2_naming_the_rule() {
    let f = Flux::new();
    let w = f.work();
    for (args, message) in [
        (vec!["--tag=-bad"], "OCI tag grammar"),
        (vec!["--tag", "a/b"], "not allowed in a tag"),
        (vec!["--pr", "0", "--sha", "abcdef0"], "positive integer"),
        (vec!["--pr", "42", "--sha", "abc12"], "7 to 64 hexadecimal"),
        (
            vec!["--tag", "v1", "--tag-pattern", "pr-[0-9]+-[0-9a-f]{7}"],
            "does not match --tag-pattern",
        ),
        // regression: the regex crate's multi-line explanation broke the one-line error
        (
            vec!["--tag", "v1", "--tag-pattern", "pr-(["],
            "--tag-pattern \"pr-([\": invalid regex: unclosed character class",
        ),
        (
            vec!["--tag", "v1", "--digest", "sha256:abc"],
            "a digest is sha256:<64 hex>",
        ),
        (
            vec!["--tag", "v1", "--message", "bump {nope}"],
            "unknown variable {nope}",
        ),
        (vec!["--tag", "v1", "--author", "no email"], "Name <email>"),
    ] {
        assert_refused(
            &w,
            f.bump(&[&["--service", "papi"], &args[..]].concat()),
            "tag-bump",
            2,
            "argument_invalid",
            message,
        );
    }
    // -i is a sets document, which names the services and tags itself
    assert_refused(
        &w,
        f.bump(&["--service", "papi", "--tag", "v1", "-i", "values.json"]),
        "tag-bump",
        2,
        "usage",
        "cannot be used with",
    );
}

#[test]
fn dry_run_shows_the_diff_and_writes_nothing() {
    let f = Flux::new();
    let before = crate::common::snapshot(&f.work());
    let (r, _) = ok(f.bump(&[
        "--service",
        "web",
        "--tag",
        "2026.11.2",
        "--dry-run",
        "--diff",
    ]));
    assert_eq!(r["dryRun"], true);
    assert_eq!(r["changed"], true);
    assert_eq!(r["commit"], Value::Null);
    let diff = r["diff"].as_str().unwrap();
    assert!(
        diff.contains("-        newTag: '2026.11.1'\n+        newTag: '2026.11.2'\n"),
        "{diff}"
    );
    assert_eq!(crate::common::snapshot(&f.work()), before);
}

#[test]
fn sync_discards_local_drift_and_the_template_is_filled() {
    let f = Flux::new();
    let other = f.clone_as("other");
    ok(f.bump_in(&other, &["--service", "web", "--tag", "w2", "--push"]));
    std::fs::write(f.work().join("apps/web/kustomization.yaml"), "garbage: [\n").unwrap();
    let (r, _) = ok(f.bump(&[
        "--service",
        "papi",
        "--tag",
        "v9",
        "--sync",
        "--push",
        "--message",
        "deploy {services}: {oldTag} -> {tag} ({image}, asked {service}) {{ci}}",
        "--author",
        "Release Bot <bot@example.invalid>",
    ]));
    assert_eq!(
        r["commit"]["message"],
        "deploy papi, worker: pr-41-0a1b2c3 -> v9 (backend-services, asked papi) {ci}"
    );
    assert_eq!(r["commit"]["author"], "Release Bot <bot@example.invalid>");
    let log = f.remote_log();
    assert_eq!(log.len(), 3);
    assert!(
        f.remote_file("apps/web/kustomization.yaml")
            .contains("newTag: 'w2'")
    );
    let author = git(
        &f.remote(),
        &["log", "-1", "--format=%an <%ae> %at", "main"],
    );
    assert_eq!(
        author.trim(),
        "Release Bot <bot@example.invalid> 1795248000"
    );
}

/// Two tag-bumps of different services race into one remote, many times: every bump lands
/// and the history stays linear (each commit has one parent).
#[test]
fn racing_bumps_both_land_with_linear_history() {
    let f = Flux::new();
    let a = f.clone_as("a");
    let b = f.clone_as("b");
    let rounds = 4;
    for round in 0..rounds {
        let spawn = |dir: &Path, service: &str| {
            StdCommand::new(crate::common::bin_path("tag-bump"))
                .args([
                    "--repo",
                    dir.to_str().unwrap(),
                    "--service",
                    service,
                    "--tag",
                    &format!("r{round}"),
                    "--push",
                    "--compact",
                ])
                .env("ROLLOUT_NOW", NOW)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (pa, pb) = (spawn(&a, "papi"), spawn(&b, "web"));
        for p in [pa, pb] {
            let out = p.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let log = f.remote_log();
    assert_eq!(log.len(), 1 + 2 * rounds);
    for line in &log[..log.len() - 1] {
        let parents = line.split('|').next().unwrap().split(' ').count() - 1;
        assert_eq!(parents, 1, "merge commit in {log:?}");
    }
    assert!(
        f.remote_file("apps/backend-services/kustomization.yaml")
            .contains("newTag: r3 #")
    );
    assert!(
        f.remote_file("apps/web/kustomization.yaml")
            .contains("newTag: 'r3'")
    );
}

#[test]
fn push_retries_are_bounded() {
    let f = Flux::new();
    // Another run pushed first and this clone is not synced: with no retries allowed, the
    // non-fast-forward push is the end (exit 4), and the local commit is named.
    let other = f.clone_as("other");
    ok(f.bump_in(&other, &["--service", "web", "--tag", "w2", "--push"]));
    let out = f
        .bump(&[
            "--service",
            "papi",
            "--tag",
            "v3",
            "--push",
            "--push-retries",
            "0",
            "--json-errors",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json_out(&out);
    assert_eq!(doc["reasonCode"], "push_retries_exhausted");
    assert!(
        doc["message"].as_str().unwrap().contains("not pushed"),
        "{doc}"
    );
    // With retries (the default) the same situation lands.
    let (r, _) = ok(f.bump(&["--service", "papi", "--tag", "v3", "--push"]));
    assert_eq!(r["push"]["pushed"], true);
}

/// Retries end at `--push-timeout`, not at a count: a remote whose branch moves on every
/// push (a hook that commits on top, as a busy fleet would) is retried until the time is
/// up, then exit 4 names the attempts and the time; nothing lands.
#[test]
fn lost_races_are_retried_until_the_push_timeout() {
    let f = Flux::new();
    let server = Server::start(&f.remote());
    // Out of the quarantine a pre-receive hook runs in, the hook moves main, so the ref
    // update of this very push finds main moved: a lost race, every time.
    server.hook(
        "#!/bin/sh\n\
         unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES\n\
         tip=$(git rev-parse refs/heads/main)\n\
         new=$(git -c user.name=racer -c user.email=racer@example.com commit-tree -p \"$tip\" -m racer \"$tip^{tree}\")\n\
         git update-ref refs/heads/main \"$new\" \"$tip\"\n",
    );
    let scratch = tempfile::tempdir().unwrap();
    // 5s: the first pause is drawn from twice one try's length, so even a slow machine's
    // tries leave room for a second attempt before the time is up
    let started = std::time::Instant::now();
    let out = over_https(
        &server,
        &scratch.path().join("clone"),
        &[
            "--service",
            "papi",
            "--tag",
            "t1",
            "--push",
            "--push-timeout",
            "5s",
            "--json-errors",
        ],
    )
    .env("GIT_TOKEN", TOKEN)
    .env("SSL_CERT_FILE", server.cert())
    .output()
    .unwrap();
    let took = started.elapsed();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json_out(&out);
    assert_eq!(doc["reasonCode"], "push_retries_exhausted");
    let message = doc["message"].as_str().unwrap();
    let attempts: u32 = message
        .split(" attempts in ")
        .next()
        .and_then(|m| m.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{message}"));
    assert!(attempts >= 2, "retried within the time: {message}");
    assert!(
        took >= std::time::Duration::from_secs(1),
        "{took:?}: {message}"
    );
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
    assert!(!server.log().contains("t1"), "nothing landed");
    // the flag's bounds
    for bad in ["500ms", "2h", "soon"] {
        let out = over_https(
            &server,
            &scratch.path().join("c2"),
            &["--service", "papi", "--tag", "t2", "--push-timeout", bad],
        )
        .output()
        .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
    }
}

/// The loopback HTTPS git server, stopped when dropped.
struct Server {
    child: Child,
    state: TempDir,
    root: TempDir,
    port: u16,
}

impl Server {
    fn start(seed_remote: &Path) -> Server {
        let root = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        git(
            root.path(),
            &[
                "clone",
                "-q",
                "--bare",
                seed_remote.to_str().unwrap(),
                "flux.git",
            ],
        );
        let child = StdCommand::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/git_https_server.py"))
            .args([
                "--root",
                root.path().to_str().unwrap(),
                "--state",
                state.path().to_str().unwrap(),
                "--token",
                TOKEN,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the test git server");
        let port = wait_for_port(state.path(), "the git server");
        Server {
            child,
            state,
            root,
            port,
        }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/flux.git", self.port)
    }

    fn cert(&self) -> PathBuf {
        self.state.path().join("cert.pem")
    }

    fn hook(&self, script: &str) {
        let hook = self.root.path().join("flux.git/hooks/pre-receive");
        std::fs::write(&hook, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn log(&self) -> String {
        git(
            &self.root.path().join("flux.git"),
            &["log", "--format=%s", "main"],
        )
    }

    /// How many requests the server has answered with 200 whose line contains `what` (a
    /// request first answered 401, for credentials, is not counted twice).
    fn requests(&self, what: &str) -> usize {
        std::fs::read_to_string(self.state.path().join("access.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(what) && l.contains("\" 200 "))
            .count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn over_https(server: &Server, workdir: &Path, extra: &[&str]) -> Command {
    let mut cmd = tool("tag-bump");
    cmd.args([
        "--clone",
        &server.url(),
        "--workdir",
        workdir.to_str().unwrap(),
        "--compact",
    ])
    .args(extra)
    .env("ROLLOUT_NOW", NOW)
    .env("HOME", workdir.parent().unwrap())
    .env("GIT_CONFIG_NOSYSTEM", "1");
    for v in [
        "GIT_TOKEN",
        "GITHUB_TOKEN",
        "GIT_USER",
        "GIT_SSL_NO_VERIFY",
        "SSL_CERT_FILE",
    ] {
        cmd.env_remove(v);
    }
    cmd
}

fn never_shows_the_token(out: &std::process::Output) {
    for stream in [&out.stdout, &out.stderr] {
        assert!(
            !String::from_utf8_lossy(stream).contains(TOKEN),
            "token leaked"
        );
    }
}

/// The test forge serves connections side by side: a client that connects and never
/// starts TLS (or a burst of a hundred fleet jobs) does not hold the others back. With the
/// handshake made in the accept loop this clone waited for the silent clients forever.
#[test]
fn the_https_server_serves_past_clients_that_never_speak() {
    let f = Flux::new();
    let server = Server::start(&f.remote());
    let silent: Vec<std::net::TcpStream> = (0..8)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap())
        .collect();
    let scratch = tempfile::tempdir().unwrap();
    let mut cmd = over_https(
        &server,
        &scratch.path().join("clone"),
        &["--service", "papi", "--tag", "s1", "--timeout", "20s"],
    );
    cmd.env("GIT_TOKEN", TOKEN)
        .env("SSL_CERT_FILE", server.cert());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(silent);
}

#[test]
fn https_tls_tokens_and_hooks() {
    let f = Flux::new();
    let server = Server::start(&f.remote());
    let scratch = tempfile::tempdir().unwrap();
    let wd = scratch.path().join("clone");
    let bump = [
        "--service",
        "papi",
        "--tag",
        "h1",
        "--push",
        "--json-errors",
    ];

    // TLS is verified: a self-signed certificate fails without --insecure (exit 5).
    let mut cmd = over_https(&server, &wd, &bump);
    cmd.env("GIT_TOKEN", TOKEN);
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_out(&out)["reasonCode"], "tls_verification_failed");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--insecure"));
    assert!(!wd.exists(), "a failed clone leaves no directory");

    // A wrong token: authentication fails after a bounded number of tries (exit 5).
    let mut cmd = over_https(&server, &wd, &[&bump[..], &["--insecure"]].concat());
    cmd.env("GIT_TOKEN", "wrong-token-value");
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(5));
    let doc = json_out(&out);
    assert_eq!(doc["reasonCode"], "authentication_failed");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("wrong-token-value"));

    // The right token, and the server's CA through SSL_CERT_FILE: pushed, no warning.
    let mut cmd = over_https(&server, &wd, &bump);
    cmd.env("GITHUB_TOKEN", TOKEN)
        .env("SSL_CERT_FILE", server.cert());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    never_shows_the_token(&out);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
    assert_eq!(json_out(&out)["push"]["pushed"], true);
    assert!(
        server
            .log()
            .starts_with("chore(backend-services): update image tag to h1\n")
    );
    let config = std::fs::read_to_string(wd.join(".git/config")).unwrap();
    assert!(!config.contains(TOKEN));

    // GIT_SSL_NO_VERIFY turns verification off, with a warning; the clone is reused.
    let mut cmd = over_https(&server, &wd, &["--service", "web", "--tag", "h2", "--push"]);
    cmd.env("GIT_TOKEN", TOKEN).env("GIT_SSL_NO_VERIFY", "true");
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("tag-bump: warning: TLS certificate verification is off (GIT_SSL_NO_VERIFY)")
    );
    never_shows_the_token(&out);

    // A pre-receive hook refuses: exit 4 with the server's message.
    server.hook("#!/bin/sh\necho 'policy: main is frozen for the release' >&2\nexit 1\n");
    let mut cmd = over_https(
        &server,
        &wd,
        &[
            "--service",
            "papi",
            "--tag",
            "h3",
            "--push",
            "--insecure",
            "--json-errors",
        ],
    );
    cmd.env("GIT_TOKEN", TOKEN);
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    never_shows_the_token(&out);
    let doc = json_out(&out);
    assert_eq!(doc["reasonCode"], "push_rejected");
    let m = doc["message"].as_str().unwrap();
    assert!(
        m.contains("pre-receive hook declined")
            && m.contains("policy: main is frozen for the release"),
        "{m}"
    );
    assert!(!server.log().contains("h3"));
}

/// A clone made by the run has the remote's tip: it is not fetched a second time (a round
/// trip every fleet job paid while all of them cloned at once). A reused --workdir is synced.
#[test]
fn a_fresh_workdir_clone_is_fetched_once_and_a_reused_one_is_synced() {
    let f = Flux::new();
    let server = Server::start(&f.remote());
    let scratch = tempfile::tempdir().unwrap();
    let wd = scratch.path().join("wd");
    let run = |tag: &str| {
        let out = over_https(
            &server,
            &wd,
            &[
                "--branch",
                "main",
                "--service",
                "papi",
                "--tag",
                tag,
                "--push",
            ],
        )
        .env("GITHUB_TOKEN", TOKEN)
        .env("SSL_CERT_FILE", server.cert())
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let listings = "info/refs?service=git-upload-pack";
    run("f1");
    assert_eq!(server.requests(listings), 1, "one fetch: the clone's");
    assert_eq!(server.requests("info/refs?service=git-receive-pack"), 1);
    // someone else pushes; the reused working copy is synced before the edit
    let other = scratch.path().join("other");
    git(
        scratch.path(),
        &[
            "clone",
            "-q",
            server.root.path().join("flux.git").to_str().unwrap(),
            "other",
        ],
    );
    git(
        &other,
        &["commit", "-q", "--allow-empty", "-m", "elsewhere"],
    );
    git(&other, &["push", "-q", "origin", "HEAD:main"]);
    run("f2");
    assert_eq!(
        server.requests(listings),
        3,
        "the listing that checks the branch, and the sync's fetch"
    );
    let log = server.log();
    let subjects: Vec<&str> = log.lines().take(3).collect();
    assert!(subjects[0].contains("f2"), "{log}");
    assert_eq!(subjects[1], "elsewhere", "built on the synced tip: {log}");
    assert!(subjects[2].contains("f1"), "{log}");
}

#[test]
fn a_fresh_clone_over_https_is_shallow_and_still_wins_a_lost_race() {
    let f = Flux::new();
    let server = Server::start(&f.remote());
    // History the clone does not need: a second commit on the served repository.
    let scratch = tempfile::tempdir().unwrap();
    let bare = server.root.path().join("flux.git");
    let seed = scratch.path().join("seed");
    git(
        scratch.path(),
        &["clone", "-q", bare.to_str().unwrap(), "seed"],
    );
    git(&seed, &["commit", "-q", "--allow-empty", "-m", "history"]);
    git(&seed, &["push", "-q", "origin", "HEAD:main"]);
    let run = |wd: &Path, tag: &str| {
        let mut cmd = over_https(&server, wd, &["--service", "papi", "--tag", tag, "--push"]);
        cmd.env("GITHUB_TOKEN", TOKEN)
            .env("SSL_CERT_FILE", server.cert());
        cmd
    };
    let (first, second) = (scratch.path().join("a"), scratch.path().join("b"));
    // The first run waits before its write; meanwhile a second one clones and pushes, so
    // the first push is not a fast-forward: fetch, reset, re-apply on the shallow clone.
    let out = change_tree_before_write(run(&first, "s1"), "TAG_BUMP_FAULT", || {
        let out = run(&second, "s2").output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json_out(&out);
    assert_eq!(doc["push"]["pushed"], true);
    assert_eq!(doc["push"]["attempts"], 2, "{doc}");
    for wd in [&first, &second] {
        let shallow = std::fs::read_to_string(wd.join(".git/shallow")).expect("a shallow clone");
        assert_eq!(shallow.lines().count(), 1, "one commit deep: {shallow}");
        let refs = git(wd, &["for-each-ref", "--format=%(refname)", "refs/remotes"]);
        let branches: Vec<&str> = refs.lines().filter(|r| !r.ends_with("/HEAD")).collect();
        assert_eq!(branches, ["refs/remotes/origin/main"], "one branch: {refs}");
    }
    let log = server.log();
    let subjects: Vec<&str> = log.lines().collect();
    assert!(
        subjects[0].contains("s1") && subjects[1].contains("s2"),
        "{log}"
    );
    assert_eq!(subjects[2], "history", "linear history: {log}");
    // A reused --workdir stays shallow and fetches only what is new.
    let out = run(&second, "s3").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(server.log().lines().next().unwrap().contains("s3"));
}

#[test]
fn a_token_in_the_url_is_refused_and_never_printed() {
    let f = Flux::new();
    let scratch = tempfile::tempdir().unwrap();
    let mut cmd = tool("tag-bump");
    cmd.args([
        "--clone",
        &format!("https://bot:{TOKEN}@127.0.0.1:9/flux.git"),
        "--workdir",
    ])
    .arg(scratch.path().join("c"))
    .args(["--service", "papi", "--tag", "v2", "--json-errors"]);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    never_shows_the_token(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("set GIT_TOKEN instead"));
    drop(f);
}

/// Regression: a repository without any remote could not even --commit ("no remote named
/// origin"), because the remote was resolved before it was known to be needed.
#[test]
fn commit_needs_no_remote() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("k.yaml"),
        "images:\n- name: a\n  newTag: v1\n",
    )
    .unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-qm", "init"]);
    let mut cmd = tool("tag-bump");
    cmd.args([
        "--repo",
        dir.path().to_str().unwrap(),
        "--file",
        "k.yaml",
        "--image",
        "a",
    ])
    .args(["--tag", "v2", "--commit", "--compact"])
    .env("ROLLOUT_NOW", NOW)
    .env("HOME", dir.path());
    let (r, _) = ok(cmd);
    assert_eq!(r["push"], Value::Null);
    assert_eq!(
        git(dir.path(), &["log", "-1", "--format=%s"]).trim(),
        "chore(a): update image tag to v2"
    );
}

/// The failures around the configuration and the working copy: each with its exit code,
/// reason code, one error line, and nothing changed.
#[test]
fn a_dot_git_file_must_name_a_git_directory_for_the_lock_to_go_there() {
    let f = Flux::new();
    // a worktree: .git is a file naming the main repository's worktrees/NAME
    git(
        &f.work(),
        &["worktree", "add", "-q", "../tree2", "-b", "side"],
    );
    let tree2 = f.dir.path().join("tree2");
    let (r, _) = ok(f.bump_in(&tree2, &["--service", "web", "--tag", "v7"]));
    assert_eq!(r["changed"], true);
    assert!(
        std::fs::read_dir(f.work().join(".git/worktrees"))
            .unwrap()
            .any(|e| e.unwrap().path().join("tag-bump.lock").exists()),
        "the lock is in the worktree's own git directory"
    );
    // a .git file naming any other directory puts nothing there
    let elsewhere = tempfile::tempdir().unwrap();
    let fake = f.clone_as("fake");
    std::fs::remove_dir_all(fake.join(".git")).unwrap();
    std::fs::write(
        fake.join(".git"),
        format!("gitdir: {}\n", elsewhere.path().display()),
    )
    .unwrap();
    assert_refused(
        &fake,
        f.bump_in(&fake, &["--service", "web", "--tag", "v7"]),
        "tag-bump",
        3,
        "repository_invalid",
        "which is not a git directory",
    );
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

#[test]
fn bad_configuration_and_working_copies_are_refused() {
    let f = Flux::new();
    let w = f.work();
    std::fs::write(w.join("broken.json"), "{\"services\": {\"papi\": {\"imageGroup\": \"g\"}},\n \"imageGroups\": {\"g\": {\"imageName\": \"x\"}}}\n").unwrap();
    let broken = w.join("broken.json");
    assert_refused(
        &w,
        f.bump(&[
            "--service",
            "papi",
            "--services",
            broken.to_str().unwrap(),
            "--tag",
            "v2",
        ]),
        "tag-bump",
        2,
        "services_invalid",
        "imageGroups.g.file is missing",
    );
    let missing = w.join("nope.json");
    assert_refused(
        &w,
        f.bump(&[
            "--service",
            "papi",
            "--services",
            missing.to_str().unwrap(),
            "--tag",
            "v2",
        ]),
        "tag-bump",
        2,
        "services_invalid",
        "no such file",
    );
    std::fs::write(w.join("bad.yaml"), "images: [\n").unwrap();
    assert_refused(
        &w,
        f.bump(&["--file", "bad.yaml", "--image", "x", "--tag", "v2"]),
        "tag-bump",
        2,
        "input_malformed",
        "bad.yaml",
    );
    // Not a working copy, with and without git operations asked for.
    let plain = tempfile::tempdir().unwrap();
    std::fs::write(
        plain.path().join("k.yaml"),
        "images:\n- name: a\n  newTag: v1\n",
    )
    .unwrap();
    for extra in [&[][..], &["--commit"][..]] {
        let mut cmd = f.bump_in(
            plain.path(),
            &[
                &["--file", "k.yaml", "--image", "a", "--tag", "v2"][..],
                extra,
            ]
            .concat(),
        );
        cmd.current_dir(plain.path());
        assert_refused(
            plain.path(),
            cmd,
            "tag-bump",
            3,
            "repository_invalid",
            "git",
        );
    }
    // --workdir that holds something else is not cloned over.
    std::fs::write(plain.path().join("keep.txt"), "mine\n").unwrap();
    let mut cmd = tool("tag-bump");
    cmd.args([
        "--clone",
        f.remote().to_str().unwrap(),
        "--workdir",
        plain.path().to_str().unwrap(),
    ])
    .args(["--service", "papi", "--tag", "v2"]);
    assert_refused(
        plain.path(),
        cmd,
        "tag-bump",
        3,
        "repository_invalid",
        "not an empty directory",
    );
}

/// Regression (found by tests/reliability/faults.py): a tag-bump killed during a fetch left
/// `refs/remotes/origin/main.lock` in its --workdir clone, and every later run failed with
/// "failed to lock file … for writing". In its own clone tag-bump now removes such files
/// (holding its lock); in a user's working copy it stops and says what to do.
#[test]
fn lock_files_left_by_a_killed_run() {
    let f = Flux::new();
    let workdir = f.dir.path().join("cache");
    let remote = format!("file://{}", f.remote().display());
    let run = |tag: &str| {
        let mut cmd = tool("tag-bump");
        cmd.args(["--clone", &remote, "--workdir"])
            .arg(&workdir)
            .args(["--service", "web", "--tag", tag, "--push", "--compact"])
            .env("ROLLOUT_NOW", NOW)
            .env("HOME", f.dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1");
        cmd.output().unwrap()
    };
    assert!(run("w1").status.success());
    let git_dir = workdir.join(".git");
    std::fs::write(git_dir.join("refs/remotes/origin/main.lock"), "").unwrap();
    std::fs::write(git_dir.join("index.lock"), "").unwrap();
    let out = run("w2");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "tag-bump: warning: removed refs/remotes/origin/main.lock left by an interrupted run"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("removed index.lock"), "{stderr}");
    assert!(f.remote_file("apps/web/kustomization.yaml").contains("w2"));

    // killed during the compare-and-swap of a local remote: its ref lock is cleared after a
    // short wait (tag-bumps take turns on the remote), not taken for a lost race forever
    std::fs::write(f.remote().join("refs/heads/main.lock"), "").unwrap();
    let out = run("w2b");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("removed refs/heads/main.lock left by an interrupted push"),
        "{stderr}"
    );
    assert!(f.remote_file("apps/web/kustomization.yaml").contains("w2b"));

    // a user's working copy is not tag-bump's to clean: exit 5 with the way out
    let work = f.work();
    let lock = work.join(".git/refs/remotes/origin/main.lock");
    std::fs::write(&lock, "").unwrap();
    let out = f
        .bump(&["--service", "web", "--tag", "w3", "--sync"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("failed to lock file"), "{stderr}");
    assert!(
        stderr.contains("  hint: an interrupted git process left that .lock file"),
        "{stderr}"
    );
    assert!(lock.exists());
}

/// A remote whose default branch is `master`: a push without --branch lands there, never on
/// a new `main`; a --branch the remote does not have is refused (exit 3) naming the
/// branches it has, unless --create-branch; after a push the working copy is not "ahead".
#[test]
fn the_branch_is_the_remotes_default_and_a_missing_one_is_refused() {
    let f = Flux::new();
    let master = f.dir.path().join("master.git");
    git(
        f.dir.path(),
        &["clone", "-q", "--bare", "seed", master.to_str().unwrap()],
    );
    git(&master, &["branch", "-m", "main", "master"]);
    git(&master, &["symbolic-ref", "HEAD", "refs/heads/master"]);
    let url = format!("file://{}", master.display());

    // --clone without --branch: the remote's default
    let wd = f.dir.path().join("wd");
    let mut cmd = f.bump_clone(&[]);
    cmd.args(["--clone", &url, "--workdir", wd.to_str().unwrap()])
        .args(["--service", "web", "--tag", "2026.12.1", "--push"]);
    let (report, _) = ok(cmd);
    assert_eq!(report["branch"], "master");
    assert_eq!(report["push"]["ref"], "refs/heads/master");
    let branches = git(
        &master,
        &["for-each-ref", "--format=%(refname)", "refs/heads"],
    );
    assert_eq!(branches.trim(), "refs/heads/master");
    // the remote-tracking ref follows the push: nothing ahead
    assert_eq!(
        git(&wd, &["rev-parse", "HEAD"]),
        git(&wd, &["rev-parse", "refs/remotes/origin/master"])
    );

    // --clone --branch asks for the branch directly: one it has is cloned and pushed; one
    // it lacks is refused naming the ones there are, and no workdir is left
    let wd2 = f.dir.path().join("wd2");
    let mut cmd = f.bump_clone(&[]);
    cmd.args([
        "--clone",
        &url,
        "--workdir",
        wd2.to_str().unwrap(),
        "--branch",
        "master",
    ])
    .args(["--service", "web", "--tag", "2026.12.4", "--push"]);
    let (report, _) = ok(cmd);
    assert_eq!(report["push"]["ref"], "refs/heads/master");
    let wd3 = f.dir.path().join("wd3");
    let mut cmd = f.bump_clone(&[]);
    cmd.args([
        "--clone",
        &url,
        "--workdir",
        wd3.to_str().unwrap(),
        "--branch",
        "main",
    ])
    .args([
        "--service",
        "web",
        "--tag",
        "2026.12.5",
        "--push",
        "--json-errors",
    ]);
    let line = refused_with(cmd, 3, "branch_unknown");
    assert!(
        line.contains(r#"branch "main" does not exist on the remote"#),
        "{line}"
    );
    assert!(line.contains("has: master"), "{line}");
    assert!(!wd3.exists(), "a refused clone leaves no workdir");

    // a working copy of it, --branch main: refused before anything is written
    let work = f.dir.path().join("work-master");
    git(
        f.dir.path(),
        &[
            "clone",
            "-q",
            master.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    // every file as it was (tag-bump's own lock file in .git aside)
    let files = |dir: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        crate::common::snapshot(dir)
            .into_iter()
            .filter(|(p, _)| !p.to_string_lossy().ends_with(".lock"))
            .collect()
    };
    let before = files(&work);
    let mut cmd = f.bump_in(&work, &["--service", "web", "--tag", "2026.12.2"]);
    cmd.args(["--push", "--branch", "main", "--json-errors"]);
    let line = refused_with(cmd, 3, "branch_unknown");
    assert_eq!(
        line,
        "tag-bump: error: branch \"main\" does not exist on the remote: give --branch master, or --create-branch to create \"main\" (origin has: master)"
    );
    assert!(
        files(&work) == before,
        "a refused run changed the working copy"
    );

    // without --branch the working copy pushes to master too; with --create-branch, main
    let (report, _) = ok(f.bump_in(&work, &["--service", "web", "--tag", "2026.12.2", "--push"]));
    assert_eq!(report["branch"], "master");
    let mut cmd = f.bump_in(&work, &["--service", "web", "--tag", "2026.12.3"]);
    cmd.args(["--push", "--branch", "main", "--create-branch"]);
    let (report, _) = ok(cmd);
    assert_eq!(report["push"]["pushed"], true);
    let branches = git(
        &master,
        &["for-each-ref", "--format=%(refname)", "refs/heads"],
    );
    assert_eq!(branches.trim(), "refs/heads/main\nrefs/heads/master");
}

/// --dry-run with --clone --workdir DIR creates no DIR: the preview comes from a
/// temporary clone.
#[test]
fn a_dry_run_clone_leaves_no_workdir() {
    let f = Flux::new();
    let url = format!("file://{}", f.remote().display());
    let wd = f.dir.path().join("never");
    let mut cmd = f.bump_clone(&[]);
    cmd.args(["--clone", &url, "--workdir", wd.to_str().unwrap()])
        .args([
            "--service",
            "web",
            "--tag",
            "2026.12.1",
            "--dry-run",
            "--diff",
        ]);
    let (report, _) = ok(cmd);
    assert_eq!(report["changed"], true);
    assert!(
        report["diff"]
            .as_str()
            .unwrap()
            .contains("+        newTag: '2026.12.1'")
    );
    assert!(!wd.exists());
}

/// A lost push race followed by a compare-and-swap failure: the working copy was reset to
/// the remote's branch by then, and the error says so instead of implying nothing changed.
#[test]
fn a_failure_after_the_reset_of_a_lost_race_says_so() {
    let f = Flux::new();
    let stale = f.clone_as("stale");
    ok(f.bump(&["--service", "web", "--tag", "2026.12.1", "--push"]));
    let mut cmd = f.bump_in(&stale, &["--service", "web", "--tag", "2026.12.2"]);
    cmd.args(["--expect-current", "2026.11.1", "--push", "--json-errors"]);
    let line = refused_with(cmd, 3, "current_tag_mismatch");
    assert!(line.contains("not 2026.11.1 (--expect-current)"), "{line}");
    assert!(
        line.contains(&format!(
            "; a push race was lost, so {} was reset to origin/main at ",
            stale.display()
        )),
        "{line}"
    );
    assert!(line.contains("; the local commit "), "{line}");
    // what the message says is what is on disk: the remote's version of the file
    assert_eq!(
        std::fs::read_to_string(stale.join("apps/web/kustomization.yaml")).unwrap(),
        f.remote_file("apps/web/kustomization.yaml")
    );
}

/// `--set SERVICE=TAG`: different tags for different services in one commit, as
/// `kustomize edit set image a=…:t1 b=…:t2`; two services of one image group cannot get two.
#[test]
fn set_gives_each_service_its_own_tag_in_one_commit() {
    let f = Flux::new();
    let (report, _) = ok(f.bump(&[
        "--set",
        "papi=pr-50-aaaaaaa",
        "--set",
        "web=2026.12.3",
        "--push",
    ]));
    let tags: Vec<(String, String)> = report["edits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["imageGroup"].as_str().unwrap().to_string(),
                e["newTag"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        tags,
        [
            ("backend-services".to_string(), "pr-50-aaaaaaa".to_string()),
            ("web".to_string(), "2026.12.3".to_string())
        ]
    );
    let log = f.remote_log();
    assert_eq!(log.len(), 2, "one commit for both: {log:?}");
    assert!(
        log[0].ends_with(
            "|chore(backend-services, web): update image tag to pr-50-aaaaaaa, 2026.12.3"
        ),
        "{log:?}"
    );
    assert!(
        f.remote_file("apps/backend-services/kustomization.yaml")
            .contains("newTag: pr-50-aaaaaaa")
    );
    assert!(
        f.remote_file("apps/web/kustomization.yaml")
            .contains("newTag: '2026.12.3'")
    );

    let before = crate::common::snapshot(&f.work());
    let cmd = f.bump(&[
        "--set",
        "papi=v1",
        "--set",
        "worker=v2",
        "--push",
        "--json-errors",
    ]);
    let line = refused_with(cmd, 2, "argument_invalid");
    assert!(
        line.contains(
            "papi and worker share image group \"backend-services\", which takes one tag"
        ),
        "{line}"
    );
    assert!(crate::common::snapshot(&f.work()) == before);
    for bad in [
        vec!["--set", "papi=v1", "--tag", "v2"],
        vec!["--set", "papi"],
        vec!["--set", "papi=v1", "--set", "papi=v2"],
        vec!["--set", "papi=not a tag"],
    ] {
        let out = f.bump(&bad).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}

/// A fleet's batch: a sets document on stdin (`{"SERVICE": "TAG"}`, or the
/// `[{"service", "tag"}]` a matrix's outputs collect into) sets every service in one commit,
/// as `--set` does; a document of another shape, or with a bad tag, changes nothing.
#[test]
fn a_sets_document_on_stdin_sets_every_service_in_one_commit() {
    let f = Flux::new();
    let mut cmd = f.bump(&["-i", "-", "--push"]);
    cmd.write_stdin(r#"{"papi": "pr-50-aaaaaaa", "web": "2026.12.3"}"#);
    let (report, _) = ok(cmd);
    assert_eq!(report["edits"].as_array().unwrap().len(), 2, "{report}");
    let log = f.remote_log();
    assert_eq!(log.len(), 2, "one commit for both: {log:?}");
    assert!(
        log[0].ends_with(
            "|chore(backend-services, web): update image tag to pr-50-aaaaaaa, 2026.12.3"
        ),
        "{log:?}"
    );
    // the array form, from a file, beside a --set
    let list = f.dir.path().join("sets.json");
    std::fs::write(&list, r#"[{"service": "web", "tag": "2026.12.4"}]"#).unwrap();
    let (report, _) = ok(f.bump(&[
        "-i",
        list.to_str().unwrap(),
        "--set",
        "papi=pr-51-bbbbbbb",
        "--push",
    ]));
    assert_eq!(report["edits"][1]["newTag"], "2026.12.4", "{report}");
    assert!(
        f.remote_file("apps/backend-services/kustomization.yaml")
            .contains("newTag: pr-51-bbbbbbb")
    );
    let before = crate::common::snapshot(&f.work());
    for (doc, message) in [
        (
            r#"["web=1"]"#,
            r#"stdin: [0] must be an object {"service": S, "tag": T}"#,
        ),
        (
            r#"{"web": 1}"#,
            r#"stdin: the tag of "web" must be a non-empty string, found number"#,
        ),
        (
            r#"{"web": "not a tag"}"#,
            r#"stdin: service "web": tag "not a tag": "#,
        ),
        (r#"{}"#, "stdin: names no service"),
        (
            r#""web""#,
            "stdin: expected an object of SERVICE: TAG or an array",
        ),
        (
            r#"[{"service": "web", "tag": "v1", "digest": "sha256:00"}]"#,
            r#"stdin: [0] has "digest"; an entry has only "service" and "tag""#,
        ),
        (
            r#"[{"service": "web", "tag": "v1"}, {"service": "web", "tag": "v2"}]"#,
            r#"stdin: service "web": is given twice"#,
        ),
        (
            r#"{"nope": "v1"}"#,
            r#"service "nope" is not in services.json"#,
        ),
    ] {
        let mut cmd = f.bump(&["-i", "-", "--push", "--json-errors"]);
        cmd.write_stdin(doc);
        let code = if doc.contains("nope") { 3 } else { 2 };
        let reason = if code == 3 {
            "service_unknown"
        } else {
            "sets_invalid"
        };
        let line = refused_with(cmd, code, reason);
        assert!(line.contains(message), "{doc}: {line}");
    }
    assert!(crate::common::snapshot(&f.work()) == before);
    assert_eq!(f.remote_log().len(), 3);
}

/// Run a refused tag-bump (with --json-errors): its exit code and reason code, and its one
/// error line, for the caller to check (files are checked by the caller: after a lost
/// race's reset they are not unchanged).
fn refused_with(mut cmd: Command, code: i32, reason: &str) -> String {
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_out(&out)["reasonCode"], reason);
    crate::common::error_line(&out, "tag-bump")
}

/// `tests/support/redirect_server.py`: "origin" redirects everything to "elsewhere", which
/// asks for credentials; stopped when dropped.
struct RedirectServer {
    child: Child,
    state: TempDir,
    origin: u16,
    elsewhere: u16,
}

impl RedirectServer {
    fn start() -> RedirectServer {
        let state = tempfile::tempdir().unwrap();
        let child = StdCommand::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/redirect_server.py"))
            .args(["--state", state.path().to_str().unwrap()])
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 runs the redirect server");
        let origin = wait_for_port(state.path(), "the redirect server");
        let elsewhere = std::fs::read_to_string(state.path().join("port-elsewhere"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        RedirectServer {
            child,
            state,
            origin,
            elsewhere,
        }
    }

    /// Every request as "SERVER METHOD PATH AUTHORIZATION".
    fn requests(&self) -> String {
        std::fs::read_to_string(self.state.path().join("requests.log")).unwrap_or_default()
    }
}

impl Drop for RedirectServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn credentials_go_only_to_the_urls_host_and_never_in_clear() {
    let server = RedirectServer::start();
    let scratch = tempfile::tempdir().unwrap();
    let f = Flux::new();
    let run = |url: &str, extra: &[&str]| {
        let mut cmd = f.bump_clone(&[
            "--clone",
            url,
            "--workdir",
            scratch.path().join("w").to_str().unwrap(),
            "--service",
            "papi",
            "--tag",
            "r1",
            "--push",
            "--json-errors",
        ]);
        cmd.args(extra).env("GIT_TOKEN", TOKEN);
        cmd.output().unwrap()
    };
    let origin = format!("127.0.0.1:{}", server.origin);
    let elsewhere = format!("127.0.0.1:{}", server.elsewhere);

    // A redirect to another host that asks for credentials: refused, both hosts named, and
    // the other host never sees the token (even with --insecure-http).
    let out = run(&format!("http://{origin}/flux.git"), &["--insecure-http"]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    never_shows_the_token(&out);
    let doc = json_out(&out);
    assert_eq!(doc["reasonCode"], "redirect_refused");
    let m = doc["message"].as_str().unwrap();
    assert!(
        m.contains(&format!("{origin} redirected to {elsewhere}")),
        "{m}"
    );
    let log = server.requests();
    assert!(
        log.contains("elsewhere GET"),
        "the redirect was followed: {log}"
    );
    assert!(
        log.lines().all(|l| l.ends_with(" -")),
        "credentials were sent: {log}"
    );
    assert!(!scratch.path().join("w").exists());

    // Plain http: the token is not sent unless --insecure-http says so.
    let out = run(&format!("http://{elsewhere}/flux.git"), &[]);
    assert_eq!(out.status.code(), Some(5));
    never_shows_the_token(&out);
    let doc = json_out(&out);
    assert_eq!(doc["reasonCode"], "cleartext_credentials_refused");
    assert!(doc["message"].as_str().unwrap().contains("use https"));
    assert!(server.requests().lines().all(|l| l.ends_with(" -")));

    // With --insecure-http it is sent, to that host only, with a warning.
    let out = run(
        &format!("http://{elsewhere}/flux.git"),
        &["--insecure-http"],
    );
    assert_eq!(
        out.status.code(),
        Some(5),
        "the server refuses every credential"
    );
    never_shows_the_token(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "tag-bump: warning: credentials may be sent over plain http (--insecure-http)"
        )
    );
    assert_eq!(json_out(&out)["reasonCode"], "authentication_failed");
    let requests = server.requests();
    let sent: Vec<&str> = requests
        .lines()
        .filter(|l| !l.ends_with(" -"))
        .map(|l| l.split(' ').next().unwrap())
        .collect::<Vec<_>>();
    assert!(
        !sent.is_empty() && sent.iter().all(|s| *s == "elsewhere"),
        "{sent:?}"
    );
}

#[test]
fn a_remote_that_never_answers_is_given_up_after_the_timeout() {
    // accepts connections, reads the request, and never answers
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let f = Flux::new();
    let scratch = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let mut cmd = f.bump_clone(&[
        "--clone",
        &format!("https://127.0.0.1:{port}/flux.git"),
        "--workdir",
        scratch.path().join("w").to_str().unwrap(),
        "--service",
        "papi",
        "--tag",
        "t1",
        "--push",
        "--timeout",
        "2s",
        "--json-errors",
    ]);
    let out = cmd
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json_out(&out);
    assert_eq!(doc["reasonCode"], "network_error");
    assert!(
        doc["message"]
            .as_str()
            .unwrap()
            .contains("no answer within --timeout 2s"),
        "{doc}"
    );
    assert!(took < std::time::Duration::from_secs(30), "took {took:?}");
    assert!(!scratch.path().join("w").exists());
}

#[test]
fn a_flux_kustomization_takes_its_images_under_spec() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let flux = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: podinfo\nspec:\n  interval: 10m\n  images:\n    - name: ghcr.io/stefanprodan/podinfo\n      newTag: 6.5.0 # pinned\n  sourceRef:\n    kind: GitRepository\n    name: podinfo\n";
    std::fs::write(d.join("app.yaml"), flux).unwrap();
    std::fs::write(
        d.join("bare.yaml"),
        flux.replace(
            "  images:\n    - name: ghcr.io/stefanprodan/podinfo\n      newTag: 6.5.0 # pinned\n",
            "",
        ),
    )
    .unwrap();
    git(d, &["init", "-q", "-b", "main"]);
    git(d, &["add", "-A"]);
    git(d, &["commit", "-qm", "seed"]);
    let bump = |file: &str, extra: &[&str]| {
        let mut c = tool("tag-bump");
        c.args([
            "--repo",
            d.to_str().unwrap(),
            "--file",
            file,
            "--image",
            "ghcr.io/stefanprodan/podinfo",
        ])
        .args(["--tag", "6.6.0", "--commit", "--compact", "--now", NOW])
        .args(extra);
        ok(c)
    };
    bump("app.yaml", &[]);
    assert_eq!(
        std::fs::read_to_string(d.join("app.yaml")).unwrap(),
        flux.replace("newTag: 6.5.0 # pinned", "newTag: 6.6.0 # pinned")
    );
    let (r, _) = bump("bare.yaml", &["--create"]);
    assert_eq!(r["edits"][0]["created"], true);
    let text = std::fs::read_to_string(d.join("bare.yaml")).unwrap();
    assert!(
        text.contains("  images:\n  - name: ghcr.io/stefanprodan/podinfo\n    newTag: 6.6.0\n"),
        "{text}"
    );
}

/// `tests/support/hostile_git_server.py` in `mode`; stopped when dropped.
struct HostileServer {
    child: Child,
    _state: TempDir,
    port: u16,
}

impl HostileServer {
    fn start(mode: &str) -> HostileServer {
        let state = tempfile::tempdir().unwrap();
        let child = StdCommand::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/hostile_git_server.py"))
            .args(["--state", state.path().to_str().unwrap(), "--mode", mode])
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 runs the hostile git server");
        let port = wait_for_port(state.path(), "the hostile git server");
        HostileServer {
            child,
            _state: state,
            port,
        }
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh `--clone` of `url` with `extra` bounds; the error document, how long it took,
/// and whether the workdir was left behind.
fn bounded_clone(url: &str, extra: &[&str]) -> (Value, std::time::Duration, bool) {
    let f = Flux::new();
    let scratch = tempfile::tempdir().unwrap();
    let workdir = scratch.path().join("w");
    let mut cmd = f.bump_clone(&[
        "--clone",
        url,
        "--workdir",
        workdir.to_str().unwrap(),
        "--service",
        "papi",
        "--tag",
        "t1",
        "--push",
        "--json-errors",
    ]);
    cmd.args(extra);
    let started = std::time::Instant::now();
    let out = cmd
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (json_out(&out), took, workdir.exists())
}

#[test]
fn a_remote_answering_a_byte_at_a_time_is_cut_at_the_deadline() {
    // every read gets a byte within 0.2 s, so --timeout alone would wait for ever
    let server = HostileServer::start("trickle");
    let (doc, took, left) = bounded_clone(
        &format!("http://127.0.0.1:{}/flux.git", server.port),
        &["--timeout", "5s", "--deadline", "2s"],
    );
    assert_eq!(doc["reasonCode"], "transfer_deadline_exceeded", "{doc}");
    assert!(
        doc["message"]
            .as_str()
            .unwrap()
            .contains("did not finish within --deadline 2s"),
        "{doc}"
    );
    assert!(took < std::time::Duration::from_secs(20), "took {took:?}");
    assert!(!left, "no workdir is left");
}

#[test]
fn a_remote_advertising_a_million_refs_is_cut_at_the_memory_bound() {
    let server = HostileServer::start("refs:1000000");
    let (doc, took, left) = bounded_clone(
        &format!("http://127.0.0.1:{}/flux.git", server.port),
        &["--max-memory", "64MiB"],
    );
    assert_eq!(doc["reasonCode"], "transfer_too_large", "{doc}");
    assert!(
        doc["message"]
            .as_str()
            .unwrap()
            .contains("more than --max-memory 64MiB"),
        "{doc}"
    );
    assert!(took < std::time::Duration::from_secs(60), "took {took:?}");
    assert!(!left);
}

#[test]
fn a_pack_larger_than_max_transfer_is_stopped() {
    let f = Flux::new();
    // 3 MiB that do not compress
    let seed = f.clone_as("seed2");
    let mut noise = Vec::with_capacity(3 << 20);
    let mut next = crate::common::seeded(7);
    while noise.len() < 3 << 20 {
        noise.extend_from_slice(&next(u64::MAX).to_le_bytes());
    }
    std::fs::write(seed.join("noise.bin"), noise).unwrap();
    git(&seed, &["add", "noise.bin"]);
    git(&seed, &["commit", "-qm", "noise"]);
    git(&seed, &["push", "-q", "origin", "main"]);
    let url = format!("file://{}", f.remote().display());
    let (doc, _, left) = bounded_clone(&url, &["--max-transfer", "1MiB"]);
    assert_eq!(doc["reasonCode"], "transfer_too_large", "{doc}");
    assert!(
        doc["message"]
            .as_str()
            .unwrap()
            .contains("more than --max-transfer 1MiB"),
        "{doc}"
    );
    assert!(!left);
    // and within the bound the same clone lands
    let scratch = tempfile::tempdir().unwrap();
    ok(f.bump_clone(&[
        "--clone",
        &url,
        "--workdir",
        scratch.path().join("w").to_str().unwrap(),
        "--service",
        "papi",
        "--tag",
        "t1",
        "--max-transfer",
        "8MiB",
    ]));
    // A local remote is cloned by copying its object files, never by linking them (a link
    // to another user's read-only pack fails where protected_hardlinks is on).
    use std::os::unix::fs::MetadataExt;
    let objects = crate::common::snapshot(&scratch.path().join("w/.git/objects"));
    assert!(objects.len() > 3, "the remote's objects were copied");
    for (path, _) in objects {
        let links = std::fs::metadata(&path).unwrap().nlink();
        assert_eq!(links, 1, "{} is a copy", path.display());
    }
}

/// A repository with a Flux setter file, a kustomization moving a registry and a chart's
/// values, for the `--name` / `newName` tests.
fn renaming_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus/kustomize");
    // fluxcd/flux2's own image-automation test: :name, :tag and :digest setters
    std::fs::copy(
        corpus.join("fluxcd__flux2__tests_image-automation_kustomization.yaml"),
        d.join("flux.yaml"),
    )
    .unwrap();
    // kustomize newName moving the registry (argoproj-deployments)
    std::fs::copy(
        corpus.join("argoproj__argoproj-deployments__argocd_kustomization.yaml"),
        d.join("argo.yaml"),
    )
    .unwrap();
    std::fs::write(
        d.join("values.yaml"),
        "image:\n  repository: ghcr.io/acme/api # the chart reads this\n  tag: \"1.4.2\"\n",
    )
    .unwrap();
    git(d, &["init", "-q", "-b", "main"]);
    dir
}

/// tag-bump in `d` at the fixed clock.
fn bump_in(d: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut c = tool("tag-bump");
    c.current_dir(d)
        .args(["--repo", ".", "--compact", "--now", NOW])
        .args(args);
    c
}

#[test]
fn a_new_name_from_the_flag_is_written_with_the_tag_and_digest() {
    let dir = renaming_repo();
    let d = dir.path();
    let before_flux = std::fs::read_to_string(d.join("flux.yaml")).unwrap();
    let digest = format!("sha256:{}", "b".repeat(64));
    let (r, stderr) = ok(bump_in(
        d,
        &[
            "--file",
            "flux.yaml",
            "--type",
            "flux-setter",
            "--image",
            "flux-system:podinfo",
            "--tag",
            "6.9.0",
            "--digest",
            &digest,
            "--name",
            "registry.example.com/prod/podinfo",
        ],
    ));
    let e = &r["edits"][0];
    assert_eq!(e["oldName"], "ghcr.io/stefanprodan/podinfo");
    assert_eq!(e["newName"], "registry.example.com/prod/podinfo");
    assert!(
        stderr.contains("to registry.example.com/prod/podinfo:6.9.0 (was 6.8.0)"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("flux.yaml")).unwrap(),
        before_flux
            .replace(
                "newName: ghcr.io/stefanprodan/podinfo",
                "newName: registry.example.com/prod/podinfo"
            )
            .replace("newTag: 6.8.0", "newTag: 6.9.0")
            .replace(
                "sha256:6c1975b871efb327528c84d46d38e6dd7906eecee6402bc270eeb7f1b1a506df",
                &digest
            )
    );
}

#[test]
fn a_new_name_from_the_services_map_is_written_for_a_kustomization_and_a_chart() {
    let dir = renaming_repo();
    let d = dir.path();
    let argo = std::fs::read_to_string(d.join("argo.yaml")).unwrap();
    let entry = argo
        .lines()
        .find_map(|l| l.trim().strip_prefix("- name: "))
        .unwrap()
        .trim()
        .to_string();
    std::fs::write(
        d.join("services.json"),
        serde_json::json!({
            "services": {"argocd": {"imageGroup": "argocd"}, "api": {"imageGroup": "api"}},
            "imageGroups": {
                "argocd": {"file": "argo.yaml", "imageName": entry, "newName": "registry.example.com/prod/argocd"},
                "api": {"file": "values.yaml", "imageName": "api", "type": "yaml-path",
                        "path": ".image.tag", "newName": "registry.example.com/prod/api"}
            }
        })
        .to_string(),
    )
    .unwrap();
    let both = ["--service", "argocd", "--service", "api", "--tag", "v3.1.0"];
    let (r, _) = ok(bump_in(d, &[&both[..], &["--dry-run", "--diff"]].concat()));
    let diff = r["diff"].as_str().unwrap();
    assert!(
        diff.contains("+  repository: registry.example.com/prod/api # the chart reads this"),
        "{diff}"
    );
    assert!(diff.contains("registry.example.com/prod/argocd"), "{diff}");
    ok(bump_in(d, &both));
    let (again, _) = ok(bump_in(d, &both));
    assert_eq!(again["changed"], false, "a second run is a no-op");
}

#[test]
fn a_new_name_that_is_no_oci_repository_is_refused_in_the_flag_and_the_map() {
    let dir = renaming_repo();
    let d = dir.path();
    assert_refused(
        d,
        bump_in(
            d,
            &[
                "--file",
                "values.yaml",
                "--type",
                "yaml-path",
                "--path",
                ".image.tag",
                "--image",
                "api",
                "--tag",
                "v4",
                "--name",
                "Registry.example.com/Prod/API",
            ],
        ),
        "tag-bump",
        2,
        "argument_invalid",
        "not a repository path component",
    );
    std::fs::write(
        d.join("bad.json"),
        r#"{"services": {"x": {"imageGroup": "x"}}, "imageGroups": {"x": {"file": "argo.yaml", "imageName": "x", "newName": "web:v1"}}}"#,
    )
    .unwrap();
    assert_refused(
        d,
        bump_in(
            d,
            &["--services", "bad.json", "--service", "x", "--tag", "v4"],
        ),
        "tag-bump",
        2,
        "services_invalid",
        "holds a tag",
    );
}

#[test]
fn helm_images_are_bumped_in_each_chart_layout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "-b", "main"]);
    // a HelmRelease for a bitnami-style chart: registry, repository, tag and digest apart
    let redis = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: redis\nspec:\n  chart:\n    spec:\n      chart: redis\n      version: 19.x\n  values:\n    image:\n      registry: docker.io\n      repository: bitnami/redis\n      tag: 7.2.4-debian-12-r9 # renovate: datasource=docker\n      digest: \"\"\n";
    // a chart that takes one string
    let api = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: api\nspec:\n  values:\n    image: ghcr.io/acme/api:1.9.0\n    replicas: 2\n";
    std::fs::write(d.join("redis.yaml"), redis).unwrap();
    std::fs::write(d.join("api.yaml"), api).unwrap();
    std::fs::write(
        d.join("services.json"),
        r#"{"services": {"redis": {"imageGroup": "redis"}},
            "imageGroups": {"redis": {"file": "redis.yaml", "imageName": "redis", "type": "helm-image",
                                      "path": ".spec.values.image", "newName": "registry.example.com/mirror/redis"}}}"#,
    )
    .unwrap();
    let bump = |args: &[&str]| bump_in(d, args);
    let digest = format!("sha256:{}", "d".repeat(64));
    let (r, _) = ok(bump(&[
        "--service",
        "redis",
        "--tag",
        "7.4.1",
        "--digest",
        &digest,
    ]));
    assert_eq!(r["edits"][0]["type"], "helm-image");
    assert_eq!(r["edits"][0]["oldName"], "docker.io/bitnami/redis");
    assert_eq!(
        std::fs::read_to_string(d.join("redis.yaml")).unwrap(),
        redis
            .replace("docker.io", "registry.example.com")
            .replace("bitnami/redis", "mirror/redis")
            .replace("7.2.4-debian-12-r9", "7.4.1")
            .replace("digest: \"\"", &format!("digest: \"{digest}\""))
    );
    let (again, _) = ok(bump(&[
        "--service",
        "redis",
        "--tag",
        "7.4.1",
        "--digest",
        &digest,
    ]));
    assert_eq!(again["changed"], false);
    let one = [
        "--file",
        "api.yaml",
        "--type",
        "helm-image",
        "--path",
        ".spec.values.image",
        "--image",
        "api",
        "--tag",
        "2.0.0",
    ];
    let (r, _) = ok(bump(&one));
    assert_eq!(r["edits"][0]["oldTag"], "1.9.0");
    assert_eq!(
        std::fs::read_to_string(d.join("api.yaml")).unwrap(),
        api.replace("api:1.9.0", "api:2.0.0")
    );
    // --expect-current is a compare-and-swap here too
    let mut stale = one[..one.len() - 1].to_vec();
    stale.extend(["2.1.0", "--expect-current", "1.9.0"]);
    assert_refused(
        d,
        bump(&stale),
        "tag-bump",
        3,
        "current_tag_mismatch",
        "api.yaml",
    );
}

#[test]
fn argocd_image_updater_write_back_files_are_written_and_bumped() {
    let f = Flux::new();
    let w = f.work();
    std::fs::create_dir_all(w.join("apps/web")).unwrap();
    std::fs::write(
        w.join("argo.json"),
        r#"{"services": {"web": {"imageGroup": "web"}, "api": {"imageGroup": "api"}},
            "imageGroups": {
              "web": {"file": "apps/web/.argocd-source-web.yaml", "imageName": "ghcr.io/acme/web", "type": "argocd-kustomize"},
              "api": {"file": "apps/web/.argocd-source-api.yaml", "imageName": "ghcr.io/acme/api", "type": "argocd-helm"}}}"#,
    )
    .unwrap();
    let services = w.join("argo.json").display().to_string();
    let bump = |args: &[&str]| f.bump(&[&["--services", services.as_str()], args].concat());
    // without --create a missing write-back file is missing
    assert_refused(
        &w,
        bump(&["--service", "web", "--tag", "v1"]),
        "tag-bump",
        3,
        "file_missing",
        "apps/web/.argocd-source-web.yaml",
    );
    let (r, _) = ok(bump(&[
        "--service",
        "web",
        "--service",
        "api",
        "--tag",
        "v1",
        "--create",
        "--commit",
    ]));
    assert_eq!(r["edits"][0]["created"], true);
    assert_eq!(
        std::fs::read_to_string(w.join("apps/web/.argocd-source-web.yaml")).unwrap(),
        "kustomize:\n  images:\n  - ghcr.io/acme/web:v1\n"
    );
    let committed = git(&w, &["show", "--stat", "--format=%s", "HEAD"]);
    assert!(
        committed.contains("apps/web/.argocd-source-web.yaml")
            && committed.contains("apps/web/.argocd-source-api.yaml"),
        "{committed}"
    );
    assert_eq!(git(&w, &["status", "--porcelain"]).trim(), "?? argo.json");
    // the next bump edits the files the first one wrote, byte for byte
    let api_before = std::fs::read_to_string(w.join("apps/web/.argocd-source-api.yaml")).unwrap();
    ok(bump(&[
        "--service",
        "api",
        "--tag",
        "v2",
        "--name",
        "registry.example.com/prod/api",
    ]));
    assert_eq!(
        std::fs::read_to_string(w.join("apps/web/.argocd-source-api.yaml")).unwrap(),
        api_before
            .replace(
                "value: ghcr.io/acme/api",
                "value: registry.example.com/prod/api"
            )
            .replace("value: v1", "value: v2")
    );
    // a write-back file may not be created outside the repository or under .git
    for (file, code, reason) in [
        ("../.argocd-source-x.yaml", 3, "path_outside_root"),
        (".git/.argocd-source-x.yaml", 3, "path_in_git_directory"),
    ] {
        assert_refused(
            &w,
            f.bump(&[
                "--file",
                file,
                "--type",
                "argocd-kustomize",
                "--image",
                "x",
                "--tag",
                "v1",
                "--create",
            ]),
            "tag-bump",
            code,
            reason,
            "",
        );
    }
}

#[test]
fn a_flux_setter_tree_edits_every_marked_file_in_one_commit() {
    let f = Flux::new();
    let w = f.work();
    // a second file the policy marks (a multi-document file, a marked list item), one that
    // names the policy in another namespace, and one with no marker at all
    std::fs::create_dir_all(w.join("apps/worker")).unwrap();
    std::fs::write(
        w.join("apps/worker/cronjob.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n---\napiVersion: batch/v1\nkind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n            - image: ghcr.io/acme/app:1.0.0 # {\"$imagepolicy\": \"flux-system:app\"}\n              args: [\"--once\"]\n",
    )
    .unwrap();
    std::fs::write(
        w.join("apps/worker/other.yaml"),
        "image: ghcr.io/acme/app:0.9 # {\"$imagepolicy\": \"staging:app\"}\n",
    )
    .unwrap();
    git(&w, &["add", "-A"]);
    git(&w, &["commit", "-qm", "more apps"]);
    git(&w, &["push", "-q", "origin", "main"]);
    let untouched: Vec<(String, String)> =
        ["apps/worker/other.yaml", "apps/web/kustomization.yaml"]
            .iter()
            .map(|p| (p.to_string(), std::fs::read_to_string(w.join(p)).unwrap()))
            .collect();
    let tree = |extra: &[&str]| {
        f.bump(
            &[
                &[
                    "--type",
                    "flux-setter",
                    "--image",
                    "flux-system:app",
                    "--path",
                    "apps",
                    "--tag",
                    "1.5.0",
                ][..],
                extra,
            ]
            .concat(),
        )
    };
    // --expect is checked before anything is written
    let head = git(&w, &["rev-parse", "HEAD"]);
    assert_refused(
        &w,
        tree(&["--expect", "2", "--push"]),
        "tag-bump",
        3,
        "value_count_mismatch",
        "the run sets 3 value(s), not 2 (--expect); files: apps/app/deployment.yaml, apps/worker/cronjob.yaml",
    );
    let (r, _) = ok(tree(&["--expect", "3", "--push"]));
    let files: Vec<&str> = r["edits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        ["apps/app/deployment.yaml", "apps/worker/cronjob.yaml"]
    );
    let log = f.remote_log();
    assert_eq!(log.len(), 3, "one commit: {log:?}");
    assert!(log[0].contains(&head.trim().to_string()), "{log:?}");
    let body = git(&f.remote(), &["log", "-1", "--format=%B", "main"]);
    assert!(
        body.contains("Files:\n- apps/app/deployment.yaml\n- apps/worker/cronjob.yaml"),
        "{body}"
    );
    assert!(
        f.remote_file("apps/worker/cronjob.yaml")
            .contains("ghcr.io/acme/app:1.5.0 #")
    );
    assert_eq!(
        f.remote_file("apps/app/deployment.yaml")
            .matches("ghcr.io/acme/app:1.5.0")
            .count(),
        2
    );
    for (p, text) in untouched {
        assert_eq!(f.remote_file(&p), text, "{p} untouched");
    }
    // a policy nothing marks
    assert_refused(
        &w,
        f.bump(&[
            "--type",
            "flux-setter",
            "--image",
            "flux-system:nope",
            "--tag",
            "1",
        ]),
        "tag-bump",
        3,
        "image_entry_not_found",
        "flux-system:nope",
    );
    // --image without --file is only a flux-setter tree
    assert_refused(
        &w,
        f.bump(&["--image", "web", "--tag", "1"]),
        "tag-bump",
        2,
        "argument_invalid",
        "flux-setter tree",
    );
}
