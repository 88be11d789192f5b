//! Reading a registry inventory: the GitHub Packages versions listing in every shape it
//! reaches a pipeline.
//!
//! `gh api --paginate` prints one JSON array per page, back to back; `--slurp` wraps them in
//! an array; people save single pages, JSONL, or a generic `{id, digest, createdAt, tags}`
//! list from another registry, and several packages as `{"PKG": [...]}`. The replaced
//! workflow counted only the first page. Here every top-level value of the stream is read,
//! whatever its shape, so nothing past page one is missed.
//!
//! Large listings (200,000 versions is about 60 MB) are read without building a
//! `serde_json::Value` tree: each value is first split as raw text ([`RawValue`]), and a
//! version is decoded straight into the few fields the plan needs.

use std::collections::HashSet;

use jiff::Timestamp;
use rollout_core::doc::json_type;
use rollout_core::oci::Digest;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::PruneError;

/// Largest listing read (512 MiB: about 1.7 million versions of the GitHub API's shape).
pub const MAX_LISTING_BYTES: u64 = 512 * 1024 * 1024;

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

/// The versions of one package.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Package {
    /// The package name (from `--package`, the map key, or the versions' API URLs).
    pub name: Option<String>,
    /// The API path of the owner (`/orgs/ORG`, `/users/USER`), from the versions' URLs.
    pub owner_path: Option<String>,
    /// The versions, in listing order.
    pub versions: Vec<Version>,
}

/// The fields of a JSON object prune-plan looks at; everything else is skipped unread.
#[derive(Deserialize)]
struct RawObject<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    name: Option<&'a RawValue>,
    #[serde(borrow)]
    digest: Option<&'a RawValue>,
    #[serde(borrow)]
    created_at: Option<&'a RawValue>,
    #[serde(rename = "createdAt", borrow)]
    created_at_camel: Option<&'a RawValue>,
    #[serde(borrow)]
    metadata: Option<&'a RawValue>,
    #[serde(borrow)]
    tags: Option<&'a RawValue>,
    #[serde(borrow)]
    url: Option<&'a RawValue>,
    #[serde(borrow)]
    kind: Option<&'a RawValue>,
    #[serde(rename = "schemaVersion", borrow)]
    schema_version: Option<&'a RawValue>,
}

impl RawObject<'_> {
    fn is_version(&self) -> bool {
        self.id.is_some()
            || self.name.is_some()
            || self.digest.is_some()
            || self.created_at.is_some()
            || self.created_at_camel.is_some()
            || self.metadata.is_some()
            || self.tags.is_some()
    }
}

#[derive(Deserialize)]
struct Metadata {
    container: Option<Container>,
}

#[derive(Deserialize)]
struct Container {
    tags: Option<Vec<String>>,
}

/// Where a version came from, for messages about versions without an id.
struct Reader<'o> {
    origin: &'o str,
    position: usize,
}

