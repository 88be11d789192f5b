//! The streaming decoder behind [`crate::listing`]: serde visitors that walk the listing's
//! shape (top-level values, pages, package maps) and decode each version object straight
//! into the few fields the plan needs, skipping everything else unread.
//!
//! Nothing of the input is kept past the page being decoded: a 60 MB listing costs the
//! memory of its versions, not of its text. Visitors cannot return prune-plan's own errors through serde, so a domain error
//! is parked in the [`DecodeState`] and serde is handed a placeholder; the caller reports the
//! parked error first.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::PruneError;
use crate::version::{TagBuf, UrlParts, Version, VersionId, check_package_name};
use rollout_core::oci::Digest;

/// Versions collected for one package before the package name is settled.
#[derive(Default)]
pub(crate) struct PackageVersions {
    pub versions: Vec<Version>,
    /// The distinct packages and owners the versions' URLs name (in a sane listing, one).
    pub urls: Vec<UrlParts>,
    /// The URL up to `/versions/` of the last version: a listing repeats it for every
    /// version, so it is parsed only when it changes.
    last_prefix: String,
    /// Read from image-resolve's `image-tags`: an OCI repository, not a GitHub package.
    pub oci: bool,
}

impl PackageVersions {
    fn push(&mut self, version: Version, url: Option<String>) {
        self.versions.push(version);
        let Some(url) = url else {
            return;
        };
        let prefix = &url[..url.rfind("/versions/").unwrap_or(url.len())];
        if prefix == self.last_prefix {
            return;
        }
        self.last_prefix = prefix.to_string();
        if let Some(u) = UrlParts::parse(&url)
            && !self.urls.contains(&u)
        {
            self.urls.push(u);
        }
    }
}

/// Where versions go: the bare listing, or a package of a `{"PKG": [...]}` map.
#[derive(Clone, Copy)]
enum Slot {
    Bare,
    Mapped(usize),
}

/// What the decoder has read so far, and the first domain error.
pub(crate) struct DecodeState<'o> {
    pub origin: &'o str,
    /// Versions decoded so far (for messages about versions without an id).
    pub position: usize,
    pub error: Option<PruneError>,
    pub bare: PackageVersions,
    pub saw_bare: bool,
    pub mapped: Vec<(String, PackageVersions)>,
}

impl<'o> DecodeState<'o> {
    pub fn new(origin: &'o str) -> Self {
        DecodeState {
            origin,
            position: 0,
            error: None,
            bare: PackageVersions::default(),
            saw_bare: false,
            mapped: Vec::new(),
        }
    }

    /// Park `err` (the first one wins) and give serde something to unwind with.
    fn fail<E: serde::de::Error>(&mut self, err: PruneError) -> E {
        if self.error.is_none() {
            self.error = Some(err);
        }
        E::custom("prune-plan: see the parked error")
    }

    /// "at the first version", "after version #12".
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

    fn mixed<E: serde::de::Error>(&mut self) -> Result<(), E> {
        if self.saw_bare && !self.mapped.is_empty() {
            let e = self.listing(
                "the listing mixes a {\"PKG\": [...]} map with bare versions; give one shape",
            );
            return Err(self.fail(e));
        }
        Ok(())
    }

    fn slot(&mut self, slot: Slot) -> &mut PackageVersions {
        match slot {
            Slot::Bare => &mut self.bare,
            Slot::Mapped(i) => &mut self.mapped[i].1,
        }
    }
}

