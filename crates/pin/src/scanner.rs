//! Finding digest pins in the bytes of a file.
//!
//! Two passes, both pure:
//!
//! * the text pass finds every `NAME[:TAG]@sha256:<hex>` in any text file (YAML, shell,
//!   Dockerfile, HCL, Markdown) by looking for `@sha256:`/`@sha512:` and reading the name
//!   backwards with the reference grammar;
//! * the YAML pass finds the pins whose image and digest are separate fields: kustomize
//!   `images[]` entries (`digest:`, or `newTag: tag@sha256:…`, image `newName` else
//!   `name`), chart values (`repository:` with `digest:` or `tag: tag@sha256:…`) and Flux
//!   `OCIRepository` specs (`url: oci://REPO` with `ref.digest` or `ref.tag: tag@sha256:…`).
//!
//! A digest found by both passes is reported once, with the image the YAML pass found (the
//! text pass would take the tag in `newTag: v1@sha256:…` for an image name). A digest
//! written with the wrong length is reported as malformed, so a rewrite can refuse to leave
//! it behind instead of silently skipping it.

use memchr::memmem;
use rollout_core::yamlspan::{self, Node, Scalar};

use crate::reference::{Algorithm, split_name_tag};

/// One digest pin in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// Byte offset of the digest (`sha256:…`, after the `@`).
    pub start: usize,
    /// Byte offset just past the digest's hex.
    pub end: usize,
    /// The repository the pin is for (`ghcr.io/acme/review`).
    pub image: String,
    /// The tag kept next to the digest, if any.
    pub tag: Option<String>,
    /// The digest exactly as written.
    pub digest: String,
    /// Wrong length, or letters after the hex: not a digest this tool can compare.
    pub malformed: bool,
}

/// The pins of one file, in file order.
pub fn scan(bytes: &[u8], yaml: bool) -> Vec<Pin> {
    scan_file(bytes, yaml).0
}

/// The pins of one file, in file order, and why the YAML pass could not run on a YAML
/// file that holds digests (its pins in separate fields would be missed: say so).
pub fn scan_file(bytes: &[u8], yaml: bool) -> (Vec<Pin>, Option<String>) {
    if !holds_digest(bytes) {
        return (Vec::new(), None);
    }
    let (mut pins, warning) = named_pins(bytes, yaml);
    add_variable_pins(bytes, &mut pins);
    (pins, warning)
}

/// Whether `sha256:` or `sha512:` is written anywhere in `bytes`: every pin, loose digest
/// and digest-holding YAML field has one, and most files of a tree have none, so one pass
/// over a file answers for every other pass (each of which would read all of it).
pub fn holds_digest(bytes: &[u8]) -> bool {
    memmem::find_iter(bytes, b"sha")
        .any(|at| matches!(bytes.get(at + 3..at + 7), Some(b"256:" | b"512:")))
}

/// Digests a variable carries into a named reference (`ARG sha=sha256:…` with
/// `FROM img@$sha`) are pins of that image, at the assignment: a rewrite of the image
/// rewrites them too, so no copy of the old digest is left behind.
fn add_variable_pins(bytes: &[u8], pins: &mut Vec<Pin>) {
    let mut added = false;
    for v in variable_pins(bytes) {
        let Some(image) = v.image else { continue };
        if pins.iter().any(|p| p.start == v.start) {
            continue;
        }
        pins.push(Pin {
            start: v.start,
            end: v.start + v.digest.len(),
            image,
            tag: None,
            digest: String::from_utf8_lossy(&bytes[v.start..v.start + v.digest.len()]).into_owned(),
            malformed: false,
        });
        added = true;
    }
    if added {
        pins.sort_by_key(|p| p.start);
    }
}

/// The digests assigned to variables that no use in the file attaches to an image (and
/// that are not pins otherwise): listed as unattributed, never dropped.
pub fn unattributed(bytes: &[u8], pins: &[Pin]) -> Vec<VariablePin> {
    variable_pins(bytes)
        .into_iter()
        .filter(|v| v.image.is_none() && !pins.iter().any(|p| p.start == v.start))
        .collect()
}

