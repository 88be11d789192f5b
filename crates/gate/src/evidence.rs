//! Evidence: the root document (`-i`) plus named sources (`--evidence NAME=PATH`).
//!
//! A missing or unparseable evidence file is *not* an error: its value is null and
//! `$sources.NAME.state` says `missing` or `invalid`, so the gates fail closed with their
//! own reason codes and the decision explains why. Two things are errors (exit 2): the
//! primary input being unreadable, and any evidence that is an upstream `error` document
//! (a failed health-probe must not look like a merely absent report).
//!
//! JSONL sources with a `last: N` window are hashed and validated in one forward pass and
//! then read from the end until the window is full, so a million-record telemetry file costs
//! one sequential read and memory for N records.

use indexmap::IndexMap;
use jaq_json::Val;
use rollout_core::doc::refuse_error_document;
use rollout_core::hash::sha256_bytes;
use rollout_core::input::{MAX_DOCUMENT_BYTES, Source, as_text, parse_json, read_bytes};
use rollout_core::jq::from_val;
use rollout_core::jsonl::{ReverseLines, scan, trim_line};
use serde_json::{Map, Value};

use crate::decision::{FileInput, SourceInfo, SourceState};
use crate::engine::Runner;
use crate::error::GateError;
use crate::params::{is_identifier, split_assignment};
use crate::plan::SourcePlan;

/// A `--evidence NAME=PATH` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceArg {
    /// The key under which the document is added to the root.
    pub name: String,
    /// The file.
    pub path: String,
}

/// Parse `--evidence NAME=PATH` arguments, refusing bad and duplicate names.
pub fn parse_args(args: &[String]) -> Result<Vec<EvidenceArg>, GateError> {
    let mut out: Vec<EvidenceArg> = Vec::new();
    for arg in args {
        let (name, path) = split_assignment("--evidence", arg)?;
        if path.is_empty() {
            return Err(GateError::BadArgument {
                flag: "--evidence",
                arg: arg.clone(),
                message: "the path is empty".into(),
            });
        }
        if out.iter().any(|e| e.name == name) {
            return Err(GateError::BadArgument {
                flag: "--evidence",
                arg: arg.clone(),
                message: format!("{name} is given twice"),
            });
        }
        debug_assert!(is_identifier(&name));
        out.push(EvidenceArg { name, path });
    }
    Ok(out)
}

/// The root document as read from `-i`/stdin.
pub struct RootInput {
    /// The parsed document.
    pub value: Value,
    /// Where it came from and its digest.
    pub info: FileInput,
}

/// Read the primary input. Errors here are exit 2: the caller named this input.
pub fn read_root(source: &Source) -> Result<RootInput, GateError> {
    let bytes = read_bytes(source, "an evidence JSON document", MAX_DOCUMENT_BYTES)?;
    let origin = source.origin();
    let value = parse_json(&bytes, &origin)?;
    refuse_error_document(&value, &origin)?;
    Ok(RootInput {
        value,
        info: FileInput {
            path: origin,
            digest: sha256_bytes(&bytes),
        },
    })
}

/// Add every evidence source to `root` and describe each one.
///
/// Sources declared in the gates file but not given are added as `missing` with a null value.
pub fn attach(
    root: &mut Value,
    args: &[EvidenceArg],
    declared: &IndexMap<String, SourcePlan>,
    runner: &Runner<'_>,
) -> Result<IndexMap<String, SourceInfo>, GateError> {
    let mut infos = IndexMap::new();
    let mut names: Vec<&str> = args.iter().map(|a| a.name.as_str()).collect();
    for name in declared.keys() {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    if names.is_empty() {
        return Ok(infos);
    }
    let kind = rollout_core::doc::json_type(root);
    let Some(map) = root.as_object_mut() else {
        return Err(GateError::BadArgument {
            flag: "-i",
            arg: kind.to_string(),
            message: format!(
                "the input document must be an object: the evidence sources ({}) are added to it as keys",
                names.join(", ")
            ),
        });
    };
    for name in names {
        if map.contains_key(name) {
            return Err(GateError::BadArgument {
                flag: "--evidence",
                arg: name.to_string(),
                message: format!("the input document already has a key {name:?}"),
            });
        }
        let plan = declared.get(name);
        let (value, info) = match args.iter().find(|a| a.name == name) {
            None => (
                Value::Null,
                SourceInfo {
                    state: SourceState::Missing,
                    path: None,
                    format: None,
                    digest: None,
                    records: None,
                    kept: None,
                    error: Some("not given (--evidence NAME=PATH)".into()),
                },
            ),
            Some(arg) => load_one(&arg.path, plan, runner)?,
        };
        map.insert(name.to_string(), value);
        infos.insert(name.to_string(), info);
    }
    Ok(infos)
}

fn info(state: SourceState, path: &str, format: &str) -> SourceInfo {
    SourceInfo {
        state,
        path: Some(path.to_string()),
        format: Some(format.to_string()),
        digest: None,
        records: None,
        kept: None,
        error: None,
    }
}

fn invalid(mut i: SourceInfo, error: String) -> (Value, SourceInfo) {
    i.state = SourceState::Invalid;
    i.error = Some(error);
    (Value::Null, i)
}

fn format_of(path: &str) -> &'static str {
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
        "jsonl"
    } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        "yaml"
    } else {
        "json"
    }
}

