//! Large JSONL files (telemetry, audit logs) read in bounded memory.
//!
//! Telemetry grows without bound (the replaced system appended a full decision per run), and
//! what a gate needs is usually the *last* N matching records. So a JSONL file is read in two
//! steps, neither of which holds the file in memory:
//!
//! 1. [`scan`]: one forward pass that hashes the bytes and checks that every non-blank line
//!    is one well-formed JSON value (without building it), within [`MAX_LINE_BYTES`];
//! 2. [`ReverseLines`]: lines from the end backwards, so a caller can stop as soon as its
//!    window is full.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::hash::StreamDigest;
use crate::input::{MAX_LINE_BYTES, open_file};

/// What the forward pass learned about a JSONL file.
#[derive(Debug, Clone)]
pub struct Scan {
    /// `sha256:<hex>` of the file's bytes.
    pub digest: String,
    /// Number of non-blank lines (records).
    pub records: u64,
    /// Number of lines, blank ones included (for [`ReverseLines::open`]).
    pub lines: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// The first malformed line, if any: (1-based line number, description).
    pub invalid: Option<(u64, String)>,
}

/// Hash the file and validate every line as one JSON value.
///
/// Malformed content is reported in [`Scan::invalid`], not as an error: callers decide
/// whether that fails closed. Only I/O failures are errors.
pub fn scan(path: &Path) -> std::io::Result<Scan> {
    let mut reader = BufReader::with_capacity(1 << 20, open_file(path)?);
    let mut digest = StreamDigest::default();
    let mut line = Vec::with_capacity(4096);
    let (mut records, mut bytes, mut number) = (0u64, 0u64, 0u64);
    let mut invalid = None;
    loop {
        line.clear();
        let n = read_line_bounded(&mut reader, &mut line, &mut digest)?;
        if n == 0 {
            break;
        }
        number += 1;
        bytes += n as u64;
        let content = trim_line(&line);
        if content.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        records += 1;
        if invalid.is_some() {
            continue;
        }
        if n > MAX_LINE_BYTES + 2 {
            invalid = Some((number, format!("line longer than {MAX_LINE_BYTES} bytes")));
            continue;
        }
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(content) {
            invalid = Some((number, short_message(&e)));
        }
    }
    Ok(Scan {
        digest: digest.finish(),
        records,
        lines: number,
        bytes,
        invalid,
    })
}

/// Read one line including its `\n` and feed it to `digest`; returns the bytes consumed.
/// A line longer than the limit is consumed whole, but only its first part is kept, so one
/// huge line cannot exhaust memory.
fn read_line_bounded(
    reader: &mut impl BufRead,
    out: &mut Vec<u8>,
    digest: &mut StreamDigest,
) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(total);
        }
        let (chunk, done) = match memchr(b'\n', buf) {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        let len = chunk.len();
        digest.update(chunk);
        if out.len() <= MAX_LINE_BYTES + 2 {
            out.extend_from_slice(chunk);
        }
        total += len;
        reader.consume(len);
        if done {
            return Ok(total);
        }
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// A line without its `\n` / `\r\n` terminator.
pub fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A serde_json error as `column C: message` (the line is known to the caller).
fn short_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let message = full
        .rfind(" at line ")
        .map_or(full.as_str(), |i| &full[..i]);
    format!("column {}: {message}", e.column())
}

/// The lines of a file from the last to the first, each with its 1-based line number.
///
/// Blank lines are skipped. Memory is one block plus the longest line.
pub struct ReverseLines {
    file: File,
    /// Bytes `[0, pos)` are not read yet.
    pos: u64,
    /// The start of the earliest line read so far (it may continue in the unread part).
    carry: Vec<u8>,
    ready: VecDeque<Vec<u8>>,
    next_number: u64,
    done: bool,
}

const BLOCK: u64 = 1 << 16;