/// The pins a reference names in the text (and, for YAML, in its fields).
fn named_pins(bytes: &[u8], yaml: bool) -> (Vec<Pin>, Option<String>) {
    let mut pins = text_pins(bytes);
    if !yaml
        || (memmem::find(bytes, b"sha256:").is_none() && memmem::find(bytes, b"sha512:").is_none())
    {
        return (pins, None);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let msg = format!("not UTF-8 at byte {}; read as text only", e.valid_up_to());
            return (pins, Some(msg));
        }
    };
    let docs = match yamlspan::parse_documents(text, "") {
        Ok(d) => d,
        Err(e) => {
            let msg = e.to_string();
            let msg = msg.strip_prefix(':').unwrap_or(&msg);
            return (
                pins,
                Some(format!("YAML not parsed ({msg}); read as text only")),
            );
        }
    };
    let mut structural = Vec::new();
    for doc in &docs {
        doc.walk(&mut |n| yaml_pins(text, n, &mut structural));
        doc.walk(&mut |n| multiline_pin(text, n, &mut structural));
    }
    for s in structural {
        match pins.iter_mut().find(|p| p.start == s.start) {
            Some(p) => *p = s,
            None => pins.push(s),
        }
    }
    pins.sort_by_key(|p| p.start);
    (pins, None)
}

/// Whether a file is read as YAML too (by its name).
pub fn is_yaml_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".yaml") || lower.ends_with(".yml")
}

fn is_ref_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b':' | b'/')
}

/// The digest that starts at `at` (`sha256:` or `sha512:`), as (end, malformed).
fn digest_at(bytes: &[u8], at: usize) -> Option<(Algorithm, usize, bool)> {
    let algo = match bytes.get(at..at + 7)? {
        b"sha256:" => Algorithm::Sha256,
        b"sha512:" => Algorithm::Sha512,
        _ => return None,
    };
    let hex_start = at + 7;
    let mut end = hex_start;
    while end < bytes.len() && bytes[end].is_ascii_hexdigit() {
        end += 1;
    }
    let mut malformed = end - hex_start != algo.hex_len();
    // Letters or digits glued to the hex mean this is not the digest it looks like.
    let mut tail = end;
    while tail < bytes.len() && (bytes[tail].is_ascii_alphanumeric() || bytes[tail] == b'_') {
        tail += 1;
        malformed = true;
    }
    Some((algo, tail, malformed))
}

fn text_pins(bytes: &[u8]) -> Vec<Pin> {
    let mut pins = Vec::new();
    for at in memmem::find_iter(bytes, b"@sha") {
        let Some((_, end, malformed)) = digest_at(bytes, at + 1) else {
            continue;
        };
        let mut start = at;
        while start > 0 && is_ref_byte(bytes[start - 1]) {
            start -= 1;
        }
        let Ok(token) = std::str::from_utf8(&bytes[start..at]) else {
            continue;
        };
        let Some((image, tag)) =
            name_in_token(token).or_else(|| name_before_variable_tag(bytes, start, at))
        else {
            continue;
        };
        pins.push(Pin {
            start: at + 1,
            end,
            image: image.to_string(),
            tag: tag.map(str::to_string),
            digest: String::from_utf8_lossy(&bytes[at + 1..end]).into_owned(),
            malformed,
        });
    }
    pins
}

/// The image of `name:$TAG@sha256:…` or `name:${TAG}@sha256:…`: the tag is a variable, the
/// name is what a reader attributes the pin to. `start..at` is the run of reference bytes
/// before the `@` (the variable's name, or nothing after `}`).
fn name_before_variable_tag(bytes: &[u8], start: usize, at: usize) -> Option<(&str, Option<&str>)> {
    let is_var = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    let dollar = if start < at && start > 0 && bytes[start - 1] == b'$' {
        bytes[start..at].iter().all(is_var).then_some(start - 1)?
    } else if start == at && at > 0 && bytes[at - 1] == b'}' {
        let open = bytes[..at].iter().rposition(|b| *b == b'{')?;
        (open > 0 && bytes[open - 1] == b'$' && bytes[open + 1..at - 1].iter().all(is_var))
            .then_some(open - 1)?
    } else {
        return None;
    };
    if dollar == 0 || bytes[dollar - 1] != b':' {
        return None;
    }
    let end = dollar - 1;
    let mut name_start = end;
    while name_start > 0 && is_ref_byte(bytes[name_start - 1]) {
        name_start -= 1;
    }
    let name = std::str::from_utf8(&bytes[name_start..end]).ok()?;
    let name = name.rfind("://").map_or(name, |i| &name[i + 3..]);
    match split_name_tag(name)? {
        (image, None) => Some((image, None)),
        _ => None,
    }
}

