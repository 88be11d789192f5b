//! Which files and values a run edits: the services map's image groups for `--service` or
//! `--set`, one `--file` with `--image`, or every file under `--path` marked for a Flux
//! setter policy; and with `--set`, each group's tag.

use std::path::Path;

use indexmap::IndexMap;
use rollout_core::CoreError;
use rollout_core::input::{MAX_DOCUMENT_BYTES, Source, as_text, parse_json, read_bytes};

use crate::error::BumpError;
use crate::paths::inside;
use crate::request::Request;
use crate::services::{Resolved, ServicesMap, group};
use rollout_core::bad_value;

/// The services file read when `--services` is not given, relative to the repository root.
pub const DEFAULT_SERVICES: &str = "services.json";

/// The flags that choose what a run edits, as given.
#[derive(Debug, Clone)]
pub struct Selection<'a> {
    /// `--file`.
    pub file: Option<&'a str>,
    /// `--image`.
    pub image: Option<&'a str>,
    /// `--type`.
    pub type_name: &'a str,
    /// `--path`, in order.
    pub path: &'a [String],
    /// `--digest-path`.
    pub digest_path: Option<&'a str>,
    /// `--name-path`.
    pub name_path: Option<&'a str>,
    /// `--services`.
    pub services: Option<&'a Path>,
    /// The services asked for: `--service`, or the services of `--set`.
    pub services_named: Vec<String>,
}

fn load_services(services: Option<&Path>, root: &Path) -> Result<ServicesMap, BumpError> {
    let (path, origin) = match services {
        Some(p) => (p.to_path_buf(), p.display().to_string()),
        None => (root.join(DEFAULT_SERVICES), DEFAULT_SERVICES.to_string()),
    };
    if !path.exists() {
        return Err(BumpError::ServicesInvalid {
            file: origin,
            message: "no such file (give --services FILE, or --file PATH --image NAME)".into(),
        });
    }
    let src = Source::parse(&path.display().to_string());
    let bytes = read_bytes(&src, "a services map", MAX_DOCUMENT_BYTES)?;
    let doc = if path.extension().is_some_and(|e| e == "json") {
        parse_json(&bytes, &origin)?
    } else {
        rollout_core::yaml::parse_yaml(as_text(&bytes, &origin)?, &origin)?
    };
    ServicesMap::parse(&doc, &origin)
}

/// A flux-setter tree with no value marked for the policy.
pub fn no_marked_value(policy: &str, paths: &[String]) -> BumpError {
    BumpError::EntryNotFound {
        file: if paths.is_empty() {
            "the repository".into()
        } else {
            paths.join(", ")
        },
        what: format!(r#"a value marked {{"$imagepolicy": "{policy}"}} (or :tag)"#),
        hint: "check --image (ns:policy) and --path; files are found by their marker comments"
            .into(),
    }
}

/// Where a run's groups come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The services map.
    Services,
    /// `--file` and `--image`.
    File,
    /// Every file under `--path` marked for the `--image` policy (flux-setter tree mode).
    Tree,
}

/// The groups this run edits, and where they come from.
pub fn targets(sel: &Selection<'_>, root: &Path) -> Result<(Vec<Resolved>, Origin), BumpError> {
    if sel.file.is_none()
        && let Some(policy) = sel.image
    {
        if sel.type_name != "flux-setter" {
            return Err(bad_value(
                "--image",
                policy,
                "without --file, --image names the policy of a flux-setter tree (--type flux-setter)",
            ));
        }
        let files = crate::tree::marked_files(root, sel.path, policy, |d| inside(root, d))?;
        if files.is_empty() {
            return Err(no_marked_value(policy, sel.path));
        }
        let groups = files
            .iter()
            .map(|f| {
                let fields = crate::services::Fields {
                    type_name: Some("flux-setter"),
                    ..Default::default()
                };
                group("", f, policy, &fields).map(|group| Resolved {
                    group,
                    requested: Vec::new(),
                    affected: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>, String>>()
            .map_err(|m| CoreError::bad_value("--image", policy, m))?;
        return Ok((groups, Origin::Tree));
    }
    if sel.file.is_none() && !sel.path.is_empty() {
        return Err(bad_value(
            "--path",
            &sel.path[0],
            "needs --file (a yaml path) or --type flux-setter --image POLICY (a directory)",
        ));
    }
    if let Some(file) = sel.file {
        let image = sel.image.ok_or_else(|| {
            CoreError::bad_value(
                "--file",
                file,
                "needs --image NAME (the image, or the setter policy)",
            )
        })?;
        if sel.path.len() > 1 {
            return Err(bad_value(
                "--path",
                &sel.path[1],
                "given twice; a file has one path",
            ));
        }
        let fields = crate::services::Fields {
            type_name: Some(sel.type_name),
            path: sel.path.first().map(String::as_str),
            digest_path: sel.digest_path,
            name_path: sel.name_path,
            ..Default::default()
        };
        let g = group("", file, image, &fields)
            .map_err(|m| CoreError::bad_value("--type", sel.type_name, m))?;
        return Ok((
            vec![Resolved {
                group: g,
                requested: Vec::new(),
                affected: Vec::new(),
            }],
            Origin::File,
        ));
    }
    let map = load_services(sel.services, root)?;
    Ok((map.resolve(&sel.services_named)?, Origin::Services))
}

/// With --set: the tag of each image group, from its requested services; two services of
/// one group with different tags cannot both be right.
pub fn group_tags(
    resolved: &[Resolved],
    request: &Request,
) -> Result<IndexMap<String, String>, BumpError> {
    let mut out = IndexMap::new();
    if request.service_tags.is_empty() {
        return Ok(out);
    }
    for r in resolved {
        let mut tags = r
            .requested
            .iter()
            .filter_map(|s| request.service_tags.get(s).map(|t| (s, t)));
        let Some((first_service, tag)) = tags.next() else {
            continue;
        };
        if let Some((other, t)) = tags.find(|(_, t)| *t != tag) {
            return Err(bad_value(
                "--set",
                format!("{other}={t}"),
                format!(
                    "{first_service} and {other} share image group {:?}, which takes one tag ({first_service}={tag})",
                    r.group.name
                ),
            ));
        }
        out.insert(r.group.name.clone(), tag.clone());
    }
    Ok(out)
}
