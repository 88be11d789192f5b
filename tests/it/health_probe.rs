//! health-probe against real servers on 127.0.0.1 (`tests/support/health_server.py`:
//! healthy, failing, slow, flaky, redirecting and self-signed TLS endpoints), and its URL
//! list rules without any network.

use std::path::PathBuf;
use std::process::{Child, Command as StdCommand, Stdio};

use assert_cmd::Command;
use serde_json::Value;

use crate::common::{NOW, assert_refused, assert_schema, json_out, tool, wait_for_port};

const TOOL: &str = "health-probe";

/// A running health_server.py; killed when dropped (and it exits on its own when the test
/// process dies, through --stdin-eof).
struct Server {
    child: Child,
    state: tempfile::TempDir,
    port: u16,
    tls: bool,
}

impl Server {
    fn start(tls: bool) -> Server {
        let state = tempfile::tempdir().unwrap();
        let mut cmd = StdCommand::new("python3");
        cmd.arg(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/health_server.py"),
        )
        .args(["--state", state.path().to_str().unwrap(), "--stdin-eof"]);
        if tls {
            cmd.arg("--tls");
        }
        let child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the test health server");
        let port = wait_for_port(state.path(), "the health server");
        Server {
            child,
            state,
            port,
            tls,
        }
    }

    fn url(&self, path: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }

    fn cert(&self) -> PathBuf {
        self.state.path().join("cert.pem")
    }

