//! image-resolve against a real registry on 127.0.0.1: Debian's docker-registry (the CNCF
//! distribution server) with TLS, once with htpasswd auth and once with token auth through
//! a loopback token server, seeded with images umoci built and skopeo pushed
//! (`tests/support/oci_registry.py`). Its front (the same file) pages tag lists and injects
//! faults: 429 with Retry-After, tampered bodies and digests, Links to other hosts.

use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::sync::{Mutex, OnceLock};

use assert_cmd::Command;
use serde_json::Value;

use crate::common::{NOW, assert_schema, json_out, tool, wait_for_port};

const TOOL: &str = "image-resolve";
const PASSWORD: &str = "canary-pw-3f9a1c";

/// A running oci_registry.py; it stops when the test process ends (--stdin-eof).
struct Registry {
    _child: Mutex<Child>,
    state: tempfile::TempDir,
    port: u16,
    front: u16,
    digests: Value,
}

impl Registry {
    fn start(auth: &str) -> Registry {
        let state = tempfile::tempdir().unwrap();
        let child = StdCommand::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/oci_registry.py"))
            .args([
                "--state",
                state.path().to_str().unwrap(),
                "--auth",
                auth,
                "--stdin-eof",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the test registry");
        let port = wait_for_port(state.path(), "the test registry");
        let front: u16 = std::fs::read_to_string(state.path().join("front-port"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let digests =
            serde_json::from_slice(&std::fs::read(state.path().join("digests.json")).unwrap())
                .unwrap();
        Registry {
            _child: Mutex::new(child),
            state,
            port,
            front,
            digests,
        }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn front_host(&self) -> String {
        format!("127.0.0.1:{}", self.front)
    }

    fn digest(&self, reference: &str) -> String {
        self.digests[reference].as_str().unwrap().to_string()
    }

    fn cert(&self) -> PathBuf {
        self.state.path().join("cert.pem")
    }

    /// A docker config directory whose `auths` hold `password` for both ports.
    fn docker_config(&self, password: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let auth = base64_encode(format!("ci:{password}").as_bytes());
        let cfg = serde_json::json!({"auths": {
            self.host(): {"auth": auth},
            self.front_host(): {"auth": auth},
        }});
        std::fs::write(dir.path().join("config.json"), cfg.to_string()).unwrap();
        dir
    }

    /// image-resolve trusting this registry's certificate, with `config` as DOCKER_CONFIG.
    fn cmd(&self, config: &Path) -> Command {
        let mut cmd = tool(TOOL);
        cmd.env("SSL_CERT_FILE", self.cert())
            .env("DOCKER_CONFIG", config)
            .env_remove("GITHUB_TOKEN")
            .args(["--now", NOW, "--no-step-summary", "--compact"]);
        cmd
    }

    fn front_log(&self) -> String {
        std::fs::read_to_string(self.state.path().join("front.log")).unwrap_or_default()
    }

    fn faults(&self, faults: Value) {
        std::fs::write(self.state.path().join("front-faults"), faults.to_string()).unwrap();
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn htpasswd() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| Registry::start("htpasswd"))
}

fn token() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| Registry::start("token"))
}

/// The token registry's front injects faults: one test at a time uses it.
static FAULTS: Mutex<()> = Mutex::new(());

fn ok(cmd: &mut Command) -> Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_out(&out)
}

/// Run `cmd` with --json-errors and check the exit code, reason and message; return
/// stdout and stderr together.
fn fails(mut cmd: Command, code: i32, reason: &str, message: &str) -> String {
    let out = cmd.arg("--json-errors").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(code), "{cmd:?}: {stderr}");
    assert_eq!(json_out(&out)["reasonCode"], reason, "{stderr}");
    assert!(stderr.contains(message), "{stderr}");
    format!("{}{stderr}", String::from_utf8_lossy(&out.stdout))
}

#[test]
fn a_tag_resolves_to_the_digest_skopeo_reports_with_its_labels() {
    let reg = htpasswd();
    let cfg = reg.docker_config(PASSWORD);
    let r = reg.host();
    let doc = ok(reg
        .cmd(cfg.path())
        .args([format!("{r}/org/app:v1"), format!("{r}/org/app:stable")]));
    assert_schema(&doc);
    let (v1, stable) = (&doc["images"][0], &doc["images"][1]);
    assert_eq!(v1["digest"], reg.digest("org/app:v1"));
    assert_eq!(stable["digest"], v1["digest"], "one manifest, two tags");
    assert_eq!(
        v1["pinned"],
        format!("{r}/org/app@{}", reg.digest("org/app:v1"))
    );
    assert_eq!(
        v1["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    let labels = &v1["config"]["labels"];
    assert_eq!(labels["org.opencontainers.image.revision"], "a".repeat(40));
    assert_eq!(
        labels["org.opencontainers.image.source"],
        "https://github.com/acme/app"
    );
    assert_eq!(v1["config"]["created"], "2026-11-30T12:00:00Z");
    assert_eq!(v1["config"]["platform"], "linux/amd64");
    assert_eq!(doc["resolvedAt"], NOW);
}

#[test]
fn a_digest_is_proven_present_and_an_absent_one_or_tag_is_refused() {
    let reg = htpasswd();
    let cfg = reg.docker_config(PASSWORD);
    let r = reg.host();
    let d = reg.digest("org/app:v2");
    let doc = ok(reg.cmd(cfg.path()).arg(format!("{r}/org/app@{d}")));
    assert_eq!(doc["images"][0]["digest"], d);
    assert_eq!(doc["images"][0]["tag"], Value::Null);
    assert_eq!(
        doc["images"][0]["config"]["labels"]["org.opencontainers.image.revision"],
        "b".repeat(40)
    );
    let absent = format!("sha256:{}", "0".repeat(64));
    let mut cmd = reg.cmd(cfg.path());
    cmd.arg(format!("{r}/org/app@{absent}"));
    fails(
        cmd,
        3,
        "digest_missing",
        &format!("has no manifest {absent}"),
    );
    let mut cmd = reg.cmd(cfg.path());
    cmd.arg(format!("{r}/org/app:v9"));
    let shown = fails(cmd, 3, "tag_missing", "has no tag \"v9\"");
    assert!(
        shown.contains(&format!("image-resolve tags {r}/org/app")),
        "{shown}"
    );
    let mut cmd = reg.cmd(cfg.path());
    cmd.args(["tags", &format!("{r}/org/none")]);
    fails(cmd, 3, "repository_missing", "no such repository");
}

#[test]
fn an_index_lists_its_platforms_and_reads_the_one_asked_for() {
    let reg = htpasswd();
    let cfg = reg.docker_config(PASSWORD);
    let multi = format!("{}/org/multi:v1", reg.host());
    let doc = ok(reg.cmd(cfg.path()).arg(&multi));
    assert_schema(&doc);
    let image = &doc["images"][0];
    assert_eq!(image["digest"], reg.digest("org/multi:v1"));
    assert_eq!(
        image["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let platforms: Vec<&str> = image["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8"]);
    assert_eq!(image["selected"]["platform"], "linux/amd64");
    assert_eq!(image["selected"]["digest"], reg.digest("org/app:v1"));
    let doc = ok(reg
        .cmd(cfg.path())
        .args([&multi, "--platform", "linux/arm64"]));
    let image = &doc["images"][0];
    assert_eq!(image["selected"]["platform"], "linux/arm64/v8");
    assert_eq!(image["config"]["platform"], "linux/arm64/v8");
    assert_eq!(
        doc["images"][0]["digest"],
        reg.digest("org/multi:v1"),
        "the index is what is pinned"
    );
    let mut cmd = reg.cmd(cfg.path());
    cmd.args([&multi, "--platform", "linux/s390x"]);
    fails(
        cmd,
        3,
        "platform_missing",
        "it has linux/amd64, linux/arm64/v8",
    );
}

#[test]
fn a_retagged_image_is_detected_from_the_recorded_digest() {
    let reg = htpasswd();
    let cfg = reg.docker_config(PASSWORD);
    let before = std::fs::read_to_string(reg.state.path().join("moved-before")).unwrap();
    let reference = format!("{}/org/app:moved@{before}", reg.host());
    let out = reg.cmd(cfg.path()).arg(&reference).output().unwrap();
    assert!(out.status.success());
    let doc = json_out(&out);
    let image = &doc["images"][0];
    assert_eq!(
        image["digest"], before,
        "the recorded digest still exists and is what is reported"
    );
    assert_eq!(image["retagged"], true);
    assert_eq!(image["tagDigest"], reg.digest("org/app:moved"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the tag now points at"));
    let same = format!("{}/org/app:v1@{}", reg.host(), reg.digest("org/app:v1"));
    let doc = ok(reg.cmd(cfg.path()).arg(&same));
    assert_eq!(doc["images"][0]["retagged"], false);
}

#[test]
fn tags_are_listed_over_pages_and_selected_as_flux_policies_do() {
    let reg = htpasswd();
    let cfg = reg.docker_config(PASSWORD);
    let repo = format!("{}/org/many", reg.front_host());
    let all = reg.digests["org/many"].as_array().unwrap().len();
    let select = |args: &[&str]| {
        let mut cmd = reg.cmd(cfg.path());
        cmd.args(["tags", &repo, "--page-size", "7"]).args(args);
        ok(&mut cmd)
    };
    let doc = select(&["--policy", "semver:>=1.0.0 <2.0.0"]);
    assert_schema(&doc);
    assert_eq!(doc["total"], all);
    assert_eq!(doc["pages"], all.div_ceil(7), "every page read");
    assert_eq!(doc["passed"], 30);
    assert_eq!(doc["latest"]["tag"], "1.2.9");
    assert_eq!(doc["tags"][1]["tag"], "1.2.8", "latest first");
    assert_eq!(
        select(&["--policy", "semver:~1.1"])["latest"]["tag"],
        "1.1.9"
    );
    assert_eq!(
        select(&["--policy", "semver:>=2.0.0-rc.0"])["latest"]["tag"],
        "2.0.0-rc.1"
    );
    let doc = select(&[
        "--filter",
        r"^build-(?P<n>\d+)$",
        "--extract",
        "$n",
        "--policy",
        "numeric",
        "--latest",
    ]);
    assert_eq!(doc["latest"]["tag"], "build-112");
    assert_eq!(doc["latest"]["key"], "112");
    assert_eq!(doc["latest"]["digest"], reg.digest("org/app:v1"));
    assert_eq!(doc["tags"].as_array().unwrap().len(), 1);
    assert_eq!(doc["passed"], 13);
    let doc = select(&[
        "--filter",
        r"^build-(?P<n>\d+)$",
        "--extract",
        "$n",
        "--policy",
        "numeric",
        "--order",
        "desc",
    ]);
    assert_eq!(doc["latest"]["tag"], "build-100");
    let main = |n: &str| {
        let prefix = format!("main-{n}-");
        reg.digests["org/many"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t.as_str().unwrap().starts_with(&prefix))
            .unwrap()
            .clone()
    };
    let doc = select(&["--policy", r"regex:^main-(\d+)-", "--latest"]);
    assert_eq!(doc["latest"]["tag"], main("9"), "alphabetical: 9 after 12");
    let doc = select(&[
        "--filter",
        r"^main-(?P<n>\d+)-",
        "--extract",
        "$n",
        "--policy",
        "numeric",
    ]);
    assert_eq!(doc["latest"]["tag"], main("12"));
    let mut cmd = reg.cmd(cfg.path());
    cmd.args(["tags", &repo, "--policy", "semver:^9", "--latest"]);
    fails(
        cmd,
        3,
        "no_tag_selected",
        &format!("no tag of {all} passes semver:^9"),
    );
}

#[test]
fn missing_or_refused_credentials_are_exit_5_and_the_password_never_shows() {
    let reg = htpasswd();
    let r = reg.host();
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = reg.cmd(empty.path());
    cmd.arg(format!("{r}/org/app:v1"));
    let shown = fails(cmd, 5, "registry_auth", "needs credentials");
    assert!(shown.contains("hint: log in first"), "{shown}");
    let wrong = reg.docker_config("not-the-password");
    let mut cmd = reg.cmd(wrong.path());
    cmd.arg(format!("{r}/org/app:v1"));
    let shown = fails(cmd, 5, "registry_auth", "refused the credentials");
    assert!(!shown.contains("not-the-password"), "{shown}");
    let right = reg.docker_config(PASSWORD);
    for args in [
        vec![format!("{r}/org/app:v1")],
        vec![format!("{r}/org/app:nope")],
        vec!["tags".into(), format!("{r}/org/app")],
    ] {
        let out = reg
            .cmd(right.path())
            .args(&args)
            .arg("--json-errors")
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(PASSWORD), "{args:?}: {all}");
        assert!(
            !all.contains(&base64_encode(format!("ci:{PASSWORD}").as_bytes())),
            "{args:?}"
        );
    }
}

#[test]
fn an_untrusted_certificate_is_exit_5_and_insecure_warns() {
    let reg = htpasswd();
    let cfg = reg.docker_config(PASSWORD);
    let reference = format!("{}/org/app:v1", reg.host());
    let mut cmd = reg.cmd(cfg.path());
    cmd.env_remove("SSL_CERT_FILE").arg(&reference);
    let shown = fails(cmd, 5, "registry_tls", "TLS");
    assert!(shown.contains("SSL_CERT_FILE"), "{shown}");
    let out = reg
        .cmd(cfg.path())
        .env_remove("SSL_CERT_FILE")
        .args([&reference, "--insecure"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TLS verification is off"));
    assert_eq!(json_out(&out)["tlsVerify"], false);
    let mut cmd = reg.cmd(cfg.path());
    cmd.arg("127.0.0.1:1/org/app:v1");
    fails(cmd, 5, "registry_unreachable", "connection refused");
}

#[test]
fn the_token_flow_is_credentialed_or_anonymous_as_the_token_server_grants() {
    let reg = token();
    let cfg = reg.docker_config(PASSWORD);
    let empty = tempfile::tempdir().unwrap();
    let r = reg.host();
    let doc = ok(reg.cmd(cfg.path()).arg(format!("{r}/org/app:v2")));
    assert_eq!(doc["images"][0]["digest"], reg.digest("org/app:v2"));
    let doc = ok(reg.cmd(empty.path()).arg(format!("{r}/public/app:v1")));
    assert_eq!(doc["images"][0]["digest"], reg.digest("public/app:v1"));
    let mut cmd = reg.cmd(empty.path());
    cmd.arg(format!("{r}/org/app:v1"));
    fails(cmd, 5, "registry_auth", "none were found");
    let wrong = reg.docker_config("wrong");
    let mut cmd = reg.cmd(wrong.path());
    cmd.arg(format!("{r}/org/app:v1"));
    fails(
        cmd,
        5,
        "registry_auth",
        "token server refused the credentials",
    );
    let log = std::fs::read_to_string(reg.state.path().join("token.log")).unwrap();
    assert!(
        log.contains("/token anonymous repository:public/app:pull"),
        "{log}"
    );
    assert!(log.contains("/token ci repository:org/app:pull"), "{log}");
}

#[test]
fn a_credential_helper_answers_for_its_registry() {
    let reg = token();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let helper = bin.join("docker-credential-rtest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread host\necho \"$host\" >> {}/asked\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"ci\",\"Secret\":\"{PASSWORD}\"}}' \"$host\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = dir.path().join("cfg");
    std::fs::create_dir(&cfg).unwrap();
    std::fs::write(
        cfg.join("config.json"),
        format!(r#"{{"credHelpers":{{"{}":"rtest"}}}}"#, reg.host()),
    )
    .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let doc = ok(reg
        .cmd(&cfg)
        .env("PATH", &path)
        .arg(format!("{}/org/app:v1", reg.host())));
    assert_eq!(doc["images"][0]["digest"], reg.digest("org/app:v1"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("asked"))
            .unwrap()
            .trim(),
        reg.host()
    );
    std::fs::write(cfg.join("config.json"), r#"{"credsStore":"rtest"}"#).unwrap();
    let doc = ok(reg
        .cmd(&cfg)
        .env("PATH", &path)
        .arg(format!("{}/org/app:v2", reg.host())));
    assert_eq!(doc["images"][0]["digest"], reg.digest("org/app:v2"));
    std::fs::write(cfg.join("config.json"), r#"{"credsStore":"absent"}"#).unwrap();
    let mut cmd = reg.cmd(&cfg);
    cmd.arg(format!("{}/org/app:v2", reg.host()));
    fails(
        cmd,
        5,
        "credentials_invalid",
        "cannot run docker-credential-absent",
    );
}

#[test]
fn retry_after_is_honoured_and_tampered_bytes_are_refused() {
    let reg = token();
    let _one = FAULTS.lock().unwrap_or_else(|e| e.into_inner());
    let cfg = reg.docker_config(PASSWORD);
    let reference = format!("{}/org/app:v1", reg.front_host());
    // the first request is the unauthenticated one (401); the second answers 429 once
    reg.faults(serde_json::json!([{}, {"status": 429, "retryAfter": "1"}]));
    let start = std::time::Instant::now();
    let doc = ok(reg.cmd(cfg.path()).arg(&reference));
    assert!(
        start.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After waited"
    );
    assert_eq!(doc["images"][0]["digest"], reg.digest("org/app:v1"));
    let manifests = reg
        .front_log()
        .matches("GET /v2/org/app/manifests/v1\n")
        .count();
    assert_eq!(manifests, 3, "401, 429, 200");
    reg.faults(serde_json::json!([{}, {"status": 503}, {"status": 503}]));
    let mut cmd = reg.cmd(cfg.path());
    cmd.args([&reference, "--retries", "1"]);
    fails(cmd, 5, "registry_error", "503 after 2 attempts");
    reg.faults(serde_json::json!([{}, {"tamper": "body"}]));
    let mut cmd = reg.cmd(cfg.path());
    cmd.arg(&reference);
    fails(cmd, 3, "digest_mismatch", "Docker-Content-Digest");
    reg.faults(serde_json::json!([{}, {"tamper": "header"}]));
    let mut cmd = reg.cmd(cfg.path());
    cmd.arg(&reference);
    fails(
        cmd,
        3,
        "digest_mismatch",
        &format!("not sha256:{}", "0".repeat(64)),
    );
    let by_digest = format!("{}/org/app@{}", reg.front_host(), reg.digest("org/app:v2"));
    reg.faults(serde_json::json!([{}, {"tamper": "body"}]));
    let mut cmd = reg.cmd(cfg.path());
    cmd.arg(&by_digest);
    fails(
        cmd,
        3,
        "digest_mismatch",
        &format!("not {}", reg.digest("org/app:v2")),
    );
    reg.faults(serde_json::json!([{}, {"link": "https://evil.invalid/v2/org/app/tags/list"}]));
    let mut cmd = reg.cmd(cfg.path());
    cmd.args(["tags", &format!("{}/org/app", reg.front_host())]);
    fails(cmd, 5, "registry_error", "a Link to another host");
    reg.faults(serde_json::json!([]));
}

#[test]
fn the_report_feeds_oci_labels_and_digest_pin() {
    let reg = htpasswd();
    let cfg = reg.docker_config(PASSWORD);
    let report = reg
        .cmd(cfg.path())
        .arg(format!("{}/org/app:v1", reg.host()))
        .output()
        .unwrap();
    assert!(report.status.success());
    for (revision, decision) in [("a".repeat(40), "promote"), ("b".repeat(40), "hold")] {
        let out = tool("gate-eval")
            .args(["--preset", "oci-labels", "--now", NOW, "--no-step-summary"])
            .arg("--set")
            .arg(format!("expectedRevision={revision}"))
            .write_stdin(report.stdout.clone())
            .output()
            .unwrap();
        let d = json_out(&out);
        assert_eq!(d["summary"]["decision"], decision, "{d}");
    }
    let root = tempfile::tempdir().unwrap();
    let wf = root.path().join("deploy.yml");
    let old = format!("sha256:{}", "1".repeat(64));
    std::fs::write(
        &wf,
        format!(
            "jobs:\n  d:\n    steps:\n      - run: deploy {}/org/app@{old}\n",
            reg.host()
        ),
    )
    .unwrap();
    let report_file = root.path().join("images.json");
    std::fs::write(&report_file, &report.stdout).unwrap();
    let out = tool("digest-pin")
        .current_dir(root.path())
        .args(["--now", NOW, "--no-step-summary", "--root", "."])
        .arg("-i")
        .arg(&report_file)
        .arg("deploy.yml")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&wf).unwrap();
    assert!(
        text.contains(&format!(
            "{}/org/app@{}",
            reg.host(),
            reg.digest("org/app:v1")
        )),
        "{text}"
    );
}

#[test]
fn a_mirror_is_asked_and_the_pins_keep_the_registry_name() {
    let reg = htpasswd();
    let cfg = reg.docker_config(PASSWORD);
    let mirror = format!("ghcr.io={}", reg.host());
    let doc = ok(reg
        .cmd(cfg.path())
        .args(["ghcr.io/org/app:v1", "--mirror", &mirror]));
    let image = &doc["images"][0];
    assert_eq!(image["name"], "ghcr.io/org/app");
    assert_eq!(image["endpoint"], reg.host());
    assert_eq!(
        image["pinned"],
        format!("ghcr.io/org/app@{}", reg.digest("org/app:v1"))
    );
    let doc = ok(reg
        .cmd(cfg.path())
        .env(
            "ROLLOUT_REGISTRY_MIRRORS",
            format!("quay.io=localhost:1, {mirror}"),
        )
        .args(["tags", "ghcr.io/org/app", "--latest"]));
    assert_eq!(doc["name"], "ghcr.io/org/app");
    assert_eq!(doc["latest"]["tag"], "v2");
    let mut cmd = reg.cmd(cfg.path());
    cmd.args(["ghcr.io/org/app:v1", "--mirror", "ghcr.io=https://x"]);
    fails(cmd, 2, "argument_invalid", "no scheme");
}

#[test]
fn an_oci_listing_plans_a_clean_up_whose_commands_delete_only_what_is_unprotected() {
    let reg = htpasswd();
    let cfg = reg.docker_config(PASSWORD);
    let repo = format!("{}/acme/web", reg.host());
    let listing = reg
        .cmd(cfg.path())
        .args(["tags", &repo, "--digests"])
        .output()
        .unwrap();
    assert!(
        listing.status.success(),
        "{}",
        String::from_utf8_lossy(&listing.stderr)
    );
    let doc = json_out(&listing);
    assert_schema(&doc);
    let versions = doc["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "five tags, two manifests: {versions:?}");
    let kept = reg.digest("org/app:v1");
    let one = versions
        .iter()
        .find(|v| v["digest"] == kept.as_str())
        .unwrap();
    assert_eq!(
        one["tags"],
        serde_json::json!(["main-41-5e1c2a7", "main-42-9f0b3d1", "v1.3.0", "v1.4.2"])
    );
    assert_eq!(one["createdAt"], "2026-11-30T12:00:00Z");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tags.json");
    std::fs::write(&file, &listing.stdout).unwrap();
    // the deploy repository pins the v1 build: protected, whatever the rules select
    let pins = dir.path().join("pins.txt");
    std::fs::write(&pins, format!("{kept}\n")).unwrap();
    let plan = |format: &str| {
        tool("prune-plan")
            .args([
                "--now",
                "2026-12-30T00:00:00Z",
                "--no-step-summary",
                "--match",
                "*",
            ])
            .args([
                "--older-than",
                "7d",
                "--protect-tag",
                "none",
                "--format",
                format,
            ])
            .arg("--protect-digests")
            .arg(&pins)
            .arg("-i")
            .arg(&file)
            .output()
            .unwrap()
    };
    let out = plan("json");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = json_out(&out);
    assert_eq!(p["packages"][0]["package"], repo);
    let deleted: Vec<&Value> = p["packages"][0]["delete"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(deleted.len(), 1);
    let gone = deleted[0]["digest"].as_str().unwrap().to_string();
    assert_ne!(gone, kept);
    let out = plan("commands");
    let lines = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        lines.trim_end(),
        format!("skopeo delete docker://{repo}@{gone}  # DELETE /v2/acme/web/manifests/{gone}")
    );
    // the command deletes (skopeo reads DOCKER_CONFIG; the test registry's certificate is
    // self-signed, so verification is turned off for skopeo alone)
    let command = lines.trim_end().split("  #").next().unwrap().replacen(
        "delete",
        "delete --tls-verify=false",
        1,
    );
    let status = StdCommand::new("sh")
        .args(["-c", &command])
        .env("DOCKER_CONFIG", cfg.path())
        .status()
        .unwrap();
    assert!(status.success());
    let mut cmd = reg.cmd(cfg.path());
    cmd.arg(format!("{repo}@{gone}"));
    fails(cmd, 3, "digest_missing", "has no manifest");
    ok(reg.cmd(cfg.path()).arg(format!("{repo}@{kept}")));
    // a listing without --digests has no versions to plan from
    let bare = reg.cmd(cfg.path()).args(["tags", &repo]).output().unwrap();
    let out = tool("prune-plan")
        .args(["--match", "*", "--no-step-summary"])
        .write_stdin(bare.stdout)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("image-resolve tags REPO --digests"));
}
