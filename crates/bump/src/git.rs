//! Git through libgit2: open or clone, fetch and hard-reset, commit only the edited files,
//! push with an explicit refspec and tell the outcomes apart.
//!
//! Three traps of libgit2 are handled here once (STACK.md §2):
//!
//! * a server-side rejection (a `pre-receive` hook, a protected branch) is not an error of
//!   `Remote::push`; it arrives only through the `push_update_reference` callback, which is
//!   therefore always installed;
//! * the credentials callback is called again after every 401, forever; it is bounded, and
//!   tries a git credential helper first, then `GIT_TOKEN`/`GITHUB_TOKEN` (over SSH: the
//!   keys of [`crate::ssh::key_sources`], each once);
//! * libgit2 follows a redirect to another host and the credentials callback would answer
//!   it: credentials are given only to the host of the URL tag-bump was given (a redirect
//!   elsewhere that asks for them is refused, naming both hosts), never over plain `http`
//!   unless `--insecure-http`, and fetches and pushes follow no off-site redirect at all;
//! * libgit2 accepts any SSH host key unless told otherwise; the certificate callback checks
//!   every one against `known_hosts` ([`crate::ssh::check_host_key`]) and leaves TLS
//!   certificates to libgit2's own verification;
//! * the local-path transport writes refs directly and skips the remote's hooks; that is
//!   libgit2's behaviour, and tests that need a rejecting remote use smart HTTP.
//!
//! A token never reaches a message: errors are scrubbed of every secret the run knows and
//! of URL userinfo before they leave this module.

use rollout_core::CoreError;
pub use rollout_core::url::redact_userinfo;
use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};

use git2::{
    CertificateCheckStatus, Cred, CredentialType, ErrorClass, ErrorCode, FetchOptions, Oid,
    PushOptions, RemoteCallbacks, Repository, ResetType, Signature,
};

use crate::error::{BumpError, GitReason};
use crate::ssh::{self, HostKeyVerdict, KeySource, SshUrl};
use crate::transfer::Tripped;

/// How to talk to remotes: TLS, credentials. Read from flags and the environment at the edge.
#[derive(Debug, Clone, Default)]
pub struct Transport {
    /// Skip TLS certificate verification (`--insecure`, `GIT_SSL_NO_VERIFY`).
    pub insecure: bool,
    /// `GIT_TOKEN`, else `GITHUB_TOKEN`.
    pub token: Option<String>,
    /// Which variable the token came from (for messages).
    pub token_source: Option<&'static str>,
    /// `GIT_USER`.
    pub user: Option<String>,
    /// Send credentials over plain `http://` (`--insecure-http`; warns).
    pub cleartext: bool,
    /// `--timeout` as given, for messages (libgit2's global deadlines are set from it).
    pub timeout: String,
    /// SSH: the keys to offer and the known_hosts file.
    pub ssh: SshAuth,
    /// `--deadline`, `--max-transfer`, `--max-memory`: bounds on each network operation.
    pub limits: std::sync::Arc<crate::transfer::Limits>,
}

/// How tag-bump authenticates over SSH, and how it authenticates the server.
#[derive(Debug, Clone, Default)]
pub struct SshAuth {
    /// The keys to offer, in order ([`ssh::key_sources`]).
    pub keys: Vec<KeySource>,
    /// The known_hosts file (`--known-hosts`, else `~/.ssh/known_hosts`; None without HOME).
    pub known_hosts: Option<PathBuf>,
    /// Accept any host key (`--insecure`; warns). `GIT_SSL_NO_VERIFY` does not set it.
    pub insecure: bool,
}

impl Transport {
    /// Every secret a message must never show.
    fn secrets(&self) -> Vec<&str> {
        let inline_keys = self.ssh.keys.iter().filter_map(|k| match k {
            KeySource::Inline(text) => Some(text.as_str()),
            _ => None,
        });
        let key_lines = inline_keys.flat_map(|k| k.lines().map(str::trim));
        self.token
            .iter()
            .map(String::as_str)
            .chain(key_lines)
            .filter(|t| t.len() >= 4 && !t.starts_with("-----"))
            .collect()
    }

    /// Check the host key an SSH server showed (`blob`, its wire encoding) against
    /// known_hosts; the refusal's reason and message when it is not the recorded one.
    fn verify_host_key(
        &self,
        target: Option<&SshUrl>,
        host: &str,
        blob: Option<&[u8]>,
    ) -> Result<(), (GitReason, String)> {
        let name = target.map_or_else(|| host.to_string(), SshUrl::known_hosts_name);
        let Some(blob) = blob else {
            return Err((
                GitReason::HostKeyUnknown,
                format!("the host key of {name} could not be read from the connection"),
            ));
        };
        let key = format!(
            "{} {}",
            ssh::key_type(blob).unwrap_or("unknown-type"),
            ssh::fingerprint(blob)
        );
        let file = self.ssh.known_hosts.as_ref().map_or_else(
            || "~/.ssh/known_hosts".to_string(),
            |f| f.display().to_string(),
        );
        let keyscan = match target {
            Some(t) if t.port != 22 => format!("ssh-keyscan -p {} {}", t.port, t.host),
            _ => format!("ssh-keyscan {host}"),
        };
        let add = format!(
            "check the fingerprint with the server's owner, then add the key ({keyscan} >> {file}) or name another file with --known-hosts"
        );
        let text = match &self.ssh.known_hosts {
            None => None,
            Some(f) => match std::fs::read_to_string(f) {
                Ok(t) => Some(t),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => {
                    return Err((
                        GitReason::HostKeyUnknown,
                        format!("cannot read {file} to check the host key of {name}: {e}"),
                    ));
                }
            },
        };
        let Some(text) = text else {
            let why = if self.ssh.known_hosts.is_some() {
                format!("{file} does not exist")
            } else {
                "HOME is not set and no --known-hosts was given".to_string()
            };
            return Err((
                GitReason::HostKeyUnknown,
                format!("host key of {name} ({key}) is unknown: {why}; {add}"),
            ));
        };
        match ssh::check_host_key(&text, &name, blob) {
            HostKeyVerdict::Known => Ok(()),
            HostKeyVerdict::Unknown { other_types } => {
                let others = if other_types.is_empty() {
                    String::new()
                } else {
                    format!(" (it records only {} keys for it)", other_types.join(", "))
                };
                Err((
                    GitReason::HostKeyUnknown,
                    format!("host key of {name} ({key}) is not in {file}{others}; {add}"),
                ))
            }
            HostKeyVerdict::Changed { line } => Err((
                GitReason::HostKeyChanged,
                format!(
                    "host key of {name} has changed: the server shows {key}, {file} line {line} records another; the connection may be intercepted (if the key was rotated, remove the old one: ssh-keygen -R '{name}' -f {file})"
                ),
            )),
            HostKeyVerdict::Revoked { line } => Err((
                GitReason::HostKeyRevoked,
                format!("host key of {name} ({key}) is revoked ({file} line {line})"),
            )),
        }
    }

