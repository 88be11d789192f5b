//! The values tag-bump writes, checked before anything else happens: the tag (built from a
//! PR number and a commit; the OCI grammar itself is [`rollout_core::oci`]), the digest,
//! and the commit message template.
//!
//! A tag that a registry would refuse, or a `pr-42-A1B2C3D` that no build ever pushed, must
//! never reach a GitOps repository: Flux would loop on an image pull error. So every rule
//! is checked up front and named in the error (exit 2).

use indexmap::IndexMap;
use rollout_core::CoreError;
use rollout_core::oci::Digest;

use crate::error::BumpError;

/// The tag of a pull-request build: `pr-<N>-<first 7 hex of SHA>`.
pub fn pr_tag(pr: &str, sha: &str) -> Result<String, BumpError> {
    let bad = |flag, value: &str, message: &str| {
        BumpError::from(CoreError::BadValue {
            flag,
            value: value.to_string(),
            message: message.to_string(),
        })
    };
    let n_ok = !pr.is_empty()
        && pr.bytes().all(|b| b.is_ascii_digit())
        && !pr.starts_with('0')
        && pr.len() <= 19;
    if !n_ok {
        return Err(bad(
            "--pr",
            pr,
            "a pull request number is a positive integer without sign or leading zeros",
        ));
    }
    if sha.len() < 7 || sha.len() > 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad(
            "--sha",
            sha,
            "a commit SHA is 7 to 64 hexadecimal characters",
        ));
    }
    Ok(format!("pr-{pr}-{}", sha[..7].to_ascii_lowercase()))
}

/// A digest as written in GitOps files (normalised by [`rollout_core::oci::Digest`]).
pub fn normalize_digest(d: &str) -> Result<String, BumpError> {
    Digest::parse(d).map(|d| d.to_string()).map_err(|message| {
        BumpError::from(CoreError::bad_value(
            "--digest",
            d.to_string(),
            format!("{message}; a digest is sha256:<64 hex> (or sha512:<128 hex>)"),
        ))
    })
}

/// Variables a commit message template may use.
pub const TEMPLATE_VARS: [&str; 6] = [
    "imageGroup",
    "image",
    "tag",
    "oldTag",
    "service",
    "services",
];

/// The default commit message template (the replaced procedure's message).
pub const DEFAULT_TEMPLATE: &str = "chore({imageGroup}): update image tag to {tag}";

/// Check a template: every `{name}` is a known variable; `{{` and `}}` are literal braces.
pub fn check_template(template: &str) -> Result<(), BumpError> {
    render(template, &IndexMap::new(), true).map(|_| ())
}

/// Fill a template from `vars` (unknown names are refused at [`check_template`] time).
pub fn render_template(template: &str, vars: &IndexMap<&str, String>) -> String {
    render(template, vars, false).unwrap_or_else(|_| template.to_string())
}

fn render(template: &str, vars: &IndexMap<&str, String>, check: bool) -> Result<String, BumpError> {
    let bad = |message: String| {
        BumpError::from(CoreError::bad_value(
            "--message",
            template.to_string(),
            message,
        ))
    };
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(t) = tail.strip_prefix("{{") {
            out.push('{');
            rest = t;
        } else if let Some(t) = tail.strip_prefix("}}") {
            out.push('}');
            rest = t;
        } else if tail.starts_with('}') {
            return Err(bad("a lone '}' (write '}}' for a literal brace)".into()));
        } else {
            let Some(close) = tail.find('}') else {
                return Err(bad(
                    "an unclosed '{' (write '{{' for a literal brace)".into()
                ));
            };
            let name = &tail[1..close];
            if !TEMPLATE_VARS.contains(&name) {
                return Err(bad(format!(
                    "unknown variable {{{name}}}; known: {}",
                    TEMPLATE_VARS.map(|v| format!("{{{v}}}")).join(" ")
                )));
            }
            if !check {
                out.push_str(vars.get(name).map_or("", String::as_str));
            }
            rest = &tail[close + 1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pr_tags_are_exact() {
        assert_eq!(pr_tag("42", "A1B2C3D4E5").unwrap(), "pr-42-a1b2c3d");
        for (n, s) in [
            ("0", "abcdef0"),
            ("-1", "abcdef0"),
            ("042", "abcdef0"),
            ("x", "abcdef0"),
        ] {
            assert!(pr_tag(n, s).is_err(), "{n}");
        }
        for s in ["abcdef", "abcdefg", "", "abc def0"] {
            assert!(pr_tag("1", s).is_err(), "{s}");
        }
    }

    #[test]
    fn digests_are_normalised() {
        let hex = "A".repeat(64);
        assert_eq!(
            normalize_digest(&hex).unwrap(),
            format!("sha256:{}", "a".repeat(64))
        );
        assert!(normalize_digest("sha256:abc").is_err());
        assert!(normalize_digest(&format!("md5:{hex}")).is_err());
    }

    #[test]
    fn templates_are_checked_and_filled() {
        check_template(DEFAULT_TEMPLATE).unwrap();
        assert!(check_template("{nope}").is_err());
        assert!(check_template("a } b").is_err());
        assert!(check_template("a { b").is_err());
        let mut vars = IndexMap::new();
        vars.insert("imageGroup", "backend".to_string());
        vars.insert("tag", "v2".to_string());
        assert_eq!(
            render_template("{{x}} chore({imageGroup}): {tag}", &vars),
            "{x} chore(backend): v2"
        );
    }
}
