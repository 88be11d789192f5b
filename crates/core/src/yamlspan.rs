//! YAML with positions: a small span tree for editors and scanners of human-written files.
//!
//! Editors of workflow files and kustomizations must change only the bytes of the value they
//! target (CONTRACT.md §5), and scanners must report where a value stands. Both need to know
//! which bytes of the file a scalar occupies, which a value tree ([`crate::yaml`]) forgets.
//! This module parses with `saphyr-parser`, the same parser, into [`Node`]s that keep the
//! byte offset, line and column of every scalar.
//!
//! Two traps of the parser are handled here once (STACK.md §3): its markers count
//! characters, not bytes, so offsets are converted; and a leading byte-order mark is
//! stripped before parsing and added back to every offset. A quoted scalar's end marker
//! may run past its closing quote, so [`Scalar::end`] is only exact for plain scalars; users
//! that need the closing quote scan for it from [`Scalar::start`].
//!
//! Several documents in one file are allowed (a multi-document manifest is common);
//! nesting is bounded by [`crate::input::MAX_DEPTH`]. Aliases stay aliases: nothing is
//! expanded, so an alias bomb costs nothing here.

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Span};

use crate::error::CoreError;
use crate::input::MAX_DEPTH;

/// A scalar and where it stands in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// The value after unquoting and unescaping.
    pub value: String,
    /// How it was written.
    pub style: ScalarStyle,
    /// Byte offset of its first character (the opening quote of a quoted scalar).
    pub start: usize,
    /// Byte offset just past it as the parser reports it (exact for plain scalars only).
    pub end: usize,
    /// 1-based line of `start`.
    pub line: usize,
    /// 1-based column (in characters) of `start`.
    pub column: usize,
}

/// A node of the span tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A scalar.
    Scalar(Scalar),
    /// A mapping: its entries in file order, and the byte offset where it starts.
    Map(Vec<(Node, Node)>, usize),
    /// A sequence: its items in file order, and the byte offset where it starts.
    Seq(Vec<Node>, usize),
    /// An alias (`*name`), not expanded.
    Alias(usize),
}

impl Node {
    /// The scalar, if this node is one.
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match self {
            Node::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The value of the entry whose key is the plain string `key`, if this is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries, _) => entries.iter().find_map(|(k, v)| {
                (k.as_scalar().map(|s| s.value.as_str()) == Some(key)).then_some(v)
            }),
            _ => None,
        }
    }

    /// The value of a scalar entry `key` of this mapping.
    pub fn get_str(&self, key: &str) -> Option<&Scalar> {
        self.get(key).and_then(Node::as_scalar)
    }

    /// The first mapping key (in file order) that repeats a key of its mapping, if any.
    /// Readers disagree on such a file (first wins, last wins, refused): an editor that
    /// must change exactly one value refuses it instead of guessing.
    pub fn duplicate_key(&self) -> Option<&Scalar> {
        let mut found: Option<&Scalar> = None;
        self.walk(&mut |n| {
            if found.is_some() {
                return;
            }
            if let Node::Map(entries, _) = n {
                let mut seen = std::collections::HashSet::new();
                for (k, _) in entries {
                    if let Some(k) = k.as_scalar()
                        && !seen.insert(k.value.as_str())
                    {
                        found = Some(k);
                        return;
                    }
                }
            }
        });
        found
    }

    /// The value as JSON, for comparing a file before and after an edit: plain scalars
    /// typed with the YAML 1.2 core schema, quoted ones as strings, keys as their text, an
    /// alias as `{"*": N}` (never expanded). Nothing here refuses duplicate keys; the last
    /// one wins, as in the comparison of both sides.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Node::Scalar(s) if s.style == ScalarStyle::Plain => crate::yaml::core_schema(&s.value),
            Node::Scalar(s) => Value::String(s.value.clone()),
            Node::Map(entries, _) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let key = match k {
                            Node::Scalar(s) => s.value.clone(),
                            other => other.to_json().to_string(),
                        };
                        (key, v.to_json())
                    })
                    .collect(),
            ),
            Node::Seq(items, _) => Value::Array(items.iter().map(Node::to_json).collect()),
            Node::Alias(id) => serde_json::json!({ "*": id }),
        }
    }

    /// Byte offset just past the last scalar below this node (quoted scalars to their
    /// closing quote), or the node's start when it holds none. For finding where the next
    /// line may be inserted.
    pub fn content_end(&self, src: &str) -> usize {
        let mut end = match self {
            Node::Scalar(s) => s.start,
            Node::Map(_, start) | Node::Seq(_, start) => *start,
            Node::Alias(_) => 0,
        };
        self.walk(&mut |n| {
            // An empty plain scalar (`key:` with no value) has no bytes of its own; the
            // parser may place it where the next token starts, so it does not count.
            if let Node::Scalar(s) = n
                && !(s.style == ScalarStyle::Plain && s.value.is_empty())
            {
                let e = scalar_extent(src, s).map_or(s.end, |(_, e)| e);
                end = end.max(e);
            }
        });
        end
    }

    /// Visit this node and every node below it, depth first, in file order.
    pub fn walk<'n>(&'n self, visit: &mut dyn FnMut(&'n Node)) {
        visit(self);
        match self {
            Node::Map(entries, _) => {
                for (k, v) in entries {
                    k.walk(visit);
                    v.walk(visit);
                }
            }
            Node::Seq(items, _) => items.iter().for_each(|i| i.walk(visit)),
            Node::Scalar(_) | Node::Alias(_) => {}
        }
    }
}

