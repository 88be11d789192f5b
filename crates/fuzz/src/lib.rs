//! # rollout-fuzz: the parsers and editors under mutated input, with their properties
//!
//! Every file these tools read may be hostile or broken, and two of them rewrite files in
//! place. The targets here run one input through one parser or editor and panic when a
//! property breaks; [`mutate`] makes inputs from seed files; the `rollout-fuzz` binary
//! (`make fuzz`) runs each target for a bounded time on stable Rust (no coverage feedback:
//! a pool of mutants the parser accepted stands in for it), and every input that ever broke
//! a target is kept in `crates/fuzz/regressions/TARGET/` and replayed by `cargo test`.
//!
//! Targets and what they check, besides "no panic":
//! * `json-readers`: a document that parses serialises to JSON that parses to the same
//!   value; JSONL and ledger readers only refuse;
//! * `json-edit`: when policy-apply's span editor sets a pointer, re-parsing gives exactly
//!   the old document with that value set, and, when the pointer was there, every byte
//!   outside the new value is the old;
//! * `yaml-edit`: when tag-bump's editor sets a tag, the only new bytes are the tag's, the
//!   result parses when the input did, and bumping it again changes nothing;
//! * `image-scanner`: every pin found lies inside the file and its digest is the bytes at
//!   its span;
//! * `gates-loader`: a gates file is loaded, its params resolved and its plan built, or
//!   refused;
//! * `registry-versions`: prune-plan's streaming listing reader refuses or reads;
//! * `registry-answers`: image-resolve's readers of what a registry sends (manifests,
//!   indexes, configs, challenges, Link headers, references) refuse or read; bytes are
//!   always proven against their own digest and never against another's; a reference that
//!   parses parses again from its name and tag to the same reference.

use serde_json::json;

/// A fuzz target: takes one input, panics when a property breaks; returns whether the
/// input was accepted (parsed), which keeps it in the pool of mutants.
pub type Target = fn(&[u8]) -> bool;

/// Every target, by name.
pub const TARGETS: &[(&str, Target)] = &[
    ("json-readers", json_readers),
    ("json-edit", json_edit),
    ("yaml-edit", yaml_edit),
    ("image-scanner", image_scanner),
    ("gates-loader", gates_loader),
    ("registry-versions", registry_versions),
    ("registry-answers", registry_answers),
];

/// Find a target by name.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The bytes `new` has where `old` differs: what is left after the common prefix and
/// suffix. Both ends are trimmed on the shorter of the two lengths, so the middles are
/// well defined.
fn changed_middle<'a>(old: &[u8], new: &'a [u8]) -> &'a [u8] {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let rest = old.len().min(new.len()) - prefix;
    let suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(rest)
        .take_while(|(a, b)| a == b)
        .count();
    &new[prefix..new.len() - suffix]
}

