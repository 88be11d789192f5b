//! Errors, exit codes and reason codes: the one mapping every tool shares.
//!
//! CONTRACT.md §4 fixes six exit codes. Every error type in the workspace implements
//! [`Failure`], which names the [`ExitClass`] and a stable snake_case reason code for each
//! variant; [`ExitClass::code`] is the only place where a class becomes a number. The
//! reporting side ([`crate::cli`]) turns a `Failure` into the `TOOL: error: MESSAGE` line,
//! the optional `error` document and the GitHub annotation, the same way for every tool.

use std::path::PathBuf;

/// The class of an outcome, which fixes the process exit code (CONTRACT.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitClass {
    /// 1: a negative verdict the user asked to fail on (`--fail-on-hold`, `--check` drift).
    Verdict,
    /// 2: usage error or invalid input.
    Usage,
    /// 3: refused by a safety rule (fail-closed).
    Refused,
    /// 4: conflict (idempotency, revision, lock, rejected push).
    Conflict,
    /// 5: environment failure (I/O, git, network, TLS).
    Environment,
}

impl ExitClass {
    /// The process exit code of this class.
    pub fn code(self) -> u8 {
        match self {
            ExitClass::Verdict => 1,
            ExitClass::Usage => 2,
            ExitClass::Refused => 3,
            ExitClass::Conflict => 4,
            ExitClass::Environment => 5,
        }
    }
}

/// What every error of every tool can say about itself.
pub trait Failure: std::error::Error {
    /// The exit class (and so the exit code) of this error.
    fn class(&self) -> ExitClass;
    /// A stable snake_case identifier for machines (`input_malformed`, `kind_mismatch`).
    fn reason_code(&self) -> &str;
    /// Extra lines for people: what to try next. Printed indented after the error line.
    fn hints(&self) -> Vec<String> {
        Vec::new()
    }
    /// Whether stdout already holds this run's one document (a refused prune plan, a
    /// freshness report that cannot conclude): then `--json-errors` adds no error document,
    /// so stdout still carries exactly one.
    fn document_printed(&self) -> bool {
        false
    }
}

/// Errors raised by the shared contract code: reading inputs, time, jq, files, locks.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A flag or argument combination that makes no sense.
    #[error("{message}")]
    Usage {
        /// What is wrong, for people.
        message: String,
    },
    /// No input was named and stdin is a terminal.
    #[error("no input: expected {expected} on stdin or with -i FILE")]
    NoInputOnTerminal {
        /// What the tool wanted to read.
        expected: String,
    },
    /// An input file could not be opened or read.
    #[error("cannot read {origin}: {source}")]
    Unreadable {
        /// The file, or `stdin`.
        origin: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The input was empty (or only whitespace).
    #[error("{origin} is empty: expected {expected}")]
    EmptyInput {
        /// The file, or `stdin`.
        origin: String,
        /// What the tool wanted to read.
        expected: String,
    },
    /// The input is larger than the documented limit.
    #[error("{origin} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The file, or `stdin`.
        origin: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The input is not valid UTF-8.
    #[error("{origin} is not valid UTF-8 (byte offset {offset})")]
    NotUtf8 {
        /// The file, or `stdin`.
        origin: String,
        /// The first invalid byte.
        offset: usize,
    },
    /// The input is not well-formed JSON.
    #[error("{origin}:{line}:{column}: malformed JSON: {message}")]
    MalformedJson {
        /// The file, or `stdin`.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's description.
        message: String,
    },
    /// The input is not well-formed YAML, or uses a YAML feature the tools refuse.
    #[error("{origin}:{line}:{column}: malformed YAML: {message}")]
    MalformedYaml {
        /// The file, or `stdin`.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's description.
        message: String,
    },
    /// A document of another kind than the one expected.
    #[error("{origin}: expected a document of kind \"{expected}\", found {found}")]
    WrongKind {
        /// The file, or `stdin`.
        origin: String,
        /// The kind this tool reads.
        expected: String,
        /// What was found, already quoted or described.
        found: String,
    },
    /// A document of an unsupported schema version.
    #[error("{origin}: unsupported schemaVersion {found} (this tool reads \"{expected}\")")]
    WrongSchemaVersion {
        /// The file, or `stdin`.
        origin: String,
        /// The version this tool reads.
        expected: String,
        /// What was found, already quoted or described.
        found: String,
    },
    /// The input is an `error` document written by an upstream tool.
    #[error("{origin}: upstream {tool} failed: {message}")]
    Upstream {
        /// The file, or `stdin`.
        origin: String,
        /// The tool that wrote the error document.
        tool: String,
        /// Its message.
        message: String,
    },
    /// A timestamp that is not RFC 3339.
    #[error("invalid timestamp {value:?}: {message}")]
    InvalidTimestamp {
        /// The text given.
        value: String,
        /// Why it was refused.
        message: String,
    },
    /// A duration that is not of the form `90s`, `45m`, `36h`, `14d`, `2w`.
    #[error(
        "invalid duration {value:?}: expected a whole number and a unit s, m, h, d or w (for example 90s, 45m, 36h, 14d, 2w)"
    )]
    InvalidDuration {
        /// The text given.
        value: String,
    },
    /// A network wait (timeout, retry delay) that is not of the form `500ms`, `5s`, `2m`.
    #[error(
        "invalid wait {value:?}: expected a whole number and a unit ms, s, m or h, at most 1h (for example 500ms, 5s, 2m)"
    )]
    InvalidWait {
        /// The text given.
        value: String,
    },
    /// A jq program that does not compile.
    #[error("{context}: jq error: {message}")]
    JqCompile {
        /// Where the program came from (`--jq`, a gate and check).
        context: String,
        /// The compiler's description.
        message: String,
    },
    /// The `--jq` output filter failed at run time.
    #[error("--jq: {message}")]
    JqOutput {
        /// The runtime error.
        message: String,
    },
    /// Writing a file failed.
    #[error("cannot write {path}: {source}", path = path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A flag's value breaks its rule (the one usage error of every tool for a bad value).
    #[error("{flag} {value:?}: {message}")]
    BadValue {
        /// The flag.
        flag: &'static str,
        /// The value as given.
        value: String,
        /// The rule it breaks.
        message: String,
    },
    /// A file of a batch to replace is read-only.
    #[error("{file}: read-only (mode {mode:o}); nothing was written")]
    FileReadOnly {
        /// The file, relative to its tree.
        file: String,
        /// Its permission bits.
        mode: u32,
    },
    /// A file of a batch changed between the plan and the write (its bytes, or what it is:
    /// a directory on its path became a symlink).
    #[error("{file}: {detail}; nothing was written")]
    FileChanged {
        /// The file, relative to its tree.
        file: String,
        /// What changed.
        detail: String,
    },
    /// A batch write failed part-way; what happened to the files already replaced.
    #[error("{file}: cannot write: {message}; {restored}")]
    WriteFailed {
        /// The file, relative to its tree.
        file: String,
        /// The OS error.
        message: String,
        /// What happened to the files already replaced.
        restored: String,
    },
    /// A path leaves the directory the tool works in ([`crate::contain`]).
    #[error("{path}: outside the root {root} (paths and symlinks must stay inside it)")]
    PathOutside {
        /// The path as given.
        path: String,
        /// The root it must stay in.
        root: String,
    },
    /// A path given to a tree is not a plain relative path below it, or leads into `.git/`.
    #[error("{path}: refused as a file to edit: {why}")]
    PathRefused {
        /// The path as given.
        path: String,
        /// Why.
        why: String,
    },
    /// Another process holds the lock for longer than the timeout.
    #[error("lock {path} not obtained within {timeout}", path = path.display())]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// The timeout, as written by the user.
        timeout: String,
    },
}

