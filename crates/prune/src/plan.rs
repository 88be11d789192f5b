//! The plan, as a pure function of the versions, the rules and the clock.
//!
//! A version is deleted only when a rule selects it (a `--match` glob on one of its tags,
//! or `--untagged delete`), it is strictly older than the cut-off, and no protection holds.
//! Every other version is kept with the first reason that applies, in this order:
//! `not_matched`, `too_recent`, `protected_tag`, `protected_digest`, `keep_latest`, then
//! `child_of_kept_index` and `referrer_of_kept`, which follow the kept versions through the
//! image-index map and the `sha256-<hex>.sig`/`.att` tag scheme until nothing changes.
//! The invariants the property tests check: a protected version is never in `delete`, and a
//! plan whose candidates exceed `--max-delete` deletes nothing.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use jiff::Timestamp;
use regex::Regex;
use rollout_core::oci::Digest;
use schemars::JsonSchema;
use serde::Serialize;

use crate::listing::{Package, Version};
use crate::rules::{Rules, Untagged};

/// Why a version is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// No tag matches a `--match` glob (or untagged, with `--untagged keep`).
    NotMatched,
    /// Not strictly older than `--older-than`.
    TooRecent,
    /// A tag matches a `--protect-tag` regex.
    ProtectedTag,
    /// The digest is listed in a `--protect-digests` file.
    ProtectedDigest,
    /// Among the `--keep-latest N` newest of its group.
    KeepLatest,
    /// A platform manifest or attestation of a kept image index (`--manifests`).
    ChildOfKeptIndex,
    /// A signature, attestation or SBOM (`sha256-<hex>.sig` tag scheme) of a kept version.
    ReferrerOfKept,
}

impl Reason {
    /// The reason code as written in the plan.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NotMatched => "not_matched",
            Reason::TooRecent => "too_recent",
            Reason::ProtectedTag => "protected_tag",
            Reason::ProtectedDigest => "protected_digest",
            Reason::KeepLatest => "keep_latest",
            Reason::ChildOfKeptIndex => "child_of_kept_index",
            Reason::ReferrerOfKept => "referrer_of_kept",
        }
    }
}

/// What the plan says the tool's user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Delete the versions in `delete` (and nothing else).
    Delete,
    /// Nothing to delete.
    Nothing,
    /// Too many candidates for `--max-delete`: delete nothing; `delete` lists them for review.
    RefusedThreshold,
}

/// Which rule selected a version for deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selector {
    /// The `--match` glob at this index (a `u32`: a plan lists one per deleted version).
    Glob(u32),
    /// `--untagged delete`.
    Untagged,
}

/// The detail behind a keep reason, rendered only when the plan is written; it also says
/// the reason ([`Detail::reason`]), so a fate is 32 bytes (one per version).
#[derive(Debug, Clone)]
pub enum Detail<'a> {
    /// Untagged, kept by `--untagged keep`.
    Untagged,
    /// No tag matched.
    NoGlob,
    /// Created at or after the cut-off.
    Recent,
    /// The tag and the regex that protect it.
    Tag(&'a str, &'a Regex),
    /// The file that lists the digest.
    Digest(&'a str),
    /// The `--keep-latest` group (`None`: all matched versions of the package).
    Latest(usize, Option<&'a str>),
    /// The kept index that lists this manifest.
    Child(&'a str),
    /// The kept version this one signs or attests.
    Referrer(&'a str),
}

impl std::fmt::Display for Detail<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Detail::Untagged => f.write_str("untagged (--untagged keep)"),
            Detail::NoGlob => f.write_str("no tag matches --match"),
            Detail::Recent => f.write_str("not older than --older-than"),
            Detail::Tag(t, r) => write!(f, "tag {t} matches {}", r.as_str()),
            Detail::Digest(file) => write!(f, "digest listed in {file}"),
            Detail::Latest(n, None) => write!(f, "among the {n} newest matched versions"),
            Detail::Latest(n, Some(g)) => write!(f, "among the {n} newest of group {g:?}"),
            Detail::Child(d) => write!(f, "listed by kept image index {d}"),
            Detail::Referrer(d) => write!(f, "refers to kept version {d}"),
        }
    }
}

impl Detail<'_> {
    /// The reason this detail explains.
    pub fn reason(&self) -> Reason {
        match self {
            Detail::Untagged | Detail::NoGlob => Reason::NotMatched,
            Detail::Recent => Reason::TooRecent,
            Detail::Tag(..) => Reason::ProtectedTag,
            Detail::Digest(_) => Reason::ProtectedDigest,
            Detail::Latest(..) => Reason::KeepLatest,
            Detail::Child(_) => Reason::ChildOfKeptIndex,
            Detail::Referrer(_) => Reason::ReferrerOfKept,
        }
    }
}

/// The fate of one version.
#[derive(Debug, Clone)]
pub enum Fate<'a> {
    /// Deleted; selected by this rule.
    Delete(Selector),
    /// Kept, for the reason its detail says.
    Keep(Detail<'a>),
}

