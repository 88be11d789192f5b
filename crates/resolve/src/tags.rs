//! Tag selection: which of a repository's tags is the one to deploy.
//!
//! The same four policies as Flux's ImagePolicy, so a team moving off Flux image automation
//! keeps its rules (image-resolve(1) sets the semantics side by side):
//!
//! * `semver:RANGE`: tags that are semantic versions (an optional `v` before
//!   `MAJOR.MINOR.PATCH[-PRE][+BUILD]`) inside the range (`>=1.0.0 <2.0.0`, `^1.2`, `~1.2.3`,
//!   `1.x`, `*`); the highest is the latest. A pre-release matches only a range that names
//!   a pre-release of the same `MAJOR.MINOR.PATCH`, as Flux's does;
//! * `numeric`: tags (or extracted keys) that are numbers, ordered by value;
//! * `alphabetical`: ordered by their bytes (RFC 3339 timestamps sort right this way);
//! * `regex:RE`: the tags `RE` matches, ordered alphabetically: the same as `--filter RE`
//!   with `alphabetical`.
//!
//! `--filter RE` keeps the tags the pattern matches and `--extract TEMPLATE` (`$ts`,
//! `${1}`) makes the sort key from its captures, as Flux's `filterTags.pattern` and
//! `.extract`. `--order asc` (the default) makes the highest key the latest, `desc` the
//! lowest. Ties are broken by the tag, so the same tags always give the same answer.

use std::cmp::Ordering;

use regex::Regex;

/// How tags are ordered.
#[derive(Debug, Clone)]
pub enum Policy {
    /// Semantic versions inside a range.
    Semver(semver::VersionReq),
    /// Numbers by value.
    Numeric,
    /// Bytes.
    Alphabetical,
}

/// A whole selection: filter, extraction, policy, order.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The tags kept (`--filter`, or `regex:RE`).
    pub filter: Option<Regex>,
    /// The sort key made from the filter's captures.
    pub extract: Option<String>,
    /// How keys are ordered.
    pub policy: Policy,
    /// False with `--order desc`: the lowest key is the latest.
    pub ascending: bool,
    /// The policy as given, for the report (`semver:^1.2`, `alphabetical`).
    pub label: String,
}

/// One tag that passed, with the key it was ordered by.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// The tag.
    pub tag: String,
    /// The key (the extracted text, or the tag).
    pub key: String,
}

enum Key {
    Version(semver::Version),
    Number(f64),
    Text,
}

impl Selection {
    /// Build a selection from the flags; errors name the flag.
    pub fn parse(
        policy: Option<&str>,
        filter: Option<&str>,
        extract: Option<&str>,
        order: &str,
    ) -> Result<Selection, (&'static str, String)> {
        let compile = |flag: &'static str, re: &str| {
            Regex::new(re).map_err(|e| (flag, format!("invalid regex: {e}")))
        };
        let mut filter = filter.map(|f| compile("--filter", f)).transpose()?;
        let label = policy.unwrap_or("alphabetical").to_string();
        let policy = match policy.unwrap_or("alphabetical") {
            "numeric" | "numerical" => Policy::Numeric,
            "alphabetical" => Policy::Alphabetical,
            p if p.starts_with("semver:") => {
                let range = p["semver:".len()..].trim();
                let req = semver::VersionReq::parse(&comparators(range)?)
                    .map_err(|e| ("--policy", format!("semver range {range:?}: {e}")))?;
                Policy::Semver(req)
            }
            p if p.starts_with("regex:") => {
                if filter.is_some() {
                    return Err((
                        "--policy",
                        "regex:RE is a filter already; give --filter or regex:, not both".into(),
                    ));
                }
                filter = Some(compile("--policy", &p["regex:".len()..])?);
                Policy::Alphabetical
            }
            _ => {
                return Err((
                    "--policy",
                    "expected semver:RANGE, numeric, alphabetical or regex:RE".into(),
                ));
            }
        };
        if extract.is_some() && filter.is_none() {
            return Err((
                "--extract",
                "needs a pattern to take captures from (--filter RE or --policy regex:RE)".into(),
            ));
        }
        let ascending = match order {
            "asc" => true,
            "desc" => false,
            _ => return Err(("--order", "expected asc or desc".into())),
        };
        Ok(Selection {
            filter,
            extract: extract.map(str::to_string),
            policy,
            ascending,
            label,
        })
    }

    /// The sort key of a tag, `None` when the tag does not pass.
    fn key(&self, tag: &str) -> Option<(String, Key)> {
        let text = match &self.filter {
            Some(re) => {
                let caps = re.captures(tag)?;
                match &self.extract {
                    Some(t) => {
                        let mut out = String::new();
                        caps.expand(t, &mut out);
                        out
                    }
                    None => tag.to_string(),
                }
            }
            None => tag.to_string(),
        };
        let key = match &self.policy {
            Policy::Semver(req) => {
                let v = semver::Version::parse(text.strip_prefix('v').unwrap_or(&text)).ok()?;
                if !req.matches(&v) {
                    return None;
                }
                Key::Version(v)
            }
            Policy::Numeric => {
                let n: f64 = text.parse().ok()?;
                if !n.is_finite() {
                    return None;
                }
                Key::Number(n)
            }
            Policy::Alphabetical => Key::Text,
        };
        Some((text, key))
    }

    /// The tags that pass, latest first.
    pub fn rank(&self, tags: &[String]) -> Vec<Ranked> {
        let mut kept: Vec<(String, Key, &String)> = tags
            .iter()
            .filter_map(|t| self.key(t).map(|(text, k)| (text, k, t)))
            .collect();
        kept.sort_by(|a, b| {
            let by_key = match (&a.1, &b.1) {
                (Key::Version(x), Key::Version(y)) => x.cmp(y),
                (Key::Number(x), Key::Number(y)) => x.total_cmp(y),
                _ => a.0.cmp(&b.0),
            };
            let by_key = if self.ascending {
                by_key.reverse()
            } else {
                by_key
            };
            match by_key {
                Ordering::Equal => a.2.cmp(b.2),
                o => o,
            }
        });
        kept.into_iter()
            .map(|(key, _, tag)| Ranked {
                tag: tag.clone(),
                key,
            })
            .collect()
    }
}

