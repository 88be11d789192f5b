//! The `image-resolve` command line and its run sequence.

use std::cell::OnceCell;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use rollout_core::cli::{CommonArgs, Env, resolve_now, warn};
use rollout_core::doc::{Kind, SCHEMA_VERSION};
use rollout_core::time::{format_timestamp, parse_wait};
use rollout_core::{CoreError, trace};

use crate::auth::{Lookup, Sources};
use crate::client::{Client, Settings};
use crate::error::ResolveError;
use crate::reference::{self, Reference};
use crate::report::{ImageReport, markdown, tags_markdown};
use crate::resolve::{self, PlatformWant};
use crate::tags::Selection;

const TOOL: &str = "image-resolve";

/// The Examples section of `--help` (and of the man page).
const EXAMPLES: &str = include_str!("../doc/image-resolve.examples");

/// Ask the registry for digests, labels and tags, without pulling an image.
#[derive(Debug, Parser)]
#[command(
    name = "image-resolve",
    version,
    about = "Ask the registry for digests, labels and tags, without pulling an image",
    long_about = "Speak the OCI distribution API to the registry of each REF: resolve a tag to its \
digest, or prove a digest exists, read an index's platforms and the image config's labels and \
created time, and print an image-report (gate-eval's oci-labels preset reads it, digest-pin -i \
pins it). `image-resolve tags REPO` lists a repository's tags (every page) and selects the \
latest by a policy, as Flux's ImagePolicy does. Credentials come from ~/.docker/config.json \
(auths, credHelpers, credsStore) or GITHUB_TOKEN for ghcr.io; TLS is verified.",
    override_usage = "image-resolve [OPTIONS] REF...\n       image-resolve tags [OPTIONS] REPO",
    after_help = EXAMPLES
)]
pub struct Cli {
    /// Image references (`ghcr.io/acme/web:v1`, `…@sha256:…`), or `tags` and a repository.
    #[arg(value_name = "REF", required = true)]
    pub args: Vec<String>,
    /// The platform whose config is read from an index (os/arch[/variant]); given, an index
    /// without it is refused (exit 3).
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Time for the whole run: every request, retry and wait.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub timeout: String,
    /// Retries of an answer 429 or 5xx (0-10), waiting what Retry-After says.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub retries: u32,
    /// Ask HOST instead of REGISTRY (a pull-through cache, an air-gapped copy):
    /// REGISTRY=HOST[:PORT], repeatable; names and pins keep REGISTRY. Default:
    /// $ROLLOUT_REGISTRY_MIRRORS (comma-separated).
    #[arg(long, value_name = "REGISTRY=HOST")]
    pub mirror: Vec<String>,
    /// Do not verify TLS certificates (warns on every run).
    #[arg(long)]
    pub insecure: bool,
    /// tags: semver:RANGE, numeric, alphabetical (the default) or regex:RE.
    #[arg(long, value_name = "POLICY", help_heading = "Tag selection (tags)")]
    pub policy: Option<String>,
    /// tags: keep only the tags this regular expression matches (Flux's filterTags.pattern).
    #[arg(long, value_name = "REGEX", help_heading = "Tag selection (tags)")]
    pub filter: Option<String>,
    /// tags: the sort key made from the filter's captures: `$name`, `${1}` (Flux's
    /// filterTags.extract).
    #[arg(long, value_name = "TEMPLATE", help_heading = "Tag selection (tags)")]
    pub extract: Option<String>,
    /// tags: asc (the highest key is the latest) or desc (the lowest is).
    #[arg(
        long,
        value_name = "ORDER",
        default_value = "asc",
        help_heading = "Tag selection (tags)"
    )]
    pub order: String,
    /// tags: only the latest tag, its digest resolved; none passing is exit 3.
    #[arg(long, help_heading = "Tag selection (tags)")]
    pub latest: bool,
    /// tags: resolve every passing tag (digest, created) and group them by digest in
    /// `versions`, the listing prune-plan plans an OCI repository's clean-up from.
    #[arg(long, help_heading = "Tag selection (tags)")]
    pub digests: bool,
    /// tags: tags asked for per page (1-10000).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1000,
        help_heading = "Tag selection (tags)"
    )]
    pub page_size: u32,
    /// Flags every tool takes.
    #[command(flatten)]
    pub common: CommonArgs,
}