impl Reader<'_> {
    /// Where the reader is, for messages: "at the first version", "after version #12".
    fn place(&self) -> String {
        match self.position {
            0 => "at the first version".to_string(),
            n => format!("after version #{n}"),
        }
    }

    fn listing(&self, message: impl Into<String>) -> PruneError {
        PruneError::Listing {
            origin: self.origin.to_string(),
            message: message.into(),
        }
    }

    fn version_error(&self, id: Option<&VersionId>, message: impl Into<String>) -> PruneError {
        PruneError::Version {
            origin: self.origin.to_string(),
            version: id.map_or_else(
                || format!("#{} in the listing", self.position),
                |i| i.to_string(),
            ),
            message: message.into(),
        }
    }

    /// Decode one version object.
    fn version(&mut self, obj: RawObject<'_>) -> Result<(Version, Option<UrlParts>), PruneError> {
        self.position += 1;
        let id = match obj.id {
            None => return Err(self.version_error(None, "no \"id\"")),
            Some(v) => match serde_json::from_str::<serde_json::Value>(v.get()) {
                Ok(serde_json::Value::Number(n)) if n.as_u64().is_some() => {
                    VersionId::Number(n.as_u64().unwrap_or_default())
                }
                Ok(serde_json::Value::String(s)) if !s.trim().is_empty() => VersionId::Text(s),
                Ok(other) => {
                    return Err(self.version_error(
                        None,
                        format!(
                            "\"id\" is {} {}, expected a non-negative whole number or a string",
                            json_type(&other),
                            v.get()
                        ),
                    ));
                }
                Err(e) => return Err(self.version_error(None, format!("\"id\": {e}"))),
            },
        };
        let id_ref = Some(&id);
        let string_field = |field: &str, v: &RawValue| -> Result<String, PruneError> {
            serde_json::from_str::<String>(v.get()).map_err(|_| {
                self.version_error(
                    id_ref,
                    format!("{field:?} is {}, expected a string", raw_type(v)),
                )
            })
        };
        let (digest_field, digest_raw) = match (obj.digest, obj.name) {
            (Some(d), _) => ("digest", d),
            (None, Some(n)) => ("name", n),
            (None, None) => {
                return Err(self.version_error(
                    id_ref,
                    "no digest (\"name\" in the GitHub API, or \"digest\")",
                ));
            }
        };
        let digest_text = string_field(digest_field, digest_raw)?;
        let digest = Digest::parse(&digest_text).map_err(|message| {
            self.version_error(
                id_ref,
                format!(
                    "{digest_field} {digest_text:?} is not a digest ({message}); prune-plan reads container package versions"
                ),
            )
        })?;
        let (created_field, created_raw) = match (obj.created_at, obj.created_at_camel) {
            (Some(c), _) => ("created_at", c),
            (None, Some(c)) => ("createdAt", c),
            (None, None) => {
                return Err(self.version_error(id_ref, "no \"created_at\" (or \"createdAt\")"));
            }
        };
        let created_text = string_field(created_field, created_raw)?;
        let created = rollout_core::time::parse_timestamp(&created_text).map_err(|e| {
            let detail = match &e {
                rollout_core::CoreError::InvalidTimestamp { message, .. } => message.clone(),
                other => other.to_string(),
            };
            self.version_error(
                id_ref,
                format!("{created_field} {created_text:?} is not RFC 3339: {detail}"),
            )
        })?;
        let tags = match (obj.tags, obj.metadata) {
            (Some(t), _) => {
                if t.get() == "null" {
                    Vec::new()
                } else {
                    serde_json::from_str::<Vec<String>>(t.get()).map_err(|_| {
                        self.version_error(id_ref, "\"tags\" is not an array of strings")
                    })?
                }
            }
            (None, Some(m)) if m.get() != "null" => serde_json::from_str::<Metadata>(m.get())
                .map_err(|_| {
                    self.version_error(
                        id_ref,
                        "\"metadata\" is not {\"container\": {\"tags\": [strings]}}",
                    )
                })?
                .container
                .and_then(|c| c.tags)
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let url = match obj.url {
            Some(u) if u.get() != "null" => Some(string_field("url", u)?),
            _ => None,
        };
        let parts = url.as_deref().and_then(UrlParts::parse);
        Ok((
            Version {
                id,
                digest,
                created,
                tags,
            },
            parts,
        ))
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

fn raw_type(v: &RawValue) -> &'static str {
    match v.get().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// Versions collected for one package before the package name is settled.
#[derive(Default)]
struct Collected {
    versions: Vec<Version>,
    urls: Vec<UrlParts>,
}

impl Collected {
    fn push(&mut self, (version, url): (Version, Option<UrlParts>)) {
        self.versions.push(version);
        if let Some(u) = url
            && self.urls.last() != Some(&u)
        {
            self.urls.push(u);
        }
    }
}

/// Read a listing. `package` is `--package`: the name of a bare listing, or the one package
/// to take from a `{"PKG": [...]}` map. Packages come out sorted by name.
pub fn parse_listing(
    bytes: &[u8],
    origin: &str,
    package: Option<&str>,
) -> Result<Vec<Package>, PruneError> {
    let text = rollout_core::input::as_text(bytes, origin)?;
    let mut reader = Reader {
        origin,
        position: 0,
    };
    let mut bare = Collected::default();
    let mut saw_bare = false;
    let mut mapped: Vec<(String, Collected)> = Vec::new();
    let stream = serde_json::Deserializer::from_str(text).into_iter::<&RawValue>();
    for item in stream {
        let raw = item.map_err(|e| rollout_core::input::json_error(&e, origin))?;
        match raw.get().as_bytes().first() {
            Some(b'[') => {
                saw_bare = true;
                read_array(&mut reader, raw, &mut bare, 0)?;
            }
            Some(b'{') => {
                let obj = object(&reader, raw)?;
                if obj.is_version() {
                    saw_bare = true;
                    let v = reader.version(obj)?;
                    bare.push(v);
                } else {
                    read_map(&mut reader, raw, &mut mapped)?;
                }
            }
            _ => {
                return Err(reader.listing(format!(
                    "expected package versions (a JSON array of version objects), found {}",
                    raw_type(raw)
                )));
            }
        }
        if saw_bare && !mapped.is_empty() {
            return Err(reader.listing(
                "the listing mixes a {\"PKG\": [...]} map with bare versions; give one shape",
            ));
        }
    }
    if !mapped.is_empty() {
        return packages_from_map(&reader, mapped, package);
    }
    let urls = std::mem::take(&mut bare.urls);
    let from_urls: Vec<&String> = distinct(urls.iter().map(|u| &u.package));
    let name =
        match (package, from_urls.as_slice()) {
            (Some(p), []) => Some(p.to_string()),
            (Some(p), [u]) if u.as_str() == p => Some(p.to_string()),
            (Some(p), [u]) => {
                return Err(reader.listing(format!(
                    "--package {p:?}, but the versions' URLs name package {u:?}"
                )));
            }
            (None, []) => None,
            (None, [u]) => Some(u.to_string()),
            (_, many) => {
                return Err(reader.listing(format!(
                "versions of several packages in one listing ({}); give them as {{\"PKG\": [...]}}",
                many.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
            )));
            }
        };
    let owners: Vec<&String> = distinct(urls.iter().filter_map(|u| u.owner_path.as_ref()));
    let package = Package {
        name,
        owner_path: (owners.len() == 1).then(|| owners[0].clone()),
        versions: bare.versions,
    };
    check_unique(&reader, &package)?;
    Ok(vec![package])
}

fn distinct<'a>(items: impl Iterator<Item = &'a String>) -> Vec<&'a String> {
    let mut out: Vec<&String> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

fn object<'a>(reader: &Reader<'_>, raw: &'a RawValue) -> Result<RawObject<'a>, PruneError> {
    let obj: RawObject<'a> = serde_json::from_str(raw.get()).map_err(|e| {
        let text = e.to_string();
        reader.listing(format!(
            "{}: {}",
            reader.place(),
            text.split(" at line ").next().unwrap_or(&text)
        ))
    })?;
    if let Some(kind) = obj
        .kind
        .filter(|_| obj.schema_version.is_some() || !obj.is_version())
    {
        let doc: serde_json::Value = serde_json::from_str(raw.get()).unwrap_or_default();
        rollout_core::doc::refuse_error_document(&doc, reader.origin)?;
        return Err(PruneError::WrongKind {
            origin: reader.origin.to_string(),
            expected: "a package versions listing",
            found: kind.get().to_string(),
        });
    }
    Ok(obj)
}

