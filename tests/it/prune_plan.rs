//! prune-plan from the outside: real listings (the corpus, a generated gh --paginate
//! listing), a real digest-pin scan and ledger, every failure mode of the issue.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::common::{
    NOW, assert_refused, assert_schema, copy_dir, error_line, json_out, snapshot, tool,
};

const TOOL: &str = "prune-plan";

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

fn corpus(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/corpus/ghcr")
        .join(name)
        .display()
        .to_string()
}

const VULS: &str =
    "MaineK00n__vuls-data-update__pkg_dotgit_registry_ls_ls_test.go.orgs_vulsio_page1.json";
const SHANE: &str =
    "shaneapowell__ghaction-package-admin__docs_sample_json.md.listPackageVersions.json";

/// The example listing's builds: 40, every 2 days; build 24 is pinned in examples/pins,
/// build 30 is the 2026.11.1 release of the demo's ledger.
const PINNED: &str = "sha256:776980ed9009fe17dfdb782960978bd573842dc867728bd4e63d734871cdeef1";
const RELEASED: &str = "sha256:0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8";

fn prune() -> assert_cmd::Command {
    let mut c = tool(TOOL);
    c.args(["--now", NOW, "--trace-id", "t-1", "--compact"]);
    c
}

fn run(cmd: &mut assert_cmd::Command) -> (std::process::Output, Value) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_out(&out);
    (out, v)
}

/// All versions of the example listing, as one array.
fn example_versions() -> Vec<Value> {
    let text = std::fs::read_to_string(example("prune/versions.json")).unwrap();
    serde_json::Deserializer::from_str(&text)
        .into_iter::<Vec<Value>>()
        .flat_map(Result::unwrap)
        .collect()
}

