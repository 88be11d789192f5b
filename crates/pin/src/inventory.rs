//! What a tree pins: every digest reference of the selected files (with its place, tag and
//! whether it is well formed), the digests by image, the digests no image name claims, and
//! digests held in variables no use attaches to an image. `digest-pin scan` prints it;
//! `--baseline` records it.

use indexmap::IndexMap;
use rollout_core::CoreError;
use rollout_core::cli::Env;
use rollout_core::doc::{Kind, SCHEMA_VERSION};
use rollout_core::output::Output;
use rollout_core::trace;

use crate::TOOL;
use crate::error::PinError;
use crate::reference::ImageSpec;
use crate::report::{DigestScan, FileWarning, Reference, UnattributedDigest, skipped_docs};
use crate::scanner::{LineIndex, is_yaml_name, scan_file};
use crate::walk::{self, SelectArgs, Skipped};

/// What a walk of the tree found.
pub struct TreeScan {
    /// Every pin found.
    pub references: Vec<Reference>,
    /// Files not read.
    pub skipped: Vec<Skipped>,
    /// Files read with a warning.
    pub warnings: Vec<FileWarning>,
    /// Files read.
    pub scanned: u64,
    /// Image → its well-formed digests, sorted.
    pub by_image: IndexMap<String, Vec<String>>,
    /// Every well-formed digest the files hold, named or not (empty with `--image`).
    pub loose: Vec<String>,
    /// Digests assigned to variables no use attaches to an image (empty with `--image`).
    pub unattributed: Vec<UnattributedDigest>,
}

/// `digest-scan`: every pin of the tree (of `images`, or all), by image.
pub fn scan(
    trace_id: Option<&str>,
    env: &Env,
    select: &SelectArgs,
    images: &[String],
    now: &str,
    output: &Output,
) -> Result<u8, PinError> {
    let tree = scan_tree(env, select, images)?;
    let mut digests: Vec<String> = tree.by_image.values().flatten().cloned().collect();
    digests.extend(tree.loose);
    digests.sort();
    digests.dedup();
    let doc = DigestScan {
        schema_version: SCHEMA_VERSION.into(),
        kind: Kind::DigestScan,
        generated_at: now.to_string(),
        trace_id: trace::resolve(trace_id, None, trace::random_uuid),
        root: select.root.display().to_string(),
        references: tree.references,
        images: tree.by_image,
        digests,
        unattributed: tree.unattributed,
        files_scanned: tree.scanned,
        skipped: skipped_docs(&tree.skipped),
        warnings: tree.warnings,
    };
    output.emit_serialize(&doc)?;
    Ok(0)
}

/// Walk the selection and list every pin (of `images`, or all).
pub fn scan_tree(env: &Env, select: &SelectArgs, images: &[String]) -> Result<TreeScan, PinError> {
    let specs = images
        .iter()
        .map(|i| {
            ImageSpec::parse(i)
                .map_err(|message| PinError::from(CoreError::bad_value("--image", i, message)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let sel = select.selection()?;
    let (found, mut skipped) = walk::collect_map(&sel, |c, bytes| {
        Ok(match walk::read_into(c, bytes)? {
            Some(reason) => Err(reason),
            None => Ok(scan_one(c, bytes, &specs)),
        })
    })?;
    let mut references = Vec::new();
    let mut warnings = Vec::new();
    let mut loose = Vec::new();
    let mut unattributed = Vec::new();
    let mut scanned = 0;
    for (c, r) in found {
        match r {
            Err(reason) => skipped.push(Skipped {
                file: c.rel.clone(),
                reason,
            }),
            Ok((refs, warning, digests, floating)) => {
                scanned += 1;
                references.extend(refs);
                loose.extend(digests);
                unattributed.extend(floating);
                if let Some(message) = warning {
                    rollout_core::cli::warn(TOOL, env, &format!("{}: {message}", c.rel));
                    warnings.push(FileWarning {
                        file: c.rel.clone(),
                        message,
                    });
                }
            }
        }
    }
    skipped.sort();
    let by_image = by_image(&references);
    Ok(TreeScan {
        references,
        skipped,
        warnings,
        scanned,
        by_image,
        loose,
        unattributed,
    })
}

/// What one file holds: its pins (of `specs`, or all), its warning, and with no `specs` its
/// loose and unattributed digests.
#[allow(clippy::type_complexity)]
fn scan_one(
    c: &walk::Candidate,
    bytes: &[u8],
    specs: &[ImageSpec],
) -> (
    Vec<Reference>,
    Option<String>,
    Vec<String>,
    Vec<UnattributedDigest>,
) {
    if !crate::scanner::holds_digest(bytes) {
        return (Vec::new(), None, Vec::new(), Vec::new());
    }
    let (pins, warning) = scan_file(bytes, is_yaml_name(&c.rel));
    let loose = if specs.is_empty() {
        crate::scanner::loose_digests(bytes)
    } else {
        Vec::new()
    };
    let mut lines = LineIndex::new(bytes);
    let unattributed: Vec<UnattributedDigest> = if specs.is_empty() {
        crate::scanner::unattributed(bytes, &pins)
            .into_iter()
            .map(|v| {
                let (line, column) = lines.locate(v.start);
                UnattributedDigest {
                    file: c.rel.clone(),
                    line,
                    column,
                    variable: v.variable,
                    digest: v.digest,
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let refs: Vec<Reference> = pins
        .into_iter()
        .filter(|p| specs.is_empty() || specs.iter().any(|s| s.matches(&p.image)))
        .map(|p| {
            let (line, column) = lines.locate(p.start);
            Reference {
                file: c.rel.clone(),
                line,
                column,
                image: p.image,
                tag: p.tag,
                digest: p.digest,
                malformed: p.malformed,
            }
        })
        .collect();
    (refs, warning, loose, unattributed)
}

/// Each image's well-formed digests, sorted, images in name order.
fn by_image(references: &[Reference]) -> IndexMap<String, Vec<String>> {
    let mut by_image: IndexMap<String, Vec<String>> = IndexMap::new();
    for r in references.iter().filter(|r| !r.malformed) {
        let list = by_image.entry(r.image.clone()).or_default();
        if !list.contains(&r.digest) {
            list.push(r.digest.clone());
        }
    }
    by_image.sort_keys();
    by_image.values_mut().for_each(|v| v.sort());
    by_image
}
