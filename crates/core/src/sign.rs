//! Signatures that bind documents to the runs that made them: HMAC-SHA256 with a secret
//! shared by the jobs of one pipeline (`ROLLOUT_SIGNING_KEY`, a CI secret).
//!
//! Without a key, a `gate-decision` is two lines of JSON anyone who can write a file can
//! forge, and an audit log can be recomputed after an edit; that is what the tools trust
//! when no key is set, and the man pages say so. With a key:
//!
//! * gate-eval adds `signature` (`hmac-sha256:HEX`) to its decision, over the canonical
//!   text of the document without that field ([`crate::hash::canonical_string`]), so
//!   reformatting a decision keeps it valid and any change of a value breaks it;
//! * policy-apply refuses a decision that has no signature or a wrong one;
//! * every audit record gains `mac`, the HMAC of its `hash`, so the chain cannot be
//!   recomputed by someone who can edit the log but does not hold the key.
//!
//! A symmetric key suits the job: the signer and the verifier are the same pipeline. The
//! key is never printed; its `Debug` shows only its length.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::error::CoreError;
use crate::hash::canonical_string;

/// The environment variable holding the key.
pub const KEY_ENV: &str = "ROLLOUT_SIGNING_KEY";

/// The field of a signed document.
pub const SIGNATURE_FIELD: &str = "signature";

/// Fewest bytes a key may have (128 bits).
pub const MIN_KEY_BYTES: usize = 16;

const PREFIX: &str = "hmac-sha256:";

/// A signing key.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({} bytes)", self.0.len())
    }
}

/// What a document's signature says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// Present and made with this key over this content.
    Valid,
    /// The document carries none.
    Missing,
    /// Present, but not this key's over this content (altered, or another key).
    Invalid,
}

impl SigningKey {
    /// The key from the value of [`KEY_ENV`]: None when unset or empty; a key shorter
    /// than [`MIN_KEY_BYTES`] is a usage error (a short secret is guessable offline).
    pub fn from_env_value(value: Option<&str>) -> Result<Option<SigningKey>, CoreError> {
        let Some(text) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        if text.len() < MIN_KEY_BYTES {
            return Err(CoreError::usage(format!(
                "{KEY_ENV} has {} bytes; a signing key needs at least {MIN_KEY_BYTES} (e.g. openssl rand -hex 32)",
                text.len()
            )));
        }
        Ok(Some(SigningKey(text.as_bytes().to_vec())))
    }

    /// The key of this process's environment.
    pub fn from_env() -> Result<Option<SigningKey>, CoreError> {
        SigningKey::from_env_value(std::env::var(KEY_ENV).ok().as_deref())
    }

    fn mac(&self, bytes: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC takes a key of any length");
        mac.update(bytes);
        let out = mac.finalize().into_bytes();
        let mut hex = String::with_capacity(PREFIX.len() + 64);
        hex.push_str(PREFIX);
        for b in out {
            hex.push_str(&format!("{b:02x}"));
        }
        hex
    }

    /// The signature of `doc` (an object; its own `signature` field left out).
    pub fn sign(&self, doc: &Value) -> String {
        let mut body = doc.clone();
        if let Some(map) = body.as_object_mut() {
            map.remove(SIGNATURE_FIELD);
        }
        self.mac(canonical_string(&body).as_bytes())
    }

    /// Add the signature to `doc` (an object).
    pub fn sign_in_place(&self, doc: &mut Value) {
        let signature = self.sign(doc);
        if let Some(map) = doc.as_object_mut() {
            map.insert(SIGNATURE_FIELD.into(), Value::String(signature));
        }
    }

    /// Check the signature `doc` carries.
    pub fn check(&self, doc: &Value) -> Signature {
        match doc.get(SIGNATURE_FIELD).and_then(Value::as_str) {
            None => Signature::Missing,
            Some(s) if constant_time_eq(s.as_bytes(), self.sign(doc).as_bytes()) => {
                Signature::Valid
            }
            Some(_) => Signature::Invalid,
        }
    }

    /// The `mac` of an audit record: the HMAC of its `hash`.
    pub fn record_mac(&self, hash: &str) -> String {
        self.mac(hash.as_bytes())
    }

    /// Whether `mac` is this key's for `hash`.
    pub fn record_mac_matches(&self, hash: &str, mac: &str) -> bool {
        constant_time_eq(mac.as_bytes(), self.record_mac(hash).as_bytes())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(k: &str) -> SigningKey {
        SigningKey::from_env_value(Some(k)).unwrap().unwrap()
    }

    #[test]
    fn keys_come_from_the_environment_and_short_ones_are_refused() {
        assert!(SigningKey::from_env_value(None).unwrap().is_none());
        assert!(SigningKey::from_env_value(Some("  ")).unwrap().is_none());
        let e = SigningKey::from_env_value(Some("short")).unwrap_err();
        assert!(e.to_string().contains("at least 16"), "{e}");
        let k = key("0123456789abcdef0123");
        assert_eq!(format!("{k:?}"), "SigningKey(20 bytes)");
    }

    #[test]
    fn a_signature_survives_reformatting_and_breaks_on_any_change() {
        let k = key("0123456789abcdef0123");
        let mut doc = json!({"kind": "gate-decision", "summary": {"decision": "hold"}, "n": 1});
        k.sign_in_place(&mut doc);
        let sig = doc["signature"].as_str().unwrap().to_string();
        assert!(sig.starts_with("hmac-sha256:") && sig.len() == 12 + 64);
        assert_eq!(k.check(&doc), Signature::Valid);
        // key order and whitespace do not matter
        let reordered: Value = serde_json::from_str(&format!(
            r#"{{ "n": 1, "signature": "{sig}", "summary": {{"decision": "hold"}}, "kind": "gate-decision" }}"#
        ))
        .unwrap();
        assert_eq!(k.check(&reordered), Signature::Valid);
        let mut forged = doc.clone();
        forged["summary"]["decision"] = json!("promote");
        assert_eq!(k.check(&forged), Signature::Invalid);
        assert_eq!(
            key("another-key-of-20-bytes").check(&doc),
            Signature::Invalid
        );
        let mut unsigned = doc.clone();
        unsigned.as_object_mut().unwrap().remove("signature");
        assert_eq!(k.check(&unsigned), Signature::Missing);
    }

    #[test]
    fn record_macs() {
        let k = key("0123456789abcdef0123");
        let mac = k.record_mac("sha256:abc");
        assert!(k.record_mac_matches("sha256:abc", &mac));
        assert!(!k.record_mac_matches("sha256:abd", &mac));
        assert!(!key("another-key-of-20-bytes").record_mac_matches("sha256:abc", &mac));
    }
}
