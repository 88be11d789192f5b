//! The `bump-report` document (what was edited, committed and pushed), and how it reads
//! to a person: the human report on stderr and the Markdown summary.

use rollout_core::doc::Kind;
use rollout_core::summary;
use schemars::JsonSchema;
use serde::Serialize;

/// The header of a run's report, and whether it shows a diff.
#[derive(Debug, Clone)]
pub struct Run {
    /// When the run happened (the injected clock), formatted.
    pub generated_at: String,
    /// The trace id.
    pub trace_id: String,
    /// The working copy as the report names it.
    pub repo: String,
    /// The branch pushed to (and synced from).
    pub branch: String,
    /// A dry run.
    pub dry_run: bool,
    /// Include a unified diff (`--dry-run --diff`).
    pub diff: bool,
}

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

/// The human report on stderr, in the spirit of the replaced procedure. Every value from a
/// file, a services map or a server is shown on its line escaped (`one_line`): a runner
/// obeys a workflow command at the start of any line a step prints.
pub fn human(r: &BumpReport) -> String {
    let s = rollout_core::cli::one_line;
    let mut out = String::new();
    for e in &r.edits {
        let name = s(e.image_group.as_deref().unwrap_or(&e.image));
        let tag = match &e.new_name {
            Some(n) => s(&format!("{n}:{}", e.new_tag)),
            None => s(&e.new_tag),
        };
        let file = s(&e.file);
        let was = e
            .old_tag
            .as_deref()
            .map(|t| format!(" (was {})", s(t)))
            .unwrap_or_else(|| " (new entry)".into());
        if !e.changed {
            out.push_str(&format!(
                "✓ {name} is already at {tag} in {file}; nothing to do\n"
            ));
        } else if r.dry_run {
            out.push_str(&format!("• Would update {name} to {tag}{was} in {file}\n"));
        } else {
            out.push_str(&format!("✓ Updated {name} to {tag}{was} in {file}\n"));
        }
    }
    if !r.services_affected.is_empty() {
        out.push_str(&format!(
            "  services: {}\n",
            s(&r.services_affected.join(", "))
        ));
    }
    if let Some(c) = &r.commit {
        let first = c.message.lines().next().unwrap_or_default();
        out.push_str(&format!("  commit {} {}\n", &c.sha[..7], s(first)));
    }
    if let Some(p) = &r.push {
        let (remote, refname) = (s(&p.remote), s(&p.refname));
        if p.pushed {
            out.push_str(&format!(
                "  pushed to {remote} {refname} (attempt {})\n  Flux applies it at its next interval; to apply now: flux reconcile kustomization flux-system --with-source\n",
                p.attempts
            ));
        } else {
            out.push_str(&format!(
                "  {remote} {refname} already has it; nothing pushed\n"
            ));
        }
    }
    out
}

/// The Markdown summary (`--summary`, the GitHub step summary).
pub fn markdown(r: &BumpReport) -> String {
    let mut md = String::from(
        "### tag-bump\n\n| file | image | old tag | new tag | changed |\n|---|---|---|---|---|\n",
    );
    for e in &r.edits {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            summary::cell(&e.file),
            summary::cell(e.image_group.as_deref().unwrap_or(&e.image)),
            summary::cell(e.old_tag.as_deref().unwrap_or("(none)")),
            summary::cell(&e.new_tag),
            if e.changed { "yes" } else { "no" }
        ));
    }
    if let Some(c) = &r.commit {
        md.push_str(&format!(
            "\nCommit `{}`: {}\n",
            &c.sha[..7],
            summary::cell(&c.message)
        ));
    }
    if let Some(p) = &r.push {
        md.push_str(&format!(
            "\nPush to {} {}: {} after {} attempt(s)\n",
            summary::cell(&p.remote),
            p.refname,
            if p.pushed {
                "pushed"
            } else {
                "nothing to push"
            },
            p.attempts
        ));
    }
    md
}
