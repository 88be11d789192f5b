//! Reading a registry inventory: the GitHub Packages versions listing in every shape it
//! reaches a pipeline.
//!
//! `gh api --paginate` prints one JSON array per page, back to back; `--slurp` wraps them in
//! an array; people save single pages, JSONL, or a generic `{id, digest, createdAt, tags}`
//! list from another registry, and several packages as `{"PKG": [...]}`. The replaced
//! workflow counted only the first page. Here every top-level value of the stream is read,
//! whatever its shape, so nothing past page one is missed.
//!
//! Large listings (200,000 versions is about 60 MB) are streamed: the input is hashed and
//! bounded as it is read; each top-level array or object up to [`IN_MEMORY`] (a page) is
//! cut from the stream and parsed from memory, since serde_json reads an `io::Read` byte by
//! byte, and a larger one is parsed from the reader; each version is decoded straight into
//! the few fields the plan needs (by the private `decode` module); no copy of the whole
//! text or a `serde_json::Value` tree is kept.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};

use rollout_core::CoreError;
use rollout_core::hash::StreamDigest;
use serde::de::DeserializeSeed;

use crate::decode::{DecodeState, PackageVersions, TopLevelValue};
use crate::error::PruneError;
pub use crate::version::{
    TagBuf, Tags, UrlParts, Version, VersionId, check_package_name, is_login,
};

/// Largest listing read (512 MiB: about 1.7 million versions of the GitHub API's shape).
pub const MAX_LISTING_BYTES: u64 = 512 * 1024 * 1024;

/// The versions of one package.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Package {
    /// The package name (from `--package`, the map key, or the versions' API URLs).
    pub name: Option<String>,
    /// The API path of the owner (`/orgs/ORG`, `/users/USER`), from the versions' URLs.
    pub owner_path: Option<String>,
    /// The versions, in listing order.
    pub versions: Vec<Version>,
    /// An OCI repository (read from image-resolve's `image-tags`; `name` is
    /// `registry/repository`): its deletions are registry API calls, not GitHub's.
    pub oci: bool,
}

/// A listing read: its packages (sorted by name) and the sha256 of its bytes.
#[derive(Debug)]
pub struct Listing {
    /// The packages.
    pub packages: Vec<Package>,
    /// `sha256:<hex>` of the input as given.
    pub sha256: String,
}

/// The input as read: hashed, bounded, its byte-order mark hidden from the parser.
struct Counted<R> {
    inner: R,
    hash: StreamDigest,
    read: u64,
    limit: u64,
    over: bool,
    /// The first bytes, held back until it is known whether they are a BOM.
    head: Vec<u8>,
    started: bool,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl<R: Read> Counted<R> {
    fn take(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            self.over = true;
            return Err(std::io::Error::other("input over the size limit"));
        }
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.started {
            self.started = true;
            let mut head = [0u8; 3];
            let mut got = 0;
            while got < 3 {
                let n = self.take(&mut head[got..])?;
                if n == 0 {
                    break;
                }
                got += n;
            }
            if &head[..got] != BOM {
                self.head = head[..got].to_vec();
            }
        }
        if !self.head.is_empty() {
            let n = self.head.len().min(buf.len());
            buf[..n].copy_from_slice(&self.head[..n]);
            self.head.drain(..n);
            return Ok(n);
        }
        self.take(buf)
    }
}

/// Read a listing from `input` (at most `limit` bytes). `package` is `--package`: the name
/// of a bare listing, or the one package to take from a `{"PKG": [...]}` map.
pub fn read_listing(
    input: impl Read,
    origin: &str,
    package: Option<&str>,
    limit: u64,
) -> Result<Listing, PruneError> {
    read_listing_with(input, origin, package, limit, IN_MEMORY)
}