impl ReverseLines {
    /// Open `path`; `total_lines` is the line count of the file (for numbering).
    pub fn open(path: &Path, total_lines: u64) -> std::io::Result<Self> {
        let mut file = open_file(path)?;
        let mut pos = file.seek(SeekFrom::End(0))?;
        if pos > 0 {
            // A final newline ends the last line; it does not start an empty one.
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(pos - 1))?;
            file.read_exact(&mut last)?;
            if last[0] == b'\n' {
                pos -= 1;
            }
        }
        Ok(ReverseLines {
            file,
            pos,
            carry: Vec::new(),
            ready: VecDeque::new(),
            next_number: total_lines,
            done: pos == 0,
        })
    }

    fn fill(&mut self) -> std::io::Result<()> {
        if self.pos == 0 {
            self.ready.push_back(std::mem::take(&mut self.carry));
            self.done = true;
            return Ok(());
        }
        let start = self.pos.saturating_sub(BLOCK);
        let mut block = vec![0u8; (self.pos - start) as usize];
        self.file.seek(SeekFrom::Start(start))?;
        self.file.read_exact(&mut block)?;
        self.pos = start;
        block.extend_from_slice(&self.carry);
        let mut pieces = block.split(|&b| b == b'\n');
        let first = pieces.next().unwrap_or_default().to_vec();
        let complete: Vec<&[u8]> = pieces.collect();
        for line in complete.into_iter().rev() {
            self.ready.push_back(line.to_vec());
        }
        self.carry = first;
        Ok(())
    }
}

impl Iterator for ReverseLines {
    type Item = std::io::Result<(u64, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(mut line) = self.ready.pop_front() {
                let number = self.next_number;
                self.next_number = self.next_number.saturating_sub(1);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Some(Ok((number, line)));
            }
            if self.done {
                return None;
            }
            if let Err(e) = self.fill() {
                self.done = true;
                return Some(Err(e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reverse(text: &[u8]) -> Vec<(u64, String)> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.jsonl");
        std::fs::write(&p, text).unwrap();
        let scanned = scan(&p).unwrap();
        let newlines = text.iter().filter(|&&b| b == b'\n').count() as u64;
        let total = newlines + u64::from(!text.is_empty() && text.last() != Some(&b'\n'));
        assert_eq!(scanned.lines, total);
        ReverseLines::open(&p, scanned.lines)
            .unwrap()
            .map(|r| {
                let (n, l) = r.unwrap();
                (n, String::from_utf8(l).unwrap())
            })
            .collect()
    }

    #[test]
    fn reverse_lines_with_and_without_final_newline_and_blank_lines() {
        let want = vec![(3, "3".to_string()), (1, "1".to_string())];
        assert_eq!(reverse(b"1\n\n3\n"), want);
        assert_eq!(reverse(b"1\r\n\r\n3"), want);
        assert_eq!(reverse(b""), vec![]);
    }

    #[test]
    fn reverse_lines_across_blocks() {
        let mut text = String::new();
        for i in 1..=5000 {
            text.push_str(&format!(
                "{{\"i\":{i},\"pad\":\"{}\"}}\n",
                "x".repeat(i % 97)
            ));
        }
        let got = reverse(text.as_bytes());
        assert_eq!(got.len(), 5000);
        assert_eq!(got[0].0, 5000);
        assert!(got[0].1.starts_with("{\"i\":5000,"));
        assert_eq!(got[4999], (1, format!("{{\"i\":1,\"pad\":\"{}\"}}", "x")));
    }

    #[test]
    fn scan_counts_hashes_and_finds_the_first_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.jsonl");
        std::fs::write(&p, b"{\"a\":1}\n\n{\"a\":\n[1]\n").unwrap();
        let s = scan(&p).unwrap();
        assert_eq!(s.records, 3);
        assert_eq!(s.invalid.as_ref().unwrap().0, 3);
        assert_eq!(
            s.digest,
            crate::hash::sha256_bytes(&std::fs::read(&p).unwrap())
        );
    }
}