fn ids(plan: &Value, list: &str) -> Vec<Value> {
    plan["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p[list].as_array().unwrap().iter().map(|v| v["id"].clone()))
        .collect()
}

fn scan_of_example_pins(dir: &Path) -> PathBuf {
    let out = tool("digest-pin")
        .args(["scan", "--root"])
        .arg(example("pins"))
        .args(["--now", NOW, "--compact"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_schema(&json_out(&out));
    let path = dir.join("pins.json");
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

#[test]
fn the_replaced_rule_never_deletes_and_the_pins_fix_it() {
    let tmp = tempfile::tempdir().unwrap();
    let listing = example("prune/versions.json");
    // The replaced weekly workflow: pending-* older than 14 days, never a 40-hex tag. Every
    // build carries both tags on one digest, so it keeps everything.
    let (_, old) = run(prune()
        .arg("-i")
        .arg(&listing)
        .args(["--match", "pending-*"]));
    assert_eq!(old["action"], "nothing");
    assert_eq!(old["summary"]["totalVersions"], 40, "both pages read");
    assert_eq!(
        old["summary"]["byReason"],
        json!({"too_recent": 7, "protected_tag": 33})
    );

    // Protection by what the repository pins instead: the unpinned old builds go.
    let scan = scan_of_example_pins(tmp.path());
    let (_, new) = run(prune()
        .arg("-i")
        .arg(&listing)
        .args([
            "--match",
            "pending-*",
            "--protect-tag",
            "none",
            "--protect-digests",
        ])
        .arg(&scan));
    assert_schema(&old);
    assert_schema(&new);
    assert_eq!(new["action"], "delete");
    assert_eq!(new["summary"]["delete"], 32);
    assert_eq!(
        new["summary"]["byReason"],
        json!({"too_recent": 7, "protected_digest": 1})
    );
    let pkg = &new["packages"][0];
    assert_eq!(pkg["package"], "claude-runtime-review");
    let pinned: Vec<&Value> = pkg["keep"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["reason"] == "protected_digest")
        .collect();
    assert_eq!(pinned.len(), 1);
    assert_eq!(pinned[0]["digest"], PINNED);
    assert_eq!(
        pinned[0]["detail"],
        format!("digest listed in {}", scan.display())
    );
    for d in pkg["delete"].as_array().unwrap() {
        assert_ne!(d["digest"], PINNED);
        assert!(d["ageDays"].as_i64().unwrap() >= 14, "{d}");
        assert_eq!(d["matchedBy"], "pending-*");
        // the sha tag goes with it, and the plan says so
        assert_eq!(d["alsoRemoves"].as_array().unwrap().len(), 1, "{d}");
    }
    // oldest first
    let created: Vec<&str> = pkg["delete"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["createdAt"].as_str().unwrap())
        .collect();
    let mut sorted = created.clone();
    sorted.sort();
    assert_eq!(created, sorted);
}

#[test]
fn a_ledger_protects_rollback_targets() {
    let tmp = tempfile::tempdir().unwrap();
    // A real ledger: digest-pin records the release it promotes.
    let pins = tmp.path().join("pins");
    copy_dir(&example("pins"), &pins);
    let ledger = tmp.path().join("digests.jsonl");
    let out = tool("digest-pin")
        .arg("--root")
        .arg(&pins)
        .args(["--record", "--ledger"])
        .arg(&ledger)
        .args(["--release", "2026.11.1", "--now", NOW])
        .arg(format!("--set=claude-runtime-review={RELEASED}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, plan) = run(prune()
        .arg("-i")
        .arg(example("prune/versions.json"))
        .args([
            "--match",
            "pending-*",
            "--protect-tag",
            "none",
            "--protect-digests",
        ])
        .arg(&ledger));
    assert_eq!(plan["rules"]["protectDigests"][0]["kind"], "ledger");
    let kept: Vec<&Value> = plan["packages"][0]["keep"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["reason"] == "protected_digest")
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["digest"], RELEASED);
    // The same digests as a plain list and as a digest-set protect the same way.
    let list = tmp.path().join("list.txt");
    std::fs::write(
        &list,
        format!(
            "# rollback targets\n{}\n",
            RELEASED.to_uppercase().replace("SHA256", "sha256")
        ),
    )
    .unwrap();
    let set = tmp.path().join("set.json");
    std::fs::write(
        &set,
        json!({"schemaVersion": "v1", "kind": "digest-set", "images": {"ghcr.io/glitchwerks/claude-runtime-review": RELEASED}}).to_string(),
    )
    .unwrap();
    for file in [&list, &set] {
        let (_, p) = run(prune()
            .arg("-i")
            .arg(example("prune/versions.json"))
            .args([
                "--match",
                "pending-*",
                "--protect-tag",
                "none",
                "--protect-digests",
            ])
            .arg(file));
        assert_eq!(
            p["summary"]["byReason"]["protected_digest"],
            1,
            "{}",
            file.display()
        );
        assert_eq!(ids(&p, "delete"), ids(&plan, "delete"));
    }
}

#[test]
fn every_shape_of_the_listing_gives_the_same_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let versions = example_versions();
    let compact = |v: &[Value]| serde_json::to_string(v).unwrap();
    let generic: Vec<Value> = versions
        .iter()
        .map(|v| {
            json!({"id": v["id"], "digest": v["name"], "createdAt": v["created_at"],
                   "tags": v["metadata"]["container"]["tags"]})
        })
        .collect();
    let shapes = [
        ("one-array.json", compact(&versions)),
        // gh api --paginate: pages back to back, no separator
        (
            "paginate.json",
            format!("{}{}", compact(&versions[..30]), compact(&versions[30..])),
        ),
        (
            "slurp.json",
            serde_json::to_string(&json!([versions[..30], versions[30..]])).unwrap(),
        ),
        (
            "lines.jsonl",
            versions
                .iter()
                .map(|v| format!("{v}\n"))
                .collect::<String>(),
        ),
        ("bom.json", format!("\u{feff}{}", compact(&versions))),
        ("generic.json", compact(&generic)),
        (
            "map.json",
            json!({"claude-runtime-review": [versions[..30], versions[30..]]}).to_string(),
        ),
    ];
    let mut plans = Vec::new();
    for (name, text) in shapes {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).unwrap();
        let mut cmd = prune();
        cmd.arg("-i")
            .arg(&path)
            .args(["--match", "pending-*", "--protect-tag", "none"]);
        if name == "generic.json" {
            cmd.args(["--package", "claude-runtime-review"]);
        }
        let (_, plan) = run(&mut cmd);
        assert_eq!(plan["summary"]["totalVersions"], 40, "{name}");
        assert_eq!(
            plan["packages"][0]["package"], "claude-runtime-review",
            "{name}"
        );
        plans.push((name, ids(&plan, "delete"), ids(&plan, "keep")));
    }
    for (name, d, k) in &plans[1..] {
        assert_eq!((d, k), (&plans[0].1, &plans[0].2), "{name}");
    }
    assert_eq!(plans[0].1.len(), 33);
}

#[test]
fn output_is_deterministic_and_ordered_oldest_first_then_id() {
    let tmp = tempfile::tempdir().unwrap();
    let d = |n: u8| format!("sha256:{}", format!("{n:02x}").repeat(32));
    let listing = json!([
        {"id": 30, "digest": d(3), "createdAt": "2026-01-02T00:00:00Z", "tags": ["pr-1-c"]},
        {"id": 20, "digest": d(2), "createdAt": "2026-01-01T00:00:00+00:00", "tags": ["pr-1-b"]},
        {"id": 10, "digest": d(1), "createdAt": "2026-01-01T01:00:00+01:00", "tags": ["pr-1-a"]},
        {"id": 5, "digest": d(5), "createdAt": "2025-12-31T00:00:00.250Z", "tags": ["keep-me"]}
    ]);
    let path = tmp.path().join("v.json");
    std::fs::write(&path, listing.to_string()).unwrap();
    let a = prune()
        .arg("-i")
        .arg(&path)
        .args(["--match", "pr-*"])
        .output()
        .unwrap();
    let b = prune()
        .arg("-i")
        .arg(&path)
        .args(["--match", "pr-*"])
        .output()
        .unwrap();
    assert_eq!(a.stdout, b.stdout);
    let plan = json_out(&a);
    assert_eq!(ids(&plan, "delete"), vec![json!(10), json!(20), json!(30)]);
    let del = &plan["packages"][0]["delete"];
    assert_eq!(
        del[0]["createdAt"], "2026-01-01T00:00:00Z",
        "normalised to UTC"
    );
    assert_eq!(
        plan["packages"][0]["keep"][0]["createdAt"],
        "2025-12-31T00:00:00.25Z"
    );
    assert_eq!(plan["packages"][0]["package"], Value::Null);
}

#[test]
fn older_than_is_strict_and_follows_the_clock() {
    let tmp = tempfile::tempdir().unwrap();
    let d = |n: u8| format!("sha256:{}", format!("{n:02x}").repeat(32));
    let listing = json!([
        {"id": 1, "digest": d(1), "createdAt": "2026-11-07T08:00:00Z", "tags": ["pending-a"]},
        {"id": 2, "digest": d(2), "createdAt": "2026-11-07T07:59:59Z", "tags": ["pending-b"]}
    ]);
    let path = tmp.path().join("v.json");
    std::fs::write(&path, listing.to_string()).unwrap();
    let (_, plan) = run(prune().arg("-i").arg(&path).args(["--match", "pending-*"]));
    assert_eq!(ids(&plan, "delete"), vec![json!(2)]);
    assert_eq!(plan["packages"][0]["keep"][0]["reason"], "too_recent");
    assert_eq!(plan["rules"]["cutoff"], "2026-11-07T08:00:00Z");
    // a day later both are old enough; ROLLOUT_NOW is the clock too
    let (_, later) = run(tool(TOOL)
        .env("ROLLOUT_NOW", "2026-11-22T08:00:00Z")
        .arg("-i")
        .arg(&path)
        .args(["--match", "pending-*", "--older-than", "336h"]));
    assert_eq!(ids(&later, "delete"), vec![json!(2), json!(1)]);
    assert_eq!(later["packages"][0]["delete"][0]["ageDays"], 15);
}

fn version(id: u64, n: u16, created: &str, tags: &[&str]) -> Value {
    json!({"id": id, "digest": digest(n), "createdAt": created, "tags": tags})
}

fn digest(n: u16) -> String {
    format!("sha256:{}", format!("{n:04x}").repeat(16))
}

#[test]
fn keep_latest_per_group() {
    let tmp = tempfile::tempdir().unwrap();
    let mut versions = Vec::new();
    for pr in 1..=2u16 {
        for b in 0..4u16 {
            let n = pr * 10 + b;
            versions.push(version(
                n.into(),
                n,
                &format!("2026-10-0{}T00:00:00Z", b + 1),
                &[&format!("pr-{pr}-{b:07}")],
            ));
        }
    }
    versions.push(version(99, 99, "2026-10-01T00:00:00Z", &["main-abc"]));
    let path = tmp.path().join("v.json");
    std::fs::write(&path, Value::Array(versions).to_string()).unwrap();
    let (_, plan) = run(prune().arg("-i").arg(&path).args([
        "--match",
        "pr-*",
        "--match",
        "main-*",
        "--keep-latest",
        "2",
        "--keep-per",
        "^pr-([0-9]+)-",
    ]));
    // each PR keeps its two newest builds (b=2,3); the main build has no group: deleted
    assert_eq!(
        ids(&plan, "delete"),
        vec![json!(10), json!(20), json!(99), json!(11), json!(21)]
    );
    let kept: Vec<(Value, Value)> = plan["packages"][0]["keep"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["id"].clone(), k["detail"].clone()))
        .collect();
    assert_eq!(kept.len(), 4);
    assert!(kept.contains(&(json!(13), json!("among the 2 newest of group \"1\""))));
    assert!(kept.contains(&(json!(23), json!("among the 2 newest of group \"2\""))));
    // without --keep-per the newest N of all selected versions
    let (_, plan) =
        run(prune()
            .arg("-i")
            .arg(&path)
            .args(["--match", "pr-*", "--keep-latest", "3"]));
    assert_eq!(plan["summary"]["byReason"]["keep_latest"], 3);
}

#[test]
fn multi_arch_children_and_attestations_of_kept_images_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let old = "2026-01-01T00:00:00Z";
    let index = digest(1);
    let hex = index.trim_start_matches("sha256:");
    let versions = json!([
        version(1, 1, old, &["v1.0.0"]), // kept image index (not matched)
        version(2, 2, old, &[]),         // its amd64 manifest
        version(3, 3, old, &[]),         // its arm64 manifest
        version(4, 4, old, &[]),         // its provenance attestation (child)
        version(5, 5, old, &[&format!("sha256-{hex}.att")]), // cosign-style attestation tag
        version(6, 6, old, &[]),         // an orphan: deleted
        version(7, 7, old, &["sha-deadbee"]), // an old build, matched: deleted
        version(8, 8, old, &[]),         // child of that deleted build: deleted
    ]);
    let manifests = json!({
        index.clone(): [digest(2), digest(3), digest(4)],
        digest(7): [digest(8)],
    });
    let listing = tmp.path().join("v.json");
    std::fs::write(&listing, versions.to_string()).unwrap();
    let map = tmp.path().join("manifests.json");
    std::fs::write(&map, manifests.to_string()).unwrap();
    let (_, plan) = run(prune()
        .arg("-i")
        .arg(&listing)
        .arg("--manifests")
        .arg(&map)
        .args([
            "--match",
            "sha-*",
            "--match",
            "sha256-*",
            "--untagged",
            "delete",
        ]));
    assert_schema(&plan);
    assert_eq!(ids(&plan, "delete"), vec![json!(6), json!(7), json!(8)]);
    let by = &plan["summary"]["byReason"];
    assert_eq!(by["child_of_kept_index"], 3);
    assert_eq!(by["referrer_of_kept"], 1);
    let keep = &plan["packages"][0]["keep"];
    assert_eq!(
        keep[1]["detail"],
        format!("listed by kept image index {index}")
    );
    assert_eq!(keep[4]["detail"], format!("refers to kept version {index}"));
    assert_eq!(plan["packages"][0]["delete"][0]["matchedBy"], "untagged");
    // Without --manifests a warning says what --untagged delete may break.
    let out = prune()
        .arg("-i")
        .arg(&listing)
        .args(["--match", "sha-*", "--untagged", "delete"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("prune-plan: warning: --untagged delete without --manifests"),
        "{stderr}"
    );
    // A pinned index protects its children even when the index itself is deleted-eligible.
    let pins = tmp.path().join("pins.txt");
    std::fs::write(&pins, format!("{}\n", digest(7))).unwrap();
    let (_, plan) = run(prune()
        .arg("-i")
        .arg(&listing)
        .arg("--manifests")
        .arg(&map)
        .arg("--protect-digests")
        .arg(&pins)
        .args(["--match", "sha-*", "--untagged", "delete"]));
    assert_eq!(ids(&plan, "delete"), vec![json!(6)]);
}

#[test]
fn the_threshold_refuses_the_plan_but_lists_the_candidates() {
    let tmp = tempfile::tempdir().unwrap();
    let summary = tmp.path().join("summary.md");
    let out = prune()
        .arg("-i")
        .arg(example("prune/versions.json"))
        .args([
            "--match",
            "pending-*",
            "--protect-tag",
            "none",
            "--max-delete",
            "20",
            "--json-errors",
        ])
        .arg("--summary")
        .arg(&summary)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let line = error_line(&out, TOOL);
    assert!(
        line.contains("33 versions to delete exceed --max-delete 20"),
        "{line}"
    );
    // stdout holds exactly one document, the plan (not an error document)
    let plan = json_out(&out);
    assert_schema(&plan);
    assert_eq!(plan["action"], "refused_threshold");
    assert_eq!(plan["summary"]["candidates"], 33);
    assert_eq!(plan["summary"]["delete"], 0);
    assert_eq!(ids(&plan, "delete").len(), 33);
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.contains("**refused**: 33 candidates exceed --max-delete 20"),
        "{md}"
    );
    assert!(
        md.contains("Candidates (not to be deleted) (first 20 of 33)"),
        "{md}"
    );
    // as commands: nothing to run, and the error document with --json-errors
    let out = prune()
        .arg("-i")
        .arg(example("prune/versions.json"))
        .args([
            "--match",
            "pending-*",
            "--protect-tag",
            "none",
            "--max-delete",
            "32",
        ])
        .args(["--format", "commands", "--json-errors"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = json_out(&out);
    assert_eq!(err["reasonCode"], "delete_threshold_exceeded");
    // exactly at the limit is allowed
    let (_, plan) = run(prune().arg("-i").arg(example("prune/versions.json")).args([
        "--match",
        "pending-*",
        "--protect-tag",
        "none",
        "--max-delete",
        "33",
    ]));
    assert_eq!(plan["action"], "delete");
    assert_eq!(plan["summary"]["delete"], 33);
}

#[test]
fn commands_for_gh_api() {
    // From the corpus: the versions' URLs name the organisation and the package.
    let out = prune()
        .args(["-i", &corpus(VULS), "--match", "*", "--format", "commands"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "gh api -X DELETE /orgs/vulsio/packages/container/vuls-data-db/versions/460898773\n\
         gh api -X DELETE /orgs/vulsio/packages/container/vuls-data-db/versions/460898921\n"
    );
    // A user-owned package, and --org overriding the URLs.
    let out = prune()
        .args([
            "-i",
            &corpus(SHANE),
            "--match",
            "develop-*",
            "--format",
            "commands",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "gh api -X DELETE /users/shaneapowell/packages/container/ghaction-package-admin/versions/197157002\n"
    );
    // A generic listing: --package names it; a nested name is encoded; {owner} is gh's.
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("v.json");
    std::fs::write(
        &path,
        json!([version(7, 7, "2026-01-01T00:00:00Z", &["pending-x"])]).to_string(),
    )
    .unwrap();
    let out = prune()
        .arg("-i")
        .arg(&path)
        .args([
            "--package",
            "team/runtime",
            "--match",
            "pending-*",
            "--format",
            "commands",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "gh api -X DELETE /orgs/{owner}/packages/container/team%2Fruntime/versions/7\n"
    );
    let out = prune()
        .arg("-i")
        .arg(&path)
        .args([
            "--package",
            "runtime",
            "--match",
            "pending-*",
            "--format",
            "commands",
            "--user",
            "octo-cat",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "gh api -X DELETE /users/octo-cat/packages/container/runtime/versions/7\n"
    );
    // nothing to delete: no lines, exit 0
    let out = prune()
        .arg("-i")
        .arg(&path)
        .args([
            "--package",
            "runtime",
            "--match",
            "nope-*",
            "--format",
            "commands",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
}

#[test]
fn several_packages_in_one_map() {
    let tmp = tempfile::tempdir().unwrap();
    let old = "2026-01-01T00:00:00Z";
    let listing = json!({
        "runtime-review": [version(1, 1, old, &["pending-a"]), version(2, 2, old, &["v1"])],
        "runtime-base": [[version(3, 3, old, &["pending-b"])], [version(4, 4, old, &["pending-c"])]],
    });
    let path = tmp.path().join("v.json");
    std::fs::write(&path, listing.to_string()).unwrap();
    let (_, plan) = run(prune().arg("-i").arg(&path).args(["--match", "pending-*"]));
    let names: Vec<&Value> = plan["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["package"])
        .collect();
    assert_eq!(names, [&json!("runtime-base"), &json!("runtime-review")]);
    assert_eq!(plan["summary"]["packages"], 2);
    assert_eq!(plan["summary"]["delete"], 3);
    let out = prune()
        .arg("-i")
        .arg(&path)
        .args([
            "--match",
            "pending-*",
            "--format",
            "commands",
            "--org",
            "acme",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "gh api -X DELETE /orgs/acme/packages/container/runtime-base/versions/3\n\
         gh api -X DELETE /orgs/acme/packages/container/runtime-base/versions/4\n\
         gh api -X DELETE /orgs/acme/packages/container/runtime-review/versions/1\n"
    );
    // --package takes one package from the map
    let (_, one) = run(prune().arg("-i").arg(&path).args([
        "--match",
        "pending-*",
        "--package",
        "runtime-review",
    ]));
    assert_eq!(one["summary"]["totalVersions"], 2);
}

#[test]
fn the_summary_counts_by_reason_and_lists_the_first_deletions() {
    let tmp = tempfile::tempdir().unwrap();
    let scan = scan_of_example_pins(tmp.path());
    let summary = tmp.path().join("s.md");
    let step = tmp.path().join("step.md");
    std::fs::write(&step, "earlier step\n").unwrap();
    run(prune()
        .env("GITHUB_STEP_SUMMARY", &step)
        .arg("-i")
        .arg(example("prune/versions.json"))
        .args([
            "--match",
            "pending-*",
            "--protect-tag",
            "none",
            "--protect-digests",
        ])
        .arg(&scan)
        .arg("--summary")
        .arg(&summary));
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("### prune-plan: 32 version(s) to delete\n"),
        "{md}"
    );
    assert!(md.contains("| too_recent | 7 |\n"), "{md}");
    assert!(md.contains("| protected_digest | 1 |\n"), "{md}");
    assert!(md.contains("To delete (first 20 of 32):"), "{md}");
    assert!(
        md.contains("| claude-runtime-review | 100000000 | pending-"),
        "{md}"
    );
    let appended = std::fs::read_to_string(&step).unwrap();
    assert_eq!(appended, format!("earlier step\n{md}"));
}

// ---- failure modes: exit code, reason code, message naming the version or rule ----

fn refused(dir: &Path, listing: &str, args: &[&str], code: i32, reason: &str, message: &str) {
    let path = dir.join("listing.json");
    std::fs::write(&path, listing).unwrap();
    let mut cmd = prune();
    cmd.arg("-i").arg(&path).args(args);
    assert_refused(dir, cmd, TOOL, code, reason, message);
}

#[test]
fn listings_of_the_wrong_shape_or_kind_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let m = ["--match", "*"];
    refused(d, "42", &m, 2, "listing_invalid", "found a number");
    refused(
        d,
        "[1]",
        &m,
        2,
        "listing_invalid",
        "at the first version: found a number, expected a version object or a page of them",
    );
    let v = version(1, 1, "2026-01-01T00:00:00Z", &["a"]);
    refused(
        d,
        &format!("[[{v}, [{v}]]]"),
        &m,
        2,
        "listing_invalid",
        "after version #1: found an array, expected a version object\n".trim(),
    );
    refused(
        d,
        &format!("[{v}, {{\"size\": 1}}]"),
        &m,
        2,
        "listing_invalid",
        "after version #1: an object without version fields",
    );
    refused(
        d,
        r#"{"schemaVersion":"v1","kind":"gate-decision","gates":[]}"#,
        &m,
        2,
        "kind_mismatch",
        "expected a package versions listing, found a document of kind \"gate-decision\"",
    );
    refused(
        d,
        r#"{"schemaVersion":"v1","kind":"error","tool":"gh-list","message":"HTTP 401"}"#,
        &m,
        2,
        "upstream_error",
        "upstream gh-list failed: HTTP 401",
    );
    refused(
        d,
        "[{\"id\": 1,",
        &m,
        2,
        "input_malformed",
        "malformed JSON",
    );
    refused(d, "{}", &m, 2, "listing_invalid", "an empty object");
    refused(
        d,
        r#"{"pkg": {"id": 1}}"#,
        &m,
        2,
        "listing_invalid",
        "package \"pkg\": expected an array of versions, found an object",
    );
    refused(
        d,
        r#"{"Pkg": []}"#,
        &m,
        2,
        "listing_invalid",
        "'P' is not allowed in a container package name",
    );
    refused(
        d,
        &format!("{{\"pkg\": [{v}]}}\n{v}"),
        &m,
        2,
        "listing_invalid",
        "mixes a {\"PKG\": [...]} map with bare versions",
    );
    refused(d, "", &m, 2, "input_empty", "is empty");
    // the versions' URLs must agree with --package and with each other
    let tmp2 = tempfile::tempdir().unwrap();
    let path = tmp2.path().join("x.json");
    std::fs::copy(corpus(VULS), &path).unwrap();
    let mut cmd = prune();
    cmd.arg("-i")
        .arg(&path)
        .args(["--match", "*", "--package", "other"]);
    assert_refused(
        tmp2.path(),
        cmd,
        TOOL,
        2,
        "listing_invalid",
        "--package \"other\", but the versions' URLs name package \"vuls-data-db\"",
    );
}

#[test]
fn bad_versions_are_named_by_id() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let m = ["--match", "*"];
    let dg = digest(1);
    refused(
        d,
        &format!(
            r#"[{{"id": 460898921, "name": "{dg}", "metadata": {{"container": {{"tags": []}}}}}}]"#
        ),
        &m,
        2,
        "version_invalid",
        "version 460898921: no \"created_at\"",
    );
    refused(
        d,
        &format!(r#"[{{"id": 77, "name": "{dg}", "created_at": "2026-13-01T00:00:00Z"}}]"#),
        &m,
        2,
        "version_invalid",
        "version 77: created_at \"2026-13-01T00:00:00Z\" is not RFC 3339",
    );
    refused(
        d,
        &format!(r#"[{{"id": 78, "name": "{dg}", "created_at": "last tuesday"}}]"#),
        &m,
        2,
        "version_invalid",
        "version 78: created_at \"last tuesday\" is not RFC 3339",
    );
    refused(
        d,
        &format!(
            r#"[{{"id": 1, "name": "{dg}", "created_at": "2026-01-01T00:00:00Z"}}, {{"name": "{dg}"}}]"#
        ),
        &m,
        2,
        "version_invalid",
        "version #2 in the listing: no \"id\"",
    );
    refused(
        d,
        r#"[{"id": 9, "name": "1.2.3", "created_at": "2026-01-01T00:00:00Z"}]"#,
        &m,
        2,
        "version_invalid",
        "version 9: name \"1.2.3\" is not a digest",
    );
    refused(
        d,
        &format!(r#"[{{"id": -1, "name": "{dg}", "created_at": "2026-01-01T00:00:00Z"}}]"#),
        &m,
        2,
        "version_invalid",
        "\"id\" is number -1",
    );
    refused(
        d,
        &format!(
            r#"[{{"id": 10, "name": "{dg}", "created_at": "2026-01-01T00:00:00Z", "metadata": {{"container": {{"tags": [1]}}}}}}]"#
        ),
        &m,
        2,
        "version_invalid",
        "version 10: \"metadata\" is not",
    );
    // the same id twice (pages that shifted while paging)
    let v = version(5, 5, "2026-01-01T00:00:00Z", &["a"]);
    let w = version(5, 6, "2026-01-02T00:00:00Z", &["b"]);
    refused(
        d,
        &format!("[{v}][{w}]"),
        &["--match", "*", "--package", "runtime"],
        2,
        "duplicate_version",
        "version 5 of package \"runtime\" is listed twice",
    );
}

#[test]
fn bad_rules_are_refused_before_the_listing_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let l = "not even json";
    refused(
        d,
        l,
        &["--match", "pending-[a"],
        2,
        "glob_invalid",
        "--match \"pending-[a\": invalid glob",
    );
    refused(
        d,
        l,
        &["--match", "*", "--protect-tag", "(x"],
        2,
        "regex_invalid",
        "--protect-tag \"(x\"",
    );
    refused(
        d,
        l,
        &[
            "--match",
            "*",
            "--keep-latest",
            "2",
            "--keep-per",
            "^pr-[0-9]+-",
        ],
        2,
        "regex_invalid",
        "--keep-per \"^pr-[0-9]+-\": has no capture group",
    );
    refused(
        d,
        l,
        &["--match", "*", "--keep-per", "^pr-([0-9]+)"],
        2,
        "usage",
        "--keep-latest",
    );
    refused(
        d,
        l,
        &["--match", "*", "--keep-latest", "0"],
        2,
        "usage",
        "0 is not in 1..",
    );
    refused(
        d,
        l,
        &[],
        2,
        "argument_invalid",
        "prune-plan: error: no rule selects anything: give --match GLOB (repeatable) and/or --untagged delete",
    );
    refused(
        d,
        l,
        &["--match", "*", "--older-than", "2 weeks"],
        2,
        "duration_invalid",
        "invalid duration \"2 weeks\"",
    );
    refused(
        d,
        l,
        &["--match", "*", "--org", "acme"],
        2,
        "argument_invalid",
        "give --format commands",
    );
    refused(
        d,
        l,
        &["--match", "*", "--format", "commands", "--org", "a;b"],
        2,
        "argument_invalid",
        "--org \"a;b\"",
    );
    refused(
        d,
        l,
        &["--match", "*", "--format", "commands", "--jq", "."],
        2,
        "argument_invalid",
        "cannot be used with --format commands",
    );
    refused(
        d,
        l,
        &["--match", "*", "--package", "a b"],
        2,
        "argument_invalid",
        "--package \"a b\"",
    );
    // a generic listing without a name cannot become delete commands
    let v = json!([version(1, 1, "2026-01-01T00:00:00Z", &["a"])]).to_string();
    refused(
        d,
        &v,
        &["--match", "*", "--format", "commands"],
        2,
        "argument_invalid",
        "give --package NAME",
    );
}

#[test]
fn protection_files_fail_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let listing = json!([version(1, 1, "2026-01-01T00:00:00Z", &["a"])]).to_string();
    let file = |name: &str, text: &str| {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let bad = file("bad.txt", &format!("{}\nsha256:abc\n", digest(1)));
    refused(
        d,
        &listing,
        &["--match", "*", "--protect-digests", &bad],
        2,
        "protection_invalid",
        "bad.txt: line 2: \"sha256:abc\" is not a digest",
    );
    let empty = file(
        "empty-scan.json",
        r#"{"schemaVersion":"v1","kind":"digest-scan","digests":[],"warnings":[]}"#,
    );
    refused(
        d,
        &listing,
        &["--match", "*", "--protect-digests", &empty],
        3,
        "protect_digests_empty",
        "protects no digests (digest-scan)",
    );
    let comments = file("comments.txt", "# nothing pinned\n");
    refused(
        d,
        &listing,
        &["--match", "*", "--protect-digests", &comments],
        3,
        "protect_digests_empty",
        "protects no digests (list)",
    );
    // an empty file protects nothing either (not an input error)
    let empty = file("empty.txt", "");
    refused(
        d,
        &listing,
        &["--match", "*", "--protect-digests", &empty],
        3,
        "protect_digests_empty",
        "protects no digests (list)",
    );
    let wrong = file("plan.json", r#"{"schemaVersion":"v1","kind":"prune-plan"}"#);
    refused(
        d,
        &listing,
        &["--match", "*", "--protect-digests", &wrong],
        2,
        "protection_invalid",
        "a document of kind \"prune-plan\"",
    );
    let v2 = file(
        "v2.json",
        &format!(
            r#"{{"schemaVersion":"v2","kind":"digest-scan","digests":["{}"]}}"#,
            digest(1)
        ),
    );
    refused(
        d,
        &listing,
        &["--match", "*", "--protect-digests", &v2],
        2,
        "schema_version_mismatch",
        "unsupported schemaVersion \"v2\"",
    );
    let missing = d.join("missing.json").display().to_string();
    refused(
        d,
        &listing,
        &["--match", "*", "--protect-digests", &missing],
        2,
        "input_unreadable",
        "missing.json",
    );
    let m = file("m.json", &format!(r#"{{"{}": ["latest"]}}"#, digest(1)));
    refused(
        d,
        &listing,
        &["--match", "*", "--manifests", &m],
        2,
        "protection_invalid",
        "[0] \"latest\"",
    );
}

#[test]
fn a_failed_run_writes_no_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let before = snapshot(tmp.path());
    let summary = tmp.path().join("s.md");
    let out = prune()
        .args(["--match", "*", "-i"])
        .arg(tmp.path().join("nope.json"))
        .arg("--summary")
        .arg(&summary)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(snapshot(tmp.path()), before);
}

/// The plan a person reviewed is what gets deleted: `--plan` prints its deletions as
/// commands after checking the listing is the one it was made from; a later clock adds no
/// candidate; another listing, a hand-added version or a refused plan is exit 3.
#[test]
fn a_reviewed_plan_becomes_exactly_its_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let listing = d.join("listing.json");
    std::fs::copy(example("prune/versions.json"), &listing).unwrap();
    let (_, plan) = run(prune().arg("-i").arg(&listing).args([
        "--match",
        "pending-*",
        "--protect-tag",
        "none",
    ]));
    std::fs::write(d.join("plan.json"), plan.to_string()).unwrap();
    let planned: Vec<String> = plan["packages"][0]["delete"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| format!("gh api -X DELETE /orgs/glitchwerks/packages/container/claude-runtime-review/versions/{}", v["id"]))
        .collect();
    // a month later: planning again would add the builds that aged past --older-than
    let reviewed = |extra: &[&str]| {
        let mut c = tool(TOOL);
        c.current_dir(d)
            .args([
                "--now",
                "2026-12-21T08:00:00Z",
                "--plan",
                "plan.json",
                "-i",
                "listing.json",
            ])
            .args(["--format", "commands"])
            .args(extra);
        c
    };
    let out = reviewed(&[]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines, planned);

    // another listing (the registry changed since the review)
    std::fs::write(d.join("later.json"), "[]").unwrap();
    let other = with_plan(d, "plan.json", "later.json");
    assert_refused(
        d,
        other,
        TOOL,
        3,
        "plan_listing_mismatch",
        "was made from a listing with sha256",
    );

    // a version added to the plan by hand is not in the listing as planned
    let mut tampered = plan.clone();
    tampered["packages"][0]["delete"][0]["digest"] = json!(PINNED.replace('7', "8"));
    std::fs::write(d.join("tampered.json"), tampered.to_string()).unwrap();
    let t = with_plan(d, "tampered.json", "listing.json");
    assert_refused(
        d,
        t,
        TOOL,
        3,
        "plan_listing_mismatch",
        "which the listing does not hold",
    );

    // a refused plan deletes nothing
    let mut refusal = plan.clone();
    refusal["action"] = json!("refused_threshold");
    std::fs::write(d.join("refused.json"), refusal.to_string()).unwrap();
    let r = with_plan(d, "refused.json", "listing.json");
    assert_refused(d, r, TOOL, 3, "plan_listing_mismatch", "was refused");

    // without --format commands it is a usage error
    let mut j = tool(TOOL);
    j.current_dir(d)
        .args(["--plan", "plan.json", "-i", "listing.json"]);
    assert_refused(d, j, TOOL, 2, "argument_invalid", "give --format commands");
}

/// prune-plan --plan PLAN -i LISTING --format commands, in `dir`.
fn with_plan(dir: &Path, plan: &str, listing: &str) -> assert_cmd::Command {
    let mut c = tool(TOOL);
    c.current_dir(dir)
        .args(["--plan", plan, "-i", listing, "--format", "commands"]);
    c
}

/// A reviewed plan of tens of thousands of deletions (a first clean-up of a busy package)
/// becomes its commands in the plan's order, ids numeric and textual alike; each deletion
/// is found by id, not by a walk over the listing.
#[test]
fn a_large_reviewed_plan_becomes_its_commands_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let versions: Vec<Value> = (0..30_000u64)
        .map(|i| {
            let id = if i % 10 == 0 {
                json!(format!("v{i}"))
            } else {
                json!(i)
            };
            json!({"id": id, "digest": format!("sha256:{i:064x}"),
                   "createdAt": "2026-01-01T00:00:00Z", "tags": [format!("pending-{i}")]})
        })
        .collect();
    std::fs::write(d.join("listing.json"), Value::Array(versions).to_string()).unwrap();
    let (_, plan) = run(prune()
        .current_dir(d)
        .args([
            "-i",
            "listing.json",
            "--package",
            "big",
            "--match",
            "pending-*",
        ])
        .args(["--protect-tag", "none", "--max-delete", "30000"]));
    assert_eq!(plan["summary"]["delete"], 30_000);
    std::fs::write(d.join("plan.json"), plan.to_string()).unwrap();
    let out = with_plan(d, "plan.json", "listing.json")
        .args(["--org", "acme", "--package", "big"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.rsplit('/').next().unwrap().to_string())
        .collect();
    let planned: Vec<String> = plan["packages"][0]["delete"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            v["id"]
                .as_str()
                .map_or_else(|| v["id"].to_string(), str::to_string)
        })
        .collect();
    assert_eq!(ids.len(), 30_000);
    assert_eq!(ids, planned);
}
