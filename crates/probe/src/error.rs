//! health-probe's errors, each with its exit class and reason code.
//!
//! An unhealthy URL is not an error: it is the evidence, printed in the report (and exit 1
//! only with `--fail-on-unhealthy`). Errors are what stops a probe from being run at all.

use rollout_core::{CoreError, ExitClass, Failure};

/// Everything that stops health-probe.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// A shared-contract failure (output, files, jq, time).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// No URL in the flags nor in `RUNTIME_HEALTH_URLS`.
    #[error("no health URLs: give --url, --urls or set RUNTIME_HEALTH_URLS")]
    NoUrls,
    /// A URL that does not parse, or is not http/https with a host.
    #[error("{origin}: URL {position} {url:?}: {message}")]
    BadUrl {
        /// Where the list came from (`--url`, `--urls`, `RUNTIME_HEALTH_URLS`).
        origin: String,
        /// 1-based position in the list.
        position: usize,
        /// The URL, credentials removed.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// A list that starts with `[` but is not a JSON array.
    #[error("{origin}: {message}")]
    BadList {
        /// Where the list came from.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// A URL carrying `user:password@`: credentials do not belong in a URL list.
    #[error(
        "{origin}: URL {position} {url:?} carries credentials (user:password@), which do not belong in a URL list"
    )]
    Credentials {
        /// Where the list came from.
        origin: String,
        /// 1-based position in the list.
        position: usize,
        /// The URL, credentials removed.
        url: String,
    },
}

impl Failure for ProbeError {
    fn class(&self) -> ExitClass {
        match self {
            ProbeError::Core(e) => e.class(),
            _ => ExitClass::Usage,
        }
    }

    fn reason_code(&self) -> &str {
        match self {
            ProbeError::Core(e) => e.reason_code(),
            ProbeError::NoUrls => "urls_empty",
            ProbeError::BadUrl { .. } | ProbeError::BadList { .. } => "url_invalid",
            ProbeError::Credentials { .. } => "url_credentials",
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            ProbeError::Core(e) => e.hints(),
            ProbeError::Credentials { .. } => vec![
                "a health endpoint that needs a secret should read it from a header or be reachable without one; remove user:password@ from the list".into(),
            ],
            ProbeError::NoUrls => vec![
                "for example: health-probe --urls 'https://api.example.com/healthz,https://web.example.com/healthz'".into(),
            ],
            _ => Vec::new(),
        }
    }
}
