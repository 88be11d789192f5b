//! Byte-preserving edits of YAML scalars: change a value, keep every other byte.
//!
//! GitOps files are written by people: comments, key order, quoting, indentation, CRLF line
//! endings and blank lines carry meaning, and a tool that reformats them produces diffs
//! nobody can review (the complaint against kustomize edit, yq and Flux's updater). The
//! editor here replaces exactly the bytes of one scalar, in its own style:
//!
//! * a plain scalar stays plain only if the new value reads back as the same string;
//!   otherwise it becomes double-quoted (`newTag: 16` would be read as a number, `true` as
//!   a boolean, `1e3` and `0x1F` as numbers);
//! * a single-quoted scalar stays single-quoted (`''` escapes a quote);
//! * a double-quoted scalar stays double-quoted (`\\` and `\"` escaped);
//! * block scalars (`|`, `>`) and multi-line scalars are refused, not rewritten.
//!
//! The parser's end marker of a quoted scalar may run past its closing quote (STACK.md §3),
//! so the closing quote is found by scanning from the start. After the edits, callers parse
//! the result again and compare (see [`check_only_changed`]).

use saphyr_parser::ScalarStyle;

use crate::yamlspan::Scalar;
pub use crate::yamlspan::scalar_extent;

/// One replacement of a byte range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// First byte replaced.
    pub start: usize,
    /// Just past the last byte replaced.
    pub end: usize,
    /// The new bytes.
    pub text: String,
}

/// Whether `v` written plain reads back as the same string (YAML 1.2 core schema, and the
/// YAML 1.1 booleans older readers still apply).
pub fn plain_safe(v: &str) -> bool {
    if v.is_empty() || v != v.trim() || v.contains(['\n', '\r', '\t']) {
        return false;
    }
    let lower = v.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "~" | "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
    ) {
        return false;
    }
    if looks_numeric(&lower) {
        return false;
    }
    let first = v.as_bytes()[0];
    if b"-?:,[]{}#&*!|>'\"%@`".contains(&first) {
        // A leading "-" is fine when followed by a letter ("-beta" is not a list item
        // only in flow context); quote anyway: the cost is two characters.
        return false;
    }
    !(v.contains(": ") || v.contains(" #") || v.ends_with(':'))
}

fn looks_numeric(v: &str) -> bool {
    let body = v.strip_prefix(['+', '-']).unwrap_or(v);
    if body.is_empty() {
        return false;
    }
    if matches!(body, ".inf" | ".nan") {
        return true;
    }
    if let Some(hex) = body.strip_prefix("0x") {
        return !hex.is_empty() && hex.bytes().all(|c| c.is_ascii_hexdigit());
    }
    if let Some(oct) = body.strip_prefix("0o") {
        return !oct.is_empty() && oct.bytes().all(|c| (b'0'..=b'7').contains(&c));
    }
    // Digits with at most one dot and an optional exponent: 16, 1.0, .5, 1e3, 1.2e-3,
    // and YAML 1.1 sexagesimal/underscore forms (1_000, 1:30) for old readers.
    let b = body.as_bytes();
    let mut i = 0;
    let mut digits = 0;
    let mut dot = false;
    while i < b.len() {
        match b[i] {
            b'0'..=b'9' | b'_' => digits += usize::from(b[i] != b'_'),
            b'.' if !dot => dot = true,
            b'e' if digits > 0 => {
                let rest = &body[i + 1..];
                let rest = rest.strip_prefix(['+', '-']).unwrap_or(rest);
                return !rest.is_empty() && rest.bytes().all(|c| c.is_ascii_digit());
            }
            b':' if digits > 0 => {}
            _ => return false,
        }
        i += 1;
    }
    digits > 0
}

/// Write `value` in the style of `original`: plain if safe, else double-quoted.
pub fn render(original: ScalarStyle, value: &str) -> String {
    match original {
        ScalarStyle::Plain if plain_safe(value) => value.to_string(),
        ScalarStyle::SingleQuoted if !value.contains(['\n', '\r']) => {
            format!("'{}'", value.replace('\'', "''"))
        }
        _ => double_quoted(value),
    }
}

