//! The real fetcher: one GET over ureq, native-tls on the vendored OpenSSL.
//!
//! Why these settings:
//! * TLS is verified against the system trust store (`RootCerts::PlatformVerifier` on
//!   native-tls, which honours `SSL_CERT_FILE`/`SSL_CERT_DIR`), so an internal service
//!   behind a corporate CA is trusted the way curl trusts it; `--insecure` turns
//!   verification off and the CLI warns;
//! * the timeout covers the whole attempt (connect, TLS, redirects, headers and body), so
//!   a slow endpoint cannot hold a rollout longer than `--timeout` per attempt;
//! * redirects are followed up to `--max-redirects` and more is a failure
//!   (`too_many_redirects`); with 0 a 3xx is judged as it is; an https URL that ends on
//!   plain http is a failure (`redirect_downgrade`) unless `--allow-downgrade`: the answer
//!   did not come from the authenticated endpoint the list names;
//! * non-2xx statuses are answers, not errors: the status range decides;
//! * a body is read only for `--expect-body`, at most [`MAX_BODY_BYTES`].

use std::io::Read;
use std::time::{Duration, Instant};

use rollout_core::time::format_wait;
use ureq::tls::{RootCerts, TlsConfig, TlsProvider};

use crate::check::{Answer, Attempt, Failed, Fetch, MAX_BODY_BYTES};

/// Fetches over HTTP(S) with one shared agent (connections are pooled per host).
pub struct HttpFetch {
    agent: ureq::Agent,
    timeout: Duration,
    max_redirects: u32,
    allow_downgrade: bool,
}

impl HttpFetch {
    /// An agent with the per-attempt `timeout`, the redirect bound and TLS verification
    /// (off only with `insecure`).
    pub fn new(
        timeout: Duration,
        max_redirects: u32,
        insecure: bool,
        allow_downgrade: bool,
    ) -> Self {
        let tls = TlsConfig::builder()
            .provider(TlsProvider::NativeTls)
            .root_certs(RootCerts::PlatformVerifier)
            .disable_verification(insecure)
            .build();
        let config = ureq::Agent::config_builder()
            .tls_config(tls)
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(max_redirects)
            .max_redirects_will_error(max_redirects > 0)
            .user_agent(concat!("health-probe/", env!("CARGO_PKG_VERSION")))
            .build();
        HttpFetch {
            agent: ureq::Agent::new_with_config(config),
            timeout,
            max_redirects,
            allow_downgrade,
        }
    }

    fn failed(&self, e: ureq::Error) -> Failed {
        let (reason, message) = match e {
            ureq::Error::Timeout(phase) => (
                "timeout",
                format!("no answer within {} ({phase})", format_wait(self.timeout)),
            ),
            ureq::Error::Io(io) => match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    ("connection_refused", "connection refused".to_string())
                }
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => (
                    "timeout",
                    format!("no answer within {}", format_wait(self.timeout)),
                ),
                // std's resolver reports a failed lookup as an uncategorised I/O error
                _ if io.to_string().contains("lookup address") => {
                    ("dns", format!("host not found ({io})"))
                }
                _ => ("connection_failed", io.to_string()),
            },
            ureq::Error::HostNotFound => ("dns", "host not found".to_string()),
            ureq::Error::ConnectionFailed => ("connection_failed", "connection failed".into()),
            ureq::Error::TooManyRedirects => (
                "too_many_redirects",
                format!("more than {} redirects", self.max_redirects),
            ),
            ureq::Error::NativeTls(tls) => ("tls", format!("TLS: {tls}")),
            ureq::Error::Tls(tls) => ("tls", format!("TLS: {tls}")),
            other => ("http_error", other.to_string()),
        };
        Failed { reason, message }
    }
}

impl Fetch for HttpFetch {
    fn fetch(&self, url: &str, want_body: bool) -> Attempt {
        let start = Instant::now();
        let result = self
            .agent
            .get(url)
            .call()
            .map_err(|e| self.failed(e))
            .and_then(|response| {
                use ureq::ResponseExt;
                let landed = response.get_uri().to_string();
                if url.starts_with("https://") && landed.starts_with("http://") && !self.allow_downgrade {
                    return Err(Failed {
                        reason: "redirect_downgrade",
                        message: format!(
                            "redirected from https to plain http ({landed}): the answer is not from the authenticated endpoint (--allow-downgrade accepts it)"
                        ),
                    });
                }
                let status = response.status().as_u16();
                let body = if want_body {
                    let mut buf = Vec::new();
                    response
                        .into_body()
                        .into_with_config()
                        .limit(u64::MAX)
                        .reader()
                        .take(MAX_BODY_BYTES)
                        .read_to_end(&mut buf)
                        .map_err(|e| self.failed(ureq::Error::from(e)))?;
                    Some(buf)
                } else {
                    None
                };
                Ok(Answer { status, body })
            });
        Attempt {
            result,
            latency_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }
}
