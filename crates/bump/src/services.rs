//! The services map: which file and which image a service's tag lives in.
//!
//! The format is the replaced procedure's, so existing maps keep working:
//!
//! ```json
//! {"services":    {"papi": {"imageGroup": "backend-services"}},
//!  "imageGroups": {"backend-services": {"file": "apps/backend-services/kustomization.yaml",
//!                                       "imageName": "backend-services",
//!                                       "type": "kustomize-images"}}}
//! ```
//!
//! Several services share an image group (one image, many deployments); bumping one bumps
//! the group, and the report lists every service of it. Group types add their own fields:
//! `yaml-path` needs `path` (and may give `digestPath` and `namePath`), `helm-image` needs
//! `path` (to the image: a mapping or one reference string), `flux-setter` may
//! give `policy` (else `imageName` names the policy), `argocd-helm` may give `path` and
//! `namePath` (the parameter names, default `image.tag` and `image.name`), `argocd-kustomize`
//! needs nothing more; any group may give `newName`, the image
//! name written with every tag (a promotion into another registry). The whole file is checked when read: a typo in a
//! group nobody bumps today is still a typo.

use indexmap::IndexMap;
use serde_json::Value;

use crate::error::BumpError;

/// How a group's tag is written in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The `images[]` entry of a kustomization whose `name` is the image.
    KustomizeImages,
    /// A value at a path (HelmRelease values, plain manifests).
    YamlPath {
        /// Where the tag is.
        path: Vec<Seg>,
        /// Where the digest is (default: a `digest` key next to the tag).
        digest_path: Option<Vec<Seg>>,
        /// Where the image name is, for a new name (default: a `repository` key next to
        /// the tag).
        name_path: Option<Vec<Seg>>,
    },
    /// A chart's image at a path, in any of the three layouts charts use: a mapping
    /// `{repository, tag[, digest]}`, a mapping with a separate `registry`, or one string
    /// `repo:tag[@digest]`.
    HelmImage {
        /// Where the image is (`.spec.values.image`).
        path: Vec<Seg>,
    },
    /// Argo CD Image Updater's git write-back for a Kustomize application: the
    /// `kustomize.images` strings (`[name=]newName:tag[@digest]`) of `.argocd-source-<app>.yaml`.
    ArgocdKustomize,
    /// Argo CD Image Updater's git write-back for a Helm application: the
    /// `helm.parameters` entries (`{name, value, forcestring}`) of `.argocd-source-<app>.yaml`.
    ArgocdHelm {
        /// The parameter holding the tag (`image.tag`).
        tag_param: String,
        /// The parameter holding the image name (`image.name`), for a new name.
        name_param: String,
    },
    /// Values marked `# {"$imagepolicy": "ns:name[:tag|:digest|:name]"}`.
    FluxSetter {
        /// The policy, `ns:name` or just `name`.
        policy: String,
    },
}

impl Target {
    /// The type name, as written in the services file and the report.
    pub fn type_name(&self) -> &'static str {
        match self {
            Target::KustomizeImages => "kustomize-images",
            Target::YamlPath { .. } => "yaml-path",
            Target::HelmImage { .. } => "helm-image",
            Target::ArgocdKustomize => "argocd-kustomize",
            Target::ArgocdHelm { .. } => "argocd-helm",
            Target::FluxSetter { .. } => "flux-setter",
        }
    }
}

/// The type names accepted in the services file and by `--type`.
pub const TYPES: [&str; 6] = [
    "kustomize-images",
    "yaml-path",
    "helm-image",
    "flux-setter",
    "argocd-kustomize",
    "argocd-helm",
];

