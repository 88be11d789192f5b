//! The rules of a plan, compiled once from the flags and checked before any input is read.

use rollout_core::CoreError;
use std::collections::BTreeMap;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use jiff::Timestamp;
use regex::{Regex, RegexSet};
use rollout_core::oci::Digest;
use rollout_core::time::Duration;
use schemars::JsonSchema;
use serde::Serialize;

use crate::error::PruneError;
use crate::protect::Protected;
use crate::version::Tags;

/// The replaced workflow's invariant: a 40-hex (commit sha) tag is never pruned.
pub const DEFAULT_PROTECT_TAG: &str = "^[0-9a-f]{40}$";

/// What to do with versions that carry no tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Untagged {
    /// Never a candidate (the default: untagged versions are often platform manifests).
    Keep,
    /// A candidate like a matched tag.
    Delete,
}

/// The rules as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct RuleArgs {
    /// `--match` globs.
    pub globs: Vec<String>,
    /// `--untagged delete`.
    pub untagged_delete: bool,
    /// `--older-than`.
    pub older_than: Option<Duration>,
    /// `--protect-tag` regexes (`none` drops the default).
    pub protect_tags: Vec<String>,
    /// `--keep-latest`.
    pub keep_latest: Option<usize>,
    /// `--keep-per`.
    pub keep_per: Option<String>,
    /// `--max-delete`.
    pub max_delete: usize,
}

/// The rules, compiled.
#[derive(Debug)]
pub struct Rules {
    /// The `--match` globs as written, in order.
    pub globs: Vec<String>,
    pub(crate) glob_set: GlobSet,
    /// Untagged versions.
    pub untagged: Untagged,
    /// Minimum age of a candidate.
    pub older_than: Duration,
    /// `now - older_than`: a candidate was created strictly before this.
    pub cutoff: Timestamp,
    /// The `--protect-tag` regexes in force, in order.
    pub protect_tags: Vec<Regex>,
    pub(crate) protect_set: RegexSet,
    /// Protected digests and their files.
    pub protected: Protected,
    /// `--keep-latest N`.
    pub keep_latest: Option<usize>,
    /// `--keep-per REGEX`.
    pub keep_per: Option<Regex>,
    /// Image index → its child manifests.
    pub manifests: BTreeMap<Digest, Vec<Digest>>,
    /// Where `--manifests` came from.
    pub manifests_file: Option<String>,
    /// Most versions a plan may delete.
    pub max_delete: usize,
}

/// Age cut-off when `--older-than` is not given: the replaced workflow's 14 days.
pub const DEFAULT_OLDER_THAN: Duration = Duration::from_secs(14 * 86_400);

impl Rules {
    /// Compile and check every rule; `now` fixes the age cut-off.
    pub fn compile(args: &RuleArgs, now: Timestamp) -> Result<Rules, PruneError> {
        if args.globs.is_empty() && !args.untagged_delete {
            return Err(PruneError::NothingSelected);
        }
        let mut builder = GlobSetBuilder::new();
        for g in &args.globs {
            if g.is_empty() {
                return Err(PruneError::Glob {
                    glob: g.clone(),
                    message: "empty glob".into(),
                });
            }
            let glob = GlobBuilder::new(g)
                .literal_separator(false)
                .backslash_escape(true)
                .build()
                .map_err(|e| PruneError::Glob {
                    glob: g.clone(),
                    message: e.kind().to_string(),
                })?;
            builder.add(glob);
        }
        let glob_set = builder.build().map_err(|e| PruneError::Glob {
            glob: args.globs.join(" "),
            message: e.to_string(),
        })?;

        let none = args.protect_tags.iter().any(|t| t == "none");
        let mut sources: Vec<String> = Vec::new();
        if !none {
            sources.push(DEFAULT_PROTECT_TAG.to_string());
        }
        for t in args.protect_tags.iter().filter(|t| *t != "none") {
            if !sources.contains(t) {
                sources.push(t.clone());
            }
        }
        let mut protect_tags = Vec::new();
        for s in &sources {
            protect_tags.push(compile_regex("--protect-tag", s)?);
        }
        let protect_set = RegexSet::new(&sources).map_err(|e| PruneError::Regex {
            flag: "--protect-tag",
            regex: sources.join(" "),
            message: e.to_string(),
        })?;

        let keep_per = match &args.keep_per {
            None => None,
            Some(r) => {
                let re = compile_regex("--keep-per", r)?;
                if re.captures_len() < 2 {
                    return Err(PruneError::Regex {
                        flag: "--keep-per",
                        regex: r.clone(),
                        message: "has no capture group; the first group names the group a version belongs to, e.g. ^pr-([0-9]+)-".into(),
                    });
                }
                Some(re)
            }
        };
        if keep_per.is_some() && args.keep_latest.is_none() {
            return Err(PruneError::from(CoreError::bad_value(
                "--keep-per",
                args.keep_per.clone().unwrap_or_default(),
                "groups versions for --keep-latest N; give --keep-latest too",
            )));
        }
        let older_than = args.older_than.unwrap_or(DEFAULT_OLDER_THAN);
        let cutoff = now.checked_sub(older_than.to_signed()).map_err(|e| {
            PruneError::from(CoreError::bad_value(
                "--older-than",
                older_than.to_string(),
                e.to_string(),
            ))
        })?;
        Ok(Rules {
            globs: args.globs.clone(),
            glob_set,
            untagged: if args.untagged_delete {
                Untagged::Delete
            } else {
                Untagged::Keep
            },
            older_than,
            cutoff,
            protect_tags,
            protect_set,
            protected: Protected::default(),
            keep_latest: args.keep_latest,
            keep_per,
            manifests: BTreeMap::new(),
            manifests_file: None,
            max_delete: args.max_delete,
        })
    }

    /// The first `--match` glob (in the order given) that matches one of `tags`.
    pub fn first_glob(&self, tags: Tags<'_>, scratch: &mut Vec<usize>) -> Option<usize> {
        let mut best: Option<usize> = None;
        for t in tags {
            self.glob_set.matches_into(t, scratch);
            if let Some(&i) = scratch.first() {
                best = Some(best.map_or(i, |b| b.min(i)));
            }
        }
        best
    }

    /// Whether `tag` matches any `--match` glob.
    pub fn glob_matches(&self, tag: &str) -> bool {
        self.glob_set.is_match(tag)
    }

    /// The first tag and regex of `--protect-tag` that match.
    pub fn protecting_tag<'t>(&self, tags: Tags<'t>) -> Option<(&'t str, &Regex)> {
        for t in tags {
            if self.protect_set.is_match(t)
                && let Some(re) = self.protect_tags.iter().find(|r| r.is_match(t))
            {
                return Some((t, re));
            }
        }
        None
    }
}

fn compile_regex(flag: &'static str, source: &str) -> Result<Regex, PruneError> {
    if source.is_empty() {
        return Err(PruneError::Regex {
            flag,
            regex: String::new(),
            message: "empty regex (it would match every tag)".into(),
        });
    }
    rollout_core::pattern::compile(source).map_err(|message| PruneError::Regex {
        flag,
        regex: source.to_string(),
        message,
    })
}
