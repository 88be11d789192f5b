//! The grammar of OCI image digests and tags, shared by every tool that reads or writes
//! them (digest-pin's pins, tag-bump's tags and digests, prune-plan's registry versions).
//!
//! A digest is `sha256:<64 hex>` or `sha512:<128 hex>`, normalised to lowercase; a bare
//! 64-hex value gets the `sha256:` prefix (CONTRACT.md §2). A tag follows the distribution
//! spec: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`. Errors say which rule was broken.

use std::fmt;

/// A digest algorithm whose length is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// sha256: 64 hex characters.
    Sha256,
    /// sha512: 128 hex characters.
    Sha512,
}

impl Algorithm {
    /// The name as written before the colon.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// How many hex characters a digest of this algorithm has.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    /// The algorithm named `name` (lowercase, as the OCI grammar writes it).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

/// A normalised digest: known algorithm, lowercase hex of the right length.
///
/// Held as a `Box<str>` (two words, no spare capacity): registry listings hold hundreds of
/// thousands of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(Box<str>);

impl Digest {
    /// Parse and normalise a digest given by a person or a document.
    ///
    /// `sha256:<64 hex>` and `sha512:<128 hex>` are accepted in any case and lowercased;
    /// a bare 64-hex value gets the `sha256:` prefix. Anything else is refused with a
    /// message that says what is wrong.
    pub fn parse(text: &str) -> Result<Digest, String> {
        let t = text.trim();
        let (algo, hex) = match t.split_once(':') {
            Some((a, h)) => {
                let algo = [Algorithm::Sha256, Algorithm::Sha512]
                    .into_iter()
                    .find(|x| a.eq_ignore_ascii_case(x.name()))
                    .ok_or_else(|| {
                        format!("unknown digest algorithm {a:?} (expected sha256 or sha512)")
                    })?;
                (algo, h)
            }
            None => (Algorithm::Sha256, t),
        };
        if t.is_empty() {
            return Err("empty digest".into());
        }
        // folded, not short-circuited, so the check runs over whole vectors
        if !hex.bytes().fold(true, |ok, b| ok & b.is_ascii_hexdigit()) {
            let c = hex
                .chars()
                .find(|c| !c.is_ascii_hexdigit())
                .unwrap_or_default();
            return Err(format!("{c:?} is not a hex digit"));
        }
        if hex.len() != algo.hex_len() {
            return Err(format!(
                "a {} digest has {} hex characters, not {}",
                algo.name(),
                algo.hex_len(),
                hex.len()
            ));
        }
        // one allocation of the exact size: listings hold hundreds of thousands of digests
        let mut out = String::with_capacity(algo.name().len() + 1 + hex.len());
        out.push_str(algo.name());
        out.push(':');
        out.push_str(hex);
        out.make_ascii_lowercase();
        Ok(Digest(out.into_boxed_str()))
    }

    /// The digest as written in files: `sha256:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The algorithm before the colon.
    pub fn algorithm(&self) -> Algorithm {
        if self.0.starts_with("sha512:") {
            Algorithm::Sha512
        } else {
            Algorithm::Sha256
        }
    }

    /// The first 12 hex characters, for summaries.
    pub fn short(&self) -> &str {
        let hex = self.0.split_once(':').map_or(&*self.0, |(_, h)| h);
        &hex[..hex.len().min(12)]
    }
}

/// A digest is looked up by its text (`map.get("sha256:…")`): equality, order and hash
/// are those of the text.
impl std::borrow::Borrow<str> for Digest {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest tag the OCI distribution spec allows.
pub const MAX_TAG_LEN: usize = 128;

/// Check a tag against the OCI grammar `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`; the error
/// names the broken rule.
pub fn check_tag(tag: &str) -> Result<(), String> {
    let Some(first) = tag.bytes().next() else {
        return Err("a tag cannot be empty".into());
    };
    if tag.len() > MAX_TAG_LEN {
        return Err(format!(
            "a tag has at most {MAX_TAG_LEN} characters (OCI), this one {}",
            tag.len()
        ));
    }
    if !(first.is_ascii_alphanumeric() || first == b'_') {
        return Err("a tag starts with a letter, a digit or '_' (OCI tag grammar)".into());
    }
    if let Some(c) = tag
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "{c:?} is not allowed in a tag: only letters, digits, '_', '.' and '-' (OCI tag grammar)"
        ));
    }
    Ok(())
}

