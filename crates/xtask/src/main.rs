//! xtask: generates what is derived from the code, so it cannot drift from it.
//!
//! * `man [DIR]`: man pages from each tool's clap command plus its hand-written sections
//!   (`crates/<tool>/doc/<tool>.roff`) and the sections every tool shares (exit status,
//!   environment, limits), default `man/`;
//! * `schemas [DIR]`: JSON Schemas of every document kind, from the Rust types, default
//!   `schemas/`;
//! * `completions DIR`: bash, zsh and fish completions;
//! * `check`: regenerate into a temp dir and fail if `man/` or `schemas/` differ;
//! * `house`: function and `cli.rs` lengths and import circles per crate ([`house`]).

mod house;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

/// A tool: its clap command and its hand-written man sections.
struct Tool {
    name: &'static str,
    command: fn() -> clap::Command,
    sections: &'static str,
}

fn tools() -> Vec<Tool> {
    vec![
        Tool {
            name: "gate-eval",
            command: rollout_gate::cli::Cli::command,
            sections: include_str!("../../gate/doc/gate-eval.roff"),
        },
        Tool {
            name: "policy-apply",
            command: rollout_policy::cli::Cli::command,
            sections: include_str!("../../policy/doc/policy-apply.roff"),
        },
        Tool {
            name: "digest-pin",
            command: rollout_pin::cli::Cli::command,
            sections: include_str!("../../pin/doc/digest-pin.roff"),
        },
        Tool {
            name: "tag-bump",
            command: rollout_bump::cli::Cli::command,
            sections: include_str!("../../bump/doc/tag-bump.roff"),
        },
        Tool {
            name: "prune-plan",
            command: rollout_prune::cli::Cli::command,
            sections: include_str!("../../prune/doc/prune-plan.roff"),
        },
        Tool {
            name: "freshness-check",
            command: rollout_fresh::cli::Cli::command,
            sections: include_str!("../../fresh/doc/freshness-check.roff"),
        },
        Tool {
            name: "health-probe",
            command: rollout_probe::cli::Cli::command,
            sections: include_str!("../../probe/doc/health-probe.roff"),
        },
        Tool {
            name: "image-resolve",
            command: rollout_resolve::cli::Cli::command,
            sections: include_str!("../../resolve/doc/image-resolve.roff"),
        },
    ]
}

const EXIT_STATUS: &str = r#".SH "EXIT STATUS"
The same table holds for every rollout\-tools command.
.TP
\fB0\fR
success (a \fBhold\fR decision is a success unless \fB\-\-fail\-on\-hold\fR)
.TP
\fB1\fR
negative verdict asked for: hold with \fB\-\-fail\-on\-hold\fR, drift found by \fB\-\-check\fR,
unhealthy with \fB\-\-fail\-on\-unhealthy\fR, stale with \fB\-\-fail\-on\-stale\fR, broken audit chain
.TP
\fB2\fR
usage error or invalid input: bad flags, unreadable or malformed JSON/YAML, wrong kind or
schemaVersion, malformed digest, tag, URL or timestamp
.TP
\fB3\fR
refused by a safety rule (fail\-closed)
.TP
\fB4\fR
conflict: idempotency key reused, revision changed, lock not obtained in time, push rejected
.TP
\fB5\fR
environment failure: I/O, git, network, TLS
.PP
A closed stdout (\fB| head\fR) ends the command quietly with 0. On every other non\-zero exit,
stderr has one line \fITOOL\fB: error: \fIMESSAGE\fR (plus indented hint lines) and no file
was changed. With \fB\-\-json\-errors\fR an \fBerror\fR document is also printed on stdout.
"#;

const ENVIRONMENT: &str = r#".SH ENVIRONMENT
.TP
\fBROLLOUT_NOW\fR
the clock, as \fB\-\-now\fR (empty: the system clock)
.TP
\fBROLLOUT_TRACE_ID\fR
the trace id, as \fB\-\-trace\-id\fR (empty: a new one)
.TP
\fBROLLOUT_JSON_ERRORS\fR
set to 1 to print error documents, as \fB\-\-json\-errors\fR
.TP
\fBGITHUB_STEP_SUMMARY\fR
the Markdown summary is appended to this file (unless \fB\-\-no\-step\-summary\fR)
.TP
\fBGITHUB_ACTIONS\fR
when \fBtrue\fR, errors and warnings are also printed as \fB::error::\fR and \fB::warning::\fR
workflow commands
.TP
\fBROLLOUT_SIGNING_KEY\fR
a secret of at least 16 bytes: gate\-eval signs its decisions with it, policy\-apply acts only
on decisions it signed and keys its audit records (see policy\-apply(1)); other tools ignore it
.SH LIMITS
A JSON or YAML document is at most 64 MiB (a prune\-plan versions listing, which is streamed,
512 MiB), a JSONL record at most 1 MiB, nesting at most 128 levels; a YAML file may expand through aliases to at most 1,000,000 nodes and 64 MiB of text. Larger or
deeper input is refused with exit 2 (or, for evidence, makes the source \fBinvalid\fR).
"#;

