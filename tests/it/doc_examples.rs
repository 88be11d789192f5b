//! The README's `console` examples and the `--help` examples of every tool and shell entry
//! point (which are the man pages' EXAMPLES) run as written; the README's print what it shows.
//!
//! Every ```` ```console ```` block of `README.md` is preceded by `<!-- example: NAME -->`,
//! naming `tests/docs/NAME.sh`, which prepares a fresh directory for it (the files the
//! commands name, a loopback server, a remote) and may write there:
//!
//! * `.env`: bash lines sourced before the commands (`export GITHUB_SHA=…`, the clock);
//! * `.substitutions`: `FROM<TAB>TO` lines: an example host's URL and the loopback one that
//!   stands for it (`https://git.example.com/org/flux.git` and a `file://` remote). FROM is
//!   replaced by TO in the commands, and TO by FROM in what they print; nothing else of a
//!   command or its output is changed;
//! * `.pids`: processes to stop when the block is done.
//!
//! The commands of a block run in one bash, in order, in that directory, stdout and stderr
//! together as a terminal shows them. A command's lines are the `$ ` line and its
//! continuations (a line ending in `\` or `|`); `!!` is the command before. The lines shown
//! after a command are compared with what it printed, exactly; a command shown without
//! output must exit 0. A block without a setup marker fails the test, so a new example
//! cannot be added untested.
//!
//! A tool's `--help` examples are one block whose setup is `tests/docs/help-TOOL.sh`; each
//! command runs in it, in order, and must exit 0, or with a status its comment names
//! ("refuse (exit 3) unless …"). They show no output to compare.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::bin_path;

/// One `$ ` command of a block and the lines shown after it.
#[derive(Debug)]
struct Step {
    /// The command, continuation lines joined with newlines.
    command: String,
    /// The output the README shows (trailing blank lines removed).
    expected: Vec<String>,
    /// Its line in the source (1-based).
    line: usize,
    /// The exit statuses it may end with (0, and any its comment names).
    allowed: Vec<i32>,
}

/// A `console` block, or a tool's `--help` examples.
#[derive(Debug)]
struct Block {
    /// Where it is, for messages: `README.md`, `tag-bump --help`.
    source: String,
    setup: Option<String>,
    line: usize,
    steps: Vec<Step>,
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn blocks(markdown: &str) -> Vec<Block> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_end() != "```console" {
            i += 1;
            continue;
        }
        let setup = i
            .checked_sub(1)
            .and_then(|p| lines[p].trim().strip_prefix("<!-- example: "))
            .and_then(|rest| rest.strip_suffix(" -->"))
            .map(str::to_string);
        let start = i + 1;
        let mut end = start;
        while end < lines.len() && lines[end].trim_end() != "```" {
            end += 1;
        }
        let mut steps: Vec<Step> = Vec::new();
        let mut j = start;
        while j < end {
            let Some(first) = lines[j].strip_prefix("$ ") else {
                match steps.last_mut() {
                    Some(step) => step.expected.push(lines[j].trim_end().to_string()),
                    None => panic!("README.md:{}: output before any command", j + 1),
                }
                j += 1;
                continue;
            };
            let line = j + 1;
            let mut command = first.to_string();
            while (command.ends_with('\\') || command.trim_end().ends_with('|')) && j + 1 < end {
                j += 1;
                command.push('\n');
                command.push_str(lines[j]);
            }
            steps.push(Step {
                command,
                expected: Vec::new(),
                line,
                allowed: vec![0],
            });
            j += 1;
        }
        for step in &mut steps {
            while step.expected.last().is_some_and(|l| l.is_empty()) {
                step.expected.pop();
            }
        }
        out.push(Block {
            source: "README.md".into(),
            setup,
            line: i + 1,
            steps,
        });
        i = end + 1;
    }
    out
}