    /// Remove secrets and URL userinfo from a message.
    pub fn scrub(&self, message: &str) -> String {
        let mut out = redact_userinfo(message);
        for s in self.secrets() {
            out = out.replace(s, "***");
        }
        out
    }
}

/// Check a remote URL: no password in it (credentials come from the environment or a
/// helper), and a transport this build speaks.
pub fn check_url(url: &str) -> Result<(), String> {
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority = rest.split('/').next().unwrap_or("");
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && userinfo.contains(':')
        {
            return Err(
                "a password or token in the URL would be stored and printed; set GIT_TOKEN instead"
                    .into(),
            );
        }
        return match scheme {
            "https" | "http" | "file" => Ok(()),
            "ssh" | "git+ssh" | "ssh+git" if ssh::parse_url(url).is_some() => Ok(()),
            "ssh" | "git+ssh" | "ssh+git" => {
                Err("not an ssh URL: use ssh://[user@]host[:port]/path".into())
            }
            other => Err(format!("unsupported scheme {other:?}; use https or ssh")),
        };
    }
    Ok(())
}

/// Whether `spec` is a URL (https, ssh, scp-like, file) or a path rather than a remote name.
pub fn is_url(spec: &str) -> bool {
    spec.contains("://")
        || spec.starts_with('/')
        || spec.starts_with('.')
        || ssh::parse_url(spec).is_some()
}

/// The outcome of one push attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// The remote branch now holds our HEAD.
    Pushed,
    /// The remote has commits we do not: fetch, reset, re-apply, retry.
    NonFastForward,
    /// The server refused (hook, protection); its message.
    Rejected(String),
}

/// A repository tag-bump works in.
pub struct Git {
    /// The repository.
    pub repo: Repository,
    /// Its working directory.
    pub root: PathBuf,
    /// Things done on the way that the user should hear about (printed as warnings).
    pub notes: RefCell<Vec<String>>,
}

impl std::fmt::Debug for Git {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Git").field("root", &self.root).finish()
    }
}

/// A remote: a configured name or a URL.
#[derive(Debug, Clone)]
pub struct RemoteSpec {
    /// As shown in reports: the name, or the URL without userinfo.
    pub display: String,
    /// The configured name, when it is one.
    pub name: Option<String>,
    /// The URL.
    pub url: String,
}

/// What the callbacks of one operation saw: they cannot return a typed error through
/// libgit2, so the reason of a refusal is kept here and read when the operation fails.
#[derive(Debug, Default)]
struct Calls {
    /// The credentials callback gave up (nothing left to offer).
    auth_failed: Cell<bool>,
    /// The server asked for SSH credentials.
    ssh: Cell<bool>,
    /// The SSH keys offered, as [`KeySource::describe`] names them.
    ssh_tried: RefCell<Vec<String>>,
    /// A refusal of the callbacks (host key, redirect, cleartext): its reason and message.
    refused: RefCell<Option<(GitReason, String)>>,
}

/// The `host[:port]` of a URL, lowercased, without userinfo (None for paths, scp-like).
fn authority(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    Some(host.to_ascii_lowercase())
}

fn classify(e: &git2::Error, calls: &Calls) -> GitReason {
    if calls.auth_failed.get() || e.code() == ErrorCode::Auth {
        return GitReason::Auth;
    }
    if calls.ssh.get()
        && e.class() == ErrorClass::Ssh
        && e.message().to_ascii_lowercase().contains("authenticat")
    {
        return GitReason::Auth;
    }
    if e.code() == ErrorCode::Certificate || e.class() == ErrorClass::Ssl {
        return GitReason::Tls;
    }
    let m = e.message();
    if m.contains("couldn't find remote ref") || m.contains("could not find remote ref") {
        return GitReason::BranchMissing;
    }
    if matches!(
        e.class(),
        ErrorClass::Net | ErrorClass::Http | ErrorClass::Os
    ) {
        return GitReason::Network;
    }
    GitReason::Other
}

impl Git {
    fn error(
        &self,
        transport: &Transport,
        action: String,
        e: &git2::Error,
        calls: &Calls,
    ) -> BumpError {
        git_error(transport, action, e, calls)
    }

