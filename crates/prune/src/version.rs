//! The records a registry listing is made of, and the names in them: a version (its id,
//! digest, creation time and tags), the package and owner its API URL names, and the
//! grammar of package names and logins. Their own room, so that the listing reader and its
//! streaming decoder both use them without importing each other.

use jiff::Timestamp;
use rollout_core::oci::Digest;
use schemars::JsonSchema;
use serde::Serialize;

/// A version id: a number in the GitHub API, any string in a generic inventory.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum VersionId {
    /// A numeric id (GitHub).
    Number(u64),
    /// A string id (other registries).
    Text(String),
}

impl VersionId {
    /// Numbers sort before strings, numbers numerically.
    pub fn sort_key(&self) -> (u8, u64, &str) {
        match self {
            VersionId::Number(n) => (0, *n, ""),
            VersionId::Text(s) => (1, 0, s.as_str()),
        }
    }
}

impl std::fmt::Display for VersionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VersionId::Number(n) => write!(f, "{n}"),
            VersionId::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// One version of a package: what the plan needs, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    /// The id the delete call takes.
    pub id: VersionId,
    /// The manifest digest (`name` in the GitHub API), normalised.
    pub digest: Digest,
    /// `created_at`.
    pub created: Timestamp,
    /// Every tag on the version (empty when untagged).
    pub tags: Vec<String>,
}

/// The package and owner a version's API URL names:
/// `https://api.github.com/orgs/ORG/packages/container/PKG/versions/ID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlParts {
    /// `/orgs/ORG`, `/users/USER` or `/user`.
    pub owner_path: Option<String>,
    /// The package name, percent-decoded.
    pub package: String,
}

impl UrlParts {
    /// Parse a version URL; anything unexpected gives `None` (the URL is only a hint).
    pub fn parse(url: &str) -> Option<UrlParts> {
        let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
        let path = &after_scheme[after_scheme.find('/')?..];
        let path = path.strip_prefix("/api/v3").unwrap_or(path);
        let (owner, rest) = path.split_once("/packages/container/")?;
        let (package, _) = rest.rsplit_once("/versions/")?;
        let package = percent_decode(package)?;
        check_package_name(&package).ok()?;
        let owner_path = match owner.split('/').collect::<Vec<_>>().as_slice() {
            ["", "user"] => Some("/user".to_string()),
            ["", kind @ ("orgs" | "users"), login] if is_login(login) => {
                Some(format!("/{kind}/{login}"))
            }
            _ => None,
        };
        Some(UrlParts {
            owner_path,
            package,
        })
    }
}

/// A GitHub login or organisation name: letters, digits, `-` and `_` (enterprise), ≤ 100.
pub fn is_login(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(out).ok()?;
    (!text.is_empty()).then_some(text)
}

/// A container package name as GitHub allows it (lowercase letters, digits, `.`, `_`, `-`,
/// and `/` for nested names), so it is safe in an API path once `/` is encoded.
pub fn check_package_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 255 {
        return Err("a package name has 1 to 255 characters".into());
    }
    if let Some(c) = name.chars().find(|c| {
        !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '/'))
    }) {
        return Err(format!(
            "{c:?} is not allowed in a container package name (lowercase letters, digits, '.', '_', '-', '/')"
        ));
    }
    Ok(())
}
