//! What a run is asked to set, checked before the repository is touched: the tag (given,
//! built from `--pr`/`--sha`, or one per service with `--set`), the digest, the image
//! name, the compare-and-swap tag, the message template, the author and the branch name.

use indexmap::IndexMap;
use rollout_core::CoreError;
use rollout_core::oci::check_tag;

use crate::error::BumpError;
use crate::tag::{check_template, normalize_digest, pr_tag};
use rollout_core::bad_value;

/// The flags a request is made of, as given.
#[derive(Debug, Clone, Copy)]
pub struct RequestFlags<'a> {
    /// `--tag`.
    pub tag: Option<&'a str>,
    /// `--pr`.
    pub pr: Option<&'a str>,
    /// `--sha`.
    pub sha: Option<&'a str>,
    /// `--set SERVICE=TAG`, in order.
    pub sets: &'a [String],
    /// `--tag-pattern`.
    pub tag_pattern: Option<&'a str>,
    /// `--expect-current`.
    pub expect_current: Option<&'a str>,
    /// `--digest`.
    pub digest: Option<&'a str>,
    /// `--name`.
    pub name: Option<&'a str>,
    /// `--message`.
    pub message: &'a str,
    /// `--author`.
    pub author: Option<&'a str>,
    /// `--branch`.
    pub branch: Option<&'a str>,
}

/// The values of a run, checked.
#[derive(Debug, Clone)]
pub struct Request {
    /// The tag (with --set: the distinct tags, joined with ", ", for messages).
    pub tag: String,
    /// With --set: each service's tag.
    pub service_tags: IndexMap<String, String>,
    /// The digest, normalized.
    pub digest: Option<String>,
    /// `--author` as name and email.
    pub author: Option<(String, String)>,
}

/// Check every value of a request; the first bad one is a usage error naming its flag.
pub fn check(f: &RequestFlags<'_>) -> Result<Request, BumpError> {
    if let Some(n) = f.name {
        rollout_core::oci::check_name(n).map_err(|m| CoreError::bad_value("--name", n, m))?;
    }
    let service_tags = service_tags(f.sets)?;
    let tag = the_tag(f, &service_tags)?;
    if let Some(p) = f.tag_pattern {
        let tags: Vec<&str> = if service_tags.is_empty() {
            vec![&tag]
        } else {
            service_tags.values().map(String::as_str).collect()
        };
        check_pattern(p, &tags)?;
    }
    if let Some(e) = f.expect_current {
        check_tag(e).map_err(|m| CoreError::bad_value("--expect-current", e, m))?;
    }
    let digest = f.digest.map(normalize_digest).transpose()?;
    check_template(f.message)?;
    let author = f.author.map(parse_author).transpose()?;
    if let Some(b) = f.branch
        && (b.is_empty() || !git2::Reference::is_valid_name(&format!("refs/heads/{b}")))
    {
        return Err(bad_value("--branch", b, "not a valid branch name"));
    }
    Ok(Request {
        tag,
        service_tags,
        digest,
        author,
    })
}

/// `--set SERVICE=TAG` pairs, each tag checked, no service twice.
fn service_tags(sets: &[String]) -> Result<IndexMap<String, String>, BumpError> {
    let mut out: IndexMap<String, String> = IndexMap::new();
    for pair in sets {
        let Some((service, tag)) = pair
            .split_once('=')
            .filter(|(s, t)| !s.is_empty() && !t.is_empty())
        else {
            return Err(bad_value("--set", pair, "expected SERVICE=TAG"));
        };
        check_tag(tag).map_err(|m| CoreError::bad_value("--set", pair, m))?;
        if out.insert(service.to_string(), tag.to_string()).is_some() {
            return Err(bad_value(
                "--set",
                pair,
                format!("service {service:?} is given twice"),
            ));
        }
    }
    Ok(out)
}

/// The run's tag: with --set the distinct tags for messages, else --tag or --pr/--sha.
fn the_tag(
    f: &RequestFlags<'_>,
    service_tags: &IndexMap<String, String>,
) -> Result<String, BumpError> {
    Ok(match (f.tag, f.pr, f.sha) {
        _ if !service_tags.is_empty() => {
            let mut distinct: Vec<&str> = Vec::new();
            for t in service_tags.values() {
                if !distinct.contains(&t.as_str()) {
                    distinct.push(t);
                }
            }
            distinct.join(", ")
        }
        (Some(t), _, _) => {
            check_tag(t).map_err(|m| CoreError::bad_value("--tag", t, m))?;
            t.to_string()
        }
        (None, Some(n), Some(s)) => pr_tag(n, s)?,
        _ => return Err(bad_value("--tag", "", "give --tag TAG or --pr N --sha SHA")),
    })
}

/// Every tag must match `--tag-pattern` as a whole.
fn check_pattern(pattern: &str, tags: &[&str]) -> Result<(), BumpError> {
    let re = rollout_core::pattern::compile(&format!("^(?:{pattern})$")).map_err(|m| {
        CoreError::bad_value("--tag-pattern", pattern, format!("invalid regex: {m}"))
    })?;
    match tags.iter().find(|t| !re.is_match(t)) {
        Some(t) => Err(bad_value(
            "--tag",
            t,
            format!("does not match --tag-pattern {pattern}"),
        )),
        None => Ok(()),
    }
}

fn parse_author(text: &str) -> Result<(String, String), BumpError> {
    let err = || bad_value("--author", text, "write it as \"Name <email>\"");
    let (name, rest) = text.split_once('<').ok_or_else(err)?;
    let email = rest.strip_suffix('>').ok_or_else(err)?;
    let name = name.trim();
    if name.is_empty() || email.is_empty() || email.contains(['<', '>']) {
        return Err(err());
    }
    Ok((name.to_string(), email.to_string()))
}
