//! The requests a reference takes, and those a tag listing takes.
//!
//! A reference: its manifest (by digest when one is given: that is the proof, by tag
//! otherwise), for an index the child of the report's platform, then the image config blob
//! for its labels. With both a tag and a digest, the tag is asked for too, so a tag that was
//! moved to other bytes since the digest was recorded shows (`retagged`). Every byte read
//! is hashed and compared ([`crate::manifest::prove`]).
//!
//! A listing: `tags/list` page by page (`?n=`, then the `Link: <…>; rel="next"` the
//! registry gives), on the registry's own host only, each page's URL at most once.

use rollout_core::oci::Digest;

use crate::client::{Answer, Client};
use crate::error::ResolveError;
use crate::manifest::{self, Child, Manifest, Proof};
use crate::reference::Reference;
use crate::report::{
    ConfigEntry, Image, PlatformEntry, SelectionEntry, TagEntry, TagsReport, VersionEntry,
};
use crate::tags::Selection;
use rollout_core::doc::{Kind, SCHEMA_VERSION};

/// The largest manifest read (the distribution server refuses larger ones: 4 MiB).
pub const MANIFEST_LIMIT: u64 = 4 << 20;
/// The largest image config read.
pub const CONFIG_LIMIT: u64 = 8 << 20;
/// The largest tag page read.
pub const PAGE_LIMIT: u64 = 16 << 20;
/// The most tag pages read.
pub const MAX_PAGES: usize = 10_000;

fn pull_scope(r: &Reference) -> String {
    format!("repository:{}:pull", r.repository)
}

fn registry_error(r: &Reference, message: String) -> ResolveError {
    ResolveError::Registry {
        host: r.api_host().to_string(),
        message,
    }
}

fn unexpected(r: &Reference, what: &str, a: &Answer) -> ResolveError {
    let code = a
        .error_code()
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    registry_error(r, format!("{what}: unexpected status {}{code}", a.status))
}

fn mismatch(what: String, p: Proof) -> ResolveError {
    match p {
        Proof::NotAsked { expected, actual } => ResolveError::DigestMismatch {
            what,
            expected: expected.to_string(),
            actual: actual.to_string(),
        },
        Proof::HeaderDiffers { header, actual } => ResolveError::DigestMismatch {
            what: format!("{what} (Docker-Content-Digest)"),
            expected: header,
            actual: actual.to_string(),
        },
    }
}

/// A manifest fetched and proven: its digest, media type, bytes.
struct Fetched {
    digest: Digest,
    media_type: String,
    size: u64,
    manifest: Manifest,
}

fn fetch_manifest(
    client: &Client<'_>,
    r: &Reference,
    reference_text: &str,
    key: &str,
    asked: Option<&Digest>,
) -> Result<Fetched, ResolveError> {
    let path = format!("/v2/{}/manifests/{key}", r.repository);
    let a = client.get(
        r.api_host(),
        &path,
        Some(&manifest::accept()),
        &pull_scope(r),
        MANIFEST_LIMIT,
    )?;
    if a.status == 404 {
        if a.error_code().as_deref() == Some("NAME_UNKNOWN") {
            return Err(ResolveError::RepositoryMissing {
                repository: r.name(),
            });
        }
        return Err(match asked {
            Some(d) => ResolveError::DigestMissing {
                reference: reference_text.to_string(),
                digest: d.to_string(),
                repository: r.name(),
            },
            None => ResolveError::TagMissing {
                reference: reference_text.to_string(),
                tag: key.to_string(),
                repository: r.name(),
            },
        });
    }
    if a.status != 200 {
        return Err(unexpected(r, &format!("manifest {key}"), &a));
    }
    let digest = manifest::prove(&a.body, asked, a.digest.as_deref())
        .map_err(|p| mismatch(format!("{}:{key}", r.name()), p))?;
    let media_type = manifest::media_type(&a.body, a.content_type.as_deref());
    let parsed = manifest::parse(&media_type, &a.body)
        .map_err(|m| registry_error(r, format!("manifest {key}: {m}")))?;
    Ok(Fetched {
        digest,
        media_type,
        size: a.body.len() as u64,
        manifest: parsed,
    })
}

fn fetch_config(
    client: &Client<'_>,
    r: &Reference,
    digest: &Digest,
    media_type: &str,
) -> Result<Option<ConfigEntry>, ResolveError> {
    if !manifest::CONFIG_TYPES.contains(&media_type) {
        return Ok(None);
    }
    let path = format!("/v2/{}/blobs/{digest}", r.repository);
    let a = client.get(r.api_host(), &path, None, &pull_scope(r), CONFIG_LIMIT)?;
    if a.status != 200 {
        return Err(unexpected(r, &format!("config blob {digest}"), &a));
    }
    manifest::prove(&a.body, Some(digest), None)
        .map_err(|p| mismatch(format!("{} config", r.name()), p))?;
    let c = manifest::parse_config(&a.body)
        .map_err(|m| registry_error(r, format!("config blob {digest}: {m}")))?;
    Ok(Some(ConfigEntry {
        digest: digest.to_string(),
        media_type: media_type.to_string(),
        platform: Some(c.platform),
        created: c.created,
        labels: c.labels,
    }))
}

