//! The `prune-plan` document, its Markdown summary and the `gh api` command lines.

use std::collections::BTreeMap;

use jiff::Timestamp;
use rollout_core::doc::Kind;
use rollout_core::summary::cell;
use schemars::JsonSchema;
use serde::{Serialize, Serializer};

use crate::listing::{Package, Tags, Version, VersionId};
use crate::plan::{Action, Detail, PackagePlan, Plan, Reason, Selector, age_days};
use crate::protect::ProtectSource;
use crate::rules::{Rules, Untagged};

/// A timestamp written as RFC 3339 UTC when the document is serialised.
#[derive(Debug, Clone, Copy)]
pub struct Ts(pub Timestamp);

impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// A value written through its `Display` when the document is serialised.
#[derive(Debug, Clone)]
pub struct Shown<T>(pub T);

impl<T: std::fmt::Display> Serialize for Shown<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// prune-plan's plan (kind `prune-plan`).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrunePlan<'a> {
    /// Always "v1".
    pub schema_version: &'static str,
    /// Always "prune-plan".
    pub kind: Kind,
    /// The clock of the run (ages are measured from it).
    pub generated_at: String,
    /// The trace id.
    pub trace_id: String,
    /// The listing the plan was made from.
    pub input: InputDoc,
    /// The rules, as resolved.
    pub rules: RulesDoc<'a>,
    /// `delete`, `nothing`, or `refused_threshold` (delete nothing; review the candidates).
    pub action: Action,
    /// Counts over every package.
    pub summary: SummaryDoc,
    /// One entry per package, sorted by name.
    pub packages: Vec<PackageDoc<'a>>,
}

/// The listing read.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputDoc {
    /// The file, or `stdin`.
    pub source: String,
    /// sha256 of its bytes, so a plan can be tied to the listing it was made from.
    pub sha256: String,
}

/// The rules in force.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RulesDoc<'a> {
    /// `--match` globs.
    #[serde(rename = "match")]
    pub globs: &'a [String],
    /// `keep` or `delete`.
    pub untagged: Untagged,
    /// `--older-than`.
    pub older_than: String,
    /// Candidates were created strictly before this.
    pub cutoff: String,
    /// `--protect-tag` regexes in force (the default unless `none`).
    pub protect_tags: Vec<&'a str>,
    /// `--protect-digests` files.
    pub protect_digests: &'a [ProtectSource],
    /// Distinct protected digests over all files.
    pub protected_digest_count: usize,
    /// `--keep-latest`.
    pub keep_latest: Option<usize>,
    /// `--keep-per`.
    pub keep_per: Option<&'a str>,
    /// `--manifests` file.
    pub manifests: Option<&'a str>,
    /// Image indexes it describes.
    pub manifest_indexes: usize,
    /// `--max-delete`.
    pub max_delete: usize,
}

/// Counts over every package.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SummaryDoc {
    /// Packages planned.
    pub packages: usize,
    /// Versions read.
    pub total_versions: usize,
    /// Versions selected, old enough and unprotected.
    pub candidates: usize,
    /// Versions the plan deletes (0 unless `action` is `delete`).
    pub delete: usize,
    /// Versions kept.
    pub keep: usize,
    /// Kept versions by reason.
    pub by_reason: BTreeMap<Reason, usize>,
}

/// One package's plan.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PackageDoc<'a> {
    /// The package name (null when neither --package nor the listing names it).
    pub package: Option<&'a str>,
    /// Versions read.
    pub total_versions: usize,
    /// Versions to delete, oldest first (when refused: the candidates, for review).
    #[schemars(with = "Vec<DeleteDoc<'static>>")]
    pub delete: DeleteList<'a>,
    /// Versions kept, oldest first, with the first reason that applies.
    #[schemars(with = "Vec<KeepDoc<'static>>")]
    pub keep: KeepList<'a>,
}

/// A package's versions to delete, made into [`DeleteDoc`]s only as they are written: a
/// plan of 200,000 versions is never held twice.
#[derive(Debug)]
pub struct DeleteList<'a> {
    plan: &'a PackagePlan<'a>,
    rules: &'a Rules,
    now: Timestamp,
}

impl<'a> DeleteList<'a> {
    /// The entries, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = DeleteDoc<'a>> + '_ {
        self.plan.delete.iter().map(|&(v, s)| DeleteDoc {
            id: &v.id,
            digest: v.digest(),
            tags: v.tags(),
            created_at: Ts(v.created),
            age_days: age_days(v.created, self.now),
            matched_by: match s {
                Selector::Glob(i) => self.rules.globs[i as usize].as_str(),
                Selector::Untagged => "untagged",
            },
            also_removes: also_removes(v, s, self.rules),
        })
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.plan.delete.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.plan.delete.is_empty()
    }
}