/// Converts the parser's character indices to byte offsets in the original text.
struct Offsets {
    base: usize,
    /// Byte offset of each character, for non-ASCII text; empty when text is ASCII.
    table: Vec<usize>,
    len: usize,
}

impl Offsets {
    fn new(text: &str, base: usize) -> Self {
        let table = if text.is_ascii() {
            Vec::new()
        } else {
            text.char_indices().map(|(i, _)| i).collect()
        };
        Offsets {
            base,
            table,
            len: text.len(),
        }
    }

    fn byte(&self, m: &Marker) -> usize {
        let i = m.index();
        self.base
            + if self.table.is_empty() {
                i.min(self.len)
            } else {
                self.table.get(i).copied().unwrap_or(self.len)
            }
    }
}

/// Parse every document of a YAML text into span trees.
pub fn parse_documents(text: &str, origin: &str) -> Result<Vec<Node>, CoreError> {
    let (body, base) = match text.strip_prefix('\u{feff}') {
        Some(rest) => (rest, 3),
        None => (text, 0),
    };
    let mut b = Builder {
        events: Parser::new_from_str(body),
        origin,
        offsets: Offsets::new(body, base),
    };
    let mut docs = Vec::new();
    loop {
        let (event, span) = b.next()?;
        match event {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                let (event, span) = b.next()?;
                if matches!(event, Event::DocumentEnd) {
                    continue;
                }
                docs.push(b.node(event, span, 0)?);
            }
            _ => return Err(b.error(&span, "unexpected YAML event")),
        }
    }
    Ok(docs)
}