/// One step of a yaml path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// Parse a path such as `.spec.values.image.tag`, `.containers[0].image` or
/// `."app.kubernetes.io/name"`.
pub fn parse_path(text: &str) -> Result<Vec<Seg>, String> {
    let mut segs = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    if b.is_empty() || b[0] != b'.' {
        return Err("a path starts with '.', as in .spec.values.image.tag".into());
    }
    while i < b.len() {
        match b[i] {
            b'.' if b.get(i + 1) == Some(&b'"') => {
                let rest = &text[i + 2..];
                let close = rest.find('"').ok_or("unclosed quoted key")?;
                segs.push(Seg::Key(rest[..close].to_string()));
                i += close + 3;
            }
            b'.' => {
                let rest = &text[i + 1..];
                let end = rest.find(['.', '[']).unwrap_or(rest.len());
                if end == 0 {
                    return Err("an empty key".into());
                }
                segs.push(Seg::Key(rest[..end].to_string()));
                i += end + 1;
            }
            b'[' => {
                let rest = &text[i + 1..];
                let close = rest.find(']').ok_or("unclosed '['")?;
                let n = rest[..close]
                    .parse::<usize>()
                    .map_err(|_| format!("[{}] is not an index", &rest[..close]))?;
                segs.push(Seg::Index(n));
                i += close + 2;
            }
            _ => return Err(format!("unexpected {:?} at {}", b[i] as char, i + 1)),
        }
    }
    if segs.is_empty() {
        return Err("the path names no key".into());
    }
    Ok(segs)
}

/// Write a path back in the form [`parse_path`] reads.
pub fn show_path(path: &[Seg]) -> String {
    path.iter()
        .map(|s| match s {
            Seg::Key(k) if !k.is_empty() && !k.contains(['.', '[', ']', '"', ' ']) => {
                format!(".{k}")
            }
            Seg::Key(k) => format!(".\"{k}\""),
            Seg::Index(n) => format!("[{n}]"),
        })
        .collect()
}

/// One image group: a file, an image, and how its tag is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The group's name.
    pub name: String,
    /// The file, relative to the repository root.
    pub file: String,
    /// The image name.
    pub image: String,
    /// How its tag is written.
    pub target: Target,
    /// The image name every bump of the group writes with the tag (`newName`: a promotion
    /// from a staging registry to a production one), when it changes.
    pub new_name: Option<String>,
}

/// The optional fields of a group, as a services entry or the command line gives them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fields<'a> {
    /// `type` (default `kustomize-images`).
    pub type_name: Option<&'a str>,
    /// `path` (yaml-path).
    pub path: Option<&'a str>,
    /// `digestPath` (yaml-path).
    pub digest_path: Option<&'a str>,
    /// `namePath` (yaml-path).
    pub name_path: Option<&'a str>,
    /// `policy` (flux-setter).
    pub policy: Option<&'a str>,
    /// `newName`: the image name to write with the tag.
    pub new_name: Option<&'a str>,
}

/// A parsed services file.
#[derive(Debug, Clone)]
pub struct ServicesMap {
    /// Where it came from (for messages).
    pub origin: String,
    /// service → its image group (None when the service has none).
    pub services: IndexMap<String, Option<String>>,
    /// The image groups.
    pub groups: IndexMap<String, Group>,
}

/// The groups a run touches, each with the services asked for through it.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The group.
    pub group: Group,
    /// Services named on the command line that map to it, in order.
    pub requested: Vec<String>,
    /// Every service of the group (the report's servicesAffected).
    pub affected: Vec<String>,
}

fn invalid(origin: &str, message: String) -> BumpError {
    BumpError::ServicesInvalid {
        file: origin.to_string(),
        message,
    }
}

fn string_field<'v>(
    origin: &str,
    obj: &'v serde_json::Map<String, Value>,
    at: &str,
    key: &str,
) -> Result<Option<&'v str>, BumpError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s)),
        Some(_) => Err(invalid(
            origin,
            format!("{at}.{key} must be a non-empty string"),
        )),
    }
}

