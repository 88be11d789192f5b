//! SSH remotes: which URLs are SSH, which keys tag-bump offers, and whether the key a server
//! shows is the one `known_hosts` records for it.
//!
//! libgit2's SSH transport (libssh2) speaks the protocol; it leaves three decisions to the
//! caller, and they are made here as pure functions over text and bytes, so that every case
//! is tested without a server:
//!
//! * **the URL**: `ssh://[user@]host[:port]/path`, `git+ssh://…` and git's scp-like
//!   `[user@]host:path`, and the name the host has in `known_hosts` (`host` on port 22,
//!   `[host]:port` elsewhere, as OpenSSH writes it);
//! * **the keys**, in the order they are offered: the one `--ssh-key` or `GIT_SSH_KEY` names
//!   (alone: an explicit key is never mixed with others), else the ssh-agent, then
//!   `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`, as OpenSSH tries them;
//! * **the host key**: known, unknown, changed or revoked, read from OpenSSH's own format
//!   (plain and hashed `|1|salt|hash` host names, `*`/`?` patterns, `!` negation, the
//!   `@revoked` marker; `@cert-authority` lines are skipped: libgit2 does not show
//!   certificates). An unknown or changed key is refused; there is no trust on first use.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Digest;

/// The host part of an SSH remote URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshUrl {
    /// The user in the URL (`git@…`), when there is one.
    pub user: Option<String>,
    /// The host name or address, without IPv6 brackets.
    pub host: String,
    /// The port (22 unless the URL says).
    pub port: u16,
}

impl SshUrl {
    /// The name OpenSSH gives this host in `known_hosts`: `host` on port 22, else
    /// `[host]:port`.
    pub fn known_hosts_name(&self) -> String {
        if self.port == 22 {
            self.host.clone()
        } else {
            format!("[{}]:{}", self.host, self.port)
        }
    }
}

/// Parse an SSH remote URL; `None` when the URL is not SSH (https, file, a local path).
pub fn parse_url(url: &str) -> Option<SshUrl> {
    if let Some((scheme, rest)) = url.split_once("://") {
        if !matches!(scheme, "ssh" | "git+ssh" | "ssh+git") {
            return None;
        }
        let authority = rest.split('/').next().unwrap_or("");
        let (user, hostport) = split_user(authority);
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().ok()?,
                None if after.is_empty() => 22,
                None => return None,
            };
            (host.to_string(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().ok()?),
                None => (hostport.to_string(), 22),
            }
        };
        return (!host.is_empty()).then_some(SshUrl { user, host, port });
    }
    // scp-like: [user@]host:path, where the part before the first ':' holds no '/'
    if url.starts_with('/') || url.starts_with('.') {
        return None;
    }
    let (before, _path) = url.split_once(':')?;
    if before.contains('/') || before.is_empty() {
        return None;
    }
    let (user, host) = split_user(before);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then(|| SshUrl {
        user,
        host: host.to_string(),
        port: 22,
    })
}

fn split_user(authority: &str) -> (Option<String>, &str) {
    match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u.to_string()), h),
        None => (None, authority),
    }
}

/// A key tag-bump can offer an SSH server.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A private key file (`--ssh-key`, `GIT_SSH_KEY=PATH`, `~/.ssh/id_*`).
    File(PathBuf),
    /// A private key given as text in `GIT_SSH_KEY` (as CI secrets hold it).
    Inline(String),
    /// The identities of the running ssh-agent (`SSH_AUTH_SOCK`).
    Agent,
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl KeySource {
    /// How the key is named in messages (never its text).
    pub fn describe(&self) -> String {
        match self {
            KeySource::File(p) => p.display().to_string(),
            KeySource::Inline(_) => "the key in GIT_SSH_KEY".into(),
            KeySource::Agent => "the ssh-agent".into(),
        }
    }
}

/// The key files OpenSSH tries when none is named, in its order.
pub const DEFAULT_KEY_FILES: [&str; 3] = ["id_ed25519", "id_ecdsa", "id_rsa"];

/// The keys to offer, in order. An explicit key (`flag`, else `env_key`, which is a path or
/// the key's own text) is offered alone; otherwise the agent (when `agent`), then each
/// default key file under `home/.ssh` that `exists`.
pub fn key_sources(
    flag: Option<&Path>,
    env_key: Option<&str>,
    agent: bool,
    home: Option<&Path>,
    exists: impl Fn(&Path) -> bool,
) -> Vec<KeySource> {
    if let Some(path) = flag {
        return vec![KeySource::File(path.to_path_buf())];
    }
    if let Some(key) = env_key {
        return vec![if key.trim_start().starts_with("-----BEGIN") {
            KeySource::Inline(key.to_string())
        } else {
            KeySource::File(PathBuf::from(key))
        }];
    }
    let mut out = Vec::new();
    if agent {
        out.push(KeySource::Agent);
    }
    if let Some(home) = home {
        for name in DEFAULT_KEY_FILES {
            let path = home.join(".ssh").join(name);
            if exists(&path) {
                out.push(KeySource::File(path));
            }
        }
    }
    out
}

