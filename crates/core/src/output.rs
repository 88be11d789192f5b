//! Printing the one document a run produces: pretty or compact, or through `--jq`.
//!
//! stdout carries exactly one JSON document (or the `--jq` results) and nothing else.
//! Pretty is the default on a terminal, compact (one line) in a pipe. `--jq` results that
//! are strings print raw, like `gh --jq`. A closed stdout (`| head`) ends the run quietly
//! with exit 0, as CONTRACT.md §4 asks.

use std::io::{IsTerminal, Write};

use serde_json::Value;

use crate::error::CoreError;
use crate::jq::JqProgram;

/// A unified diff of one file (`a/LABEL`, `b/LABEL`, three lines of context), empty when
/// nothing changed. The `--dry-run --diff` preview of every tool that edits files.
pub fn unified_diff(label: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{label}"), &format!("b/{label}"))
        .to_string()
}

/// How the document is printed.
pub struct Output {
    pretty: bool,
    jq: Option<JqProgram>,
}

impl Output {
    /// Choose the style: `--pretty`, `--compact`, else pretty only on a terminal. `--jq` is
    /// compiled here, before any work is done, so a bad filter fails fast (exit 2).
    pub fn new(
        pretty: bool,
        compact: bool,
        jq: Option<&str>,
        now_epoch: f64,
    ) -> Result<Self, CoreError> {
        let pretty = if pretty {
            true
        } else if compact {
            false
        } else {
            std::io::stdout().is_terminal()
        };
        let jq = jq
            .map(|code| JqProgram::compile(code, &[], "--jq").map(|p| p.with_now(now_epoch)))
            .transpose()?;
        Ok(Output { pretty, jq })
    }

    /// Render `doc` to the text that goes to stdout (with the trailing newline).
    pub fn render(&self, doc: &Value) -> Result<String, CoreError> {
        let mut text = String::new();
        match &self.jq {
            None => text.push_str(&self.json(doc)),
            Some(program) => {
                let results = program
                    .run(doc, &[])
                    .map_err(|message| CoreError::JqOutput { message })?;
                for v in results {
                    match v {
                        Value::String(s) => text.push_str(&s),
                        other => text.push_str(&self.json(&other)),
                    }
                    text.push('\n');
                }
                return Ok(text);
            }
        }
        text.push('\n');
        Ok(text)
    }

    fn json(&self, v: &Value) -> String {
        if self.pretty {
            serde_json::to_string_pretty(v).unwrap_or_default()
        } else {
            serde_json::to_string(v).unwrap_or_default()
        }
    }

    /// Print `doc` on stdout. A closed pipe ends the process with exit 0.
    pub fn emit(&self, doc: &Value) -> Result<(), CoreError> {
        let text = self.render(doc)?;
        write_stdout(text.as_bytes())
    }

    /// Print a typed document. Without `--jq` it is serialised straight to a buffered
    /// stdout, never held as a `Value` or a string: a plan of 200,000 registry versions
    /// would otherwise cost several times its size in memory. With `--jq` the program needs
    /// the value, so it is built then.
    pub fn emit_serialize<T: serde::Serialize>(&self, doc: &T) -> Result<(), CoreError> {
        if self.jq.is_some() {
            let value = serde_json::to_value(doc).map_err(|e| CoreError::Write {
                path: "stdout".into(),
                source: std::io::Error::other(e),
            })?;
            return self.emit(&value);
        }
        let stdout = std::io::stdout().lock();
        let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout);
        let written = if self.pretty {
            serde_json::to_writer_pretty(&mut out, doc)
        } else {
            serde_json::to_writer(&mut out, doc)
        }
        .map_err(std::io::Error::from)
        .and_then(|_| out.write_all(b"\n"))
        .and_then(|_| out.flush());
        match written {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
            Err(source) => Err(CoreError::Write {
                path: "stdout".into(),
                source,
            }),
        }
    }
}

/// Write to stdout; on EPIPE end the process quietly with 0 (CONTRACT.md §4).
pub fn write_stdout(bytes: &[u8]) -> Result<(), CoreError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(source) => Err(CoreError::Write {
            path: "stdout".into(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compact_and_jq_raw_strings() {
        let o = Output::new(false, true, None, 0.0).unwrap();
        assert_eq!(o.render(&json!({"a": [1]})).unwrap(), "{\"a\":[1]}\n");
        let o = Output::new(false, true, Some(".a[], .b"), 0.0).unwrap();
        assert_eq!(
            o.render(&json!({"a": [1, "x"], "b": {"c": 1}})).unwrap(),
            "1\nx\n{\"c\":1}\n"
        );
        let o = Output::new(true, false, None, 0.0).unwrap();
        assert_eq!(o.render(&json!({"a": 1})).unwrap(), "{\n  \"a\": 1\n}\n");
    }

    #[test]
    fn jq_runtime_errors_are_reported() {
        let o = Output::new(false, true, Some("error(\"nope\")"), 0.0).unwrap();
        assert!(matches!(
            o.render(&json!(1)),
            Err(CoreError::JqOutput { .. })
        ));
    }
}
