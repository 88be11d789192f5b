//! `xtask house`: the numbers docs/ARCHITECTURE.md promises, checked on the source.
//!
//! * no function longer than [`MAX_FN_LINES`] lines outside test code;
//! * no `cli.rs` longer than [`MAX_CLI_LINES`] lines (a `cli.rs` holds the flags and the run
//!   sequence, the rules live in named modules);
//! * no import circle between the top-level modules of a crate.
//!
//! The source is read with a small tokenizer rather than line patterns: braces inside string,
//! raw-string, byte and char literals and in comments do not count, a lifetime is not a char
//! literal, and `#[cfg(test)]` items are skipped whole. It is not a Rust parser; it only has
//! to find `fn` bodies, `mod` items and `crate::`/`super::` paths, which these rules need.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Longest function body allowed outside test code, in lines (signature to closing brace).
pub const MAX_FN_LINES: usize = 100;
/// Integration tests longer than this are listed (information, not a breach).
pub const MAX_TEST_LINES: usize = 150;
/// Longest `cli.rs` allowed, in lines.
pub const MAX_CLI_LINES: usize = 350;

/// One token of Rust source that these checks care about, with its line (1-based).
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Punct(char),
    /// `::`
    Path,
    /// A literal (string, char, number); its text does not matter here.
    Lit,
}

fn tokenize(src: &str) -> Vec<(Tok, usize)> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut line) = (0usize, 1usize);
    let count_lines = |s: &[u8]| s.iter().filter(|&&c| c == b'\n').count();
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            _ if c.is_ascii_whitespace() => i += 1,
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = skip_block_comment(b, i);
                line += count_lines(&b[i..end]);
                i = end;
            }
            b'"' => {
                let start = i;
                i = skip_quoted(b, i + 1, b'"');
                line += count_lines(&b[start..i.min(b.len())]);
                out.push((Tok::Lit, line));
            }
            b'\'' => {
                // A char literal ('x', '\n', '\u{..}', '{') or a lifetime ('a, 'static).
                let is_char = match (b.get(i + 1), b.get(i + 2)) {
                    (Some(b'\\'), _) => true,
                    (Some(_), Some(b'\'')) => true,
                    (Some(&c1), _) if c1 >= 0x80 => true,
                    _ => false,
                };
                if is_char {
                    i = skip_quoted(b, i + 1, b'\'');
                    out.push((Tok::Lit, line));
                } else {
                    i += 1;
                }
            }
            _ if c == b'_' || c.is_ascii_alphabetic() => {
                let (end, tok) = word(src, i);
                line += count_lines(&b[i..end]);
                i = end;
                out.push((tok, line));
            }
            _ if c.is_ascii_digit() => {
                while i < b.len() && (b[i] == b'_' || b[i] == b'.' || b[i].is_ascii_alphanumeric())
                {
                    // `0..n` is a range, not a number with a dot.
                    if b[i] == b'.' && b.get(i + 1) == Some(&b'.') {
                        break;
                    }
                    i += 1;
                }
                out.push((Tok::Lit, line));
            }
            b':' if b.get(i + 1) == Some(&b':') => {
                out.push((Tok::Path, line));
                i += 2;
            }
            _ => {
                out.push((Tok::Punct(c as char), line));
                i += 1;
            }
        }
    }
    out
}

/// Index just past a (nested) block comment that opens at `i`.
fn skip_block_comment(b: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                break;
            }
        } else {
            i += 1;
        }
    }
    i.min(b.len())
}

