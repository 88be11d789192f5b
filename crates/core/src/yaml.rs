//! Reading YAML into JSON values, strictly.
//!
//! Configuration files (gates files, services maps) may be YAML. They are read with
//! `saphyr-parser`, the same parser the span editor uses, and converted with the YAML 1.2
//! core schema: plain `true`/`false`, `null`/`~`/empty, integers and floats are typed;
//! anything quoted is a string. Unlike YAML 1.1 readers, `yes`, `no`, `on` and `off` stay
//! strings. Refused with a clear error: several documents in one file, duplicate keys,
//! non-string keys, nesting deeper than [`crate::input::MAX_DEPTH`], and alias expansion past
//! a node budget or a byte budget (a "billion laughs" file must not exhaust memory, and
//! neither must 20,000 aliases of one 1 MiB string: few nodes, 20 GiB).

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

use crate::error::CoreError;
use crate::input::MAX_DEPTH;

/// Most nodes a document may expand to through aliases.
const MAX_NODES: usize = 1_000_000;

/// Most bytes of text (scalars and keys) a document may expand to through aliases: the
/// size bound of a document read without them.
pub const MAX_EXPANDED_BYTES: usize = crate::input::MAX_DOCUMENT_BYTES as usize;

/// Parse a single-document YAML text into a JSON value.
pub fn parse_yaml(text: &str, origin: &str) -> Result<Value, CoreError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader {
        events: Parser::new_from_str(text),
        origin,
        anchors: HashMap::new(),
        nodes: 0,
        bytes: 0,
    };
    let mut doc: Option<Value> = None;
    loop {
        let (event, span) = reader.next()?;
        match event {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                if doc.is_some() {
                    return Err(
                        reader.error(span, "several YAML documents in one file; expected one")
                    );
                }
                let (event, span) = reader.next()?;
                if matches!(event, Event::DocumentEnd) {
                    doc = Some(Value::Null);
                    continue;
                }
                doc = Some(reader.node(event, span, 0)?);
            }
            _ => return Err(reader.error(span, "unexpected YAML event")),
        }
    }
    Ok(doc.unwrap_or(Value::Null))
}

struct Reader<'a> {
    events: Parser<'a, saphyr_parser::StrInput<'a>>,
    origin: &'a str,
    anchors: HashMap<usize, Value>,
    nodes: usize,
    bytes: usize,
}

/// The next parser event, a scan error turned into [`CoreError::MalformedYaml`] with its
/// 1-based line and column (shared with [`crate::yamlspan`]).
pub(crate) fn next_event<'a>(
    events: &mut Parser<'a, saphyr_parser::StrInput<'a>>,
    origin: &str,
) -> Result<(Event<'a>, Span), CoreError> {
    match events.next() {
        Some(Ok(ev)) => Ok(ev),
        Some(Err(e)) => {
            let m = e.marker();
            Err(CoreError::MalformedYaml {
                origin: origin.to_string(),
                line: m.line(),
                column: m.col() + 1,
                message: e.info().to_string(),
            })
        }
        None => Ok((Event::StreamEnd, Span::default())),
    }
}

/// A [`CoreError::MalformedYaml`] at the start of `span`.
pub(crate) fn span_error(origin: &str, span: &Span, message: &str) -> CoreError {
    CoreError::MalformedYaml {
        origin: origin.to_string(),
        line: span.start.line(),
        column: span.start.col() + 1,
        message: message.to_string(),
    }
}

impl<'a> Reader<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), CoreError> {
        next_event(&mut self.events, self.origin)
    }

    fn error(&self, span: Span, message: &str) -> CoreError {
        span_error(self.origin, &span, message)
    }

    fn count(&mut self, n: usize, bytes: usize, span: Span) -> Result<(), CoreError> {
        self.nodes += n;
        self.bytes = self.bytes.saturating_add(bytes);
        if self.nodes > MAX_NODES {
            return Err(self.error(span, "document expands to too many nodes (alias bomb?)"));
        }
        if self.bytes > MAX_EXPANDED_BYTES {
            return Err(self.error(
                span,
                &format!(
                    "document expands through aliases to more than {} MiB of text (alias bomb?)",
                    MAX_EXPANDED_BYTES >> 20
                ),
            ));
        }
        Ok(())
    }

    fn node(&mut self, event: Event<'a>, span: Span, depth: usize) -> Result<Value, CoreError> {
        if depth > MAX_DEPTH {
            return Err(self.error(span, "nesting deeper than 128 levels"));
        }
        let own_bytes = match &event {
            Event::Scalar(text, ..) => text.len(),
            _ => 0,
        };
        self.count(1, own_bytes, span)?;
        let (value, anchor) = match event {
            Event::Alias(id) => {
                let v = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| self.error(span, "alias to an unknown anchor"))?;
                self.count(node_count(&v), text_bytes(&v), span)?;
                return Ok(v);
            }
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
                (self.scalar(&text, style, tag.as_deref(), span)?, anchor)
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (ev, sp) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, sp, depth + 1)?);
                }
                (Value::Array(items), anchor)
            }
            Event::MappingStart(anchor, _) => {
                let mut map = Map::new();
                loop {
                    let (ev, sp) = self.next()?;
                    if matches!(ev, Event::MappingEnd) {
                        break;
                    }
                    let key = match self.node(ev, sp, depth + 1)? {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        _ => return Err(self.error(sp, "mapping keys must be scalars")),
                    };
                    let (ev, vsp) = self.next()?;
                    let value = self.node(ev, vsp, depth + 1)?;
                    if key == "<<" {
                        return Err(self.error(sp, "merge keys (<<) are not supported"));
                    }
                    if map.insert(key.clone(), value).is_some() {
                        return Err(self.error(sp, &format!("duplicate key {key:?}")));
                    }
                }
                (Value::Object(map), anchor)
            }
            _ => return Err(self.error(span, "unexpected YAML event")),
        };
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
        Ok(value)
    }

    fn scalar(
        &self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&str>,
        span: Span,
    ) -> Result<Value, CoreError> {
        match tag {
            Some("!!str") => return Ok(Value::String(text.to_string())),
            Some("!!int") | Some("!!float") | Some("!!bool") | Some("!!null") | None => {}
            Some(other) => {
                return Err(self.error(span, &format!("unsupported tag {other}")));
            }
        }
        if style != ScalarStyle::Plain && tag.is_none() {
            return Ok(Value::String(text.to_string()));
        }
        let typed = core_schema(text);
        match (tag, &typed) {
            (Some("!!int"), Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(typed),
            (Some("!!float"), Value::Number(_)) => Ok(typed),
            (Some("!!bool"), Value::Bool(_)) => Ok(typed),
            (Some("!!null"), Value::Null) => Ok(typed),
            (Some(t), _) => Err(self.error(span, &format!("{text:?} is not a valid {t}"))),
            (None, _) => Ok(typed),
        }
    }
}

