//! The registry over HTTPS: one GET at a time, authenticated as the registry asks.
//!
//! Why it is shaped so:
//! * one deadline for the whole run (`--timeout`): every request gets the time that is left,
//!   so a slow registry cannot hold a rollout longer than the user allowed;
//! * TLS verified against the system trust store (native-tls, `SSL_CERT_FILE` honoured);
//!   `--insecure` turns it off and the CLI warns. Registries are always asked over HTTPS;
//! * a 401 is answered once per request with what its challenge asks (a Bearer token from
//!   the realm, anonymous or with Basic credentials; or Basic credentials), and the result
//!   is kept per host and scope for the rest of the run; a realm that is not HTTPS is
//!   refused rather than sent credentials;
//! * 429 and 5xx are retried up to `--retries` times, waiting what `Retry-After` says (in
//!   seconds) or 0.5 s doubling, never past the deadline; other statuses are answers;
//! * every body is read up to a bound ([`Limits`]) and an answer larger than that fails;
//! * redirects (a blob served from object storage) are followed up to 5 times, and ureq
//!   drops the `Authorization` header on them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use ureq::tls::{RootCerts, TlsConfig, TlsProvider};

use crate::auth::{Challenge, Credential, Lookup, parse_challenge};
use crate::error::ResolveError;

/// What the client needs from the edge: the clock, sleeping, credential lookup.
pub struct Settings {
    /// The run's time budget, from its start.
    pub timeout: Duration,
    /// Retries of a 429 or 5xx answer.
    pub retries: u32,
    /// TLS verification off.
    pub insecure: bool,
}

/// An answer: status, the headers the tools read, the body.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Docker-Content-Digest`.
    pub digest: Option<String>,
    /// `Link` (tag pages).
    pub link: Option<String>,
    /// The body, at most the limit asked for.
    pub body: Vec<u8>,
}

impl Answer {
    /// The distribution error code of a failed answer (`MANIFEST_UNKNOWN`, `NAME_UNKNOWN`).
    pub fn error_code(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        Some(v.get("errors")?.get(0)?.get("code")?.as_str()?.to_string())
    }
}

/// The registry client of one run.
pub struct Client<'a> {
    agent: ureq::Agent,
    deadline: Instant,
    budget: Duration,
    retries: u32,
    credentials: &'a dyn Fn(&str) -> Lookup,
    sleep: &'a dyn Fn(Duration),
    /// `Authorization` values by (host, scope); a Basic one is stored under scope "".
    auth: RefCell<HashMap<(String, String), String>>,
}

/// The largest token answer read.
const TOKEN_LIMIT: u64 = 1 << 20;

