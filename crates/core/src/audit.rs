//! Hash-chained JSONL audit logs: tamper-evident records of every mutation.
//!
//! Each record carries `seq` (1, 2, 3, …), `prevHash` (the previous record's `hash`, or
//! [`GENESIS`] for the first) and `hash`: the canonical sha256 of the record without its
//! `hash` field. Editing, deleting, reordering or truncating a record breaks the chain at
//! that point, and [`verify`] names the first record where it breaks.
//!
//! With a signing key ([`crate::sign`]) every record also carries `mac`, the HMAC of its
//! `hash`: whoever can edit the log but lacks the key can no longer recompute the chain
//! after an edit. `mac` is outside the hash (it is made from it). A log started before the
//! key keeps its unkeyed records; from the first keyed record on, every record must be.
//!
//! Appending needs only the tail: [`tail`] reads the last record from the end of the file
//! (constant cost whatever the log's size) and checks that it is intact, so a writer never
//! extends a log whose end was damaged. The caller holds the log's lock while it appends.

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::CoreError;
use crate::fsx::append_jsonl;
use crate::hash::canonical_digest;
use crate::jsonl::{ReverseLines, trim_line};
use crate::sign::SigningKey;

/// `prevHash` of the first record.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// The hash a record must carry: canonical sha256 of the record without `hash` and `mac`.
pub fn record_hash(record: &Map<String, Value>) -> String {
    let mut body = record.clone();
    body.remove("hash");
    body.remove("mac");
    canonical_digest(&Value::Object(body))
}

/// The last record of a log, as far as appending needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    /// `seq` of the last record (0 for an empty or missing log).
    pub seq: u64,
    /// `hash` of the last record ([`GENESIS`] for an empty log).
    pub hash: String,
    /// The last record itself (None for an empty log).
    pub last: Option<Map<String, Value>>,
}

/// A log that verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// How many records it holds.
    pub records: u64,
    /// How many of them, from the first, carry no `mac` (all of them without a key).
    pub unkeyed: u64,
    /// The last record (None for an empty log).
    pub last: Option<Map<String, Value>>,
}

/// Why a log does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// 1-based line of the first bad record.
    pub line: u64,
    /// The `seq` expected there.
    pub expected_seq: u64,
    /// `truncated`, `malformed`, `reordered`, `missing_record`, `chain_broken` or `edited`.
    pub reason: &'static str,
    /// For people.
    pub message: String,
}

fn tail_error(path: &Path, message: String) -> CoreError {
    CoreError::usage(format!(
        "audit log {} does not verify at its end: {message}",
        path.display()
    ))
}

/// Read and check the last record of `path` (constant cost). A missing or empty log is
/// the genesis tail; a torn, malformed or edited last record is an error, and so is, with
/// `key`, a last record whose `mac` is not that key's.
pub fn tail(path: &Path, key: Option<&SigningKey>) -> Result<Tail, CoreError> {
    let genesis = Tail {
        seq: 0,
        hash: GENESIS.to_string(),
        last: None,
    };
    let meta = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(genesis),
        Err(e) => {
            return Err(CoreError::Unreadable {
                origin: path.display().to_string(),
                source: e,
            });
        }
        Ok(m) => m,
    };
    if meta.len() == 0 {
        return Ok(genesis);
    }
    let unreadable = |e| CoreError::Unreadable {
        origin: path.display().to_string(),
        source: e,
    };
    check_final_newline(path)?;
    let mut lines = ReverseLines::open(path, u64::MAX).map_err(unreadable)?;
    let Some(last) = lines.next() else {
        return Ok(genesis);
    };
    let (_, last) = last.map_err(unreadable)?;
    let record: Map<String, Value> = serde_json::from_slice(trim_line(&last))
        .map_err(|e| tail_error(path, format!("the last record is not a JSON object: {e}")))?;
    let seq = record
        .get("seq")
        .and_then(Value::as_u64)
        .filter(|s| *s >= 1);
    let hash = record.get("hash").and_then(Value::as_str);
    match (seq, hash) {
        (Some(seq), Some(hash)) if hash == record_hash(&record) => {
            // The record before it must be the one its prevHash names.
            if let Some(prev) = lines.next() {
                let (_, prev) = prev.map_err(unreadable)?;
                let prev: Map<String, Value> =
                    serde_json::from_slice(trim_line(&prev)).map_err(|e| {
                        tail_error(
                            path,
                            format!("record {} is not a JSON object: {e}", seq - 1),
                        )
                    })?;
                let prev_intact =
                    prev.get("hash").and_then(Value::as_str) == Some(record_hash(&prev).as_str());
                let linked = prev_intact
                    && prev.get("hash") == record.get("prevHash")
                    && prev.get("seq").and_then(Value::as_u64) == Some(seq - 1);
                if !linked {
                    return Err(tail_error(
                        path,
                        format!("record {seq} does not follow the record before it"),
                    ));
                }
            } else if seq != 1 || record.get("prevHash").and_then(Value::as_str) != Some(GENESIS) {
                return Err(tail_error(
                    path,
                    format!("record {seq} is first in the file but not the genesis record"),
                ));
            }
            if let (Some(key), Some(mac)) = (key, record.get("mac").and_then(Value::as_str))
                && !key.record_mac_matches(hash, mac)
            {
                return Err(tail_error(
                    path,
                    format!(
                        "record {seq}'s mac is not this signing key's (the chain was recomputed, or the key changed)"
                    ),
                ));
            }
            Ok(Tail {
                seq,
                hash: hash.to_string(),
                last: Some(record),
            })
        }
        (Some(seq), Some(_)) => Err(tail_error(
            path,
            format!("record {seq} was edited (its hash does not match)"),
        )),
        _ => Err(tail_error(
            path,
            "the last record has no seq or hash".into(),
        )),
    }
}

