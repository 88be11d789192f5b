//! What a health check is, apart from the network: expectations, retries and the verdict.
//!
//! The fetcher ([`Fetch`]) makes one attempt and says what came back; everything else here
//! is pure, so retries and judging are tested without sockets. A check is healthy when an
//! attempt answers with a status in the expected ranges and, with `--expect-body`, a body
//! the pattern matches. Any failure (connection, TLS, timeout, redirects, status, body) is
//! retried up to `--retries` times with `--retry-delay` between attempts; the last attempt
//! is the one reported.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use regex::bytes::Regex;

/// Status codes a healthy answer may have: `200-299`, `200,204`, `200-299,301`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRanges(Vec<(u16, u16)>);

impl StatusRanges {
    /// Parse a comma-separated list of codes and `LOW-HIGH` ranges within 100..=599.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            let (low, high) = part.split_once('-').unwrap_or((part, part));
            let code = |s: &str| -> Result<u16, String> {
                let s = s.trim();
                match s.parse::<u16>() {
                    Ok(n) if (100..=599).contains(&n) && !s.starts_with('+') => Ok(n),
                    _ => Err(format!(
                        "{s:?} is not an HTTP status (100-599); expected codes and ranges such as 200-299,301"
                    )),
                }
            };
            let (low, high) = (code(low)?, code(high)?);
            if low > high {
                return Err(format!("range {part:?} runs backwards"));
            }
            ranges.push((low, high));
        }
        Ok(StatusRanges(ranges))
    }

    /// Whether `status` is expected.
    pub fn contains(&self, status: u16) -> bool {
        self.0.iter().any(|(l, h)| (*l..=*h).contains(&status))
    }
}

impl fmt::Display for StatusRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(l, h)| {
                if l == h {
                    l.to_string()
                } else {
                    format!("{l}-{h}")
                }
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// What a healthy answer looks like.
#[derive(Debug, Clone)]
pub struct Expect {
    /// Accepted statuses.
    pub status: StatusRanges,
    /// A pattern the body must match (read up to [`MAX_BODY_BYTES`]).
    pub body: Option<Regex>,
}

/// How much of a body is read to match `--expect-body`.
pub const MAX_BODY_BYTES: u64 = 1024 * 1024;

/// An answer: the final status (after redirects) and, when asked for, the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body, when the fetcher was asked to read it.
    pub body: Option<Vec<u8>>,
}

/// Why an attempt failed: a stable reason code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// `timeout`, `connection_refused`, `connection_failed`, `dns`, `tls`,
    /// `too_many_redirects`, `redirect_downgrade`, `http_error`, `status`, `body`.
    pub reason: &'static str,
    /// What happened.
    pub message: String,
}

/// One attempt: what came back and how long it took.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The answer, or why there was none.
    pub result: Result<Answer, Failed>,
    /// Wall time of the attempt, in milliseconds.
    pub latency_ms: u64,
}

/// Makes one attempt at a URL. The real one is [`crate::http::HttpFetch`].
pub trait Fetch: Sync {
    /// GET `url`; read the body only when `want_body`.
    fn fetch(&self, url: &str, want_body: bool) -> Attempt;
}

/// How the checks are run.
#[derive(Debug, Clone)]
pub struct Policy {
    /// What a healthy answer looks like.
    pub expect: Expect,
    /// Further attempts after a failed one.
    pub retries: u32,
    /// Wait between attempts.
    pub retry_delay: Duration,
    /// Checks run at once.
    pub concurrency: usize,
}

/// The verdict on one URL (an entry of the report's `checks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The normalised URL.
    pub url: String,
    /// Healthy.
    pub ok: bool,
    /// The last status received, if any.
    pub status: Option<u16>,
    /// Latency of the last attempt.
    pub latency_ms: u64,
    /// Attempts made.
    pub attempts: u32,
    /// Reason code of the last failure, when not ok.
    pub reason: Option<&'static str>,
    /// Message of the last failure, when not ok.
    pub error: Option<String>,
}

/// Judge one attempt against the expectations.
pub fn judge(result: &Result<Answer, Failed>, expect: &Expect) -> Result<(), Failed> {
    let answer = result.as_ref().map_err(Clone::clone)?;
    if !expect.status.contains(answer.status) {
        return Err(Failed {
            reason: "status",
            message: format!("status {}, expected {}", answer.status, expect.status),
        });
    }
    if let Some(pattern) = &expect.body {
        let body = answer.body.as_deref().unwrap_or_default();
        if !pattern.is_match(body) {
            return Err(Failed {
                reason: "body",
                message: format!(
                    "body does not match {:?} (first {} bytes read)",
                    pattern.as_str(),
                    body.len()
                ),
            });
        }
    }
    Ok(())
}

/// Check one URL: attempts until one is healthy or the retries run out.
pub fn probe_one(
    fetch: &dyn Fetch,
    url: &str,
    policy: &Policy,
    sleep: &(dyn Fn(Duration) + Sync),
) -> Check {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let attempt = fetch.fetch(url, policy.expect.body.is_some());
        let status = attempt.result.as_ref().ok().map(|a| a.status);
        let verdict = judge(&attempt.result, &policy.expect);
        if verdict.is_ok() || attempts > policy.retries {
            let failed = verdict.err();
            return Check {
                url: url.to_string(),
                ok: failed.is_none(),
                status,
                latency_ms: attempt.latency_ms,
                attempts,
                reason: failed.as_ref().map(|f| f.reason),
                error: failed.map(|f| f.message),
            };
        }
        sleep(policy.retry_delay);
    }
}

