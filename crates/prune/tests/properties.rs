//! Property tests of the planner: thousands of random registries and rule sets, each plan
//! checked against the invariants with code written independently of the planner.
//!
//! * nothing protected is ever in `delete` (tag, digest, keep-latest, children of kept
//!   indexes, referrers of kept versions);
//! * everything in `delete` was selected and is strictly older than the cut-off;
//! * a plan never deletes more than `--max-delete`: over it, the action is refused;
//! * every version is either deleted or kept, exactly once.
//!
//! The generator is a seeded SplitMix64, so a failure prints the seed that reproduces it.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use rollout_core::oci::Digest;
use rollout_prune::listing::{Package, Version, VersionId};
use rollout_prune::plan::{Action, Fate, Reason, fates, plan, referrer_subject};
use rollout_prune::rules::{RuleArgs, Rules};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn digest(n: u64) -> Digest {
    Digest::parse(&format!("{n:064x}")).unwrap()
}

const NOW: i64 = 1_795_248_000; // 2026-11-21T08:00:00Z

fn random_package(rng: &mut Rng) -> Package {
    let count = rng.below(40) as usize;
    let digest_pool = (count as u64).max(1) + rng.below(5);
    let mut versions: Vec<Version> = Vec::new();
    for i in 0..count {
        let mut tags = Vec::new();
        let sha = format!("{:040x}", rng.next() as u128 * 7919);
        match rng.below(8) {
            0 => {}
            1 => tags.push(format!("pending-{}", &sha[..8])),
            2 => {
                tags.push(format!("pending-{sha}"));
                tags.push(sha.clone());
            }
            3 => tags.push(format!("pr-{}-{}", rng.below(4), &sha[..7])),
            4 => tags.push("latest".into()),
            5 => {
                // a referrer of some other version's digest
                let target = digest(rng.below(digest_pool));
                let hex = &target.as_str()[7..];
                tags.push(format!("sha256-{hex}.sig"));
            }
            6 => {
                tags.push(format!("pr-{}-{}", rng.below(4), &sha[..7]));
                tags.push(format!("pr-{}-{}", rng.below(4), &sha[9..16]));
            }
            _ => tags.push(format!("v1.{}.0", rng.below(20))),
        }
        // ages from 60 days old to 1 day in the future, often on the same second
        let created = NOW - 86_400 * 60 + (rng.below(61) as i64) * 86_400 - rng.below(3) as i64;
        let id = if rng.chance(90) {
            VersionId::Number(1000 + i as u64)
        } else {
            VersionId::Text(format!("v-{i}").into())
        };
        // distinct digests mostly; GHCR never repeats one, but the planner must not care
        let digest = digest(if rng.chance(95) {
            i as u64
        } else {
            rng.below(digest_pool)
        });
        let created = Timestamp::from_second(created).unwrap();
        versions.push(Version::new(id, &digest, created, &tags).unwrap());
    }
    Package {
        name: Some("pkg".into()),
        owner_path: None,
        versions,
        oci: false,
    }
}

fn random_rules(rng: &mut Rng, package: &Package) -> Rules {
    let globs_pool = [
        "pending-*",
        "pr-*",
        "sha256-*",
        "v1.*",
        "*",
        "latest",
        "pr-[0-1]-*",
    ];
    let mut globs = Vec::new();
    for _ in 0..rng.below(3) {
        globs.push(globs_pool[rng.below(globs_pool.len() as u64) as usize].to_string());
    }
    let untagged_delete = globs.is_empty() || rng.chance(40);
    let mut protect_tags = Vec::new();
    match rng.below(4) {
        0 => protect_tags.push("none".to_string()),
        1 => {
            protect_tags.push("none".to_string());
            protect_tags.push("^latest$".to_string());
        }
        2 => protect_tags.push("^v1\\.".to_string()),
        _ => {}
    }
    let keep_latest = rng.chance(50).then(|| 1 + rng.below(3) as usize);
    let keep_per = (keep_latest.is_some() && rng.chance(50)).then(|| "^pr-([0-9]+)-".to_string());
    let args = RuleArgs {
        globs,
        untagged_delete,
        older_than: Some(rollout_core::time::Duration::from_secs(
            86_400 * rng.below(30) as i64,
        )),
        protect_tags,
        keep_latest,
        keep_per,
        max_delete: rng.below(30) as usize,
    };
    let mut rules = Rules::compile(&args, Timestamp::from_second(NOW).unwrap()).unwrap();
    let n = package.versions.len() as u64 + 3;
    let protected: Vec<Digest> = (0..rng.below(5)).map(|_| digest(rng.below(n))).collect();
    if !protected.is_empty() {
        rules.protected.add("pins.json", "list", protected);
    }
    for _ in 0..rng.below(6) {
        let index = digest(rng.below(n));
        let children: Vec<Digest> = (0..1 + rng.below(3))
            .map(|_| digest(rng.below(n)))
            .collect();
        rules.manifests.entry(index).or_default().extend(children);
    }
    rules
}

/// The newest-first rank order the keep-latest rule uses, written out again.
fn newer(a: &Version, b: &Version) -> bool {
    let key = |v: &Version| match &v.id {
        VersionId::Number(n) => (0u8, *n, String::new()),
        VersionId::Text(s) => (1, 0, s.to_string()),
    };
    (a.created, key(a)) > (b.created, key(b))
}