/// A record is only committed once its newline is written: a log whose last byte is not a
/// newline ends in a truncated record.
fn check_final_newline(path: &Path) -> Result<(), CoreError> {
    use std::io::{Read, Seek, SeekFrom};
    let unreadable = |e| CoreError::Unreadable {
        origin: path.display().to_string(),
        source: e,
    };
    let mut last_byte = [0u8; 1];
    let mut f = std::fs::File::open(path).map_err(unreadable)?;
    f.seek(SeekFrom::End(-1)).map_err(unreadable)?;
    f.read_exact(&mut last_byte).map_err(unreadable)?;
    if last_byte[0] != b'\n' {
        return Err(tail_error(
            path,
            "the last record is truncated (no final newline)".into(),
        ));
    }
    Ok(())
}

/// Chain `record` after `tail` (sets `seq`, `prevHash`, `hash`, and with `key` its `mac`)
/// and return it.
pub fn seal(
    mut record: Map<String, Value>,
    tail: &Tail,
    key: Option<&SigningKey>,
) -> Map<String, Value> {
    record.insert("seq".into(), Value::from(tail.seq + 1));
    record.insert("prevHash".into(), Value::String(tail.hash.clone()));
    record.remove("hash");
    record.remove("mac");
    let hash = record_hash(&record);
    if let Some(key) = key {
        record.insert("mac".into(), Value::String(key.record_mac(&hash)));
    }
    record.insert("hash".into(), Value::String(hash));
    record
}

/// Append a sealed record (one `write`); the caller holds the log's lock.
pub fn append(path: &Path, sealed: &Map<String, Value>) -> Result<(), CoreError> {
    append_jsonl(path, &Value::Object(sealed.clone()))
}

/// Verify a whole log; returns what verified, or the first break. With `key`, a `mac` that
/// is not the key's breaks the chain (`mac_invalid`), and so does a record without one
/// after a keyed record (`unkeyed_record`).
pub fn verify(path: &Path, key: Option<&SigningKey>) -> Result<Result<Verified, Break>, CoreError> {
    let bytes = read_log(path)?;
    Ok(verify_bytes(&bytes, key))
}

/// Verify the committed records of a log whose last append may have been interrupted (the
/// writer's journal says so): a last line without its newline is a record not yet
/// committed, not a break, since a kill can cut a write that spans pages short. Also says
/// whether such a line was there.
pub fn verify_committed(
    path: &Path,
    key: Option<&SigningKey>,
) -> Result<(Result<Verified, Break>, bool), CoreError> {
    let bytes = read_log(path)?;
    let committed = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    Ok((
        verify_bytes(&bytes[..committed], key),
        committed < bytes.len(),
    ))
}

fn read_log(path: &Path) -> Result<Vec<u8>, CoreError> {
    std::fs::read(path).map_err(|e| CoreError::Unreadable {
        origin: path.display().to_string(),
        source: e,
    })
}