impl Serialize for DeleteList<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// A package's kept versions, made into [`KeepDoc`]s only as they are written.
#[derive(Debug)]
pub struct KeepList<'a> {
    plan: &'a PackagePlan<'a>,
}

impl<'a> KeepList<'a> {
    /// The entries, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = KeepDoc<'a>> + '_ {
        self.plan.keep.iter().map(|(v, r, d)| KeepDoc {
            id: &v.id,
            digest: v.digest(),
            tags: v.tags(),
            created_at: Ts(v.created),
            reason: *r,
            detail: Shown(d.clone()),
        })
    }
}

impl Serialize for KeepList<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// A version to delete.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteDoc<'a> {
    /// The version id (what the delete call takes).
    pub id: &'a VersionId,
    /// The manifest digest.
    pub digest: &'a str,
    /// Every tag on it.
    #[schemars(with = "Vec<String>")]
    pub tags: Tags<'a>,
    /// `created_at`.
    #[schemars(with = "String")]
    pub created_at: Ts,
    /// Whole days since `created_at`.
    pub age_days: i64,
    /// The `--match` glob that selected it, or `untagged`.
    pub matched_by: &'a str,
    /// Tags no `--match` glob selects that go with it (a delete removes every tag).
    pub also_removes: Vec<&'a str>,
}

/// A version kept.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeepDoc<'a> {
    /// The version id.
    pub id: &'a VersionId,
    /// The manifest digest.
    pub digest: &'a str,
    /// Every tag on it.
    #[schemars(with = "Vec<String>")]
    pub tags: Tags<'a>,
    /// `created_at`.
    #[schemars(with = "String")]
    pub created_at: Ts,
    /// Why it is kept.
    pub reason: Reason,
    /// The tag, file, group or index behind the reason.
    #[schemars(with = "String")]
    pub detail: Shown<Detail<'a>>,
}

/// Where the document's envelope comes from.
pub struct Envelope {
    /// The clock.
    pub now: Timestamp,
    /// The trace id.
    pub trace_id: String,
    /// The listing.
    pub input: InputDoc,
}

/// Build the document.
pub fn document<'a>(plan: &'a Plan<'a>, rules: &'a Rules, env: Envelope) -> PrunePlan<'a> {
    let now = env.now;
    let packages: Vec<PackageDoc<'a>> = plan
        .packages
        .iter()
        .map(|p| PackageDoc {
            package: p.package.name.as_deref(),
            total_versions: p.package.versions.len(),
            delete: DeleteList {
                plan: p,
                rules,
                now,
            },
            keep: KeepList { plan: p },
        })
        .collect();
    let total: usize = plan.packages.iter().map(|p| p.package.versions.len()).sum();
    let delete = if plan.action == Action::Delete {
        plan.candidates
    } else {
        0
    };
    PrunePlan {
        schema_version: rollout_core::doc::SCHEMA_VERSION,
        kind: Kind::PrunePlan,
        generated_at: rollout_core::time::format_timestamp(now),
        trace_id: env.trace_id,
        input: env.input,
        rules: RulesDoc {
            globs: &rules.globs,
            untagged: rules.untagged,
            older_than: rules.older_than.compound(),
            cutoff: rollout_core::time::format_timestamp(rules.cutoff),
            protect_tags: rules.protect_tags.iter().map(|r| r.as_str()).collect(),
            protect_digests: &rules.protected.sources,
            protected_digest_count: rules.protected.len(),
            keep_latest: rules.keep_latest,
            keep_per: rules.keep_per.as_ref().map(|r| r.as_str()),
            manifests: rules.manifests_file.as_deref(),
            manifest_indexes: rules.manifests.len(),
            max_delete: rules.max_delete,
        },
        action: plan.action,
        summary: SummaryDoc {
            packages: plan.packages.len(),
            total_versions: total,
            candidates: plan.candidates,
            delete,
            keep: total - plan.candidates,
            by_reason: plan.by_reason.clone(),
        },
        packages,
    }
}

fn also_removes<'a>(v: &'a Version, s: Selector, rules: &Rules) -> Vec<&'a str> {
    match s {
        Selector::Untagged => Vec::new(),
        Selector::Glob(_) => v.tags().iter().filter(|t| !rules.glob_matches(t)).collect(),
    }
}

/// How many versions to delete the summary shows.
pub const SUMMARY_ROWS: usize = 20;

