//! The `tag-bump` command line and its run sequence.
//!
//! Every value is checked before the repository is touched (tag grammar, digest, template,
//! author, URL). Then: lock the working copy, sync when asked, resolve services to files
//! (inside the repository), plan every edit in memory and verify it by re-parsing, write the
//! files, commit exactly those files, push with an explicit refspec, and on a lost race
//! fetch, reset, re-apply and push again. The report says what happened at each step.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use rollout_core::cli::{CommonArgs, Env, LockArgs, resolve_now};
use rollout_core::time::format_timestamp;
use rollout_core::trace;

use crate::TOOL;
use crate::change::{Changes, Job, write_files};
use crate::edit::Want;
use crate::environments;
use crate::error::BumpError;
use crate::push::{Committer, Destination, push};
use crate::remote::{GitEnv, TransportArgs, transport};
use crate::report::{Run, human, markdown};
use crate::request::{self, Request, RequestFlags, SetsDocument};
use crate::services::TYPES;
use crate::tag::DEFAULT_TEMPLATE;
use crate::targets::{Selection, group_tags, targets};
use crate::workspace::{Spec, prepare};

/// The Examples section of `--help` (and of the man page), kept beside the man page's
/// hand-written sections.
const EXAMPLES: &str = include_str!("../doc/tag-bump.examples");

/// Set an image tag in a GitOps repository, commit and push, safely and idempotently.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "tag-bump",
    version,
    about = "Set an image tag in a GitOps repository, commit and push, safely and idempotently",
    long_about = "Set the tag (and digest) of a service's image in a Flux/kustomize repository, \
changing only those bytes: comments, quoting, indentation, key order and line endings stay. \
The edit is verified by re-parsing, a value already at the tag is a no-op, --expect-current \
is a compare-and-swap, and --push retries lost races by fetching, resetting and re-applying.",
    after_help = EXAMPLES,
    group(clap::ArgGroup::new("clone_source").args(["clone", "environment"]).multiple(false))
)]
pub struct Cli {
    /// The working copy to edit.
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present_any = ["clone", "environment"],
        conflicts_with = "clone"
    )]
    pub repo: Option<PathBuf>,
    /// Clone this repository (into --workdir, reused when it is already a clone of it).
    #[arg(long, value_name = "URL")]
    pub clone: Option<String>,
    /// Clone the Flux repository of this environment of --environments (its fluxRepo; its
    /// branch, servicesFile and type are the defaults of --branch, --services, --insecure).
    #[arg(long, value_name = "NAME", requires = "environments", conflicts_with_all = ["repo", "clone"])]
    pub environment: Option<String>,
    /// The environments file ({"environments": {NAME: {"fluxRepo": URL, "type": "github"|"gitea",
    /// "branch": B, "servicesFile": F}}}).
    #[arg(long, value_name = "FILE", requires = "environment")]
    pub environments: Option<PathBuf>,
    /// Where --clone keeps its clone (default: a temporary directory, removed at the end).
    #[arg(long, value_name = "DIR", requires = "clone_source")]
    pub workdir: Option<PathBuf>,
    /// A service of the services map (repeatable; several make one commit).
    #[arg(long, value_name = "NAME", required_unless_present_any = ["file", "sets", "image", "input"],
          conflicts_with = "input")]
    pub service: Vec<String>,
    /// A service and its own tag, SERVICE=TAG (repeatable): different tags in one commit.
    #[arg(long = "set", value_name = "SERVICE=TAG",
          conflicts_with_all = ["service", "file", "tag", "pr", "sha", "digest", "expect_current"])]
    pub sets: Vec<String>,
    /// The services map (JSON or YAML; default services.json at the repository root).
    #[arg(long, value_name = "FILE")]
    pub services: Option<PathBuf>,
    /// Edit this file (relative to the repository root) instead of a service's.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["service", "services", "input"], requires = "image")]
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
    #[arg(long, value_name = "TAG", required_unless_present_any = ["pr", "sets", "input"],
          conflicts_with_all = ["pr", "sha", "input"])]
    pub tag: Option<String>,
    /// Build the tag pr-<N>-<sha7> from a pull request number …
    #[arg(long, value_name = "N", requires = "sha", conflicts_with = "input")]
    pub pr: Option<String>,
    /// … and its head commit.
    #[arg(long, value_name = "SHA", requires = "pr")]
    pub sha: Option<String>,
    /// Also set the digest (sha256:<64 hex>).
    #[arg(long, value_name = "DIGEST", conflicts_with = "input")]
    pub digest: Option<String>,
    /// Also set the image name (an OCI repository such as ghcr.io/acme/web): kustomize
    /// newName, the name of a full reference, a :name setter, a chart's repository.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Refuse (exit 3) unless the current tag is this one.
    #[arg(long, value_name = "TAG", conflicts_with = "input")]
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
    /// How long --push keeps retrying lost races (fetch, reset, re-apply), each pause
    /// jittered and sized by the contention seen.
    #[arg(long, value_name = "DURATION", default_value = "1m")]
    pub push_timeout: String,
    /// Also stop after N retries (default: as many as --push-timeout allows).
    #[arg(long, value_name = "N")]
    pub push_retries: Option<u32>,
    /// How remotes are reached and how far they are trusted.
    #[command(flatten)]
    pub transport: TransportArgs,
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

/// Entry point of the `tag-bump` binary.
pub fn main() -> ExitCode {
    rollout_core::cli::main(TOOL, |cli: &Cli, env| run(cli, env, &GitEnv::capture()))
}

