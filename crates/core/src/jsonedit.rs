//! Byte-preserving edits of human-written JSON files.
//!
//! A registry in git is reviewed through `git diff`, so a tool that changes one value must
//! change only that value's bytes: key order, number spelling (`1.0`, `1e2`), indentation,
//! line endings and unknown fields stay exactly as they were. (The replaced apply rewrote
//! the whole registry through a normaliser and turned `enabled: false` into `true`.)
//!
//! [`apply`] parses the text into a tree of byte spans, resolves each JSON Pointer, and
//! splices the new values in from the end backwards. A pointer whose last objects are
//! missing is created inside the deepest existing object, in the file's own layout.
//! Afterwards the result is parsed again and compared with the expected document (the old
//! one with exactly these values set), so an edit can never change anything else.

use serde_json::Value;

use crate::error::CoreError;
use crate::input::MAX_DEPTH;

/// A node of the span tree: where a value sits in the text.
#[derive(Debug, Clone)]
struct Node {
    start: usize,
    end: usize,
    kind: NodeKind,
}

#[derive(Debug, Clone)]
enum NodeKind {
    Object(Vec<Member>),
    Array(Vec<Node>),
    Scalar,
}

#[derive(Debug, Clone)]
struct Member {
    key: String,
    key_start: usize,
    value: Node,
}

struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
    origin: &'a str,
}

impl<'a> Parser<'a> {
    fn err(&self, message: &str) -> CoreError {
        let before = &self.b[..self.pos.min(self.b.len())];
        let line = before.iter().filter(|&&c| c == b'\n').count() + 1;
        let col = before.iter().rev().take_while(|&&c| c != b'\n').count() + 1;
        CoreError::MalformedJson {
            origin: self.origin.to_string(),
            line,
            column: col,
            message: message.to_string(),
        }
    }

    fn ws(&mut self) {
        while self.pos < self.b.len() && matches!(self.b[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, CoreError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting deeper than 128 levels"));
        }
        self.ws();
        let start = self.pos;
        match self.b.get(self.pos) {
            Some(b'{') => self.object(start, depth),
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.ws();
                if self.b.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                } else {
                    loop {
                        items.push(self.value(depth + 1)?);
                        self.ws();
                        match self.b.get(self.pos) {
                            Some(b',') => self.pos += 1,
                            Some(b']') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(self.err("expected ',' or ']'")),
                        }
                    }
                }
                Ok(Node {
                    start,
                    end: self.pos,
                    kind: NodeKind::Array(items),
                })
            }
            Some(b'"') => {
                self.string()?;
                Ok(Node {
                    start,
                    end: self.pos,
                    kind: NodeKind::Scalar,
                })
            }
            Some(_) => {
                while self.pos < self.b.len()
                    && !matches!(
                        self.b[self.pos],
                        b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'
                    )
                {
                    self.pos += 1;
                }
                let token = &self.b[start..self.pos];
                let ok = matches!(token, b"true" | b"false" | b"null")
                    || serde_json::from_slice::<serde_json::Number>(token).is_ok();
                if !ok {
                    self.pos = start;
                    return Err(self.err("expected a JSON value"));
                }
                Ok(Node {
                    start,
                    end: self.pos,
                    kind: NodeKind::Scalar,
                })
            }
            None => Err(self.err("unexpected end of input")),
        }
    }

    /// An object from its `{` at `start`; a duplicate key is an error (readers disagree on
    /// which one counts).
    fn object(&mut self, start: usize, depth: usize) -> Result<Node, CoreError> {
        self.pos += 1;
        let mut members: Vec<Member> = Vec::new();
        self.ws();
        if self.b.get(self.pos) == Some(&b'}') {
            self.pos += 1;
        } else {
            loop {
                self.ws();
                let key_start = self.pos;
                if self.b.get(self.pos) != Some(&b'"') {
                    return Err(self.err("expected a string key"));
                }
                self.string()?;
                let key: String = serde_json::from_slice(&self.b[key_start..self.pos])
                    .map_err(|_| self.err("invalid string"))?;
                if members.iter().any(|m| m.key == key) {
                    return Err(self.err(&format!("duplicate key {key:?}")));
                }
                self.ws();
                if self.b.get(self.pos) != Some(&b':') {
                    return Err(self.err("expected ':'"));
                }
                self.pos += 1;
                let value = self.value(depth + 1)?;
                members.push(Member {
                    key,
                    key_start,
                    value,
                });
                self.ws();
                match self.b.get(self.pos) {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.err("expected ',' or '}'")),
                }
            }
        }
        Ok(Node {
            start,
            end: self.pos,
            kind: NodeKind::Object(members),
        })
    }

    fn string(&mut self) -> Result<(), CoreError> {
        self.pos += 1;
        while let Some(&c) = self.b.get(self.pos) {
            match c {
                b'\\' => self.pos += 2,
                b'"' => {
                    self.pos += 1;
                    return Ok(());
                }
                c if c < 0x20 => return Err(self.err("control character in string")),
                _ => self.pos += 1,
            }
        }
        Err(self.err("unterminated string"))
    }
}