/// Resolve a plain scalar with the YAML 1.2 core schema.
pub(crate) fn core_schema(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return Value::Number(i.into());
        }
        if let Ok(u) = text.parse::<u64>() {
            return Value::Number(u.into());
        }
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Value::Number(i.into());
    }
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Value::Number(i.into());
    }
    let looks_float = {
        let b = digits.as_bytes();
        !b.is_empty()
            && (b[0].is_ascii_digit() || (b[0] == b'.' && b.len() > 1 && b[1].is_ascii_digit()))
            && digits
                .bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'-' | b'+'))
    };
    if looks_float
        && let Ok(f) = text.parse::<f64>()
        && let Some(n) = Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(text.to_string())
}

/// The bytes of text in a value: strings and keys (8 for any other scalar).
fn text_bytes(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len(),
        Value::Array(a) => a.iter().map(text_bytes).sum(),
        Value::Object(m) => m.iter().map(|(k, v)| k.len() + text_bytes(v)).sum(),
        _ => 8,
    }
}

fn node_count(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(node_count).sum::<usize>(),
        Value::Object(m) => 1 + m.values().map(node_count).sum::<usize>(),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn core_schema_types_and_yaml11_traps_stay_strings() {
        let v = parse_yaml(
            "a: 1\nb: 1.5\nc: true\nd: yes\ne: '16'\nf: ~\ng: no\nh: 0x1f\ni: 1e3\nj: 7.0\nk: v1.2.3\n",
            "x",
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"a":1,"b":1.5,"c":true,"d":"yes","e":"16","f":null,"g":"no","h":31,"i":1000.0,"j":7.0,"k":"v1.2.3"})
        );
    }

    #[test]
    fn anchors_resolve_and_duplicates_are_refused() {
        let v = parse_yaml("base: &b {x: 1}\nother: *b\n", "x").unwrap();
        assert_eq!(v["other"], json!({"x": 1}));
        let e = parse_yaml("a: 1\nb: 2\na: 3\n", "f.yaml").unwrap_err();
        assert!(e.to_string().contains("duplicate key \"a\""), "{e}");
        assert!(e.to_string().starts_with("f.yaml:3:"), "{e}");
    }

    #[test]
    fn several_documents_and_bad_syntax_are_refused() {
        assert!(parse_yaml("a: 1\n---\nb: 2\n", "x").is_err());
        let e = parse_yaml("a: [1, 2\n", "x").unwrap_err();
        assert!(matches!(e, CoreError::MalformedYaml { .. }));
    }

    #[test]
    fn alias_bombs_are_bounded() {
        let mut y = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            y.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = parse_yaml(&y, "x").unwrap_err();
        assert!(e.to_string().contains("too many nodes"), "{e}");
    }

    #[test]
    fn aliases_of_a_large_string_are_bounded_in_bytes() {
        // 1 MiB once, then 100 aliases of it: 101 nodes, 101 MiB
        let mut y = format!("big: &a \"{}\"\nmany:\n", "x".repeat(1 << 20));
        for _ in 0..100 {
            y.push_str("  - *a\n");
        }
        let e = parse_yaml(&y, "x").unwrap_err();
        assert!(e.to_string().contains("more than 64 MiB of text"), "{e}");
        // a few aliases of it are fine
        let mut y = format!("big: &a \"{}\"\nmany:\n", "x".repeat(1 << 20));
        for _ in 0..10 {
            y.push_str("  - *a\n");
        }
        assert_eq!(
            parse_yaml(&y, "x").unwrap()["many"]
                .as_array()
                .unwrap()
                .len(),
            10
        );
    }

    #[test]
    fn crlf_and_bom_are_read() {
        let v = parse_yaml("\u{feff}a: 1\r\nb: two\r\n", "x").unwrap();
        assert_eq!(v, json!({"a": 1, "b": "two"}));
    }
}