/// A double-quoted YAML scalar.
pub fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The edit that sets scalar `s` of `src` to `value`, in its own style.
pub fn set_scalar(src: &str, s: &Scalar, value: &str) -> Result<Edit, String> {
    let (start, end) = scalar_extent(src, s)?;
    Ok(Edit {
        start,
        end,
        text: render(s.style, value),
    })
}

/// The line ending a file uses: CRLF when its first line ends so, else LF.
pub fn line_ending(src: &str) -> &'static str {
    match src.find('\n') {
        Some(i) if i > 0 && src.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

/// The byte offset where a new line may be inserted after the line holding `at`: just past
/// that line's end. When the file does not end with a newline there, the returned prefix
/// (a line ending) must be written before the new line.
pub fn after_line(src: &str, at: usize) -> (usize, &'static str) {
    match src[at..].find('\n') {
        Some(i) => (at + i + 1, ""),
        None => (src.len(), line_ending(src)),
    }
}

/// The byte offset where the line holding `at` starts.
pub fn line_start(src: &str, at: usize) -> usize {
    src[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// Apply edits (any order; they must not overlap) and return the new text.
pub fn apply(src: &str, edits: &[Edit]) -> Result<String, String> {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| e.start);
    let mut out = String::with_capacity(src.len() + 64);
    let mut at = 0;
    for e in sorted {
        if e.start < at || e.end < e.start || e.end > src.len() {
            return Err("overlapping or out-of-range edits".into());
        }
        out.push_str(&src[at..e.start]);
        out.push_str(&e.text);
        at = e.end;
    }
    out.push_str(&src[at..]);
    Ok(out)
}

/// Check that two parsed documents differ exactly at the expected paths: `changed` lists
/// (JSON pointer, new value) pairs; every other value must be equal.
pub fn check_only_changed(
    before: &serde_json::Value,
    after: &serde_json::Value,
    changed: &[(String, serde_json::Value)],
) -> Result<(), String> {
    let mut expected = before.clone();
    for (ptr, v) in changed {
        match expected.pointer_mut(ptr) {
            Some(slot) => *slot = v.clone(),
            None => {
                // A new key of its parent object, or a new last item of its parent array.
                let (parent, key) = ptr.rsplit_once('/').ok_or("bad pointer")?;
                match expected.pointer_mut(parent) {
                    Some(serde_json::Value::Object(obj)) => {
                        obj.insert(key.replace("~1", "/").replace("~0", "~"), v.clone());
                    }
                    Some(serde_json::Value::Array(items)) if key == items.len().to_string() => {
                        items.push(v.clone());
                    }
                    _ => return Err(format!("{parent} cannot take {key:?}")),
                }
            }
        }
    }
    if &expected == after {
        Ok(())
    } else {
        Err(
            "the edited file differs from the expected document in more than the edited values"
                .into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yamlspan::parse_documents;

    fn tag_edit(src: &str, value: &str) -> String {
        let docs = parse_documents(src, "t").unwrap();
        let s = docs[0].get("images").unwrap();
        let crate::yamlspan::Node::Seq(items, _) = s else {
            panic!()
        };
        let tag = items[0].get_str("newTag").unwrap();
        let e = set_scalar(src, tag, value).unwrap();
        apply(src, &[e]).unwrap()
    }

    #[test]
    fn plain_values_that_would_change_type_are_quoted() {
        for v in [
            "16", "1e3", "true", "0x1F", "1.0", "no", "~", "-1", "1_000", ".inf",
        ] {
            assert!(!plain_safe(v), "{v}");
        }
        for v in [
            "pr-42-a1b2c3d",
            "v1.2.3",
            "1.2.3",
            "latest",
            "2026.11.1",
            "e3",
        ] {
            assert!(plain_safe(v), "{v}");
        }
        assert_eq!(
            tag_edit("images:\n- name: a\n  newTag: v1 # keep\n", "16"),
            "images:\n- name: a\n  newTag: \"16\" # keep\n"
        );
    }

    #[test]
    fn quoting_style_and_comments_stay() {
        let src = "images:\n  - name: a\n    newTag: 'v1.2.3'   # spaces\n";
        assert_eq!(
            tag_edit(src, "it's"),
            "images:\n  - name: a\n    newTag: 'it''s'   # spaces\n"
        );
        let src = "images:\r\n- {name: a, newTag: \"7.0\", digest: x} # é\r\n";
        assert_eq!(
            tag_edit(src, "7.1"),
            "images:\r\n- {name: a, newTag: \"7.1\", digest: x} # é\r\n"
        );
        let src = "images:\n- {name: a, newTag: 1.25}\n";
        assert_eq!(
            tag_edit(src, "1.26"),
            "images:\n- {name: a, newTag: \"1.26\"}\n"
        );
    }

    #[test]
    fn block_scalars_are_refused() {
        let src = "images:\n- name: a\n  newTag: |\n    v1\n";
        let docs = parse_documents(src, "t").unwrap();
        let crate::yamlspan::Node::Seq(items, _) = docs[0].get("images").unwrap() else {
            panic!()
        };
        assert!(set_scalar(src, items[0].get_str("newTag").unwrap(), "v2").is_err());
    }

    #[test]
    fn only_the_expected_values_may_change() {
        let a = serde_json::json!({"images": [{"name": "a", "newTag": "v1"}]});
        let b = serde_json::json!({"images": [{"name": "a", "newTag": "v2"}]});
        check_only_changed(&a, &b, &[("/images/0/newTag".into(), "v2".into())]).unwrap();
        assert!(check_only_changed(&a, &b, &[]).is_err());
        let c = serde_json::json!({"images": [{"name": "a", "newTag": "v1"}, {"name": "b"}]});
        check_only_changed(
            &a,
            &c,
            &[("/images/1".into(), serde_json::json!({"name": "b"}))],
        )
        .unwrap();
        assert!(check_only_changed(&a, &c, &[("/images/2".into(), 1.into())]).is_err());
    }

    #[test]
    fn line_helpers_follow_the_file() {
        assert_eq!(line_ending("a: 1\r\nb: 2\r\n"), "\r\n");
        assert_eq!(line_ending("a: 1\nb: 2"), "\n");
        assert_eq!(after_line("a: 1\nb: 2\n", 1), (5, ""));
        assert_eq!(after_line("a: 1\nb: 2", 6), (9, "\n"));
        assert_eq!(line_start("a: 1\nb: 2\n", 8), 5);
    }

    /// Every `newTag` of every kustomization in the corpus, set to a value that must be
    /// quoted and to one that stays plain: only those bytes change, and the file parses to
    /// the old document with exactly that value changed. Files that do not parse are
    /// refused by the parser, never edited.
    #[test]
    fn every_corpus_new_tag_can_be_edited_in_place() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/corpus");
        let mut edited = 0;
        for sub in ["kustomize", "synthetic", "flux"] {
            for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
                let path = entry.unwrap().path();
                let src = std::fs::read_to_string(&path).unwrap();
                let Ok(docs) = parse_documents(&src, "t") else {
                    continue;
                };
                if docs.len() != 1 {
                    continue;
                }
                let Some(crate::yamlspan::Node::Seq(items, _)) = docs[0].get("images") else {
                    continue;
                };
                let before = crate::yaml::parse_yaml(&src, "t").unwrap();
                for (i, item) in items.iter().enumerate() {
                    let Some(tag) = item.get_str("newTag") else {
                        continue;
                    };
                    for value in ["16", "pr-42-a1b2c3d"] {
                        let e = set_scalar(&src, tag, value).unwrap();
                        let out = apply(&src, std::slice::from_ref(&e)).unwrap();
                        assert_eq!(&out[..e.start], &src[..e.start]);
                        let tail = out.len() - (src.len() - e.end);
                        assert_eq!(&out[tail..], &src[e.end..], "{}", path.display());
                        let after = crate::yaml::parse_yaml(&out, "t").unwrap();
                        check_only_changed(
                            &before,
                            &after,
                            &[(format!("/images/{i}/newTag"), value.into())],
                        )
                        .unwrap_or_else(|m| panic!("{}: {m}", path.display()));
                        edited += 1;
                    }
                }
            }
        }
        assert!(edited >= 40, "{edited}");
    }
}
