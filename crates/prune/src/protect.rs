//! What must survive a clean-up, read from the files that know: the digests a repository
//! pins (digest-pin's documents and ledger, or a plain list) and which manifests an image
//! index is made of.
//!
//! These readers fail closed. A digest that does not parse, a file of another kind, or a
//! protection file that protects nothing stops the run: a protection silently dropped is an
//! image in production deleted.

use std::collections::{BTreeMap, HashMap};

use rollout_core::doc::{Kind, json_type};
use rollout_core::oci::Digest;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::error::PruneError;

/// One `--protect-digests` file as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProtectSource {
    /// The file, as given.
    pub file: String,
    /// What it was read as: `digest-scan`, `digest-set`, `digest-ledger`, `ledger` (JSONL),
    /// `list` (one digest per line, or a JSON array).
    pub kind: &'static str,
    /// Distinct digests it protects.
    pub digests: usize,
}

/// Every protected digest, with the first file that named it.
#[derive(Debug, Clone, Default)]
pub struct Protected {
    by_digest: HashMap<Digest, usize>,
    /// The files, in the order given.
    pub sources: Vec<ProtectSource>,
}

impl Protected {
    /// Add the digests of one file.
    pub fn add(&mut self, file: &str, kind: &'static str, digests: Vec<Digest>) {
        let index = self.sources.len();
        let mut distinct = 0;
        let mut seen = std::collections::HashSet::new();
        for d in digests {
            if seen.insert(d.clone()) {
                distinct += 1;
            }
            self.by_digest.entry(d).or_insert(index);
        }
        self.sources.push(ProtectSource {
            file: file.to_string(),
            kind,
            digests: distinct,
        });
    }

    /// The file that protects `digest`, if any.
    pub fn source_of(&self, digest: &str) -> Option<&str> {
        self.by_digest
            .get(digest)
            .map(|&i| self.sources[i].file.as_str())
    }

    /// Every protected digest.
    pub fn digests(&self) -> impl Iterator<Item = &Digest> {
        self.by_digest.keys()
    }

    /// How many distinct digests are protected.
    pub fn len(&self) -> usize {
        self.by_digest.len()
    }

    /// Whether nothing is protected.
    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }
}

const FLAG: &str = "--protect-digests";

fn invalid(origin: &str, message: impl Into<String>) -> PruneError {
    PruneError::Protection {
        flag: FLAG,
        origin: origin.to_string(),
        message: message.into(),
    }
}

/// Read one `--protect-digests` file: what it was read as, its digests, and warnings.
pub fn read_protect_file(
    text: &str,
    origin: &str,
) -> Result<(&'static str, Vec<Digest>, Vec<String>), PruneError> {
    let first = text.trim_start().as_bytes().first().copied();
    let mut warnings = Vec::new();
    let (kind, digests) = match first {
        Some(b'{') => {
            let values = serde_json::Deserializer::from_str(text)
                .into_iter::<Value>()
                .collect::<Result<Vec<Value>, _>>()
                .map_err(|e| rollout_core::input::json_error(&e, origin))?;
            if values.len() == 1 && values[0].get("kind").is_some() {
                document(&values[0], origin, &mut warnings)?
            } else {
                let mut out = Vec::new();
                for (n, record) in values.iter().enumerate() {
                    ledger_record(record, &format!("record {}", n + 1), origin, &mut out)?;
                }
                ("ledger", out)
            }
        }
        Some(b'[') => {
            let value: Value = serde_json::from_str(text)
                .map_err(|e| rollout_core::input::json_error(&e, origin))?;
            let items = value.as_array().cloned().unwrap_or_default();
            let mut out = Vec::new();
            for (n, item) in items.iter().enumerate() {
                out.push(digest_at(item, &format!("[{n}]"), origin)?);
            }
            ("list", out)
        }
        _ => ("list", plain_list(text, origin)?),
    };
    if digests.is_empty() {
        return Err(PruneError::ProtectsNothing {
            origin: origin.to_string(),
            kind,
        });
    }
    Ok((kind, digests, warnings))
}