/// Build a group from its fields (the services file's entry, or the `--file/--image/--type`
/// flags).
pub fn group(name: &str, file: &str, image: &str, f: &Fields) -> Result<Group, String> {
    let Fields {
        path,
        digest_path,
        name_path,
        policy,
        ..
    } = *f;
    let target = match f.type_name.unwrap_or("kustomize-images") {
        "kustomize-images" => Target::KustomizeImages,
        "yaml-path" => Target::YamlPath {
            path: parse_path(
                path.ok_or("type yaml-path needs a \"path\" such as .spec.values.image.tag")?,
            )
            .map_err(|m| format!("path: {m}"))?,
            digest_path: digest_path
                .map(parse_path)
                .transpose()
                .map_err(|m| format!("digestPath: {m}"))?,
            name_path: name_path
                .map(parse_path)
                .transpose()
                .map_err(|m| format!("namePath: {m}"))?,
        },
        "helm-image" => Target::HelmImage {
            path: parse_path(path.ok_or(
                "type helm-image needs a \"path\" to the image, such as .spec.values.image",
            )?)
            .map_err(|m| format!("path: {m}"))?,
        },
        "argocd-kustomize" => Target::ArgocdKustomize,
        "argocd-helm" => Target::ArgocdHelm {
            tag_param: path.unwrap_or("image.tag").to_string(),
            name_param: name_path.unwrap_or("image.name").to_string(),
        },
        "flux-setter" => Target::FluxSetter {
            policy: policy.unwrap_or(image).to_string(),
        },
        other => {
            return Err(format!(
                "unknown type {other:?}; one of {}",
                TYPES.join(", ")
            ));
        }
    };
    if file.trim().is_empty() {
        return Err("\"file\" must name the file to edit".into());
    }
    if name_path.is_some() && !matches!(target, Target::YamlPath { .. } | Target::ArgocdHelm { .. })
    {
        return Err("namePath is for types yaml-path and argocd-helm".into());
    }
    if let Some(n) = f.new_name {
        rollout_core::oci::check_name(n).map_err(|m| format!("newName: {m}"))?;
    }
    Ok(Group {
        name: name.to_string(),
        file: file.to_string(),
        image: image.to_string(),
        target,
        new_name: f.new_name.map(str::to_string),
    })
}

impl ServicesMap {
    /// Read a services map from its JSON value.
    pub fn parse(doc: &Value, origin: &str) -> Result<Self, BumpError> {
        let top = doc.as_object().ok_or_else(|| {
            invalid(
                origin,
                "must be an object with \"services\" and \"imageGroups\"".into(),
            )
        })?;
        let services_obj = match top.get("services") {
            Some(Value::Object(m)) => m,
            _ => {
                return Err(invalid(
                    origin,
                    "\"services\" must be an object of services".into(),
                ));
            }
        };
        let groups_obj = match top.get("imageGroups") {
            Some(Value::Object(m)) => m,
            _ => {
                return Err(invalid(
                    origin,
                    "\"imageGroups\" must be an object of image groups".into(),
                ));
            }
        };
        let mut services = IndexMap::new();
        for (name, v) in services_obj {
            let at = format!("services.{name}");
            let obj = v
                .as_object()
                .ok_or_else(|| invalid(origin, format!("{at} must be an object")))?;
            let g = string_field(origin, obj, &at, "imageGroup")?;
            services.insert(name.clone(), g.map(str::to_string));
        }
        let mut groups = IndexMap::new();
        for (name, v) in groups_obj {
            let at = format!("imageGroups.{name}");
            let obj = v
                .as_object()
                .ok_or_else(|| invalid(origin, format!("{at} must be an object")))?;
            let field = |key| string_field(origin, obj, &at, key);
            let file =
                field("file")?.ok_or_else(|| invalid(origin, format!("{at}.file is missing")))?;
            let image = field("imageName")?
                .ok_or_else(|| invalid(origin, format!("{at}.imageName is missing")))?;
            let fields = Fields {
                type_name: field("type")?,
                path: field("path")?,
                digest_path: field("digestPath")?,
                name_path: field("namePath")?,
                policy: field("policy")?,
                new_name: field("newName")?,
            };
            let g = group(name, file, image, &fields)
                .map_err(|m| invalid(origin, format!("{at}: {m}")))?;
            groups.insert(name.clone(), g);
        }
        Ok(ServicesMap {
            origin: origin.to_string(),
            services,
            groups,
        })
    }

