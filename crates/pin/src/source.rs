//! Where a run's digests come from: `--set IMAGE=DIGEST`, a `digest-set` document (`-i`),
//! a release recorded in the ledger (a rollback), or with `--baseline` what the tree pins
//! today. Exactly one source; a ledger that would silently go unused is refused.

use std::path::Path;

use rollout_core::CoreError;
use rollout_core::cli::Env;
use rollout_core::input::{MAX_DOCUMENT_BYTES, Source, as_text, json_error, read_bytes};
use serde_json::Value;

use crate::error::PinError;
use crate::inventory::scan_tree;
use crate::ledger;
use crate::model::{Action, DigestSet};
use crate::walk::SelectArgs;

/// The flags that name the digests, as given.
#[derive(Debug, Clone, Copy)]
pub struct SourceFlags<'a> {
    /// `--baseline`.
    pub baseline: bool,
    /// `-i`.
    pub input: Option<&'a str>,
    /// `--set`, in order.
    pub sets: &'a [String],
    /// `--ledger`.
    pub ledger: Option<&'a Path>,
    /// `--record`.
    pub record: bool,
    /// `--release`.
    pub release: Option<&'a str>,
    /// The files (for `--baseline`).
    pub select: &'a SelectArgs,
}

/// Where the digests come from.
pub struct Digests {
    /// The set.
    pub set: DigestSet,
    /// What applying it is (promote, rollback, baseline).
    pub action: Action,
    /// The trace id the document carried.
    pub trace: Option<String>,
}

/// The digest set of a run: the tree's own (`--baseline`), `--set`, a document (`-i`), or
/// a release of the ledger (a rollback); a ledger that would go unused is refused.
pub fn digest_set(cli: &SourceFlags<'_>, env: &Env) -> Result<Digests, PinError> {
    let input = cli.input;
    if cli.baseline {
        if input.is_some() {
            return Err(PinError::from(CoreError::bad_value(
                "--baseline",
                String::new(),
                "records what the tree pins; it takes no -i",
            )));
        }
        return baseline(cli.select, cli.release, env);
    }
    if (!cli.sets.is_empty() || input.is_some()) && cli.ledger.is_some() && !cli.record {
        // The ledger would be silently unused: a forgotten --record, or a rollback that
        // also names the digests.
        return Err(PinError::from(CoreError::bad_value(
            "--ledger",
            cli.ledger.unwrap_or(Path::new("")).display().to_string(),
            "with --set or -i it is only written, so add --record (or drop --set/-i to roll back from it)",
        )));
    }
    if !cli.sets.is_empty() {
        if input.is_some() {
            return Err(PinError::from(CoreError::bad_value(
                "--set",
                cli.sets.join(" "),
                "give the digests once: --set or -i, not both",
            )));
        }
        return Ok(Digests {
            set: DigestSet::from_flags(cli.sets, cli.release.map(str::to_string))?,
            action: Action::Promote,
            trace: None,
        });
    }
    if let Some(spec) = input {
        let src = Source::parse(spec);
        let origin = src.origin();
        let bytes = read_bytes(&src, "a digest-set document", MAX_DOCUMENT_BYTES)?;
        let text = as_text(&bytes, &origin)?;
        // The envelope only; an image given twice is refused by from_document, which names
        // it (digest_set_duplicate_image), so this parse keeps duplicates.
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|e| json_error(&e, &origin))?;
        let mut set = DigestSet::from_document(&doc, text, &origin)?;
        match (&set.release, cli.release) {
            (Some(a), Some(b)) if a != b => {
                return Err(PinError::from(CoreError::bad_value(
                    "--release",
                    b.to_string(),
                    format!("{origin} is release {a:?}"),
                )));
            }
            (None, Some(b)) => {
                set = DigestSet::from_pairs(
                    set.images
                        .iter()
                        .map(|(i, d)| (i.as_str().to_string(), d.to_string()))
                        .collect(),
                    Some(b.to_string()),
                    set.labels.clone(),
                    &origin,
                )?;
            }
            _ => {}
        }
        return Ok(Digests {
            set,
            action: Action::Promote,
            trace: doc
                .get("traceId")
                .and_then(Value::as_str)
                .map(str::to_string),
        });
    }
    match (cli.ledger, cli.release) {
        (Some(ledger), Some(release)) => {
            crate::reference::check_release_id(release).map_err(|message| {
                PinError::ReleaseInvalid {
                    id: release.to_string(),
                    message,
                }
            })?;
            let records = ledger::read(ledger, true)?;
            let origin = ledger.display().to_string();
            let rec =
                ledger::latest(&records, release).ok_or_else(|| PinError::ReleaseNotInLedger {
                    release: release.to_string(),
                    ledger: origin.clone(),
                })?;
            Ok(Digests {
                set: rec.to_set(&format!("{origin} (record {})", rec.seq))?,
                action: Action::from_ledger(&records, release),
                trace: None,
            })
        }
        _ => Err(PinError::NoDigestSource),
    }
}

/// The set a `--baseline` records: each image the tree pins, at the one digest it pins.
fn baseline(select: &SelectArgs, release: Option<&str>, env: &Env) -> Result<Digests, PinError> {
    let tree = scan_tree(env, select, &[])?;
    let mut pairs = Vec::new();
    for (image, digests) in &tree.by_image {
        if digests.len() > 1 {
            return Err(PinError::BaselineAmbiguous {
                image: image.clone(),
                digests: digests.clone(),
            });
        }
        pairs.push((image.clone(), digests[0].clone()));
    }
    if pairs.is_empty() {
        return Err(PinError::BaselineEmpty {
            root: select.root.display().to_string(),
        });
    }
    Ok(Digests {
        set: DigestSet::from_pairs(
            pairs,
            release.map(str::to_string),
            Default::default(),
            "the tree",
        )?,
        action: Action::Baseline,
        trace: None,
    })
}