impl CoreError {
    /// A flag's value that breaks its rule (`argument_invalid`, exit 2).
    pub fn bad_value(flag: &'static str, value: impl ToString, message: impl Into<String>) -> Self {
        CoreError::BadValue {
            flag,
            value: value.to_string(),
            message: message.into(),
        }
    }

    /// Shorthand for a usage error.
    pub fn usage(message: impl Into<String>) -> Self {
        CoreError::Usage {
            message: message.into(),
        }
    }
}

impl Failure for CoreError {
    fn class(&self) -> ExitClass {
        match self {
            CoreError::Write { .. }
            | CoreError::FileReadOnly { .. }
            | CoreError::WriteFailed { .. } => ExitClass::Environment,
            CoreError::LockTimeout { .. } | CoreError::FileChanged { .. } => ExitClass::Conflict,
            CoreError::PathRefused { .. } | CoreError::PathOutside { .. } => ExitClass::Refused,
            _ => ExitClass::Usage,
        }
    }

    fn reason_code(&self) -> &str {
        match self {
            CoreError::Usage { .. } => "usage",
            CoreError::BadValue { .. } => "argument_invalid",
            CoreError::NoInputOnTerminal { .. } => "input_missing",
            CoreError::Unreadable { .. } => "input_unreadable",
            CoreError::EmptyInput { .. } => "input_empty",
            CoreError::TooLarge { .. } => "input_too_large",
            CoreError::NotUtf8 { .. } => "input_not_utf8",
            CoreError::MalformedJson { .. } => "input_malformed",
            CoreError::MalformedYaml { .. } => "input_malformed",
            CoreError::WrongKind { .. } => "kind_mismatch",
            CoreError::WrongSchemaVersion { .. } => "schema_version_mismatch",
            CoreError::Upstream { .. } => "upstream_error",
            CoreError::InvalidTimestamp { .. } => "timestamp_invalid",
            CoreError::InvalidDuration { .. } | CoreError::InvalidWait { .. } => "duration_invalid",
            CoreError::JqCompile { .. } => "jq_compile_error",
            CoreError::JqOutput { .. } => "jq_runtime_error",
            CoreError::Write { .. } => "io_error",
            CoreError::LockTimeout { .. } => "lock_timeout",
            CoreError::FileReadOnly { .. } => "file_read_only",
            CoreError::FileChanged { .. } => "file_changed",
            CoreError::WriteFailed { .. } => "io_error",
            CoreError::PathRefused { .. } | CoreError::PathOutside { .. } => "path_outside_root",
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            CoreError::NoInputOnTerminal { .. } => {
                vec!["pipe a document in, or pass -i FILE (-i - reads stdin)".into()]
            }
            CoreError::JqCompile { .. } => vec![
                "filters are jaq 3 syntax: no ?// destructuring, no input/inputs; no env or $ENV (filters never read the environment)"
                    .into(),
            ],
            CoreError::LockTimeout { .. } => {
                vec!["another run holds the lock; retry, or raise --lock-timeout".into()]
            }
            _ => Vec::new(),
        }
    }
}