    /// Open the repository whose working directory is `dir`.
    pub fn open(dir: &Path) -> Result<Git, BumpError> {
        let repo = Repository::open(dir).map_err(|e| BumpError::RepoInvalid {
            path: dir.display().to_string(),
            message: format!("not a git repository ({})", e.message()),
        })?;
        let root = repo
            .workdir()
            .ok_or_else(|| BumpError::RepoInvalid {
                path: dir.display().to_string(),
                message: "a bare repository has no files to edit; clone it (--clone URL)".into(),
            })?
            .to_path_buf();
        Ok(Git {
            repo,
            root,
            notes: RefCell::new(Vec::new()),
        })
    }

    /// Clone `url` into `dir` (which must not exist or be empty), checking out `branch`.
    pub fn clone(
        url: &str,
        dir: &Path,
        branch: &str,
        transport: &Transport,
    ) -> Result<Git, BumpError> {
        let _turn = local_turn(url)?;
        let action = format!("clone {} {branch}", redact_userinfo(url));
        let _armed = transport.limits.arm(&action);
        let calls = Calls::default();
        let mut fo = FetchOptions::new();
        fo.remote_callbacks(callbacks(transport, url, &calls, None));
        fo.follow_redirects(git2::RemoteRedirect::None);
        // An edit needs the branch's tip, not its history: one branch, one commit deep
        // (`git clone --depth 1 --single-branch`) over the network. A later fetch brings
        // only what is new, and a push from the shallow clone sends only the new commit.
        // libgit2's local transport cannot fetch shallow, and walks the whole history to
        // build a pack: a file:// or path remote is cloned as git clones a local path, by
        // copying its object files (copied, not hard-linked: a link to another user's read-
        // only pack fails where protected_hardlinks is on), after checking that they fit in
        // --max-transfer.
        let mut builder = git2::build::RepoBuilder::new();
        match local_path(url) {
            None => {
                fo.depth(1);
            }
            Some(path) => {
                let bytes = local_objects_size(&path);
                if !transport
                    .limits
                    .on_progress(bytes, std::time::Instant::now())
                {
                    let e = git2::Error::from_str("the remote's objects exceed --max-transfer");
                    return Err(git_error(transport, action, &e, &calls));
                }
                builder.clone_local(git2::build::CloneLocal::NoLinks);
            }
        }
        let refspec = format!("+refs/heads/{branch}:refs/remotes/origin/{branch}");
        let result = builder
            .branch(branch)
            .fetch_options(fo)
            .remote_create(move |repo, name, url| repo.remote_with_fetch(name, url, &refspec))
            .clone(url, dir);
        let repo = result.map_err(|e| git_error(transport, action, &e, &calls))?;
        let root = repo.workdir().unwrap_or(dir).to_path_buf();
        Ok(Git {
            repo,
            root,
            notes: RefCell::new(Vec::new()),
        })
    }

    /// Resolve `--remote`: a configured remote name, or a URL.
    pub fn remote(&self, spec: &str) -> Result<RemoteSpec, BumpError> {
        if is_url(spec) {
            check_url(spec).map_err(|m| {
                BumpError::from(CoreError::bad_value("--remote", redact_userinfo(spec), m))
            })?;
            return Ok(RemoteSpec {
                display: redact_userinfo(spec),
                name: None,
                url: spec.to_string(),
            });
        }
        let remote = self
            .repo
            .find_remote(spec)
            .map_err(|_| BumpError::RepoInvalid {
                path: self.root.display().to_string(),
                message: format!(
                    "no remote named {spec:?} (git remote -v lists them; --remote also takes a URL)"
                ),
            })?;
        let url = remote
            .url()
            .map_err(|e| BumpError::RepoInvalid {
                path: self.root.display().to_string(),
                message: format!("remote {spec:?} has no usable URL: {}", e.message()),
            })?
            .to_string();
        Ok(RemoteSpec {
            display: spec.to_string(),
            name: Some(spec.to_string()),
            url,
        })
    }