/// Every well-formed digest written anywhere in `bytes`, whether or not a name is attached
/// to it: `ARG sha=sha256:…` then `FROM img@$sha`, `ARG HASH="@sha256:…"`,
/// `FROM ubuntu:$TAG@sha256:…` reach an image through a variable, and what a tree still
/// uses must never be pruned.
pub fn loose_digests(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    if !holds_digest(bytes) {
        return out;
    }
    for needle in [&b"sha256:"[..], &b"sha512:"[..]] {
        for at in memmem::find_iter(bytes, needle) {
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
                continue;
            }
            if let Some((_, end, false)) = digest_at(bytes, at) {
                out.push(String::from_utf8_lossy(&bytes[at..end]).to_ascii_lowercase());
            }
        }
    }
    out
}

/// A digest a variable carries into a reference: `ARG sha=sha256:…` and
/// `FROM img@$sha`, `ARG HASH="@sha256:…"` and `FROM node:18${HASH}`, `export D=sha256:…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariablePin {
    /// Byte offset of the digest (in the assignment).
    pub start: usize,
    /// The variable.
    pub variable: String,
    /// The digest, lowercase.
    pub digest: String,
    /// The image a use of the variable names (`img` of `img@$sha`); None when no use of
    /// the variable in the file is attached to a reference: unattributed, still listed.
    pub image: Option<String>,
}

/// Every digest assigned to a variable (`NAME=…`, `NAME: …`, `ARG`/`ENV`/`export`, quoted
/// or not, with or without a leading `@`), and the image its first use in the file names.
pub fn variable_pins(bytes: &[u8]) -> Vec<VariablePin> {
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut out: Vec<VariablePin> = Vec::new();
    for needle in [&b"sha256:"[..], &b"sha512:"[..]] {
        for at in memmem::find_iter(bytes, needle) {
            let Some((_, end, false)) = digest_at(bytes, at) else {
                continue;
            };
            // walk back over an optional '@', an optional quote, spaces, then '=' or ':'
            let mut i = at;
            if i > 0 && bytes[i - 1] == b'@' {
                i -= 1;
            }
            if i > 0 && matches!(bytes[i - 1], b'"' | b'\'') {
                i -= 1;
            }
            while i > 0 && bytes[i - 1] == b' ' {
                i -= 1;
            }
            if i == 0 || !matches!(bytes[i - 1], b'=' | b':') {
                continue;
            }
            i -= 1;
            while i > 0 && bytes[i - 1] == b' ' {
                i -= 1;
            }
            let name_end = i;
            while i > 0 && is_name(bytes[i - 1]) {
                i -= 1;
            }
            if i == name_end || bytes[i].is_ascii_digit() {
                continue;
            }
            // a name directly after a reference character is part of an image, not a variable
            if i > 0
                && !matches!(
                    bytes[i - 1],
                    b' ' | b'\t' | b'\n' | b'\r' | b'"' | b'\'' | b'{' | b','
                )
            {
                continue;
            }
            let variable = String::from_utf8_lossy(&bytes[i..name_end]).into_owned();
            let image = use_of(bytes, &variable);
            out.push(VariablePin {
                start: at,
                variable,
                digest: String::from_utf8_lossy(&bytes[at..end]).to_ascii_lowercase(),
                image,
            });
        }
    }
    out.sort_by_key(|v| v.start);
    out
}

/// The image the first use of `$variable` (or `${variable}`) names: the reference text
/// right before it (`img@`, `img:tag`).
fn use_of(bytes: &[u8], variable: &str) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    for form in [format!("${{{variable}}}"), format!("${variable}")] {
        for (at, _) in text.match_indices(&form) {
            // `$NAME` must end there (not `$NAME2`)
            let after = text[at + form.len()..].bytes().next();
            if !form.ends_with('}') && after.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                continue;
            }
            let before = &text[..at];
            let start = before
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || "._/:@-".contains(c)))
                .map_or(0, |i| i + 1);
            let token = before[start..].trim_end_matches('@');
            if token.is_empty() {
                continue;
            }
            if let Some((name, _)) = split_name_tag(token) {
                return Some(name.to_string());
            }
        }
    }
    None
}

