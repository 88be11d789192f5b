//! freshness-check's errors, each with its exit class and reason code.

use rollout_core::{CoreError, ExitClass, Failure};

/// Everything that stops freshness-check.
#[derive(Debug, thiserror::Error)]
pub enum FreshError {
    /// A shared-contract failure (input, output, files, jq, time).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// `--repo` is not a git repository.
    #[error("--repo {path}: not a git repository ({message})")]
    NotARepository {
        /// The path given.
        path: String,
        /// libgit2's description.
        message: String,
    },
    /// A ref that does not name a commit.
    #[error("{flag} {refname:?}: no such commit in the repository ({message})")]
    RefNotFound {
        /// `--pinned` or `--head`.
        flag: &'static str,
        /// The ref given.
        refname: String,
        /// libgit2's description.
        message: String,
    },
    /// `--paths-from` and its query gave something other than path strings.
    #[error("--paths-from {origin}: {message}")]
    Paths {
        /// The manifest.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// The history between the refs is cut by a shallow clone: a count would be a guess.
    #[error(
        "{repo} is a shallow clone and the history between {pinned} and {head} is cut at {boundary}: commitsAhead would be undercounted"
    )]
    Shallow {
        /// The repository.
        repo: String,
        /// The pinned ref.
        pinned: String,
        /// The head ref.
        head: String,
        /// The first shallow commit met.
        boundary: String,
        /// Whether the report is on stdout (then no error document is added).
        report_printed: bool,
    },
    /// Reading the repository failed.
    #[error("git: {message}")]
    Git {
        /// libgit2's description.
        message: String,
    },
}

impl From<git2::Error> for FreshError {
    fn from(e: git2::Error) -> Self {
        FreshError::Git {
            message: e.message().to_string(),
        }
    }
}

impl Failure for FreshError {
    fn class(&self) -> ExitClass {
        match self {
            FreshError::Core(e) => e.class(),
            FreshError::Shallow { .. } => ExitClass::Refused,
            FreshError::Git { .. } => ExitClass::Environment,
            _ => ExitClass::Usage,
        }
    }

    fn reason_code(&self) -> &str {
        match self {
            FreshError::Core(e) => e.reason_code(),
            FreshError::NotARepository { .. } => "repository_invalid",
            FreshError::RefNotFound { .. } => "ref_not_found",
            FreshError::Paths { .. } => "paths_invalid",
            FreshError::Shallow { .. } => "shallow_history",
            FreshError::Git { .. } => "git_error",
        }
    }

    fn document_printed(&self) -> bool {
        matches!(
            self,
            FreshError::Shallow {
                report_printed: true,
                ..
            }
        )
    }

    fn hints(&self) -> Vec<String> {
        match self {
            FreshError::Core(e) => e.hints(),
            FreshError::Shallow { .. } => vec![
                "fetch the full history: git fetch --unshallow (or clone with --filter=blob:none instead of --depth)".into(),
            ],
            FreshError::RefNotFound { .. } => {
                vec!["fetch it first, e.g. git fetch origin 'refs/tags/*:refs/tags/*'".into()]
            }
            _ => Vec::new(),
        }
    }
}
