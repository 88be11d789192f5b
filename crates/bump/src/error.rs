//! tag-bump's errors, each with its exit class, reason code and a hint that says how to fix it.

use rollout_core::{CoreError, ExitClass, Failure};

/// Everything that stops tag-bump.
#[derive(Debug, thiserror::Error)]
pub enum BumpError {
    /// A shared-contract failure (input, files, locks, jq).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The services file cannot be used.
    #[error("{file}: {message}")]
    ServicesInvalid {
        /// The services file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// The sets document (`-i`) is not a map or list of service tags, or a tag in it is bad.
    #[error("{origin}: {message}")]
    SetsInvalid {
        /// The file, or `stdin`.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// The environments file cannot be used, or has no such environment.
    #[error("{message}")]
    EnvironmentsInvalid {
        /// What is wrong (naming the file).
        message: String,
    },
    /// A service is not in the services file.
    #[error("service {service:?} is not in {file}")]
    ServiceUnknown {
        /// The service.
        service: String,
        /// The services file.
        file: String,
        /// The services it has.
        known: Vec<String>,
    },
    /// A service has no image group, or names one that does not exist.
    #[error("service {service:?} {detail} in {file}")]
    NoImageGroup {
        /// The service.
        service: String,
        /// "has no imageGroup" or "names imageGroup X, which is not under imageGroups".
        detail: String,
        /// The services file.
        file: String,
    },
    /// A path from the configuration names git's own files.
    #[error(
        "{path}: inside .git/, which holds git's own files (HEAD, config, hooks), never a file to edit"
    )]
    PathInGitDir {
        /// As configured.
        path: String,
    },
    /// The file to edit does not exist.
    #[error("{file}: no such file in the repository")]
    FileMissing {
        /// Relative to the repository.
        file: String,
    },
    /// The image entry (or marked value, or path) is not in the file.
    #[error("{file}: {what} not found")]
    EntryNotFound {
        /// Relative to the repository.
        file: String,
        /// What was looked for.
        what: String,
        /// How to fix it.
        hint: String,
    },
    /// The file cannot be edited safely as it is written.
    #[error("{file}: {message}")]
    Uneditable {
        /// Relative to the repository.
        file: String,
        /// Why.
        message: String,
    },
    /// `--expect-current` does not hold.
    #[error("{file}: current tag of {image} is {found}, not {expected} (--expect-current)")]
    CurrentMismatch {
        /// Relative to the repository.
        file: String,
        /// The image.
        image: String,
        /// What is there (quoted, or "absent").
        found: String,
        /// What was expected.
        expected: String,
    },
    /// `--expect N` does not hold: the run would set another number of values.
    #[error("the run sets {found} value(s), not {expected} (--expect); files: {}", files.join(", "))]
    ExpectMismatch {
        /// N.
        expected: usize,
        /// How many it would set.
        found: usize,
        /// The files holding them.
        files: Vec<String>,
    },
    /// A digest pinned next to the tag would shadow the new tag.
    #[error(
        "{file}: {image} is pinned to {digest}, which wins over the tag; the bump would not deploy"
    )]
    DigestShadowsTag {
        /// Relative to the repository.
        file: String,
        /// The image.
        image: String,
        /// The pinned digest.
        digest: String,
    },
    /// The edited text did not re-parse to exactly the intended change.
    #[error("{file}: the edit did not verify: {message}; nothing was written")]
    VerifyFailed {
        /// Relative to the repository.
        file: String,
        /// What differed.
        message: String,
    },
    /// The branch to use is not on the remote, or the remote does not say which is its
    /// default; `known` lists what the remote has.
    #[error("{message} ({remote} has: {})", if known.is_empty() { "no branches".to_string() } else { known.join(", ") })]
    BranchUnknown {
        /// The remote as shown.
        remote: String,
        /// What is wrong.
        message: String,
        /// The remote's branches.
        known: Vec<String>,
    },
    /// A failure after a lost push race had already hard-reset the working copy to the
    /// remote branch: the message says so, since "nothing was changed" no longer holds.
    #[error("{source}; {state}")]
    AfterReset {
        /// The failure itself (its exit class and reason code are the run's).
        source: Box<BumpError>,
        /// What the working copy holds now.
        state: String,
    },
    /// The working directory is not a usable git repository.
    #[error("{path}: {message}")]
    RepoInvalid {
        /// The directory.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A git operation failed (network, TLS, authentication, object store).
    #[error("{action}: {message}")]
    Git {
        /// What was being done ("fetch https://host/repo.git main").
        action: String,
        /// libgit2's message, with any userinfo removed.
        message: String,
        /// Which kind of failure, for the reason code.
        reason: GitReason,
        /// State left behind, when not nothing ("commit abc1234 is in DIR, not pushed").
        left: Option<String>,
    },
    /// The server refused the push (hook, protected branch).
    #[error(
        "push to {remote} {refname} rejected by the server: {message}{}",
        left_text(left)
    )]
    PushRejected {
        /// The remote (no userinfo).
        remote: String,
        /// The ref.
        refname: String,
        /// The server's message.
        message: String,
        /// State left behind.
        left: Option<String>,
    },
    /// Non-fast-forward after every retry.
    #[error(
        "push to {remote} {refname} still non-fast-forward after {attempts} attempts in {elapsed}{}",
        left_text(left)
    )]
    PushRetriesExhausted {
        /// The remote (no userinfo).
        remote: String,
        /// The ref.
        refname: String,
        /// Attempts made.
        attempts: u32,
        /// How long they took (`1s250ms`).
        elapsed: String,
        /// State left behind.
        left: Option<String>,
    },
}

