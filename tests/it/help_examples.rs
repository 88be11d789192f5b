//! Every command line in a tool's `--help` examples must at least parse: an example that
//! fails with a flag error (as `--jq -r .diff` once did) teaches users a broken command.

use crate::common::tool;

/// The example invocations of `name` in its `--help`: continuation lines joined, each
/// pipeline split, the segment that runs the tool split into words by Python's shlex.
fn examples(name: &str) -> Vec<Vec<String>> {
    let out = tool(name).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let section = help.split("Examples:").nth(1).expect("an Examples section");
    let section = section.split("Exit status:").next().unwrap();
    let joined = section.replace("\\\n", " ");
    let script = r##"
import shlex, sys, json
name = sys.argv[1]
out = []
for line in sys.stdin.read().splitlines():
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    lex = shlex.shlex(line, posix=True, punctuation_chars="|>")
    lex.whitespace_split = True
    words = list(lex)
    seg = []
    for w in words + ["|"]:
        if w in ("|", ">", "||", ">>"):
            if seg and seg[0] == name:
                out.append(seg[1:])
            seg = [] if w == "|" else ["<redirect>"]
        else:
            seg.append(w)
print(json.dumps(out))
"##;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script, name])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(joined.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn every_help_example_parses() {
    for name in [
        "gate-eval",
        "policy-apply",
        "digest-pin",
        "tag-bump",
        "prune-plan",
        "freshness-check",
        "health-probe",
    ] {
        let list = examples(name);
        assert!(list.len() >= 3, "{name}: {list:?}");
        for mut args in list {
            if name == "health-probe" && !args.iter().any(|a| a == "--validate-only") {
                // parse the flags and the URL list without sending requests
                args.push("--validate-only".into());
            }
            let dir = tempfile::tempdir().unwrap();
            let out = tool(name)
                .args(&args)
                .current_dir(dir.path())
                .write_stdin("")
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                !stderr.contains("For more information, try '--help'"),
                "{name} {args:?} is not a valid command line:\n{stderr}"
            );
        }
    }
}