fn render_man(tool: &Tool) -> Vec<u8> {
    let cmd = (tool.command)();
    let man = clap_mangen::Man::new(cmd)
        .date("2026-11-21")
        .source("rollout-tools")
        .manual("rollout-tools manual");
    let mut out = Vec::new();
    man.render_title(&mut out).expect("render");
    man.render_name_section(&mut out).expect("render");
    man.render_synopsis_section(&mut out).expect("render");
    man.render_description_section(&mut out).expect("render");
    man.render_options_section(&mut out).expect("render");
    man.render_subcommands_section(&mut out).expect("render");
    out.extend_from_slice(tool.sections.as_bytes());
    out.extend_from_slice(EXIT_STATUS.as_bytes());
    out.extend_from_slice(ENVIRONMENT.as_bytes());
    // clap_mangen titles the after-help text "EXTRA"; ours is the examples.
    let mut extra = Vec::new();
    man.render_extra_section(&mut extra).expect("render");
    let extra = String::from_utf8_lossy(&extra).replacen(".SH EXTRA", ".SH EXAMPLES", 1);
    out.extend_from_slice(extra.as_bytes());
    man.render_version_section(&mut out).expect("render");
    out
}

/// The JSON Schema of a document type.
fn schema<T: schemars::JsonSchema>() -> serde_json::Result<serde_json::Value> {
    serde_json::to_value(schemars::schema_for!(T))
}

/// Every document kind's schema file and its schema, unsorted.
fn schema_list() -> Vec<(&'static str, serde_json::Result<serde_json::Value>)> {
    vec![
        (
            "gate-decision.v1.schema.json",
            schema::<rollout_gate::decision::GateDecision>(),
        ),
        (
            "gates.v1.schema.json",
            schema::<rollout_gate::model::GatesFile>(),
        ),
        (
            "apply-record.v1.schema.json",
            schema::<rollout_policy::model::ApplyRecord>(),
        ),
        (
            "policy-request.v1.schema.json",
            schema::<rollout_policy::model::PolicyRequest>(),
        ),
        (
            "audit-verification.v1.schema.json",
            schema::<rollout_policy::model::AuditVerification>(),
        ),
        (
            "fleet-registry.v1.schema.json",
            serde_json::from_str(include_str!(
                "../../policy/schemas/fleet-registry.v1.schema.json"
            )),
        ),
        (
            "orchestrate-result.v1.schema.json",
            schema::<rollout_core::results::OrchestrateResult>(),
        ),
        (
            "gate-config-result.v1.schema.json",
            schema::<rollout_core::results::GateConfigResult>(),
        ),
        (
            "bump-report.v1.schema.json",
            schema::<rollout_bump::report::BumpReport>(),
        ),
        (
            "pin-report.v1.schema.json",
            schema::<rollout_pin::report::PinReport>(),
        ),
        (
            "digest-scan.v1.schema.json",
            schema::<rollout_pin::report::DigestScan>(),
        ),
        (
            "digest-set.v1.schema.json",
            schema::<rollout_pin::report::DigestSetDoc>(),
        ),
        (
            "digest-ledger.v1.schema.json",
            schema::<rollout_pin::report::DigestLedger>(),
        ),
        (
            "digest-ledger-record.v1.schema.json",
            schema::<rollout_pin::report::LedgerRecordDoc>(),
        ),
        (
            "prune-plan.v1.schema.json",
            serde_json::to_value(schemars::schema_for!(
                rollout_prune::report::PrunePlan<'static>
            )),
        ),
        (
            "freshness-report.v1.schema.json",
            schema::<rollout_fresh::report::FreshnessReport>(),
        ),
        (
            "health-report.v1.schema.json",
            schema::<rollout_probe::report::HealthReport>(),
        ),
        (
            "image-report.v1.schema.json",
            schema::<rollout_resolve::report::ImageReport>(),
        ),
        (
            "image-tags.v1.schema.json",
            schema::<rollout_resolve::report::TagsReport>(),
        ),
        (
            "error.v1.schema.json",
            schema::<rollout_core::doc::ErrorDocument>(),
        ),
    ]
}

fn schemas() -> Vec<(&'static str, serde_json::Value)> {
    let mut list = schema_list();
    list.sort_by_key(|(n, _)| *n);
    list.into_iter()
        .map(|(n, v)| {
            let mut v = v.expect("schema serialises");
            if let Some(obj) = v.as_object_mut() {
                obj.insert(
                    "$id".into(),
                    format!("https://rollout-tools.invalid/schemas/{n}").into(),
                );
            }
            (n, v)
        })
        .collect()
}

/// The shell entry points in `bin/`: their man page is their `--help` text (the `usage`
/// here-document), so the two cannot disagree.
const SCRIPTS: &[(&str, &str, &str)] = &[
    (
        "rollout-orchestrate",
        "decide, apply, verify and roll back one rollout step, with one result document",
        include_str!("../../../bin/rollout-orchestrate"),
    ),
    (
        "rollout-gate-config",
        "validate and rotate the rollout gate's secrets, and prove them with a gate-only run",
        include_str!("../../../bin/rollout-gate-config"),
    ),
    (
        "rollout-tag",
        "the rollout procedure in one command: an environment's Flux repository, tag pr-N-sha7, push",
        include_str!("../../../bin/rollout-tag"),
    ),
];

