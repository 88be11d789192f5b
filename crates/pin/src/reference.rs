//! The grammar of image references, digests and release ids, as pure functions.
//!
//! A pin is `[registry/]path/name[:tag]@sha256:<hex>` (the OCI distribution reference
//! grammar). digest-pin must never put a digest on another image's pin, so names are
//! parsed exactly, not guessed with a regex over a line: `claude-runtime-fix` is a whole
//! path component and never a prefix of `claude-runtime-fix-extra`.

pub use rollout_core::oci::{Algorithm, Digest, is_tag};

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`: one path component of a repository name.
pub fn is_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !is_lower_alnum(b[0]) || !is_lower_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_lower_alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator: ".", "_", "__" or a run of "-", each between alphanumerics.
        let sep_start = i;
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == sep_start || i >= b.len() || !is_lower_alnum(b[i]) {
            return false;
        }
    }
    true
}

fn is_lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `host[:port]`, the registry part of a reference.
fn is_domain(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    if let Some(p) = port
        && (p.is_empty() || p.len() > 5 || !p.bytes().all(|c| c.is_ascii_digit()))
    {
        return false;
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

/// Whether the first component of a multi-component name is a registry, the way the
/// distribution reference library decides it.
fn looks_like_domain(first: &str) -> bool {
    first.contains('.')
        || first.contains(':')
        || first == "localhost"
        || first.bytes().any(|c| c.is_ascii_uppercase())
}

/// Whether `name` is a valid repository name (with or without a registry).
pub fn is_repository(name: &str) -> bool {
    if name.is_empty() || name.len() > 255 {
        return false;
    }
    let comps: Vec<&str> = name.split('/').collect();
    let path = if comps.len() > 1 && looks_like_domain(comps[0]) {
        if !is_domain(comps[0]) {
            return false;
        }
        &comps[1..]
    } else {
        &comps[..]
    };
    path.iter().all(|c| is_path_component(c))
}

/// Split `name[:tag]` and check both parts; `None` when it is not a reference.
pub fn split_name_tag(s: &str) -> Option<(&str, Option<&str>)> {
    let after_slash = s.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (name, tag) = match s[after_slash..].find(':') {
        Some(i) => (&s[..after_slash + i], Some(&s[after_slash + i + 1..])),
        None => (s, None),
    };
    if !is_repository(name) || tag.is_some_and(|t| !is_tag(t)) {
        return None;
    }
    Some((name, tag))
}

/// How an image of a digest set selects references.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ImageSpec {
    /// Given with a slash: the reference's repository must equal it exactly.
    Exact(String),
    /// A bare name: the last path component must equal it exactly.
    Bare(String),
}

impl ImageSpec {
    /// Parse an image as given in a digest set or a flag.
    pub fn parse(text: &str) -> Result<ImageSpec, String> {
        if text.is_empty() {
            return Err("empty image name".into());
        }
        if text.contains('@') {
            return Err("give the repository without a digest".into());
        }
        let after_slash = text.rfind('/').map(|i| i + 1).unwrap_or(0);
        if text[after_slash..].contains(':') {
            return Err("give the repository without a tag (the tag of a pin is kept)".into());
        }
        if !is_repository(text) {
            return Err(
                "not a repository name (lowercase path components, optional registry host)".into(),
            );
        }
        Ok(if text.contains('/') {
            ImageSpec::Exact(text.to_string())
        } else {
            ImageSpec::Bare(text.to_string())
        })
    }

    /// The image as the user wrote it.
    pub fn as_str(&self) -> &str {
        match self {
            ImageSpec::Exact(s) | ImageSpec::Bare(s) => s,
        }
    }

    /// Whether a reference with this repository is a pin of this image.
    pub fn matches(&self, repository: &str) -> bool {
        match self {
            ImageSpec::Exact(s) => repository == s,
            ImageSpec::Bare(s) => last_component(repository) == s,
        }
    }

    /// Whether some repository could be matched by both specs.
    pub fn overlaps(&self, other: &ImageSpec) -> bool {
        match (self, other) {
            (ImageSpec::Exact(a), ImageSpec::Exact(b))
            | (ImageSpec::Bare(a), ImageSpec::Bare(b)) => a == b,
            (ImageSpec::Exact(e), ImageSpec::Bare(b))
            | (ImageSpec::Bare(b), ImageSpec::Exact(e)) => last_component(e) == b,
        }
    }
}

/// The last path component of a repository name.
pub fn last_component(repository: &str) -> &str {
    repository.rsplit('/').next().unwrap_or(repository)
}

/// Check a release id: `[A-Za-z0-9][A-Za-z0-9._-]{0,127}`; an id made only of hex digits
/// with at least one letter, 7 characters or longer, is taken for a commit and must be the
/// full 40-character lowercase SHA.
pub fn check_release_id(id: &str) -> Result<(), String> {
    let b = id.as_bytes();
    if b.is_empty() || b.len() > 128 {
        return Err("a release id has 1 to 128 characters".into());
    }
    if !b[0].is_ascii_alphanumeric()
        || !b
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
    {
        return Err(
            "a release id is letters, digits, '.', '_' and '-', starting with a letter or digit"
                .into(),
        );
    }
    let commit_like = b.len() >= 7
        && b.iter().all(u8::is_ascii_hexdigit)
        && b.iter().any(u8::is_ascii_alphabetic);
    if commit_like && (b.len() != 40 || b.iter().any(u8::is_ascii_uppercase)) {
        return Err(
            "a release id that looks like a commit must be the full 40-character lowercase SHA"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0dcd21d8b6464a526e3225f44c50f34687e861dcf010f566b3caa4f0e5cd0003";

    #[test]
    fn digests_are_normalised_or_refused() {
        assert_eq!(
            Digest::parse(&HEX.to_uppercase()).unwrap().as_str(),
            format!("sha256:{HEX}")
        );
        assert_eq!(
            Digest::parse(&format!("SHA256:{HEX}")).unwrap().as_str(),
            format!("sha256:{HEX}")
        );
        let long = format!("{HEX}{HEX}");
        assert!(Digest::parse(&format!("sha512:{long}")).is_ok());
        assert!(Digest::parse(&long).is_err(), "bare values are sha256 only");
        assert!(Digest::parse(&HEX[1..]).unwrap_err().contains("not 63"));
        assert!(
            Digest::parse(&format!("md5:{HEX}"))
                .unwrap_err()
                .contains("unknown")
        );
        assert!(
            Digest::parse(&format!("{}g", &HEX[1..]))
                .unwrap_err()
                .contains("'g'")
        );
        assert!(Digest::parse("").is_err());
    }

    #[test]
    fn names_follow_the_distribution_grammar() {
        for ok in [
            "review",
            "ghcr.io/acme/review",
            "localhost:5000/a/b",
            "docker.io/library/postgres",
            "a__b",
            "a--b",
            "Registry.Example.com/x",
        ] {
            assert!(is_repository(ok), "{ok}");
        }
        for bad in [
            "Review",
            "a..b",
            "-a",
            "a-",
            "ghcr.io/",
            "a//b",
            "a:5000x/b",
            "a___b",
        ] {
            assert!(!is_repository(bad), "{bad}");
        }
        assert!(is_tag("v1.2.3") && is_tag("_x") && !is_tag(".x") && !is_tag(""));
        assert_eq!(
            split_name_tag("ghcr.io:443/a/b:v1"),
            Some(("ghcr.io:443/a/b", Some("v1")))
        );
        assert_eq!(split_name_tag("a/b"), Some(("a/b", None)));
        assert_eq!(split_name_tag("a/b:"), None);
    }

    #[test]
    fn bare_names_match_whole_components_only() {
        let fix = ImageSpec::parse("claude-runtime-fix").unwrap();
        assert!(fix.matches("ghcr.io/acme/claude-runtime-fix"));
        assert!(fix.matches("claude-runtime-fix"));
        assert!(!fix.matches("ghcr.io/acme/claude-runtime-fix-extra"));
        assert!(!fix.matches("ghcr.io/acme/x-claude-runtime-fix"));
        let exact = ImageSpec::parse("ghcr.io/acme/claude-runtime-fix").unwrap();
        assert!(!exact.matches("quay.io/acme/claude-runtime-fix"));
        assert!(fix.overlaps(&exact));
        assert!(!fix.overlaps(&ImageSpec::parse("a/other").unwrap()));
        assert!(ImageSpec::parse("a/b:v1").unwrap_err().contains("tag"));
        assert!(
            ImageSpec::parse("a/b@sha256:x")
                .unwrap_err()
                .contains("digest")
        );
    }

    #[test]
    fn release_ids_that_look_like_commits_must_be_full() {
        assert!(check_release_id("v1.2.3").is_ok());
        assert!(check_release_id("20261121").is_ok());
        assert!(check_release_id(&"a".repeat(40)).is_ok());
        assert!(check_release_id("abc1234").is_err());
        assert!(check_release_id(&"A".repeat(40)).is_err());
        assert!(check_release_id("pr 1").is_err());
        assert!(check_release_id("").is_err());
    }
}