fn left_text(left: &Option<String>) -> String {
    left.as_ref().map(|l| format!("; {l}")).unwrap_or_default()
}

/// What kind of git failure, for the reason code and hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitReason {
    /// The TLS certificate did not verify.
    Tls,
    /// Credentials were missing or refused.
    Auth,
    /// The network or the server failed.
    Network,
    /// The SSH server's host key is not in known_hosts.
    HostKeyUnknown,
    /// known_hosts records another key of the same type for the SSH server.
    HostKeyChanged,
    /// known_hosts marks the SSH server's key `@revoked`.
    HostKeyRevoked,
    /// A server redirected to another host, which asked for the credentials.
    RedirectRefused,
    /// Credentials would have crossed the network in clear (plain http).
    CleartextRefused,
    /// A network operation ran past `--deadline`.
    Deadline,
    /// A remote sent more than `--max-transfer`, or its answer more than `--max-memory`.
    TooLarge,
    /// The remote branch does not exist.
    BranchMissing,
    /// Anything else in git.
    Other,
}

impl Failure for BumpError {
    fn class(&self) -> ExitClass {
        use BumpError as E;
        match self {
            E::Core(e) => e.class(),
            E::AfterReset { source, .. } => source.class(),
            E::ServicesInvalid { .. } | E::SetsInvalid { .. } | E::EnvironmentsInvalid { .. } => {
                ExitClass::Usage
            }
            E::ServiceUnknown { .. }
            | E::NoImageGroup { .. }
            | E::PathInGitDir { .. }
            | E::FileMissing { .. }
            | E::EntryNotFound { .. }
            | E::Uneditable { .. }
            | E::CurrentMismatch { .. }
            | E::ExpectMismatch { .. }
            | E::DigestShadowsTag { .. }
            | E::VerifyFailed { .. }
            | E::BranchUnknown { .. }
            | E::RepoInvalid { .. } => ExitClass::Refused,
            E::PushRejected { .. } | E::PushRetriesExhausted { .. } => ExitClass::Conflict,
            E::Git { .. } => ExitClass::Environment,
        }
    }