    fn git_remote(&self, remote: &RemoteSpec) -> Result<git2::Remote<'_>, git2::Error> {
        match &remote.name {
            Some(n) => self.repo.find_remote(n),
            None => self.repo.remote_anonymous(&remote.url),
        }
    }

    /// Fetch `branch` from the remote; returns the commit it points at.
    pub fn fetch(
        &self,
        remote: &RemoteSpec,
        branch: &str,
        transport: &Transport,
    ) -> Result<Oid, BumpError> {
        let action = format!("fetch {} {branch}", remote.display);
        let _turn = local_turn(&remote.url)?;
        let _armed = transport.limits.arm(&action);
        let calls = Calls::default();
        let run = || -> Result<Oid, git2::Error> {
            let mut r = self.git_remote(remote)?;
            let mut fo = FetchOptions::new();
            fo.remote_callbacks(callbacks(transport, &remote.url, &calls, None));
            fo.follow_redirects(git2::RemoteRedirect::None);
            let refspec = match &remote.name {
                Some(n) => format!("+refs/heads/{branch}:refs/remotes/{n}/{branch}"),
                None => format!("refs/heads/{branch}"),
            };
            r.fetch(&[refspec.as_str()], Some(&mut fo), None)?;
            let want = format!("refs/heads/{branch}");
            let mut tip = None;
            self.repo.fetchhead_foreach(|name, _url, oid, _merge| {
                if name == want {
                    tip = Some(*oid);
                    false
                } else {
                    true
                }
            })?;
            tip.ok_or_else(|| git2::Error::from_str(&format!("couldn't find remote ref {want}")))
        };
        run().map_err(|e| self.error(transport, action, &e, &calls))
    }

    /// The branches `remote` has, and the one its HEAD names (`git ls-remote`).
    pub fn ls_remote(
        &self,
        remote: &RemoteSpec,
        transport: &Transport,
    ) -> Result<RemoteBranches, BumpError> {
        let action = format!("ls-remote {}", remote.display);
        let _armed = transport.limits.arm(&action);
        let calls = Calls::default();
        let r = self
            .git_remote(remote)
            .map_err(|e| self.error(transport, action.clone(), &e, &Calls::default()))?;
        list_branches(r, &remote.url, transport, &calls)
            .map_err(|e| self.error(transport, action, &e, &calls))
    }

    /// The branch checked out (None on a detached HEAD).
    pub fn current_branch(&self) -> Option<String> {
        let head = self.repo.head().ok()?;
        head.is_branch()
            .then(|| head.shorthand().ok().map(str::to_string))
            .flatten()
    }

    /// The branch checked out, when it tracks a branch of the remote named `remote`.
    pub fn tracking_branch(&self, remote: &str) -> Option<String> {
        let head = self.repo.head().ok()?;
        let name = head.shorthand().ok()?.to_string();
        let branch = self.repo.find_branch(&name, git2::BranchType::Local).ok()?;
        let upstream = branch.upstream().ok()?;
        let up = upstream.name().ok()??.to_string();
        up.strip_prefix(&format!("{remote}/")).map(str::to_string)
    }

    /// Point `refs/remotes/NAME/BRANCH` at what was just pushed, as `git push` does, so the
    /// working copy does not show the pushed commit as ahead of its remote.
    pub fn note_pushed(&self, remote: &RemoteSpec, branch: &str) {
        if let (Some(name), Some(head)) = (&remote.name, self.head()) {
            let _ = self.repo.reference(
                &format!("refs/remotes/{name}/{branch}"),
                head,
                true,
                "tag-bump: push",
            );
        }
    }

    /// Hard-reset the current branch, index and working tree to `oid`.
    pub fn reset_hard(&self, oid: Oid, transport: &Transport) -> Result<(), BumpError> {
        let run = || -> Result<(), git2::Error> {
            let obj = self.repo.find_object(oid, None)?;
            self.repo.reset(&obj, ResetType::Hard, None)
        };
        run().map_err(|e| {
            self.error(
                transport,
                format!("reset --hard {oid}"),
                &e,
                &Calls::default(),
            )
        })
    }

    /// The commit HEAD points at (None in an empty repository).
    pub fn head(&self) -> Option<Oid> {
        self.repo.head().ok().and_then(|h| h.target())
    }

    /// How many commits `tip` has that `base` has not (None: not known, as when `base` is
    /// not in this clone).
    pub fn ahead(&self, tip: Oid, base: Oid) -> Option<usize> {
        self.repo.graph_ahead_behind(tip, base).ok().map(|(a, _)| a)
    }

    /// Whether `descendant` contains `ancestor` (or is it).
    pub fn contains(&self, descendant: Oid, ancestor: Oid) -> bool {
        descendant == ancestor
            || self
                .repo
                .graph_descendant_of(descendant, ancestor)
                .unwrap_or(false)
    }

    /// The author/committer: `--author`, else git config, else `tag-bump <tag-bump@localhost>`;
    /// the time is the run's clock.
    pub fn signature(
        &self,
        author: Option<&(String, String)>,
        epoch: i64,
    ) -> Result<Signature<'static>, BumpError> {
        let (name, email) = match author {
            Some((n, e)) => (n.clone(), e.clone()),
            None => match self.repo.signature() {
                Ok(s) => (
                    s.name().unwrap_or("tag-bump").to_string(),
                    s.email().unwrap_or("tag-bump@localhost").to_string(),
                ),
                Err(_) => ("tag-bump".into(), "tag-bump@localhost".into()),
            },
        };
        Signature::new(&name, &email, &git2::Time::new(epoch, 0)).map_err(|e| {
            BumpError::from(CoreError::bad_value(
                "--author",
                format!("{name} <{email}>"),
                e.message().to_string(),
            ))
        })
    }

    /// Commit exactly `files` (relative paths, already written to the working tree) on top
    /// of HEAD: the tree is HEAD's with those blobs replaced, so nothing else that happens
    /// to be staged is committed. The index is updated for those paths.
    pub fn commit_files(
        &self,
        files: &[(String, Vec<u8>)],
        message: &str,
        sig: &Signature<'_>,
        transport: &Transport,
    ) -> Result<Oid, BumpError> {
        let run = || -> Result<Oid, git2::Error> {
            let parent = match self.repo.head() {
                Ok(h) => Some(h.peel_to_commit()?),
                Err(e) if matches!(e.code(), ErrorCode::UnbornBranch | ErrorCode::NotFound) => None,
                Err(e) => return Err(e),
            };
            let mut tree = parent.as_ref().map(|c| c.tree()).transpose()?;
            for (path, bytes) in files {
                let blob = self.repo.blob(bytes)?;
                let comps: Vec<&str> = path.split('/').collect();
                let oid = put(&self.repo, tree.as_ref(), &comps, blob)?;
                tree = Some(self.repo.find_tree(oid)?);
            }
            let tree = tree.ok_or_else(|| git2::Error::from_str("nothing to commit"))?;
            let parents: Vec<&git2::Commit> = parent.iter().collect();
            let oid = self
                .repo
                .commit(Some("HEAD"), sig, sig, message, &tree, &parents)?;
            let mut index = self.repo.index()?;
            for (path, _) in files {
                index.add_path(Path::new(path))?;
            }
            index.write()?;
            Ok(oid)
        };
        run().map_err(|e| self.error(transport, "commit".into(), &e, &Calls::default()))
    }

    /// Push HEAD to `refs/heads/<branch>` with an explicit refspec.
    ///
    /// A remote on the local file system is updated with a compare-and-swap: libgit2's
    /// local transport overwrites the ref without checking its old value, so two racing
    /// pushes could both "succeed" and one commit be lost. The objects go to a private
    /// ref first; then the branch moves only if it still holds an ancestor of HEAD.
    pub fn push(
        &self,
        remote: &RemoteSpec,
        branch: &str,
        transport: &Transport,
    ) -> Result<PushOutcome, BumpError> {
        let refname = format!("refs/heads/{branch}");
        match local_path(&remote.url) {
            Some(path) => self.push_local(remote, &path, &refname, transport),
            None => self.push_ref(remote, &refname, transport),
        }
    }

    fn push_local(
        &self,
        remote: &RemoteSpec,
        path: &Path,
        refname: &str,
        transport: &Transport,
    ) -> Result<PushOutcome, BumpError> {
        let head = self.head().ok_or_else(|| BumpError::RepoInvalid {
            path: self.root.display().to_string(),
            message: "HEAD has no commit to push".into(),
        })?;
        let action = format!("push {} HEAD:{refname}", remote.display);
        // A ref lock that outlives a short wait while tag-bumps take turns was left by a
        // killed run (git holds one for milliseconds) and would make every later push look
        // like a lost race.
        let Some((_turn, their_dir)) = local_turn(&remote.url)? else {
            return self.push_ref(remote, refname, transport);
        };
        for lock in [format!("{refname}.lock"), "packed-refs.lock".to_string()] {
            let file = their_dir.join(&lock);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
            while file.exists() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            if file.exists() && std::fs::remove_file(&file).is_ok() {
                self.notes.borrow_mut().push(format!(
                    "removed {lock} left by an interrupted push in {}",
                    remote.display
                ));
            }
        }
        let staging = format!("refs/tag-bump/incoming/{head}-{}", std::process::id());
        match self.push_ref(remote, &staging, transport)? {
            PushOutcome::Pushed => {}
            other => return Ok(other),
        }
        let run = || -> Result<PushOutcome, git2::Error> {
            let theirs = Repository::open(path)?;
            let msg = "tag-bump: push";
            let outcome = match theirs.refname_to_id(refname) {
                Ok(cur) if cur == head => PushOutcome::Pushed,
                Ok(cur) if !theirs.graph_descendant_of(head, cur)? => PushOutcome::NonFastForward,
                Ok(cur) => match theirs.reference_matching(refname, head, true, cur, msg) {
                    Ok(_) => PushOutcome::Pushed,
                    Err(e) if lost_race(&e) => PushOutcome::NonFastForward,
                    Err(e) => return Err(e),
                },
                Err(e) if e.code() == ErrorCode::NotFound => {
                    match theirs.reference(refname, head, false, msg) {
                        Ok(_) => PushOutcome::Pushed,
                        Err(e) if lost_race(&e) => PushOutcome::NonFastForward,
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            };
            if let Ok(mut r) = theirs.find_reference(&staging) {
                let _ = r.delete();
            }
            Ok(outcome)
        };
        run().map_err(|e| self.error(transport, action, &e, &Calls::default()))
    }

    /// Push HEAD to `refname` through the transport.
    fn push_ref(
        &self,
        remote: &RemoteSpec,
        refname: &str,
        transport: &Transport,
    ) -> Result<PushOutcome, BumpError> {
        let action = format!("push {} HEAD:{refname}", remote.display);
        let _armed = transport.limits.arm(&action);
        let calls = Calls::default();
        let rejected: RefCell<Vec<String>> = RefCell::new(Vec::new());
        let said: RefCell<Vec<u8>> = RefCell::new(Vec::new());
        let result = {
            let run = || -> Result<(), git2::Error> {
                let mut r = self.git_remote(remote)?;
                let mut po = PushOptions::new();
                po.follow_redirects(git2::RemoteRedirect::None);
                let mut cbs = callbacks(transport, &remote.url, &calls, Some(&rejected));
                // What the server's hooks print ("remote: …") arrives on the sideband.
                cbs.sideband_progress(|data| {
                    let mut said = said.borrow_mut();
                    if said.len() < 64 * 1024 {
                        said.extend_from_slice(data);
                    }
                    true
                });
                po.remote_callbacks(cbs);
                r.push(&[format!("HEAD:{refname}").as_str()], Some(&mut po))
            };
            run()
        };
        match result {
            // a cut connection is not a lost race
            Err(e) if transport.limits.tripped().is_some() => {
                Err(self.error(transport, action, &e, &calls))
            }
            Err(e) if e.code() == ErrorCode::NotFastForward => Ok(PushOutcome::NonFastForward),
            Err(e) if retryable(e.message()) => Ok(PushOutcome::NonFastForward),
            Err(e) => Err(self.error(transport, action, &e, &calls)),
            Ok(()) => {
                let messages = rejected.take();
                if messages.is_empty() {
                    Ok(PushOutcome::Pushed)
                } else if messages.iter().all(|m| retryable(m)) {
                    Ok(PushOutcome::NonFastForward)
                } else {
                    let mut text = messages.join("; ");
                    let remote_says = server_lines(&said.borrow());
                    if !remote_says.is_empty() {
                        text = format!("{text} (remote: {})", remote_says.join(" / "));
                    }
                    Ok(PushOutcome::Rejected(transport.scrub(&text)))
                }
            }
        }
    }
}

/// What a remote has: its branches (sorted) and the one its HEAD names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteBranches {
    /// The default branch (the target of the remote's HEAD), when it says.
    pub default: Option<String>,
    /// Every branch, without `refs/heads/`.
    pub branches: Vec<String>,
}