/// The reference at the end of a run of reference characters: the whole run, else the
/// part after a scheme (`docker://`), else the longest part after a colon that parses. A
/// shell default-value expansion (`${IMAGE:-redis:5@sha256:…}`, also `:=`, `:+`, `:?`)
/// puts an operator between that colon and the reference: it is skipped, so the pin is
/// named after `redis`, not after its tag `5`.
fn name_in_token(token: &str) -> Option<(&str, Option<&str>)> {
    let token = match token.rfind("://") {
        Some(i) => &token[i + 3..],
        None => token,
    };
    if let Some(r) = split_name_tag(token) {
        return Some(r);
    }
    token.match_indices(':').find_map(|(i, _)| {
        let after = &token[i + 1..];
        match after.strip_prefix(['-', '=', '+', '?']) {
            Some(expanded) => split_name_tag(expanded),
            None => split_name_tag(after),
        }
    })
}

/// A reference written across lines in one YAML scalar (`"ghcr.io/acme/\` then
/// `  app@sha256:…"`): the line the digest is on shows only the end of the name, so the pin
/// is named from the scalar's value. The digest itself must be on one line to be rewritten
/// in place; one split by an escaped line break is not read as a pin.
fn multiline_pin(text: &str, node: &Node, out: &mut Vec<Pin>) {
    let Node::Scalar(s) = node else { return };
    // only an escaped line break joins the lines without a space (plain and single-quoted
    // scalars fold a line break into one: the value is no reference then)
    if s.style != saphyr_parser::ScalarStyle::DoubleQuoted {
        return;
    }
    let Some(at) = s.value.find("@sha") else {
        return;
    };
    let Ok((start, end)) = rollout_core::yamledit::scalar_extent(text, s) else {
        return;
    };
    let Some(source) = text.get(start..end) else {
        return;
    };
    if !source.contains('\n') {
        return;
    }
    let before = &s.value[..at];
    let token = before.rsplit(char::is_whitespace).next().unwrap_or(before);
    let Some((image, tag)) = name_in_token(token) else {
        return;
    };
    let Some((_, dend, malformed)) = digest_at(s.value.as_bytes(), at + 1) else {
        return;
    };
    let digest = &s.value[at + 1..dend];
    let Some(offset) = source.find(digest) else {
        return;
    };
    out.push(Pin {
        start: start + offset,
        end: start + offset + digest.len(),
        image: image.to_string(),
        tag: tag.map(str::to_string),
        digest: digest.to_string(),
        malformed,
    });
}

/// The pins a YAML mapping holds in separate fields.
fn yaml_pins(text: &str, node: &Node, out: &mut Vec<Pin>) {
    if !matches!(node, Node::Map(..)) {
        return;
    }
    let scalar = |k: &str| node.get_str(k);
    // Flux OCIRepository spec: the image is the url's repository, the pin is under ref.
    if let Some(url) = scalar("url")
        && let Some(repo) = url.value.strip_prefix("oci://")
        && let Some(reference) = node.get("ref")
        && matches!(reference, Node::Map(..))
    {
        if split_name_tag(repo).is_some_and(|(_, t)| t.is_none()) {
            let tag = reference.get_str("tag").map(|t| t.value.clone());
            push_fields(text, reference, repo, tag, "tag", out);
        }
        return;
    }
    // kustomize images[] entry: the image is newName, else name (which may carry a tag).
    if let Some(name) = scalar("name")
        && (scalar("digest").is_some() || scalar("newTag").is_some())
    {
        let (name_image, name_tag) = match split_name_tag(&name.value) {
            Some((n, t)) => (n.to_string(), t.map(str::to_string)),
            None => return,
        };
        let image = match scalar("newName") {
            Some(n) if split_name_tag(&n.value).is_some_and(|(_, t)| t.is_none()) => {
                n.value.clone()
            }
            Some(_) => return,
            None => name_image,
        };
        let tag = scalar("newTag").map(|t| t.value.clone()).or(name_tag);
        push_fields(text, node, &image, tag, "newTag", out);
        return;
    }
    // chart values: repository (with an optional registry) and digest or tag@digest.
    if let Some(repo) = scalar("repository")
        && (scalar("digest").is_some() || scalar("tag").is_some())
    {
        let image = match scalar("registry") {
            Some(reg) if !reg.value.is_empty() => {
                format!("{}/{}", reg.value.trim_end_matches('/'), repo.value)
            }
            _ => repo.value.clone(),
        };
        if split_name_tag(&image).is_some_and(|(_, t)| t.is_none()) {
            let tag = scalar("tag").map(|t| t.value.clone());
            push_fields(text, node, &image, tag, "tag", out);
        }
    }
}