    fn reason_code(&self) -> &str {
        use BumpError as E;
        match self {
            E::Core(e) => e.reason_code(),
            E::AfterReset { source, .. } => source.reason_code(),
            E::ServicesInvalid { .. } => "services_invalid",
            E::SetsInvalid { .. } => "sets_invalid",
            E::EnvironmentsInvalid { .. } => "environments_invalid",
            E::ServiceUnknown { .. } => "service_unknown",
            E::NoImageGroup { .. } => "service_without_image_group",
            E::PathInGitDir { .. } => "path_in_git_directory",
            E::FileMissing { .. } => "file_missing",
            E::EntryNotFound { .. } => "image_entry_not_found",
            E::Uneditable { .. } => "file_uneditable",
            E::CurrentMismatch { .. } => "current_tag_mismatch",
            E::ExpectMismatch { .. } => "value_count_mismatch",
            E::DigestShadowsTag { .. } => "digest_shadows_tag",
            E::VerifyFailed { .. } => "edit_verification_failed",
            E::RepoInvalid { .. } => "repository_invalid",
            E::BranchUnknown { .. } => "branch_unknown",
            E::Git { reason, .. } => match reason {
                GitReason::Tls => "tls_verification_failed",
                GitReason::Auth => "authentication_failed",
                GitReason::HostKeyUnknown => "host_key_unknown",
                GitReason::HostKeyChanged => "host_key_changed",
                GitReason::HostKeyRevoked => "host_key_revoked",
                GitReason::RedirectRefused => "redirect_refused",
                GitReason::CleartextRefused => "cleartext_credentials_refused",
                GitReason::Network => "network_error",
                GitReason::Deadline => "transfer_deadline_exceeded",
                GitReason::TooLarge => "transfer_too_large",
                GitReason::BranchMissing => "remote_branch_missing",
                GitReason::Other => "git_error",
            },
            E::PushRejected { .. } => "push_rejected",
            E::PushRetriesExhausted { .. } => "push_retries_exhausted",
        }
    }

    fn hints(&self) -> Vec<String> {
        use BumpError as E;
        match self {
            E::Core(CoreError::PathOutside { .. }) => {
                vec!["paths in the services file are relative to the repository root".into()]
            }
            E::Core(e) => e.hints(),
            E::AfterReset { source, .. } => source.hints(),
            E::ServiceUnknown { file, known, .. } => vec![format!(
                "add the service under \"services\" in {file}{}, or name the file with --file PATH --image NAME",
                if known.is_empty() {
                    String::new()
                } else {
                    format!(" (it has: {})", known.join(", "))
                }
            )],
            E::SetsInvalid { .. } => vec![
                "write {\"SERVICE\": \"TAG\", ...} or [{\"service\": \"SERVICE\", \"tag\": \"TAG\"}, ...]"
                    .into(),
            ],
            E::NoImageGroup { file, .. } => vec![format!(
                "give the service an \"imageGroup\" that names an entry of \"imageGroups\" in {file}"
            )],
            E::FileMissing { .. } => vec![
                "check the \"file\" of the image group (relative to the repository root)".into(),
            ],
            E::EntryNotFound { hint, .. } => vec![hint.clone()],
            E::CurrentMismatch { .. } => vec![
                "someone else changed the tag; fetch, look, and run again with the right --expect-current".into(),
            ],
            E::DigestShadowsTag { .. } => vec![
                "pass --digest with the new build's digest, or remove the pinned digest by hand"
                    .into(),
            ],
            E::Git { reason, .. } => match reason {
                GitReason::Tls => vec![
                    "install the server's CA (SSL_CERT_FILE=ca.pem), or for a self-signed test server pass --insecure"
                        .into(),
                ],
                GitReason::Auth => vec![
                    "set GIT_TOKEN or GITHUB_TOKEN (and GIT_USER when the server wants a user name), or configure a git credential helper"
                        .into(),
                ],
                GitReason::BranchMissing => {
                    vec!["check --branch; the remote has no such branch".into()]
                }
                _ if self.to_string().contains("failed to lock file") => vec![
                    "an interrupted git process left that .lock file; when no git command is running in this working copy, remove it and run again (tag-bump removes such files itself in its own --workdir clone)".into(),
                ],
                _ => Vec::new(),
            },
            E::PushRetriesExhausted { .. } => vec![
                "the branch moves faster than the retries: raise --push-timeout (or --push-retries), or set many services in one commit (--set SERVICE=TAG ...)".into(),
            ],
            E::PushRejected { .. } => vec![
                "the server's hooks or branch protection refused the commit; read its message above"
                    .into(),
            ],
            _ => Vec::new(),
        }
    }
}