/// [`read_listing`], parsing top-level values up to `in_memory` bytes from memory; 0
/// streams everything from the reader (the reference the fuzzer compares against).
pub fn read_listing_with(
    input: impl Read,
    origin: &str,
    package: Option<&str>,
    limit: u64,
    in_memory: usize,
) -> Result<Listing, PruneError> {
    let mut counted = Counted {
        inner: input,
        hash: StreamDigest::default(),
        read: 0,
        limit,
        over: false,
        head: Vec::new(),
        started: false,
    };
    let mut ctx = DecodeState::new(origin);
    let streamed = stream(&mut counted, &mut ctx, in_memory);
    if counted.over {
        return Err(CoreError::TooLarge {
            origin: origin.to_string(),
            limit,
        }
        .into());
    }
    streamed?;
    let (bare, mapped) = (
        std::mem::take(&mut ctx.bare),
        std::mem::take(&mut ctx.mapped),
    );
    let packages = if mapped.is_empty() {
        vec![bare_package(&ctx, bare, package)?]
    } else {
        packages_from_map(&ctx, mapped, package)?
    };
    Ok(Listing {
        packages,
        sha256: counted.hash.finish(),
    })
}

/// Decode every top-level value of the stream.
fn stream<R: Read>(
    input: &mut Counted<R>,
    ctx: &mut DecodeState<'_>,
    in_memory: usize,
) -> Result<(), PruneError> {
    let origin = ctx.origin;
    let unreadable = |source| CoreError::Unreadable {
        origin: origin.to_string(),
        source,
    };
    let mut buf = BufReader::with_capacity(1 << 16, input);
    loop {
        let chunk = buf.fill_buf().map_err(unreadable)?;
        if chunk.is_empty() {
            return Err(CoreError::EmptyInput {
                origin: origin.to_string(),
                expected: "a package versions listing (JSON)".into(),
            }
            .into());
        }
        match chunk.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                buf.consume(i);
                break;
            }
            None => {
                let n = chunk.len();
                buf.consume(n);
            }
        }
    }
    let mut at = At { line: 1, column: 0 };
    let mut value = Vec::new();
    loop {
        let first = buf.fill_buf().map_err(unreadable)?.first().copied();
        if !matches!(first, Some(b'[' | b'{')) {
            // a scalar, or bytes that are no value: the reader reports them
            return stream_rest(buf, at, ctx);
        }
        value.clear();
        match scan_value(&mut buf, &mut value, in_memory).map_err(unreadable)? {
            Scan::Whole | Scan::Eof => {
                let mut de = serde_json::Deserializer::from_slice(&value);
                let parsed = TopLevelValue(&mut *ctx)
                    .deserialize(&mut de)
                    .and_then(|()| de.end());
                if let Err(e) = parsed {
                    if let Some(parked) = ctx.error.take() {
                        return Err(parked);
                    }
                    // A syntax error is reported as the reader finds it: the scan ends a
                    // string early at an invalid escape, and the two parsers place some
                    // errors a byte apart. The reader sees the same bytes from here on.
                    let rest = std::io::Cursor::new(std::mem::take(&mut value)).chain(buf);
                    return match stream_rest(rest, at, ctx) {
                        Err(found) => Err(found),
                        Ok(()) => Err(at.place(json_failure(e, origin))),
                    };
                }
            }
            Scan::TooBig => {
                let rest = std::io::Cursor::new(std::mem::take(&mut value)).chain(buf);
                return stream_rest(rest, at, ctx);
            }
        }
        at.advance(&value);
        // the whitespace before the next value (or the end)
        loop {
            let chunk = buf.fill_buf().map_err(unreadable)?;
            if chunk.is_empty() {
                return Ok(());
            }
            // JSON's whitespace (a form feed is none: the parser reports it)
            let next = chunk
                .iter()
                .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
            let n = next.unwrap_or(chunk.len());
            at.advance(&chunk[..n]);
            buf.consume(n);
            if next.is_some() {
                break;
            }
        }
    }
}

