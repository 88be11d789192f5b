//! The files that protect versions from a plan: digest lists (`--protect-digests`, a
//! digest-scan, a pin report or plain lines) and the image-index map (`--manifests`). Read
//! before the listing, so a bad one refuses the run before the large read.

use std::path::{Path, PathBuf};

use rollout_core::CoreError;
use rollout_core::input::{MAX_DOCUMENT_BYTES, Source, as_text, read_bytes};

use crate::error::PruneError;
use crate::protect::{read_manifests, read_protect_file};
use crate::rules::{Rules, Untagged};

/// Add every protection file to `rules`; `warn` hears what a person should know.
pub fn protections(
    rules: &mut Rules,
    digest_files: &[PathBuf],
    manifests: Option<&Path>,
    warn: &mut dyn FnMut(&str),
) -> Result<(), PruneError> {
    for path in digest_files {
        let source = Source::File(path.to_path_buf());
        let origin = source.origin();
        let bytes = match read_bytes(&source, "a list of digests to protect", MAX_DOCUMENT_BYTES) {
            // an empty file protects nothing: the same refusal as a list of comments
            Err(CoreError::EmptyInput { .. }) => Vec::new(),
            other => other?,
        };
        let (kind, digests, warnings) = read_protect_file(as_text(&bytes, &origin)?, &origin)?;
        for w in warnings {
            warn(&w);
        }
        rules.protected.add(&origin, kind, digests);
    }
    if let Some(path) = manifests {
        let source = Source::File(path.to_path_buf());
        let origin = source.origin();
        let bytes = read_bytes(
            &source,
            "a map of image index -> child digests",
            MAX_DOCUMENT_BYTES,
        )?;
        rules.manifests = read_manifests(as_text(&bytes, &origin)?, &origin)?;
        rules.manifests_file = Some(origin);
    } else if rules.untagged == Untagged::Delete {
        warn(
            "--untagged delete without --manifests: untagged versions may be the platform images or attestations of a kept multi-arch image",
        );
    }
    Ok(())
}