/// What `known_hosts` says of the key a server showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyVerdict {
    /// A line records this key for this host.
    Known,
    /// No line records a key of this type for this host; `other_types` are the types
    /// recorded for it (sorted, deduplicated), if any.
    Unknown {
        /// Key types the file has for this host.
        other_types: Vec<String>,
    },
    /// A line records another key of the same type for this host (1-based line number).
    Changed {
        /// The line holding the other key.
        line: usize,
    },
    /// An `@revoked` line names this key (1-based line number).
    Revoked {
        /// The `@revoked` line.
        line: usize,
    },
}

/// Look `name` (see [`SshUrl::known_hosts_name`]) and the server's key `blob` (the SSH wire
/// encoding, as libssh2 gives it) up in the text of a `known_hosts` file.
pub fn check_host_key(known_hosts: &str, name: &str, blob: &[u8]) -> HostKeyVerdict {
    let want_type = key_type(blob);
    let mut known = false;
    let mut changed = None;
    let mut other_types = Vec::new();
    for (i, raw) in known_hosts.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_ascii_whitespace();
        let Some(mut hosts) = fields.next() else {
            continue;
        };
        let mut revoked = false;
        if let Some(marker) = hosts.strip_prefix('@') {
            match marker {
                "revoked" => revoked = true,
                _ => continue, // @cert-authority: certificates are not shown by libgit2
            }
            let Some(h) = fields.next() else { continue };
            hosts = h;
        }
        let (Some(_type_field), Some(key_b64)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Ok(key) = STANDARD.decode(key_b64) else {
            continue;
        };
        if !hosts_match(hosts, name) {
            continue;
        }
        if revoked {
            if key == blob {
                return HostKeyVerdict::Revoked { line: i + 1 };
            }
            continue;
        }
        if key == blob {
            known = true;
        } else if key_type(&key) == want_type {
            changed.get_or_insert(i + 1);
        } else if let Some(t) = key_type(&key) {
            other_types.push(t.to_string());
        }
    }
    if known {
        return HostKeyVerdict::Known;
    }
    if let Some(line) = changed {
        return HostKeyVerdict::Changed { line };
    }
    other_types.sort();
    other_types.dedup();
    HostKeyVerdict::Unknown { other_types }
}

/// The key type a wire-encoded public key names (its first string: `ssh-ed25519`, …).
pub fn key_type(blob: &[u8]) -> Option<&str> {
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    std::str::from_utf8(blob.get(4..4usize.checked_add(len)?)?).ok()
}

/// The fingerprint OpenSSH prints for a key (`ssh-keygen -l`): `SHA256:` and the unpadded
/// base64 of the SHA-256 of its wire encoding.
pub fn fingerprint(blob: &[u8]) -> String {
    format!(
        "SHA256:{}",
        STANDARD_NO_PAD.encode(sha2::Sha256::digest(blob))
    )
}

/// Whether a `known_hosts` host field (comma-separated patterns, or one hashed name)
/// matches `name`. A matching negated pattern (`!pat`) rejects the line.
fn hosts_match(field: &str, name: &str) -> bool {
    if let Some(hashed) = field.strip_prefix("|1|") {
        return hashed_match(hashed, name);
    }
    let name = name.to_ascii_lowercase();
    let mut matched = false;
    for pattern in field.split(',') {
        let (negated, pattern) = match pattern.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, pattern),
        };
        if glob(pattern.to_ascii_lowercase().as_bytes(), name.as_bytes()) {
            if negated {
                return false;
            }
            matched = true;
        }
    }
    matched
}