/// The branches of `url` before any working copy exists (to choose what to clone).
pub fn ls_remote_url(url: &str, transport: &Transport) -> Result<RemoteBranches, BumpError> {
    let calls = Calls::default();
    let action = format!("ls-remote {}", redact_userinfo(url));
    let _armed = transport.limits.arm(&action);
    git2::Remote::create_detached(url)
        .and_then(|r| list_branches(r, url, transport, &calls))
        .map_err(|e| git_error(transport, action, &e, &calls))
}

fn list_branches(
    mut remote: git2::Remote<'_>,
    url: &str,
    transport: &Transport,
    calls: &Calls,
) -> Result<RemoteBranches, git2::Error> {
    let _turn = local_turn(url).map_err(|e| git2::Error::from_str(&e.to_string()))?;
    let conn = remote.connect_auth(
        git2::Direction::Fetch,
        Some(callbacks(transport, url, calls, None)),
        None,
    )?;
    let mut branches: Vec<String> = conn
        .list()?
        .iter()
        .filter_map(|h| h.name().strip_prefix("refs/heads/").map(str::to_string))
        .collect();
    branches.sort();
    branches.dedup();
    let default = conn
        .default_branch()
        .ok()
        .and_then(|b| b.as_str().ok().map(str::to_string))
        .and_then(|b| b.strip_prefix("refs/heads/").map(str::to_string));
    Ok(RemoteBranches { default, branches })
}

