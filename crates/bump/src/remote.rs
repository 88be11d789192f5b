//! How tag-bump reaches remotes: the transport flags and the environment they are read
//! with (token, SSH keys and known_hosts, TLS verification, timeouts and transfer bounds),
//! checked into one [`Transport`] before any remote is opened.

use std::path::PathBuf;
use std::time::Duration as StdDuration;

use rollout_core::cli::{Env, warn};
use rollout_core::env::truthy;
use rollout_core::tree::Fault;

use crate::TOOL;
use crate::error::BumpError;
use crate::git::{SshAuth, Transport};
use rollout_core::{CoreError, bad_value};

/// The flags of how remotes are reached and how far they are trusted.
#[derive(Debug, Clone, clap::Args)]
pub struct TransportArgs {
    /// Do not verify TLS certificates or SSH host keys (warns; GIT_SSL_NO_VERIFY=true: TLS only).
    #[arg(long)]
    pub insecure: bool,
    /// Longest wait for a remote: to connect, and for each read or write after that.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub timeout: String,
    /// Longest time one network operation (ls-remote, clone, fetch, push) may take as a whole.
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub deadline: String,
    /// Most bytes one clone or fetch may receive (B, KiB, MiB, GiB).
    #[arg(long, value_name = "SIZE", default_value = "1GiB")]
    pub max_transfer: String,
    /// Most memory tag-bump may hold while a network operation runs (B, KiB, MiB, GiB).
    #[arg(long, value_name = "SIZE", default_value = "1GiB")]
    pub max_memory: String,
    /// Send credentials over plain http:// (warns: anyone on the network can read them).
    #[arg(long)]
    pub insecure_http: bool,
    /// SSH private key to offer, alone (also GIT_SSH_KEY: a path or the key's text).
    #[arg(long, value_name = "FILE")]
    pub ssh_key: Option<PathBuf>,
    /// known_hosts file SSH host keys are checked against (default ~/.ssh/known_hosts).
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
}

/// The parts of the environment tag-bump reads, once, at the edge.
#[derive(Debug, Clone, Default)]
pub struct GitEnv {
    /// `GIT_TOKEN`.
    pub git_token: Option<String>,
    /// `GITHUB_TOKEN`.
    pub github_token: Option<String>,
    /// `GIT_USER`.
    pub git_user: Option<String>,
    /// `GIT_SSL_NO_VERIFY` is set to a true value ([`truthy`]).
    pub ssl_no_verify: bool,
    /// `GIT_SSH_KEY`: a private key file, or the key's text.
    pub ssh_key: Option<String>,
    /// `SSH_AUTH_SOCK` is set: an ssh-agent runs.
    pub ssh_agent: bool,
    /// `HOME`: where `~/.ssh` is.
    pub home: Option<PathBuf>,
    /// `TAG_BUMP_FAULT`: the fault a write test injects (see `rollout_core::tree::Fault`).
    pub fault: Fault,
}

impl GitEnv {
    /// Read the process environment.
    pub fn capture() -> Self {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        GitEnv {
            git_token: var("GIT_TOKEN"),
            github_token: var("GITHUB_TOKEN"),
            git_user: var("GIT_USER"),
            ssl_no_verify: var("GIT_SSL_NO_VERIFY").is_some_and(|v| truthy(&v)),
            ssh_key: var("GIT_SSH_KEY"),
            ssh_agent: var("SSH_AUTH_SOCK").is_some(),
            home: var("HOME").map(PathBuf::from),
            fault: Fault::parse(var("TAG_BUMP_FAULT").as_deref()),
        }
    }
}