impl<'a> Client<'a> {
    /// A client whose deadline starts now.
    pub fn new(
        settings: &Settings,
        credentials: &'a dyn Fn(&str) -> Lookup,
        sleep: &'a dyn Fn(Duration),
    ) -> Client<'a> {
        let tls = TlsConfig::builder()
            .provider(TlsProvider::NativeTls)
            .root_certs(RootCerts::PlatformVerifier)
            .disable_verification(settings.insecure)
            .build();
        let config = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .max_redirects(5)
            .max_redirects_will_error(true)
            .https_only(true)
            .user_agent(concat!("image-resolve/", env!("CARGO_PKG_VERSION")))
            .build();
        Client {
            agent: ureq::Agent::new_with_config(config),
            deadline: Instant::now() + settings.timeout,
            budget: settings.timeout,
            retries: settings.retries,
            credentials,
            sleep,
            auth: RefCell::new(HashMap::new()),
        }
    }

    fn left(&self, host: &str) -> Result<Duration, ResolveError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.timed_out(host));
        }
        Ok(left)
    }

    fn timed_out(&self, host: &str) -> ResolveError {
        ResolveError::Unreachable {
            host: host.to_string(),
            message: format!(
                "no answer within the run's --timeout of {}",
                rollout_core::time::format_wait(self.budget)
            ),
        }
    }

    fn transport(&self, host: &str, e: ureq::Error) -> ResolveError {
        let unreachable = |message: String| ResolveError::Unreachable {
            host: host.to_string(),
            message,
        };
        match e {
            ureq::Error::Timeout(_) => self.timed_out(host),
            ureq::Error::Io(io) => match io.kind() {
                std::io::ErrorKind::ConnectionRefused => unreachable("connection refused".into()),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                    self.timed_out(host)
                }
                _ => unreachable(io.to_string()),
            },
            ureq::Error::HostNotFound => unreachable("host not found".into()),
            ureq::Error::ConnectionFailed => unreachable("connection failed".into()),
            ureq::Error::NativeTls(t) => ResolveError::Tls {
                host: host.to_string(),
                message: t.to_string(),
            },
            ureq::Error::Tls(t) => ResolveError::Tls {
                host: host.to_string(),
                message: t.to_string(),
            },
            ureq::Error::BodyExceedsLimit(n) => ResolveError::Registry {
                host: host.to_string(),
                message: format!("an answer larger than {n} bytes"),
            },
            ureq::Error::TooManyRedirects => ResolveError::Registry {
                host: host.to_string(),
                message: "more than 5 redirects".into(),
            },
            ureq::Error::RequireHttpsOnly(u) => ResolveError::Registry {
                host: host.to_string(),
                message: format!(
                    "redirected to a plain http URL ({}), which is refused",
                    rollout_core::url::redact_userinfo(&u)
                ),
            },
            other => unreachable(other.to_string()),
        }
    }

    fn send(
        &self,
        host: &str,
        url: &str,
        accept: Option<&str>,
        authorization: Option<&str>,
        limit: u64,
    ) -> Result<(Answer, Option<String>, Option<String>), ResolveError> {
        let mut req = self.agent.get(url);
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        if let Some(a) = authorization {
            req = req.header("Authorization", a);
        }
        let response = req
            .config()
            .timeout_global(Some(self.left(host)?))
            .build()
            .call()
            .map_err(|e| self.transport(host, e))?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (content_type, digest, link) = (
            header("content-type"),
            header("docker-content-digest"),
            header("link"),
        );
        let (challenge, retry_after) = (header("www-authenticate"), header("retry-after"));
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .into_with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| self.transport(host, e))?;
        Ok((
            Answer {
                status,
                content_type,
                digest,
                link,
                body,
            },
            challenge,
            retry_after,
        ))
    }

    /// GET `https://HOST` + `path` with `accept`, authenticated for `scope` when the
    /// registry asks; the body at most `limit` bytes. Statuses other than 401, 403, 429 and
    /// 5xx are returned for the caller to read.
    pub fn get(
        &self,
        host: &str,
        path: &str,
        accept: Option<&str>,
        scope: &str,
        limit: u64,
    ) -> Result<Answer, ResolveError> {
        let url = if path.starts_with("https://") {
            path.to_string()
        } else {
            format!("https://{host}{path}")
        };
        let mut authenticated = false;
        let mut had_credentials = false;
        let mut attempt = 0;
        loop {
            let cached = self.cached(host, scope);
            let (answer, challenge, retry_after) =
                self.send(host, &url, accept, cached.as_deref(), limit)?;
            match answer.status {
                401 if !authenticated => {
                    let challenge =
                        challenge
                            .as_deref()
                            .and_then(parse_challenge)
                            .ok_or_else(|| ResolveError::Auth {
                                host: host.to_string(),
                                message: "401 without a Bearer or Basic challenge".into(),
                                had_credentials: false,
                            })?;
                    had_credentials = self.authenticate(host, scope, &challenge)?;
                    authenticated = true;
                }
                401 | 403 => {
                    return Err(ResolveError::Auth {
                        host: host.to_string(),
                        message: if had_credentials || cached.is_some() && !authenticated {
                            format!(
                                "the registry refused the credentials for {scope} ({})",
                                answer.status
                            )
                        } else {
                            format!(
                                "the registry needs credentials for {scope} and none were found ({})",
                                answer.status
                            )
                        },
                        had_credentials,
                    });
                }
                429 | 500..=599 if attempt < self.retries => {
                    attempt += 1;
                    let wait = retry_wait(retry_after.as_deref(), attempt);
                    let left = self.left(host)?;
                    if wait >= left {
                        return Err(self.timed_out(host));
                    }
                    (self.sleep)(wait);
                }
                429 | 500..=599 => {
                    return Err(ResolveError::Registry {
                        host: host.to_string(),
                        message: format!(
                            "{} after {} attempt{}",
                            answer.status,
                            attempt + 1,
                            if attempt == 0 { "" } else { "s" }
                        ),
                    });
                }
                _ => return Ok(answer),
            }
        }
    }

    fn cached(&self, host: &str, scope: &str) -> Option<String> {
        let auth = self.auth.borrow();
        auth.get(&(host.to_string(), scope.to_string()))
            .or_else(|| auth.get(&(host.to_string(), String::new())))
            .cloned()
    }

    fn lookup(&self, host: &str) -> Result<Option<Credential>, ResolveError> {
        (self.credentials)(host).map_err(|message| ResolveError::Credentials { message })
    }

    /// Answer a challenge; returns whether credentials were used.
    fn authenticate(
        &self,
        host: &str,
        scope: &str,
        challenge: &Challenge,
    ) -> Result<bool, ResolveError> {
        let credential = self.lookup(host)?;
        let auth_error = |message: String, had: bool| ResolveError::Auth {
            host: host.to_string(),
            message,
            had_credentials: had,
        };
        let (key, value) = match challenge {
            Challenge::Basic => {
                let c = credential.as_ref().ok_or_else(|| {
                    auth_error(
                        format!("the registry needs credentials for {scope} and none were found"),
                        false,
                    )
                })?;
                (String::new(), c.basic())
            }
            Challenge::Bearer {
                realm,
                service,
                scope: wanted,
            } => {
                let token = self.token(
                    host,
                    realm,
                    service.as_deref(),
                    wanted.as_deref().unwrap_or(scope),
                    credential.as_ref(),
                )?;
                (scope.to_string(), format!("Bearer {token}"))
            }
        };
        self.auth
            .borrow_mut()
            .insert((host.to_string(), key), value);
        Ok(credential.is_some())
    }

    fn token(
        &self,
        host: &str,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        credential: Option<&Credential>,
    ) -> Result<String, ResolveError> {
        let auth_error = |message: String| ResolveError::Auth {
            host: host.to_string(),
            message,
            had_credentials: credential.is_some(),
        };
        let mut url = url::Url::parse(realm)
            .map_err(|_| auth_error(format!("the token realm {realm:?} is not a URL")))?;
        if url.scheme() != "https" {
            return Err(auth_error(format!(
                "the token realm {} is not HTTPS; image-resolve does not send credentials or take tokens over plain http",
                rollout_core::url::redact_userinfo(realm)
            )));
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            q.append_pair("scope", scope);
        }
        let realm_host = url.host_str().unwrap_or_default().to_string();
        let basic = credential.map(Credential::basic);
        let mut attempt = 0;
        let answer = loop {
            let (answer, _, retry_after) = self.send(
                &realm_host,
                url.as_str(),
                None,
                basic.as_deref(),
                TOKEN_LIMIT,
            )?;
            match answer.status {
                200 => break answer,
                401 | 403 => {
                    return Err(auth_error(match credential {
                        Some(c) => format!(
                            "the token server refused the credentials from {} ({})",
                            c.source, answer.status
                        ),
                        None => format!(
                            "the registry needs credentials for {scope} and none were found (token server: {})",
                            answer.status
                        ),
                    }));
                }
                429 | 500..=599 if attempt < self.retries => {
                    attempt += 1;
                    let wait = retry_wait(retry_after.as_deref(), attempt);
                    if wait >= self.left(host)? {
                        return Err(self.timed_out(host));
                    }
                    (self.sleep)(wait);
                }
                s => return Err(auth_error(format!("the token server answered {s}"))),
            }
        };
        #[derive(serde::Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let t: Token = serde_json::from_slice(&answer.body)
            .map_err(|_| auth_error("the token server's answer is not a token document".into()))?;
        t.token
            .or(t.access_token)
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| auth_error("the token server's answer holds no usable token".into()))
    }
}

/// How long to wait before retry `attempt` (1-based): `Retry-After` seconds (at most 60)
/// when the registry gave them, else 0.5 s doubling.
pub fn retry_wait(retry_after: Option<&str>, attempt: u32) -> Duration {
    match retry_after.and_then(|v| v.trim().parse::<u64>().ok()) {
        Some(s) => Duration::from_secs(s.min(60)),
        None => Duration::from_millis(500u64 << (attempt - 1).min(6)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_or_doubling() {
        assert_eq!(retry_wait(Some("2"), 1), Duration::from_secs(2));
        assert_eq!(retry_wait(Some("600"), 1), Duration::from_secs(60));
        assert_eq!(
            retry_wait(Some("Wed, 21 Oct 2026 07:28:00 GMT"), 2),
            Duration::from_secs(1)
        );
        assert_eq!(retry_wait(None, 1), Duration::from_millis(500));
        assert_eq!(retry_wait(None, 3), Duration::from_secs(2));
    }
}
