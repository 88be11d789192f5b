//! The rewrite of a tree: every selected file read and planned in parallel (the plan is
//! verified by re-scanning), the pins that would change and those that are stale, the
//! unified diff of a dry run, and the files replaced all or none.

use rollout_core::output::unified_diff;
use rollout_core::tree::{Fault, Replacement, Tree};

use crate::error::PinError;
use crate::model::DigestSet;
use crate::plan::{Change, FilePlan, plan_file};
use crate::report::{FileWarning, Mode};
use crate::scanner::{holds_digest, is_yaml_name};
use crate::walk::{self, Candidate, Selection, Skipped};

/// A file's plan plus the bytes it was made from (kept only when the file changes).
pub struct FileRewrite {
    /// The plan.
    pub plan: FilePlan,
    /// The bytes before, when the file changes.
    pub old: Option<Vec<u8>>,
    /// Why the file was not read.
    pub skipped: Option<&'static str>,
}

/// Every file of a run planned: the plans of the files read, what was skipped and why.
pub struct TreePlan {
    /// Each file read, with its plan.
    pub plans: Vec<(Candidate, FileRewrite)>,
    /// Files not read, sorted.
    pub skipped: Vec<Skipped>,
    /// How many files were read.
    pub scanned: u64,
}

/// Read and plan every file of the selection as the walk finds it (on every core, each
/// thread with its own buffer).
pub fn plan_tree(sel: &Selection, set: &DigestSet) -> Result<TreePlan, PinError> {
    let (planned, mut skipped) = walk::collect_map(sel, |c, buf| plan_one(c, set, buf))?;
    let mut plans = Vec::new();
    let mut scanned = 0u64;
    for (c, p) in planned {
        match p.skipped {
            Some(reason) => skipped.push(Skipped {
                file: c.rel.clone(),
                reason,
            }),
            None => {
                scanned += 1;
                plans.push((c, p));
            }
        }
    }
    skipped.sort();
    Ok(TreePlan {
        plans,
        skipped,
        scanned,
    })
}

impl TreePlan {
    /// The plan of each file read.
    pub fn file_plans(&self) -> Vec<&FilePlan> {
        self.plans.iter().map(|(_, p)| &p.plan).collect()
    }

    /// The warning of each file that has one.
    pub fn warnings(&self) -> Vec<FileWarning> {
        self.plans
            .iter()
            .filter_map(|(_, p)| {
                p.plan.warning.as_ref().map(|m| FileWarning {
                    file: p.plan.file.clone(),
                    message: m.clone(),
                })
            })
            .collect()
    }

    /// The files whose bytes change.
    pub fn changed_files(&self) -> Vec<&(Candidate, FileRewrite)> {
        self.plans
            .iter()
            .filter(|(_, p)| p.plan.new_bytes.is_some())
            .collect()
    }

    /// A unified diff of every changed file.
    pub fn diff(&self) -> String {
        self.changed_files()
            .iter()
            .map(|(c, p)| {
                let old = String::from_utf8_lossy(p.old.as_deref().unwrap_or_default());
                let new = String::from_utf8_lossy(p.plan.new_bytes.as_deref().unwrap_or_default());
                unified_diff(&c.rel, &old, &new)
            })
            .collect()
    }

    /// Replace the changed files under `root`, all or none; returns them.
    pub fn write(&self, root: &std::path::Path, fault: &Fault) -> Result<Vec<String>, PinError> {
        let changed = self.changed_files();
        let replacements: Vec<Replacement> = changed
            .iter()
            .map(|(c, p)| Replacement {
                rel: &c.rel,
                old: p.old.as_deref().unwrap_or_default(),
                new: p.plan.new_bytes.as_deref().unwrap_or_default(),
                create: false,
            })
            .collect();
        Tree::open(root)?.replace_all(&replacements, fault)?;
        Ok(changed.iter().map(|(c, _)| c.rel.clone()).collect())
    }

    /// The changes the report lists: those of the rewrite, and with `--check` the stale
    /// pins too, in file order; outside a check, a stale pin is refused. Also says whether
    /// any pin was stale.
    pub fn changes(&self, mode: Mode) -> Result<(Vec<Change>, bool), PinError> {
        let file_plans = self.file_plans();
        let stale: Vec<&Change> = file_plans.iter().flat_map(|p| &p.stale).collect();
        if mode != Mode::Check
            && let Some(s) = stale.first()
        {
            return Err(PinError::StalePin {
                file: s.file.clone(),
                line: s.line,
                column: s.column,
                image: s.image.clone(),
                found: s.old.clone(),
                expected: s.new.clone(),
            });
        }
        let mut changes: Vec<Change> = file_plans.iter().flat_map(|p| p.changes.clone()).collect();
        if mode == Mode::Check {
            changes.extend(stale.iter().map(|c| (*c).clone()));
            changes.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        }
        Ok((changes, !stale.is_empty()))
    }
}

fn plan_one(
    c: &Candidate,
    set: &DigestSet,
    buf: &mut walk::FileBuf,
) -> Result<FileRewrite, PinError> {
    if let Some(reason) = walk::read_into(c, buf)? {
        return Ok(FileRewrite {
            plan: FilePlan::default(),
            old: None,
            skipped: Some(reason),
        });
    }
    if !holds_digest(buf) {
        // no pin to count or change (most files of a tree): an empty plan, no allocation
        // but the name
        return Ok(FileRewrite {
            plan: FilePlan {
                file: c.rel.clone(),
                ..FilePlan::default()
            },
            old: None,
            skipped: None,
        });
    }
    let plan = plan_file(&c.rel, buf, is_yaml_name(&c.rel), set);
    let old = plan.new_bytes.is_some().then(|| buf.to_vec());
    Ok(FileRewrite {
        plan,
        old,
        skipped: None,
    })
}
