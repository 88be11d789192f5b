//! gate-eval's errors, each with its exit class and reason code.

use rollout_core::{CoreError, ExitClass, Failure};

/// Everything that stops gate-eval before a decision is printed.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The evaluation went past `--eval-timeout` or `--max-memory`.
    #[error("evaluation stopped at {at}: {message}")]
    BudgetExceeded {
        /// The gate and check being evaluated.
        at: String,
        /// Which bound, and a likely cause.
        message: String,
    },
    /// A shared-contract failure (input, output, files, jq).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The gates file is readable but not a valid gates file.
    #[error("{origin}: {message}")]
    InvalidGates {
        /// The gates file (or `preset:NAME`).
        origin: String,
        /// What is wrong, naming the gate and check.
        message: String,
    },
    /// `--preset` names no built-in preset.
    #[error("unknown preset {name:?} (built in: {known})")]
    UnknownPreset {
        /// The name given.
        name: String,
        /// The names that exist.
        known: String,
    },
    /// `--set` names a param the gates file does not declare.
    #[error("--set {name}: no such param (declared: {declared})")]
    UnknownParam {
        /// The name given.
        name: String,
        /// The declared names.
        declared: String,
    },
    /// A param value (from `--set` or a default) does not fit its type.
    #[error("{origin} {name}={value}: {message}")]
    InvalidParam {
        /// `--set` or `default of`.
        origin: String,
        /// The param.
        name: String,
        /// The value as given.
        value: String,
        /// Why it does not fit.
        message: String,
    },
    /// A `--evidence` or `--set` argument that is not `NAME=VALUE`, or a bad name.
    #[error("{flag} {arg:?}: {message}")]
    BadArgument {
        /// The flag.
        flag: &'static str,
        /// The argument as given.
        arg: String,
        /// Why it is refused.
        message: String,
    },
}

impl Failure for GateError {
    fn class(&self) -> ExitClass {
        match self {
            GateError::Core(e) => e.class(),
            _ => ExitClass::Usage,
        }
    }

    fn reason_code(&self) -> &str {
        match self {
            GateError::Core(e) => e.reason_code(),
            GateError::InvalidGates { .. } => "gates_invalid",
            GateError::BudgetExceeded { .. } => "evaluation_budget_exceeded",
            GateError::UnknownPreset { .. } => "preset_unknown",
            GateError::UnknownParam { .. } => "param_unknown",
            GateError::InvalidParam { .. } => "param_invalid",
            GateError::BadArgument { .. } => "argument_invalid",
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            GateError::Core(e) => e.hints(),
            GateError::UnknownPreset { .. } => vec!["list them with: gate-eval presets".into()],
            GateError::InvalidGates { .. } => {
                vec!["the gates-file format is in gate-eval(1), section GATES FILE".into()]
            }
            _ => Vec::new(),
        }
    }
}
