//! The `image-report` and `image-tags` documents, and their Markdown summaries.
//!
//! An image-report entry says what a rollout pins and checks: the digest (computed from
//! the bytes the registry sent, so it is proven, not announced), `pinned` as digest-pin
//! writes it, the platforms of an index, and the config's labels and created time, which
//! gate-eval's `oci-labels` preset reads. `retagged` is set when a reference named both a
//! tag and a digest and the tag has since moved to other bytes.

use std::collections::BTreeMap;

use rollout_core::doc::Kind;
use rollout_core::summary::cell;
use schemars::JsonSchema;
use serde::Serialize;

/// image-resolve's report on references (kind `image-report`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageReport {
    /// Always "v1".
    pub schema_version: String,
    /// Always "image-report".
    pub kind: Kind,
    /// The clock of the run.
    pub resolved_at: String,
    /// The trace id.
    pub trace_id: String,
    /// The platform whose image config was read from an index (`linux/amd64`).
    pub platform: String,
    /// False with `--insecure`.
    pub tls_verify: bool,
    /// One entry per reference, in the order given.
    pub images: Vec<Image>,
}

/// One reference, resolved.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// The reference as given.
    pub reference: String,
    /// `registry/repository` (`docker.io/library/nginx` for `nginx`).
    pub name: String,
    /// The registry as references write it.
    pub registry: String,
    /// The repository inside it.
    pub repository: String,
    /// The host the registry API was asked at (a `--mirror`'s, else the registry's).
    pub endpoint: String,
    /// The tag given (or `latest` implied), null for a digest-only reference.
    pub tag: Option<String>,
    /// The manifest's digest, computed from the bytes received.
    pub digest: String,
    /// `name@digest`, as digest-pin writes pins.
    pub pinned: String,
    /// The manifest's media type.
    pub media_type: String,
    /// The manifest's size in bytes.
    pub size: u64,
    /// For an index: its platform children; empty for an image.
    pub platforms: Vec<PlatformEntry>,
    /// For an index: the child whose config was read (null when the index has none for the
    /// report's platform); for an image: null.
    pub selected: Option<PlatformEntry>,
    /// The image config (null for an index without the platform, or a non-image artifact).
    pub config: Option<ConfigEntry>,
    /// With a tag and a digest given: what the tag points at now.
    pub tag_digest: Option<String>,
    /// With a tag and a digest given: true when the tag now points at other bytes.
    pub retagged: Option<bool>,
}

/// One platform child of an index.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformEntry {
    /// `os/arch[/variant]`.
    pub platform: String,
    /// The child manifest's digest.
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
}

/// What the image config says.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigEntry {
    /// The config blob's digest (proven like the manifest's).
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// `os/arch[/variant]` the config declares.
    pub platform: Option<String>,
    /// `created`, as written.
    pub created: Option<String>,
    /// The labels (`org.opencontainers.image.revision`, …), sorted.
    pub labels: BTreeMap<String, String>,
}

/// image-resolve's tag listing (kind `image-tags`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TagsReport {
    /// Always "v1".
    pub schema_version: String,
    /// Always "image-tags".
    pub kind: Kind,
    /// The clock of the run.
    pub listed_at: String,
    /// The trace id.
    pub trace_id: String,
    /// `registry/repository`.
    pub name: String,
    /// How tags were chosen and ordered.
    pub selection: SelectionEntry,
    /// Every tag the registry listed.
    pub total: usize,
    /// Pages read.
    pub pages: usize,
    /// How many tags pass the selection.
    pub passed: usize,
    /// The tags that pass, latest first (only the latest with `--latest`).
    pub tags: Vec<TagEntry>,
    /// The latest tag, null when none passes.
    pub latest: Option<TagEntry>,
    /// With `--digests`: the passing tags grouped by manifest digest, newest first, in the
    /// shape prune-plan reads as an OCI repository's versions (absent without `--digests`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions: Option<Vec<VersionEntry>>,
}

/// One manifest of a repository and the tags that point at it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionEntry {
    /// The digest, as the version's id (a registry deletes a manifest by its digest).
    pub id: String,
    /// The manifest digest.
    pub digest: String,
    /// The image's created time (its config's; null for an index without the platform).
    pub created_at: Option<String>,
    /// The tags, sorted.
    pub tags: Vec<String>,
}

/// The selection as given.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectionEntry {
    /// `semver:RANGE`, `numeric`, `alphabetical`, `regex:RE`.
    pub policy: String,
    /// `--filter`.
    pub filter: Option<String>,
    /// `--extract`.
    pub extract: Option<String>,
    /// `asc` or `desc`.
    pub order: String,
}

/// One tag that passed.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TagEntry {
    /// The tag.
    pub tag: String,
    /// The key it was ordered by (the extracted text, or the tag).
    pub key: String,
    /// The manifest digest (with `--latest` or `--digests`: proven like a reference's).
    pub digest: Option<String>,
    /// The image's created time (with `--latest` or `--digests`).
    pub created: Option<String>,
}

/// The Markdown summary of an image-report.
pub fn markdown(r: &ImageReport) -> String {
    let mut s = String::from(
        "### image-resolve\n\n| reference | digest | platform | revision |\n|---|---|---|---|\n",
    );
    for i in &r.images {
        let platform = i
            .selected
            .as_ref()
            .map(|p| p.platform.clone())
            .or_else(|| i.config.as_ref().and_then(|c| c.platform.clone()))
            .unwrap_or_default();
        let revision = i
            .config
            .as_ref()
            .and_then(|c| c.labels.get("org.opencontainers.image.revision"))
            .cloned()
            .unwrap_or_default();
        let drift = if i.retagged == Some(true) {
            " (tag moved)"
        } else {
            ""
        };
        s.push_str(&format!(
            "| `{}` | `{}`{} | {} | {} |\n",
            cell(&i.reference),
            cell(&i.digest),
            drift,
            cell(&platform),
            cell(&revision)
        ));
    }
    s
}

/// The Markdown summary of an image-tags listing.
pub fn tags_markdown(r: &TagsReport) -> String {
    let latest = r
        .latest
        .as_ref()
        .map_or("none".to_string(), |t| format!("`{}`", cell(&t.tag)));
    format!(
        "### image-resolve tags\n\n`{}`: {} of {} tags pass `{}`; latest {}\n",
        cell(&r.name),
        r.passed,
        r.total,
        cell(&r.selection.policy),
        latest
    )
}