/// The lines a server printed on the sideband, without its progress meters.
fn server_lines(data: &[u8]) -> Vec<String> {
    const PROGRESS: [&str; 6] = [
        "Counting objects",
        "Compressing objects",
        "Resolving deltas",
        "Writing objects",
        "Total ",
        "Enumerating objects",
    ];
    String::from_utf8_lossy(data)
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty() && !PROGRESS.iter().any(|p| l.starts_with(p)))
        .map(|l| l.chars().filter(|c| !c.is_control()).take(300).collect())
        .take(20)
        .collect()
}

/// The directory of a remote on the local file system (a path or a file:// URL).
fn local_path(url: &str) -> Option<PathBuf> {
    if let Some(rest) = url.strip_prefix("file://") {
        return Some(PathBuf::from(rest));
    }
    (!url.contains("://") && ssh::parse_url(url).is_none()).then(|| PathBuf::from(url))
}

/// The bytes of a local repository's object files (what a local clone copies); 0 when it
/// is not a repository (the clone then says what is wrong).
fn local_objects_size(path: &Path) -> usize {
    fn walk(dir: &Path, total: &mut u64) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => walk(&e.path(), total),
                Ok(t) if t.is_file() => *total += e.metadata().map_or(0, |m| m.len()),
                _ => {}
            }
        }
    }
    let Ok(repo) = Repository::open(path) else {
        return 0;
    };
    let mut total = 0u64;
    walk(&repo.path().join("objects"), &mut total);
    usize::try_from(total).unwrap_or(usize::MAX)
}

