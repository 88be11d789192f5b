//! The environments file (`--environments FILE --environment NAME`): where each
//! environment's Flux repository is, and how to reach it. `{"environments": {NAME:
//! {"fluxRepo": URL, "type": "github"|"gitea", "branch": B, "servicesFile": F}}}`. Every key
//! is known: a misspelled one (`brnach`) is refused, naming it, rather than falling back to
//! a default silently.

use std::path::Path;

use rollout_core::input::{MAX_DOCUMENT_BYTES, Source, as_text, parse_json, read_bytes};
use serde_json::{Map, Value};

use crate::error::BumpError;

/// The keys an environment takes.
pub const KEYS: [&str; 4] = ["fluxRepo", "type", "branch", "servicesFile"];

/// One environment, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// The Flux repository to clone.
    pub flux_repo: String,
    /// `github` or `gitea` (a Gitea is reached with `--insecure`: a lab's self-signed TLS).
    pub kind: String,
    /// The branch, when it is not the remote's default.
    pub branch: Option<String>,
    /// The services map, when it is not `services.json`.
    pub services_file: Option<String>,
}

fn invalid(message: String) -> BumpError {
    BumpError::EnvironmentsInvalid { message }
}

/// Read `file` and return environment `name`.
pub fn load(file: &Path, name: &str) -> Result<Environment, BumpError> {
    let shown = file.display().to_string();
    let src = Source::File(file.to_path_buf());
    let bytes = read_bytes(&src, "an environments file", MAX_DOCUMENT_BYTES)?;
    let doc = parse_json(as_text(&bytes, &shown)?.as_bytes(), &shown)?;
    find(&doc, &shown, name)
}

/// Environment `name` of the environments document `doc` (from `shown`).
pub fn find(doc: &Value, shown: &str, name: &str) -> Result<Environment, BumpError> {
    let Some(envs) = doc.get("environments").and_then(Value::as_object) else {
        return Err(invalid(format!(
            r#"{shown}: not a JSON environments file ({{"environments": {{NAME: {{...}}}}}})"#
        )));
    };
    let unknown = unknown_keys(doc.as_object().expect("has environments"), envs);
    if !unknown.is_empty() {
        return Err(invalid(format!(
            "{shown}: unknown key(s) {} (an environment takes fluxRepo, type, branch, servicesFile)",
            unknown.join(", ")
        )));
    }
    let Some(entry) = envs.get(name).and_then(Value::as_object) else {
        let mut known: Vec<&str> = envs.keys().map(String::as_str).collect();
        known.sort_unstable();
        let known = if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        };
        return Err(invalid(format!(
            r#"unknown environment "{name}" in {shown} (known: {known})"#
        )));
    };
    let field = |k: &str| {
        entry.get(k).filter(|v| !v.is_null()).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    let flux_repo = field("fluxRepo").filter(|s| !s.is_empty()).ok_or_else(|| {
        invalid(format!(
            r#"no flux repo configured for environment "{name}" (set .environments.{name}.fluxRepo in {shown})"#
        ))
    })?;
    let kind = field("type")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "github".into());
    if !matches!(kind.as_str(), "github" | "gitea") {
        return Err(invalid(format!(
            r#"environment "{name}": type must be github or gitea (got "{kind}")"#
        )));
    }
    Ok(Environment {
        flux_repo,
        kind,
        branch: field("branch").filter(|s| !s.is_empty()),
        services_file: field("servicesFile").filter(|s| !s.is_empty()),
    })
}

/// Every key the file does not know: top-level ones (sorted), then each environment's
/// (in the file's order, each sorted), or an environment that is not an object.
fn unknown_keys(top: &Map<String, Value>, envs: &Map<String, Value>) -> Vec<String> {
    let mut out: Vec<String> = top
        .keys()
        .filter(|k| *k != "environments")
        .cloned()
        .collect();
    out.sort();
    for (env, value) in envs {
        match value.as_object() {
            None => out.push(format!("environments.{env} (not an object)")),
            Some(fields) => {
                let mut bad: Vec<String> = fields
                    .keys()
                    .filter(|k| !KEYS.contains(&k.as_str()))
                    .map(|k| format!("environments.{env}.{k}"))
                    .collect();
                bad.sort();
                out.extend(bad);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(doc: Value, name: &str) -> String {
        find(&doc, "envs.json", name).unwrap_err().to_string()
    }

    #[test]
    fn an_environment_is_read_with_its_defaults() {
        let doc = json!({"environments": {"staging": {"fluxRepo": "https://g/f.git"},
            "lab": {"fluxRepo": "https://lab/f.git", "type": "gitea", "branch": "main",
                    "servicesFile": "s.yaml"}}});
        let s = find(&doc, "e", "staging").unwrap();
        assert_eq!(
            (s.kind.as_str(), s.branch, s.services_file),
            ("github", None, None)
        );
        let l = find(&doc, "e", "lab").unwrap();
        assert_eq!(l.kind, "gitea");
        assert_eq!(l.branch.as_deref(), Some("main"));
        assert_eq!(l.services_file.as_deref(), Some("s.yaml"));
    }

    #[test]
    fn every_mistake_is_named() {
        let m = message(
            json!({"environments": {"s": {"fluxRepo": "x", "brnach": "r"}}, "defaults": {}}),
            "s",
        );
        assert!(
            m.contains("unknown key(s) defaults, environments.s.brnach"),
            "{m}"
        );
        let m = message(json!({"environments": {"s": "file:///x"}}), "s");
        assert!(m.contains("environments.s (not an object)"), "{m}");
        let m = message(
            json!({"environments": {"b": {}, "a": {"fluxRepo": "x"}}}),
            "prod",
        );
        assert!(
            m.contains(r#"unknown environment "prod" in envs.json (known: a, b)"#),
            "{m}"
        );
        let m = message(json!({"environments": {"b": {"type": "github"}}}), "b");
        assert!(
            m.contains(r#"no flux repo configured for environment "b""#),
            "{m}"
        );
        let m = message(
            json!({"environments": {"b": {"fluxRepo": "x", "type": "gitlab"}}}),
            "b",
        );
        assert!(
            m.contains(r#"type must be github or gitea (got "gitlab")"#),
            "{m}"
        );
        let m = message(json!({"envs": {}}), "b");
        assert!(m.contains("not a JSON environments file"), "{m}");
    }
}