/// The Markdown summary: counts by reason and the first versions to delete.
pub fn markdown(doc: &PrunePlan<'_>) -> String {
    let s = &doc.summary;
    let mut md = String::new();
    let headline = match doc.action {
        Action::Delete => format!("{} version(s) to delete", s.delete),
        Action::Nothing => "nothing to delete".to_string(),
        Action::RefusedThreshold => format!(
            "**refused**: {} candidates exceed --max-delete {}; nothing may be deleted",
            s.candidates, doc.rules.max_delete
        ),
    };
    md.push_str(&format!("### prune-plan: {headline}\n\n"));
    md.push_str(&format!(
        "{} version(s) in {} package(s); {} candidate(s), {} kept. Match: {}; older than {} (before {}).\n\n",
        s.total_versions,
        s.packages,
        s.candidates,
        s.keep,
        doc.rules
            .globs
            .iter()
            .map(|g| format!("`{}`", cell(g)))
            .chain((doc.rules.untagged == Untagged::Delete).then(|| "untagged".to_string()))
            .collect::<Vec<_>>()
            .join(", "),
        doc.rules.older_than,
        doc.rules.cutoff
    ));
    md.push_str("| kept because | versions |\n|---|---:|\n");
    for (r, n) in &s.by_reason {
        md.push_str(&format!("| {} | {n} |\n", r.as_str()));
    }
    md.push('\n');
    let total: usize = doc.packages.iter().map(|p| p.delete.len()).sum();
    let rows: Vec<(&Option<&str>, DeleteDoc<'_>)> = doc
        .packages
        .iter()
        .flat_map(|p| p.delete.iter().map(move |d| (&p.package, d)))
        .take(SUMMARY_ROWS)
        .collect();
    if !rows.is_empty() {
        let title = if doc.action == Action::Delete {
            "To delete"
        } else {
            "Candidates (not to be deleted)"
        };
        md.push_str(&format!(
            "{title} (first {} of {}):\n\n| package | id | tags | created | age |\n|---|---|---|---|---:|\n",
            rows.len(),
            total
        ));
        for (pkg, d) in &rows {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {}d |\n",
                cell(pkg.unwrap_or("-")),
                cell(&d.id.to_string()),
                cell(&d.tags.iter().collect::<Vec<_>>().join(", ")),
                d.created_at.0,
                d.age_days
            ));
        }
        md.push('\n');
    }
    md
}

/// Where delete calls go: `--org`, `--user`, else the versions' own API URLs, else gh's
/// `{owner}` placeholder (filled from the current repository by `gh api`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// `/orgs/ORG`.
    Org(String),
    /// `/users/USER`.
    User(String),
    /// Whatever the listing says, else `/orgs/{owner}`.
    FromListing,
}

/// The `gh api -X DELETE` lines of a plan, one per version to delete. Names are
/// percent-encoded, so a line never holds a shell metacharacter.
pub fn commands(plan: &Plan<'_>, owner: &Owner) -> Vec<String> {
    delete_commands(
        plan.packages
            .iter()
            .map(|p| (p.package, p.delete.iter().map(|(v, _)| *v).collect())),
        owner,
    )
}

/// The `gh api -X DELETE` lines for these versions of these packages.
pub fn delete_commands<'a>(
    deletions: impl IntoIterator<Item = (&'a Package, Vec<&'a Version>)>,
    owner: &Owner,
) -> Vec<String> {
    let mut out = Vec::new();
    for (package, versions) in deletions {
        let name = package.name.as_deref().unwrap_or_default();
        if package.oci {
            out.extend(versions.iter().map(|v| oci_delete(name, v.digest())));
            continue;
        }
        let owner_path = match owner {
            Owner::Org(o) => format!("/orgs/{o}"),
            Owner::User(u) => format!("/users/{u}"),
            Owner::FromListing => package
                .owner_path
                .clone()
                .unwrap_or_else(|| "/orgs/{owner}".to_string()),
        };
        for v in versions {
            let id = match &v.id {
                VersionId::Number(n) => n.to_string(),
                VersionId::Text(s) => encode(s),
            };
            out.push(format!(
                "gh api -X DELETE {owner_path}/packages/container/{}/versions/{id}",
                encode(name)
            ));
        }
    }
    out
}

/// The delete of one manifest of an OCI repository (`registry/repository`, checked against
/// the OCI name grammar when read, so it holds no shell metacharacter): `skopeo delete`,
/// which authenticates as the registry asks, with the distribution API call it makes.
fn oci_delete(name: &str, digest: &str) -> String {
    let repository = name.split_once('/').map_or(name, |(_, r)| r);
    format!("skopeo delete docker://{name}@{digest}  # DELETE /v2/{repository}/manifests/{digest}")
}

/// Percent-encode everything but unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