fn push_fields(
    text: &str,
    node: &Node,
    image: &str,
    tag: Option<String>,
    tag_key: &str,
    out: &mut Vec<Pin>,
) {
    let bytes = text.as_bytes();
    if let Some(d) = node.get_str("digest")
        && let Some(at) = value_digest_start(bytes, d, false)
        && let Some((_, end, malformed)) = digest_at(bytes, at)
    {
        let tag = tag.filter(|t| !t.contains('@'));
        out.push(pin(bytes, at, end, image, tag, malformed));
    }
    if let Some(t) = node.get_str(tag_key)
        && t.value.contains('@')
        && let Some(at) = value_digest_start(bytes, t, true)
        && let Some((_, end, malformed)) = digest_at(bytes, at)
    {
        let tag = t.value.split_once('@').map(|(tag, _)| tag.to_string());
        let tag = tag.filter(|t| !t.is_empty());
        out.push(pin(bytes, at, end, image, tag, malformed));
    }
}

fn pin(
    bytes: &[u8],
    at: usize,
    end: usize,
    image: &str,
    tag: Option<String>,
    malformed: bool,
) -> Pin {
    Pin {
        start: at,
        end,
        image: image.to_string(),
        tag,
        digest: String::from_utf8_lossy(&bytes[at..end]).into_owned(),
        malformed,
    }
}

/// Where the digest inside a single-line scalar starts in the file. The digest has no
/// characters that quoting would escape, so it stands in the file as in the value.
fn value_digest_start(bytes: &[u8], s: &Scalar, after_at: bool) -> Option<usize> {
    let line_end = memchr::memchr(b'\n', &bytes[s.start..])
        .map(|i| s.start + i)
        .unwrap_or(bytes.len());
    let line = &bytes[s.start..line_end];
    let needle = if after_at { "@sha" } else { "sha" };
    // Only a digest the value really holds (not one in a trailing comment): the value
    // contains it, so its first occurrence from the scalar's start is the value's.
    if !s.value.contains(needle) {
        return None;
    }
    let i = memmem::find(line, needle.as_bytes())?;
    Some(s.start + i + usize::from(after_at))
}

/// 1-based line and column (in characters) of a byte offset.
pub struct LineIndex<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    line_start: usize,
}