fn verify_bytes(bytes: &[u8], key: Option<&SigningKey>) -> Result<Verified, Break> {
    let mut prev_hash = GENESIS.to_string();
    let mut expected = 1u64;
    let mut unkeyed = 0u64;
    let mut keyed = false;
    let mut last = None;
    let complete = bytes.is_empty() || bytes.last() == Some(&b'\n');
    let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    let count = lines.len();
    for (i, raw) in lines.iter().enumerate() {
        let line = (i + 1) as u64;
        let is_last_piece = i + 1 == count;
        let text = trim_line(raw);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let brk = |reason, message: String| {
            Err(Break {
                line,
                expected_seq: expected,
                reason,
                message,
            })
        };
        if is_last_piece && !complete {
            return brk(
                "truncated",
                format!("line {line}: the last record is truncated"),
            );
        }
        let Ok(record) = serde_json::from_slice::<Map<String, Value>>(text) else {
            return brk("malformed", format!("line {line}: not a JSON object"));
        };
        let seq = record.get("seq").and_then(Value::as_u64);
        if let Some((reason, message)) = seq_break(seq, expected, line, &lines[i + 1..]) {
            return brk(reason, message);
        }
        if record.get("prevHash").and_then(Value::as_str) != Some(prev_hash.as_str()) {
            return brk(
                "chain_broken",
                format!(
                    "record {expected}: prevHash is not the hash of record {}",
                    expected - 1
                ),
            );
        }
        let hash = record_hash(&record);
        if record.get("hash").and_then(Value::as_str) != Some(hash.as_str()) {
            return brk(
                "edited",
                format!("record {expected}: its content does not match its hash (edited)"),
            );
        }
        if let Err((reason, message)) = mac_state(&record, &hash, key, expected, &mut keyed) {
            return brk(reason, message);
        }
        if record.get("mac").is_none() {
            unkeyed += 1;
        }
        prev_hash = hash;
        expected += 1;
        last = Some(record);
    }
    Ok(Verified {
        records: expected - 1,
        unkeyed,
        last,
    })
}

/// A record's `seq` that is not the `expected` one: reordered (the expected record comes
/// later, in `rest`), missing, or absent.
fn seq_break(
    seq: Option<u64>,
    expected: u64,
    line: u64,
    rest: &[&[u8]],
) -> Option<(&'static str, String)> {
    let seq_of = |raw: &[u8]| {
        serde_json::from_slice::<Map<String, Value>>(trim_line(raw))
            .ok()
            .and_then(|r| r.get("seq").and_then(Value::as_u64))
    };
    match seq {
        Some(s) if s == expected => None,
        Some(s) if s > expected => {
            if rest.iter().any(|l| seq_of(l) == Some(expected)) {
                return Some((
                    "reordered",
                    format!("line {line}: seq {s} comes before seq {expected}"),
                ));
            }
            Some((
                "missing_record",
                format!(
                    "line {line}: seq {s} follows seq {}; a record is missing",
                    expected - 1
                ),
            ))
        }
        Some(s) => Some((
            "reordered",
            format!("line {line}: seq {s} where {expected} was expected"),
        )),
        None => Some(("malformed", format!("line {line}: no seq"))),
    }
}