fn digest_at(value: &Value, at: &str, origin: &str) -> Result<Digest, PruneError> {
    let text = value.as_str().ok_or_else(|| {
        invalid(
            origin,
            format!("{at} is {}, expected a digest string", json_type(value)),
        )
    })?;
    Digest::parse(text).map_err(|m| invalid(origin, format!("{at} {text:?}: {m}")))
}

fn document(
    doc: &Value,
    origin: &str,
    warnings: &mut Vec<String>,
) -> Result<(&'static str, Vec<Digest>), PruneError> {
    rollout_core::doc::refuse_error_document(doc, origin)?;
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    let (name, expected) = match kind {
        "digest-scan" => ("digest-scan", Kind::DigestScan),
        "digest-set" => ("digest-set", Kind::DigestSet),
        "digest-ledger" => ("digest-ledger", Kind::DigestLedger),
        _ => {
            return Err(invalid(
                origin,
                format!(
                    "a document of kind {}; expected digest-scan, digest-set or digest-ledger (from digest-pin), a digest-pin ledger (JSONL) or a list of digests",
                    doc.get("kind")
                        .map_or_else(|| "?".to_string(), Value::to_string)
                ),
            ));
        }
    };
    rollout_core::doc::check_envelope(doc, expected, origin)?;
    let mut out = Vec::new();
    match expected {
        Kind::DigestScan => {
            let list = doc
                .get("digests")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid(origin, "digest-scan without a \"digests\" array"))?;
            for (n, d) in list.iter().enumerate() {
                out.push(digest_at(d, &format!("digests[{n}]"), origin)?);
            }
            let partial = doc
                .get("warnings")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            if partial > 0 {
                warnings.push(format!(
                    "{FLAG} {origin}: the scan read {partial} file(s) only in part; pins in them are not protected"
                ));
            }
        }
        Kind::DigestSet => images(doc, "images", origin, &mut out)?,
        _ => {
            let records = doc
                .get("records")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid(origin, "digest-ledger without a \"records\" array"))?;
            for (n, r) in records.iter().enumerate() {
                ledger_record(r, &format!("records[{n}]"), origin, &mut out)?;
            }
        }
    }
    Ok((name, out))
}

fn images(doc: &Value, at: &str, origin: &str, out: &mut Vec<Digest>) -> Result<(), PruneError> {
    let map = doc
        .get("images")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            invalid(
                origin,
                format!("{at}: no \"images\" object (image -> digest)"),
            )
        })?;
    for (image, d) in map {
        out.push(digest_at(d, &format!("{at}.{image}"), origin)?);
    }
    Ok(())
}

fn ledger_record(
    record: &Value,
    at: &str,
    origin: &str,
    out: &mut Vec<Digest>,
) -> Result<(), PruneError> {
    if !record.is_object() || record.get("kind").is_some() {
        return Err(invalid(
            origin,
            format!(
                "{at} is not a digest-pin ledger record (an object with \"release\" and \"images\")"
            ),
        ));
    }
    images(record, &format!("{at}.images"), origin, out)
}

fn plain_list(text: &str, origin: &str) -> Result<Vec<Digest>, PruneError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let content = match line.find('#') {
            Some(i) => &line[..i],
            None => line,
        }
        .trim();
        if content.is_empty() {
            continue;
        }
        let d = Digest::parse(content).map_err(|m| {
            invalid(
                origin,
                format!("line {}: {content:?} is not a digest ({m})", n + 1),
            )
        })?;
        out.push(d);
    }
    Ok(out)
}

