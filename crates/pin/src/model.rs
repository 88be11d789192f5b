//! Digest sets and ledger records: what to pin, and what was pinned.

use indexmap::IndexMap;
use rollout_core::CoreError;
use rollout_core::doc::{Kind, SCHEMA_VERSION};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::PinError;
use crate::reference::{Digest, ImageSpec, check_release_id};

/// The images of a release and their digests, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestSet {
    /// The release id, if named.
    pub release: Option<String>,
    /// Each image with its digest, in the order given.
    pub images: Vec<(ImageSpec, Digest)>,
    /// Free labels carried along (OCI labels, build run).
    pub labels: Map<String, Value>,
}

impl DigestSet {
    /// Build and validate a set from `(image, digest)` pairs as written.
    pub fn from_pairs(
        pairs: Vec<(String, String)>,
        release: Option<String>,
        labels: Map<String, Value>,
        origin: &str,
    ) -> Result<DigestSet, PinError> {
        let mut images: Vec<(ImageSpec, Digest)> = Vec::new();
        for (image, value) in pairs {
            let spec = ImageSpec::parse(&image).map_err(|message| PinError::ImageInvalid {
                origin: origin.to_string(),
                image: image.clone(),
                message,
            })?;
            let digest = Digest::parse(&value).map_err(|message| PinError::DigestInvalid {
                origin: origin.to_string(),
                image: image.clone(),
                value: value.clone(),
                message,
            })?;
            for (other, _) in &images {
                if *other == spec {
                    return Err(PinError::DuplicateImage {
                        origin: origin.to_string(),
                        image,
                    });
                }
                if other.overlaps(&spec) {
                    return Err(PinError::AmbiguousImages {
                        origin: origin.to_string(),
                        a: other.as_str().to_string(),
                        b: image,
                    });
                }
            }
            images.push((spec, digest));
        }
        if images.is_empty() {
            return Err(PinError::SetInvalid {
                origin: origin.to_string(),
                message: "no images".into(),
            });
        }
        if let Some(r) = &release {
            check_release_id(r).map_err(|message| PinError::ReleaseInvalid {
                id: r.clone(),
                message,
            })?;
        }
        Ok(DigestSet {
            release,
            images,
            labels,
        })
    }

    /// Build a set from `--set IMAGE=DIGEST` flags.
    pub fn from_flags(sets: &[String], release: Option<String>) -> Result<DigestSet, PinError> {
        let mut pairs = Vec::new();
        for s in sets {
            let (image, digest) = s.split_once('=').ok_or_else(|| {
                PinError::from(CoreError::bad_value(
                    "--set",
                    s.clone(),
                    "expected IMAGE=DIGEST",
                ))
            })?;
            pairs.push((image.trim().to_string(), digest.trim().to_string()));
        }
        DigestSet::from_pairs(pairs, release, Map::new(), "--set")
    }