struct Builder<'a> {
    events: Parser<'a, saphyr_parser::StrInput<'a>>,
    origin: &'a str,
    offsets: Offsets,
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), CoreError> {
        crate::yaml::next_event(&mut self.events, self.origin)
    }

    fn error(&self, span: &Span, message: &str) -> CoreError {
        crate::yaml::span_error(self.origin, span, message)
    }

    fn node(&mut self, event: Event<'a>, span: Span, depth: usize) -> Result<Node, CoreError> {
        if depth > MAX_DEPTH {
            return Err(self.error(&span, "nesting deeper than 128 levels"));
        }
        Ok(match event {
            Event::Alias(id) => Node::Alias(id),
            Event::Scalar(text, style, _, _) => Node::Scalar(Scalar {
                value: text.into_owned(),
                style,
                start: self.offsets.byte(&span.start),
                end: self.offsets.byte(&span.end),
                line: span.start.line(),
                column: span.start.col() + 1,
            }),
            Event::SequenceStart(_, _) => {
                let start = self.offsets.byte(&span.start);
                let mut items = Vec::new();
                loop {
                    let (ev, sp) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, sp, depth + 1)?);
                }
                Node::Seq(items, start)
            }
            Event::MappingStart(_, _) => {
                let start = self.offsets.byte(&span.start);
                let mut entries = Vec::new();
                loop {
                    let (ev, sp) = self.next()?;
                    if matches!(ev, Event::MappingEnd) {
                        break;
                    }
                    let key = self.node(ev, sp, depth + 1)?;
                    let (ev, vsp) = self.next()?;
                    let value = self.node(ev, vsp, depth + 1)?;
                    entries.push((key, value));
                }
                Node::Map(entries, start)
            }
            _ => return Err(self.error(&span, "unexpected YAML event")),
        })
    }
}

/// The exact byte range of a scalar as written (quotes included): the parser reports the
/// end exactly for plain scalars only, so quoted ones are scanned to their closing quote.
pub fn scalar_extent(src: &str, s: &Scalar) -> Result<(usize, usize), String> {
    let bytes = src.as_bytes();
    let end = match s.style {
        ScalarStyle::Plain => {
            let raw = src.get(s.start..s.end).ok_or("scalar outside the text")?;
            if raw.contains('\n') {
                return Err("a multi-line plain scalar cannot be edited in place".into());
            }
            s.end
        }
        ScalarStyle::SingleQuoted => {
            let mut i = s.start + 1;
            loop {
                match bytes.get(i) {
                    None | Some(b'\n') => return Err("unterminated single-quoted scalar".into()),
                    Some(b'\'') if bytes.get(i + 1) == Some(&b'\'') => i += 2,
                    Some(b'\'') => break i + 1,
                    Some(_) => i += 1,
                }
            }
        }
        ScalarStyle::DoubleQuoted => {
            let mut i = s.start + 1;
            loop {
                match bytes.get(i) {
                    None | Some(b'\n') => return Err("unterminated double-quoted scalar".into()),
                    Some(b'\\') => i += 2,
                    Some(b'"') => break i + 1,
                    Some(_) => i += 1,
                }
            }
        }
        _ => return Err("block scalars (| and >) cannot be edited in place".into()),
    };
    Ok((s.start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar<'n>(doc: &'n Node, path: &[&str]) -> &'n Scalar {
        let mut n = doc;
        for p in path {
            n = n.get(p).unwrap();
        }
        n.as_scalar().unwrap()
    }

    #[test]
    fn offsets_are_bytes_even_after_multibyte_text_and_a_bom() {
        let text = "\u{feff}# ünïcödé 🚀\na:\n  b: 'x'\n  c: plain\n";
        let docs = parse_documents(text, "t").unwrap();
        let c = scalar(&docs[0], &["a", "c"]);
        assert_eq!(&text[c.start..c.end], "plain");
        assert_eq!((c.line, c.column), (4, 6));
        let b = scalar(&docs[0], &["a", "b"]);
        assert_eq!(&text[b.start..b.start + 3], "'x'");
    }

    #[test]
    fn several_documents_and_aliases_are_kept_apart() {
        let docs = parse_documents("a: &x 1\nb: *x\n---\nc: 2\n", "t").unwrap();
        assert_eq!(docs.len(), 2);
        assert!(matches!(docs[0].get("b"), Some(Node::Alias(_))));
        assert_eq!(scalar(&docs[1], &["c"]).value, "2");
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = parse_documents("a: [1,\nb: 2\n", "f.yaml").unwrap_err();
        assert!(e.to_string().starts_with("f.yaml:"), "{e}");
    }
}
