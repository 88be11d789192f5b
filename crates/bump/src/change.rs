//! A run's change, planned in memory and then written: every group's edit applied to the
//! text of its file (several groups may share one), checked against `--expect`; the files
//! written all or none; the commit message and the report's edit entries made from it.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use rollout_core::doc::{Kind, SCHEMA_VERSION};
use rollout_core::input::{MAX_DOCUMENT_BYTES, Source, as_text, read_bytes};
use rollout_core::output::unified_diff;
use rollout_core::tree::{Fault, Replacement, Tree};

use crate::edit::{Outcome, Want, bump};
use crate::error::BumpError;
use crate::paths::{inside, new_file, relative};
use crate::report::{BumpReport, CommitDoc, EditDoc, PushDoc, Run};
use crate::request::Request;
use crate::services::{Group, Resolved, Target};
use crate::tag::render_template;
use crate::targets::{Origin, no_marked_value};

/// The change as it stands: the planned files, the group edits, the commit made of them.
pub struct Changes {
    /// Every file's text before and after.
    pub plans: Vec<FilePlan>,
    /// Every group's edit.
    pub edits: Vec<GroupEdit>,
    /// The commit, once made.
    pub commit: Option<CommitDoc>,
}

/// Everything a plan is made from; planning again (after a reset) gives the change anew.
pub struct Job<'a> {
    /// The working copy's root.
    pub root: &'a Path,
    /// The groups to edit.
    pub resolved: &'a [Resolved],
    /// Where the groups come from.
    pub origin: Origin,
    /// The values to set.
    pub want: &'a Want<'a>,
    /// With --set: each group's tag.
    pub group_tags: &'a IndexMap<String, String>,
    /// `--expect N`.
    pub expect: Option<usize>,
}

/// A file's plan: its text before and after every group's edit.
#[derive(Debug, Clone)]
pub struct FilePlan {
    /// Relative to the working copy's root, the real path (no symlink on the way).
    pub file: String,
    /// The file does not exist yet (an Argo CD source file written with --create).
    pub new: bool,
    /// The text before the run.
    pub before: String,
    /// The text after every group's edit.
    pub after: String,
}

/// One group's edit, with its outcome.
#[derive(Debug, Clone)]
pub struct GroupEdit {
    /// The group, its file relative to the root.
    pub resolved: Resolved,
    /// The group comes from the services map.
    pub from_services: bool,
    /// The tag this group gets.
    pub tag: String,
    /// The image name it gets with the tag, when the name changes.
    pub name: Option<String>,
    /// What the edit did.
    pub outcome: Outcome,
}

impl Job<'_> {
    /// Plan every group's edit on the files as they are now; nothing is written.
    pub fn plan(&self) -> Result<(Vec<FilePlan>, Vec<GroupEdit>), BumpError> {
        let mut files: IndexMap<PathBuf, FilePlan> = IndexMap::new();
        let mut edits = Vec::new();
        for r in self.resolved {
            let creatable = self.want.create
                && matches!(
                    r.group.target,
                    Target::ArgocdKustomize | Target::ArgocdHelm { .. }
                );
            let path = match inside(self.root, &r.group.file) {
                Err(BumpError::FileMissing { .. }) if creatable => {
                    new_file(self.root, &r.group.file)?
                }
                other => other?,
            };
            let rel = relative(self.root, &path);
            if !files.contains_key(&path) {
                files.insert(path.clone(), file_plan(&path, &rel, creatable)?);
            }
            let fp = files.get_mut(&path).expect("inserted above");
            let tag = self
                .group_tags
                .get(&r.group.name)
                .map_or(self.want.tag, String::as_str);
            let name = self.want.name.or(r.group.new_name.as_deref());
            let outcome = match bump(
                &fp.after,
                &rel,
                &r.group,
                &Want {
                    tag,
                    name,
                    ..*self.want
                },
            ) {
                // in a tree, a file that names the policy but marks no value of it is not a target
                Err(BumpError::EntryNotFound { .. }) if self.origin == Origin::Tree => continue,
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
                from_services: self.origin == Origin::Services,
                outcome,
            });
        }
        if self.origin == Origin::Tree && edits.is_empty() {
            let policy = self.resolved.first().map_or("", |r| r.group.image.as_str());
            return Err(no_marked_value(policy, &[]));
        }
        check_expect(self.expect, &edits)?;
        Ok((files.into_values().collect(), edits))
    }
}

/// A file's plan before any edit: its text, or a new empty file for an Argo CD source file
/// that `--create` may write.
fn file_plan(path: &Path, rel: &str, creatable: bool) -> Result<FilePlan, BumpError> {
    if creatable && std::fs::symlink_metadata(path).is_err() {
        return Ok(FilePlan {
            file: rel.to_string(),
            before: String::new(),
            after: String::new(),
            new: true,
        });
    }
    let meta = std::fs::metadata(path).map_err(|e| BumpError::FileMissing {
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
    as_text(&bytes, rel)?;
    let text = String::from_utf8(bytes).expect("checked above");
    Ok(FilePlan {
        file: rel.to_string(),
        before: text.clone(),
        after: text,
        new: false,
    })
}

/// `--expect N`: the run sets exactly N values.
fn check_expect(expect: Option<usize>, edits: &[GroupEdit]) -> Result<(), BumpError> {
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
    Ok(())
}

/// Write the changed files, all or none, each relative to the held working copy (a
/// directory swapped for a symlink meanwhile is not followed).
pub fn write_files(root: &Path, plans: &[FilePlan], fault: &Fault) -> Result<(), BumpError> {
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

/// The commit message: the template with the variables of the groups that changed.
pub fn commit_message(template: &str, request: &Request, edits: &[GroupEdit]) -> String {
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
        if request.service_tags.is_empty() {
            request.tag.clone()
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
    render_template(template, &vars)
}

/// The report's entry for each group's edit.
pub fn edit_docs(edits: &[GroupEdit], request: &Request) -> Vec<EditDoc> {
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
            new_digest: request
                .digest
                .clone()
                .or_else(|| e.outcome.old_digest.clone()),
            changed: e.outcome.changed,
            created: e.outcome.created,
        })
        .collect()
}

impl Changes {
    /// Whether any file changed.
    pub fn changed(&self) -> bool {
        self.plans.iter().any(|p| p.after != p.before)
    }

    /// The run's report: its header, every edit, the services touched, the commit and push.
    pub fn report(self, run: Run, request: &Request, push: Option<PushDoc>) -> BumpReport {
        let diff = run.diff.then(|| {
            self.plans
                .iter()
                .filter(|p| p.after != p.before)
                .map(|p| unified_diff(&p.file, &p.before, &p.after))
                .collect::<String>()
        });
        let mut affected: Vec<String> = Vec::new();
        for e in &self.edits {
            for s in &e.resolved.affected {
                if !affected.contains(s) {
                    affected.push(s.clone());
                }
            }
        }
        BumpReport {
            schema_version: SCHEMA_VERSION.into(),
            kind: Kind::BumpReport,
            generated_at: run.generated_at,
            trace_id: run.trace_id,
            repo: run.repo,
            branch: run.branch,
            dry_run: run.dry_run,
            changed: self.changed(),
            edits: edit_docs(&self.edits, request),
            services_affected: affected,
            commit: self.commit,
            push,
            diff,
        }
    }
}