impl<'a> LineIndex<'a> {
    /// Index over a file; offsets must be asked for in increasing order.
    pub fn new(bytes: &'a [u8]) -> Self {
        LineIndex {
            bytes,
            pos: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// The line and column of `offset` (not before the previous one asked for).
    pub fn locate(&mut self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.bytes.len());
        if offset < self.pos {
            *self = LineIndex::new(self.bytes);
        }
        let chunk = &self.bytes[self.pos..offset];
        let n = memchr::memchr_iter(b'\n', chunk).count();
        if n > 0 {
            self.line += n;
            self.line_start = self.pos + memchr::memrchr(b'\n', chunk).unwrap_or(0) + 1;
        }
        self.pos = offset;
        let mut prefix = &self.bytes[self.line_start..offset];
        if self.line == 1 {
            prefix = prefix.strip_prefix(b"\xef\xbb\xbf").unwrap_or(prefix);
        }
        let chars = prefix.iter().filter(|&&c| (c & 0xC0) != 0x80).count();
        (self.line, chars + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_holds_a_digest_when_sha256_or_sha512_is_written_in_it() {
        let d = "a".repeat(64);
        assert!(holds_digest(format!("sha256:{d}").as_bytes()));
        assert!(holds_digest(format!("x: y@sha512:{d}").as_bytes()));
        assert!(holds_digest(b"digest: sha256:"));
        for none in [
            &b""[..],
            b"sha",
            b"sha256",
            b"shadow sha1: x",
            b"SHA256:abc",
            b"sha-256:a",
        ] {
            assert!(!holds_digest(none), "{:?}", String::from_utf8_lossy(none));
            // and every pass agrees: nothing is found in such a file
            assert!(scan_file(none, true).0.is_empty());
            assert!(loose_digests(none).is_empty());
        }
    }

    const A: &str = "9a74366aa10eff2bf14dab0948123bd2c51703e1c553a73740ef687f723a0001";

    fn images(text: &str, yaml: bool) -> Vec<(String, Option<String>, bool)> {
        scan(text.as_bytes(), yaml)
            .into_iter()
            .map(|p| {
                assert_eq!(&text[p.start..p.end], p.digest);
                (p.image, p.tag, p.malformed)
            })
            .collect()
    }

    #[test]
    fn text_pins_in_every_shape() {
        let text = format!(
            "container: ghcr.io/acme/fix@sha256:{A}\n\
             IMG=\"ghcr.io/acme/review:v1@sha256:{A}\" ;;\n\
             uses: docker://quay.io/acme/c:1@sha256:{A}\n\
             FROM --platform=$X golang:1.23@sha256:{A} AS b\n\
             # syntax=docker/dockerfile:1@sha256:{A}\n\
             --image=redis@sha256:{A}\n\
             short ghcr.io/acme/fix@sha256:{}\n",
            &A[1..]
        );
        let got = images(&text, false);
        let names: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "ghcr.io/acme/fix",
                "ghcr.io/acme/review",
                "quay.io/acme/c",
                "golang",
                "docker/dockerfile",
                "redis",
                "ghcr.io/acme/fix"
            ]
        );
        assert_eq!(got[1].1.as_deref(), Some("v1"));
        assert!(!got[0].2 && got[6].2, "the 63-hex pin is malformed");
    }

    #[test]
    fn shell_default_value_expansions_name_the_image_not_its_tag() {
        let text = format!(
            "IMAGE_B=\"${{IMAGE_B:-cgr.dev/chainguard/static:latest@sha256:{A}}}\"\n\
             image: ${{REDIS_IMAGE:-redis:5.0.0@sha256:{A}}}\n\
             FROM ${{REDIS_IMAGE:-redis@sha256:{A}}}\n\
             X=${{X:=ghcr.io/a/b:1@sha256:{A}}} ${{Y:+q.io/c@sha256:{A}}}\n"
        );
        let got = images(&text, false);
        let named: Vec<(&str, Option<&str>)> =
            got.iter().map(|g| (g.0.as_str(), g.1.as_deref())).collect();
        assert_eq!(
            named,
            [
                ("cgr.dev/chainguard/static", Some("latest")),
                ("redis", Some("5.0.0")),
                ("redis", None),
                ("ghcr.io/a/b", Some("1")),
                ("q.io/c", None),
            ]
        );
    }

    #[test]
    fn flux_oci_repositories_are_named_after_their_url() {
        let text = format!(
            "apiVersion: source.toolkit.fluxcd.io/v1beta2\nkind: OCIRepository\nspec:\n  url: oci://ghcr.io/stefanprodan/manifests/podinfo\n  ref:\n    tag: v1.8.2@sha256:{A}\n---\nkind: OCIRepository\nspec:\n  url: oci://registry.example/apps/web\n  ref:\n    digest: sha256:{A}\n"
        );
        let got = images(&text, true);
        let named: Vec<(&str, Option<&str>)> =
            got.iter().map(|g| (g.0.as_str(), g.1.as_deref())).collect();
        assert_eq!(
            named,
            [
                ("ghcr.io/stefanprodan/manifests/podinfo", Some("v1.8.2")),
                ("registry.example/apps/web", None)
            ]
        );
    }

    #[test]
    fn digests_reached_through_variables_are_listed() {
        const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
        let text = format!(
            "ARG sha_digest=sha256:{A}\nFROM gcr.io/distroless/java17@$sha_digest\nARG NODE_IMAGE_HASH=\"@sha256:{B}\"\nFROM ubuntu:$IMAGE_TAG@sha256:{A}\nx notsha256:{B} sha256:{}\n",
            &A[1..]
        );
        // the variable's use names the image: a pin of it, at the assignment; a tag that
        // is a variable leaves the name (ubuntu) to attribute the pin to
        assert_eq!(
            images(&text, false),
            [
                ("gcr.io/distroless/java17".to_string(), None, false),
                ("ubuntu".to_string(), None, false)
            ]
        );
        let braced = format!("FROM docker.io/library/ubuntu:${{IMAGE_TAG}}@sha256:{A}\n");
        assert_eq!(
            images(&braced, false),
            [("docker.io/library/ubuntu".to_string(), None, false)]
        );
        let (pins, _) = scan_file(text.as_bytes(), false);
        let floating = unattributed(text.as_bytes(), &pins);
        assert_eq!(floating.len(), 1);
        assert_eq!(floating[0].variable, "NODE_IMAGE_HASH");
        assert_eq!(floating[0].digest, format!("sha256:{B}"));
        // used later in the file: attributed, with the tag before it
        let used = format!("{text}FROM node:18${{NODE_IMAGE_HASH}} AS build\n");
        assert_eq!(
            images(&used, false),
            [
                ("gcr.io/distroless/java17".to_string(), None, false),
                ("node".to_string(), None, false),
                ("ubuntu".to_string(), None, false)
            ]
        );
        assert!(unattributed(used.as_bytes(), &scan_file(used.as_bytes(), false).0).is_empty());
        // a YAML digest key is the field of its entry, not a variable
        let yaml = format!("images:\n- name: app\n  digest: sha256:{A}\n");
        let (pins, _) = scan_file(yaml.as_bytes(), true);
        assert!(unattributed(yaml.as_bytes(), &pins).is_empty());
        assert_eq!(
            loose_digests(text.as_bytes()),
            [
                format!("sha256:{A}"),
                format!("sha256:{B}"),
                format!("sha256:{A}")
            ]
        );
    }

    #[test]
    fn a_reference_written_across_lines_is_named_from_the_whole_value() {
        let text = format!(
            "spec:\n  image: \"ghcr.io/acme/\\\n    app:1.2@sha256:{A}\"\n  plain: registry.example/\n    x@sha256:{A}\n"
        );
        // a plain scalar folds its line break into a space: `x` is what is left to name
        assert_eq!(
            images(&text, true),
            [
                (
                    "ghcr.io/acme/app".to_string(),
                    Some("1.2".to_string()),
                    false
                ),
                ("x".to_string(), None, false)
            ]
        );
        // as text alone the line holds only the end of the name
        assert_eq!(
            images(&text, false)[0].0,
            "app:1.2".split(':').next().unwrap()
        );
    }

    #[test]
    fn look_alikes_are_other_images() {
        let text = format!("a/claude-runtime-fix-extra@sha256:{A} x-claude-runtime-fix@sha256:{A}");
        let got = images(&text, false);
        assert_eq!(got[0].0, "a/claude-runtime-fix-extra");
        assert_eq!(got[1].0, "x-claude-runtime-fix");
    }

    #[test]
    fn yaml_fields_name_their_image() {
        let text = format!(
            "images:\n- name: postgres:11\n  digest: sha256:{A}\n\
             - name: app\n  newName: ghcr.io/acme/app # c\n  newTag: \"v2@sha256:{A}\"\n\
             - {{name: redis, newTag: \"7.0\", digest: 'sha256:{A}'}}\n\
             values:\n  image:\n    registry: ghcr.io\n    repository: acme/web\n    tag: latest@sha256:{A}\n"
        );
        let got = images(&text, true);
        assert_eq!(
            got,
            vec![
                ("postgres".into(), Some("11".into()), false),
                ("ghcr.io/acme/app".into(), Some("v2".into()), false),
                ("redis".into(), Some("7.0".into()), false),
                ("ghcr.io/acme/web".into(), Some("latest".into()), false),
            ]
        );
    }

    #[test]
    fn lines_and_columns_count_characters() {
        let text = "\u{feff}é x\nab\n";
        let mut idx = LineIndex::new(text.as_bytes());
        assert_eq!(idx.locate(3 + 2), (1, 2));
        assert_eq!(idx.locate(text.find("b").unwrap()), (2, 2));
    }
}