fn render_script_man(name: &str, summary: &str, source: &str) -> Vec<u8> {
    let help = source
        .split_once("cat <<'EOF'\n")
        .and_then(|(_, rest)| rest.split_once("\nEOF\n"))
        .map(|(help, _)| help)
        .unwrap_or_else(|| panic!("{name}: no usage here-document"));
    let roff_line = |l: &str| {
        let l = l.replace('\\', "\\e").replace('-', "\\-");
        if l.starts_with('.') || l.starts_with('\'') {
            format!("\\&{l}")
        } else {
            l
        }
    };
    let mut out = format!(
        ".TH {} 1 \"2026-11-21\" \"rollout-tools\" \"rollout-tools manual\"\n.SH NAME\n{} \\- {}\n.SH DESCRIPTION\n.nf\n",
        name.to_uppercase(),
        name.replace('-', "\\-"),
        summary
    );
    for line in help.lines() {
        out.push_str(&roff_line(line));
        out.push('\n');
    }
    out.push_str(".fi\n");
    out.into_bytes()
}

fn write_man(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    for tool in tools() {
        fs::write(dir.join(format!("{}.1", tool.name)), render_man(&tool))?;
    }
    for (name, summary, source) in SCRIPTS {
        fs::write(
            dir.join(format!("{name}.1")),
            render_script_man(name, summary, source),
        )?;
    }
    Ok(())
}

fn write_schemas(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    for (name, schema) in schemas() {
        let mut text = serde_json::to_string_pretty(&schema).expect("json");
        text.push('\n');
        fs::write(dir.join(name), text)?;
    }
    Ok(())
}

fn write_completions(dir: &Path) -> std::io::Result<()> {
    for (shell, sub) in [
        (Shell::Bash, "bash"),
        (Shell::Zsh, "zsh"),
        (Shell::Fish, "fish"),
    ] {
        let d = dir.join(sub);
        fs::create_dir_all(&d)?;
        for tool in tools() {
            let mut cmd = (tool.command)();
            let file = match shell {
                Shell::Zsh => format!("_{}", tool.name),
                Shell::Fish => format!("{}.fish", tool.name),
                _ => tool.name.to_string(),
            };
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, tool.name, &mut out);
            fs::write(d.join(file), out)?;
        }
    }
    Ok(())
}

/// Files of `dir` (one level), sorted.
fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn drift(committed: &Path, generated: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let names = |d: &Path| -> Vec<String> {
        listing(d)
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .filter(|n| !n.starts_with('.'))
            .collect()
    };
    let (have, want) = (names(committed), names(generated));
    for n in &want {
        if !have.contains(n) {
            problems.push(format!("{}/{n} is missing", committed.display()));
        } else if fs::read(committed.join(n)).ok() != fs::read(generated.join(n)).ok() {
            problems.push(format!("{}/{n} is out of date", committed.display()));
        }
    }
    for n in &have {
        if !want.contains(n) {
            problems.push(format!(
                "{}/{n} is not generated any more",
                committed.display()
            ));
        }
    }
    problems
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let arg_dir = |default: &str| {
        args.get(1)
            .map_or_else(|| root.join(default), PathBuf::from)
    };
    let result = match args.first().map(String::as_str) {
        Some("man") => write_man(&arg_dir("man")),
        Some("schemas") => write_schemas(&arg_dir("schemas")),
        Some("completions") => match args.get(1) {
            Some(d) => write_completions(Path::new(d)),
            None => {
                eprintln!("xtask: error: completions needs an output directory");
                return ExitCode::from(2);
            }
        },
        Some("house") => {
            return match house::run(&root) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => {
                    eprintln!("xtask: the house numbers do not hold (docs/ARCHITECTURE.md)");
                    ExitCode::from(1)
                }
                Err(e) => {
                    eprintln!("xtask: error: {e}");
                    ExitCode::from(5)
                }
            };
        }
        Some("check") => {
            let tmp = std::env::temp_dir().join(format!("rollout-xtask-{}", std::process::id()));
            let _ = fs::remove_dir_all(&tmp);
            let res = write_man(&tmp.join("man")).and_then(|_| write_schemas(&tmp.join("schemas")));
            if let Err(e) = res {
                eprintln!("xtask: error: {e}");
                return ExitCode::from(5);
            }
            let mut problems = drift(&root.join("man"), &tmp.join("man"));
            problems.extend(drift(&root.join("schemas"), &tmp.join("schemas")));
            let _ = fs::remove_dir_all(&tmp);
            if problems.is_empty() {
                println!("xtask: man/ and schemas/ match the code");
                return ExitCode::SUCCESS;
            }
            for p in problems {
                eprintln!("xtask: drift: {p}");
            }
            eprintln!("  hint: run `make man schemas` and commit the result");
            return ExitCode::from(1);
        }
        _ => {
            eprintln!("usage: xtask man [DIR] | schemas [DIR] | completions DIR | check | house");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::from(5)
        }
    }
}