fn parse_tree(text: &str, origin: &str) -> Result<Node, CoreError> {
    let mut p = Parser {
        b: text.as_bytes(),
        pos: 0,
        origin,
    };
    let root = p.value(0)?;
    p.ws();
    if p.pos != text.len() {
        return Err(p.err("trailing characters after the document"));
    }
    Ok(root)
}

/// Split a JSON Pointer (RFC 6901) into unescaped tokens.
pub fn pointer_tokens(pointer: &str) -> Result<Vec<String>, CoreError> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(CoreError::usage(format!(
            "invalid JSON Pointer {pointer:?}: it must be empty or start with /"
        )));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

/// What went wrong with one edit.
fn edit_error(origin: &str, pointer: &str, message: &str) -> CoreError {
    CoreError::usage(format!("{origin}: cannot set {pointer}: {message}"))
}

struct Splice {
    start: usize,
    end: usize,
    text: String,
}

/// The document's indentation unit and line ending, as written.
struct Layout {
    newline: &'static str,
    unit: String,
}

fn layout(text: &str) -> Layout {
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let unit = text
        .lines()
        .map(|l| &l[..l.len() - l.trim_start_matches([' ', '\t']).len()])
        .filter(|ind| !ind.is_empty())
        .min_by_key(|ind| ind.len())
        .unwrap_or("  ")
        .to_string();
    Layout { newline, unit }
}

/// The indentation of the line holding byte `at`.
fn indent_at(text: &str, at: usize) -> &str {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..];
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

/// One-line JSON in the usual hand-written spacing: `{"a": 1, "b": [1, 2]}`.
fn inline(value: &Value) -> String {
    match value {
        Value::Object(m) => {
            let members: Vec<String> = m
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}: {}",
                        serde_json::to_string(k).unwrap_or_default(),
                        inline(v)
                    )
                })
                .collect();
            format!("{{{}}}", members.join(", "))
        }
        Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(inline).collect::<Vec<_>>().join(", ")
            )
        }
        scalar => serde_json::to_string(scalar).unwrap_or_default(),
    }
}

