//! What a run is asked to set, checked before the repository is touched: the tag (given,
//! built from `--pr`/`--sha`, or one per service with `--set` and a sets document on `-i`),
//! the digest, the image name, the compare-and-swap tag, the message template, the author
//! and the branch name.

use indexmap::IndexMap;
use rollout_core::CoreError;
use rollout_core::input::{Source, read_json};
use rollout_core::oci::check_tag;
use serde_json::Value;

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
    /// The sets document (`-i`), as read: its origin and its pairs, in order.
    pub sets_doc: Option<&'a SetsDocument>,
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
    let service_tags = service_tags(f.sets, f.sets_doc)?;
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

/// A batch of service tags read from `-i`: `{"SERVICE": "TAG", ...}`, or
/// `[{"service": "SERVICE", "tag": "TAG"}, ...]` (what a matrix's outputs collect into).
#[derive(Debug, Clone)]
pub struct SetsDocument {
    /// The file, or `stdin`.
    pub origin: String,
    /// Each service and its tag as written (checked by [`check`]).
    pub pairs: Vec<(String, String)>,
}

impl SetsDocument {
    /// The sets document of `-i FILE|-`, when given: read, and its shape checked.
    pub fn read(input: Option<&str>) -> Result<Option<SetsDocument>, BumpError> {
        let Some(spec) = input else {
            return Ok(None);
        };
        let source = Source::parse(spec);
        let doc = read_json(&source, "a sets document ({\"SERVICE\": \"TAG\", ...})")?;
        SetsDocument::parse(&doc, &source.origin()).map(Some)
    }

    /// Read the shape of a sets document; the tags themselves are checked with the flags.
    pub fn parse(doc: &Value, origin: &str) -> Result<SetsDocument, BumpError> {
        let pairs = match doc {
            Value::Object(map) => map
                .iter()
                .map(|(service, tag)| {
                    let tag = text(tag, &format!("the tag of {service:?}"), origin)?;
                    Ok((service.clone(), tag))
                })
                .collect::<Result<Vec<_>, BumpError>>()?,
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| array_entry(i, item, origin))
                .collect::<Result<Vec<_>, BumpError>>()?,
            other => {
                let found = rollout_core::doc::json_type(other);
                return Err(sets_invalid(
                    origin,
                    format!(
                        "expected an object of SERVICE: TAG or an array of {ENTRY}, found {found}"
                    ),
                ));
            }
        };
        if pairs.is_empty() {
            return Err(sets_invalid(origin, "names no service".into()));
        }
        Ok(SetsDocument {
            origin: origin.to_string(),
            pairs,
        })
    }
}

/// How an entry of the array form is written, for messages.
const ENTRY: &str = r#"{"service", "tag"}"#;

fn sets_invalid(origin: &str, message: String) -> BumpError {
    BumpError::SetsInvalid {
        origin: origin.to_string(),
        message,
    }
}

/// A service name or tag of a sets document: a non-empty string.
fn text(v: &Value, what: &str, origin: &str) -> Result<String, BumpError> {
    match v {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::String(_) => Err(sets_invalid(origin, format!("{what} is empty"))),
        other => Err(sets_invalid(
            origin,
            format!(
                "{what} must be a non-empty string, found {}",
                rollout_core::doc::json_type(other)
            ),
        )),
    }
}

/// Entry `i` of the array form: an object with exactly `service` and `tag`.
fn array_entry(i: usize, item: &Value, origin: &str) -> Result<(String, String), BumpError> {
    let Some(obj) = item.as_object() else {
        return Err(sets_invalid(
            origin,
            format!(r#"[{i}] must be an object {{"service": S, "tag": T}}"#),
        ));
    };
    if let Some(k) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "service" | "tag"))
    {
        return Err(sets_invalid(
            origin,
            format!(r#"[{i}] has {k:?}; an entry has only "service" and "tag""#),
        ));
    }
    let field = |k: &str| match obj.get(k) {
        Some(v) => text(v, &format!("[{i}].{k}"), origin),
        None => Err(sets_invalid(origin, format!("[{i}] has no {k:?}"))),
    };
    Ok((field("service")?, field("tag")?))
}

/// `--set SERVICE=TAG` pairs, then the sets document's; each tag checked, no service twice.
fn service_tags(
    sets: &[String],
    doc: Option<&SetsDocument>,
) -> Result<IndexMap<String, String>, BumpError> {
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
    for (service, tag) in doc.map_or(&[][..], |d| &d.pairs[..]) {
        let origin = doc.map_or("", |d| d.origin.as_str());
        let bad = |message: String| BumpError::SetsInvalid {
            origin: origin.to_string(),
            message: format!("service {service:?}: {message}"),
        };
        check_tag(tag).map_err(|m| bad(format!("tag {tag:?}: {m}")))?;
        if out.insert(service.clone(), tag.clone()).is_some() {
            return Err(bad("is given twice".into()));
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
