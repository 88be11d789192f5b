//! Built-in presets: gates files shipped in `crates/gate/presets/` and compiled in.
//!
//! A preset is an ordinary gates file, so `gate-eval presets NAME` prints it for a team to
//! copy and adapt, and the same loader and validator apply to it.

/// A built-in gates file.
pub struct Preset {
    /// The name for `--preset`.
    pub name: &'static str,
    /// One line for the listing.
    pub summary: &'static str,
    /// The gates file text (YAML).
    pub text: &'static str,
}

/// Every built-in preset, sorted by name.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "oci-labels",
        summary: "required OCI labels present; revision is 40 lowercase hex (and the expected one)",
        text: include_str!("../presets/oci-labels.yaml"),
    },
    Preset {
        name: "runtime-health",
        summary: "every check of a recent health-report passed",
        text: include_str!("../presets/runtime-health.yaml"),
    },
    Preset {
        name: "superloop-v1",
        summary: "the five superloop promotion gates (governance, reliability, backlog, safety, drills)",
        text: include_str!("../presets/superloop-v1.yaml"),
    },
    Preset {
        name: "upstream-freshness",
        summary: "a recent freshness-report: the pinned upstream ref is not stale, its history was read whole",
        text: include_str!("../presets/upstream-freshness.yaml"),
    },
];

/// Find a preset by name.
pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// The names, comma-separated, for messages.
pub fn names() -> String {
    PRESETS
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_loads_and_compiles() {
        for p in PRESETS {
            let origin = format!("preset:{}", p.name);
            let file = crate::plan::parse_gates(p.text, &origin).unwrap_or_else(|e| panic!("{e}"));
            let params = crate::params::resolve(&file.params, &[]).unwrap();
            crate::plan::build(&file, &params, &origin)
                .unwrap_or_else(|e| panic!("{}: {e}", p.name));
        }
        let mut sorted: Vec<_> = PRESETS.iter().map(|p| p.name).collect();
        sorted.sort();
        assert_eq!(sorted, PRESETS.iter().map(|p| p.name).collect::<Vec<_>>());
    }
}
