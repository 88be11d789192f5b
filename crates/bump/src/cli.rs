//! The `tag-bump` command line and its run sequence.
//!
//! Every value is checked before the repository is touched (tag grammar, digest, template,
//! author, URL). Then: lock the working copy, sync when asked, resolve services to files
//! (inside the repository), plan every edit in memory and verify it by re-parsing, write the
//! files, commit exactly those files, push with an explicit refspec, and on a lost race
//! fetch, reset, re-apply and push again. The report says what happened at each step.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration as StdDuration;

use clap::Parser;
use indexmap::IndexMap;
use rollout_core::cli::{CommonArgs, Env, LockArgs, resolve_now, warn};
use rollout_core::doc::{Kind, SCHEMA_VERSION};
use rollout_core::fsx::Lock;
use rollout_core::input::{MAX_DOCUMENT_BYTES, Source, as_text, parse_json, read_bytes};
use rollout_core::oci::check_tag;
use rollout_core::output::unified_diff;
use rollout_core::time::format_timestamp;
use rollout_core::tree::{Fault, Replacement, Tree};
use rollout_core::{CoreError, trace};

use crate::branch;
use crate::edit::{Outcome, Want, bump};
use crate::error::BumpError;
use crate::git::{Git, PushOutcome, RemoteSpec, SshAuth, Transport};
use crate::paths::{inside, new_file, relative};
use crate::report::{BumpReport, CommitDoc, EditDoc, PushDoc, human, markdown};
use crate::services::{Group, Resolved, ServicesMap, TYPES, Target, group};
use crate::tag::{DEFAULT_TEMPLATE, check_template, normalize_digest, pr_tag, render_template};
use crate::workspace::{Workspace, workspace};

const TOOL: &str = "tag-bump";

/// The services file read when `--services` is not given, relative to the repository root.
pub const DEFAULT_SERVICES: &str = "services.json";

const EXAMPLES: &str = "\
Examples:
  # The rollout procedure in one call: sync, bump, commit, push (retries lost races)
  tag-bump --repo flux --service papi --pr 42 --sha \"$GITHUB_SHA\" --sync --push

  # Preview: the diff of the edit; nothing written, committed or pushed
  tag-bump --repo flux --service papi --tag v1.4.0 --dry-run --diff --jq .diff

  # Different tags for different services, in one commit
  tag-bump --repo flux --set papi=v1.4.0 --set web=2026.12.1 --push

  # Compare-and-swap: refuse (exit 3) unless the tag is still v1.3.9
  tag-bump --repo flux --service papi --tag v1.4.0 --expect-current v1.3.9 --commit

  # No services map: name the file and image; add the entry if it is missing
  tag-bump --repo flux --file apps/web/kustomization.yaml --image web --tag v2 --create

  # Promote into the production registry: the image name changes with the tag (newName)
  tag-bump --repo flux --file apps/web/kustomization.yaml --image web \\
      --name registry.example.com/prod/web --tag v2 --commit

  # Flux image automation's job: every file under apps/ marked for the policy, one commit
  tag-bump --repo flux --type flux-setter --image flux-system:app --path apps \\
      --tag 1.5.0 --expect 2 --push

  # A HelmRelease value, pinned with its digest, in a fresh clone
  tag-bump --clone https://git.example.com/org/flux.git --workdir /tmp/flux \\
      --file apps/api/helmrelease.yaml --type yaml-path --path .spec.values.image.tag \\
      --image api --tag v3 --digest \"$DIGEST\" --push

  # Over SSH with a deploy key; the host key must be the one the pinned file records
  tag-bump --clone git@github.com:org/flux.git --workdir /tmp/flux --service papi \\
      --tag v3 --ssh-key ~/.ssh/flux_deploy --known-hosts .github/known_hosts --push

