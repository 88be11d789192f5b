//! Registry authentication: the `WWW-Authenticate` challenge, and where credentials come from.
//!
//! A registry answers an unauthenticated request with 401 and a challenge. `Bearer
//! realm=…,service=…,scope=…` sends the client to a token server (the distribution spec's
//! token flow: anonymous, or with Basic credentials when there are some), `Basic realm=…`
//! asks for the credentials themselves. Credentials are looked up the way the docker CLI
//! does: `credHelpers[host]`, then `auths[host]` (base64 `user:password`, or `username` and
//! `password`), then `credsStore`; for `ghcr.io` with none, `GITHUB_TOKEN` (as Actions
//! provides it). A [`Secret`] never prints: its `Debug` is `<redacted>` and no error or
//! document carries one.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

/// A secret (password, token) that is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for the one header that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A user name and its secret, and where they were found (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub secret: Secret,
    /// Where it came from: `~/.docker/config.json auths`, `credential helper pass`,
    /// `GITHUB_TOKEN`.
    pub source: String,
}

impl Credential {
    /// The `Authorization: Basic …` value.
    pub fn basic(&self) -> String {
        let pair = format!("{}:{}", self.username, self.secret.expose());
        format!("Basic {}", STANDARD.encode(pair))
    }
}

/// What a registry's 401 asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// The token flow: get a token from `realm` for `service` and `scope`.
    Bearer {
        /// The token server's URL.
        realm: String,
        /// The service the token is for.
        service: Option<String>,
        /// The scope the registry wants (`repository:org/app:pull`).
        scope: Option<String>,
    },
    /// Basic credentials on every request.
    Basic,
}

/// Parse a `WWW-Authenticate` value (RFC 9110 auth-params: `key=token` or `key="quoted"`,
/// commas inside quotes kept, as in `scope="repository:a:pull,push"`). Unknown schemes are
/// `None`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let params = auth_params(rest);
    if scheme.eq_ignore_ascii_case("bearer") {
        Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        })
    } else if scheme.eq_ignore_ascii_case("basic") {
        Some(Challenge::Basic)
    } else {
        None
    }
}

fn auth_params(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.is_empty() {
            break;
        }
        if chars.next() != Some('=') {
            continue;
        }
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect();
        }
        out.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    out
}

/// The parts of `~/.docker/config.json` that name credentials.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerConfig {
    /// Per-registry entries (`auth` is base64 `user:password`).
    #[serde(default)]
    pub auths: BTreeMap<String, AuthEntry>,
    /// The default credential helper (`docker-credential-<name>`).
    #[serde(default)]
    pub creds_store: Option<String>,
    /// Per-registry credential helpers.
    #[serde(default)]
    pub cred_helpers: BTreeMap<String, String>,
}

/// One `auths` entry.
#[derive(Debug, Default, Deserialize)]
pub struct AuthEntry {
    /// base64 `user:password`.
    #[serde(default)]
    pub auth: Option<String>,
    /// The user name, when given apart.
    #[serde(default)]
    pub username: Option<String>,
    /// The password, when given apart.
    #[serde(default)]
    pub password: Option<String>,
}

/// Where credentials are looked for, resolved at the edge.
#[derive(Debug, Default)]
pub struct Sources {
    /// The docker config file read, and its text (None when there is none).
    pub docker_config: Option<(PathBuf, DockerConfig)>,
    /// `GITHUB_TOKEN`, used for ghcr.io when nothing else names it.
    pub github_token: Option<Secret>,
    /// `GITHUB_ACTOR`, the user name sent with `GITHUB_TOKEN` (any non-empty name works).
    pub github_actor: Option<String>,
}

/// A docker config key (`https://index.docker.io/v1/`, `ghcr.io`) as the host it names.
fn key_host(key: &str) -> String {
    let k = key
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = k.split('/').next().unwrap_or(k).to_ascii_lowercase();
    crate::reference::api_host(&host).to_string()
}

/// What credentials a lookup found, or why it failed.
pub type Lookup = Result<Option<Credential>, String>;