/// The turn of this run on a remote on the local file system (`REMOTE_GIT_DIR/
/// tag-bump-push.lock`): clones, fetches and pushes of tag-bumps on one local remote take
/// turns, because libgit2's local transport lists every ref and fails when another run
/// deletes its staging ref meanwhile. Remotes over the network need no turn.
fn local_turn(url: &str) -> Result<Option<(rollout_core::fsx::Lock, PathBuf)>, BumpError> {
    let Some(path) = local_path(url) else {
        return Ok(None);
    };
    let Ok(git_dir) = Repository::open(&path).map(|r| r.path().to_path_buf()) else {
        return Ok(None); // not a repository: the operation itself will say so
    };
    match rollout_core::fsx::Lock::acquire(
        &git_dir.join("tag-bump-push"),
        rollout_core::time::Duration::from_secs(120),
    ) {
        Ok(lock) => Ok(Some((lock, git_dir))),
        // a read-only remote (a mirror only fetched from) cannot hold the lock file; reading
        // it needs no turn, and a push to it fails on its own
        Err(rollout_core::CoreError::Write { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A ref update that found the ref moved or locked by another writer.
fn lost_race(e: &git2::Error) -> bool {
    matches!(
        e.code(),
        ErrorCode::Modified | ErrorCode::Locked | ErrorCode::Exists
    ) || retryable(e.message())
}

/// Messages of a push that lost a race (the ref moved between advertisement and update).
fn retryable(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "non-fast-forward",
        "fetch first",
        "failed to update ref",
        "cannot lock ref",
        "failed to lock",
        "stale info",
    ]
    .iter()
    .any(|p| m.contains(p))
}

fn git_error(transport: &Transport, action: String, e: &git2::Error, calls: &Calls) -> BumpError {
    if let Some(t) = transport.limits.tripped() {
        let (reason, message) = match t {
            Tripped::Deadline(m) => (GitReason::Deadline, m),
            Tripped::TooLarge(m) => (GitReason::TooLarge, m),
        };
        return BumpError::Git {
            action: transport.scrub(&action),
            message,
            reason,
            left: None,
        };
    }
    if let Some((reason, message)) = calls.refused.borrow().clone() {
        return BumpError::Git {
            action: transport.scrub(&action),
            message,
            reason,
            left: None,
        };
    }
    let reason = classify(e, calls);
    let mut message = transport.scrub(e.message());
    let lower = message.to_ascii_lowercase();
    if reason == GitReason::Network
        && (lower.contains("timed out") || lower.contains("resource temporarily unavailable"))
    {
        message = format!(
            "no answer within --timeout {} ({message})",
            transport.timeout
        );
    }
    if reason == GitReason::Auth && calls.ssh.get() {
        let tried = calls.ssh_tried.borrow();
        message = if tried.is_empty() {
            format!(
                "authentication failed: no SSH key to offer (give --ssh-key FILE or GIT_SSH_KEY, start an ssh-agent, or create ~/.ssh/{})",
                ssh::DEFAULT_KEY_FILES.join(", ~/.ssh/")
            )
        } else {
            format!("authentication failed (tried {})", tried.join(", "))
        };
    } else if reason == GitReason::Auth {
        let tried = match transport.token_source {
            Some(v) => format!("a credential helper, then {v}"),
            None => "a credential helper; GIT_TOKEN and GITHUB_TOKEN are not set".into(),
        };
        message = format!("authentication failed (tried {tried})");
    }
    BumpError::Git {
        action: transport.scrub(&action),
        message,
        reason,
        left: None,
    }
}

/// Put a blob at `comps` below `base`, returning the new tree.
fn put(
    repo: &Repository,
    base: Option<&git2::Tree<'_>>,
    comps: &[&str],
    blob: Oid,
) -> Result<Oid, git2::Error> {
    let mut tb = repo.treebuilder(base)?;
    let name = comps[0];
    let existing = base.and_then(|t| t.get_name(name));
    if comps.len() == 1 {
        let mode = existing
            .map(|e| e.filemode())
            .filter(|m| *m == 0o100755)
            .unwrap_or(0o100644);
        tb.insert(name, blob, mode)?;
    } else {
        let sub = match existing {
            Some(e) if e.kind() == Some(git2::ObjectType::Tree) => Some(repo.find_tree(e.id())?),
            _ => None,
        };
        let oid = put(repo, sub.as_ref(), &comps[1..], blob)?;
        tb.insert(name, oid, 0o040000)?;
    }
    tb.write()
}

/// Most times the credentials callback may be called in one operation (over SSH, one more
/// per key to offer).
const MAX_CREDENTIAL_CALLS: u32 = 4;

/// The credentials callback's state for one operation: what was offered already, so that
/// each source is tried once and the callback's calls stay bounded.
struct Asker<'a> {
    transport: &'a Transport,
    calls: &'a Calls,
    /// `host:port` of the URL given (credentials are for it alone).
    home: Option<String>,
    count: u32,
    bound: u32,
    helper_tried: bool,
    token_tried: bool,
    next_key: usize,
}

impl<'a> Asker<'a> {
    fn new(transport: &'a Transport, url: &str, calls: &'a Calls) -> Self {
        Asker {
            transport,
            calls,
            home: authority(url),
            count: 0,
            bound: MAX_CREDENTIAL_CALLS + transport.ssh.keys.len() as u32,
            helper_tried: false,
            token_tried: false,
            next_key: 0,
        }
    }

    fn refuse(&self, reason: GitReason, message: String, short: &str) -> git2::Error {
        self.calls.refused.replace(Some((reason, message)));
        git2::Error::from_str(short)
    }

    fn give_up(&self, message: &str) -> git2::Error {
        self.calls.auth_failed.set(true);
        git2::Error::from_str(message)
    }

    /// Answer libgit2's request for credentials for `url`.
    fn answer(
        &mut self,
        url: &str,
        user_from_url: Option<&str>,
        allowed: CredentialType,
    ) -> Result<Cred, git2::Error> {
        self.count += 1;
        if let (Some(home), Some(asking)) = (&self.home, authority(url))
            && asking != *home
        {
            return Err(self.refuse(
                GitReason::RedirectRefused,
                format!(
                    "{home} redirected to {asking}, which asked for credentials; they are only sent to {home} (use the URL the repository really lives at)"
                ),
                "redirect to another host refused",
            ));
        }
        if url.starts_with("http://")
            && allowed.contains(CredentialType::USER_PASS_PLAINTEXT)
            && !self.transport.cleartext
        {
            return Err(self.refuse(
                GitReason::CleartextRefused,
                format!(
                    "{} asks for credentials over plain http, where anyone on the network can read them; use https (or --insecure-http to send them anyway)",
                    self.home.as_deref().unwrap_or("the remote")
                ),
                "cleartext credentials refused",
            ));
        }
        if self.count > self.bound {
            return Err(self.give_up("authentication failed"));
        }
        if allowed.contains(CredentialType::USERNAME) {
            self.calls.ssh.set(true);
            return Cred::username(self.transport.user.as_deref().unwrap_or("git"));
        }
        if allowed.intersects(CredentialType::SSH_KEY | CredentialType::SSH_MEMORY) {
            return self.ssh_key(user_from_url);
        }
        if !allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            if allowed.contains(CredentialType::DEFAULT) {
                return Cred::default();
            }
            return Err(
                self.give_up("no supported credential type (tokens over https, keys over ssh)")
            );
        }
        self.https_token(url, user_from_url)
    }

    /// The next SSH key of [`ssh::key_sources`], each offered once.
    fn ssh_key(&mut self, user_from_url: Option<&str>) -> Result<Cred, git2::Error> {
        self.calls.ssh.set(true);
        let user = user_from_url
            .or(self.transport.user.as_deref())
            .unwrap_or("git");
        let Some(key) = self.transport.ssh.keys.get(self.next_key) else {
            return Err(self.give_up("authentication failed"));
        };
        self.next_key += 1;
        self.calls.ssh_tried.borrow_mut().push(key.describe());
        match key {
            KeySource::File(path) => Cred::ssh_key(user, None, path, None),
            KeySource::Inline(text) => Cred::ssh_key_from_memory(user, None, text, None),
            KeySource::Agent => Cred::ssh_key_from_agent(user),
        }
    }

    /// A git credential helper first, then the token, each once.
    fn https_token(&mut self, url: &str, user_from_url: Option<&str>) -> Result<Cred, git2::Error> {
        if !self.helper_tried {
            self.helper_tried = true;
            if let Ok(config) = git2::Config::open_default()
                && let Ok(cred) = Cred::credential_helper(&config, url, user_from_url)
            {
                return Ok(cred);
            }
        }
        if !self.token_tried
            && let Some(token) = &self.transport.token
        {
            self.token_tried = true;
            let user = self
                .transport
                .user
                .as_deref()
                .or(user_from_url)
                .unwrap_or("x-access-token");
            return Cred::userpass_plaintext(user, token);
        }
        Err(self.give_up("authentication failed"))
    }
}

/// The callbacks of one operation on the remote at `url`.
fn callbacks<'a>(
    transport: &'a Transport,
    url: &str,
    calls: &'a Calls,
    rejected: Option<&'a RefCell<Vec<String>>>,
) -> RemoteCallbacks<'a> {
    let mut cbs = RemoteCallbacks::new();
    let mut asker = Asker::new(transport, url, calls);
    cbs.credentials(move |url, user_from_url, allowed| asker.answer(url, user_from_url, allowed));
    let target = ssh::parse_url(url);
    cbs.certificate_check(move |cert, host| {
        // a new connection, before its first request
        crate::sockets::no_delay();
        let Some(hostkey) = cert.as_hostkey() else {
            // TLS: libgit2's own verification against the system trust store
            return Ok(if transport.insecure {
                CertificateCheckStatus::CertificateOk
            } else {
                CertificateCheckStatus::CertificatePassthrough
            });
        };
        if transport.ssh.insecure {
            return Ok(CertificateCheckStatus::CertificateOk);
        }
        match transport.verify_host_key(target.as_ref(), host, hostkey.hostkey()) {
            Ok(()) => Ok(CertificateCheckStatus::CertificateOk),
            Err(refusal) => {
                calls.refused.replace(Some(refusal));
                Err(git2::Error::from_str("host key verification failed"))
            }
        }
    });
    // a pack larger than --max-transfer, or trickling in past --deadline, is stopped here
    cbs.transfer_progress(move |p| {
        transport
            .limits
            .on_progress(p.received_bytes(), std::time::Instant::now())
    });
    if let Some(rejected) = rejected {
        cbs.push_update_reference(move |refname, status| {
            if let Some(msg) = status {
                rejected.borrow_mut().push(format!("{refname}: {msg}"));
            }
            Ok(())
        });
    }
    cbs
}