/// The runs of characters `new` inserts relative to `old` (a character diff): every byte
/// an editor wrote, wherever it wrote it.
fn inserted_runs(old: &str, new: &str) -> Vec<String> {
    let diff = similar::TextDiff::from_chars(old, new);
    let mut runs = Vec::new();
    let mut current = String::new();
    for change in diff.iter_all_changes() {
        if change.tag() == similar::ChangeTag::Insert {
            current.push_str(change.value());
        } else if !current.is_empty() {
            runs.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

/// JSON and JSONL readers.
pub fn json_readers(data: &[u8]) -> bool {
    let parsed = rollout_core::input::parse_json(data, "fuzz");
    if let Ok(v) = &parsed {
        let again = rollout_core::input::value_from_str(&v.to_string())
            .expect("a parsed document serialises to JSON that parses");
        assert_eq!(&again, v, "a document changes in a round trip");
    }
    let _ = rollout_core::input::parse_jsonl(data, "fuzz");
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = rollout_pin::model::parse_ledger(text, "fuzz");
    }
    parsed.is_ok()
}

/// policy-apply's span editor on a registry.
pub fn json_edit(data: &[u8]) -> bool {
    const POINTER: &str = "/policy/autonomous/rollout/canaryPercent";
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(old) = rollout_core::input::value_from_str(text) else {
        return false;
    };
    for value in [json!(42), json!("fuzz \"quoted\" ü"), json!(true)] {
        let edits = vec![(POINTER.to_string(), value.clone())];
        let Ok(new) = rollout_core::jsonedit::apply(text, &edits, "fuzz") else {
            continue;
        };
        let mut want = old.clone();
        rollout_core::jsonedit::set_pointer(&mut want, POINTER, value.clone())
            .expect("the editor set a pointer the value model cannot");
        let got = rollout_core::input::value_from_str(&new).expect("the edited text parses");
        assert_eq!(got, want, "the edit changed more than the pointer");
        if old.pointer(POINTER).is_none() {
            continue; // the editor inserted the missing keys: more than the value is new
        }
        let rendered = value.to_string();
        let middle = changed_middle(text.as_bytes(), new.as_bytes());
        assert!(
            rendered
                .as_bytes()
                .windows(middle.len())
                .any(|w| w == middle),
            "bytes outside the value changed: {:?}",
            String::from_utf8_lossy(middle)
        );
    }
    true
}

/// The group of each layout the editor fuzz tries: a kustomization, a Flux setter, a chart's
/// image and Argo CD Image Updater's two write-back files.
fn fuzz_groups() -> [rollout_bump::services::Group; 5] {
    use rollout_bump::services::{Group, Target};
    [
        Group {
            name: "g".into(),
            file: "k.yaml".into(),
            image: "backend-services".into(),
            target: Target::KustomizeImages,
            new_name: None,
        },
        Group {
            name: "g".into(),
            file: "k.yaml".into(),
            image: "flux-system:app".into(),
            target: Target::FluxSetter {
                policy: "flux-system:app".into(),
            },
            new_name: None,
        },
        Group {
            name: "g".into(),
            file: "k.yaml".into(),
            image: "app".into(),
            target: Target::HelmImage {
                path: vec![rollout_bump::services::Seg::Key("image".into())],
            },
            new_name: None,
        },
        Group {
            name: "g".into(),
            file: "k.yaml".into(),
            image: "app".into(),
            target: Target::ArgocdKustomize,
            new_name: None,
        },
        Group {
            name: "g".into(),
            file: "k.yaml".into(),
            image: "app".into(),
            target: Target::ArgocdHelm {
                tag_param: "image.tag".into(),
                name_param: "image.name".into(),
            },
            new_name: None,
        },
    ]
}

/// tag-bump's editor on a kustomization, a Flux-setter manifest, a chart's image and Argo
/// CD Image Updater's write-back files.
pub fn yaml_edit(data: &[u8]) -> bool {
    use rollout_bump::edit::{Want, bump};
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let groups = fuzz_groups();
    let want = Want {
        tag: "v9-fuzz",
        digest: None,
        name: None,
        expect_current: None,
        create: false,
    };
    let mut accepted = false;
    for group in &groups {
        let Ok(out) = bump(text, "k.yaml", group, &want) else {
            continue;
        };
        accepted = true;
        if !out.changed {
            continue;
        }
        if rollout_core::yaml::parse_yaml(text, "fuzz").is_ok() {
            rollout_core::yaml::parse_yaml(&out.text, "fuzz").expect("the bumped file parses");
        }
        // every character written belongs to the new tag (in its quotes, after the ':' a
        // whole reference without a tag gets, or in the `newTag:` line an entry without
        // one gets), at each site
        for run in inserted_runs(text, &out.text) {
            let bare: String = run.chars().filter(|c| !c.is_whitespace()).collect();
            assert!(
                [
                    "newTag:\"v9-fuzz\"",
                    "newTag:'v9-fuzz'",
                    "newTag:v9-fuzz",
                    ":v9-fuzz"
                ]
                .iter()
                .any(|allowed| allowed.contains(bare.as_str())),
                "bytes other than the tag changed: {run:?}"
            );
        }
        let again = bump(&out.text, "k.yaml", group, &want).expect("the bumped file bumps again");
        assert!(
            !again.changed,
            "a second bump to the same tag changed the file"
        );
    }
    // with a new name: the result parses, still carries the name, and a second bump with
    // the same name and tag is a no-op
    let renamed = Want {
        name: Some("index.repo.fake/updated"),
        ..want
    };
    for group in &groups {
        let Ok(out) = bump(text, "k.yaml", group, &renamed) else {
            continue;
        };
        if !out.changed {
            continue;
        }
        if rollout_core::yaml::parse_yaml(text, "fuzz").is_ok() {
            rollout_core::yaml::parse_yaml(&out.text, "fuzz").expect("the renamed file parses");
        }
        let again =
            bump(&out.text, "k.yaml", group, &renamed).expect("the renamed file bumps again");
        assert!(!again.changed, "a second rename changed the file");
    }
    accepted
}

/// digest-pin's image-reference scanner, as text and as YAML.
pub fn image_scanner(data: &[u8]) -> bool {
    let mut found = false;
    for yaml in [false, true] {
        for pin in rollout_pin::scanner::scan(data, yaml) {
            assert!(
                pin.start < pin.end && pin.end <= data.len(),
                "a pin outside the file: {}..{} of {}",
                pin.start,
                pin.end,
                data.len()
            );
            assert_eq!(
                &data[pin.start..pin.end],
                pin.digest.as_bytes(),
                "the digest is not the bytes at its span"
            );
            found = true;
        }
        // the rewrite property: after a rewrite of image X, no pin the scanner attributes
        // to X keeps the old digest (or the rewrite is refused, writing nothing)
        let pins = rollout_pin::scanner::scan(data, yaml);
        let Some(first) = pins.iter().find(|p| !p.malformed) else {
            continue;
        };
        let new = format!("sha256:{}", "f".repeat(64));
        let Ok(set) = rollout_pin::model::DigestSet::from_pairs(
            vec![(first.image.clone(), new.clone())],
            None,
            Default::default(),
            "fuzz",
        ) else {
            continue;
        };
        let plan = rollout_pin::plan::plan_file("f", data, yaml, &set);
        if !plan.stale.is_empty() {
            continue; // refused: nothing would be written
        }
        if let Some(out) = &plan.new_bytes {
            for p in rollout_pin::scanner::scan(out, yaml) {
                if set.find(&p.image).is_some() && !p.malformed {
                    assert_eq!(
                        p.digest.to_ascii_lowercase(),
                        new,
                        "a pin of {} kept its old digest after the rewrite",
                        p.image
                    );
                }
            }
        }
    }
    found
}

/// gate-eval's gates-file loader, params and plan.
pub fn gates_loader(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(file) = rollout_gate::plan::parse_gates(text, "fuzz") else {
        return false;
    };
    let Ok(params) = rollout_gate::params::resolve(&file.params, &[]) else {
        return true;
    };
    rollout_gate::plan::build(&file, &params, "fuzz").is_ok()
}

/// prune-plan's streaming registry-versions reader: pages parsed from memory read exactly
/// as the reader reads them (the same versions, or the same error at the same place).
pub fn registry_versions(data: &[u8]) -> bool {
    use rollout_prune::listing::{IN_MEMORY, read_listing_with};
    let outcome = |in_memory| match read_listing_with(data, "fuzz", None, 1 << 20, in_memory) {
        Ok(l) => Ok(format!("{:?} {}", l.packages, l.sha256)),
        Err(e) => Err(e.to_string()),
    };
    let paged = outcome(IN_MEMORY);
    let ok = paged.is_ok();
    assert_eq!(paged, outcome(0), "in memory and streamed disagree");
    ok
}

/// image-resolve's readers of registry answers and references.
pub fn registry_answers(data: &[u8]) -> bool {
    use rollout_core::oci::Algorithm;
    use rollout_resolve::{auth, manifest, reference, resolve};
    let mut accepted = false;
    let own = manifest::digest_of(Algorithm::Sha256, data);
    assert_eq!(
        manifest::prove(data, Some(&own), Some(own.as_str())),
        Ok(own.clone())
    );
    let other = manifest::digest_of(Algorithm::Sha256, &[data, b"x"].concat());
    assert!(
        manifest::prove(data, Some(&other), None).is_err(),
        "proven against another digest"
    );
    let media_type = manifest::media_type(data, Some("application/vnd.oci.image.manifest.v1+json"));
    for t in manifest::INDEX_TYPES
        .iter()
        .chain(manifest::MANIFEST_TYPES.iter())
        .chain([&media_type.as_str()])
    {
        if let Ok(manifest::Manifest::Index(children)) = manifest::parse(t, data) {
            accepted = true;
            for c in &children {
                assert!(manifest::select(&children, &c.platform()).is_some());
            }
        } else if manifest::parse(t, data).is_ok() {
            accepted = true;
        }
    }
    accepted |= manifest::parse_config(data).is_ok();
    if let Ok(text) = std::str::from_utf8(data) {
        accepted |= auth::parse_challenge(text).is_some();
        if let Ok(Some(url)) = resolve::next_page(text, "registry.example:5000") {
            assert!(url.starts_with("https://registry.example:5000/"), "{url}");
            accepted = true;
        }
        for line in text.lines().take(64) {
            if let Ok(r) = reference::parse(line, true) {
                accepted = true;
                let again = match (&r.tag, &r.digest) {
                    (Some(t), Some(d)) => format!("{}:{t}@{d}", r.name()),
                    (None, Some(d)) => format!("{}@{d}", r.name()),
                    (Some(t), None) => format!("{}:{t}", r.name()),
                    (None, None) => r.name(),
                };
                assert_eq!(
                    reference::parse(&again, true).as_ref(),
                    Ok(&r),
                    "{line:?} -> {again:?}"
                );
            }
        }
    }
    accepted
}

/// A small, fast, seedable generator (xorshift64*), so a run can be repeated exactly.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is replaced: xorshift needs a non-zero state).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A number below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Tokens of the formats, spliced in by [`mutate`]: structure is found faster than with
/// random bytes alone.
const DICTIONARY: &[&str] = &[
    ": ",
    "- ",
    "\n",
    "\r\n",
    "  ",
    "\t",
    "{",
    "}",
    "[",
    "]",
    "\"",
    "'",
    ",",
    "&a ",
    "*a",
    "#",
    "@sha256:",
    "sha256:",
    "sha512:",
    "\u{feff}",
    "newTag",
    "images",
    "name",
    "digest",
    "!!str",
    "|\n",
    ">-\n",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "null",
    "true",
    "1e400",
    "-0",
    "\\u0000",
    "\\ud800",
    "{\"$imagepolicy\": \"flux-system:app\"}",
    "gates",
    "checks",
    "assert",
    "code",
    "schemaVersion",
    "kind",
    "v1",
    "created_at",
    "id",
    "metadata",
    "tags",
    "ghcr.io/org/app",
    "<<: *a",
    "? ",
    "\"a\": ",
    "0x1F",
    "~",
];

/// One mutant of `seed`: a few random edits (flip, set, insert, delete, duplicate, splice
/// a dictionary token or a piece of `other`).
pub fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] = rng.next_u64() as u8;
            }
            2 => data.insert(at, rng.next_u64() as u8),
            3 if !data.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(data.len());
                data.drain(at.min(end)..end);
            }
            4 if !data.is_empty() => {
                let start = rng.below(data.len());
                let end = (start + 1 + rng.below(32)).min(data.len());
                let piece = data[start..end].to_vec();
                data.splice(at..at, piece);
            }
            5 if !other.is_empty() => {
                let start = rng.below(other.len());
                let end = (start + 1 + rng.below(64)).min(other.len());
                data.splice(at..at, other[start..end].iter().copied());
            }
            _ => {
                let token = DICTIONARY[rng.below(DICTIONARY.len())].as_bytes();
                data.splice(at..at, token.iter().copied());
            }
        }
    }
    data.truncate(256 * 1024);
    data
}