Services map (default FILE: services.json at the repository root):
  {\"services\":    {\"papi\": {\"imageGroup\": \"backend-services\"}},
   \"imageGroups\": {\"backend-services\": {\"file\": \"apps/backend-services/kustomization.yaml\",
                   \"imageName\": \"backend-services\", \"type\": \"kustomize-images\"}}}
  Types: kustomize-images (images[].newTag), yaml-path (\"path\", optional \"digestPath\",
  \"namePath\"), helm-image (\"path\" to a chart's image: {repository, tag}, {registry, ...}
  or one repo:tag string), argocd-kustomize and argocd-helm (Argo CD Image Updater's
  .argocd-source-<app>.yaml; --create writes it), flux-setter (values marked # {\"$imagepolicy\": \"ns:name:tag\"}; \"policy\" or
  imageName). Any group may give \"newName\": the image name written with every tag.

Credentials: git credential helpers, then GIT_TOKEN or GITHUB_TOKEN (user GIT_USER, else
x-access-token), only to the URL's host (a redirect elsewhere is refused) and never over
plain http unless --insecure-http. TLS is verified unless --insecure or
GIT_SSL_NO_VERIFY=true (warns).
SSH (ssh://host:port/path, git@host:path): --ssh-key FILE or GIT_SSH_KEY (a file or the key
text), else the ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa; host keys must be in
--known-hosts FILE (default ~/.ssh/known_hosts; add one with ssh-keyscan once checked).

Exit status: 0 done (or already at the tag); 2 usage error or invalid value (tag grammar,
digest, template, unparsable file); 3 refused (unknown service, no imageGroup, entry not
found, path outside the repository, current tag not the expected one, a pinned digest
would shadow the tag); 4 push rejected by the server, still non-fast-forward after the
retries, a file changed during the run, or lock timeout; 5 git, network, TLS, host key or
authentication failure, I/O.";

/// Set an image tag in a GitOps repository, commit and push, safely and idempotently.
#[derive(Debug, Parser)]
#[command(
    name = "tag-bump",
    version,
    about = "Set an image tag in a GitOps repository, commit and push, safely and idempotently",
    long_about = "Set the tag (and digest) of a service's image in a Flux/kustomize repository, \
changing only those bytes: comments, quoting, indentation, key order and line endings stay. \
The edit is verified by re-parsing, a value already at the tag is a no-op, --expect-current \
is a compare-and-swap, and --push retries lost races by fetching, resetting and re-applying.",
    after_help = EXAMPLES
)]
pub struct Cli {
    /// The working copy to edit.
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "clone",
        conflicts_with = "clone"
    )]
    pub repo: Option<PathBuf>,
    /// Clone this repository (into --workdir, reused when it is already a clone of it).
    #[arg(long, value_name = "URL")]
    pub clone: Option<String>,
    /// Where --clone keeps its clone (default: a temporary directory, removed at the end).
    #[arg(long, value_name = "DIR", requires = "clone")]
    pub workdir: Option<PathBuf>,
    /// A service of the services map (repeatable; several make one commit).
    #[arg(long, value_name = "NAME", required_unless_present_any = ["file", "sets", "image"])]
    pub service: Vec<String>,
    /// A service and its own tag, SERVICE=TAG (repeatable): different tags in one commit.
    #[arg(long = "set", value_name = "SERVICE=TAG",
          conflicts_with_all = ["service", "file", "tag", "pr", "sha", "digest", "expect_current"])]
    pub sets: Vec<String>,
    /// The services map (JSON or YAML; default services.json at the repository root).
    #[arg(long, value_name = "FILE")]
    pub services: Option<PathBuf>,
    /// Edit this file (relative to the repository root) instead of a service's.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["service", "services"], requires = "image")]
    pub file: Option<String>,
    /// With --file: the image name (for flux-setter: the policy, ns:name). Without --file,
    /// with --type flux-setter: edit every file under --path DIR marked for this policy.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["service", "services"])]
    pub image: Option<String>,
    /// With --file: how the tag is written.
    #[arg(long = "type", value_name = "TYPE", default_value = "kustomize-images",
          value_parser = clap::builder::PossibleValuesParser::new(TYPES))]
    pub type_name: String,
    /// With --file --type yaml-path: where the tag is (.spec.values.image.tag); with
    /// --type helm-image: where the image is (.spec.values.image); in a flux-setter tree:
    /// a directory to search (repeatable; default the repository root).
    #[arg(long, value_name = "PATH")]
    pub path: Vec<String>,
    /// Refuse (exit 3) unless the run sets exactly N values (every marked value of a tree).
    #[arg(long, value_name = "N")]
    pub expect: Option<usize>,
    /// With --file --type yaml-path: where the digest is (default: a digest key beside the tag).
    #[arg(long, value_name = "PATH", requires = "path")]
    pub digest_path: Option<String>,
    /// With --file --type yaml-path --name: where the image name is (default: a repository
    /// key beside the tag).
    #[arg(long, value_name = "PATH", requires = "path")]
    pub name_path: Option<String>,
    /// The new tag (OCI tag grammar).
    #[arg(long, value_name = "TAG", required_unless_present_any = ["pr", "sets"], conflicts_with_all = ["pr", "sha"])]
    pub tag: Option<String>,
    /// Build the tag pr-<N>-<sha7> from a pull request number …
    #[arg(long, value_name = "N", requires = "sha")]
    pub pr: Option<String>,
    /// … and its head commit.
    #[arg(long, value_name = "SHA", requires = "pr")]
    pub sha: Option<String>,
    /// Also set the digest (sha256:<64 hex>).
    #[arg(long, value_name = "DIGEST")]
    pub digest: Option<String>,
    /// Also set the image name (an OCI repository such as ghcr.io/acme/web): kustomize
    /// newName, the name of a full reference, a :name setter, a chart's repository.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Refuse (exit 3) unless the current tag is this one.
    #[arg(long, value_name = "TAG")]
    pub expect_current: Option<String>,
    /// The tag must also match this regex (whole tag).
    #[arg(long, value_name = "REGEX")]
    pub tag_pattern: Option<String>,
    /// Insert the images entry (or the last key of a path) when it is missing; write a
    /// missing Argo CD source file.
    #[arg(long)]
    pub create: bool,
    /// Commit the edited files (and only them).
    #[arg(long)]
    pub commit: bool,
    /// Commit and push HEAD:refs/heads/BRANCH.
    #[arg(long)]
    pub push: bool,
    /// The remote: a configured name or a URL.
    #[arg(long, value_name = "NAME|URL", default_value = "origin")]
    pub remote: String,
    /// The branch to push to (and sync from); default: the remote's default branch.
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,
    /// Let --branch name a branch the remote does not have yet (the push creates it).
    #[arg(long)]
    pub create_branch: bool,
    /// Fetch and hard-reset to REMOTE/BRANCH before editing (discards local changes).
    #[arg(long)]
    pub sync: bool,
    /// Commit message template; variables {imageGroup} {image} {tag} {oldTag} {service} {services}.
    #[arg(long, value_name = "TEMPLATE", default_value = DEFAULT_TEMPLATE)]
    pub message: String,
    /// Commit author "Name <email>" (default: git config, else tag-bump <tag-bump@localhost>).
    #[arg(long, value_name = "NAME <EMAIL>")]
    pub author: Option<String>,
    /// Pushes retried after a lost race (fetch, reset, re-apply).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub push_retries: u32,
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
    /// Compute and report everything; write, commit and push nothing.
    #[arg(long, conflicts_with_all = ["commit", "push"])]
    pub dry_run: bool,
    /// With --dry-run: include a unified diff (field "diff").
    #[arg(long, requires = "dry_run")]
    pub diff: bool,
    /// Working-copy lock timeout.
    #[command(flatten)]
    pub lock: LockArgs,
    /// Flags every tool takes.
    #[command(flatten)]
    pub common: CommonArgs,
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
    /// `GIT_SSL_NO_VERIFY` is true or 1.
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
            ssl_no_verify: var("GIT_SSL_NO_VERIFY")
                .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes")),
            ssh_key: var("GIT_SSH_KEY"),
            ssh_agent: var("SSH_AUTH_SOCK").is_some(),
            home: var("HOME").map(PathBuf::from),
            fault: Fault::parse(var("TAG_BUMP_FAULT").as_deref()),
        }
    }
}

