//! digest-pin's errors, each with its exit class and reason code.

use rollout_core::{CoreError, ExitClass, Failure};

/// Everything that stops digest-pin before (or instead of) a rewrite.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// A shared-contract failure (input, files, locks, jq).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// No digest set was given.
    #[error(
        "no digests given: use --set IMAGE=DIGEST, -i DIGEST_SET or --ledger FILE --release ID"
    )]
    NoDigestSource,
    /// A digest in a set is not a digest.
    #[error("{origin}: digest for {image:?} is invalid: {message} (got {value:?})")]
    DigestInvalid {
        /// Where the set came from.
        origin: String,
        /// The image.
        image: String,
        /// The value.
        value: String,
        /// What is wrong.
        message: String,
    },
    /// An image name in a set is not a repository.
    #[error("{origin}: image {image:?} is invalid: {message}")]
    ImageInvalid {
        /// Where the set came from.
        origin: String,
        /// The image.
        image: String,
        /// What is wrong.
        message: String,
    },
    /// The same image twice in one set.
    #[error("{origin}: image {image:?} is given twice")]
    DuplicateImage {
        /// Where the set came from.
        origin: String,
        /// The image.
        image: String,
    },
    /// Two images of a set would select the same pins.
    #[error("{origin}: images {a:?} and {b:?} would match the same pins; give full repositories")]
    AmbiguousImages {
        /// Where the set came from.
        origin: String,
        /// One image.
        a: String,
        /// The other.
        b: String,
    },
    /// A digest-set document is not usable.
    #[error("{origin}: not a usable digest-set: {message}")]
    SetInvalid {
        /// Where it came from.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// A release id breaks the grammar.
    #[error("release id {id:?} is invalid: {message}")]
    ReleaseInvalid {
        /// As given.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// `--baseline` over a tree that pins one image at several digests.
    #[error("--baseline: {image} is pinned at {} digests ({}): a baseline needs one per image", digests.len(), digests.join(", "))]
    BaselineAmbiguous {
        /// The image.
        image: String,
        /// Its digests.
        digests: Vec<String>,
    },
    /// `--baseline` over a tree without pins.
    #[error("--baseline: {root} pins no image digest: there is nothing to record")]
    BaselineEmpty {
        /// The root.
        root: String,
    },
    /// `--record` without a release id.
    #[error("--record needs a release id: give --release ID or a digest-set with \"release\"")]
    ReleaseRequired,
    /// A path given on the command line does not exist.
    #[error("{path}: no such file or directory")]
    PathMissing {
        /// As given.
        path: String,
    },
    /// A file or directory could not be read.
    #[error("{file}: cannot read: {source}")]
    Unreadable {
        /// The file.
        file: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// An image of the set has no pin in the files.
    #[error("no pin found for {}: {}", if images.len() == 1 { "image" } else { "images" }, images.join(", "))]
    ImageMissing {
        /// The images.
        images: Vec<String>,
    },
    /// A count assertion failed.
    #[error("{what}: expected {expected} pins, found {actual}")]
    CountMismatch {
        /// "total" or "image X".
        what: String,
        /// Asked for.
        expected: u64,
        /// Found.
        actual: u64,
    },
    /// After the rewrite a pin of an image would still not hold its new digest.
    #[error(
        "{file}:{line}:{column}: pin of {image} would keep {found:?}, not {expected} (fix it by hand)"
    )]
    StalePin {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The image.
        image: String,
        /// The digest left there.
        found: String,
        /// The digest it should have.
        expected: String,
    },
    /// A release is not in the ledger.
    #[error("release {release:?} is not in the ledger {ledger}")]
    ReleaseNotInLedger {
        /// The release.
        release: String,
        /// The ledger.
        ledger: String,
    },
    /// A ledger line is not a ledger record.
    #[error("{ledger}:{line}: not a ledger record: {message}")]
    LedgerMalformed {
        /// The ledger.
        ledger: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A release id is already recorded with other digests.
    #[error(
        "release {release:?} is already recorded (record {seq}) with other digests; a release id names one set"
    )]
    LedgerReleaseConflict {
        /// The release.
        release: String,
        /// The earlier record.
        seq: u64,
    },
}

impl Failure for PinError {
    fn class(&self) -> ExitClass {
        use PinError as E;
        match self {
            E::Core(e) => e.class(),
            E::NoDigestSource
            | E::DigestInvalid { .. }
            | E::ImageInvalid { .. }
            | E::DuplicateImage { .. }
            | E::AmbiguousImages { .. }
            | E::SetInvalid { .. }
            | E::ReleaseInvalid { .. }
            | E::ReleaseRequired
            | E::PathMissing { .. }
            | E::LedgerMalformed { .. } => ExitClass::Usage,
            E::Unreadable { .. } => ExitClass::Environment,
            E::ImageMissing { .. }
            | E::CountMismatch { .. }
            | E::StalePin { .. }
            | E::ReleaseNotInLedger { .. }
            | E::BaselineAmbiguous { .. }
            | E::BaselineEmpty { .. }
            | E::LedgerReleaseConflict { .. } => ExitClass::Refused,
        }
    }

    fn reason_code(&self) -> &str {
        use PinError as E;
        match self {
            E::Core(e) => e.reason_code(),
            E::NoDigestSource => "digest_set_required",
            E::DigestInvalid { .. } => "digest_invalid",
            E::ImageInvalid { .. } => "image_invalid",
            E::DuplicateImage { .. } => "digest_set_duplicate_image",
            E::AmbiguousImages { .. } => "digest_set_ambiguous",
            E::SetInvalid { .. } => "digest_set_invalid",
            E::ReleaseInvalid { .. } => "release_id_invalid",
            E::ReleaseRequired => "release_required",
            E::BaselineAmbiguous { .. } => "baseline_ambiguous",
            E::BaselineEmpty { .. } => "baseline_empty",
            E::PathMissing { .. } => "input_missing",
            E::Unreadable { .. } => "file_unreadable",
            E::ImageMissing { .. } => "digest_image_missing",
            E::CountMismatch { .. } => "digest_count_mismatch",
            E::StalePin { .. } => "digest_stale_pin",
            E::ReleaseNotInLedger { .. } => "release_not_in_ledger",
            E::LedgerMalformed { .. } => "ledger_malformed",
            E::LedgerReleaseConflict { .. } => "ledger_release_conflict",
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            PinError::Core(e) => e.hints(),
            PinError::ImageMissing { .. } => vec![
                "check the image names and paths (digest-pin scan lists every pin), or pass --allow-missing".into(),
            ],
            PinError::CountMismatch { .. } => {
                vec!["digest-pin scan lists every pin with its file and line".into()]
            }
            PinError::ReleaseNotInLedger { .. } => {
                vec!["digest-pin ledger --ledger FILE lists the recorded releases".into()]
            }
            _ => Vec::new(),
        }
    }
}