/// An array: versions, or pages of versions (one level deep).
fn read_array(
    reader: &mut Reader<'_>,
    raw: &RawValue,
    into: &mut Collected,
    depth: usize,
) -> Result<(), PruneError> {
    let items: Vec<&RawValue> = serde_json::from_str(raw.get())
        .map_err(|e| rollout_core::input::json_error(&e, reader.origin))?;
    for item in items {
        match item.get().as_bytes().first() {
            Some(b'{') => {
                let obj = object(reader, item)?;
                if !obj.is_version() {
                    return Err(reader.listing(format!(
                        "{}: an object without version fields (id, name, created_at, metadata)",
                        reader.place()
                    )));
                }
                let v = reader.version(obj)?;
                into.push(v);
            }
            Some(b'[') if depth == 0 => read_array(reader, item, into, 1)?,
            _ => {
                return Err(reader.listing(format!(
                    "{}: found {}, expected a version object{}",
                    reader.place(),
                    raw_type(item),
                    if depth == 0 { " or a page of them" } else { "" }
                )));
            }
        }
    }
    Ok(())
}

fn read_map(
    reader: &mut Reader<'_>,
    raw: &RawValue,
    mapped: &mut Vec<(String, Collected)>,
) -> Result<(), PruneError> {
    let map: pairs::Pairs<'_> = serde_json::from_str(raw.get())
        .map_err(|e| rollout_core::input::json_error(&e, reader.origin))?;
    if map.0.is_empty() {
        return Err(
            reader.listing("an empty object: expected versions, or {\"PKG\": [versions...]}")
        );
    }
    for (name, value) in map.0 {
        if value.get().as_bytes().first() != Some(&b'[') {
            return Err(reader.listing(format!(
                "package {name:?}: expected an array of versions, found {}",
                raw_type(value)
            )));
        }
        check_package_name(&name)
            .map_err(|message| reader.listing(format!("package {name:?}: {message}")))?;
        let slot = match mapped.iter().position(|(n, _)| *n == name) {
            Some(i) => i,
            None => {
                mapped.push((name.clone(), Collected::default()));
                mapped.len() - 1
            }
        };
        read_array(reader, value, &mut mapped[slot].1, 0)?;
    }
    Ok(())
}