/// Entry point of the `tag-bump` binary.
pub fn main() -> ExitCode {
    rollout_core::cli::main(TOOL, |cli: &Cli, env| run(cli, env, &GitEnv::capture()))
}

impl rollout_core::cli::ToolCli for Cli {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

/// The values of a run, checked.
struct Values {
    /// The tag (with --set: the distinct tags, joined with ", ", for messages).
    tag: String,
    /// With --set: each service's tag.
    service_tags: IndexMap<String, String>,
    digest: Option<String>,
    author: Option<(String, String)>,
}

pub(crate) fn bad(flag: &'static str, value: &str, message: impl Into<String>) -> BumpError {
    CoreError::bad_value(flag, value, message).into()
}

fn values(cli: &Cli) -> Result<Values, BumpError> {
    if let Some(n) = &cli.name {
        rollout_core::oci::check_name(n).map_err(|m| bad("--name", n, m))?;
    }
    let mut service_tags: IndexMap<String, String> = IndexMap::new();
    for pair in &cli.sets {
        let Some((service, tag)) = pair
            .split_once('=')
            .filter(|(s, t)| !s.is_empty() && !t.is_empty())
        else {
            return Err(bad("--set", pair, "expected SERVICE=TAG"));
        };
        check_tag(tag).map_err(|m| bad("--set", pair, m))?;
        if service_tags
            .insert(service.to_string(), tag.to_string())
            .is_some()
        {
            return Err(bad(
                "--set",
                pair,
                format!("service {service:?} is given twice"),
            ));
        }
    }
    let tag = match (&cli.tag, &cli.pr, &cli.sha) {
        _ if !service_tags.is_empty() => {
            let mut distinct: Vec<&str> = Vec::new();
            for t in service_tags.values() {
                if !distinct.contains(&t.as_str()) {
                    distinct.push(t);
                }
            }
            distinct.join(", ")
        }
        (Some(t), _, _) => {
            check_tag(t).map_err(|m| bad("--tag", t, m))?;
            t.clone()
        }
        (None, Some(n), Some(s)) => pr_tag(n, s)?,
        _ => return Err(bad("--tag", "", "give --tag TAG or --pr N --sha SHA")),
    };
    if let Some(p) = &cli.tag_pattern {
        let re = rollout_core::pattern::compile(&format!("^(?:{p})$"))
            .map_err(|m| bad("--tag-pattern", p, format!("invalid regex: {m}")))?;
        let tags: Vec<&String> = if service_tags.is_empty() {
            vec![&tag]
        } else {
            service_tags.values().collect()
        };
        if let Some(t) = tags.into_iter().find(|t| !re.is_match(t)) {
            return Err(bad("--tag", t, format!("does not match --tag-pattern {p}")));
        }
    }
    if let Some(e) = &cli.expect_current {
        check_tag(e).map_err(|m| bad("--expect-current", e, m))?;
    }
    let digest = cli.digest.as_deref().map(normalize_digest).transpose()?;
    check_template(&cli.message)?;
    let author = cli.author.as_deref().map(parse_author).transpose()?;
    if let Some(b) = &cli.branch
        && (b.is_empty() || !git2::Reference::is_valid_name(&format!("refs/heads/{b}")))
    {
        return Err(bad("--branch", b, "not a valid branch name"));
    }
    Ok(Values {
        tag,
        service_tags,
        digest,
        author,
    })
}

fn parse_author(text: &str) -> Result<(String, String), BumpError> {
    let err = || bad("--author", text, "write it as \"Name <email>\"");
    let (name, rest) = text.split_once('<').ok_or_else(err)?;
    let email = rest.strip_suffix('>').ok_or_else(err)?;
    let name = name.trim();
    if name.is_empty() || email.is_empty() || email.contains(['<', '>']) {
        return Err(err());
    }
    Ok((name.to_string(), email.to_string()))
}

/// A file's plan: its text before and after every group's edit.
#[derive(Debug, Clone)]
struct FilePlan {
    /// Relative to the working copy's root, the real path (no symlink on the way).
    file: String,
    /// The file does not exist yet (an Argo CD source file written with --create).
    new: bool,
    before: String,
    after: String,
}

/// One group's edit, with its outcome.
#[derive(Debug, Clone)]
struct GroupEdit {
    resolved: Resolved,
    from_services: bool,
    /// The tag this group gets.
    tag: String,
    /// The image name it gets with the tag, when the name changes.
    name: Option<String>,
    outcome: Outcome,
}

fn load_services(cli: &Cli, root: &Path) -> Result<ServicesMap, BumpError> {
    let (path, origin) = match &cli.services {
        Some(p) => (p.clone(), p.display().to_string()),
        None => (root.join(DEFAULT_SERVICES), DEFAULT_SERVICES.to_string()),
    };
    if !path.exists() {
        return Err(BumpError::ServicesInvalid {
            file: origin,
            message: "no such file (give --services FILE, or --file PATH --image NAME)".into(),
        });
    }
    let src = Source::parse(&path.display().to_string());
    let bytes = read_bytes(&src, "a services map", MAX_DOCUMENT_BYTES)?;
    let doc = if path.extension().is_some_and(|e| e == "json") {
        parse_json(&bytes, &origin)?
    } else {
        rollout_core::yaml::parse_yaml(as_text(&bytes, &origin)?, &origin)?
    };
    ServicesMap::parse(&doc, &origin)
}

/// A flux-setter tree with no value marked for the policy.
fn no_marked_value(policy: &str, paths: &[String]) -> BumpError {
    BumpError::EntryNotFound {
        file: if paths.is_empty() {
            "the repository".into()
        } else {
            paths.join(", ")
        },
        what: format!(r#"a value marked {{"$imagepolicy": "{policy}"}} (or :tag)"#),
        hint: "check --image (ns:policy) and --path; files are found by their marker comments"
            .into(),
    }
}

/// Where a run's groups come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// The services map.
    Services,
    /// `--file` and `--image`.
    File,
    /// Every file under `--path` marked for the `--image` policy (flux-setter tree mode).
    Tree,
}

fn targets(cli: &Cli, root: &Path) -> Result<(Vec<Resolved>, Origin), BumpError> {
    if cli.file.is_none()
        && let Some(policy) = &cli.image
    {
        if cli.type_name != "flux-setter" {
            return Err(bad(
                "--image",
                policy,
                "without --file, --image names the policy of a flux-setter tree (--type flux-setter)",
            ));
        }
        let files = crate::tree::marked_files(root, &cli.path, policy, |d| inside(root, d))?;
        if files.is_empty() {
            return Err(no_marked_value(policy, &cli.path));
        }
        let groups = files
            .iter()
            .map(|f| {
                let fields = crate::services::Fields {
                    type_name: Some("flux-setter"),
                    ..Default::default()
                };
                group("", f, policy, &fields).map(|group| Resolved {
                    group,
                    requested: Vec::new(),
                    affected: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>, String>>()
            .map_err(|m| bad("--image", policy, m))?;
        return Ok((groups, Origin::Tree));
    }
    if cli.file.is_none() && !cli.path.is_empty() {
        return Err(bad(
            "--path",
            &cli.path[0],
            "needs --file (a yaml path) or --type flux-setter --image POLICY (a directory)",
        ));
    }
    if let Some(file) = &cli.file {
        let image = cli.image.clone().ok_or_else(|| {
            bad(
                "--file",
                file,
                "needs --image NAME (the image, or the setter policy)",
            )
        })?;
        if cli.path.len() > 1 {
            return Err(bad(
                "--path",
                &cli.path[1],
                "given twice; a file has one path",
            ));
        }
        let fields = crate::services::Fields {
            type_name: Some(&cli.type_name),
            path: cli.path.first().map(String::as_str),
            digest_path: cli.digest_path.as_deref(),
            name_path: cli.name_path.as_deref(),
            ..Default::default()
        };
        let g = group("", file, &image, &fields).map_err(|m| bad("--type", &cli.type_name, m))?;
        return Ok((
            vec![Resolved {
                group: g,
                requested: Vec::new(),
                affected: Vec::new(),
            }],
            Origin::File,
        ));
    }
    let map = load_services(cli, root)?;
    let names: Vec<String> = if cli.sets.is_empty() {
        cli.service.clone()
    } else {
        cli.sets
            .iter()
            .filter_map(|p| p.split_once('=').map(|(s, _)| s.to_string()))
            .collect()
    };
    Ok((map.resolve(&names)?, Origin::Services))
}

/// With --set: the tag of each image group, from its requested services; two services of
/// one group with different tags cannot both be right.
fn group_tags(
    resolved: &[Resolved],
    values: &Values,
) -> Result<IndexMap<String, String>, BumpError> {
    let mut out = IndexMap::new();
    if values.service_tags.is_empty() {
        return Ok(out);
    }
    for r in resolved {
        let mut tags = r
            .requested
            .iter()
            .filter_map(|s| values.service_tags.get(s).map(|t| (s, t)));
        let Some((first_service, tag)) = tags.next() else {
            continue;
        };
        if let Some((other, t)) = tags.find(|(_, t)| *t != tag) {
            return Err(bad(
                "--set",
                &format!("{other}={t}"),
                format!(
                    "{first_service} and {other} share image group {:?}, which takes one tag ({first_service}={tag})",
                    r.group.name
                ),
            ));
        }
        out.insert(r.group.name.clone(), tag.clone());
    }
    Ok(out)
}

/// Plan every group's edit on the files as they are now; nothing is written.
fn plan(
    root: &Path,
    resolved: &[Resolved],
    origin: Origin,
    want: &Want,
    group_tags: &IndexMap<String, String>,
    expect: Option<usize>,
) -> Result<(Vec<FilePlan>, Vec<GroupEdit>), BumpError> {
    let mut files: IndexMap<PathBuf, FilePlan> = IndexMap::new();
    let mut edits = Vec::new();
    for r in resolved {
        let creatable = want.create
            && matches!(
                r.group.target,
                Target::ArgocdKustomize | Target::ArgocdHelm { .. }
            );
        let path = match inside(root, &r.group.file) {
            Err(BumpError::FileMissing { .. }) if creatable => new_file(root, &r.group.file)?,
            other => other?,
        };
        let rel = relative(root, &path);
        if !files.contains_key(&path) && creatable && std::fs::symlink_metadata(&path).is_err() {
            // an Argo CD source file that does not exist yet: written whole, as a new file
            files.insert(
                path.clone(),
                FilePlan {
                    file: rel.clone(),
                    before: String::new(),
                    after: String::new(),
                    new: true,
                },
            );
        }
        if !files.contains_key(&path) {
            let meta = std::fs::metadata(&path).map_err(|e| BumpError::FileMissing {
                file: format!("{rel} ({e})"),
            })?;
            if !meta.is_file() {
                return Err(BumpError::FileMissing {
                    file: format!("{rel} (not a regular file)"),
                });
            }
            let src = Source::parse(&path.display().to_string());
            let bytes = read_bytes(&src, "a YAML file", MAX_DOCUMENT_BYTES)?;
            // Checked as UTF-8, but kept whole: a byte-order mark is part of the file.
            as_text(&bytes, &rel)?;
            let text = String::from_utf8(bytes).expect("checked above");
            files.insert(
                path.clone(),
                FilePlan {
                    file: rel.clone(),
                    before: text.clone(),
                    after: text,
                    new: false,
                },
            );
        }
        let fp = files.get_mut(&path).expect("inserted above");
        let tag = group_tags
            .get(&r.group.name)
            .map_or(want.tag, String::as_str);
        let name = want.name.or(r.group.new_name.as_deref());
        let outcome = match bump(&fp.after, &rel, &r.group, &Want { tag, name, ..*want }) {
            // in a tree, a file that names the policy but marks no value of it is not a target
            Err(BumpError::EntryNotFound { .. }) if origin == Origin::Tree => continue,
            other => other?,
        };
        fp.after.clone_from(&outcome.text);
        edits.push(GroupEdit {
            tag: tag.to_string(),
            name: name.map(str::to_string),
            resolved: Resolved {
                group: Group {
                    file: rel.clone(),
                    ..r.group.clone()
                },
                ..r.clone()
            },
            from_services: origin == Origin::Services,
            outcome,
        });
    }
    if origin == Origin::Tree && edits.is_empty() {
        let policy = resolved.first().map_or("", |r| r.group.image.as_str());
        return Err(no_marked_value(policy, &[]));
    }
    if let Some(n) = expect {
        let found: usize = edits.iter().map(|e| e.outcome.sites).sum();
        if found != n {
            return Err(BumpError::ExpectMismatch {
                expected: n,
                found,
                files: edits
                    .iter()
                    .map(|e| e.resolved.group.file.clone())
                    .collect(),
            });
        }
    }
    Ok((files.into_values().collect(), edits))
}

/// Write the changed files, all or none, each relative to the held working copy (a
/// directory swapped for a symlink meanwhile is not followed).
fn write_files(root: &Path, plans: &[FilePlan], fault: &Fault) -> Result<(), BumpError> {
    let batch: Vec<Replacement> = plans
        .iter()
        .filter(|p| p.after != p.before)
        .map(|p| Replacement {
            rel: &p.file,
            old: p.before.as_bytes(),
            new: p.after.as_bytes(),
            create: p.new,
        })
        .collect();
    Ok(Tree::open(root)?.replace_all(&batch, fault)?)
}

fn commit_message(cli: &Cli, values: &Values, edits: &[GroupEdit]) -> String {
    let changed: Vec<&GroupEdit> = edits.iter().filter(|e| e.outcome.changed).collect();
    let join = |f: &dyn Fn(&GroupEdit) -> Vec<String>| {
        let mut seen: Vec<String> = Vec::new();
        for e in &changed {
            for v in f(e) {
                if !v.is_empty() && !seen.contains(&v) {
                    seen.push(v);
                }
            }
        }
        seen.join(", ")
    };
    let mut vars: IndexMap<&str, String> = IndexMap::new();
    vars.insert(
        "imageGroup",
        join(&|e| {
            vec![if e.from_services {
                e.resolved.group.name.clone()
            } else {
                e.resolved.group.image.clone()
            }]
        }),
    );
    vars.insert("image", join(&|e| vec![e.resolved.group.image.clone()]));
    vars.insert(
        "tag",
        if values.service_tags.is_empty() {
            values.tag.clone()
        } else {
            join(&|e| vec![e.tag.clone()])
        },
    );
    vars.insert(
        "oldTag",
        join(&|e| vec![e.outcome.old_tag.clone().unwrap_or_else(|| "none".into())]),
    );
    vars.insert("service", join(&|e| e.resolved.requested.clone()));
    vars.insert("services", join(&|e| e.resolved.affected.clone()));
    render_template(&cli.message, &vars)
}

fn edit_docs(edits: &[GroupEdit], values: &Values) -> Vec<EditDoc> {
    edits
        .iter()
        .map(|e| EditDoc {
            file: e.resolved.group.file.clone(),
            image_group: e.from_services.then(|| e.resolved.group.name.clone()),
            image: e.resolved.group.image.clone(),
            type_name: e.resolved.group.target.type_name().to_string(),
            old_tag: e.outcome.old_tag.clone(),
            new_tag: e.tag.clone(),
            old_digest: e.outcome.old_digest.clone(),
            old_name: e.outcome.old_name.clone(),
            new_name: e.name.clone(),
            new_digest: values
                .digest
                .clone()
                .or_else(|| e.outcome.old_digest.clone()),
            changed: e.outcome.changed,
            created: e.outcome.created,
        })
        .collect()
}

/// The branch to push to and the one to sync from (they differ only for a branch the push
/// creates, which starts from the remote's default): chosen before a fresh clone, else from
/// what the remote has; a run that neither syncs nor pushes only names it in the report.
fn choose_branch(
    cli: &Cli,
    ws: &Workspace,
    remote: Option<&RemoteSpec>,
    transport: &Transport,
) -> Result<(String, String), BumpError> {
    let (branch, have) = match (ws.chosen.clone(), remote, &ws.git) {
        (Some(chosen), _, _) => chosen,
        (None, Some(remote), Some(git)) => {
            let have = git.ls_remote(remote, transport)?;
            let tracking = remote.name.as_deref().and_then(|n| git.tracking_branch(n));
            let b = branch::choose(
                cli.branch.as_deref(),
                &have,
                &remote.display,
                tracking.as_deref(),
                cli.create_branch,
            )?;
            (b, have)
        }
        (None, _, git) => {
            // no remote involved: the branch given, else the one checked out
            let b = cli
                .branch
                .clone()
                .or_else(|| git.as_ref().and_then(Git::current_branch))
                .unwrap_or_default();
            return Ok((b.clone(), b));
        }
    };
    let sync_from = if have.branches.contains(&branch) {
        branch.clone()
    } else {
        have.default.clone().unwrap_or_default()
    };
    Ok((branch, sync_from))
}

/// How to reach remotes: the token, the SSH keys and known_hosts, whether TLS and host keys
/// are verified (warned about when not). A named key or known_hosts file must exist.
#[allow(unsafe_code)] // libgit2 global options (timeouts); see SAFETY
fn transport(cli: &Cli, env: &Env, genv: &GitEnv) -> Result<Transport, BumpError> {
    let (token, token_source) = match (&genv.git_token, &genv.github_token) {
        (Some(t), _) => (Some(t.clone()), Some("GIT_TOKEN")),
        (None, Some(t)) => (Some(t.clone()), Some("GITHUB_TOKEN")),
        _ => (None, None),
    };
    let keys = crate::ssh::key_sources(
        cli.ssh_key.as_deref(),
        genv.ssh_key.as_deref(),
        genv.ssh_agent,
        genv.home.as_deref(),
        |p| p.is_file(),
    );
    if let Some(crate::ssh::KeySource::File(path)) = keys.first()
        && (cli.ssh_key.is_some() || genv.ssh_key.is_some())
        && !path.is_file()
    {
        let flag = if cli.ssh_key.is_some() {
            "--ssh-key"
        } else {
            "GIT_SSH_KEY"
        };
        return Err(bad(flag, &path.display().to_string(), "no such file"));
    }
    if let Some(file) = &cli.known_hosts
        && !file.is_file()
    {
        return Err(bad(
            "--known-hosts",
            &file.display().to_string(),
            "no such file",
        ));
    }
    let timeout = rollout_core::time::Duration::parse(&cli.timeout)?;
    let timeout_ms = i32::try_from(timeout.as_secs().saturating_mul(1000))
        .ok()
        .filter(|ms| *ms > 0)
        .ok_or_else(|| bad("--timeout", &cli.timeout, "between 1s and 24d"))?;
    // SAFETY: libgit2's global options, set once at the edge before any remote is opened;
    // tag-bump runs no other thread that uses libgit2.
    unsafe {
        let _ = git2::opts::set_server_connect_timeout_in_milliseconds(timeout_ms);
        let _ = git2::opts::set_server_timeout_in_milliseconds(timeout_ms);
    }
    let known_hosts = cli
        .known_hosts
        .clone()
        .or_else(|| genv.home.as_ref().map(|h| h.join(".ssh/known_hosts")));
    let deadline = rollout_core::time::Duration::parse(&cli.deadline)?;
    if deadline.as_secs() < 1 {
        return Err(bad("--deadline", &cli.deadline, "at least 1s"));
    }
    let size = |flag: &'static str, text: &str| {
        rollout_core::resources::parse_size(text)
            .map_err(|m| bad(flag, text, &m))
            .and_then(|n| {
                if n < 1 << 20 {
                    Err(bad(flag, text, "at least 1MiB"))
                } else {
                    Ok(n)
                }
            })
    };
    let limits = crate::transfer::Limits::new(
        StdDuration::from_secs(deadline.as_secs() as u64),
        size("--max-transfer", &cli.max_transfer)?,
        size("--max-memory", &cli.max_memory)?,
        [
            cli.deadline.clone(),
            cli.max_transfer.clone(),
            cli.max_memory.clone(),
        ],
    );
    let transport = Transport {
        insecure: cli.insecure || genv.ssl_no_verify,
        token,
        token_source,
        user: genv.git_user.clone(),
        cleartext: cli.insecure_http,
        timeout: cli.timeout.clone(),
        ssh: SshAuth {
            keys,
            known_hosts,
            insecure: cli.insecure,
        },
        limits: std::sync::Arc::new(limits),
    };
    if cli.insecure_http {
        warn(
            TOOL,
            env,
            "credentials may be sent over plain http (--insecure-http); anyone on the network can read them",
        );
    }
    if cli.insecure {
        warn(
            TOOL,
            env,
            "TLS certificate and SSH host key verification are off (--insecure); the remote is not authenticated",
        );
    } else if transport.insecure {
        warn(
            TOOL,
            env,
            "TLS certificate verification is off (GIT_SSL_NO_VERIFY); the remote is not authenticated",
        );
    }
    Ok(transport)
}

/// Run tag-bump with parsed flags; returns the exit code on success.
pub fn run(cli: &Cli, env: &Env, genv: &GitEnv) -> Result<u8, BumpError> {
    let now = resolve_now(cli.common.now.as_deref())?;
    let output = cli.common.output(now)?;
    cli.common.refuse_input(TOOL)?;
    let values = values(cli)?;
    let transport = transport(cli, env, genv)?;
    let want = Want {
        tag: &values.tag,
        digest: values.digest.as_deref(),
        name: cli.name.as_deref(),
        expect_current: cli.expect_current.as_deref(),
        create: cli.create,
    };
    let git_ops = cli.commit || cli.push || cli.sync || cli.clone.is_some();
    let ws = workspace(cli, &transport, git_ops)?;
    let root = ws.root.clone();
    // Two runs in one working copy would reset each other's edits; a dry run writes
    // nothing, not even the lock file.
    let _lock = if cli.dry_run {
        None
    } else {
        Some(Lock::acquire(
            &ws.git_dir.join("tag-bump"),
            cli.lock.timeout()?,
        )?)
    };
    // In its own --workdir clone, tag-bump removes the git lock files a killed run left.
    if _lock.is_some() && ws.cloned && cli.workdir.is_some() {
        for file in crate::git::remove_stale_locks(&ws.git_dir) {
            warn(
                TOOL,
                env,
                &format!(
                    "removed {} left by an interrupted run in {}",
                    file.display(),
                    ws.display
                ),
            );
        }
    }
    // A remote is needed only to sync or push: --commit works in a repository without one.
    let needs_remote = cli.clone.is_some() || cli.sync || cli.push;
    let remote: Option<RemoteSpec> = match (needs_remote, &ws.git, &cli.clone) {
        (true, Some(git), Some(_)) => Some(git.remote("origin")?),
        (true, Some(git), None) => Some(git.remote(&cli.remote)?),
        _ => None,
    };

    let (branch, sync_from) = choose_branch(cli, &ws, remote.as_ref(), &transport)?;
    let sync = |git: &Git| -> Result<(), BumpError> {
        let remote = remote.as_ref().expect("resolved for --sync");
        let tip = git.fetch(remote, &sync_from, &transport)?;
        git.reset_hard(tip, &transport)
    };
    if (cli.sync || (ws.cloned && cli.workdir.is_some())) && !cli.dry_run {
        sync(ws.git.as_ref().expect("opened for --sync"))?;
    } else if cli.sync && cli.dry_run {
        warn(
            TOOL,
            env,
            "--dry-run: --sync skipped; the preview is of the working copy as it is",
        );
    }

    let (resolved, origin) = targets(cli, &root)?;
    let group_tags = group_tags(&resolved, &values)?;
    let (mut plans, mut edits) = plan(&root, &resolved, origin, &want, &group_tags, cli.expect)?;
    let changed = plans.iter().any(|p| p.after != p.before);
    let mut commit: Option<CommitDoc> = None;
    let mut push: Option<PushDoc> = None;

    if !cli.dry_run {
        write_files(&root, &plans, &genv.fault)?;
    }
    if !cli.dry_run && (cli.commit || cli.push) {
        let git = ws.git.as_ref().expect("opened for --commit");
        let sig = git.signature(values.author.as_ref(), now.as_second())?;
        let author_text = format!(
            "{} <{}>",
            sig.name().unwrap_or_default(),
            sig.email().unwrap_or_default()
        );
        let do_commit = |git: &Git,
                         plans: &[FilePlan],
                         edits: &[GroupEdit]|
         -> Result<Option<CommitDoc>, BumpError> {
            let files: Vec<(String, Vec<u8>)> = plans
                .iter()
                .filter(|p| p.after != p.before)
                .map(|p| (p.file.clone(), p.after.clone().into_bytes()))
                .collect();
            if files.is_empty() {
                return Ok(None);
            }
            let mut message = commit_message(cli, &values, edits);
            if origin == Origin::Tree {
                // one commit for every file the policy marks: the body lists them
                message.push_str("\n\nFiles:\n");
                for (f, _) in &files {
                    message.push_str(&format!("- {f}\n"));
                }
            }
            let oid = git.commit_files(&files, &message, &sig, &transport)?;
            Ok(Some(CommitDoc {
                sha: oid.to_string(),
                message,
                author: author_text.clone(),
            }))
        };
        if (cli.commit || cli.push) && changed {
            commit = do_commit(git, &plans, &edits)?;
        }
        if cli.push {
            let remote = remote.as_ref().expect("resolved for --push");
            let refname = format!("refs/heads/{branch}");
            let left = |c: &Option<CommitDoc>| {
                c.as_ref().map(|c| {
                    if ws.temp.is_some() {
                        format!(
                            "commit {} was made in a temporary clone, now removed",
                            &c.sha[..7]
                        )
                    } else {
                        format!("commit {} stays in {}, not pushed", &c.sha[..7], ws.display)
                    }
                })
            };
            let mut attempts = 0u32;
            let mut pushed = false;
            loop {
                if commit.is_none() {
                    // Nothing new to commit: push only what the remote lacks.
                    let tip = git
                        .fetch(remote, &branch, &transport)
                        .or_else(|e| match e {
                            BumpError::Git {
                                reason: crate::error::GitReason::BranchMissing,
                                ..
                            } => Ok(git2::Oid::ZERO_SHA1),
                            e => Err(e),
                        })?;
                    let head = git.head();
                    match head {
                        Some(h) if h == tip => break,
                        Some(h) if tip.is_zero() || git.contains(h, tip) => {}
                        _ => {
                            git.reset_hard(tip, &transport)?;
                            (plans, edits) =
                                plan(&root, &resolved, origin, &want, &group_tags, cli.expect)?;
                            write_files(&root, &plans, &genv.fault)?;
                            commit = do_commit(git, &plans, &edits)?;
                            if commit.is_none() {
                                break;
                            }
                        }
                    }
                }
                attempts += 1;
                let outcome = git
                    .push(remote, &branch, &transport)
                    .map_err(|e| with_left(e, left(&commit)));
                for note in git.notes.borrow_mut().drain(..) {
                    warn(TOOL, env, &note);
                }
                match outcome? {
                    PushOutcome::Pushed => {
                        git.note_pushed(remote, &branch);
                        pushed = true;
                        break;
                    }
                    PushOutcome::Rejected(message) => {
                        return Err(BumpError::PushRejected {
                            remote: remote.display.clone(),
                            refname,
                            message,
                            left: left(&commit),
                        });
                    }
                    PushOutcome::NonFastForward => {
                        if attempts > cli.push_retries {
                            return Err(BumpError::PushRetriesExhausted {
                                remote: remote.display.clone(),
                                refname,
                                attempts,
                                left: left(&commit),
                            });
                        }
                        std::thread::sleep(backoff(attempts, &values.tag));
                        let tip = git.fetch(remote, &branch, &transport)?;
                        git.reset_hard(tip, &transport)?;
                        // From here the working copy is the remote's branch, not what it was.
                        let reset = |e: BumpError| BumpError::AfterReset {
                            source: Box::new(e),
                            state: format!(
                                "a push race was lost, so {} was reset to {}/{branch} at {}{}",
                                ws.display,
                                remote.display,
                                &tip.to_string()[..7],
                                commit
                                    .as_ref()
                                    .map(|c| format!(
                                        "; the local commit {} was not pushed",
                                        &c.sha[..7]
                                    ))
                                    .unwrap_or_default()
                            ),
                        };
                        (plans, edits) =
                            plan(&root, &resolved, origin, &want, &group_tags, cli.expect)
                                .map_err(reset)?;
                        write_files(&root, &plans, &genv.fault).map_err(reset)?;
                        commit = do_commit(git, &plans, &edits).map_err(reset)?;
                        if commit.is_none() {
                            // The remote already holds the tag (another run set it).
                            break;
                        }
                    }
                }
            }
            push = Some(PushDoc {
                remote: remote.display.clone(),
                refname,
                attempts,
                pushed,
            });
        }
    }

    let changed = plans.iter().any(|p| p.after != p.before);
    let diff = (cli.dry_run && cli.diff).then(|| {
        plans
            .iter()
            .filter(|p| p.after != p.before)
            .map(|p| unified_diff(&p.file, &p.before, &p.after))
            .collect::<String>()
    });
    let mut affected: Vec<String> = Vec::new();
    for e in &edits {
        for s in &e.resolved.affected {
            if !affected.contains(s) {
                affected.push(s.clone());
            }
        }
    }
    let report = BumpReport {
        schema_version: SCHEMA_VERSION.into(),
        kind: Kind::BumpReport,
        generated_at: format_timestamp(now),
        trace_id: trace::resolve(cli.common.trace_id.as_deref(), None, trace::random_uuid),
        repo: ws.display.clone(),
        branch: branch.clone(),
        dry_run: cli.dry_run,
        edits: edit_docs(&edits, &values),
        services_affected: affected,
        changed,
        commit,
        push,
        diff,
    };
    eprint!("{}", human(&report));
    let doc = serde_json::to_value(&report).map_err(|e| CoreError::usage(e.to_string()))?;
    cli.common.publish_summary(&markdown(&report), env)?;
    output.emit(&doc)?;
    Ok(0)
}

fn with_left(e: BumpError, left: Option<String>) -> BumpError {
    match e {
        BumpError::Git {
            action,
            message,
            reason,
            ..
        } => BumpError::Git {
            action,
            message: match &left {
                Some(l) => format!("{message}; {l}"),
                None => message,
            },
            reason,
            left,
        },
        other => other,
    }
}

/// A short, growing pause before a retry, spread by the tag so racing runs drift apart.
fn backoff(attempt: u32, salt: &str) -> StdDuration {
    let spread = salt
        .bytes()
        .fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)))
        % 50;
    StdDuration::from_millis((25u64 << attempt.min(5)).min(800) + spread)
}
