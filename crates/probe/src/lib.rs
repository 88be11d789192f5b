//! # rollout-probe: `health-probe`, the runtime health URLs as gate evidence
//!
//! A rollout is verified, and a rollback decided, by asking the runtime whether it is
//! healthy. The script this replaces kept the URLs in a `RUNTIME_HEALTH_URLS` secret, split
//! them by hand and curled them one by one; a typo in the secret was found only when a
//! rollout needed it, and a credential pasted into a URL ended up in logs. This crate:
//!
//! * [`urls`]: parses and normalises the list (commas, whitespace, newlines or a JSON
//!   array), refuses anything but `http`/`https` with a host, and refuses credentials,
//!   showing the URL redacted; `--validate-only` stops there, with no network;
//! * [`check`]: the pure part of a probe: retries, the status range, the body pattern and
//!   the verdict per URL, over any [`check::Fetch`];
//! * [`http`]: the one real fetcher: ureq on native-tls, so the OpenSSL git2 already
//!   vendors verifies certificates against the system store (`SSL_CERT_FILE` honoured);
//! * [`report`]: the `health-report` document gate-eval's `runtime-health` preset reads,
//!   and its Markdown summary;
//! * [`cli`]: flags and the run sequence.

pub mod check;
pub mod cli;
pub mod error;
pub mod http;
pub mod report;
pub mod urls;