/// Render `value` for insertion at `indent`, pretty when the surrounding object is.
fn render(value: &Value, multiline: bool, indent: &str, lay: &Layout) -> String {
    if !multiline {
        return inline(value);
    }
    let mut buf = Vec::new();
    let unit = lay.unit.as_bytes();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(unit);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(value, &mut ser).ok();
    let pretty = String::from_utf8(buf).unwrap_or_default();
    pretty
        .split('\n')
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                l.to_string()
            } else {
                format!("{indent}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join(lay.newline)
}

fn plan_edit(
    text: &str,
    root: &Node,
    pointer: &str,
    value: &Value,
    lay: &Layout,
    origin: &str,
) -> Result<Splice, CoreError> {
    let tokens = pointer_tokens(pointer)?;
    let mut node = root;
    for (i, token) in tokens.iter().enumerate() {
        match &node.kind {
            NodeKind::Object(members) => match members.iter().find(|m| &m.key == token) {
                Some(m) => node = &m.value,
                None => {
                    // Create the rest of the path inside this object.
                    let mut nested = value.clone();
                    for t in tokens[i + 1..].iter().rev() {
                        let mut m = serde_json::Map::new();
                        m.insert(t.clone(), nested);
                        nested = Value::Object(m);
                    }
                    return Ok(insert_member(text, node, members, token, &nested, lay));
                }
            },
            NodeKind::Array(items) => {
                let idx: usize =
                    token
                        .parse()
                        .ok()
                        .filter(|i| *i < items.len())
                        .ok_or_else(|| {
                            edit_error(origin, pointer, &format!("no array element {token:?}"))
                        })?;
                node = &items[idx];
            }
            NodeKind::Scalar => {
                return Err(edit_error(
                    origin,
                    pointer,
                    &format!("{} is not an object or array", tokens[..i].join("/")),
                ));
            }
        }
    }
    let multiline = text[node.start..node.end].contains('\n');
    let indent = indent_at(text, node.start).to_string();
    Ok(Splice {
        start: node.start,
        end: node.end,
        text: render(value, multiline, &indent, lay),
    })
}

fn insert_member(
    text: &str,
    obj: &Node,
    members: &[Member],
    key: &str,
    value: &Value,
    lay: &Layout,
) -> Splice {
    let key_json = serde_json::to_string(key).unwrap_or_default();
    let multiline = text[obj.start..obj.end].contains('\n');
    match members.last() {
        Some(last) => {
            let (sep, indent) = if multiline {
                let ind = indent_at(text, last.key_start).to_string();
                (format!(",{}{ind}", lay.newline), ind)
            } else {
                (", ".to_string(), String::new())
            };
            let rendered = render(value, multiline, &indent, lay);
            Splice {
                start: last.value.end,
                end: last.value.end,
                text: format!("{sep}{key_json}: {rendered}"),
            }
        }
        None => {
            let close = obj.end - 1;
            if multiline {
                let outer = indent_at(text, close).to_string();
                let inner = format!("{outer}{}", lay.unit);
                let rendered = render(value, true, &inner, lay);
                Splice {
                    start: obj.start + 1,
                    end: close,
                    text: format!(
                        "{nl}{inner}{key_json}: {rendered}{nl}{outer}",
                        nl = lay.newline
                    ),
                }
            } else {
                Splice {
                    start: obj.start + 1,
                    end: close,
                    text: format!("{key_json}: {}", render(value, false, "", lay)),
                }
            }
        }
    }
}

/// Set each `(pointer, value)` in the JSON `text`, changing only those bytes.
///
/// Pointers are applied in order; two edits may not touch the same value or nest. The
/// result is re-parsed and checked to be exactly the old document with these values set.
pub fn apply(text: &str, edits: &[(String, Value)], origin: &str) -> Result<String, CoreError> {
    let mut current = text.to_string();
    for (pointer, value) in edits {
        let root = parse_tree(&current, origin)?;
        let lay = layout(&current);
        let s = plan_edit(&current, &root, pointer, value, &lay, origin)?;
        current.replace_range(s.start..s.end, &s.text);
    }
    // Prove it: the new text parses to exactly the old document with the edits applied.
    let mut expected: Value =
        crate::input::value_from_str(text).map_err(|e| crate::input::json_error(&e, origin))?;
    for (pointer, value) in edits {
        set_pointer(&mut expected, pointer, value.clone())?;
    }
    let got: Value =
        crate::input::value_from_str(&current).map_err(|e| crate::input::json_error(&e, origin))?;
    if got != expected {
        return Err(edit_error(
            origin,
            "the document",
            "the edit changed more than the targeted values (refused)",
        ));
    }
    Ok(current)
}

/// Check that `text` is JSON the editor can work on (no duplicate keys, within limits).
pub fn check(text: &str, origin: &str) -> Result<(), CoreError> {
    parse_tree(text, origin).map(|_| ())
}

/// Set a value in a `serde_json::Value` by pointer, creating missing objects.
pub fn set_pointer(doc: &mut Value, pointer: &str, value: Value) -> Result<(), CoreError> {
    let tokens = pointer_tokens(pointer)?;
    let mut node = doc;
    for token in &tokens {
        node = match node {
            Value::Object(m) => m
                .entry(token.clone())
                .or_insert(Value::Object(serde_json::Map::new())),
            Value::Array(a) => {
                let idx: usize = token.parse().map_err(|_| {
                    CoreError::usage(format!("no array element {token:?} in {pointer}"))
                })?;
                a.get_mut(idx).ok_or_else(|| {
                    CoreError::usage(format!("no array element {idx} in {pointer}"))
                })?
            }
            _ => {
                return Err(CoreError::usage(format!(
                    "cannot set {pointer}: a parent is not an object"
                )));
            }
        };
    }
    *node = value;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(text: &str, edits: &[(&str, Value)]) -> String {
        let edits: Vec<(String, Value)> = edits
            .iter()
            .map(|(p, v)| (p.to_string(), v.clone()))
            .collect();
        apply(text, &edits, "reg.json").unwrap()
    }

    #[test]
    fn only_the_targeted_bytes_change() {
        let text = "{\n    \"z\": 1.0,\n    \"policy\": {\"rollout\": {\"canaryPercent\": 25, \"pause\": {\"manual\": true}}},\n    \"n\": 1e2,\n    \"loops\": [{\"enabled\": false}]\n}\n";
        let out = set(
            text,
            &[
                ("/policy/rollout/canaryPercent", json!(50)),
                ("/policy/rollout/pause/manual", json!(false)),
            ],
        );
        assert_eq!(
            out,
            text.replace("25", "50")
                .replace("\"manual\": true", "\"manual\": false")
        );
    }

    #[test]
    fn missing_keys_are_created_in_the_files_layout() {
        let text = "{\r\n  \"policy\": {\r\n    \"rollout\": {\r\n      \"canaryPercent\": 10\r\n    }\r\n  }\r\n}\r\n";
        let out = set(text, &[("/policy/rollout/pause/manual", json!(true))]);
        assert_eq!(
            out,
            "{\r\n  \"policy\": {\r\n    \"rollout\": {\r\n      \"canaryPercent\": 10,\r\n      \"pause\": {\r\n        \"manual\": true\r\n      }\r\n    }\r\n  }\r\n}\r\n"
        );
        let out = set("{\"a\": {}}", &[("/a/b", json!("x"))]);
        assert_eq!(out, "{\"a\": {\"b\": \"x\"}}");
        let out = set("{\"a\": {\"c\": 1}}", &[("/a/b", json!({"d": [1, 2]}))]);
        assert_eq!(out, "{\"a\": {\"c\": 1, \"b\": {\"d\": [1, 2]}}}");
        let out = set("{\n\t\"a\": {\n\t}\n}", &[("/a/b", json!(1))]);
        assert_eq!(out, "{\n\t\"a\": {\n\t\t\"b\": 1\n\t}\n}");
    }

    #[test]
    fn whole_objects_are_replaced_in_place() {
        let text = "{\n  \"gov\": {\"actor\": \"a\"},\n  \"x\": 1\n}";
        let out = set(
            text,
            &[("/gov", json!({"actor": "b", "approvalRef": "CHG-1"}))],
        );
        assert_eq!(
            out,
            "{\n  \"gov\": {\"actor\": \"b\", \"approvalRef\": \"CHG-1\"},\n  \"x\": 1\n}"
        );
    }

    #[test]
    fn refusals() {
        let e = apply("{\"a\": 1, \"a\": 2}", &[("/a".into(), json!(3))], "r.json").unwrap_err();
        assert!(e.to_string().contains("duplicate key \"a\""), "{e}");
        let e = apply("{\"a\": 1}", &[("/a/b".into(), json!(3))], "r.json").unwrap_err();
        assert!(e.to_string().contains("is not an object or array"), "{e}");
        let e = apply("{\"a\": [1]}", &[("/a/5".into(), json!(3))], "r.json").unwrap_err();
        assert!(e.to_string().contains("no array element"), "{e}");
        assert!(apply("{\"a\": 1", &[("/a".into(), json!(3))], "r.json").is_err());
        assert!(apply("{\"a\": 1} x", &[("/a".into(), json!(3))], "r.json").is_err());
        assert!(apply("{\"a\": tru}", &[("/a".into(), json!(3))], "r.json").is_err());
        assert!(pointer_tokens("a/b").is_err());
        assert_eq!(pointer_tokens("/a~1b/c~0d").unwrap(), ["a/b", "c~d"]);
    }

    #[test]
    fn inline_values_with_tricky_strings_are_rendered_exactly() {
        let v = json!({"s": "a\":,\"b", "n": [1, {"x": null}]});
        let out = set("{\"a\": 1}", &[("/b", v.clone())]);
        assert_eq!(
            out,
            r#"{"a": 1, "b": {"s": "a\":,\"b", "n": [1, {"x": null}]}}"#
        );
    }

    #[test]
    fn escaped_keys_and_strings_with_brackets_are_handled() {
        let text = r#"{"a/b": {"s": "}],\"{"}, "k": 1}"#;
        let out = set(text, &[("/a~1b/s", json!("new")), ("/k", json!(2))]);
        assert_eq!(out, r#"{"a/b": {"s": "new"}, "k": 2}"#);
    }
}