/// One package's plan: each version with its fate, oldest first, then by id.
#[derive(Debug)]
pub struct PackagePlan<'a> {
    /// The package.
    pub package: &'a Package,
    /// Versions to delete (or, when refused, the candidates).
    pub delete: Vec<(&'a Version, Selector)>,
    /// Versions kept, with why.
    pub keep: Vec<(&'a Version, Reason, Detail<'a>)>,
}

/// The whole plan.
#[derive(Debug)]
pub struct Plan<'a> {
    /// Per package, in the order given.
    pub packages: Vec<PackagePlan<'a>>,
    /// Candidates over every package.
    pub candidates: usize,
    /// The action.
    pub action: Action,
    /// Kept versions by reason.
    pub by_reason: BTreeMap<Reason, usize>,
}

/// Compute the plan.
pub fn plan<'a>(packages: &'a [Package], rules: &'a Rules) -> Plan<'a> {
    let mut protected_sorted: Vec<&str> = rules.protected.digests().map(Digest::as_str).collect();
    protected_sorted.sort();
    let mut out = Vec::with_capacity(packages.len());
    let mut candidates = 0;
    let mut by_reason = BTreeMap::new();
    for p in packages {
        let fates = fates(p, rules, &protected_sorted);
        // sized exactly: with 200,000 versions, doubling would leave a third unused
        let deleted = fates
            .iter()
            .filter(|f| matches!(f, Fate::Delete(_)))
            .count();
        let mut delete = Vec::with_capacity(deleted);
        let mut keep = Vec::with_capacity(fates.len() - deleted);
        for (v, fate) in p.versions.iter().zip(fates) {
            match fate {
                Fate::Delete(s) => delete.push((v, s)),
                Fate::Keep(d) => {
                    let r = d.reason();
                    *by_reason.entry(r).or_insert(0) += 1;
                    keep.push((v, r, d));
                }
            }
        }
        delete.sort_by(|a, b| order(a.0, b.0));
        keep.sort_by(|a, b| order(a.0, b.0));
        candidates += delete.len();
        out.push(PackagePlan {
            package: p,
            delete,
            keep,
        });
    }
    let action = if candidates == 0 {
        Action::Nothing
    } else if candidates > rules.max_delete {
        Action::RefusedThreshold
    } else {
        Action::Delete
    };
    Plan {
        packages: out,
        candidates,
        action,
        by_reason,
    }
}

/// Oldest first, then by id.
fn order(a: &Version, b: &Version) -> std::cmp::Ordering {
    a.created
        .cmp(&b.created)
        .then_with(|| a.id.sort_key().cmp(&b.id.sort_key()))
}

/// The fate of every version of one package, in listing order.
pub fn fates<'a>(p: &'a Package, rules: &'a Rules, protected_sorted: &[&'a str]) -> Vec<Fate<'a>> {
    let versions = &p.versions;
    let mut scratch = Vec::new();
    let selected: Vec<Option<Selector>> = versions
        .iter()
        .map(|v| {
            if v.tags().is_empty() {
                (rules.untagged == Untagged::Delete).then_some(Selector::Untagged)
            } else {
                rules
                    .first_glob(v.tags(), &mut scratch)
                    .map(|i| Selector::Glob(i as u32))
            }
        })
        .collect();
    let latest = keep_latest(versions, &selected, rules);
    let mut fates: Vec<Fate<'a>> = versions
        .iter()
        .enumerate()
        .map(|(i, v)| first_reason(v, selected[i], latest.get(&i).copied(), rules))
        .collect();
    follow_kept(versions, &mut fates, rules, protected_sorted);
    fates
}

fn first_reason<'a>(
    v: &'a Version,
    selected: Option<Selector>,
    latest: Option<Option<&'a str>>,
    rules: &'a Rules,
) -> Fate<'a> {
    let Some(selector) = selected else {
        let detail = if v.tags().is_empty() {
            Detail::Untagged
        } else {
            Detail::NoGlob
        };
        return Fate::Keep(detail);
    };
    if v.created >= rules.cutoff {
        return Fate::Keep(Detail::Recent);
    }
    if let Some((tag, re)) = rules.protecting_tag(v.tags()) {
        return Fate::Keep(Detail::Tag(tag, re));
    }
    if let Some(file) = rules.protected.source_of(v.digest()) {
        return Fate::Keep(Detail::Digest(file));
    }
    if let (Some(group), Some(n)) = (latest, rules.keep_latest) {
        return Fate::Keep(Detail::Latest(n, group));
    }
    Fate::Delete(selector)
}

/// Index → group (None: the whole package) of each version among the newest N of a group.
fn keep_latest<'a>(
    versions: &'a [Version],
    selected: &[Option<Selector>],
    rules: &Rules,
) -> HashMap<usize, Option<&'a str>> {
    let mut out = HashMap::new();
    let Some(n) = rules.keep_latest else {
        return out;
    };
    let mut groups: BTreeMap<Option<&'a str>, Vec<usize>> = BTreeMap::new();
    for (i, v) in versions.iter().enumerate() {
        if selected[i].is_none() {
            continue;
        }
        match &rules.keep_per {
            None => groups.entry(None).or_default().push(i),
            Some(re) => {
                let mut keys: Vec<&'a str> = v
                    .tags()
                    .iter()
                    .filter_map(|t| re.captures(t).and_then(|c| c.get(1)).map(|m| m.as_str()))
                    .collect();
                keys.sort_unstable();
                keys.dedup();
                for k in keys {
                    groups.entry(Some(k)).or_default().push(i);
                }
            }
        }
    }
    for (key, mut members) in groups {
        members.sort_by(|&a, &b| order(&versions[b], &versions[a]));
        for &i in members.iter().take(n) {
            out.entry(i).or_insert(key);
        }
    }
    out
}