fn entry(c: &Child) -> PlatformEntry {
    PlatformEntry {
        platform: c.platform(),
        digest: c.digest.to_string(),
        media_type: c.media_type.clone(),
        size: c.size,
    }
}

/// Which platform's config to read from an index, and whether it was asked for by name.
pub struct PlatformWant<'a> {
    /// `os/arch[/variant]`.
    pub platform: &'a str,
    /// Given with `--platform`: an index without it is refused.
    pub explicit: bool,
}

/// Resolve one reference.
pub fn image(
    client: &Client<'_>,
    text: &str,
    r: &Reference,
    want: &PlatformWant<'_>,
) -> Result<Image, ResolveError> {
    let top = fetch_manifest(client, r, text, &r.manifest_key(), r.digest.as_ref())?;
    let (platforms, selected, config) = match &top.manifest {
        Manifest::Index(children) => {
            let platforms: Vec<PlatformEntry> = children.iter().map(entry).collect();
            match manifest::select(children, want.platform) {
                Some(child) => {
                    let key = child.digest.to_string();
                    let inner = fetch_manifest(client, r, text, &key, Some(&child.digest))?;
                    let Manifest::Image {
                        config,
                        config_type,
                        ..
                    } = &inner.manifest
                    else {
                        return Err(registry_error(
                            r,
                            format!("the {} child {key} is an index itself", child.platform()),
                        ));
                    };
                    let cfg = fetch_config(client, r, config, config_type)?;
                    (platforms, Some(entry(child)), cfg)
                }
                None if want.explicit => {
                    return Err(ResolveError::PlatformMissing {
                        reference: text.to_string(),
                        platform: want.platform.to_string(),
                        available: children
                            .iter()
                            .map(Child::platform)
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                }
                None => (platforms, None, None),
            }
        }
        Manifest::Image {
            config,
            config_type,
            ..
        } => (
            Vec::new(),
            None,
            fetch_config(client, r, config, config_type)?,
        ),
    };
    let (tag_digest, retagged) = match (&r.tag, &r.digest) {
        (Some(tag), Some(_)) => {
            let now = fetch_manifest(client, r, text, tag, None)?;
            let moved = now.digest != top.digest;
            (Some(now.digest.to_string()), Some(moved))
        }
        _ => (None, None),
    };
    Ok(Image {
        reference: text.to_string(),
        name: r.name(),
        registry: r.registry.clone(),
        repository: r.repository.clone(),
        endpoint: r.api_host().to_string(),
        tag: r.tag.clone(),
        digest: top.digest.to_string(),
        pinned: r.pinned(&top.digest),
        media_type: top.media_type,
        size: top.size,
        platforms,
        selected,
        config,
        tag_digest,
        retagged,
    })
}

/// The digest a tag points at, proven.
pub fn tag_digest(client: &Client<'_>, r: &Reference, tag: &str) -> Result<Digest, ResolveError> {
    Ok(fetch_manifest(client, r, &format!("{}:{tag}", r.name()), tag, None)?.digest)
}

/// The next page's URL from a `Link` header: `<URL>; rel="next"`, relative or on the same
/// host; another host is refused.
pub fn next_page(link: &str, host: &str) -> Result<Option<String>, String> {
    for part in link.split(',') {
        let Some((target, params)) = part.trim().split_once(';') else {
            continue;
        };
        let is_next = params.split(';').any(|p| {
            p.trim()
                .replace(' ', "")
                .eq_ignore_ascii_case("rel=\"next\"")
                || p.trim().eq_ignore_ascii_case("rel=next")
        });
        if !is_next {
            continue;
        }
        let target = target.trim().trim_start_matches('<').trim_end_matches('>');
        if target.starts_with('/') {
            return Ok(Some(format!("https://{host}{target}")));
        }
        let u = url::Url::parse(target)
            .map_err(|_| format!("a Link target {target:?} that is not a URL"))?;
        let same = u.scheme() == "https"
            && u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            }) == Some(host.to_string());
        if !same {
            return Err(format!(
                "a Link to another host ({}), which is not followed",
                rollout_core::url::redact_userinfo(target)
            ));
        }
        return Ok(Some(u.to_string()));
    }
    Ok(None)
}

