//! Reading input documents: files or stdin, bounded, never blocking on a terminal.
//!
//! Every tool reads through here so that the failure modes are the same everywhere: an
//! unreadable file, an empty input, malformed JSON with its line and column, invalid UTF-8
//! and inputs over the size limit are all exit 2 with one clear line. Limits (documented in
//! every man page under LIMITS):
//!
//! * a JSON or YAML document: at most [`MAX_DOCUMENT_BYTES`];
//! * one JSONL record (line): at most [`MAX_LINE_BYTES`];
//! * nesting depth: at most 128 levels (serde_json's own bound, also applied to YAML).

use std::fs::File;
use std::io::{IsTerminal, Read};
use std::path::Path;

use serde_json::Value;

use crate::error::CoreError;

/// Largest JSON or YAML document a tool reads (64 MiB).
pub const MAX_DOCUMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Longest single JSONL record (1 MiB).
pub const MAX_LINE_BYTES: usize = 1024 * 1024;
/// Deepest nesting accepted in JSON and YAML.
pub const MAX_DEPTH: usize = 128;

/// Where a document comes from: a path or stdin (`-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Standard input.
    Stdin,
    /// A file.
    File(std::path::PathBuf),
}

impl Source {
    /// `-` means stdin; anything else is a path.
    pub fn parse(spec: &str) -> Self {
        if spec == "-" {
            Source::Stdin
        } else {
            Source::File(spec.into())
        }
    }

    /// How the source is named in messages.
    pub fn origin(&self) -> String {
        match self {
            Source::Stdin => "stdin".to_string(),
            Source::File(p) => p.display().to_string(),
        }
    }
}

/// Open the source for reading, refusing a terminal on stdin and a directory.
///
/// For tools that stream a large input instead of reading it whole ([`read_bytes`]).
pub fn open(source: &Source, expected: &str) -> Result<Box<dyn Read>, CoreError> {
    match source {
        Source::Stdin => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(CoreError::NoInputOnTerminal {
                    expected: expected.to_string(),
                });
            }
            Ok(Box::new(stdin))
        }
        Source::File(path) => {
            let file = open_file(path).map_err(|e| CoreError::Unreadable {
                origin: source.origin(),
                source: e,
            })?;
            Ok(Box::new(file))
        }
    }
}

/// Read the whole source, refusing a terminal, empty input and inputs over `limit`.
///
/// `expected` names what the tool wants ("a health-report document") for the messages.
pub fn read_bytes(source: &Source, expected: &str, limit: u64) -> Result<Vec<u8>, CoreError> {
    let origin = source.origin();
    let mut buf = Vec::new();
    open(source, expected)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| CoreError::Unreadable {
            origin: origin.clone(),
            source: e,
        })?;
    if buf.len() as u64 > limit {
        return Err(CoreError::TooLarge { origin, limit });
    }
    if buf.iter().all(u8::is_ascii_whitespace) {
        return Err(CoreError::EmptyInput {
            origin,
            expected: expected.to_string(),
        });
    }
    Ok(buf)
}

/// Open a regular file for reading; a directory is refused with a clear error.
pub fn open_file(path: &Path) -> std::io::Result<File> {
    let file = File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(std::io::Error::other("is a directory"));
    }
    Ok(file)
}

/// Check UTF-8 and strip a leading byte-order mark.
pub fn as_text<'a>(bytes: &'a [u8], origin: &str) -> Result<&'a str, CoreError> {
    let text = std::str::from_utf8(bytes).map_err(|e| CoreError::NotUtf8 {
        origin: origin.to_string(),
        offset: e.valid_up_to(),
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// Parse one JSON document, reporting the line and column of a syntax error.
pub fn parse_json(bytes: &[u8], origin: &str) -> Result<Value, CoreError> {
    let text = as_text(bytes, origin)?;
    value_from_str(text).map_err(|e| json_error(&e, origin))
}

/// Whether JSON text nests arrays and objects deeper than `max` (strings, escapes
/// included, are skipped). A cheap pass before a parser without a depth bound of its own
/// (jaq's, which the JSONL evidence reader uses for speed): 20,000 `[` in a 40 KB line
/// would otherwise overflow the stack while parsing, converting or dropping the value.
pub fn nesting_exceeds(bytes: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Parse JSON text into a [`Value`], refusing an object that gives a key twice.
///
/// serde_json keeps the last of duplicate keys without a word; two readers of the same
/// evidence could then disagree on what it says (the YAML reader and policy-apply's span
/// parser already refuse duplicates). Positions are kept: the error says where.
pub fn value_from_str(text: &str) -> Result<Value, serde_json::Error> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_str(text);
    let value = UniqueKeys.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Builds a [`Value`] like serde_json does, with duplicate object keys as an error.
#[derive(Clone, Copy)]
struct UniqueKeys;

impl<'de> serde::de::DeserializeSeed<'de> for UniqueKeys {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for UniqueKeys {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate key {key:?}"
                )));
            }
            let value = map.next_value_seed(self)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// Turn a serde_json error into [`CoreError::MalformedJson`] with position and a short text.
pub fn json_error(e: &serde_json::Error, origin: &str) -> CoreError {
    let full = e.to_string();
    // serde_json appends " at line L column C"; keep the message without it.
    let message = match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full,
    };
    CoreError::MalformedJson {
        origin: origin.to_string(),
        line: e.line(),
        column: e.column(),
        message,
    }
}