fn load_one(
    path: &str,
    plan: Option<&SourcePlan>,
    runner: &Runner<'_>,
) -> Result<(Value, SourceInfo), GateError> {
    let format = format_of(path);
    let base = info(SourceState::Ok, path, format);
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut i = base;
            i.state = SourceState::Missing;
            i.error = Some("no such file".into());
            return Ok((Value::Null, i));
        }
        Err(e) => return Ok(invalid(base, e.to_string())),
        Ok(_) => {}
    }
    if format == "jsonl" {
        return Ok(load_jsonl(path, plan, runner, base));
    }
    let bytes = match read_bytes(
        &Source::File(path.into()),
        "an evidence document",
        MAX_DOCUMENT_BYTES,
    ) {
        Ok(b) => b,
        Err(e) => return Ok(invalid(base, e.to_string())),
    };
    let mut base = base;
    base.digest = Some(sha256_bytes(&bytes));
    let parsed = if format == "yaml" {
        as_text(&bytes, path).and_then(|t| rollout_core::yaml::parse_yaml(t, path))
    } else {
        parse_json(&bytes, path)
    };
    let value = match parsed {
        Ok(v) => v,
        Err(e) => return Ok(invalid(base, e.to_string())),
    };
    refuse_error_document(&value, path)?;
    match (plan, value) {
        (Some(p), Value::Array(items)) if p.filter.is_some() || p.last.is_some() => {
            let records = items.len() as u64;
            match window(
                items.iter().map(|v| Ok(rollout_core::jq::to_val(v))),
                p,
                runner,
                false,
            ) {
                Ok(kept) => {
                    base.records = Some(records);
                    base.kept = Some(kept.len() as u64);
                    Ok((Value::Array(kept), base))
                }
                Err(e) => Ok(invalid(base, e)),
            }
        }
        (Some(p), other) if p.filter.is_some() || p.last.is_some() => Ok(invalid(
            base,
            format!(
                "expected an array of records for the source's filter/last, found {}",
                rollout_core::doc::json_type(&other)
            ),
        )),
        (_, v) => Ok((v, base)),
    }
}

/// Apply a source's filter and window to records given in file order (or, with
/// `reversed`, from the last backwards, stopping once the window is full).
fn window(
    records: impl Iterator<Item = Result<Val, String>>,
    plan: &SourcePlan,
    runner: &Runner<'_>,
    reversed: bool,
) -> Result<Vec<Value>, String> {
    let mut kept: Vec<Value> = Vec::new();
    for record in records {
        let record = record?;
        let outputs = match plan.filter {
            None => vec![record],
            Some(idx) => runner.all(idx, &record, &Val::Null, &[])?,
        };
        let mut converted = outputs
            .iter()
            .map(from_val)
            .collect::<Result<Vec<_>, _>>()?;
        if reversed {
            converted.reverse();
        }
        kept.extend(converted);
        if reversed && plan.last.is_some_and(|n| kept.len() >= n) {
            break;
        }
    }
    if reversed {
        kept.reverse();
    }
    if let Some(n) = plan.last
        && kept.len() > n
    {
        kept.drain(..kept.len() - n);
    }
    Ok(kept)
}

fn load_jsonl(
    path: &str,
    plan: Option<&SourcePlan>,
    runner: &Runner<'_>,
    mut base: SourceInfo,
) -> (Value, SourceInfo) {
    let scanned = match scan(std::path::Path::new(path)) {
        Ok(s) => s,
        Err(e) => return invalid(base, e.to_string()),
    };
    base.digest = Some(scanned.digest.clone());
    base.records = Some(scanned.records);
    if let Some((line, message)) = &scanned.invalid {
        return invalid(base, format!("line {line}: {message}"));
    }
    let parse = |(number, line): (u64, Vec<u8>)| -> Result<Val, String> {
        let line = trim_line(&line);
        if rollout_core::input::nesting_exceeds(line, rollout_core::input::MAX_DEPTH) {
            return Err(format!(
                "line {number}: nesting deeper than {} levels",
                rollout_core::input::MAX_DEPTH
            ));
        }
        jaq_json::read::parse_single(line).map_err(|e| format!("line {number}: {e}"))
    };
    let result = match plan.filter(|p| p.last.is_some()) {
        Some(p) => match ReverseLines::open(std::path::Path::new(path), scanned.lines) {
            Ok(lines) => window(
                lines.map(|r| r.map_err(|e| e.to_string()).and_then(parse)),
                p,
                runner,
                true,
            ),
            Err(e) => Err(e.to_string()),
        },
        None => {
            if scanned.bytes > MAX_DOCUMENT_BYTES {
                return invalid(
                    base,
                    format!(
                        "{} bytes is over the {MAX_DOCUMENT_BYTES}-byte limit for a whole JSONL source; declare sources.NAME.last to read a window",
                        scanned.bytes
                    ),
                );
            }
            match std::fs::read(path) {
                Err(e) => Err(e.to_string()),
                Ok(bytes) => {
                    let lines = bytes
                        .split(|&b| b == b'\n')
                        .enumerate()
                        .filter(|(_, l)| !trim_line(l).iter().all(u8::is_ascii_whitespace))
                        .map(|(i, l)| parse((i as u64 + 1, l.to_vec())));
                    let plan = plan.cloned().unwrap_or(SourcePlan {
                        filter: None,
                        last: None,
                    });
                    window(lines, &plan, runner, false)
                }
            }
        }
    };
    match result {
        Ok(kept) => {
            base.kept = Some(kept.len() as u64);
            (Value::Array(kept), base)
        }
        Err(e) => invalid(base, e),
    }
}

/// The root used when no `-i` is given but evidence is: an empty object.
pub fn empty_root() -> Value {
    Value::Object(Map::new())
}