/// Check every URL, at most `policy.concurrency` at once; results in the order of `urls`.
pub fn probe_all(
    fetch: &dyn Fetch,
    urls: &[String],
    policy: &Policy,
    sleep: &(dyn Fn(Duration) + Sync),
) -> Vec<Check> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Check>>> = Mutex::new(vec![None; urls.len()]);
    let workers = policy.concurrency.clamp(1, urls.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(url) = urls.get(i) else { break };
                    let check = probe_one(fetch, url, policy, sleep);
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(check);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A fetcher that plays a script of results per URL (the last one repeats), and counts
    /// the calls and the most seen at once.
    struct Script {
        plays: Mutex<HashMap<String, Vec<Result<Answer, Failed>>>>,
        active: AtomicUsize,
        peak: AtomicUsize,
    }

    impl Script {
        fn new(entries: &[(&str, Vec<Result<Answer, Failed>>)]) -> Self {
            Script {
                plays: Mutex::new(
                    entries
                        .iter()
                        .map(|(u, r)| (u.to_string(), r.clone()))
                        .collect(),
                ),
                active: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
            }
        }
    }

    impl Fetch for Script {
        fn fetch(&self, url: &str, _want_body: bool) -> Attempt {
            let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            let result = {
                let mut plays = self.plays.lock().unwrap();
                let list = plays.get_mut(url).unwrap();
                if list.len() > 1 {
                    list.remove(0)
                } else {
                    list[0].clone()
                }
            };
            self.active.fetch_sub(1, Ordering::SeqCst);
            Attempt {
                result,
                latency_ms: 7,
            }
        }
    }

    fn ok(status: u16, body: &str) -> Result<Answer, Failed> {
        Ok(Answer {
            status,
            body: Some(body.as_bytes().to_vec()),
        })
    }

    fn refused() -> Result<Answer, Failed> {
        Err(Failed {
            reason: "connection_refused",
            message: "connection refused".into(),
        })
    }

    fn policy(retries: u32, body: Option<&str>) -> Policy {
        Policy {
            expect: Expect {
                status: StatusRanges::parse("200-299").unwrap(),
                body: body.map(|b| Regex::new(b).unwrap()),
            },
            retries,
            retry_delay: Duration::from_millis(250),
            concurrency: 4,
        }
    }

    #[test]
    fn status_ranges_parse_and_print() {
        let r = StatusRanges::parse("200-299, 301,404").unwrap();
        assert!(r.contains(200) && r.contains(299) && r.contains(301) && r.contains(404));
        assert!(!r.contains(300) && !r.contains(500));
        assert_eq!(r.to_string(), "200-299,301,404");
        for bad in [
            "", "2xx", "299-200", "99", "600", "200-", "+200", "200,,204",
        ] {
            assert!(StatusRanges::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn retries_until_healthy_and_report_the_last_attempt() {
        let fetch = Script::new(&[
            ("a", vec![ok(503, ""), ok(200, "{\"status: ok\"}")]),
            ("b", vec![refused()]),
            (
                "c",
                vec![ok(200, "status: degraded"), ok(200, "status: ok")],
            ),
        ]);
        let slept = Mutex::new(Vec::new());
        let sleep = |d: Duration| slept.lock().unwrap().push(d);
        let urls: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let checks = probe_all(&fetch, &urls, &policy(2, Some("status: ok")), &sleep);
        let a = &checks[0];
        assert!(a.ok && a.attempts == 2 && a.status == Some(200) && a.error.is_none());
        let b = &checks[1];
        assert!(!b.ok && b.attempts == 3 && b.status.is_none());
        assert_eq!(b.reason, Some("connection_refused"));
        let c = &checks[2];
        assert!(c.ok && c.attempts == 2, "{c:?}");
        assert_eq!(
            checks.iter().map(|c| c.url.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        // one wait before each retry: a once, b twice, c once
        assert_eq!(slept.lock().unwrap().len(), 4);
    }

    #[test]
    fn wrong_status_and_body_are_failures_with_the_last_status() {
        let fetch = Script::new(&[("a", vec![ok(500, "")]), ("b", vec![ok(200, "nope")])]);
        let urls: Vec<String> = ["a", "b"].map(String::from).to_vec();
        let checks = probe_all(&fetch, &urls, &policy(0, Some("^ok$")), &|_| {});
        assert_eq!(checks[0].status, Some(500));
        assert_eq!(checks[0].reason, Some("status"));
        assert_eq!(
            checks[0].error.as_deref(),
            Some("status 500, expected 200-299")
        );
        assert_eq!(checks[1].reason, Some("body"));
        assert!(checks.iter().all(|c| c.attempts == 1 && !c.ok));
    }

    #[test]
    fn concurrency_is_bounded() {
        let urls: Vec<String> = (0..20).map(|i| format!("u{i}")).collect();
        let entries: Vec<(&str, Vec<Result<Answer, Failed>>)> = urls
            .iter()
            .map(|u| (u.as_str(), vec![ok(200, "")]))
            .collect();
        for limit in [1, 3] {
            let fetch = Script::new(&entries);
            let mut p = policy(0, None);
            p.concurrency = limit;
            let checks = probe_all(&fetch, &urls, &p, &|_| {});
            assert_eq!(checks.len(), 20);
            assert!(fetch.peak.load(Ordering::SeqCst) <= limit);
        }
    }
}