    /// Read a `digest-set` document. Duplicate image keys are refused, which a JSON value
    /// would have silently collapsed, so the images are read from the text a second time.
    /// An `image-report` (image-resolve's) is read as the set of its images: each
    /// reference's image as written (tag and digest removed) and the digest the registry
    /// proved, so what is pinned is what the registry holds.
    pub fn from_document(doc: &Value, text: &str, origin: &str) -> Result<DigestSet, PinError> {
        if doc.get("kind").and_then(Value::as_str) == Some(Kind::ImageReport.as_str()) {
            return DigestSet::from_image_report(doc, origin);
        }
        rollout_core::doc::check_envelope(doc, Kind::DigestSet, origin)?;
        let invalid = |message: String| PinError::SetInvalid {
            origin: origin.to_string(),
            message,
        };
        let raw: RawSet = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let mut pairs = Vec::new();
        for (image, v) in raw.images.0 {
            match v {
                Value::String(s) => pairs.push((image, s)),
                other => {
                    return Err(invalid(format!(
                        "images.{image} is {}, expected a digest string",
                        rollout_core::doc::json_type(&other)
                    )));
                }
            }
        }
        let release = match doc.get("release") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                return Err(invalid(format!(
                    "release is {}, expected a string",
                    rollout_core::doc::json_type(other)
                )));
            }
        };
        let labels = match doc.get("labels") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(other) => {
                return Err(invalid(format!(
                    "labels is {}, expected an object",
                    rollout_core::doc::json_type(other)
                )));
            }
        };
        DigestSet::from_pairs(pairs, release, labels, origin)
    }

    fn from_image_report(doc: &Value, origin: &str) -> Result<DigestSet, PinError> {
        rollout_core::doc::check_envelope(doc, Kind::ImageReport, origin)?;
        let invalid = |message: String| PinError::SetInvalid {
            origin: origin.to_string(),
            message,
        };
        let images = doc
            .get("images")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("an image-report without an images array".into()))?;
        let mut pairs = Vec::new();
        for (i, image) in images.iter().enumerate() {
            let field = |k: &str| {
                image
                    .get(k)
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(format!("images[{i}].{k} is missing or not a string")))
            };
            let (reference, digest) = (field("reference")?, field("digest")?);
            pairs.push((image_of_reference(reference), digest.to_string()));
        }
        DigestSet::from_pairs(pairs, None, Map::new(), origin)
    }

    /// The images as a JSON object (image → digest).
    pub fn images_value(&self) -> Value {
        Value::Object(
            self.images
                .iter()
                .map(|(i, d)| (i.as_str().to_string(), Value::String(d.to_string())))
                .collect(),
        )
    }

    /// The set as a `digest-set` document.
    pub fn to_document(&self) -> Value {
        json!({
            "schemaVersion": SCHEMA_VERSION,
            "kind": Kind::DigestSet.as_str(),
            "release": self.release,
            "images": self.images_value(),
            "labels": self.labels,
        })
    }

    /// The index of the image whose pins a repository is, if any (at most one can match:
    /// overlapping images are refused when the set is built).
    pub fn find(&self, repository: &str) -> Option<usize> {
        self.images.iter().position(|(i, _)| i.matches(repository))
    }
}

#[derive(Deserialize)]
struct RawSet {
    images: Pairs,
}

/// A JSON object read as its entries in order, duplicates kept.
struct Pairs(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Pairs;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of image → digest")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Pairs, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = m.next_entry::<String, Value>()? {
                    out.push(entry);
                }
                Ok(Pairs(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// How a recorded release was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A new set (from `--set` or `-i`), or a roll forward to a release recorded after the
    /// one in effect.
    Promote,
    /// Back to a release first recorded before the one in effect.
    Rollback,
    /// The release in effect, applied again (pins that drifted by hand are put back).
    Restore,
    /// What the tree pinned when recording started (`--baseline`): nothing changed.
    Baseline,
}

impl Action {
    /// As written in the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Promote => "promote",
            Action::Rollback => "rollback",
            Action::Restore => "restore",
            Action::Baseline => "baseline",
        }
    }

    /// What taking `release` from the ledger is, against the release in effect (the last
    /// record): the same one is a restore; one first recorded before it a rollback; one
    /// first recorded after it (a roll forward) a promote.
    pub fn from_ledger(records: &[LedgerRecord], release: &str) -> Action {
        let first = |r: &str| records.iter().find(|x| x.release == r).map(|x| x.seq);
        match records.last() {
            Some(current) if current.release == release => Action::Restore,
            Some(current) => match (first(release), first(&current.release)) {
                (Some(a), Some(b)) if a > b => Action::Promote,
                _ => Action::Rollback,
            },
            None => Action::Rollback,
        }
    }
}

/// One line of the ledger, checked.
#[derive(Debug, Clone)]
pub struct LedgerRecord {
    /// 1-based position in the ledger.
    pub seq: u64,
    /// The release id.
    pub release: String,
    /// The images (image → digest), as recorded.
    pub images: IndexMap<String, String>,
    /// The whole record.
    pub raw: Value,
}