/// Any JSON value, kept only when it is a string or a whole number; otherwise described.
#[derive(Debug, Clone, PartialEq)]
enum Loose {
    Str(String),
    Int(u64),
    /// The JSON type and, for scalars, the value as written.
    Other(&'static str, String),
}

impl Loose {
    fn describe(&self) -> String {
        match self {
            Loose::Str(s) => format!("string {s:?}"),
            Loose::Int(n) => format!("number {n}"),
            Loose::Other(t, v) if v.is_empty() => t.to_string(),
            Loose::Other(t, v) => format!("{t} {v}"),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Loose;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Loose, E> {
                Ok(Loose::Str(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Loose, E> {
                Ok(Loose::Str(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Loose, E> {
                Ok(Loose::Int(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Loose, E> {
                Ok(match u64::try_from(v) {
                    Ok(n) => Loose::Int(n),
                    Err(_) => Loose::Other("number", v.to_string()),
                })
            }
            fn visit_f64<E>(self, v: f64) -> Result<Loose, E> {
                Ok(Loose::Other("number", v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Loose, E> {
                Ok(Loose::Other("boolean", v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<Loose, E> {
                Ok(Loose::Other("null", String::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Loose::Other("an array", String::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Loose::Other("an object", String::new()))
            }
        }
        d.deserialize_any(V)
    }
}

/// What is wrong with a `tags` array that is not a list of strings.
const TAGS_NOT_STRINGS: &str = "\"tags\" is not an array of strings";

/// What is wrong with a `metadata` that is not `{"container": {"tags": [strings]}}`.
const METADATA_SHAPE: &str = "\"metadata\" is not {\"container\": {\"tags\": [strings]}}";

/// A tag list: an array of strings (null is no tags); anything else is remembered as wrong.
#[derive(Debug)]
struct Tags(Result<TagBuf, &'static str>);

impl<'de> serde::Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Tags;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of tags")
            }
            fn visit_unit<E>(self) -> Result<Tags, E> {
                Ok(Tags(Ok(TagBuf::default())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tags, A::Error> {
                let mut tags = TagBuf::default();
                let mut wrong = None;
                while let Some(t) = seq.next_element_seed(Tag(&mut tags))? {
                    if let Err(e) = t {
                        wrong.get_or_insert(e);
                    }
                }
                Ok(Tags(wrong.map_or(Ok(tags), Err)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tags, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Tags(Err(TAGS_NOT_STRINGS)))
            }
            fn visit_str<E>(self, _: &str) -> Result<Tags, E> {
                Ok(Tags(Err(TAGS_NOT_STRINGS)))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Tags, E> {
                Ok(Tags(Err(TAGS_NOT_STRINGS)))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Tags, E> {
                Ok(Tags(Err(TAGS_NOT_STRINGS)))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Tags, E> {
                Ok(Tags(Err(TAGS_NOT_STRINGS)))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Tags, E> {
                Ok(Tags(Err(TAGS_NOT_STRINGS)))
            }
        }
        d.deserialize_any(V)
    }
}

/// One element of a tag array, appended to the list as it is read (no string per tag);
/// an element that is not a string, or a tag with a NUL, is the error.
struct Tag<'b>(&'b mut TagBuf);

impl<'de> DeserializeSeed<'de> for Tag<'_> {
    type Value = Result<(), &'static str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        struct V<'b>(&'b mut TagBuf);
        impl<'de> Visitor<'de> for V<'_> {
            type Value = Result<(), &'static str>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a tag")
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(self.0.push(v))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Err(TAGS_NOT_STRINGS))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Err(TAGS_NOT_STRINGS))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Err(TAGS_NOT_STRINGS))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Err(TAGS_NOT_STRINGS))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Err(TAGS_NOT_STRINGS))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Err(TAGS_NOT_STRINGS))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Err(TAGS_NOT_STRINGS))
            }
        }
        d.deserialize_any(V(self.0))
    }
}

/// `metadata` of the GitHub API: only `container.tags` is read.
#[derive(Debug)]
struct Metadata(Result<TagBuf, &'static str>);

impl<'de> serde::Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Walks `{"container": {"tags": [...]}}`; `level` 0 is metadata, 1 is container.
        struct V(u8);
        impl<'de> Visitor<'de> for V {
            type Value = Metadata;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_unit<E>(self) -> Result<Metadata, E> {
                Ok(Metadata(Ok(TagBuf::default())))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Metadata, A::Error> {
                let mut out = Metadata(Ok(TagBuf::default()));
                while let Some(Key(k)) = map.next_key()? {
                    match (self.0, k) {
                        (0, "container") => out = map.next_value_seed(Level(1))?,
                        (1, "tags") => {
                            let Tags(t) = map.next_value()?;
                            // a tag with a NUL is named as such; any other wrong tags
                            // make the metadata the wrong shape
                            out = Metadata(t.map_err(|e| {
                                if e == TAGS_NOT_STRINGS {
                                    METADATA_SHAPE
                                } else {
                                    e
                                }
                            }));
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(out)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Metadata, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Metadata(Err(METADATA_SHAPE)))
            }
            fn visit_str<E>(self, _: &str) -> Result<Metadata, E> {
                Ok(Metadata(Err(METADATA_SHAPE)))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Metadata, E> {
                Ok(Metadata(Err(METADATA_SHAPE)))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Metadata, E> {
                Ok(Metadata(Err(METADATA_SHAPE)))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Metadata, E> {
                Ok(Metadata(Err(METADATA_SHAPE)))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Metadata, E> {
                Ok(Metadata(Err(METADATA_SHAPE)))
            }
        }
        struct Level(u8);
        impl<'de> DeserializeSeed<'de> for Level {
            type Value = Metadata;
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Metadata, D::Error> {
                d.deserialize_any(V(self.0))
            }
        }
        d.deserialize_any(V(0))
    }
}

/// The keys the decoder reads (of a version, a document, and `metadata.container`).
const READ_KEYS: &[&str] = &[
    "id",
    "name",
    "digest",
    "created_at",
    "createdAt",
    "url",
    "kind",
    "schemaVersion",
    "tool",
    "message",
    "metadata",
    "tags",
    "container",
];

/// An object key, matched against [`READ_KEYS`] without a string per key (a reader's
/// strings are never borrowed, so a `Cow<str>` key would be a new `String` each time);
/// every other key is `""`, which nothing reads.
struct Key(&'static str);

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                Ok(Key(READ_KEYS
                    .iter()
                    .find(|k| **k == v)
                    .copied()
                    .unwrap_or("")))
            }
        }
        d.deserialize_str(V)
    }
}

/// The fields of an object the decoder looks at.
#[derive(Default)]
struct Fields {
    id: Option<Loose>,
    name: Option<Loose>,
    digest: Option<Loose>,
    created_at: Option<Loose>,
    created_at_camel: Option<Loose>,
    metadata: Option<Metadata>,
    tags: Option<Tags>,
    url: Option<Loose>,
    kind: Option<Loose>,
    schema_version: Option<Loose>,
    tool: Option<Loose>,
    message: Option<Loose>,
}

/// Keys that make an object a version (or a document), not a package map.
const VERSION_KEYS: &[&str] = &[
    "id",
    "name",
    "digest",
    "created_at",
    "createdAt",
    "updated_at",
    "updatedAt",
    "metadata",
    "tags",
    "url",
    "html_url",
    "package_html_url",
    "license",
    "description",
    "kind",
    "schemaVersion",
];

impl Fields {
    fn is_version(&self) -> bool {
        self.id.is_some()
            || self.name.is_some()
            || self.digest.is_some()
            || self.created_at.is_some()
            || self.created_at_camel.is_some()
            || self.metadata.is_some()
            || self.tags.is_some()
    }

    /// Read the value of `key` into its field (or skip it).
    fn read<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
        ctx: &mut DecodeState<'_>,
    ) -> Result<(), A::Error> {
        let slot: &mut Option<Loose> = match key {
            "id" => &mut self.id,
            "name" => &mut self.name,
            "digest" => &mut self.digest,
            "created_at" => &mut self.created_at,
            "createdAt" => &mut self.created_at_camel,
            "url" => &mut self.url,
            "kind" => &mut self.kind,
            "schemaVersion" => &mut self.schema_version,
            "tool" => &mut self.tool,
            "message" => &mut self.message,
            "metadata" => {
                let twice = self.metadata.is_some();
                self.metadata = Some(map.next_value()?);
                return self.once(twice, key, ctx);
            }
            "tags" => {
                let twice = self.tags.is_some();
                self.tags = Some(map.next_value()?);
                return self.once(twice, key, ctx);
            }
            _ => {
                map.next_value::<IgnoredAny>()?;
                return Ok(());
            }
        };
        let twice = slot.is_some();
        *slot = Some(map.next_value()?);
        self.once(twice, key, ctx)
    }

    fn once<E: serde::de::Error>(
        &self,
        twice: bool,
        key: &str,
        ctx: &mut DecodeState<'_>,
    ) -> Result<(), E> {
        if twice {
            let e = ctx.listing(format!("{}: an object gives {key:?} twice", ctx.place()));
            return Err(ctx.fail(e));
        }
        Ok(())
    }

    /// Read the rest of an object whose first key was already taken.
    fn read_object<'de, A: MapAccess<'de>>(
        first: Option<String>,
        map: &mut A,
        ctx: &mut DecodeState<'_>,
    ) -> Result<Fields, A::Error> {
        let mut fields = Fields::default();
        if let Some(k) = first {
            fields.read(&k, map, ctx)?;
        }
        while let Some(Key(k)) = map.next_key()? {
            fields.read(k, map, ctx)?;
        }
        Ok(fields)
    }

    /// Refuse a document (an object with a `kind`): an upstream error, or another kind.
    fn document_error(&self, ctx: &DecodeState<'_>) -> Option<PruneError> {
        let kind = self.kind.as_ref()?;
        if self.schema_version.is_none() && self.is_version() {
            return None;
        }
        if *kind == Loose::Str("error".into()) {
            let text = |l: &Option<Loose>, default: &str| match l {
                Some(Loose::Str(s)) => s.clone(),
                _ => default.to_string(),
            };
            return Some(PruneError::Core(rollout_core::CoreError::Upstream {
                origin: ctx.origin.to_string(),
                tool: text(&self.tool, "tool"),
                message: text(&self.message, "(no message)"),
            }));
        }
        Some(PruneError::WrongKind {
            origin: ctx.origin.to_string(),
            expected: "a package versions listing",
            found: match kind {
                Loose::Str(s) => format!("{s:?}"),
                other => other.describe(),
            },
        })
    }

    /// Check the fields and make the version.
    fn into_version(
        self,
        ctx: &mut DecodeState<'_>,
    ) -> Result<(Version, Option<String>), PruneError> {
        ctx.position += 1;
        let origin = ctx.origin;
        let at = |id: Option<&VersionId>, position: usize, message: String| PruneError::Version {
            origin: origin.to_string(),
            version: id.map_or_else(|| format!("#{position} in the listing"), |i| i.to_string()),
            message,
        };
        let position = ctx.position;
        let id = match self.id {
            None => return Err(at(None, position, "no \"id\"".into())),
            Some(Loose::Int(n)) => VersionId::Number(n),
            Some(Loose::Str(s)) if !s.trim().is_empty() => VersionId::Text(s.into_boxed_str()),
            Some(other) => {
                return Err(at(
                    None,
                    position,
                    format!(
                        "\"id\" is {}, expected a non-negative whole number or a string",
                        other.describe()
                    ),
                ));
            }
        };
        let bad = |message: String| at(Some(&id), position, message);
        let string = |field: &str, v: Loose| match v {
            Loose::Str(s) => Ok(s),
            other => Err(bad(format!(
                "{field:?} is {}, expected a string",
                other.describe()
            ))),
        };
        let (field, value) = match (self.digest, self.name) {
            (Some(d), _) => ("digest", d),
            (None, Some(n)) => ("name", n),
            (None, None) => {
                return Err(bad(
                    "no digest (\"name\" in the GitHub API, or \"digest\")".into()
                ));
            }
        };
        let text = string(field, value)?;
        let digest = Digest::parse(&text).map_err(|m| {
            bad(format!(
                "{field} {text:?} is not a digest ({m}); prune-plan reads container package versions"
            ))
        })?;
        let (field, value) = match (self.created_at, self.created_at_camel) {
            (Some(c), _) => ("created_at", c),
            (None, Some(c)) => ("createdAt", c),
            (None, None) => return Err(bad("no \"created_at\" (or \"createdAt\")".into())),
        };
        let text = string(field, value)?;
        let created = rollout_core::time::parse_timestamp(&text).map_err(|e| {
            let detail = match &e {
                rollout_core::CoreError::InvalidTimestamp { message, .. } => message.clone(),
                other => other.to_string(),
            };
            bad(format!("{field} {text:?} is not RFC 3339: {detail}"))
        })?;
        let tags = match (self.tags, self.metadata) {
            (Some(Tags(t)), _) | (None, Some(Metadata(t))) => t.map_err(|e| bad(e.into()))?,
            (None, None) => TagBuf::default(),
        };
        let url = match self.url {
            None | Some(Loose::Other("null", _)) => None,
            Some(u) => Some(string("url", u)?),
        };
        Ok((Version::with_tags(id, &digest, created, &tags), url))
    }
}

/// Decode a version object into `slot`, or park the error.
fn finish_object<E: serde::de::Error>(
    fields: Fields,
    slot: Slot,
    ctx: &mut DecodeState<'_>,
) -> Result<(), E> {
    if let Some(e) = fields.document_error(ctx) {
        return Err(ctx.fail(e));
    }
    if !fields.is_version() {
        let e = ctx.listing(format!(
            "{}: an object without version fields (id, name, created_at, metadata)",
            ctx.place()
        ));
        return Err(ctx.fail(e));
    }
    match fields.into_version(ctx) {
        Ok((v, url)) => {
            ctx.slot(slot).push(v, url);
            Ok(())
        }
        Err(e) => Err(ctx.fail(e)),
    }
}

fn found<E: serde::de::Error>(ctx: &mut DecodeState<'_>, what: &str, expected: &str) -> E {
    let e = ctx.listing(format!(
        "{}: found {what}, expected {expected}",
        ctx.place()
    ));
    ctx.fail(e)
}

/// A whole top-level value of the stream.
pub(crate) struct TopLevelValue<'c, 'o>(pub &'c mut DecodeState<'o>);

impl<'de> DeserializeSeed<'de> for TopLevelValue<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! refuse_scalars {
    ($what:expr) => {
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
            Err(self.refuse("a string"))
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
            Err(self.refuse("a number"))
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
            Err(self.refuse("a number"))
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
            Err(self.refuse("a number"))
        }
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
            Err(self.refuse("a boolean"))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
            Err(self.refuse("null"))
        }
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str($what)
        }
    };
}

impl TopLevelValue<'_, '_> {
    fn refuse<E: serde::de::Error>(self, what: &str) -> E {
        let e = self.0.listing(format!(
            "expected package versions (a JSON array of version objects), found {what}"
        ));
        self.0.fail(e)
    }
}

impl<'de> Visitor<'de> for TopLevelValue<'_, '_> {
    type Value = ();
    refuse_scalars!("package versions");

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let ctx = self.0;
        ctx.saw_bare = true;
        ctx.mixed()?;
        while seq
            .next_element_seed(Element {
                ctx: &mut *ctx,
                slot: Slot::Bare,
                depth: 0,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ctx = self.0;
        let Some(first) = map.next_key::<String>()? else {
            let e = ctx.listing("an empty object: expected versions, or {\"PKG\": [versions...]}");
            return Err(ctx.fail(e));
        };
        if first == "schemaVersion" {
            return image_tags(&mut map, ctx);
        }
        if VERSION_KEYS.contains(&first.as_str()) {
            let fields = Fields::read_object(Some(first), &mut map, ctx)?;
            ctx.saw_bare = true;
            ctx.mixed()?;
            return finish_object(fields, Slot::Bare, ctx);
        }
        let mut key = Some(first);
        while let Some(name) = key
            .take()
            .map_or_else(|| map.next_key::<String>(), |k| Ok(Some(k)))?
        {
            if let Err(m) = check_package_name(&name) {
                let e = ctx.listing(format!("package {name:?}: {m}"));
                return Err(ctx.fail(e));
            }
            let index = match ctx.mapped.iter().position(|(n, _)| *n == name) {
                Some(i) => i,
                None => {
                    ctx.mapped.push((name.clone(), PackageVersions::default()));
                    ctx.mixed()?;
                    ctx.mapped.len() - 1
                }
            };
            map.next_value_seed(PackageValue {
                ctx: &mut *ctx,
                name: &name,
                slot: Slot::Mapped(index),
            })?;
        }
        Ok(())
    }
}

/// An object whose first key is `schemaVersion` (taken): image-resolve's `image-tags`
/// listing of an OCI repository, whose `versions` (its tags grouped by digest, each with
/// the image's created time) are read as one package named by `name`
/// (`registry/repository`); anything else is judged as any other object of the stream (a
/// document refused by its kind, an upstream error reported as such).
fn image_tags<'de, A: MapAccess<'de>>(
    map: &mut A,
    ctx: &mut DecodeState<'_>,
) -> Result<(), A::Error> {
    let image_tags = Loose::Str("image-tags".into());
    let mut doc = Fields::default();
    doc.read("schemaVersion", map, ctx)?;
    let mut read = false;
    while let Some(key) = map.next_key::<String>()? {
        let listing = doc.kind.as_ref() == Some(&image_tags);
        match key.as_str() {
            "versions" if listing => {
                let Some(Loose::Str(n)) = doc.name.clone() else {
                    let e = ctx.listing(
                        "an image-tags listing whose \"versions\" come before its \"name\"",
                    );
                    return Err(ctx.fail(e));
                };
                if let Err(m) = rollout_core::oci::check_name(&n) {
                    let e = ctx.listing(format!("repository {n:?}: {m}"));
                    return Err(ctx.fail(e));
                }
                ctx.mapped.push((
                    n.clone(),
                    PackageVersions {
                        oci: true,
                        ..PackageVersions::default()
                    },
                ));
                ctx.mixed()?;
                let index = ctx.mapped.len() - 1;
                map.next_value_seed(PackageValue {
                    ctx: &mut *ctx,
                    name: &n,
                    slot: Slot::Mapped(index),
                })?;
                read = true;
            }
            // the listing's tags are objects (tag, key, digest), not a version's tag names
            "tags" if listing => {
                map.next_value::<IgnoredAny>()?;
            }
            k => match READ_KEYS.iter().find(|r| **r == k) {
                Some(r) => doc.read(r, map, ctx)?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            },
        }
    }
    if doc.kind.as_ref() != Some(&image_tags) {
        // not a listing of image-resolve's: judged as any other object of the stream
        ctx.saw_bare = true;
        ctx.mixed()?;
        return finish_object(doc, Slot::Bare, ctx);
    }
    if !read {
        let e = ctx.listing("an image-tags listing without versions: list the repository with image-resolve tags REPO --digests");
        return Err(ctx.fail(e));
    }
    Ok(())
}

/// The value of a `{"PKG": ...}` entry: an array of versions or pages.
struct PackageValue<'c, 'o, 'n> {
    ctx: &'c mut DecodeState<'o>,
    name: &'n str,
    slot: Slot,
}

impl<'de> DeserializeSeed<'de> for PackageValue<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl PackageValue<'_, '_, '_> {
    fn refuse<E: serde::de::Error>(self, what: &str) -> E {
        let e = self.ctx.listing(format!(
            "package {:?}: expected an array of versions, found {what}",
            self.name
        ));
        self.ctx.fail(e)
    }
}

impl<'de> Visitor<'de> for PackageValue<'_, '_, '_> {
    type Value = ();
    refuse_scalars!("an array of versions");

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(Element {
                ctx: &mut *self.ctx,
                slot: self.slot,
                depth: 0,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Err(self.refuse("an object"))
    }
}

/// An element of an array: a version object, or (one level down) a page of them.
struct Element<'c, 'o> {
    ctx: &'c mut DecodeState<'o>,
    slot: Slot,
    depth: u8,
}

impl<'de> DeserializeSeed<'de> for Element<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Element<'_, '_> {
    fn refuse<E: serde::de::Error>(self, what: &str) -> E {
        let expected = if self.depth == 0 {
            "a version object or a page of them"
        } else {
            "a version object"
        };
        found(self.ctx, what, expected)
    }
}

impl<'de> Visitor<'de> for Element<'_, '_> {
    type Value = ();
    refuse_scalars!("a version object");

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let fields = Fields::read_object(None, &mut map, self.ctx)?;
        finish_object(fields, self.slot, self.ctx)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.depth > 0 {
            return Err(self.refuse("an array"));
        }
        while seq
            .next_element_seed(Element {
                ctx: &mut *self.ctx,
                slot: self.slot,
                depth: 1,
            })?
            .is_some()
        {}
        Ok(())
    }
}