/// A top-level array or object up to this size is parsed from memory (a `gh api
/// --paginate` page of 100 versions is about 32 KiB): serde_json reads an `io::Read` byte
/// by byte, several times slower. A bigger value is streamed from the reader, so memory
/// stays that of the versions.
pub const IN_MEMORY: usize = 4 << 20;

/// How [`scan_value`] ended.
enum Scan {
    /// The value is complete.
    Whole,
    /// The input ended inside it (the parser reports where).
    Eof,
    /// It grew over the limit before it ended.
    TooBig,
}

/// Move one array or object (brackets counted outside strings) from `buf` into `value`.
fn scan_value<R: BufRead>(buf: &mut R, value: &mut Vec<u8>, limit: usize) -> std::io::Result<Scan> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    loop {
        let chunk = buf.fill_buf()?;
        if chunk.is_empty() {
            return Ok(Scan::Eof);
        }
        let mut i = 0;
        let mut end = None;
        while i < chunk.len() {
            if escaped {
                // the byte after a backslash is never a closing quote
                escaped = false;
                i += 1;
            } else if in_string {
                match memchr::memchr2(b'"', b'\\', &chunk[i..]) {
                    None => i = chunk.len(),
                    Some(j) => {
                        in_string = chunk[i + j] != b'"';
                        escaped = in_string;
                        i += j + 1;
                    }
                }
            } else {
                match chunk[i] {
                    b'"' => in_string = true,
                    b'[' | b'{' => depth += 1,
                    b']' | b'}' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        let n = end.unwrap_or(chunk.len());
        value.extend_from_slice(&chunk[..n]);
        buf.consume(n);
        if end.is_some() {
            return Ok(Scan::Whole);
        }
        if value.len() > limit {
            return Ok(Scan::TooBig);
        }
    }
}

/// Where a top-level value starts: its line and the bytes before it on that line, so a
/// parse error inside it is reported at its place in the whole input.
#[derive(Debug, Clone, Copy)]
struct At {
    line: usize,
    column: usize,
}

impl At {
    fn advance(&mut self, bytes: &[u8]) {
        match memchr::memrchr(b'\n', bytes) {
            Some(last) => {
                self.line += memchr::memchr_iter(b'\n', bytes).count();
                self.column = bytes.len() - last - 1;
            }
            None => self.column += bytes.len(),
        }
    }

    /// A parse error's position, counted from the value, counted from the input.
    fn place(self, e: PruneError) -> PruneError {
        match e {
            PruneError::Core(CoreError::MalformedJson {
                origin,
                line,
                column,
                message,
            }) => PruneError::Core(CoreError::MalformedJson {
                origin,
                line: self.line + line - 1,
                column: if line == 1 {
                    self.column + column
                } else {
                    column
                },
                message,
            }),
            other => other,
        }
    }
}

/// Parse the rest of the input from the reader, one top-level value after another.
fn stream_rest<R: Read>(input: R, at: At, ctx: &mut DecodeState<'_>) -> Result<(), PruneError> {
    let origin = ctx.origin;
    let mut de = serde_json::Deserializer::from_reader(input);
    loop {
        if let Err(e) = TopLevelValue(&mut *ctx).deserialize(&mut de) {
            return Err(ctx
                .error
                .take()
                .unwrap_or_else(|| at.place(json_failure(e, origin))));
        }
        match de.end() {
            Ok(()) => return Ok(()),
            Err(e) if e.is_syntax() && e.to_string().starts_with("trailing characters") => {}
            Err(e) => return Err(at.place(json_failure(e, origin))),
        }
    }
}

fn json_failure(e: serde_json::Error, origin: &str) -> PruneError {
    if e.is_io() {
        return CoreError::Unreadable {
            origin: origin.to_string(),
            source: e.into(),
        }
        .into();
    }
    rollout_core::input::json_error(&e, origin).into()
}

fn bare_package(
    ctx: &DecodeState<'_>,
    collected: PackageVersions,
    package: Option<&str>,
) -> Result<Package, PruneError> {
    let from_urls: Vec<&String> = distinct(collected.urls.iter().map(|u| &u.package));
    let name = match (package, from_urls.as_slice()) {
        (Some(p), []) => Some(p.to_string()),
        (Some(p), [u]) if u.as_str() == p => Some(p.to_string()),
        (Some(p), [u]) => {
            return Err(listing_error(
                ctx,
                format!("--package {p:?}, but the versions' URLs name package {u:?}"),
            ));
        }
        (None, []) => None,
        (None, [u]) => Some(u.to_string()),
        (_, many) => {
            return Err(listing_error(
                ctx,
                format!(
                    "versions of several packages in one listing ({}); give them as {{\"PKG\": [...]}}",
                    many.iter()
                        .map(|s| format!("{s:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    };
    let owners: Vec<&String> =
        distinct(collected.urls.iter().filter_map(|u| u.owner_path.as_ref()));
    let package = Package {
        name,
        owner_path: (owners.len() == 1).then(|| owners[0].clone()),
        versions: collected.versions,
        oci: collected.oci,
    };
    check_unique(ctx, &package)?;
    Ok(package)
}

fn listing_error(ctx: &DecodeState<'_>, message: String) -> PruneError {
    PruneError::Listing {
        origin: ctx.origin.to_string(),
        message,
    }
}

fn distinct<'a>(items: impl Iterator<Item = &'a String>) -> Vec<&'a String> {
    let mut out: Vec<&String> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

fn packages_from_map(
    ctx: &DecodeState<'_>,
    mapped: Vec<(String, PackageVersions)>,
    only: Option<&str>,
) -> Result<Vec<Package>, PruneError> {
    if let Some(p) = only
        && !mapped.iter().any(|(n, _)| n == p)
    {
        return Err(listing_error(
            ctx,
            format!(
                "--package {p:?} is not in the listing (packages: {})",
                mapped
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let mut out = Vec::new();
    for (name, collected) in mapped {
        if only.is_some_and(|p| p != name) {
            continue;
        }
        if let Some(u) = collected.urls.iter().find(|u| u.package != name) {
            return Err(listing_error(
                ctx,
                format!(
                    "package {name:?} holds a version whose URL names package {:?}",
                    u.package
                ),
            ));
        }
        let owners: Vec<&String> =
            distinct(collected.urls.iter().filter_map(|u| u.owner_path.as_ref()));
        let package = Package {
            owner_path: (owners.len() == 1).then(|| owners[0].clone()),
            name: Some(name),
            versions: collected.versions,
            oci: collected.oci,
        };
        check_unique(ctx, &package)?;
        out.push(package);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn check_unique(ctx: &DecodeState<'_>, package: &Package) -> Result<(), PruneError> {
    let mut seen: HashSet<&VersionId> = HashSet::with_capacity(package.versions.len());
    for v in &package.versions {
        if !seen.insert(&v.id) {
            return Err(PruneError::DuplicateId {
                origin: ctx.origin.to_string(),
                package: package
                    .name
                    .as_deref()
                    .map_or_else(|| "the package".to_string(), |n| format!("package {n:?}")),
                id: v.id.to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out one byte per call, like a slow pipe.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }

    const V: &str = r#"{"id": 1, "name": "sha256:0000000000000000000000000000000000000000000000000000000000000001", "created_at": "2026-01-01T00:00:00Z"}"#;

    fn read(text: &[u8], limit: u64) -> Result<Listing, PruneError> {
        read_listing(Trickle(text), "in", None, limit)
    }

    #[test]
    fn a_byte_order_mark_is_skipped_but_hashed() {
        let text = format!("\u{feff}[{V}]");
        let l = read(text.as_bytes(), 1 << 20).unwrap();
        assert_eq!(l.packages[0].versions.len(), 1);
        assert_eq!(l.sha256, rollout_core::hash::sha256_bytes(text.as_bytes()));
        // a short input that only starts like a BOM is not swallowed
        assert!(matches!(
            read(b"\xEF\xBB", 100),
            Err(PruneError::Core(CoreError::MalformedJson { .. }))
        ));
    }

    #[test]
    fn an_image_tags_listing_is_one_oci_repository() {
        let d = format!("sha256:{}", "a".repeat(64));
        let doc = format!(
            r#"{{"schemaVersion":"v1","kind":"image-tags","name":"reg.example:5000/org/app","tags":[{{"tag":"v1"}}],
               "versions":[{{"id":"{d}","digest":"{d}","createdAt":"2026-11-30T12:00:00Z","tags":["stable","v1"]}}]}}"#
        );
        let l = read(doc.as_bytes(), 1 << 20).unwrap();
        assert_eq!(l.packages.len(), 1);
        let p = &l.packages[0];
        assert_eq!(p.name.as_deref(), Some("reg.example:5000/org/app"));
        assert!(p.oci);
        assert_eq!(p.versions[0].digest(), d);
        let cases = [
            (
                r#"{"schemaVersion":"v1","kind":"image-tags","name":"r.io/a"}"#,
                "--digests",
            ),
            (
                r#"{"schemaVersion":"v1","kind":"image-tags","versions":[],"name":"r.io/a"}"#,
                "before",
            ),
            (
                r#"{"schemaVersion":"v1","kind":"image-tags","name":"r.io/A","versions":[]}"#,
                "repository",
            ),
            (
                r#"{"schemaVersion":"v1","kind":"digest-scan","versions":[]}"#,
                "digest-scan",
            ),
            (
                r#"{"schemaVersion":"v1","kind":"error","tool":"image-resolve","message":"boom"}"#,
                "boom",
            ),
        ];
        for (text, says) in cases {
            let e = read(text.as_bytes(), 1 << 20).unwrap_err();
            assert!(e.to_string().contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn the_size_limit_stops_reading() {
        let text = format!("[{V}]");
        let e = read(text.as_bytes(), 20).unwrap_err();
        assert!(
            matches!(e, PruneError::Core(CoreError::TooLarge { limit: 20, .. })),
            "{e}"
        );
        read(text.as_bytes(), text.len() as u64).unwrap();
    }

    #[test]
    fn empty_inputs_and_listings() {
        for empty in [&b""[..], b"  \n\t ", b"\xEF\xBB\xBF\n"] {
            let e = read(empty, 100).unwrap_err();
            assert!(
                matches!(e, PruneError::Core(CoreError::EmptyInput { .. })),
                "{e}"
            );
        }
        // an empty array is a package without versions, not an error
        let l = read(b"[]\n[]", 100).unwrap();
        assert!(l.packages[0].versions.is_empty());
    }

    #[test]
    fn garbage_between_pages_is_located() {
        let text = format!("[{V}]\n, [{V}]");
        let e = read(text.as_bytes(), 1 << 20).unwrap_err();
        assert!(e.to_string().starts_with("in:2:1: malformed JSON"), "{e}");
    }

    /// Inputs whose pages are parsed from memory and from the reader alike: valid shapes,
    /// strings holding brackets, quotes and backslashes, and broken input at many places.
    fn shapes() -> Vec<Vec<u8>> {
        let tagged = |id: u32, tag: &str| {
            format!(
                r#"{{"id": {id}, "name": "sha256:{id:064x}", "created_at": "2026-01-01T00:00:00Z", "metadata": {{"container": {{"tags": ["{tag}"]}}}}}}"#
            )
        };
        let (a, b, c) = (
            tagged(1, r"p]-\\"),
            tagged(2, r#"}\"["#),
            tagged(3, r"\u005d"),
        );
        // a backslash right at the end of the reader's 64 KiB buffer
        let pad = "x".repeat((1 << 16) - 1 - r#"[{"id": 9, "note": ""#.len());
        let at_edge = format!(
            r#"[{{"id": 9, "note": "{pad}\"]", "name": "sha256:{:064x}", "created_at": "2026-01-01T00:00:00Z"}}]"#,
            9
        );
        let texts = [
            format!("[{a},{b}]\n[{c}]"),
            format!("  [{a}]\r\n\r\n   [{b}, {c}]  \n"),
            format!("[[{a}], [{b}]]\n[[{c}]]"),
            format!(r#"{{"pkg": [{a}, {b}]}} {{"pkg": [{c}]}}"#),
            at_edge.clone(),
            format!("{at_edge}\n[{a}]"),
            format!("[{a}]\n[{b} {c}]"),
            format!("[{a}]\n\n  [{b},\n {c}"),
            format!("[{a}]]"),
            format!("[{a}]\n[{b}]\u{0}"),
            format!("[{a}]\n  5"),
            format!("[{a}]\n  \"text\""),
            format!(
                "[{a}]\n[{{\"id\": 4, \"name\": \"sha256:{:064x}\", \"created_at\": \"2026-01-01T00:00:00Z\", \"tags\": [\"a\\u0000b\"]}}]",
                4
            ),
            format!("[{a}]\n[\"unterminated"),
            format!("[{a}]\n[{a}]"),
            format!("[{a}, 7]"),
            format!("[{a}]\u{c}\n"),
        ];
        let mut out: Vec<Vec<u8>> = texts.iter().map(|t| t.clone().into_bytes()).collect();
        let mut bad_utf8 = format!("[{a}]\n[").into_bytes();
        bad_utf8.extend_from_slice(b"{\"id\": 5, \"tags\": [\"\xff\"]}]");
        out.push(bad_utf8);
        out
    }

    fn outcome(r: Result<Listing, PruneError>) -> String {
        match r {
            Ok(l) => format!("{:?} {}", l.packages, l.sha256),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn pages_parsed_from_memory_read_as_the_reader_reads_them() {
        for text in shapes() {
            let streamed = outcome(read_listing_with(&text[..], "in", None, 1 << 30, 0));
            let shown = String::from_utf8_lossy(&text[..text.len().min(120)]).into_owned();
            for in_memory in [IN_MEMORY, 1 << 16] {
                let whole = read_listing_with(&text[..], "in", None, 1 << 30, in_memory);
                assert_eq!(outcome(whole), streamed, "{shown:?}");
            }
            let trickled = read_listing_with(Trickle(&text), "in", None, 1 << 30, IN_MEMORY);
            assert_eq!(outcome(trickled), streamed, "{shown:?}");
        }
    }

    #[test]
    fn an_error_in_a_later_page_names_its_line_and_column() {
        let text = format!("[{V}]\n  [{V}  {V}]");
        let e = read(text.as_bytes(), 1 << 20).unwrap_err().to_string();
        let column = 2 + 1 + V.len() + 3;
        assert!(
            e.starts_with(&format!("in:2:{column}: malformed JSON")),
            "{e}"
        );
    }

    #[test]
    fn version_urls_name_package_and_owner() {
        let u = UrlParts::parse(
            "https://ghe.example.com/api/v3/orgs/acme/packages/container/team%2Fweb/versions/9",
        )
        .unwrap();
        assert_eq!(u.owner_path.as_deref(), Some("/orgs/acme"));
        assert_eq!(u.package, "team/web");
        let u =
            UrlParts::parse("https://api.github.com/user/packages/container/x/versions/1").unwrap();
        assert_eq!(u.owner_path.as_deref(), Some("/user"));
        // a hostile name is no package name: the URL is ignored
        assert!(
            UrlParts::parse("https://api.github.com/orgs/a/packages/container/x;rm/versions/1")
                .is_none()
        );
        assert!(UrlParts::parse("not a url").is_none());
    }
}