/// `salt|hash` of a hashed host name: HMAC-SHA1 of the name keyed with the salt.
fn hashed_match(hashed: &str, name: &str) -> bool {
    let Some((salt, hash)) = hashed.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (STANDARD.decode(salt), STANDARD.decode(hash)) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// OpenSSH's host pattern: `*` any run of characters, `?` any one.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], text) || (!text.is_empty() && glob(pattern, &text[1..]))
        }
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p == t => glob(&pattern[1..], &text[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(kind: &str, body: &[u8]) -> Vec<u8> {
        let mut out = (kind.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    fn line(hosts: &str, key: &[u8]) -> String {
        format!(
            "{hosts} {} {}\n",
            key_type(key).unwrap(),
            STANDARD.encode(key)
        )
    }

    #[test]
    fn urls_of_every_ssh_form() {
        let u = parse_url("ssh://git@example.com:2222/org/flux.git").unwrap();
        assert_eq!(
            (u.user.as_deref(), u.host.as_str(), u.port),
            (Some("git"), "example.com", 2222)
        );
        assert_eq!(u.known_hosts_name(), "[example.com]:2222");
        let u = parse_url("git@github.com:org/flux.git").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("github.com", 22));
        assert_eq!(u.known_hosts_name(), "github.com");
        let u = parse_url("ssh://[::1]:2200/r.git").unwrap();
        assert_eq!((u.user, u.host.as_str(), u.port), (None, "::1", 2200));
        assert_eq!(parse_url("git+ssh://h/r").unwrap().port, 22);
        for not_ssh in [
            "https://h/r.git",
            "file:///tmp/r.git",
            "/tmp/r.git",
            "./r",
            "dir/with:colon",
            "ssh://h:notaport/r",
            "ssh:///r",
        ] {
            assert_eq!(parse_url(not_ssh), None, "{not_ssh}");
        }
    }

    #[test]
    fn an_explicit_key_is_offered_alone_else_agent_then_default_files() {
        let home = Path::new("/home/u");
        let all = |_: &Path| true;
        assert_eq!(
            key_sources(Some(Path::new("/k")), Some("/e"), true, Some(home), all),
            [KeySource::File("/k".into())]
        );
        assert_eq!(
            key_sources(None, Some("/e"), true, Some(home), all),
            [KeySource::File("/e".into())]
        );
        let pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n";
        assert_eq!(
            key_sources(None, Some(pem), true, Some(home), all),
            [KeySource::Inline(pem.into())]
        );
        assert!(!format!("{:?}", KeySource::Inline(pem.into())).contains("abc"));
        let only_rsa = |p: &Path| p.ends_with("id_rsa");
        assert_eq!(
            key_sources(None, None, true, Some(home), only_rsa),
            [
                KeySource::Agent,
                KeySource::File("/home/u/.ssh/id_rsa".into())
            ]
        );
        assert!(key_sources(None, None, false, None, all).is_empty());
    }

    #[test]
    fn host_keys_known_unknown_changed_revoked() {
        let ours = blob("ssh-ed25519", b"server-key");
        let other = blob("ssh-ed25519", b"attacker-key");
        let rsa = blob("ssh-rsa", b"rsa-key");
        let name = "[127.0.0.1]:2222";
        let known = line("[127.0.0.1]:2222", &ours);
        assert_eq!(check_host_key(&known, name, &ours), HostKeyVerdict::Known);
        // port 22's name does not match a non-standard port
        assert!(matches!(
            check_host_key(&line("127.0.0.1", &ours), name, &ours),
            HostKeyVerdict::Unknown { .. }
        ));
        let text = format!(
            "# comment\n\n{}{}",
            line("[127.0.0.1]:2222", &rsa),
            line("other,[127.0.0.1]:2222", &other)
        );
        assert_eq!(
            check_host_key(&text, name, &ours),
            HostKeyVerdict::Changed { line: 4 }
        );
        assert_eq!(
            check_host_key(&line(name, &rsa), name, &ours),
            HostKeyVerdict::Unknown {
                other_types: vec!["ssh-rsa".into()]
            }
        );
        let revoked = format!(
            "{}@revoked * {} {}\n",
            known,
            "ssh-ed25519",
            STANDARD.encode(&ours)
        );
        assert_eq!(
            check_host_key(&revoked, name, &ours),
            HostKeyVerdict::Revoked { line: 2 }
        );
        // cert-authority lines and garbage are skipped
        let skipped = format!(
            "@cert-authority * ssh-ed25519 {}\nnot a line\nh t !!notbase64\n",
            STANDARD.encode(&ours)
        );
        assert!(matches!(
            check_host_key(&skipped, name, &ours),
            HostKeyVerdict::Unknown { .. }
        ));
    }

    #[test]
    fn host_patterns_wildcards_negation_and_case() {
        assert!(hosts_match("*.example.com", "git.example.com"));
        assert!(hosts_match("GIT.example.com", "git.EXAMPLE.com"));
        assert!(hosts_match("git?.example.com", "git1.example.com"));
        assert!(!hosts_match("git?.example.com", "git.example.com"));
        assert!(!hosts_match(
            "*.example.com,!evil.example.com",
            "evil.example.com"
        ));
        assert!(hosts_match("[10.0.0.*]:2222", "[10.0.0.7]:2222"));
        assert!(!hosts_match("10.0.0.7", "[10.0.0.7]:2222"));
    }

    #[test]
    fn hashed_host_names() {
        // what `ssh-keygen -H` writes: |1|base64(salt)|base64(HMAC-SHA1(salt, name))
        let salt = b"0123456789abcdefghij";
        let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(salt).unwrap();
        mac.update(b"[127.0.0.1]:2222");
        let field = format!(
            "|1|{}|{}",
            STANDARD.encode(salt),
            STANDARD.encode(mac.finalize().into_bytes())
        );
        assert!(hosts_match(&field, "[127.0.0.1]:2222"));
        assert!(!hosts_match(&field, "127.0.0.1"));
        assert!(!hosts_match("|1|!!|??", "127.0.0.1"));
    }

    #[test]
    fn fingerprints_and_key_types() {
        let b = blob("ssh-ed25519", b"k");
        assert_eq!(key_type(&b), Some("ssh-ed25519"));
        assert_eq!(key_type(b"\xff\xff\xff\xffx"), None);
        assert_eq!(key_type(b""), None);
        assert!(fingerprint(&b).starts_with("SHA256:"));
        assert!(!fingerprint(&b).ends_with('='));
    }
}
