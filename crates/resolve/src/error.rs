//! image-resolve's errors, each with its exit class and reason code.
//!
//! What the registry says it does not hold (a tag, a digest, a repository, a platform) is a
//! refusal (exit 3): a rollout must not go on with an image that is not there. What keeps
//! the registry from answering (network, TLS, credentials, a broken or oversized answer) is
//! an environment failure (exit 5) with a hint of what to try. No message carries a
//! password or token: they are held in [`crate::auth::Secret`], which does not print.

use rollout_core::{CoreError, ExitClass, Failure};

/// Everything that stops image-resolve.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// A shared-contract failure (output, time, jq, flags).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// A reference that does not parse.
    #[error("reference {text:?}: {message}")]
    BadReference {
        /// The reference as given.
        text: String,
        /// What is wrong.
        message: String,
    },
    /// The registry holds no such tag.
    #[error("{reference}: the registry has no tag {tag:?} in {repository}")]
    TagMissing {
        /// The reference as given.
        reference: String,
        /// The tag.
        tag: String,
        /// `registry/repository`.
        repository: String,
    },
    /// The registry holds no manifest of that digest.
    #[error("{reference}: the registry has no manifest {digest} in {repository}")]
    DigestMissing {
        /// The reference as given.
        reference: String,
        /// The digest.
        digest: String,
        /// `registry/repository`.
        repository: String,
    },
    /// The repository does not exist.
    #[error("{repository}: the registry has no such repository")]
    RepositoryMissing {
        /// `registry/repository`.
        repository: String,
    },
    /// An index without the platform asked for.
    #[error("{reference}: the index has no {platform} image (it has {available})")]
    PlatformMissing {
        /// The reference as given.
        reference: String,
        /// The platform asked for.
        platform: String,
        /// The platforms it has, comma-separated.
        available: String,
    },
    /// Bytes that hash to another digest than the one asked for or announced.
    #[error("{what}: the registry sent bytes whose digest is {actual}, not {expected}")]
    DigestMismatch {
        /// What was fetched.
        what: String,
        /// What it should hash to.
        expected: String,
        /// What it hashed to.
        actual: String,
    },
    /// `--latest` with no tag passing the selection.
    #[error("{repository}: no tag of {total} passes {selection}")]
    NoTagSelected {
        /// `registry/repository`.
        repository: String,
        /// How many tags there were.
        total: usize,
        /// The selection, for people.
        selection: String,
    },
    /// The registry could not be reached (refused, DNS, timeout, connection lost).
    #[error("{host}: {message}")]
    Unreachable {
        /// The host.
        host: String,
        /// What happened.
        message: String,
    },
    /// TLS failed (certificate not trusted, handshake).
    #[error("{host}: TLS: {message}")]
    Tls {
        /// The host.
        host: String,
        /// What happened.
        message: String,
    },
    /// Authentication failed or was needed and not possible.
    #[error("{host}: {message}")]
    Auth {
        /// The host.
        host: String,
        /// What happened (never a secret).
        message: String,
        /// Whether credentials were found and sent.
        had_credentials: bool,
    },
    /// Credentials could not be looked up (a broken docker config, a failing helper).
    #[error("credentials: {message}")]
    Credentials {
        /// What happened.
        message: String,
    },
    /// An answer the registry should not give (status, shape, size).
    #[error("{host}: {message}")]
    Registry {
        /// The host.
        host: String,
        /// What happened.
        message: String,
    },
}

impl Failure for ResolveError {
    fn class(&self) -> ExitClass {
        use ResolveError::*;
        match self {
            Core(e) => e.class(),
            BadReference { .. } => ExitClass::Usage,
            TagMissing { .. }
            | DigestMissing { .. }
            | RepositoryMissing { .. }
            | PlatformMissing { .. }
            | DigestMismatch { .. }
            | NoTagSelected { .. } => ExitClass::Refused,
            Unreachable { .. }
            | Tls { .. }
            | Auth { .. }
            | Credentials { .. }
            | Registry { .. } => ExitClass::Environment,
        }
    }

    fn reason_code(&self) -> &str {
        use ResolveError::*;
        match self {
            Core(e) => e.reason_code(),
            BadReference { .. } => "reference_invalid",
            TagMissing { .. } => "tag_missing",
            DigestMissing { .. } => "digest_missing",
            RepositoryMissing { .. } => "repository_missing",
            PlatformMissing { .. } => "platform_missing",
            DigestMismatch { .. } => "digest_mismatch",
            NoTagSelected { .. } => "no_tag_selected",
            Unreachable { .. } => "registry_unreachable",
            Tls { .. } => "registry_tls",
            Auth { .. } => "registry_auth",
            Credentials { .. } => "credentials_invalid",
            Registry { .. } => "registry_error",
        }
    }

    fn hints(&self) -> Vec<String> {
        use ResolveError::*;
        match self {
            Core(e) => e.hints(),
            Auth {
                host,
                had_credentials: false,
                ..
            } => vec![
                format!("log in first (docker login {host}, or skopeo login, which write ~/.docker/config.json), or set DOCKER_CONFIG to the directory of a config.json with an auths entry for {host}"),
                "on GitHub Actions, ghcr.io takes GITHUB_TOKEN (permissions: packages: read)".into(),
            ],
            Auth {
                had_credentials: true,
                ..
            } => vec![
                "the credentials were sent and refused: check the user, the token's expiry and its scopes (pull access to this repository)".into(),
            ],
            Tls { .. } => vec![
                "a registry behind a private CA: point SSL_CERT_FILE at the CA bundle; --insecure skips verification (with a warning), for throw-away test registries only".into(),
            ],
            Unreachable { host, .. } => vec![format!(
                "check the host and port ({host}), and that this runner can reach it; --timeout gives a slow registry longer"
            )],
            TagMissing { repository, .. } => vec![format!(
                "list what is there: image-resolve tags {repository}"
            )],
            DigestMismatch { .. } => vec![
                "a proxy or cache in the way, or a registry that rewrote the manifest: do not pin these bytes".into(),
            ],
            _ => Vec::new(),
        }
    }
}