    /// The groups the named services map to, in the order first named, with the services.
    pub fn resolve(&self, names: &[String]) -> Result<Vec<Resolved>, BumpError> {
        let mut out: IndexMap<String, Resolved> = IndexMap::new();
        for name in names {
            let group_name = match self.services.get(name) {
                None => {
                    return Err(BumpError::ServiceUnknown {
                        service: name.clone(),
                        file: self.origin.clone(),
                        known: self.services.keys().cloned().collect(),
                    });
                }
                Some(None) => {
                    return Err(BumpError::NoImageGroup {
                        service: name.clone(),
                        detail: "has no imageGroup".into(),
                        file: self.origin.clone(),
                    });
                }
                Some(Some(g)) => g,
            };
            let group = self
                .groups
                .get(group_name)
                .ok_or_else(|| BumpError::NoImageGroup {
                    service: name.clone(),
                    detail: format!(
                        "names imageGroup {group_name:?}, which is not under imageGroups"
                    ),
                    file: self.origin.clone(),
                })?;
            let entry = out.entry(group_name.clone()).or_insert_with(|| Resolved {
                group: group.clone(),
                requested: Vec::new(),
                affected: self
                    .services
                    .iter()
                    .filter(|(_, g)| g.as_deref() == Some(group_name.as_str()))
                    .map(|(s, _)| s.clone())
                    .collect(),
            });
            if !entry.requested.contains(name) {
                entry.requested.push(name.clone());
            }
        }
        Ok(out.into_values().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map() -> ServicesMap {
        ServicesMap::parse(
            &json!({
                "services": {"papi": {"imageGroup": "backend"}, "worker": {"imageGroup": "backend"},
                             "web": {"imageGroup": "web"}, "orphan": {}, "dangling": {"imageGroup": "nope"}},
                "imageGroups": {
                    "backend": {"file": "apps/backend/kustomization.yaml", "imageName": "backend"},
                    "web": {"file": "apps/web/release.yaml", "imageName": "web", "type": "yaml-path",
                            "path": ".spec.values.image.tag"}
                }
            }),
            "services.json",
        )
        .unwrap()
    }

    #[test]
    fn services_resolve_to_groups_once() {
        let r = map()
            .resolve(&["worker".into(), "web".into(), "papi".into()])
            .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].group.name, "backend");
        assert_eq!(r[0].requested, ["worker", "papi"]);
        assert_eq!(r[0].affected, ["papi", "worker"]);
        assert_eq!(r[1].group.target.type_name(), "yaml-path");
    }

    #[test]
    fn the_replaced_procedures_errors_are_kept() {
        let m = map();
        let e = m.resolve(&["nope".into()]).unwrap_err();
        assert!(e.to_string().contains("services.json"), "{e}");
        let e = m.resolve(&["orphan".into()]).unwrap_err();
        assert!(e.to_string().contains("has no imageGroup"), "{e}");
        let e = m.resolve(&["dangling".into()]).unwrap_err();
        assert!(e.to_string().contains("not under imageGroups"), "{e}");
    }

    #[test]
    fn groups_are_checked_when_read() {
        for bad in [
            json!({"services": {}, "imageGroups": {"g": {"imageName": "x"}}}),
            json!({"services": {}, "imageGroups": {"g": {"file": "f", "imageName": "x", "type": "helm"}}}),
            json!({"services": {}, "imageGroups": {"g": {"file": "f", "imageName": "x", "type": "yaml-path"}}}),
            json!({"services": [], "imageGroups": {}}),
        ] {
            assert!(ServicesMap::parse(&bad, "s").is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_parse_and_print() {
        let p = parse_path(".spec.values.image.tag").unwrap();
        assert_eq!(p.len(), 4);
        let p = parse_path(".spec.containers[0].\"app.io/x\"").unwrap();
        assert_eq!(
            p,
            vec![
                Seg::Key("spec".into()),
                Seg::Key("containers".into()),
                Seg::Index(0),
                Seg::Key("app.io/x".into())
            ]
        );
        assert_eq!(show_path(&p), ".spec.containers[0].\"app.io/x\"");
        for bad in ["spec", ".", ".a..b", ".a[x]", ".a[0"] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }
}
