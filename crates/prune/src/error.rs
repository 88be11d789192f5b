//! prune-plan's errors, each with its exit class and reason code.

use rollout_core::{CoreError, ExitClass, Failure};

/// Everything that stops prune-plan, or refuses its plan.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    /// A shared-contract failure (input, output, files, jq, time).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The versions listing is readable JSON of the wrong shape.
    #[error("{origin}: {message}")]
    Listing {
        /// The file, or `stdin`.
        origin: String,
        /// What is wrong, naming the package or position.
        message: String,
    },
    /// A document of a kind prune-plan does not read where a listing was expected.
    #[error("{origin}: expected {expected}, found a document of kind {found}")]
    WrongKind {
        /// The file, or `stdin`.
        origin: String,
        /// What was expected, for people.
        expected: &'static str,
        /// The kind found, quoted.
        found: String,
    },
    /// One version of the listing is unusable (no id, no or bad created_at, bad digest).
    #[error("{origin}: version {version}: {message}")]
    Version {
        /// The file, or `stdin`.
        origin: String,
        /// The version id, or its position when it has no id.
        version: String,
        /// What is wrong.
        message: String,
    },
    /// The same version id appears twice in one package.
    #[error("{origin}: version {id} of {package} is listed twice")]
    DuplicateId {
        /// The file, or `stdin`.
        origin: String,
        /// The package.
        package: String,
        /// The id.
        id: String,
    },
    /// A `--match` glob that does not compile.
    #[error("--match {glob:?}: invalid glob: {message}")]
    Glob {
        /// The glob as given.
        glob: String,
        /// The compiler's description.
        message: String,
    },
    /// A `--protect-tag` or `--keep-per` regex that does not compile or cannot group.
    #[error("{flag} {regex:?}: {message}")]
    Regex {
        /// The flag.
        flag: &'static str,
        /// The regex as given.
        regex: String,
        /// What is wrong.
        message: String,
    },
    /// `--plan` does not match the listing given with it.
    #[error("--plan {origin}: {message}")]
    PlanMismatch {
        /// The plan file.
        origin: String,
        /// What does not match.
        message: String,
    },
    /// No `--match` glob and no `--untagged delete`: no rule selects anything.
    #[error("no rule selects anything: give --match GLOB (repeatable) and/or --untagged delete")]
    NothingSelected,
    /// A `--protect-digests` or `--manifests` file that cannot be used.
    #[error("{flag} {origin}: {message}")]
    Protection {
        /// The flag that named the file.
        flag: &'static str,
        /// The file.
        origin: String,
        /// What is wrong, naming the line or key.
        message: String,
    },
    /// A `--protect-digests` file that protects nothing: most likely the scan of the wrong
    /// directory, which would let every pinned image be deleted.
    #[error("--protect-digests {origin}: protects no digests ({kind})")]
    ProtectsNothing {
        /// The file.
        origin: String,
        /// What the file was read as.
        kind: &'static str,
    },
    /// More candidates than `--max-delete`: the plan is refused (it was still printed).
    #[error(
        "{candidates} versions to delete exceed --max-delete {max}; the plan is refused and nothing may be deleted"
    )]
    Threshold {
        /// How many versions the plan would delete.
        candidates: usize,
        /// The limit.
        max: usize,
        /// Whether the plan document is on stdout (then no error document is added).
        plan_printed: bool,
    },
}

impl Failure for PruneError {
    fn class(&self) -> ExitClass {
        match self {
            PruneError::Core(e) => e.class(),
            PruneError::ProtectsNothing { .. }
            | PruneError::Threshold { .. }
            | PruneError::PlanMismatch { .. } => ExitClass::Refused,
            _ => ExitClass::Usage,
        }
    }

    fn reason_code(&self) -> &str {
        match self {
            PruneError::Core(e) => e.reason_code(),
            PruneError::Listing { .. } => "listing_invalid",
            PruneError::WrongKind { .. } => "kind_mismatch",
            PruneError::Version { .. } => "version_invalid",
            PruneError::DuplicateId { .. } => "duplicate_version",
            PruneError::Glob { .. } => "glob_invalid",
            PruneError::Regex { .. } => "regex_invalid",
            PruneError::NothingSelected => "argument_invalid",
            PruneError::PlanMismatch { .. } => "plan_listing_mismatch",
            PruneError::Protection { .. } => "protection_invalid",
            PruneError::ProtectsNothing { .. } => "protect_digests_empty",
            PruneError::Threshold { .. } => "delete_threshold_exceeded",
        }
    }

    fn document_printed(&self) -> bool {
        matches!(
            self,
            PruneError::Threshold {
                plan_printed: true,
                ..
            }
        )
    }

    fn hints(&self) -> Vec<String> {
        match self {
            PruneError::Core(e) => e.hints(),
            PruneError::Listing { .. } | PruneError::WrongKind { .. } => vec![
                "feed the output of: gh api --paginate /orgs/ORG/packages/container/PKG/versions"
                    .into(),
                "accepted: one array, concatenated pages, an array of pages, JSONL, or {\"PKG\": [...]}"
                    .into(),
            ],
            PruneError::DuplicateId { .. } => vec![
                "the registry changed while the listing was paged; list the versions again".into(),
            ],
            PruneError::ProtectsNothing { .. } => vec![
                "scan the repository that deploys these images: digest-pin scan --root REPO"
                    .into(),
                "if nothing is pinned anywhere, leave --protect-digests out".into(),
            ],
            PruneError::Threshold { .. } => vec![
                "review the plan's delete list; raise --max-delete only if every entry is meant"
                    .into(),
            ],
            _ => Vec::new(),
        }
    }
}