    /// Requests the server received for `path`.
    fn hits(&self, path: &str) -> usize {
        std::fs::read_to_string(self.state.path().join("access.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| *l == format!("GET {path}"))
            .count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// health-probe with a fixed clock, short waits, and no proxy or extra trust from the
/// environment.
fn probe() -> Command {
    let mut cmd = tool(TOOL);
    for var in [
        "RUNTIME_HEALTH_URLS",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.args(["--now", NOW, "--compact", "--retry-delay", "50ms"]);
    cmd
}

fn check<'a>(doc: &'a Value, url: &str) -> &'a Value {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["url"] == url)
        .unwrap_or_else(|| panic!("no check for {url} in {doc}"))
}

#[test]
fn one_report_for_healthy_failing_slow_and_refused() {
    let server = Server::start(false);
    let refused = format!("http://127.0.0.1:{}/healthz", closed_port());
    let (ok, fail, slow) = (
        server.url("/healthz"),
        server.url("/status/500"),
        server.url("/slow/3000"),
    );
    let summary = tempfile::tempdir().unwrap();
    let summary_file = summary.path().join("summary.md");
    let out = probe()
        .args(["--url", &ok, "--urls"])
        .arg(format!("{fail},{slow}\n{refused}"))
        .args(["--timeout", "500ms", "--retries", "0", "--summary"])
        .arg(&summary_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let doc = json_out(&out);
    assert_schema(&doc);
    assert_eq!(doc["kind"], "health-report");
    assert_eq!(doc["checkedAt"], NOW);
    assert_eq!(doc["validateOnly"], false);
    let urls: Vec<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        [&ok, &fail, &slow, &refused],
        "order of the list kept"
    );

    let c = check(&doc, &ok);
    assert_eq!(
        (c["ok"].clone(), c["status"].clone()),
        (true.into(), 200.into())
    );
    assert!(c["error"].is_null() && c["reason"].is_null());
    assert_eq!(c["attempts"], 1);
    let c = check(&doc, &fail);
    assert_eq!(c["ok"], false);
    assert_eq!(c["status"], 500);
    assert_eq!(c["reason"], "status");
    assert_eq!(c["error"], "status 500, expected 200-299");
    let c = check(&doc, &slow);
    assert_eq!(c["reason"], "timeout", "{c}");
    assert!(c["status"].is_null());
    assert!(c["error"].as_str().unwrap().contains("500ms"), "{c}");
    let latency = c["latencyMs"].as_u64().unwrap();
    assert!(
        (400..2900).contains(&latency),
        "timed out near 500ms: {latency}"
    );
    let c = check(&doc, &refused);
    assert_eq!(c["reason"], "connection_refused", "{c}");
    assert_eq!(
        doc["summary"],
        serde_json::json!({"total": 4, "healthy": 1, "unhealthy": 3, "allHealthy": false})
    );

    // each unhealthy URL is a warning; the Markdown summary is a table of the checks
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("health-probe: warning: {fail}: status 500")),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 3, "{stderr}");
    let md = std::fs::read_to_string(&summary_file).unwrap();
    assert!(md.starts_with("## Runtime health: 1 of 4 healthy"), "{md}");
    assert!(
        md.contains(&format!("| {fail} | ❌ unhealthy | 500 |")),
        "{md}"
    );

    // --fail-on-unhealthy: the same report, exit 1
    let out = probe()
        .args([
            "--url",
            &ok,
            "--url",
            &fail,
            "--retries",
            "0",
            "--fail-on-unhealthy",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_out(&out)["summary"]["unhealthy"], 1);
    let out = probe()
        .args(["--url", &ok, "--fail-on-unhealthy"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json_out(&out)["summary"]["allHealthy"], true);
}

#[test]
fn a_flaky_endpoint_passes_on_retry_and_fails_without() {
    let server = Server::start(false);
    let out = probe()
        .args(["--url", &server.url("/flaky/a"), "--retries", "2"])
        .output()
        .unwrap();
    let c = &json_out(&out)["checks"][0];
    assert_eq!(
        (c["ok"].clone(), c["attempts"].clone()),
        (true.into(), 2.into()),
        "{c}"
    );
    assert_eq!(server.hits("/flaky/a"), 2);

    let out = probe()
        .args(["--url", &server.url("/flaky/b?fail=5"), "--retries", "2"])
        .output()
        .unwrap();
    let c = &json_out(&out)["checks"][0];
    assert_eq!(c["ok"], false);
    assert_eq!(c["attempts"], 3, "retries are bounded");
    assert_eq!(c["status"], 503);
    assert_eq!(server.hits("/flaky/b?fail=5"), 3);

    let out = probe()
        .args(["--url", &server.url("/flaky/c"), "--retries", "0"])
        .output()
        .unwrap();
    let c = &json_out(&out)["checks"][0];
    assert_eq!(
        (c["ok"].clone(), c["attempts"].clone()),
        (false.into(), 1.into())
    );
}

#[test]
fn redirects_are_followed_and_bounded() {
    let server = Server::start(false);
    let out = probe()
        .args([
            "--url",
            &server.url("/loop"),
            "--url",
            &server.url("/redirect/2"),
        ])
        .args(["--max-redirects", "3", "--retries", "0"])
        .output()
        .unwrap();
    let doc = json_out(&out);
    let looped = &doc["checks"][0];
    assert_eq!(looped["ok"], false);
    assert_eq!(looped["reason"], "too_many_redirects");
    assert_eq!(looped["error"], "more than 3 redirects");
    assert_eq!(server.hits("/loop"), 4, "the first request and 3 redirects");
    let followed = &doc["checks"][1];
    assert_eq!(
        (followed["ok"].clone(), followed["status"].clone()),
        (true.into(), 200.into())
    );

    // --max-redirects 0: the 3xx is the answer, judged by --expect-status
    let out = probe()
        .args([
            "--url",
            &server.url("/redirect/1"),
            "--max-redirects",
            "0",
            "--retries",
            "0",
        ])
        .output()
        .unwrap();
    let c = &json_out(&out)["checks"][0];
    assert_eq!(
        (c["status"].clone(), c["reason"].clone()),
        (302.into(), "status".into())
    );
    let out = probe()
        .args(["--url", &server.url("/redirect/1"), "--max-redirects", "0"])
        .args(["--expect-status", "200-299,302"])
        .output()
        .unwrap();
    assert_eq!(json_out(&out)["checks"][0]["ok"], true);
}

#[test]
fn tls_is_verified_unless_insecure_or_trusted() {
    let server = Server::start(true);
    let url = server.url("/healthz");
    let out = probe()
        .args(["--url", &url, "--retries", "0"])
        .output()
        .unwrap();
    let doc = json_out(&out);
    assert_eq!(doc["settings"]["tlsVerify"], true);
    let c = &doc["checks"][0];
    assert_eq!(
        (c["ok"].clone(), c["reason"].clone()),
        (false.into(), "tls".into()),
        "{c}"
    );
    assert!(
        c["error"]
            .as_str()
            .unwrap()
            .contains("certificate verify failed"),
        "{c}"
    );

    let out = probe()
        .args(["--url", &url, "--retries", "0", "--insecure"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc = json_out(&out);
    assert_eq!(doc["checks"][0]["ok"], true, "{doc}");
    assert_eq!(doc["settings"]["tlsVerify"], false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("health-probe: warning: TLS verification is off (--insecure)"),
        "{stderr}"
    );

    // a private CA through SSL_CERT_FILE, as curl and git take it: verified, no warning
    let out = probe()
        .env("SSL_CERT_FILE", server.cert())
        .args(["--url", &url, "--retries", "0"])
        .output()
        .unwrap();
    assert_eq!(json_out(&out)["checks"][0]["ok"], true, "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn expect_body_and_status() {
    let server = Server::start(false);
    let out = probe()
        .args([
            "--url",
            &server.url("/healthz"),
            "--url",
            &server.url("/status/200"),
        ])
        .args(["--url", &server.url("/status/404"), "--retries", "0"])
        .args(["--expect-body", r#""status":"(ok|404)""#])
        .output()
        .unwrap();
    let doc = json_out(&out);
    assert_eq!(doc["checks"][0]["ok"], true);
    let c = &doc["checks"][1];
    assert_eq!(
        (c["ok"].clone(), c["reason"].clone()),
        (false.into(), "body".into())
    );
    assert_eq!(c["status"], 200);
    assert_eq!(
        doc["checks"][2]["reason"], "status",
        "status is judged first"
    );
    assert_eq!(doc["settings"]["expectBody"], r#""status":"(ok|404)""#);

    let out = probe()
        .args([
            "--url",
            &server.url("/status/404"),
            "--expect-status",
            "404",
        ])
        .output()
        .unwrap();
    assert_eq!(json_out(&out)["checks"][0]["ok"], true);
}

#[test]
fn validate_only_normalises_and_sends_nothing() {
    let server = Server::start(false);
    let list = format!(
        "HTTP://127.0.0.1:{p}/healthz#top, http://127.0.0.1:{p}/healthz\nhttps://Web.Example.com:443",
        p = server.port
    );
    let out = probe()
        .args(["--validate-only", "--urls", &list])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let doc = json_out(&out);
    assert_schema(&doc);
    assert_eq!(doc["validateOnly"], true);
    assert_eq!(
        doc["urls"],
        serde_json::json!([server.url("/healthz"), "https://web.example.com/"])
    );
    assert_eq!(doc["checks"], serde_json::json!([]));
    assert_eq!(doc["summary"]["allHealthy"], false, "nothing was checked");
    assert_eq!(server.hits("/healthz"), 0, "no request");

    let out = probe()
        .args(["--validate-only", "--urls", &list, "--jq", ".urls[]"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("{}\nhttps://web.example.com/\n", server.url("/healthz"))
    );

    // a validate-only report never passes the gate
    let report = probe()
        .args(["--validate-only", "--urls", &list])
        .output()
        .unwrap()
        .stdout;
    let out = tool("gate-eval")
        .args(["--preset", "runtime-health", "--now", NOW, "--compact"])
        .write_stdin(report)
        .output()
        .unwrap();
    let decision = json_out(&out);
    assert_eq!(decision["summary"]["decision"], "hold", "{decision}");
    assert!(
        decision.to_string().contains("runtime_health_no_checks"),
        "{decision}"
    );
}

#[test]
fn the_list_comes_from_flags_else_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let out = probe()
        .env(
            "RUNTIME_HEALTH_URLS",
            "https://a.example/h,\nhttps://b.example/h",
        )
        .args(["--validate-only", "--jq", ".urls | join(\" \")"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "https://a.example/h https://b.example/h\n"
    );
    // flags win over the variable, --url entries first
    let out = probe()
        .env("RUNTIME_HEALTH_URLS", "https://a.example/h")
        .args([
            "--validate-only",
            "--urls",
            "https://c.example/h",
            "--url",
            "https://d.example/h",
        ])
        .args(["--jq", ".urls | join(\" \")"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "https://d.example/h https://c.example/h\n"
    );

    // -i: a list in a file (comment lines allowed) or on stdin, after --url/--urls
    let list = dir.path().join("health-urls.txt");
    std::fs::write(
        &list,
        "# production\nhttps://a.example/h\nhttps://b.example/h\n",
    )
    .unwrap();
    let out = probe()
        .env("RUNTIME_HEALTH_URLS", "https://ignored.example/h")
        .args(["--validate-only", "--url", "https://b.example/h", "-i"])
        .arg(&list)
        .args(["--jq", ".urls | join(\" \")"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "https://b.example/h https://a.example/h\n"
    );
    let out = probe()
        .args(["--validate-only", "-i", "-", "--jq", ".urls[]"])
        .write_stdin("https://c.example/h\n")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "https://c.example/h\n"
    );
    let mut cmd = probe();
    cmd.current_dir(dir.path()).args(["-i", "missing.txt"]);
    assert_refused(dir.path(), cmd, TOOL, 2, "input_unreadable", "missing.txt");
    let mut cmd = probe();
    cmd.current_dir(dir.path())
        .args(["-i", "-"])
        .write_stdin("https://a.example/h ftp://x/\n");
    assert_refused(
        dir.path(),
        cmd,
        TOOL,
        2,
        "url_invalid",
        "stdin: URL 2 \"ftp://x/\"",
    );

    // credentials: refused, never shown, wherever the list comes from
    let mut cmd = probe();
    cmd.current_dir(dir.path()).env(
        "RUNTIME_HEALTH_URLS",
        "https://ok.example/h https://deploy:tok3n-s3cret@api.example.com/healthz",
    );
    assert_refused(
        dir.path(),
        cmd,
        TOOL,
        2,
        "url_credentials",
        "RUNTIME_HEALTH_URLS: URL 2 \"https://api.example.com/healthz\" carries credentials",
    );
    let out = probe()
        .args([
            "--url",
            "https://tok3n-s3cret@api.example.com/",
            "--json-errors",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("tok3n-s3cret"), "{all}");
    assert_eq!(json_out(&out)["reasonCode"], "url_credentials");

    // empty lists: exit 2
    for (var, flags) in [
        (None, vec![]),
        (Some(""), vec![]),
        (Some(" , \n"), vec![]),
        (Some("https://a.example/h"), vec!["--urls", ""]),
    ] {
        let mut cmd = probe();
        cmd.current_dir(dir.path()).args(&flags);
        if let Some(v) = var {
            cmd.env("RUNTIME_HEALTH_URLS", v);
        }
        assert_refused(dir.path(), cmd, TOOL, 2, "urls_empty", "no health URLs");
    }

    for (list, message) in [
        (
            "ftp://files.example/",
            "URL 1 \"ftp://files.example/\": scheme \"ftp\" is not http or https",
        ),
        (
            "https://ok.example/ example.com/healthz",
            "URL 2 \"example.com/healthz\": not an absolute URL",
        ),
        ("http://", "URL 1 \"http://\": empty host"),
        (
            "[\"https://a.example/\", 3]",
            "URL 2 \"3\": expected a string",
        ),
    ] {
        let mut cmd = probe();
        cmd.current_dir(dir.path()).args(["--urls", list]);
        assert_refused(
            dir.path(),
            cmd,
            TOOL,
            2,
            "url_invalid",
            &format!("--urls: {message}"),
        );
    }
}

#[test]
fn bad_flags_are_refused_before_any_request() {
    let server = Server::start(false);
    let dir = tempfile::tempdir().unwrap();
    for (flags, reason, message) in [
        (
            vec!["--retries", "11"],
            "argument_invalid",
            "--retries \"11\": at most 10",
        ),
        (
            vec!["--concurrency", "0"],
            "argument_invalid",
            "--concurrency \"0\": between 1 and 64",
        ),
        (
            vec!["--max-redirects", "21"],
            "argument_invalid",
            "--max-redirects \"21\": at most 20",
        ),
        (
            vec!["--expect-status", "2xx"],
            "argument_invalid",
            "--expect-status \"2xx\": \"2xx\" is not an HTTP status",
        ),
        (
            vec!["--expect-status", "299-200"],
            "argument_invalid",
            "runs backwards",
        ),
        (
            vec!["--expect-body", "("],
            "argument_invalid",
            "--expect-body \"(\": invalid regex",
        ),
        (
            vec!["--timeout", "0s"],
            "argument_invalid",
            "--timeout \"0s\": must be more than 0",
        ),
        (
            vec!["--timeout", "5"],
            "duration_invalid",
            "invalid wait \"5\"",
        ),
        (vec!["--timeout", "61m"], "duration_invalid", "at most 1h"),
    ] {
        let mut cmd = probe();
        cmd.current_dir(dir.path())
            .args(["--url", &server.url("/healthz")])
            .args(&flags);
        assert_refused(dir.path(), cmd, TOOL, 2, reason, message);
    }
    assert_eq!(server.hits("/healthz"), 0);
}

#[test]
fn feeds_the_runtime_health_gate() {
    let server = Server::start(false);
    let gate = |report: Vec<u8>| {
        let out = tool("gate-eval")
            .args([
                "--preset",
                "runtime-health",
                "--now",
                NOW,
                "--compact",
                "--fail-on-hold",
            ])
            .write_stdin(report)
            .output()
            .unwrap();
        (out.status.code(), json_out(&out))
    };
    let healthy = probe()
        .args([
            "--url",
            &server.url("/healthz"),
            "--url",
            &server.url("/flaky/x"),
        ])
        .output()
        .unwrap();
    let (code, decision) = gate(healthy.stdout);
    assert_eq!(code, Some(0), "{decision}");
    assert_eq!(decision["summary"]["decision"], "promote");

    let unhealthy = probe()
        .args([
            "--url",
            &server.url("/healthz"),
            "--url",
            &server.url("/status/503"),
        ])
        .args(["--retries", "0"])
        .output()
        .unwrap();
    let (code, decision) = gate(unhealthy.stdout);
    assert_eq!(code, Some(1));
    assert_eq!(decision["summary"]["decision"], "hold");
    assert!(
        decision.to_string().contains("runtime_health_unhealthy"),
        "{decision}"
    );
}

#[test]
fn an_https_url_that_lands_on_plain_http_is_not_healthy() {
    let tls = Server::start(true);
    let plain = Server::start(false);
    let target = plain.url("/healthz");
    let url = tls.url(&format!(
        "/goto/{}",
        target.replace(':', "%3A").replace('/', "%2F")
    ));
    let run = |extra: &[&str]| {
        let out = probe()
            .env("SSL_CERT_FILE", tls.cert())
            .args(["--url", &url, "--retries", "0"])
            .args(extra)
            .output()
            .unwrap();
        json_out(&out)["checks"][0].clone()
    };
    let c = run(&[]);
    assert_eq!(
        (c["ok"].clone(), c["reason"].clone()),
        (false.into(), "redirect_downgrade".into()),
        "{c}"
    );
    assert!(
        c["error"]
            .as_str()
            .unwrap()
            .contains(&format!("to plain http ({target})")),
        "{c}"
    );
    let c = run(&["--allow-downgrade"]);
    assert_eq!(c["ok"], true, "{c}");
}