/// The word at `start`: an identifier, or a raw string (`r"…"`, `r#"…"#`, `br…`), a byte
/// string (`b"…"`) or a byte char (`b'x'`); returns where it ends and its token.
fn word(src: &str, start: usize) -> (usize, Tok) {
    let b = src.as_bytes();
    let mut i = start;
    while i < b.len() && (b[i] == b'_' || b[i].is_ascii_alphanumeric()) {
        i += 1;
    }
    let word = &src[start..i];
    let hashes = b[i..].iter().take_while(|&&h| h == b'#').count();
    if matches!(word, "r" | "br" | "cr") && b.get(i + hashes) == Some(&b'"') {
        let close: Vec<u8> = std::iter::once(b'"')
            .chain(std::iter::repeat_n(b'#', hashes))
            .collect();
        let body = i + hashes + 1;
        let end = b[body..]
            .windows(close.len())
            .position(|w| w == close.as_slice())
            .map_or(b.len(), |p| body + p + close.len());
        (end, Tok::Lit)
    } else if matches!(word, "b" | "c") && b.get(i) == Some(&b'"') {
        (skip_quoted(b, i + 1, b'"'), Tok::Lit)
    } else if word == "b" && b.get(i) == Some(&b'\'') {
        (skip_quoted(b, i + 1, b'\''), Tok::Lit)
    } else {
        (i, Tok::Ident(word.to_string()))
    }
}

/// Index just past the closing `quote` of a literal whose body starts at `i`.
fn skip_quoted(b: &[u8], mut i: usize, quote: u8) -> usize {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// Index of the token that closes the brace group opened at `open`.
fn matching_close(toks: &[(Tok, usize)], open: usize) -> usize {
    let mut depth = 0i64;
    for (k, (t, _)) in toks.iter().enumerate().skip(open) {
        match t {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth -= 1;
                if depth == 0 {
                    return k;
                }
            }
            _ => {}
        }
    }
    toks.len() - 1
}

/// Drops every item marked `#[cfg(test)]` (a test module or a test-only function).
fn without_test_items(toks: Vec<(Tok, usize)>) -> Vec<(Tok, usize)> {
    let is = |k: usize, t: Tok| toks.get(k).map(|x| &x.0) == Some(&t);
    let mut out = Vec::with_capacity(toks.len());
    let mut k = 0;
    while k < toks.len() {
        let cfg_test = is(k, Tok::Punct('#'))
            && is(k + 1, Tok::Punct('['))
            && is(k + 2, Tok::Ident("cfg".into()))
            && is(k + 3, Tok::Punct('('))
            && is(k + 4, Tok::Ident("test".into()))
            && is(k + 5, Tok::Punct(')'))
            && is(k + 6, Tok::Punct(']'));
        if cfg_test {
            // Skip to the end of the item: its brace group, or a `;` before any brace.
            let mut j = k + 7;
            while j < toks.len() && !matches!(toks[j].0, Tok::Punct('{') | Tok::Punct(';')) {
                j += 1;
            }
            k = if is(j, Tok::Punct('{')) {
                matching_close(&toks, j) + 1
            } else {
                j + 1
            };
            continue;
        }
        out.push(toks[k].clone());
        k += 1;
    }
    out
}

/// A function found in a file: its name, first line and length in lines.
#[derive(Debug, Clone, PartialEq)]
pub struct FnSize {
    /// The function's name.
    pub name: String,
    /// The line of its `fn` keyword.
    pub line: usize,
    /// Lines from the `fn` keyword to its closing brace, both included.
    pub lines: usize,
}

/// Every function with a body in `src`, test items left out.
pub fn functions(src: &str) -> Vec<FnSize> {
    let toks = without_test_items(tokenize(src));
    let mut out = Vec::new();
    for k in 0..toks.len() {
        let (Tok::Ident(kw), line) = &toks[k] else {
            continue;
        };
        let Some((Tok::Ident(name), _)) = toks.get(k + 1) else {
            continue;
        };
        if kw != "fn" {
            continue;
        }
        // The body is the first `{` after the signature at parenthesis depth 0; a `;` first
        // means a declaration without a body (a trait method).
        let mut paren = 0i64;
        let mut j = k + 2;
        while j < toks.len() {
            match toks[j].0 {
                Tok::Punct('(') | Tok::Punct('[') => paren += 1,
                Tok::Punct(')') | Tok::Punct(']') => paren -= 1,
                Tok::Punct('{') | Tok::Punct(';') if paren == 0 => break,
                _ => {}
            }
            j += 1;
        }
        if j < toks.len() && toks[j].0 == Tok::Punct('{') {
            let close = matching_close(&toks, j);
            out.push(FnSize {
                name: name.clone(),
                line: *line,
                lines: toks[close].1 - line + 1,
            });
        }
    }
    out
}