/// The examples of `tool --help`: each command (with its continuations), allowed to exit
/// with 0 or any status its comment names.
fn help_block(tool: &str) -> Block {
    let script = repo_root().join("bin").join(tool);
    let program = if script.is_file() {
        script
    } else {
        bin_path(tool)
    };
    let out = Command::new(program).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let (before, section) = help
        .split_once("\nExamples:\n")
        .expect("an Examples section");
    let first_line = before.lines().count() + 2;
    let mut steps: Vec<Step> = Vec::new();
    let mut comment = String::new();
    let mut after_command = false;
    let mut lines = section.lines().enumerate();
    let exit_codes = regex::Regex::new(r"(?i)\bexit (\d+)").unwrap();
    while let Some((k, raw)) = lines.next() {
        let Some(line) = raw.strip_prefix("  ") else {
            if raw.is_empty() {
                continue;
            }
            break; // the next section ("Exit status:", "Services map …")
        };
        if let Some(text) = line.trim_start().strip_prefix('#') {
            if after_command {
                comment.clear(); // a new example begins
            }
            after_command = false;
            comment.push_str(text);
            comment.push(' ');
            continue;
        }
        after_command = true;
        let mut command = line.to_string();
        while command.ends_with('\\') || command.trim_end().ends_with('|') {
            match lines.next() {
                Some((_, next)) => {
                    command.push('\n');
                    command.push_str(next);
                }
                None => break,
            }
        }
        let mut allowed = vec![0];
        allowed.extend(
            exit_codes
                .captures_iter(&comment)
                .filter_map(|c| c[1].parse::<i32>().ok()),
        );
        steps.push(Step {
            command,
            expected: Vec::new(),
            line: first_line + k,
            allowed,
        });
    }
    Block {
        source: format!("{tool} --help"),
        setup: Some(format!("help-{tool}")),
        line: first_line,
        steps,
    }
}

/// The separator printed between commands, with the exit status of the one before.
const MARK: &str = "\u{1e}rollout-doc-example-status ";

/// Run a block in a fresh directory; every mismatch, as "README.md:LINE: …".
fn run_block(block: &Block) -> Vec<String> {
    let name = block.setup.as_deref().expect("checked by the caller");
    let root = repo_root();
    let sandbox = tempfile::tempdir().unwrap();
    let dir = sandbox.path();
    std::fs::create_dir_all(dir.join("home")).unwrap();
    let tools = bin_path("gate-eval").parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}:{}",
        root.join("bin").display(),
        tools.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let bash = |script: &str| {
        let mut cmd = Command::new("bash");
        cmd.args(["-c", script])
            .current_dir(dir)
            .env_clear()
            .env("PATH", &path)
            .env("HOME", dir.join("home"))
            .env("REPO", &root)
            .env("LANG", "C.UTF-8")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stdin(Stdio::null());
        cmd
    };
    let setup = root.join("tests/docs").join(format!("{name}.sh"));
    // the setup's output goes to a file: a server it starts in the background would hold
    // a pipe open for ever
    let log = std::fs::File::create(dir.join(".setup.log")).unwrap();
    let status = bash(&format!("set -euo pipefail; source {}", setup.display()))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .status()
        .unwrap();
    if !status.success() {
        return vec![format!(
            "{}:{}: setup {name} failed: {}",
            block.source,
            block.line,
            std::fs::read_to_string(dir.join(".setup.log")).unwrap_or_default()
        )];
    }
    let substitutions: Vec<(String, String)> = std::fs::read_to_string(dir.join(".substitutions"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let mut script = String::from("[ -f .env ] && source .env\nexec 2>&1\n");
    let mut previous = String::new();
    for step in &block.steps {
        let mut command = step.command.replace("!!", &previous);
        previous = command.clone();
        for (from, to) in &substitutions {
            command = command.replace(from, to);
        }
        script.push_str(&format!(
            "{command}\n__status=$?; printf '\\n{MARK}%s\\n' \"$__status\"; (exit $__status)\n"
        ));
    }
    let child = bash(&script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = wait_bounded(child, Duration::from_secs(120));
    if let Ok(pids) = std::fs::read_to_string(dir.join(".pids")) {
        for pid in pids.split_whitespace() {
            let _ = Command::new("kill").arg(pid).status();
        }
    }
    let Some(output) = output else {
        return vec![format!(
            "{}:{}: {name} did not end in 120 s",
            block.source, block.line
        )];
    };
    let mut text = String::from_utf8_lossy(&output).into_owned();
    for (from, to) in &substitutions {
        text = text.replace(to.as_str(), from);
    }
    let mut chunks = text.split(MARK);
    let mut printed: Vec<(String, i32)> = Vec::new();
    let mut before = chunks.next().unwrap_or("").to_string();
    for chunk in chunks {
        let (status, rest) = chunk.split_once('\n').unwrap_or((chunk, ""));
        printed.push((before, status.trim().parse().unwrap_or(-1)));
        before = rest.to_string();
    }
    let mut problems = Vec::new();
    for (k, step) in block.steps.iter().enumerate() {
        let Some((said, status)) = printed.get(k) else {
            problems.push(format!(
                "{}:{}: never ran (the shell stopped): {}",
                block.source, step.line, text
            ));
            break;
        };
        let said: Vec<&str> = said
            .strip_suffix('\n')
            .unwrap_or(said)
            .lines()
            .map(str::trim_end)
            .collect();
        let said: Vec<&str> = match said.iter().rposition(|l| !l.is_empty()) {
            Some(last) => said[..=last].to_vec(),
            None => Vec::new(),
        };
        if step.expected.is_empty() {
            if !step.allowed.contains(status) {
                problems.push(format!(
                    "{}:{}: `{}` exited {status} (allowed: {:?}):\n{}",
                    block.source,
                    step.line,
                    step.command,
                    step.allowed,
                    said.join("\n")
                ));
            }
        } else if said != step.expected {
            problems.push(format!(
                "{}:{}: `{}` printed\n{}\nbut it shows\n{}",
                block.source,
                step.line,
                step.command,
                said.join("\n"),
                step.expected.join("\n")
            ));
        }
    }
    problems
}

/// Wait for `child` at most `limit`; its stdout, or None when it had to be killed.
fn wait_bounded(mut child: std::process::Child, limit: Duration) -> Option<Vec<u8>> {
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut buf).ok();
        buf
    });
    let deadline = std::time::Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            return reader.join().ok();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_parser_reads_commands_continuations_and_output() {
    let md = "text\n<!-- example: x -->\n```console\n$ a \\\n    b\none\n\n$ c |\n  d\n$ e\n```\n```console\n$ f\n```\n";
    let b = blocks(md);
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].setup.as_deref(), Some("x"));
    assert_eq!(b[0].steps[0].command, "a \\\n    b");
    assert_eq!(b[0].steps[0].expected, ["one"]);
    assert_eq!(b[0].steps[1].command, "c |\n  d");
    assert!(b[0].steps[2].expected.is_empty());
    assert_eq!(b[1].setup, None);
    assert_eq!(b[0].steps[0].line, 4);
}