/// `sha256-<hex>` / `sha256-<hex>.sig|.att|.sbom|…`: the subject a referrer tag points at.
pub fn referrer_subject(tag: &str) -> Option<Digest> {
    let (algo, rest) = tag.split_once('-')?;
    if algo != "sha256" && algo != "sha512" {
        return None;
    }
    let hex = rest.split_once('.').map_or(rest, |(h, _)| h);
    Digest::parse(&format!("{algo}:{hex}")).ok()
}

/// Keep what the kept versions depend on: children of kept (or protected) image indexes and
/// referrers of kept versions, transitively.
fn follow_kept<'a>(
    versions: &'a [Version],
    fates: &mut [Fate<'a>],
    rules: &'a Rules,
    protected_sorted: &[&'a str],
) {
    let mut referrers: HashMap<Digest, Vec<usize>> = HashMap::new();
    for (i, v) in versions.iter().enumerate() {
        for t in v.tags() {
            if let Some(subject) = referrer_subject(t) {
                referrers.entry(subject).or_default().push(i);
            }
        }
    }
    if rules.manifests.is_empty() && referrers.is_empty() {
        return;
    }
    // Versions by digest, only for following an index's children: one sorted list, not a
    // map of lists (200,000 versions would cost 200,000 small allocations).
    let mut by_digest: Vec<(&str, usize)> = Vec::new();
    if !rules.manifests.is_empty() {
        by_digest = versions
            .iter()
            .enumerate()
            .map(|(i, v)| (v.digest(), i))
            .collect();
        by_digest.sort_unstable();
    }
    let mut order_idx: Vec<usize> = (0..versions.len()).collect();
    order_idx.sort_by(|&a, &b| order(&versions[a], &versions[b]));
    let mut queue: VecDeque<&'a str> = VecDeque::new();
    for &i in &order_idx {
        if matches!(fates[i], Fate::Keep(..)) {
            queue.push_back(versions[i].digest());
        }
    }
    queue.extend(protected_sorted.iter().copied());
    let mut seen: HashSet<&str> = HashSet::new();
    while let Some(d) = queue.pop_front() {
        if !seen.insert(d) {
            continue;
        }
        if let Some(children) = rules.manifests.get(d) {
            for c in children {
                for &(_, j) in with_digest(&by_digest, c.as_str()) {
                    if matches!(fates[j], Fate::Delete(_)) {
                        fates[j] = Fate::Keep(Detail::Child(d));
                    }
                    queue.push_back(versions[j].digest());
                }
                queue.push_back(c.as_str());
            }
        }
        if let Some(list) = referrers.get(d) {
            for &j in list {
                if matches!(fates[j], Fate::Delete(_)) {
                    fates[j] = Fate::Keep(Detail::Referrer(d));
                }
                queue.push_back(versions[j].digest());
            }
        }
    }
}

/// The versions of `by_digest` (sorted) that have digest `d`.
fn with_digest<'v, 'd>(by_digest: &'v [(&'d str, usize)], d: &str) -> &'v [(&'d str, usize)] {
    let start = by_digest.partition_point(|(x, _)| *x < d);
    let len = by_digest[start..].partition_point(|(x, _)| *x == d);
    &by_digest[start..start + len]
}

/// Whole days between `created` and `now` (negative for a version from the future).
pub fn age_days(created: Timestamp, now: Timestamp) -> i64 {
    (now.as_second() - created.as_second()).div_euclid(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    #[test]
    fn with_digest_finds_every_version_of_a_digest_in_listing_order() {
        let (a, b, c) = (digest('a'), digest('b'), digest('c'));
        let mut by: Vec<(&str, usize)> = vec![(&b, 4), (&a, 2), (&b, 0), (&c, 1), (&b, 3)];
        by.sort_unstable();
        let found = |d: &str| {
            with_digest(&by, d)
                .iter()
                .map(|&(_, i)| i)
                .collect::<Vec<_>>()
        };
        assert_eq!(found(&b), [0, 3, 4]);
        assert_eq!(found(&a), [2]);
        assert_eq!(found(&c), [1]);
        assert!(found(&digest('d')).is_empty());
        assert!(with_digest(&[], &a).is_empty());
    }

    #[test]
    fn a_plan_costs_few_bytes_per_version() {
        // a plan over 200,000 versions holds one fate per version and one entry per
        // deleted version; the benchmark's memory target depends on these staying small
        assert!(std::mem::size_of::<Fate>() <= 32);
        assert!(std::mem::size_of::<(&Version, Selector)>() <= 16);
        assert!(std::mem::size_of::<Version>() <= 48);
    }
}