impl Sources {
    /// Read the docker config from `$DOCKER_CONFIG/config.json`, else
    /// `$HOME/.docker/config.json`; a missing file is no credentials, a malformed one an
    /// error naming it.
    pub fn load(
        docker_config_dir: Option<&str>,
        home: Option<&str>,
        github_token: Option<String>,
        github_actor: Option<String>,
    ) -> Result<Sources, String> {
        let path = match (docker_config_dir, home) {
            (Some(d), _) if !d.is_empty() => Some(Path::new(d).join("config.json")),
            (_, Some(h)) if !h.is_empty() => Some(Path::new(h).join(".docker/config.json")),
            _ => None,
        };
        let docker_config = match path {
            Some(p) => match std::fs::read(&p) {
                Ok(bytes) => {
                    let cfg: DockerConfig = serde_json::from_slice(&bytes)
                        .map_err(|e| format!("{}: not a docker config: {e}", p.display()))?;
                    Some((p, cfg))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(format!("cannot read {}: {e}", p.display())),
            },
            None => None,
        };
        Ok(Sources {
            docker_config,
            github_token: github_token.filter(|t| !t.is_empty()).map(Secret::new),
            github_actor: github_actor.filter(|a| !a.is_empty()),
        })
    }

    /// The credentials for a registry API host, in the docker CLI's order.
    pub fn lookup(&self, host: &str) -> Lookup {
        let host = crate::reference::api_host(&host.to_ascii_lowercase()).to_string();
        if let Some((path, cfg)) = &self.docker_config {
            let file = path.display().to_string();
            if let Some((_, helper)) = cfg.cred_helpers.iter().find(|(k, _)| key_host(k) == host) {
                return run_helper(helper, &host);
            }
            if let Some((_, entry)) = cfg.auths.iter().find(|(k, _)| key_host(k) == host)
                && let Some(c) = from_entry(entry, &file)?
            {
                return Ok(Some(c));
            }
            if let Some(store) = &cfg.creds_store {
                return run_helper(store, &host);
            }
        }
        if host == "ghcr.io"
            && let Some(token) = &self.github_token
        {
            return Ok(Some(Credential {
                username: self.github_actor.clone().unwrap_or_else(|| "token".into()),
                secret: token.clone(),
                source: "GITHUB_TOKEN".into(),
            }));
        }
        Ok(None)
    }
}

fn from_entry(entry: &AuthEntry, file: &str) -> Lookup {
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let decoded = STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                format!("{file}: an auths entry's \"auth\" is not base64 user:password")
            })?;
        let (user, pw) = decoded.split_once(':').ok_or_else(|| {
            format!("{file}: an auths entry's \"auth\" is not base64 user:password")
        })?;
        return Ok(Some(Credential {
            username: user.to_string(),
            secret: Secret::new(pw),
            source: format!("{file} auths"),
        }));
    }
    match (&entry.username, &entry.password) {
        (Some(u), Some(p)) if !u.is_empty() => Ok(Some(Credential {
            username: u.clone(),
            secret: Secret::new(p.clone()),
            source: format!("{file} auths"),
        })),
        _ => Ok(None),
    }
}

/// How long a credential helper may take.
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// `docker-credential-NAME get`, the host on stdin, `{"Username","Secret"}` on stdout. A
/// helper that says it has nothing (non-zero exit, "credentials not found") is no
/// credentials; one that cannot be run, hangs or answers garbage is an error.
fn run_helper(name: &str, host: &str) -> Lookup {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(format!(
            "credential helper {name:?}: a helper is named by a plain word (docker-credential-<name> on PATH)"
        ));
    }
    let program = format!("docker-credential-{name}");
    let server = if host == crate::reference::DOCKER_HUB_API {
        "https://index.docker.io/v1/".to_string()
    } else {
        host.to_string()
    };
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let deadline = Instant::now() + HELPER_TIMEOUT;
    let status = loop {
        match child.try_wait().map_err(|e| format!("{program}: {e}"))? {
            Some(s) => break s,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{program} get did not answer within 30s"));
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let mut out = Vec::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.by_ref().take(1 << 20).read_to_end(&mut out);
    }
    if !status.success() {
        return Ok(None);
    }
    let answer: HelperAnswer = serde_json::from_slice(&out).map_err(|_| {
        format!("{program} get answered something that is not a JSON Username and Secret")
    })?;
    if answer.username == "<token>" {
        return Err(format!(
            "{program} holds an identity token for {host}, which image-resolve does not exchange; log in with a password or token instead"
        ));
    }
    Ok(Some(Credential {
        username: answer.username,
        secret: Secret::new(answer.secret),
        source: format!("credential helper {name}"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_keep_commas_inside_quotes() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:org/app:pull,push""#,
        );
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:org/app:pull,push".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="x""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate abc"), None);
        assert_eq!(parse_challenge("Bearer service=x"), None);
        let c = parse_challenge(r#"bearer realm=https://a/t, service = "s\"q""#).unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://a/t".into(),
                service: Some("s\"q".into()),
                scope: None
            }
        );
    }

    #[test]
    fn docker_config_auths_by_host_and_github_token_for_ghcr() {
        let cfg: DockerConfig = serde_json::from_str(
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"aHViOnB3"},"127.0.0.1:5000":{"username":"ci","password":"p"}}}"#,
        )
        .unwrap();
        let s = Sources {
            docker_config: Some((PathBuf::from("/h/.docker/config.json"), cfg)),
            github_token: Some(Secret::new("ght")),
            github_actor: None,
        };
        let hub = s.lookup("registry-1.docker.io").unwrap().unwrap();
        assert_eq!((hub.username.as_str(), hub.secret.expose()), ("hub", "pw"));
        assert_eq!(s.lookup("127.0.0.1:5000").unwrap().unwrap().username, "ci");
        let gh = s.lookup("ghcr.io").unwrap().unwrap();
        assert_eq!(
            (gh.source.as_str(), gh.secret.expose()),
            ("GITHUB_TOKEN", "ght")
        );
        assert_eq!(s.lookup("quay.io").unwrap(), None);
        assert!(!format!("{gh:?}").contains("ght"));
    }

    #[test]
    fn a_helper_name_is_a_word() {
        assert!(
            run_helper("../../bin/sh", "x")
                .unwrap_err()
                .contains("plain word")
        );
    }
}