/// `--manifests`: image index digest → the digests of its platform manifests and
/// attestations, as `{"sha256:…": ["sha256:…", …]}`.
pub fn read_manifests(
    text: &str,
    origin: &str,
) -> Result<BTreeMap<Digest, Vec<Digest>>, PruneError> {
    let bad = |message: String| PruneError::Protection {
        flag: "--manifests",
        origin: origin.to_string(),
        message,
    };
    let value: Value =
        serde_json::from_str(text).map_err(|e| rollout_core::input::json_error(&e, origin))?;
    rollout_core::doc::refuse_error_document(&value, origin)?;
    let obj = value.as_object().ok_or_else(|| {
        bad(format!(
            "expected an object of image index digest -> [child digests], found a JSON {}",
            json_type(&value)
        ))
    })?;
    if obj.contains_key("kind") {
        return Err(bad(
            "a document with a \"kind\"; expected an object of image index digest -> [child digests]"
                .into(),
        ));
    }
    let mut out: BTreeMap<Digest, Vec<Digest>> = BTreeMap::new();
    for (index, children) in obj {
        let index_digest = Digest::parse(index).map_err(|m| bad(format!("key {index:?}: {m}")))?;
        let list = children.as_array().ok_or_else(|| {
            bad(format!(
                "{index}: expected an array of child digests, found a JSON {}",
                json_type(children)
            ))
        })?;
        let mut kids = Vec::with_capacity(list.len());
        for (n, c) in list.iter().enumerate() {
            let text = c.as_str().ok_or_else(|| {
                bad(format!(
                    "{index}[{n}] is a JSON {}, expected a digest",
                    json_type(c)
                ))
            })?;
            kids.push(Digest::parse(text).map_err(|m| bad(format!("{index}[{n}] {text:?}: {m}")))?);
        }
        if out.insert(index_digest.clone(), kids).is_some() {
            return Err(bad(format!(
                "index {index_digest} is given twice (keys differ only in case)"
            )));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn read(text: &str) -> Result<(&'static str, Vec<String>), PruneError> {
        read_protect_file(text, "f")
            .map(|(k, d, _)| (k, d.iter().map(|d| d.as_str().to_string()).collect()))
    }

    #[test]
    fn every_shape_of_protection_file() {
        let scan = format!(
            r#"{{"schemaVersion":"v1","kind":"digest-scan","digests":["{A}"],"warnings":[]}}"#
        );
        assert_eq!(read(&scan).unwrap(), ("digest-scan", vec![A.to_string()]));
        let set = format!(r#"{{"schemaVersion":"v1","kind":"digest-set","images":{{"x":"{B}"}}}}"#);
        assert_eq!(read(&set).unwrap().1, vec![B.to_string()]);
        let ledger_doc = format!(
            r#"{{"schemaVersion":"v1","kind":"digest-ledger","ledger":"l","records":[{{"release":"r","images":{{"x":"{A}","y":"{B}"}}}}]}}"#
        );
        assert_eq!(read(&ledger_doc).unwrap().1.len(), 2);
        let jsonl = format!(
            "{{\"seq\":1,\"release\":\"a\",\"images\":{{\"x\":\"{A}\"}}}}\n{{\"seq\":2,\"release\":\"b\",\"images\":{{\"x\":\"{B}\"}}}}\n"
        );
        assert_eq!(
            read(&jsonl).unwrap(),
            ("ledger", vec![A.to_string(), B.to_string()])
        );
        let plain = format!(
            "# pinned\n{}  # upper case\n\n{}\n",
            A.to_uppercase().replace("SHA256", "sha256"),
            &B[7..]
        );
        assert_eq!(
            read(&plain).unwrap(),
            ("list", vec![A.to_string(), B.to_string()])
        );
        assert_eq!(read(&format!("[\"{A}\"]")).unwrap().1, vec![A.to_string()]);
    }

    #[test]
    fn fail_closed_on_anything_doubtful() {
        let e = read("sha256:abc\n").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        let e = read("# nothing\n").unwrap_err();
        assert!(matches!(e, PruneError::ProtectsNothing { .. }));
        let e = read(r#"{"schemaVersion":"v1","kind":"gate-decision"}"#).unwrap_err();
        assert!(e.to_string().contains("\"gate-decision\""), "{e}");
        let e = read(r#"{"schemaVersion":"v1","kind":"digest-scan","digests":[]}"#).unwrap_err();
        assert!(matches!(
            e,
            PruneError::ProtectsNothing {
                kind: "digest-scan",
                ..
            }
        ));
        let e = read(r#"{"schemaVersion":"v1","kind":"digest-set","images":{"x":"latest"}}"#)
            .unwrap_err();
        assert!(e.to_string().contains("images.x"), "{e}");
    }

    #[test]
    fn manifests_map() {
        let m = read_manifests(&format!(r#"{{"{A}":["{B}"]}}"#), "m").unwrap();
        assert_eq!(m.len(), 1);
        assert!(read_manifests(r#"{"x":[]}"#, "m").is_err());
        assert!(read_manifests(&format!(r#"{{"{A}":"{B}"}}"#), "m").is_err());
    }
}