/// A short stable name for an input (for crash files).
pub fn input_name(data: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(data);
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Every input that ever broke a target (crates/fuzz/regressions/TARGET/*) runs again.
    #[test]
    fn regressions_stay_fixed() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
        let mut ran = 0;
        for (name, target) in TARGETS {
            let Ok(entries) = std::fs::read_dir(dir.join(name)) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                let result = std::panic::catch_unwind(|| target(&data));
                assert!(result.is_ok(), "{name}: {} breaks it again", path.display());
                ran += 1;
            }
        }
        assert!(ran > 0, "the regression inputs are there");
    }

    #[test]
    fn the_targets_hold_on_their_seeds() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for file in [
            "examples/demo/registry.v1.json",
            "examples/demo/gates.yaml",
            "examples/flux/apps/backend-services/kustomization.yaml",
            "examples/prune/versions.json",
        ] {
            let data = std::fs::read(root.join(file)).unwrap();
            for (_, target) in TARGETS {
                target(&data);
            }
        }
        // and the properties are real: each accepts the input it is made for
        let read = |f: &str| std::fs::read(root.join(f)).unwrap();
        assert!(json_edit(&read("examples/demo/registry.v1.json")));
        assert!(yaml_edit(&read(
            "examples/flux/apps/backend-services/kustomization.yaml"
        )));
        assert!(gates_loader(&read("examples/demo/gates.yaml")));
        assert!(registry_versions(&read("examples/prune/versions.json")));
        assert!(image_scanner(&read(
            "examples/pins/deploy/kustomization.yaml"
        )));
    }

    #[test]
    fn mutation_is_repeatable() {
        let a = mutate(&mut Rng::new(7), b"images:\n- name: a\n", b"x");
        let b = mutate(&mut Rng::new(7), b"images:\n- name: a\n", b"x");
        assert_eq!(a, b);
    }
}