/// How to reach remotes: the token, the SSH keys and known_hosts, whether TLS and host keys
/// are verified (warned about when not). A named key or known_hosts file must exist.
#[allow(unsafe_code)] // libgit2 global options (timeouts); see SAFETY
pub fn transport(args: &TransportArgs, env: &Env, genv: &GitEnv) -> Result<Transport, BumpError> {
    let (token, token_source) = match (&genv.git_token, &genv.github_token) {
        (Some(t), _) => (Some(t.clone()), Some("GIT_TOKEN")),
        (None, Some(t)) => (Some(t.clone()), Some("GITHUB_TOKEN")),
        _ => (None, None),
    };
    let keys = crate::ssh::key_sources(
        args.ssh_key.as_deref(),
        genv.ssh_key.as_deref(),
        genv.ssh_agent,
        genv.home.as_deref(),
        |p| p.is_file(),
    );
    if let Some(crate::ssh::KeySource::File(path)) = keys.first()
        && (args.ssh_key.is_some() || genv.ssh_key.is_some())
        && !path.is_file()
    {
        let flag = if args.ssh_key.is_some() {
            "--ssh-key"
        } else {
            "GIT_SSH_KEY"
        };
        return Err(bad_value(flag, path.display().to_string(), "no such file"));
    }
    if let Some(file) = &args.known_hosts
        && !file.is_file()
    {
        return Err(bad_value(
            "--known-hosts",
            file.display().to_string(),
            "no such file",
        ));
    }
    let timeout = rollout_core::time::Duration::parse(&args.timeout)?;
    let timeout_ms = i32::try_from(timeout.as_secs().saturating_mul(1000))
        .ok()
        .filter(|ms| *ms > 0)
        .ok_or_else(|| CoreError::bad_value("--timeout", &args.timeout, "between 1s and 24d"))?;
    // SAFETY: libgit2's global options, set once at the edge before any remote is opened;
    // tag-bump runs no other thread that uses libgit2.
    unsafe {
        let _ = git2::opts::set_server_connect_timeout_in_milliseconds(timeout_ms);
        let _ = git2::opts::set_server_timeout_in_milliseconds(timeout_ms);
    }
    let known_hosts = args
        .known_hosts
        .clone()
        .or_else(|| genv.home.as_ref().map(|h| h.join(".ssh/known_hosts")));
    let limits = limits(args)?;
    let transport = Transport {
        insecure: args.insecure || genv.ssl_no_verify,
        token,
        token_source,
        user: genv.git_user.clone(),
        cleartext: args.insecure_http,
        timeout: args.timeout.clone(),
        ssh: SshAuth {
            keys,
            known_hosts,
            insecure: args.insecure,
        },
        limits: std::sync::Arc::new(limits),
    };
    warn_trust(args, env, transport.insecure);
    Ok(transport)
}

/// The bounds of one network operation: `--deadline`, `--max-transfer`, `--max-memory`.
fn limits(args: &TransportArgs) -> Result<crate::transfer::Limits, BumpError> {
    let deadline = rollout_core::time::Duration::parse(&args.deadline)?;
    if deadline.as_secs() < 1 {
        return Err(bad_value("--deadline", &args.deadline, "at least 1s"));
    }
    let size = |flag: &'static str, text: &str| {
        rollout_core::resources::parse_size(text)
            .map_err(|m| bad_value(flag, text, &m))
            .and_then(|n| {
                if n < 1 << 20 {
                    Err(CoreError::bad_value(flag, text, "at least 1MiB"))
                } else {
                    Ok(n)
                }
            })
    };
    Ok(crate::transfer::Limits::new(
        StdDuration::from_secs(deadline.as_secs() as u64),
        size("--max-transfer", &args.max_transfer)?,
        size("--max-memory", &args.max_memory)?,
        [
            args.deadline.clone(),
            args.max_transfer.clone(),
            args.max_memory.clone(),
        ],
    ))
}

/// Every weakened check is said on stderr: credentials in cleartext, TLS or host keys not
/// verified.
fn warn_trust(args: &TransportArgs, env: &Env, tls_off: bool) {
    if args.insecure_http {
        warn(
            TOOL,
            env,
            "credentials may be sent over plain http (--insecure-http); anyone on the network can read them",
        );
    }
    if args.insecure {
        warn(
            TOOL,
            env,
            "TLS certificate and SSH host key verification are off (--insecure); the remote is not authenticated",
        );
    } else if tls_off {
        warn(
            TOOL,
            env,
            "TLS certificate verification is off (GIT_SSL_NO_VERIFY); the remote is not authenticated",
        );
    }
}