/// Whether `tag` follows the OCI tag grammar.
pub fn is_tag(tag: &str) -> bool {
    check_tag(tag).is_ok()
}

/// Longest repository name the OCI distribution spec allows (with its registry).
pub const MAX_NAME_LEN: usize = 255;

/// Check an image name (`[registry[:port]/]path/to/repo`, no tag, no digest) against the
/// OCI distribution grammar; the error names the broken rule. The first component is the
/// registry when it holds a `.` or a `:` or is `localhost`, as docker and kustomize read it;
/// registry names are host names (letters, digits, `-`, `.`) with an optional port; every
/// path component is lowercase letters and digits joined by `.`, `_`, `__` or dashes.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("an image name cannot be empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "an image name has at most {MAX_NAME_LEN} characters (OCI), this one {}",
            name.len()
        ));
    }
    if name.contains('@') {
        return Err("an image name holds no digest ('@'): give the digest with --digest".into());
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    let first = parts[0];
    if parts.len() > 1 && (first.contains(['.', ':']) || first == "localhost") {
        let (host, port) = match first.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (first, None),
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !host.split('.').all(label_ok) {
            return Err(format!(
                "{first:?} is not a registry host: labels of letters, digits and '-', joined by '.'"
            ));
        }
        if let Some(p) = port
            && (p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!("{first:?}: a registry port is 1 to 5 digits"));
        }
        parts.remove(0);
    }
    for part in parts {
        let component_ok = !part.is_empty()
            && part
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
            && part.as_bytes()[0].is_ascii_alphanumeric()
            && part.as_bytes()[part.len() - 1].is_ascii_alphanumeric()
            && !part.contains("..")
            && !part.contains("._")
            && !part.contains("_.")
            && !part.contains("___")
            && !part.contains(".-")
            && !part.contains("-.")
            && !part.contains("_-")
            && !part.contains("-_");
        if part.split_once(':').is_some_and(|(_, t)| is_tag(t)) {
            return Err(format!(
                "{name:?} holds a tag (':'): the name is the repository only; give the tag with --tag"
            ));
        }
        if !component_ok {
            return Err(format!(
                "{part:?} is not a repository path component: lowercase letters and digits, joined by '.', '_', '__' or '-' (OCI name grammar)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_distribution_grammar() {
        for ok in [
            "nginx",
            "ghcr.io/acme/web",
            "index.repo.fake/updated",
            "localhost:5000/a/b",
            "registry-1.docker.io/library/redis",
            "a__b/c-d/e.f",
            "my_app",
        ] {
            check_name(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for (bad, says) in [
            ("", "empty"),
            ("ghcr.io/Acme/web", "repository path component"),
            ("web:v1", "holds a tag"),
            ("ghcr.io/acme/web@sha256:00", "no digest"),
            ("-x", "repository path component"),
            ("a//b", "repository path component"),
            ("bad_host_.io/x", "registry host"),
            ("host.io:99999999/x", "port"),
            ("a/b\n::warning::x", "repository path component"),
        ] {
            let e = check_name(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn oci_tag_grammar() {
        for ok in ["pr-42-a1b2c3d", "v1.2.3", "_x", "1", &"a".repeat(128)] {
            check_tag(ok).unwrap();
        }
        for bad in ["", "-x", ".x", "a/b", "a:b", "a b", "ä", &"a".repeat(129)] {
            assert!(check_tag(bad).is_err(), "{bad}");
        }
    }
}