#[test]
fn every_readme_console_example_runs_as_written() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let all = blocks(&readme);
    assert!(
        all.len() >= 8,
        "the README's console examples were not found"
    );
    let mut problems = Vec::new();
    for block in &all {
        match &block.setup {
            None => problems.push(format!(
                "README.md:{}: a console block without `<!-- example: NAME -->` (tests/docs/NAME.sh)",
                block.line
            )),
            Some(name) if !Path::new(&repo_root().join("tests/docs").join(format!("{name}.sh"))).is_file() => {
                problems.push(format!("README.md:{}: tests/docs/{name}.sh does not exist", block.line))
            }
            Some(_) => problems.extend(run_block(block)),
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n\n"));
}

#[test]
fn the_help_parser_reads_each_example_and_its_exit_codes() {
    let b = help_block("tag-bump");
    assert_eq!(b.setup.as_deref(), Some("help-tag-bump"));
    assert!(b.steps.len() >= 7, "{b:?}");
    let cas = b
        .steps
        .iter()
        .find(|s| s.command.contains("--expect-current"))
        .unwrap();
    assert_eq!(cas.allowed, [0, 3]);
    let first = &b.steps[0];
    assert_eq!(first.allowed, [0]);
    assert!(
        b.steps.iter().any(|s| s.command.contains("\\\n")),
        "continuations kept"
    );
}

#[test]
fn every_help_example_runs_as_written() {
    let mut problems = Vec::new();
    for tool in [
        "gate-eval",
        "policy-apply",
        "digest-pin",
        "tag-bump",
        "prune-plan",
        "freshness-check",
        "health-probe",
        "image-resolve",
        "rollout-orchestrate",
        "rollout-gate-config",
        "rollout-tag",
    ] {
        let block = help_block(tool);
        if block.steps.len() < 2 {
            problems.push(format!("{tool} --help: examples not found: {block:?}"));
        }
        let setup = repo_root().join(format!("tests/docs/help-{tool}.sh"));
        if !setup.is_file() {
            problems.push(format!("{tool}: {} does not exist", setup.display()));
            continue;
        }
        problems.extend(run_block(&block));
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n\n"));
}
