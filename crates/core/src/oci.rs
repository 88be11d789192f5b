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
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

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
                let algo = Algorithm::from_name(&a.to_ascii_lowercase()).ok_or_else(|| {
                    format!("unknown digest algorithm {a:?} (expected sha256 or sha512)")
                })?;
                (algo, h)
            }
            None => (Algorithm::Sha256, t),
        };
        if t.is_empty() {
            return Err("empty digest".into());
        }
        if let Some(c) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
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
        Ok(Digest(format!(
            "{}:{}",
            algo.name(),
            hex.to_ascii_lowercase()
        )))
    }

    /// The digest as written in files: `sha256:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 hex characters, for summaries.
    pub fn short(&self) -> &str {
        let hex = self.0.split_once(':').map(|(_, h)| h).unwrap_or(&self.0);
        &hex[..hex.len().min(12)]
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

#[cfg(test)]
mod tests {
    use super::*;

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
