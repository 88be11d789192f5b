//! tag-bump over SSH against a real `sshd` (Debian's openssh-server) that each test starts on
//! 127.0.0.1 on a free port, with its own host key, `authorized_keys` and configuration,
//! and stops when dropped. `known_hosts` files are made by OpenSSH's own tools
//! (`ssh-keyscan`, `ssh-keygen -H`), keys by `ssh-keygen`, the agent is a real `ssh-agent`.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use tempfile::TempDir;

use crate::common::{NOW, git, json_out, tool};
use crate::tag_bump::Flux;

/// A running sshd serving the bare repositories of the file system to the current user.
struct Sshd {
    child: Child,
    dir: TempDir,
    port: u16,
}

fn run(program: &str, args: &[&str]) -> String {
    let out = StdCommand::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (make test-deps installs it)"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A new unencrypted ed25519 key pair at `path` (and `path.pub`).
fn keygen(path: &Path) {
    run(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "test",
            "-f",
            path.to_str().unwrap(),
        ],
    );
}

fn user() -> String {
    run("id", &["-un"]).trim().to_string()
}

impl Sshd {
    fn start(authorized: &[&Path]) -> Sshd {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        keygen(&d.join("host_ed25519"));
        let mut keys = String::new();
        for k in authorized {
            keys.push_str(&std::fs::read_to_string(k.with_extension("pub")).unwrap());
        }
        std::fs::write(d.join("authorized_keys"), keys).unwrap();
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "ListenAddress 127.0.0.1\nHostKey {d}/host_ed25519\nAuthorizedKeysFile {d}/authorized_keys\n\
                 PidFile {d}/sshd.pid\nStrictModes no\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin prohibit-password\n\
                 LogLevel VERBOSE\n",
                d = d.display()
            ),
        )
        .unwrap();
        // sshd run by root needs its privilege separation directory (the service makes it)
        if user() == "root" {
            std::fs::create_dir_all("/run/sshd").unwrap();
        }
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let log = std::fs::File::create(d.join("sshd.log")).unwrap();
            let mut child = StdCommand::new("/usr/sbin/sshd")
                .args(["-D", "-e", "-p", &port.to_string(), "-f"])
                .arg(d.join("sshd_config"))
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("/usr/sbin/sshd runs (make test-deps installs openssh-server)");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Sshd { child, dir, port };
                }
                if child.try_wait().unwrap().is_some() {
                    break; // the port was taken meanwhile: another one
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "sshd did not start: {}",
            std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default()
        );
    }

    fn url(&self, repo: &Path) -> String {
        format!("ssh://{}@127.0.0.1:{}{}", user(), self.port, repo.display())
    }

    fn host_pub(&self) -> PathBuf {
        self.dir.path().join("host_ed25519.pub")
    }

    /// What `ssh-keyscan` says the server's keys are (a known_hosts file's lines).
    fn keyscan(&self) -> String {
        let lines = run(
            "ssh-keyscan",
            &["-t", "ed25519", "-p", &self.port.to_string(), "127.0.0.1"],
        );
        assert!(lines.contains("ssh-ed25519"), "ssh-keyscan: {lines:?}");
        lines
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real ssh-agent on a socket in `dir`, stopped when dropped.
struct Agent {
    child: Child,
    sock: PathBuf,
}

impl Agent {
    fn start(dir: &Path, key: &Path) -> Agent {
        let sock = dir.join("agent.sock");
        let child = StdCommand::new("ssh-agent")
            .args(["-D", "-a"])
            .arg(&sock)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-agent runs");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sock.exists() {
            assert!(Instant::now() < deadline, "ssh-agent did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = StdCommand::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &sock)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ssh-add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Agent { child, sock }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// tag-bump --clone over SSH into a new workdir under `home`, with nothing of the caller's
/// environment: HOME is `home`, no agent, no key variable.
fn over_ssh(url: &str, home: &Path, workdir: &str, extra: &[&str]) -> Command {
    let mut cmd = tool("tag-bump");
    cmd.args(["--clone", url, "--workdir"])
        .arg(home.join(workdir))
        .args(["--compact", "--json-errors", "--service", "papi", "--push"])
        .args(extra)
        .env("ROLLOUT_NOW", NOW)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1");
    for v in [
        "GIT_TOKEN",
        "GITHUB_TOKEN",
        "GIT_USER",
        "GIT_SSH_KEY",
        "SSH_AUTH_SOCK",
    ] {
        cmd.env_remove(v);
    }
    cmd
}

/// Run and expect exit 5 with `reason`; the message.
fn refused(mut cmd: Command, reason: &str) -> String {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    let doc = json_out(&out);
    assert_eq!(doc["reasonCode"], reason, "{doc}");
    doc["message"].as_str().unwrap().to_string()
}

fn pushed(mut cmd: Command) -> String {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert_eq!(json_out(&out)["push"]["pushed"], true);
    stderr
}

#[test]
fn ssh_host_keys_are_checked_against_known_hosts() {
    let f = Flux::new();
    let scratch = tempfile::tempdir().unwrap();
    let home = scratch.path();
    let key = home.join("deploy_key");
    keygen(&key);
    let sshd = Sshd::start(&[&key]);
    let url = sshd.url(&f.remote());
    let host_key = std::fs::read_to_string(sshd.host_pub()).unwrap();
    let fingerprint = run(
        "ssh-keygen",
        &["-l", "-f", sshd.host_pub().to_str().unwrap()],
    );
    let fingerprint = fingerprint.split_whitespace().nth(1).unwrap();
    let k = key.to_str().unwrap();
    let kh = home.join("known_hosts");
    let khs = kh.to_str().unwrap();
    let name = format!("[127.0.0.1]:{}", sshd.port);
    // a run with the deploy key, checked against the known_hosts file under test
    let pinned = |tag: &str| {
        over_ssh(
            &url,
            home,
            "w",
            &["--tag", tag, "--ssh-key", k, "--known-hosts", khs],
        )
    };

    // No known_hosts at all (HOME has no .ssh): unknown, refused, nothing cloned.
    let m = refused(
        over_ssh(&url, home, "w", &["--tag", "s1", "--ssh-key", k]),
        "host_key_unknown",
    );
    assert!(
        m.contains(&format!(
            "host key of {name} (ssh-ed25519 {fingerprint}) is unknown"
        )),
        "{m}"
    );
    assert!(
        m.contains(&format!("ssh-keyscan -p {} 127.0.0.1", sshd.port)),
        "{m}"
    );
    assert!(!home.join("w").exists());

    // An empty file: unknown. A key of another type only: unknown, and the message says so.
    std::fs::write(&kh, "").unwrap();
    let m = refused(pinned("s1"), "host_key_unknown");
    assert!(m.contains(&format!("is not in {khs}")), "{m}");
    run(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ecdsa",
            "-N",
            "",
            "-f",
            home.join("other_ecdsa").to_str().unwrap(),
        ],
    );
    let ecdsa = std::fs::read_to_string(home.join("other_ecdsa.pub")).unwrap();
    std::fs::write(&kh, format!("{name} {ecdsa}")).unwrap();
    let m = refused(pinned("s1"), "host_key_unknown");
    assert!(m.contains("records only ecdsa-sha2-nistp256 keys"), "{m}");

    // Another ed25519 key recorded for this host: changed, the line named.
    keygen(&home.join("impostor"));
    let impostor = std::fs::read_to_string(home.join("impostor.pub")).unwrap();
    std::fs::write(&kh, format!("# fleet hosts\n{name} {impostor}")).unwrap();
    let m = refused(pinned("s1"), "host_key_changed");
    assert!(m.contains(&format!("{khs} line 2 records another")), "{m}");
    assert!(m.contains(&format!("ssh-keygen -R '{name}'")), "{m}");
    assert!(!home.join("w").exists());
    assert_eq!(f.remote_log().len(), 1, "nothing pushed");

    // The key as ssh-keyscan reports it: pushed.
    std::fs::write(&kh, sshd.keyscan()).unwrap();
    pushed(pinned("s1"));
    assert!(
        f.remote_file("apps/backend-services/kustomization.yaml")
            .contains("newTag: s1")
    );

    // @revoked wins over a line that records the key.
    let revoked = format!("{}@revoked * {host_key}", sshd.keyscan());
    std::fs::write(&kh, revoked).unwrap();
    let m = refused(pinned("s2"), "host_key_revoked");
    assert!(m.contains("is revoked"), "{m}");

    // Hashed names (ssh-keygen -H), in the default ~/.ssh/known_hosts: pushed.
    let dot_ssh = home.join(".ssh");
    std::fs::create_dir_all(&dot_ssh).unwrap();
    std::fs::write(dot_ssh.join("known_hosts"), sshd.keyscan()).unwrap();
    run(
        "ssh-keygen",
        &["-H", "-f", dot_ssh.join("known_hosts").to_str().unwrap()],
    );
    let hashed = std::fs::read_to_string(dot_ssh.join("known_hosts")).unwrap();
    assert!(
        hashed.starts_with("|1|") && !hashed.contains("127.0.0.1"),
        "{hashed}"
    );
    pushed(over_ssh(&url, home, "w", &["--tag", "s2", "--ssh-key", k]));
    assert!(
        f.remote_file("apps/backend-services/kustomization.yaml")
            .contains("newTag: s2")
    );

    // --insecure accepts an unknown key, and says so.
    std::fs::write(dot_ssh.join("known_hosts"), format!("{name} {impostor}")).unwrap();
    let stderr = pushed(over_ssh(
        &url,
        home,
        "w",
        &["--tag", "s3", "--ssh-key", k, "--insecure"],
    ));
    assert!(
        stderr.contains("SSH host key verification are off (--insecure)"),
        "{stderr}"
    );
    // GIT_SSL_NO_VERIFY is about TLS only: the changed host key is still refused.
    let mut cmd = over_ssh(&url, home, "w", &["--tag", "s4", "--ssh-key", k]);
    cmd.env("GIT_SSL_NO_VERIFY", "true");
    refused(cmd, "host_key_changed");
}

#[test]
fn ssh_keys_from_the_flag_the_environment_the_agent_and_home() {
    let f = Flux::new();
    let scratch = tempfile::tempdir().unwrap();
    let home = scratch.path();
    let dot_ssh = home.join(".ssh");
    std::fs::create_dir_all(&dot_ssh).unwrap();
    let authorized = home.join("authorized");
    keygen(&authorized);
    let stranger = home.join("stranger");
    keygen(&stranger);
    let sshd = Sshd::start(&[&authorized]);
    let url = sshd.url(&f.remote());
    std::fs::write(dot_ssh.join("known_hosts"), sshd.keyscan()).unwrap();

    // No key anywhere: authentication fails naming every place a key could come from.
    let m = refused(
        over_ssh(&url, home, "w", &["--tag", "k1"]),
        "authentication_failed",
    );
    assert!(
        m.contains("no SSH key to offer") && m.contains("~/.ssh/id_ed25519"),
        "{m}"
    );

    // A key the server does not know: refused, the key named.
    let m = refused(
        over_ssh(
            &url,
            home,
            "w",
            &["--tag", "k1", "--ssh-key", stranger.to_str().unwrap()],
        ),
        "authentication_failed",
    );
    assert!(
        m.ends_with(&format!(
            ": authentication failed (tried {})",
            stranger.display()
        )),
        "{m}"
    );
    assert!(!home.join("w").exists());

    // A named key that does not exist is a usage error before any connection.
    let out = over_ssh(
        &url,
        home,
        "w",
        &["--tag", "k1", "--ssh-key", "/nonexistent/key"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json_out(&out)["reasonCode"], "argument_invalid");
    let mut cmd = over_ssh(&url, home, "w", &["--tag", "k1"]);
    cmd.env("GIT_SSH_KEY", "/nonexistent/key");
    assert_eq!(cmd.output().unwrap().status.code(), Some(2));

    // GIT_SSH_KEY as a path, then as the key's text (as a CI secret holds it): pushed, and
    // the key's text is never printed.
    let mut cmd = over_ssh(&url, home, "w", &["--tag", "k1"]);
    cmd.env("GIT_SSH_KEY", &authorized);
    pushed(cmd);
    let text = std::fs::read_to_string(&authorized).unwrap();
    let mut cmd = over_ssh(&url, home, "w2", &["--tag", "k2"]);
    cmd.env("GIT_SSH_KEY", &text);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body = text.lines().nth(1).unwrap();
    for stream in [&out.stdout, &out.stderr] {
        assert!(
            !String::from_utf8_lossy(stream).contains(body),
            "key text leaked"
        );
    }

    // The ssh-agent, offered first: the stranger's key in ~/.ssh/id_ed25519 is never needed.
    let agent = Agent::start(home, &authorized);
    std::fs::copy(&stranger, dot_ssh.join("id_ed25519")).unwrap();
    let mut cmd = over_ssh(&url, home, "w3", &["--tag", "k3"]);
    cmd.env("SSH_AUTH_SOCK", &agent.sock);
    pushed(cmd);
    drop(agent);

    // An agent holding only a key the server refuses: ~/.ssh/id_ed25519 is tried next, as
    // ssh would.
    let agent = Agent::start(&home.join(".ssh"), &stranger);
    std::fs::copy(&authorized, dot_ssh.join("id_ed25519")).unwrap();
    let mut cmd = over_ssh(&url, home, "w4", &["--tag", "k4"]);
    cmd.env("SSH_AUTH_SOCK", &agent.sock);
    pushed(cmd);
    let log = f.remote_log();
    assert_eq!(log.len(), 5, "{log:?}");
    assert!(
        f.remote_file("apps/backend-services/kustomization.yaml")
            .contains("newTag: k4")
    );
    // A clone over SSH keeps the SSH URL as origin: the next run fetches through it.
    let origin = git(&home.join("w4"), &["remote", "get-url", "origin"]);
    assert_eq!(origin.trim(), url);
}
