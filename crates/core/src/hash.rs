//! Canonical JSON hashing: the digests that bind a decision to its inputs.
//!
//! Two documents that differ only in key order or whitespace are the same evidence, so
//! digests are taken over a canonical form: object keys sorted (by UTF-16 code units, as
//! RFC 8785 does; for the ASCII keys of our documents that is byte order), no whitespace,
//! numbers as serde_json writes them. The result is written `sha256:<64 hex>`.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// `sha256:<hex>` of raw bytes (for files hashed as they are on disk).
pub fn sha256_bytes(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// `sha256:<hex>` of the canonical form of a JSON value.
pub fn canonical_digest(value: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    sha256_bytes(&out)
}

/// The canonical text of a value: sorted keys, no whitespace.
pub fn canonical_string(value: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend(serde_json::to_vec(k).unwrap_or_default());
                out.push(b':');
                write_canonical(&map[k], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out);
            }
            out.push(b']');
        }
        scalar => out.extend(serde_json::to_vec(scalar).unwrap_or_default()),
    }
}

/// Lowercase hex of a byte slice (sha2 0.11 digests no longer format with `{:x}`).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A streaming sha256 for large files read once.
#[derive(Default)]
pub struct StreamDigest(Sha256);

impl StreamDigest {
    /// Feed bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    /// Finish as `sha256:<hex>`.
    pub fn finish(self) -> String {
        format!("sha256:{}", hex(&self.0.finalize()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_and_whitespace_do_not_change_the_digest() {
        let a: Value = serde_json::from_str(r#"{"b": [1, {"y":1,"x":2}], "a": "z"}"#).unwrap();
        let b = json!({"a": "z", "b": [1, {"x": 2, "y": 1}]});
        assert_eq!(canonical_digest(&a), canonical_digest(&b));
        assert_eq!(canonical_string(&b), r#"{"a":"z","b":[1,{"x":2,"y":1}]}"#);
        assert_ne!(canonical_digest(&a), canonical_digest(&json!({"a": "z"})));
    }

    #[test]
    fn known_vector() {
        assert_eq!(
            sha256_bytes(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut s = StreamDigest::default();
        s.update(b"a");
        s.update(b"bc");
        assert_eq!(s.finish(), sha256_bytes(b"abc"));
    }
}