impl rollout_core::cli::ToolCli for Cli {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

/// What the process environment gives the credential lookup.
pub struct CredentialEnv {
    /// `DOCKER_CONFIG`.
    pub docker_config: Option<String>,
    /// `HOME`.
    pub home: Option<String>,
    /// `GITHUB_TOKEN`.
    pub github_token: Option<String>,
    /// `GITHUB_ACTOR`.
    pub github_actor: Option<String>,
    /// `ROLLOUT_REGISTRY_MIRRORS`.
    pub mirrors: Option<String>,
}

/// Entry point of the `image-resolve` binary.
pub fn main() -> ExitCode {
    rollout_core::cli::main(TOOL, |cli: &Cli, env| {
        let var = |k: &str| std::env::var(k).ok();
        let creds = CredentialEnv {
            docker_config: var("DOCKER_CONFIG"),
            home: var("HOME"),
            github_token: var("GITHUB_TOKEN"),
            github_actor: var("GITHUB_ACTOR"),
            mirrors: var("ROLLOUT_REGISTRY_MIRRORS"),
        };
        run(cli, env, creds)
    })
}

enum Mode {
    Images(Vec<(String, Reference)>),
    Tags(Reference),
}

fn bad_reference(text: &str, message: String) -> ResolveError {
    ResolveError::BadReference {
        text: text.to_string(),
        message,
    }
}

fn mode(cli: &Cli, mirrors: &[(String, String)]) -> Result<Mode, ResolveError> {
    let tag_flags = [
        ("--policy", cli.policy.is_some()),
        ("--filter", cli.filter.is_some()),
        ("--extract", cli.extract.is_some()),
        ("--latest", cli.latest),
        ("--digests", cli.digests),
    ];
    if cli.args[0] == "tags" {
        let [_, repo] = cli.args.as_slice() else {
            return Err(CoreError::Usage {
                message:
                    "image-resolve tags takes one repository (image-resolve tags ghcr.io/acme/web)"
                        .into(),
            }
            .into());
        };
        if cli.platform.is_some() {
            return Err(CoreError::Usage {
                message: "--platform is for references, not for tags".into(),
            }
            .into());
        }
        let r = reference::parse(repo, false).map_err(|m| bad_reference(repo, m))?;
        return Ok(Mode::Tags(reference::with_mirror(r, mirrors)));
    }
    if let Some((flag, _)) = tag_flags.iter().find(|(_, given)| *given) {
        return Err(CoreError::Usage {
            message: format!("{flag} selects tags: use it with image-resolve tags REPO"),
        }
        .into());
    }
    let mut refs = Vec::new();
    for text in &cli.args {
        let r = reference::parse(text, true).map_err(|m| bad_reference(text, m))?;
        refs.push((text.clone(), reference::with_mirror(r, mirrors)));
    }
    Ok(Mode::Images(refs))
}

fn settings(cli: &Cli) -> Result<Settings, ResolveError> {
    let timeout = parse_wait(&cli.timeout)?;
    if timeout.is_zero() {
        return Err(rollout_core::bad_value(
            "--timeout",
            &cli.timeout,
            "must be more than 0",
        ));
    }
    if cli.retries > 10 {
        return Err(rollout_core::bad_value(
            "--retries",
            cli.retries,
            "at most 10",
        ));
    }
    if !(1..=10_000).contains(&cli.page_size) {
        return Err(rollout_core::bad_value(
            "--page-size",
            cli.page_size,
            "between 1 and 10000",
        ));
    }
    Ok(Settings {
        timeout,
        retries: cli.retries,
        insecure: cli.insecure,
    })
}

fn platform(cli: &Cli) -> Result<(String, bool), ResolveError> {
    match &cli.platform {
        None => Ok(("linux/amd64".into(), false)),
        Some(p) => reference::parse_platform(p)
            .map(|p| (p, true))
            .map_err(|m| rollout_core::bad_value("--platform", p, m)),
    }
}

/// Run image-resolve with parsed flags; returns the exit code on success.
pub fn run(cli: &Cli, env: &Env, creds: CredentialEnv) -> Result<u8, ResolveError> {
    let now = resolve_now(cli.common.now.as_deref())?;
    let output = cli.common.output(now)?;
    cli.common.refuse_input(TOOL)?;
    let settings = settings(cli)?;
    let (want, explicit) = platform(cli)?;
    let mirrors = match (&cli.mirror, &creds.mirrors) {
        (flags, _) if !flags.is_empty() => reference::parse_mirrors(flags)
            .map_err(|m| CoreError::bad_value("--mirror", flags.join(" "), m))?,
        (_, Some(env)) => reference::parse_mirrors(std::slice::from_ref(env))
            .map_err(|m| CoreError::bad_value("ROLLOUT_REGISTRY_MIRRORS", env, m))?,
        _ => Vec::new(),
    };
    let mode = mode(cli, &mirrors)?;
    let selection = match &mode {
        Mode::Tags(_) => Some(
            Selection::parse(
                cli.policy.as_deref(),
                cli.filter.as_deref(),
                cli.extract.as_deref(),
                &cli.order,
            )
            .map_err(|(flag, m)| CoreError::bad_value(flag, cli_value(cli, flag), m))?,
        ),
        Mode::Images(_) => None,
    };
    let trace_id = trace::resolve(cli.common.trace_id.as_deref(), None, trace::random_uuid);
    if cli.insecure {
        warn(
            TOOL,
            env,
            "TLS verification is off (--insecure): any server on the path can answer for the registry",
        );
    }
    // read only when a registry asks for credentials
    let sources: OnceCell<Result<Sources, String>> = OnceCell::new();
    let lookup = |host: &str| -> Lookup {
        let s = sources.get_or_init(|| {
            Sources::load(
                creds.docker_config.as_deref(),
                creds.home.as_deref(),
                creds.github_token.clone(),
                creds.github_actor.clone(),
            )
        });
        s.as_ref().map_err(Clone::clone)?.lookup(host)
    };
    let sleep = |d: Duration| std::thread::sleep(d);
    let client = Client::new(&settings, &lookup, &sleep);
    let stamp = format_timestamp(now);
    match mode {
        Mode::Images(refs) => {
            let want = PlatformWant {
                platform: &want,
                explicit,
            };
            let mut images = Vec::new();
            for (text, r) in &refs {
                images.push(resolve::image(&client, text, r, &want)?);
            }
            for i in images.iter().filter(|i| i.retagged == Some(true)) {
                warn(
                    TOOL,
                    env,
                    &format!(
                        "{}: the tag now points at {}, not at the digest given",
                        i.reference,
                        i.tag_digest.as_deref().unwrap_or_default()
                    ),
                );
            }
            let doc = ImageReport {
                schema_version: SCHEMA_VERSION.into(),
                kind: Kind::ImageReport,
                resolved_at: stamp,
                trace_id,
                platform: want.platform.to_string(),
                tls_verify: !cli.insecure,
                images,
            };
            cli.common.publish_summary(&markdown(&doc), env)?;
            output.emit_serialize(&doc)?;
        }
        Mode::Tags(r) => {
            let selection = selection.expect("tags mode has a selection");
            let ask = resolve::TagsAsk {
                page_size: cli.page_size,
                latest: cli.latest,
                digests: cli.digests,
            };
            let doc = resolve::tags(&client, &r, &selection, &ask, stamp, trace_id)?;
            cli.common.publish_summary(&tags_markdown(&doc), env)?;
            output.emit_serialize(&doc)?;
        }
    }
    Ok(0)
}

fn cli_value<'a>(cli: &'a Cli, flag: &str) -> &'a str {
    match flag {
        "--policy" => cli.policy.as_deref().unwrap_or_default(),
        "--filter" => cli.filter.as_deref().unwrap_or_default(),
        "--extract" => cli.extract.as_deref().unwrap_or_default(),
        _ => &cli.order,
    }
}