impl rollout_core::cli::ToolCli for Cli {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

/// Run tag-bump with parsed flags; returns the exit code on success.
pub fn run(cli: &Cli, env: &Env, genv: &GitEnv) -> Result<u8, BumpError> {
    let resolved;
    let cli = match (&cli.environment, &cli.environments) {
        (Some(name), Some(file)) => {
            resolved = with_environment(cli, &environments::load(file, name)?, name);
            &resolved
        }
        _ => cli,
    };
    // 1. Every value is checked before anything is read or written.
    let now = resolve_now(cli.common.now.as_deref())?;
    let output = cli.common.output(now)?;
    let sets_doc = SetsDocument::read(cli.common.input.as_deref())?;
    let request = request::check(&request_flags(cli, sets_doc.as_ref()))?;
    let transport = transport(&cli.transport, env, genv)?;
    let push_timeout = crate::push::timeout(&cli.push_timeout)?;
    let want = Want {
        tag: &request.tag,
        digest: request.digest.as_deref(),
        name: cli.name.as_deref(),
        expect_current: cli.expect_current.as_deref(),
        create: cli.create,
    };
    // 2. The working copy: found or cloned, locked, synced when asked.
    let (ws, _lock, remote, branch) = prepare(&workspace_spec(cli), env, &transport)?;
    // 3. The change, planned in memory (and verified by re-parsing), then written.
    let (resolved, origin) = targets(&selection(cli, &request), &ws.root)?;
    let group_tags = group_tags(&resolved, &request)?;
    let job = Job {
        root: &ws.root,
        resolved: &resolved,
        origin,
        want: &want,
        group_tags: &group_tags,
        expect: cli.expect,
    };
    let (plans, edits) = job.plan()?;
    let mut changes = Changes {
        plans,
        edits,
        commit: None,
    };
    if !cli.dry_run {
        write_files(&ws.root, &changes.plans, &genv.fault)?;
    }
    // 4. Commit exactly those files; push, retrying lost races.
    let mut pushed = None;
    if !cli.dry_run && (cli.commit || cli.push) {
        let git = ws.git.as_ref().expect("opened for --commit");
        let committer = Committer {
            git,
            job: &job,
            template: &cli.message,
            request: &request,
            sig: git.signature(request.author.as_ref(), now.as_second())?,
            transport: &transport,
            fault: &genv.fault,
        };
        if changes.changed() {
            changes.commit = committer.commit(&changes)?;
        }
        if cli.push {
            let to = Destination {
                remote: remote.as_ref().expect("resolved for --push"),
                branch: &branch,
                retries: cli.push_retries,
                timeout: push_timeout,
                display: &ws.display,
                temporary: ws.temp.is_some(),
            };
            pushed = Some(push(&committer, &to, &mut changes, env)?);
        }
    }
    // 5. The report: on stderr for people, the document on stdout, the step summary.
    let run = Run {
        generated_at: format_timestamp(now),
        trace_id: trace::resolve(cli.common.trace_id.as_deref(), None, trace::random_uuid),
        repo: ws.display.clone(),
        branch,
        dry_run: cli.dry_run,
        diff: cli.dry_run && cli.diff,
    };
    let report = changes.report(run, &request, pushed);
    eprint!("{}", human(&report));
    cli.common.publish_summary(&markdown(&report), env)?;
    output.emit_serialize(&report)?;
    Ok(0)
}

/// The flags an environment stands for: `--clone` its fluxRepo, and its branch, services
/// file and type (gitea: `--insecure`) unless the flags say otherwise.
fn with_environment(cli: &Cli, e: &environments::Environment, name: &str) -> Cli {
    let shown = rollout_core::url::redact_userinfo(&e.flux_repo);
    eprintln!("{TOOL}: environment {name} ({}): {shown}", e.kind);
    let mut out = cli.clone();
    out.clone = Some(e.flux_repo.clone());
    out.branch = cli.branch.clone().or_else(|| e.branch.clone());
    out.services = cli
        .services
        .clone()
        .or_else(|| e.services_file.as_ref().map(PathBuf::from));
    out.transport.insecure |= e.kind == "gitea";
    out
}

fn request_flags<'a>(cli: &'a Cli, sets_doc: Option<&'a SetsDocument>) -> RequestFlags<'a> {
    RequestFlags {
        tag: cli.tag.as_deref(),
        pr: cli.pr.as_deref(),
        sha: cli.sha.as_deref(),
        sets: &cli.sets,
        sets_doc,
        tag_pattern: cli.tag_pattern.as_deref(),
        expect_current: cli.expect_current.as_deref(),
        digest: cli.digest.as_deref(),
        name: cli.name.as_deref(),
        message: &cli.message,
        author: cli.author.as_deref(),
        branch: cli.branch.as_deref(),
    }
}

fn workspace_spec(cli: &Cli) -> Spec<'_> {
    Spec {
        repo: cli.repo.as_deref(),
        clone: cli.clone.as_deref(),
        workdir: cli.workdir.as_deref(),
        branch: cli.branch.as_deref(),
        create_branch: cli.create_branch,
        dry_run: cli.dry_run,
        sync: cli.sync,
        commit: cli.commit,
        push: cli.push,
        remote: &cli.remote,
        lock_timeout: &cli.lock,
    }
}

fn selection<'a>(cli: &'a Cli, request: &Request) -> Selection<'a> {
    Selection {
        file: cli.file.as_deref(),
        image: cli.image.as_deref(),
        type_name: &cli.type_name,
        path: &cli.path,
        digest_path: cli.digest_path.as_deref(),
        name_path: cli.name_path.as_deref(),
        services: cli.services.as_deref(),
        services_named: if request.service_tags.is_empty() {
            cli.service.clone()
        } else {
            request.service_tags.keys().cloned().collect()
        },
    }
}
