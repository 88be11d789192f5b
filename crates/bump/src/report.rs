//! The `bump-report` document: what was edited, committed and pushed.

use rollout_core::doc::Kind;
use schemars::JsonSchema;
use serde::Serialize;

/// tag-bump's report (kind `bump-report`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BumpReport {
    /// Always "v1".
    pub schema_version: String,
    /// Always "bump-report".
    pub kind: Kind,
    /// When the run happened (the injected clock).
    pub generated_at: String,
    /// The trace id.
    pub trace_id: String,
    /// The working directory, or the clone URL (without userinfo) of a temporary clone.
    pub repo: String,
    /// The branch pushed to (and synced from).
    pub branch: String,
    /// Whether this was a dry run (nothing written, committed or pushed).
    pub dry_run: bool,
    /// One entry per image group and file.
    pub edits: Vec<EditDoc>,
    /// Every service of the touched image groups.
    pub services_affected: Vec<String>,
    /// Whether any file changed.
    pub changed: bool,
    /// The commit made, or null.
    pub commit: Option<CommitDoc>,
    /// The push, or null when not asked.
    pub push: Option<PushDoc>,
    /// A unified diff of every changed file (with --dry-run --diff).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// One group's edit.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EditDoc {
    /// The file, relative to the repository root.
    pub file: String,
    /// The image group (null with --file/--image).
    pub image_group: Option<String>,
    /// The image name.
    pub image: String,
    /// kustomize-images, yaml-path, helm-image or flux-setter.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The tag before (null when the entry was created).
    pub old_tag: Option<String>,
    /// The tag after.
    pub new_tag: String,
    /// The digest before, if any.
    pub old_digest: Option<String>,
    /// The digest after (null when none is pinned).
    pub new_digest: Option<String>,
    /// The image name before, when a new one was asked for and the file wrote one.
    pub old_name: Option<String>,
    /// The image name written with the tag (`--name`, the group's `newName`; null when the
    /// name is left as it is).
    pub new_name: Option<String>,
    /// Whether this edit changed the file.
    pub changed: bool,
    /// Whether an entry or key was inserted (--create, or a digest added).
    pub created: bool,
}

/// The commit.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CommitDoc {
    /// The commit id (40 hex).
    pub sha: String,
    /// The message.
    pub message: String,
    /// "Name <email>".
    pub author: String,
}

/// The push.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PushDoc {
    /// The remote name, or its URL without userinfo.
    pub remote: String,
    /// The ref pushed to (refs/heads/BRANCH).
    #[serde(rename = "ref")]
    pub refname: String,
    /// Push attempts made (1 when the first one landed; 0 when there was nothing to push).
    pub attempts: u32,
    /// Whether the remote branch now holds the commit.
    pub pushed: bool,
}