impl LedgerRecord {
    /// The digest set this record holds.
    pub fn to_set(&self, origin: &str) -> Result<DigestSet, PinError> {
        let pairs = self
            .images
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let labels = self
            .raw
            .get("labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        DigestSet::from_pairs(pairs, Some(self.release.clone()), labels, origin)
    }
}

/// Parse a ledger: one JSON record per line; any line that is not a record is named.
pub fn parse_ledger(text: &str, origin: &str) -> Result<Vec<LedgerRecord>, PinError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| PinError::LedgerMalformed {
            ledger: origin.to_string(),
            line: n + 1,
            message,
        };
        if line.len() > rollout_core::input::MAX_LINE_BYTES {
            return Err(bad("line longer than 1 MiB".into()));
        }
        let raw: Value = rollout_core::input::value_from_str(line).map_err(|e| {
            let text = e.to_string();
            bad(text.split(" at line ").next().unwrap_or(&text).to_string())
        })?;
        let release = raw
            .get("release")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no \"release\" string".into()))?
            .to_string();
        let object = raw
            .get("images")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("no \"images\" object".into()))?;
        let mut images = IndexMap::new();
        for (image, d) in object {
            match d.as_str() {
                Some(s) if Digest::parse(s).is_ok() && ImageSpec::parse(image).is_ok() => {
                    images.insert(image.clone(), s.to_string());
                }
                _ => {
                    return Err(bad(format!(
                        "images.{image} is not an image with a valid digest"
                    )));
                }
            }
        }
        let seq = raw
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("no \"seq\" number".into()))?;
        out.push(LedgerRecord {
            seq,
            release,
            images,
            raw,
        });
    }
    Ok(out)
}

/// A reference's image as written: without `@digest` and without the `:tag` after the last
/// `/` (a registry port's `:` comes before it).
fn image_of_reference(reference: &str) -> String {
    let r = reference.split('@').next().unwrap_or(reference);
    let slash = r.rfind('/').map_or(0, |i| i + 1);
    match r[slash..].rfind(':') {
        Some(i) => r[..slash + i].to_string(),
        None => r.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0dcd21d8b6464a526e3225f44c50f34687e861dcf010f566b3caa4f0e5cd0003";

    #[test]
    fn an_image_report_is_read_as_the_images_it_resolved() {
        let text = format!(
            r#"{{"schemaVersion":"v1","kind":"image-report","images":[
              {{"reference":"127.0.0.1:5000/org/app:v1","digest":"{D}"}},
              {{"reference":"nginx@{D}","digest":"{D}"}}]}}"#
        );
        let doc: Value = serde_json::from_str(&text).unwrap();
        let set = DigestSet::from_document(&doc, &text, "r.json").unwrap();
        let names: Vec<&str> = set.images.iter().map(|(i, _)| i.as_str()).collect();
        assert_eq!(names, ["127.0.0.1:5000/org/app", "nginx"]);
        let bad: Value = serde_json::from_str(
            r#"{"schemaVersion":"v1","kind":"image-report","images":[{"reference":"a"}]}"#,
        )
        .unwrap();
        let e = DigestSet::from_document(&bad, "", "r.json").unwrap_err();
        assert!(e.to_string().contains("images[0].digest"), "{e}");
    }

    #[test]
    fn duplicate_keys_in_a_document_are_refused() {
        let text = format!(
            r#"{{"schemaVersion":"v1","kind":"digest-set","images":{{"a/x":"{D}","a/x":"{D}"}}}}"#
        );
        let doc: Value = serde_json::from_str(&text).unwrap();
        let e = DigestSet::from_document(&doc, &text, "set.json").unwrap_err();
        assert_eq!(
            rollout_core::Failure::reason_code(&e),
            "digest_set_duplicate_image"
        );
    }

    #[test]
    fn overlapping_images_are_refused() {
        let e = DigestSet::from_flags(
            &[format!("review={D}"), format!("ghcr.io/a/review={D}")],
            None,
        )
        .unwrap_err();
        assert!(matches!(e, PinError::AmbiguousImages { .. }));
    }

    #[test]
    fn ledger_lines_are_named_when_broken() {
        let good = format!(r#"{{"seq":1,"release":"r1","images":{{"a/x":"{D}"}}}}"#);
        let text = format!("{good}\n{{\"seq\":2,\"release\":\"r2\"}}\n");
        let e = parse_ledger(&text, "l.jsonl").unwrap_err();
        assert!(e.to_string().starts_with("l.jsonl:2: "), "{e}");
        assert_eq!(parse_ledger(&good, "l").unwrap()[0].release, "r1");
    }
}