/// Read and parse a JSON document from a source.
pub fn read_json(source: &Source, expected: &str) -> Result<Value, CoreError> {
    let bytes = read_bytes(source, expected, MAX_DOCUMENT_BYTES)?;
    parse_json(&bytes, &source.origin())
}

/// Parse JSONL text (one value per line, blank lines skipped) into an array.
///
/// Used for small files; large telemetry is streamed by the tool that reads it.
pub fn parse_jsonl(bytes: &[u8], origin: &str) -> Result<Vec<Value>, CoreError> {
    let text = as_text(bytes, origin)?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if line.len() > MAX_LINE_BYTES {
            return Err(CoreError::TooLarge {
                origin: format!("{origin}:{}", n + 1),
                limit: MAX_LINE_BYTES as u64,
            });
        }
        let v = value_from_str(line).map_err(|e| match json_error(&e, origin) {
            CoreError::MalformedJson {
                origin,
                column,
                message,
                ..
            } => CoreError::MalformedJson {
                origin,
                line: n + 1,
                column,
                message,
            },
            other => other,
        })?;
        out.push(v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unlimited_read_does_not_overflow() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, b"{}").unwrap();
        assert_eq!(read_bytes(&Source::File(p), "x", u64::MAX).unwrap(), b"{}");
    }

    #[test]
    fn duplicate_keys_are_refused_where_they_are() {
        let e = parse_json(b"{\"a\": {\"k\": 1,\n \"k\": 2}}", "f.json").unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.json:2:4: malformed JSON: duplicate key \"k\""
        );
        let e = parse_jsonl(b"{\"a\": 1}\n{\"b\": 1, \"b\": 1}\n", "f.jsonl").unwrap_err();
        assert!(e.to_string().starts_with("f.jsonl:2:"), "{e}");
        // the same key in different objects is fine; values and order are serde_json's
        let v = parse_json(
            br#"{"x": {"k": 1}, "y": {"k": [1.5, -2, 18446744073709551615, null, true, "s"]}}"#,
            "f",
        )
        .unwrap();
        assert_eq!(
            v.to_string(),
            r#"{"x":{"k":1},"y":{"k":[1.5,-2,18446744073709551615,null,true,"s"]}}"#
        );
        assert!(parse_json(b"[1] x", "f").is_err());
    }

    #[test]
    fn malformed_json_names_line_and_column() {
        let e = parse_json(b"{\n  \"a\": 1,\n  \"b\": }\n", "f.json").unwrap_err();
        let CoreError::MalformedJson { line, column, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!((*line, *column), (3, 8));
        assert!(
            e.to_string().starts_with("f.json:3:8: malformed JSON: "),
            "{e}"
        );
    }

    #[test]
    fn bom_is_stripped_and_bad_utf8_refused() {
        assert_eq!(
            parse_json("\u{feff}{\"a\":1}".as_bytes(), "x").unwrap()["a"],
            1
        );
        let e = parse_json(b"{\"a\":\"\xff\"}", "x").unwrap_err();
        assert!(matches!(e, CoreError::NotUtf8 { offset: 6, .. }));
    }

    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert!(parse_json(deep.as_bytes(), "x").is_err());
    }

    #[test]
    fn jsonl_skips_blank_lines_and_reports_the_bad_line() {
        let v = parse_jsonl(b"{\"a\":1}\n\n{\"a\":2}\n", "x").unwrap();
        assert_eq!(v.len(), 2);
        let e = parse_jsonl(b"{\"a\":1}\n{oops\n", "t.jsonl").unwrap_err();
        assert!(e.to_string().starts_with("t.jsonl:2:"), "{e}");
    }

    #[test]
    fn nesting_is_measured_outside_strings() {
        assert!(!nesting_exceeds(b"[[[]]]", 3));
        assert!(nesting_exceeds(b"[[[[]]]]", 3));
        assert!(!nesting_exceeds(
            br#"{"a": "[[[[[[[[", "b": "\\\"[[[[[["}"#,
            1
        ));
        assert!(nesting_exceeds(&[b'['; 20_000], MAX_DEPTH));
    }
}