/// The top-level modules of the crate that `src` (a file of top-level module `own`) names
/// through `crate::X` or, from a top-level file, `super::X`.
fn imports(src: &str, own: &str, top_level_file: bool) -> BTreeSet<String> {
    let toks = without_test_items(tokenize(src));
    let mut out = BTreeSet::new();
    for w in toks.windows(3) {
        if let (Tok::Ident(root), Tok::Path, Tok::Ident(m)) = (&w[0].0, &w[1].0, &w[2].0) {
            let points_to_top = root == "crate" || (root == "super" && top_level_file);
            if points_to_top && m != own && m.chars().next().is_some_and(char::is_lowercase) {
                out.insert(m.clone());
            }
        }
    }
    // `use crate::{a, b::c}`: every name directly inside the braces after `crate::`.
    for k in 0..toks.len().saturating_sub(2) {
        if toks[k].0 == Tok::Ident("crate".into())
            && toks[k + 1].0 == Tok::Path
            && toks[k + 2].0 == Tok::Punct('{')
        {
            let close = matching_close(&toks, k + 2);
            let mut depth = 0;
            for (i, (t, _)) in toks.iter().enumerate().take(close).skip(k + 2) {
                match t {
                    Tok::Punct('{') => depth += 1,
                    Tok::Punct('}') => depth -= 1,
                    Tok::Ident(m) if depth == 1 => {
                        let after_sep = matches!(toks[i - 1].0, Tok::Punct('{') | Tok::Punct(','));
                        if after_sep && m != own && m != "self" {
                            out.insert(m.clone());
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

/// What the check found in one crate.
#[derive(Debug, Default)]
pub struct CrateReport {
    /// The longest function: file, name, line, length.
    pub longest: Option<(PathBuf, FnSize)>,
    /// Functions over the limit.
    pub long_fns: Vec<(PathBuf, FnSize)>,
    /// Length of `src/cli.rs`, if the crate has one.
    pub cli_lines: Option<usize>,
    /// Import circles between top-level modules, each as the modules in order.
    pub circles: Vec<Vec<String>>,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file under `src/` belongs to (`None` for lib.rs and main.rs).
fn top_module(rel: &Path) -> Option<String> {
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main") && !rel.starts_with("bin")).then(|| name.to_string())
}

/// Checks one crate's `src/`.
pub fn check_crate(src_dir: &Path) -> std::io::Result<CrateReport> {
    let mut files = Vec::new();
    rust_files(src_dir, &mut files);
    let mut report = CrateReport::default();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let text = fs::read_to_string(&f)?;
        let rel = f.strip_prefix(src_dir).unwrap_or(&f).to_path_buf();
        if rel == Path::new("cli.rs") {
            report.cli_lines = Some(text.lines().count());
        }
        for func in functions(&text) {
            if report
                .longest
                .as_ref()
                .is_none_or(|(_, l)| func.lines > l.lines)
            {
                report.longest = Some((rel.clone(), func.clone()));
            }
            if func.lines > MAX_FN_LINES {
                report.long_fns.push((rel.clone(), func));
            }
        }
        if let Some(own) = top_module(&rel) {
            let top_level_file = rel.components().count() == 1;
            graph
                .entry(own.clone())
                .or_default()
                .extend(imports(&text, &own, top_level_file));
        }
    }
    report.circles = circles(&graph);
    Ok(report)
}

/// Every elementary circle in a module graph, each reported once from its smallest name.
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        path: &mut Vec<String>,
        out: &mut Vec<Vec<String>>,
    ) {
        let here = path.last().expect("path starts with start").clone();
        for next in graph.get(&here).into_iter().flatten() {
            if next == start {
                out.push(path.clone());
            } else if next.as_str() > start && !path.contains(next) && graph.contains_key(next) {
                path.push(next.clone());
                walk(graph, start, path, out);
                path.pop();
            }
        }
    }
    let mut out = Vec::new();
    for start in graph.keys() {
        walk(graph, start, &mut vec![start.clone()], &mut out);
    }
    out
}

/// Runs the check over every crate under `crates/`; prints a line per crate and every
/// breach. Returns whether the house holds.
pub fn run(root: &Path) -> std::io::Result<bool> {
    let mut ok = true;
    let mut crates: Vec<PathBuf> = fs::read_dir(root.join("crates"))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("src").is_dir())
        .collect();
    crates.sort();
    for c in crates {
        let name = c
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        let r = check_crate(&c.join("src"))?;
        let longest = r.longest.as_ref().map_or("-".to_string(), |(f, s)| {
            format!("{} lines ({}:{} {})", s.lines, f.display(), s.line, s.name)
        });
        let cli = r
            .cli_lines
            .map_or("-".to_string(), |n| format!("{n} lines"));
        println!("{name:<8} longest fn {longest}; cli.rs {cli}");
        for (f, s) in &r.long_fns {
            ok = false;
            println!(
                "  too long: crates/{name}/src/{}:{} {} is {} lines (limit {MAX_FN_LINES})",
                f.display(),
                s.line,
                s.name,
                s.lines
            );
        }
        if r.cli_lines.is_some_and(|n| n > MAX_CLI_LINES) {
            ok = false;
            println!("  too long: crates/{name}/src/cli.rs (limit {MAX_CLI_LINES})");
        }
        for circle in &r.circles {
            ok = false;
            let mut shown = circle.clone();
            shown.push(circle[0].clone());
            println!("  import circle: {}", shown.join(" -> "));
        }
    }
    long_tests(root)?;
    Ok(ok)
}

/// Integration tests over [`MAX_TEST_LINES`] lines, listed for information (a test is
/// about one behaviour; a refusal table belongs in the corpus).
fn long_tests(root: &Path) -> std::io::Result<()> {
    let mut files = Vec::new();
    rust_files(&root.join("tests/it"), &mut files);
    for f in files {
        let text = fs::read_to_string(&f)?;
        for func in functions(&text)
            .into_iter()
            .filter(|f| f.lines > MAX_TEST_LINES)
        {
            let rel = f.strip_prefix(root).unwrap_or(&f).display().to_string();
            println!(
                "note: {rel}:{} {} is {} lines (a test is about one behaviour)",
                func.line, func.name, func.lines
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_in_literals_and_comments_do_not_count() {
        let src = "fn a() {\n    let x = b'{';\n    let y = \"}}\";\n    // }\n    let z = '}';\n    let r = r#\"{\"#;\n    /* { /* } */ */\n}\nfn b<'a>(s: &'a str) -> &'a str {\n    s\n}\n";
        let f = functions(src);
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!((f[0].name.as_str(), f[0].lines), ("a", 8));
        assert_eq!((f[1].name.as_str(), f[1].line, f[1].lines), ("b", 9, 3));
    }

    #[test]
    fn test_items_and_bodiless_fns_are_left_out() {
        let src = "trait T { fn f(&self); }\nfn g() {}\n#[cfg(test)]\nmod tests {\n    fn long() {\n\n\n    }\n}\n";
        let f = functions(src);
        assert_eq!(f.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(), ["g"]);
    }

    #[test]
    fn circles_are_found_once() {
        let mut g = BTreeMap::new();
        g.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
        g.insert(
            "b".to_string(),
            BTreeSet::from(["a".to_string(), "c".to_string()]),
        );
        g.insert("c".to_string(), BTreeSet::new());
        assert_eq!(circles(&g), vec![vec!["a".to_string(), "b".to_string()]]);
    }

    #[test]
    fn imports_read_paths_and_use_groups() {
        let src = "use crate::{alpha, beta::X};\nuse super::gamma;\nfn f() { crate::delta::g(); Crate::No; }\n";
        let got = imports(src, "own", true);
        let want: BTreeSet<String> = ["alpha", "beta", "gamma", "delta"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(got, want);
    }
}