fn packages_from_map(
    reader: &Reader<'_>,
    mapped: Vec<(String, Collected)>,
    only: Option<&str>,
) -> Result<Vec<Package>, PruneError> {
    if let Some(p) = only
        && !mapped.iter().any(|(n, _)| n == p)
    {
        return Err(reader.listing(format!(
            "--package {p:?} is not in the listing (packages: {})",
            mapped
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut out = Vec::new();
    for (name, collected) in mapped {
        if only.is_some_and(|p| p != name) {
            continue;
        }
        if let Some(u) = collected.urls.iter().find(|u| u.package != name) {
            return Err(reader.listing(format!(
                "package {name:?} holds a version whose URL names package {:?}",
                u.package
            )));
        }
        let owners: Vec<&String> =
            distinct(collected.urls.iter().filter_map(|u| u.owner_path.as_ref()));
        let package = Package {
            owner_path: (owners.len() == 1).then(|| owners[0].clone()),
            name: Some(name),
            versions: collected.versions,
        };
        check_unique(reader, &package)?;
        out.push(package);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn check_unique(reader: &Reader<'_>, package: &Package) -> Result<(), PruneError> {
    let mut seen: HashSet<&VersionId> = HashSet::with_capacity(package.versions.len());
    for v in &package.versions {
        if !seen.insert(&v.id) {
            return Err(PruneError::DuplicateId {
                origin: reader.origin.to_string(),
                package: package
                    .name
                    .as_deref()
                    .map_or_else(|| "the package".to_string(), |n| format!("package {n:?}")),
                id: v.id.to_string(),
            });
        }
    }
    Ok(())
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

mod pairs {
    //! An object read as ordered `(key, raw value)` pairs, duplicate keys refused.
    use serde::de::{Deserialize, Deserializer, Error, MapAccess, Visitor};
    use serde_json::value::RawValue;

    pub struct Pairs<'a>(pub Vec<(String, &'a RawValue)>);

    impl<'de: 'a, 'a> Deserialize<'de> for Pairs<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Pairs<'de>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Pairs<'de>, A::Error> {
                    let mut out: Vec<(String, &'de RawValue)> = Vec::new();
                    while let Some((k, v)) = m.next_entry::<String, &'de RawValue>()? {
                        if out.iter().any(|(o, _)| *o == k) {
                            return Err(A::Error::custom(format!("package {k:?} is given twice")));
                        }
                        out.push((k, v));
                    }
                    Ok(Pairs(out))
                }
            }
            d.deserialize_map(V)
        }
    }
}