fn check(seed: u64) {
    let mut rng = Rng(seed);
    let package = random_package(&mut rng);
    let rules = random_rules(&mut rng, &package);
    let packages = vec![package];
    let result = plan(&packages, &rules);
    let p = &result.packages[0];
    let versions = &packages[0].versions;
    let ctx = format!("seed {seed}: rules {rules:?}");

    // every version exactly once
    assert_eq!(p.delete.len() + p.keep.len(), versions.len(), "{ctx}");
    let deleted: HashSet<*const Version> = p.delete.iter().map(|(v, _)| *v as *const _).collect();
    assert_eq!(deleted.len(), p.delete.len(), "{ctx}");

    // the threshold
    assert_eq!(result.candidates, p.delete.len(), "{ctx}");
    match result.action {
        Action::Delete => assert!(
            result.candidates <= rules.max_delete && result.candidates > 0,
            "{ctx}"
        ),
        Action::Nothing => assert_eq!(result.candidates, 0, "{ctx}"),
        Action::RefusedThreshold => assert!(result.candidates > rules.max_delete, "{ctx}"),
    }

    let protected: HashSet<&str> = rules.protected.digests().map(Digest::as_str).collect();
    let kept_digests: HashSet<&str> = versions
        .iter()
        .filter(|v| !deleted.contains(&(*v as *const _)))
        .map(|v| v.digest())
        .chain(protected.iter().copied())
        .collect();
    let selected = |v: &Version| {
        if v.tags().is_empty() {
            rules.untagged == rollout_prune::rules::Untagged::Delete
        } else {
            v.tags().iter().any(|t| rules.glob_matches(t))
        }
    };
    for (v, _) in &p.delete {
        assert!(selected(v), "{ctx}: deleted but not selected: {v:?}");
        assert!(v.created < rules.cutoff, "{ctx}: deleted but recent: {v:?}");
        for t in v.tags() {
            for re in &rules.protect_tags {
                assert!(!re.is_match(t), "{ctx}: deleted a protected tag: {v:?}");
            }
        }
        assert!(
            !protected.contains(v.digest()),
            "{ctx}: deleted a protected digest"
        );
        for (index, children) in &rules.manifests {
            if kept_digests.contains(index.as_str()) {
                assert!(
                    !children.iter().any(|c| c.as_str() == v.digest()),
                    "{ctx}: deleted a child of kept {index}: {v:?}"
                );
            }
        }
        for t in v.tags() {
            if let Some(subject) = referrer_subject(t) {
                assert!(
                    !kept_digests.contains(subject.as_str()),
                    "{ctx}: deleted a referrer of a kept version: {v:?}"
                );
            }
        }
        if let Some(n) = rules.keep_latest {
            let groups: Vec<Option<String>> = match &rules.keep_per {
                None => vec![None],
                Some(re) => v
                    .tags()
                    .iter()
                    .filter_map(|t| {
                        re.captures(t)
                            .and_then(|c| c.get(1))
                            .map(|m| Some(m.as_str().to_string()))
                    })
                    .collect(),
            };
            for g in groups {
                let in_group = |w: &Version| match (&g, &rules.keep_per) {
                    (None, _) => true,
                    (Some(g), Some(re)) => w.tags().iter().any(|t| {
                        re.captures(t).and_then(|c| c.get(1)).map(|m| m.as_str())
                            == Some(g.as_str())
                    }),
                    _ => false,
                };
                let newer_in_group = versions
                    .iter()
                    .filter(|w| selected(w) && in_group(w) && newer(w, v))
                    .count();
                assert!(
                    newer_in_group >= n,
                    "{ctx}: deleted one of the {n} newest of {g:?}: {v:?}"
                );
            }
        }
    }
    // kept versions carry a reason that holds
    for (v, reason, _) in &p.keep {
        match reason {
            Reason::NotMatched => assert!(!selected(v), "{ctx}"),
            Reason::TooRecent => assert!(v.created >= rules.cutoff, "{ctx}"),
            Reason::ProtectedDigest => assert!(protected.contains(v.digest()), "{ctx}"),
            _ => {}
        }
    }
}

#[test]
fn no_protected_version_is_ever_deleted_and_the_threshold_holds() {
    for seed in 0..5000 {
        check(seed);
    }
}

#[test]
fn the_fate_of_a_version_does_not_depend_on_listing_order() {
    for seed in 0..500 {
        let mut rng = Rng(seed);
        let package = random_package(&mut rng);
        let rules = random_rules(&mut rng, &package);
        let mut reversed = package.clone();
        reversed.versions.reverse();
        let mut protected: Vec<&str> = rules.protected.digests().map(Digest::as_str).collect();
        protected.sort();
        let by_id = |p: &Package| -> HashMap<String, bool> {
            p.versions
                .iter()
                .zip(fates(p, &rules, &protected))
                .map(|(v, f)| (format!("{:?}", v.id), matches!(f, Fate::Delete(_))))
                .collect()
        };
        assert_eq!(by_id(&package), by_id(&reversed), "seed {seed}");
    }
}