/// A range as Flux writes it (comparators separated by spaces, `>= 1.0` with a space after
/// the operator) in the comma-separated form the semver crate reads. `||` is refused.
fn comparators(range: &str) -> Result<String, (&'static str, String)> {
    if range.contains("||") {
        return Err((
            "--policy",
            format!(
                "semver range {range:?}: alternatives (||) are not supported; give the range as one set of comparators"
            ),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    let mut pending = String::new();
    for token in range.split([' ', ',']).filter(|t| !t.is_empty()) {
        pending.push_str(token);
        if token.bytes().all(|b| b"<>=~^".contains(&b)) {
            continue;
        }
        out.push(std::mem::take(&mut pending));
    }
    if !pending.is_empty() {
        out.push(pending);
    }
    Ok(out.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn latest(sel: &Selection, list: &[&str]) -> Option<String> {
        sel.rank(&tags(list)).first().map(|r| r.tag.clone())
    }

    fn sel(policy: &str, filter: Option<&str>, extract: Option<&str>, order: &str) -> Selection {
        Selection::parse(Some(policy), filter, extract, order).unwrap()
    }

    #[test]
    fn semver_ranges_skip_prereleases_and_non_versions() {
        let list = [
            "1.0.0",
            "v1.2.3",
            "1.10.0",
            "2.0.0-rc.1",
            "latest",
            "1.2",
            "main-abc",
        ];
        assert_eq!(
            latest(&sel("semver:>=1.0.0 <2.0.0", None, None, "asc"), &list).as_deref(),
            Some("1.10.0")
        );
        assert_eq!(
            latest(&sel("semver:~1.2", None, None, "asc"), &list).as_deref(),
            Some("v1.2.3")
        );
        assert_eq!(
            latest(&sel("semver:>=2.0.0-rc.0", None, None, "asc"), &list).as_deref(),
            Some("2.0.0-rc.1")
        );
        assert_eq!(
            latest(&sel("semver:*", None, None, "asc"), &list).as_deref(),
            Some("1.10.0")
        );
        assert_eq!(latest(&sel("semver:^3", None, None, "asc"), &list), None);
        assert_eq!(
            latest(&sel("semver:>= 1.0.0, < 1.5", None, None, "asc"), &list).as_deref(),
            Some("v1.2.3")
        );
    }

    #[test]
    fn numeric_and_alphabetical_with_extract_and_order() {
        let list = ["build-9", "build-100", "build-12", "main-x"];
        let s = sel("numeric", Some(r"^build-(?P<n>\d+)$"), Some("$n"), "asc");
        let r = s.rank(&tags(&list));
        assert_eq!(
            r.iter().map(|r| r.tag.as_str()).collect::<Vec<_>>(),
            ["build-100", "build-12", "build-9"]
        );
        assert_eq!(r[0].key, "100");
        let s = sel("numeric", Some(r"^build-(?P<n>\d+)$"), Some("$n"), "desc");
        assert_eq!(latest(&s, &list).as_deref(), Some("build-9"));
        let s = sel("alphabetical", None, None, "asc");
        assert_eq!(
            latest(&s, &["2026-01-02T00", "2026-11-30T10", "2025-12-31"]).as_deref(),
            Some("2026-11-30T10")
        );
        let s = sel("regex:^main-", None, None, "asc");
        assert_eq!(latest(&s, &list).as_deref(), Some("main-x"));
    }

    #[test]
    fn flag_errors_name_the_flag() {
        for (p, f, e, o, flag) in [
            (Some("semver:>>1"), None, None, "asc", "--policy"),
            (Some("newest"), None, None, "asc", "--policy"),
            (Some("numeric"), Some("("), None, "asc", "--filter"),
            (Some("numeric"), None, Some("$1"), "asc", "--extract"),
            (Some("numeric"), None, None, "up", "--order"),
            (Some("regex:a"), Some("b"), None, "asc", "--policy"),
            (Some("semver:^1 || ^2"), None, None, "asc", "--policy"),
        ] {
            assert_eq!(
                Selection::parse(p, f, e, o).unwrap_err().0,
                flag,
                "{p:?} {f:?} {e:?} {o}"
            );
        }
    }
}