/// Remove the `.lock` files a killed run left in a git directory (ref, index, HEAD,
/// config and packed-refs locks); libgit2, like git, refuses to touch a locked file, so
/// one `kill -9` at the wrong moment would block every later run. Only for tag-bump's own
/// `--workdir` clone, and only while tag-bump's lock is held: no other process works there.
/// Returns the files removed, relative to `git_dir`.
pub fn remove_stale_locks(git_dir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let mut stack = vec![git_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let name = entry.file_name();
            if kind.is_dir() {
                // objects hold no lock files of this kind; hooks and logs need no walk
                if dir == git_dir && (name == "objects" || name == "hooks" || name == "logs") {
                    continue;
                }
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "lock")
                && name != "tag-bump.lock"
                && std::fs::remove_file(&path).is_ok()
            {
                removed.push(path.strip_prefix(git_dir).unwrap_or(&path).to_path_buf());
            }
        }
    }
    removed.sort();
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_compare_host_and_port() {
        assert_eq!(
            authority("https://u@Git.Example.com:8443/r.git").as_deref(),
            Some("git.example.com:8443")
        );
        assert_eq!(authority("http://h/r?x=1").as_deref(), Some("h"));
        assert_eq!(authority("/srv/r.git"), None);
    }

    #[test]
    fn userinfo_and_tokens_never_show() {
        let t = Transport {
            token: Some("tok-123456".into()),
            ..Transport::default()
        };
        assert_eq!(t.scrub("bad tok-123456 here"), "bad *** here");
    }

    #[test]
    fn urls_with_passwords_are_refused_ssh_is_spoken() {
        assert!(check_url("https://u:p@host/r.git").is_err());
        assert!(check_url("ssh://git:pw@host/r.git").is_err());
        assert!(check_url("ssh://host:port/r.git").is_err());
        assert!(check_url("ftp://host/r.git").is_err());
        check_url("git@github.com:org/r.git").unwrap();
        check_url("ssh://git@host:2222/r.git").unwrap();
        assert!(is_url("git@github.com:org/r.git") && !is_url("origin"));
        check_url("https://user@host/r.git").unwrap();
        check_url("file:///tmp/r.git").unwrap();
        check_url("/tmp/r.git").unwrap();
    }

    #[test]
    fn server_messages_keep_hook_output_only() {
        let said = b"Resolving deltas: 100% (1/1)\rpolicy: main is frozen\n\x1b[31mred\n";
        assert_eq!(server_lines(said), ["policy: main is frozen", "[31mred"]);
    }

    #[test]
    fn lost_races_are_told_apart_from_rejections() {
        assert!(retryable("refs/heads/main: failed to update ref"));
        assert!(retryable("[rejected] main -> main (fetch first)"));
        assert!(!retryable("refs/heads/main: pre-receive hook declined"));
    }
}