/// Every tag of a repository, and the number of pages read.
pub fn list_tags(
    client: &Client<'_>,
    r: &Reference,
    page_size: u32,
) -> Result<(Vec<String>, usize), ResolveError> {
    let host = r.api_host().to_string();
    let mut url = format!("https://{host}/v2/{}/tags/list?n={page_size}", r.repository);
    let mut seen = std::collections::HashSet::new();
    let mut tags = Vec::new();
    let mut pages = 0;
    loop {
        if !seen.insert(url.clone()) || pages >= MAX_PAGES {
            return Err(registry_error(
                r,
                format!("tag pages do not end ({pages} read, {url} again or too many)"),
            ));
        }
        let a = client.get(
            &host,
            &url,
            Some("application/json"),
            &pull_scope(r),
            PAGE_LIMIT,
        )?;
        pages += 1;
        if a.status == 404 {
            return Err(ResolveError::RepositoryMissing {
                repository: r.name(),
            });
        }
        if a.status != 200 {
            return Err(unexpected(r, "tags/list", &a));
        }
        let page: oci_spec::distribution::TagList =
            serde_json::from_slice(&a.body).map_err(|e| {
                registry_error(r, format!("tags/list page {pages}: not a tag list: {e}"))
            })?;
        tags.extend(page.tags().iter().cloned());
        match a.link.as_deref().map(|l| next_page(l, &host)).transpose() {
            Ok(Some(Some(next))) => url = next,
            Ok(_) => break,
            Err(m) => return Err(registry_error(r, m)),
        }
    }
    tags.sort();
    tags.dedup();
    Ok((tags, pages))
}

/// What a tag listing asks for beyond the tags.
pub struct TagsAsk {
    /// Tags per page.
    pub page_size: u32,
    /// Only the latest, its digest resolved.
    pub latest: bool,
    /// Every passing tag resolved (digest, created), and `versions` grouped by digest.
    pub digests: bool,
}

/// List, rank and resolve (the latest with `--latest`, all with `--digests`) the tags of `r`.
pub fn tags(
    client: &Client<'_>,
    r: &Reference,
    selection: &Selection,
    ask: &TagsAsk,
    listed_at: String,
    trace_id: String,
) -> Result<TagsReport, ResolveError> {
    let (all, pages) = list_tags(client, r, ask.page_size)?;
    let ranked = selection.rank(&all);
    let passed = ranked.len();
    let mut tags: Vec<TagEntry> = ranked
        .into_iter()
        .map(|t| TagEntry {
            tag: t.tag,
            key: t.key,
            digest: None,
            created: None,
        })
        .collect();
    if ask.latest {
        tags.truncate(1);
        if tags.is_empty() {
            return Err(ResolveError::NoTagSelected {
                repository: r.name(),
                total: all.len(),
                selection: selection.label.clone(),
            });
        }
    }
    if ask.latest || ask.digests {
        let want = PlatformWant {
            platform: "linux/amd64",
            explicit: false,
        };
        for t in &mut tags {
            let tagged = Reference {
                tag: Some(t.tag.clone()),
                ..r.clone()
            };
            let image = image(client, &format!("{}:{}", r.name(), t.tag), &tagged, &want)?;
            t.digest = Some(image.digest);
            t.created = image.config.and_then(|c| c.created);
        }
    }
    let versions = ask.digests.then(|| versions(&tags));
    Ok(TagsReport {
        schema_version: SCHEMA_VERSION.into(),
        kind: Kind::ImageTags,
        listed_at,
        trace_id,
        name: r.name(),
        selection: SelectionEntry {
            policy: selection.label.clone(),
            filter: selection.filter.as_ref().map(|f| f.as_str().to_string()),
            extract: selection.extract.clone(),
            order: if selection.ascending { "asc" } else { "desc" }.into(),
        },
        total: all.len(),
        pages,
        passed,
        latest: tags.first().cloned(),
        tags,
        versions,
    })
}

/// The resolved tags grouped by digest (one manifest, as a registry deletes it), newest
/// first, then by digest; each version's tags sorted.
fn versions(tags: &[TagEntry]) -> Vec<VersionEntry> {
    let mut by_digest: std::collections::BTreeMap<&str, VersionEntry> = Default::default();
    for t in tags {
        let Some(d) = t.digest.as_deref() else {
            continue;
        };
        let v = by_digest.entry(d).or_insert_with(|| VersionEntry {
            id: d.to_string(),
            digest: d.to_string(),
            created_at: t.created.clone(),
            tags: Vec::new(),
        });
        v.tags.push(t.tag.clone());
    }
    let mut out: Vec<VersionEntry> = by_digest.into_values().collect();
    for v in &mut out {
        v.tags.sort();
    }
    out.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| a.digest.cmp(&b.digest))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_stay_on_the_registry() {
        let h = "127.0.0.1:5000";
        assert_eq!(
            next_page(r#"</v2/org/many/tags/list?last=1.0.9&n=10>; rel="next""#, h)
                .unwrap()
                .as_deref(),
            Some("https://127.0.0.1:5000/v2/org/many/tags/list?last=1.0.9&n=10")
        );
        assert_eq!(
            next_page(
                r#"<https://127.0.0.1:5000/v2/a/tags/list?last=x>; rel=next"#,
                h
            )
            .unwrap()
            .as_deref(),
            Some("https://127.0.0.1:5000/v2/a/tags/list?last=x")
        );
        assert!(
            next_page(r#"<https://evil.example/v2/a/tags/list>; rel="next""#, h)
                .unwrap_err()
                .contains("another host")
        );
        assert!(next_page(r#"<http://127.0.0.1:5000/v2/a>; rel="next""#, h).is_err());
        assert_eq!(next_page(r#"</v2/a>; rel="prev""#, h).unwrap(), None);
    }
}