/// With `key`, whether record `seq`'s `mac` is the key's and a record without one does
/// not follow keyed records (`keyed` remembers whether one did).
fn mac_state(
    record: &Map<String, Value>,
    hash: &str,
    key: Option<&SigningKey>,
    seq: u64,
    keyed: &mut bool,
) -> Result<(), (&'static str, String)> {
    match (record.get("mac").and_then(Value::as_str), key) {
        (Some(mac), Some(key)) if !key.record_mac_matches(hash, mac) => Err((
            "mac_invalid",
            format!(
                "record {seq}: its mac is not this signing key's (the chain was recomputed after an edit, or the key is another)"
            ),
        )),
        (Some(_), _) => {
            *keyed = true;
            Ok(())
        }
        (None, Some(_)) if *keyed => Err((
            "unkeyed_record",
            format!(
                "record {seq}: no mac, after keyed records (written or rewritten without the key)"
            ),
        )),
        (None, _) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write_log(dir: &Path, n: u64) -> std::path::PathBuf {
        let p = dir.join("audit.jsonl");
        for i in 0..n {
            let t = tail(&p, None).unwrap();
            let rec = json!({"intent": "expand", "n": i})
                .as_object()
                .unwrap()
                .clone();
            append(&p, &seal(rec, &t, None)).unwrap();
        }
        p
    }

    #[test]
    fn a_chain_verifies_and_its_tail_is_cheap() {
        let dir = tempfile::tempdir().unwrap();
        let p = write_log(dir.path(), 5);
        assert_eq!(verify(&p, None).unwrap().unwrap().records, 5);
        let t = tail(&p, None).unwrap();
        assert_eq!(t.seq, 5);
        assert_eq!(
            tail(&dir.path().join("none.jsonl"), None).unwrap().hash,
            GENESIS
        );
    }

    fn lines(p: &Path) -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn every_kind_of_tampering_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = write_log(dir.path(), 4);
        let orig = lines(&p);
        let write = |ls: &[String], tail_nl: bool| {
            let mut t = ls.join("\n");
            if tail_nl {
                t.push('\n');
            }
            std::fs::write(&p, t).unwrap();
        };
        let mut edited = orig.clone();
        edited[1] = edited[1].replace("\"n\":1", "\"n\":9");
        write(&edited, true);
        assert_eq!(verify(&p, None).unwrap().unwrap_err().reason, "edited");

        let mut gone = orig.clone();
        gone.remove(1);
        write(&gone, true);
        let b = verify(&p, None).unwrap().unwrap_err();
        assert_eq!((b.reason, b.line), ("missing_record", 2));

        let mut swapped = orig.clone();
        swapped.swap(1, 2);
        write(&swapped, true);
        assert_eq!(verify(&p, None).unwrap().unwrap_err().reason, "reordered");

        write(&orig[..3], false);
        assert_eq!(verify(&p, None).unwrap().unwrap_err().reason, "truncated");
        assert!(
            tail(&p, None)
                .unwrap_err()
                .to_string()
                .contains("truncated")
        );

        let mut torn = orig.clone();
        torn[3] = torn[3][..20].to_string();
        write(&torn, true);
        assert_eq!(verify(&p, None).unwrap().unwrap_err().reason, "malformed");
        assert!(tail(&p, None).is_err());

        // The tail itself is intact, but record 3's prevHash no longer matches record 2.
        write(
            &{
                let mut e = orig.clone();
                e[2] = e[2].replace("\"n\":2", "\"n\":7");
                e
            },
            true,
        );
        assert!(
            tail(&p, None).is_err(),
            "record 4 must not follow an edited record 3"
        );
    }

    #[test]
    fn a_keyed_chain_cannot_be_recomputed_without_the_key() {
        let key = SigningKey::from_env_value(Some("0123456789abcdef0123"))
            .unwrap()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("audit.jsonl");
        // two records from before the key, two with it
        for i in 0..4 {
            let k = (i >= 2).then_some(&key);
            let t = tail(&p, k).unwrap();
            let rec = json!({"n": i}).as_object().unwrap().clone();
            append(&p, &seal(rec, &t, k)).unwrap();
        }
        let v = verify(&p, Some(&key)).unwrap().unwrap();
        assert_eq!((v.records, v.unkeyed), (4, 2));
        assert_eq!(v.last.unwrap()["n"], 3);
        let orig = std::fs::read_to_string(&p).unwrap();
        let parse = |text: &str| -> Vec<Map<String, Value>> {
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        let write = |records: &[Map<String, Value>]| {
            let text: String = records
                .iter()
                .map(|r| format!("{}\n", Value::Object(r.clone())))
                .collect();
            std::fs::write(&p, text).unwrap();
        };
        // Rewrite record 3 and recompute every hash after it, as anyone could without the
        // key: the hashes chain again, the macs do not.
        let mut records = parse(&orig);
        records[2].insert("n".into(), json!(99));
        let mut prev = records[1]["hash"].as_str().unwrap().to_string();
        for r in &mut records[2..] {
            r.insert("prevHash".into(), json!(prev));
            let h = record_hash(r);
            r.insert("hash".into(), json!(h));
            prev = h;
        }
        write(&records);
        assert!(
            verify(&p, None).unwrap().is_ok(),
            "without the key it verifies"
        );
        let b = verify(&p, Some(&key)).unwrap().unwrap_err();
        assert_eq!((b.reason, b.line), ("mac_invalid", 3));
        assert!(tail(&p, Some(&key)).is_err());
        // Dropping the last record's mac (it is outside the hash): unkeyed after keyed.
        let mut records = parse(&orig);
        records[3].remove("mac");
        write(&records);
        let b = verify(&p, Some(&key)).unwrap().unwrap_err();
        assert_eq!((b.reason, b.line), ("unkeyed_record", 4));
    }
}
