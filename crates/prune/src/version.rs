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
    Text(Box<str>),
}

impl VersionId {
    /// Numbers sort before strings, numbers numerically.
    pub fn sort_key(&self) -> (u8, u64, &str) {
        match self {
            VersionId::Number(n) => (0, *n, ""),
            VersionId::Text(s) => (1, 0, s),
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
///
/// The digest and the tags share one allocation, `DIGEST(\0TAG)*`: a listing of 200,000
/// versions holds 200,000 of these, and a `String` digest with a `Vec<String>` of tags
/// would cost four allocations each (the plan's memory is mostly its versions).
#[derive(Clone, PartialEq)]
pub struct Version {
    /// The id the delete call takes.
    pub id: VersionId,
    /// `created_at`.
    pub created: Timestamp,
    text: Box<str>,
}

/// A NUL inside a tag: it cannot be held in a [`Version`] (and no registry allows it).
pub const NUL_IN_TAG: &str = "a tag holds a NUL character";

impl Version {
    /// A version with these tags, in order; a tag holding a NUL is refused with
    /// [`NUL_IN_TAG`].
    pub fn new<I, S>(
        id: VersionId,
        digest: &Digest,
        created: Timestamp,
        tags: I,
    ) -> Result<Version, &'static str>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut b = TagBuf::default();
        for t in tags {
            b.push(t.as_ref())?;
        }
        Ok(Version::with_tags(id, digest, created, &b))
    }

    /// A version with the tags a decoder collected.
    pub fn with_tags(id: VersionId, digest: &Digest, created: Timestamp, tags: &TagBuf) -> Version {
        let mut text = String::with_capacity(digest.as_str().len() + tags.0.len());
        text.push_str(digest.as_str());
        text.push_str(&tags.0);
        Version {
            id,
            created,
            text: text.into_boxed_str(),
        }
    }

    /// The manifest digest (`name` in the GitHub API), normalised: `sha256:<hex>`.
    pub fn digest(&self) -> &str {
        &self.text[..self.split()]
    }

    /// Every tag on the version (empty when untagged).
    pub fn tags(&self) -> Tags<'_> {
        Tags(&self.text[self.split()..])
    }

    /// Where the digest ends: its length is fixed by its algorithm (a normalised
    /// [`Digest`]), so no search is needed.
    fn split(&self) -> usize {
        let len = match self.text.as_bytes().get(..7) {
            Some(b"sha512:") => 7 + 128,
            _ => 7 + 64,
        };
        len.min(self.text.len())
    }
}

impl std::fmt::Debug for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Version")
            .field("id", &self.id)
            .field("digest", &self.digest())
            .field("created", &self.created)
            .field("tags", &self.tags())
            .finish()
    }
}

/// A version's tags, borrowed from it: each tag preceded by a NUL, so no tags is `""` and
/// one empty tag is `"\0"`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Tags<'a>(&'a str);

impl<'a> Tags<'a> {
    /// The tags, in listing order.
    pub fn iter(self) -> std::iter::Skip<std::str::Split<'a, char>> {
        self.0.split('\0').skip(1)
    }

    /// Whether the version is untagged.
    pub fn is_empty(self) -> bool {
        self.0.is_empty()
    }

    /// How many tags.
    pub fn len(self) -> usize {
        self.0.bytes().filter(|&b| b == 0).count()
    }
}

impl<'a> IntoIterator for Tags<'a> {
    type Item = &'a str;
    type IntoIter = std::iter::Skip<std::str::Split<'a, char>>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl std::fmt::Debug for Tags<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for Tags<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// Tags collected one by one as a decoder reads them, without a string per tag.
#[derive(Debug, Default)]
pub struct TagBuf(String);

impl TagBuf {
    /// Append one tag; one holding a NUL is refused with [`NUL_IN_TAG`].
    pub fn push(&mut self, tag: &str) -> Result<(), &'static str> {
        if tag.contains('\0') {
            return Err(NUL_IN_TAG);
        }
        self.0.push('\0');
        self.0.push_str(tag);
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn version(tags: &[&str]) -> Result<Version, &'static str> {
        let d = Digest::parse(&"a".repeat(64)).unwrap();
        Version::new(VersionId::Number(1), &d, Timestamp::UNIX_EPOCH, tags)
    }

    #[test]
    fn a_version_keeps_its_digest_and_tags_in_order_and_tells_no_tags_from_one_empty_tag() {
        let two = version(&["pending-1", "abc"]).unwrap();
        assert_eq!(two.digest(), format!("sha256:{}", "a".repeat(64)));
        assert_eq!(two.tags().iter().collect::<Vec<_>>(), ["pending-1", "abc"]);
        assert_eq!((two.tags().len(), two.tags().is_empty()), (2, false));
        let none = version(&[]).unwrap();
        assert_eq!(none.digest(), two.digest());
        let t = none.tags();
        assert_eq!((t.len(), t.is_empty(), t.iter().count()), (0, true, 0));
        let one_empty = version(&[""]).unwrap();
        assert_eq!(one_empty.digest(), two.digest());
        assert_eq!(one_empty.tags().iter().collect::<Vec<_>>(), [""]);
        assert_eq!(
            (one_empty.tags().len(), one_empty.tags().is_empty()),
            (1, false)
        );
        assert_ne!(none, one_empty);
        let json = serde_json::to_string(&two.tags()).unwrap();
        assert_eq!(json, r#"["pending-1","abc"]"#);
        assert_eq!(format!("{:?}", two.tags()), r#"["pending-1", "abc"]"#);
    }

    #[test]
    fn a_sha512_digest_ends_where_its_algorithm_says() {
        let d = Digest::parse(&format!("sha512:{}", "B".repeat(128))).unwrap();
        let v = Version::new(VersionId::Number(2), &d, Timestamp::UNIX_EPOCH, ["x"]).unwrap();
        assert_eq!(v.digest(), format!("sha512:{}", "b".repeat(128)));
        assert_eq!(v.tags().iter().collect::<Vec<_>>(), ["x"]);
        let bare = Version::new(VersionId::Number(3), &d, Timestamp::UNIX_EPOCH, [""; 0]).unwrap();
        assert_eq!((bare.digest(), bare.tags().is_empty()), (d.as_str(), true));
    }

    #[test]
    fn a_tag_with_a_nul_is_refused_not_split() {
        assert_eq!(version(&["ok", "a\0b"]), Err(NUL_IN_TAG));
        let mut b = TagBuf::default();
        b.push("ok").unwrap();
        assert_eq!(b.push("\0"), Err(NUL_IN_TAG));
        assert_eq!(b.0, "\0ok");
    }
}
