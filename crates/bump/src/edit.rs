//! Find an image's tag in a YAML text and set it, changing only the tag (and digest) bytes.
//!
//! This is the pure heart of tag-bump: text in, text out, no I/O. Three ways a tag is
//! written are understood ([`Target`]): a kustomization's `images[]` entry, a value at a
//! path (HelmRelease values), and values marked with Flux setter comments. For each, the
//! sites are located in the span tree, the current values checked (`--expect-current`, a
//! digest that would shadow the new tag), the scalars replaced in their own style, and
//! missing keys or entries inserted in the file's own indentation and line endings.
//!
//! Nothing is trusted: the new text is parsed again and compared with the old document,
//! which must differ in exactly the intended values ([`yamledit::check_only_changed`]).

use rollout_core::yamledit::{self, Edit, after_line, line_ending, line_start, render};
use rollout_core::yamlspan::{Node, Scalar, parse_documents};
use saphyr_parser::ScalarStyle;
use serde_json::{Value, json};

use crate::error::BumpError;
use crate::services::{Group, Seg, Target, show_path};

/// What to write.
#[derive(Debug, Clone)]
pub struct Want<'a> {
    /// The new tag.
    pub tag: &'a str,
    /// The new digest, when given.
    pub digest: Option<&'a str>,
    /// The new image name (`--name`, a group's `newName`), when it changes with the tag.
    pub name: Option<&'a str>,
    /// Compare-and-swap: the tag that must be there now.
    pub expect_current: Option<&'a str>,
    /// Insert the entry or key when it is missing.
    pub create: bool,
}

/// What a bump did to one file for one group.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The new text (the old one when nothing changed).
    pub text: String,
    /// The tag before (None when the entry or key was created).
    pub old_tag: Option<String>,
    /// The digest before, if any.
    pub old_digest: Option<String>,
    /// The image name before, where the file writes one and a new name was asked for.
    pub old_name: Option<String>,
    /// Whether the text changed.
    pub changed: bool,
    /// Whether an entry or key was inserted.
    pub created: bool,
    /// How many places hold the tag.
    pub sites: usize,
}

/// A value to set: where it is now, or where to insert it.
#[derive(Debug, Clone)]
enum Slot<'n> {
    /// An existing scalar.
    At(&'n Scalar),
    /// A key to add to a mapping.
    NewKey { map: &'n Node, key: String },
}

/// One place of a tag (and maybe a digest) in the file.
#[derive(Debug)]
struct Site<'n> {
    doc: usize,
    /// JSON pointer of the tag value within its document.
    pointer: String,
    tag: Slot<'n>,
    /// How the tag is written in the value.
    form: Form,
    /// The digest beside it: pointer and slot.
    digest: Option<(String, Slot<'n>)>,
    /// The image name beside it (kustomize `newName`, a chart's `repository`), only when a
    /// new name is asked for.
    name: Option<(String, Slot<'n>)>,
    /// The registry beside the name, for charts that write it apart
    /// (`image: {registry, repository, tag}`), only when a new name is asked for.
    registry: Option<(String, Slot<'n>)>,
}

/// How a value holds the tag.
#[derive(Debug, Clone, PartialEq)]
enum Form {
    /// The value is the tag.
    Tag,
    /// `tag@digest` in one value (kustomize `newTag: v1@sha256:…`).
    TagAtDigest,
    /// A whole reference `name:tag[@digest]` (Flux setter without a field).
    Reference,
    /// The value is the digest only (a Flux `:digest` setter).
    DigestOnly,
    /// The value is the image name only (a Flux `:name` setter).
    NameOnly,
    /// An Argo CD kustomize image override `[name=]newName[:tag][@digest]`.
    ArgoImage,
}

impl Form {
    /// Whether the value holds the tag (the others ride along with a tag site).
    fn holds_tag(&self) -> bool {
        !matches!(self, Form::DigestOnly | Form::NameOnly)
    }
}

/// An entry to append to a sequence (or a new `images:` key holding it).
#[derive(Debug)]
struct NewEntry<'n> {
    doc: usize,
    /// Where the images list lives in the document: "" (kustomize), "/spec" (Flux).
    prefix: &'static str,
    /// The `images` sequence, or None to add `images:` to the document.
    seq: Option<&'n Node>,
    root: &'n Node,
    index: usize,
    fields: Vec<(&'static str, String)>,
}

fn uneditable(file: &str, message: impl Into<String>) -> BumpError {
    BumpError::Uneditable {
        file: file.to_string(),
        message: message.into(),
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Split a reference `name[:tag][@digest]` (the tag's colon is after the last slash).
fn split_reference(r: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match r.split_once('@') {
        Some((a, d)) => (a, Some(d)),
        None => (r, None),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..]), digest),
        None => (rest, None, digest),
    }
}

/// An Argo CD kustomize override split into the image it replaces (when it says) and the
/// reference it sets: `old=new:tag` or `new:tag`.
fn argo_ref(value: &str) -> (Option<&str>, &str) {
    match value.split_once('=') {
        Some((old, new)) => (Some(old), new),
        None => (None, value),
    }
}

/// An entry to append to an existing block sequence: its lines and its JSON value.
#[derive(Debug)]
struct Append<'n> {
    doc: usize,
    seq: &'n Node,
    /// JSON pointer of the new item.
    pointer: String,
    /// The item's lines (the first after the dash).
    lines: Vec<String>,
    value: Value,
}

/// The tag and digest a value holds, by form.
fn read_value(value: &str, form: &Form) -> (Option<String>, Option<String>) {
    match form {
        Form::Tag => (Some(value.to_string()), None),
        Form::TagAtDigest => match value.split_once('@') {
            Some((t, d)) => (Some(t.to_string()), Some(d.to_string())),
            None => (Some(value.to_string()), None),
        },
        Form::Reference => {
            let (_, t, d) = split_reference(value);
            (t.map(str::to_string), d.map(str::to_string))
        }
        Form::DigestOnly => (None, Some(value.to_string())),
        Form::NameOnly => (None, None),
        Form::ArgoImage => {
            let (_, t, d) = split_reference(argo_ref(value).1);
            (t.map(str::to_string), d.map(str::to_string))
        }
    }
}

/// The documents an images entry is looked for in: the Kustomizations, or every document
/// when none says `kind: Kustomization` (many omit it).
fn kustomizations(docs: &[Node]) -> Vec<usize> {
    let marked: Vec<usize> = docs
        .iter()
        .enumerate()
        .filter(|(_, d)| {
            d.get_str("kind")
                .is_some_and(|k| k.value == "Kustomization")
        })
        .map(|(i, _)| i)
        .collect();
    if marked.is_empty() {
        (0..docs.len()).collect()
    } else {
        marked
    }
}

/// The mapping that holds a document's `images` list, and its JSON pointer: the document
/// itself for a kustomize Kustomization, its `spec` for a Flux one
/// (`kustomize.toolkit.fluxcd.io`), which takes the same `images[]` entries there.
fn images_holder(doc: &Node) -> (&Node, &'static str) {
    let flux = doc
        .get_str("apiVersion")
        .is_some_and(|v| v.value.starts_with("kustomize.toolkit.fluxcd.io/"));
    match doc.get("spec") {
        Some(spec @ Node::Map(..)) if flux => (spec, "/spec"),
        _ => (doc, ""),
    }
}

/// Locate the sites of a kustomize-images group.
fn kustomize_sites<'n>(
    docs: &'n [Node],
    file: &str,
    image: &str,
    want: &Want,
) -> Result<(Vec<Site<'n>>, Option<NewEntry<'n>>), BumpError> {
    let mut sites = Vec::new();
    let mut names = Vec::new();
    let candidates = kustomizations(docs);
    for &d in &candidates {
        let (holder, prefix) = images_holder(&docs[d]);
        let Some(images) = holder.get("images") else {
            continue;
        };
        let Node::Seq(items, _) = images else {
            if matches!(images, Node::Scalar(s) if s.value.is_empty()) {
                continue;
            }
            return Err(uneditable(file, "images is not a sequence"));
        };
        let mut found = None;
        for (i, item) in items.iter().enumerate() {
            let name = item.get_str("name").map(|s| s.value.as_str());
            if let Some(n) = name {
                names.push(n.to_string());
            }
            if name != Some(image) {
                continue;
            }
            if found.replace(i).is_some() {
                return Err(uneditable(
                    file,
                    format!(
                        "images lists {image:?} twice; kustomize applies both entries, so which tag an image gets depends on their order: merge them by hand"
                    ),
                ));
            }
            sites.push(kustomize_site(item, i, d, prefix, file, want)?);
        }
    }
    if !sites.is_empty() {
        return Ok((sites, None));
    }
    kustomize_new_entry(docs, &candidates, file, image, want, &names)
}

/// The site of one kustomize images entry (`images[i]` of document `d`).
fn kustomize_site<'n>(
    item: &'n Node,
    i: usize,
    d: usize,
    prefix: &str,
    file: &str,
    want: &Want,
) -> Result<Site<'n>, BumpError> {
    let base = format!("{prefix}/images/{i}");
    let (tag, form) = match item.get("newTag") {
        Some(Node::Scalar(s)) if s.value.contains('@') => (Slot::At(s), Form::TagAtDigest),
        Some(Node::Scalar(s)) => (Slot::At(s), Form::Tag),
        Some(_) => {
            return Err(uneditable(
                file,
                format!("images[{i}].newTag is not a scalar"),
            ));
        }
        None => (
            Slot::NewKey {
                map: item,
                key: "newTag".into(),
            },
            Form::Tag,
        ),
    };
    let digest = match item.get("digest") {
        Some(Node::Scalar(s)) => Some((format!("{base}/digest"), Slot::At(s))),
        Some(_) => {
            return Err(uneditable(
                file,
                format!("images[{i}].digest is not a scalar"),
            ));
        }
        None if want.digest.is_some() && form == Form::Tag => Some((
            format!("{base}/digest"),
            Slot::NewKey {
                map: item,
                key: "digest".into(),
            },
        )),
        None => None,
    };
    if !matches!(item, Node::Map(..)) {
        return Err(uneditable(file, format!("images[{i}] is not a mapping")));
    }
    let name = match (want.name, item.get("newName")) {
        (None, _) => None,
        (Some(_), Some(Node::Scalar(s))) => Some((format!("{base}/newName"), Slot::At(s))),
        (Some(_), Some(_)) => {
            return Err(uneditable(
                file,
                format!("images[{i}].newName is not a scalar"),
            ));
        }
        (Some(_), None) => Some((
            format!("{base}/newName"),
            Slot::NewKey {
                map: item,
                key: "newName".into(),
            },
        )),
    };
    Ok(Site {
        doc: d,
        pointer: format!("{base}/newTag"),
        tag,
        form,
        digest,
        name,
        registry: None,
    })
}

/// No entry names the image: without `--create` that is an error listing what the file
/// has; with it, the entry to insert into the first kustomization that is a mapping.
fn kustomize_new_entry<'n>(
    docs: &'n [Node],
    candidates: &[usize],
    file: &str,
    image: &str,
    want: &Want,
    names: &[String],
) -> Result<(Vec<Site<'n>>, Option<NewEntry<'n>>), BumpError> {
    if !want.create {
        let have = if names.is_empty() {
            "it has no images entries".to_string()
        } else {
            format!("it has: {}", names.join(", "))
        };
        return Err(BumpError::EntryNotFound {
            file: file.to_string(),
            what: format!("images entry with name {image:?}"),
            hint: format!("{have}; check imageName, or pass --create to add the entry"),
        });
    }
    let Some(&d) = candidates
        .iter()
        .find(|&&d| matches!(docs[d], Node::Map(..)))
    else {
        return Err(uneditable(
            file,
            "no document is a mapping; cannot add images",
        ));
    };
    let (holder, prefix) = images_holder(&docs[d]);
    let seq = holder.get("images").filter(|n| matches!(n, Node::Seq(..)));
    let index = match seq {
        Some(Node::Seq(items, _)) => items.len(),
        _ => 0,
    };
    let mut fields = vec![("name", image.to_string())];
    if let Some(n) = want.name {
        fields.push(("newName", n.to_string()));
    }
    fields.push(("newTag", want.tag.to_string()));
    if let Some(dg) = want.digest {
        fields.push(("digest", dg.to_string()));
    }
    Ok((
        Vec::new(),
        Some(NewEntry {
            doc: d,
            prefix,
            seq,
            root: holder,
            index,
            fields,
        }),
    ))
}

/// Follow a path; returns the node, or the deepest mapping and the missing last key.
fn follow<'n>(
    root: &'n Node,
    path: &[Seg],
) -> (Option<&'n Node>, Option<(&'n Node, String)>, String) {
    let mut node = root;
    let mut pointer = String::new();
    for (i, seg) in path.iter().enumerate() {
        let next = match (seg, node) {
            (Seg::Key(k), Node::Map(..)) => {
                pointer.push_str(&format!("/{}", escape(k)));
                node.get(k)
            }
            (Seg::Index(n), Node::Seq(items, _)) => {
                pointer.push_str(&format!("/{n}"));
                items.get(*n)
            }
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => {
                let parent = (i + 1 == path.len())
                    .then_some(())
                    .and(matches!(node, Node::Map(..)).then_some(()))
                    .and(match seg {
                        Seg::Key(k) => Some((node, k.clone())),
                        Seg::Index(_) => None,
                    });
                return (None, parent, pointer);
            }
        }
    }
    (Some(node), None, pointer)
}

fn yaml_path_sites<'n>(
    docs: &'n [Node],
    file: &str,
    path: &[Seg],
    digest_path: Option<&[Seg]>,
    name_path: Option<&[Seg]>,
    want: &Want,
) -> Result<Vec<Site<'n>>, BumpError> {
    let default_digest: Vec<Seg>;
    let digest_path = match digest_path {
        Some(p) => p,
        None => {
            let mut p = path[..path.len() - 1].to_vec();
            p.push(Seg::Key("digest".into()));
            default_digest = p;
            &default_digest
        }
    };
    let mut sites = Vec::new();
    let mut insertable = None;
    for (d, doc) in docs.iter().enumerate() {
        let (node, parent, pointer) = follow(doc, path);
        let tag = match (node, parent) {
            (Some(Node::Scalar(s)), _) => Slot::At(s),
            (Some(_), _) => {
                return Err(uneditable(
                    file,
                    format!("{} is not a scalar", show_path(path)),
                ));
            }
            (None, Some((map, key))) => {
                if insertable.is_none() {
                    insertable = Some((d, pointer, Slot::NewKey { map, key }));
                }
                continue;
            }
            (None, None) => continue,
        };
        sites.push(Site {
            doc: d,
            pointer,
            tag,
            form: Form::Tag,
            digest: digest_site(doc, digest_path, file, want)?,
            name: name_site(doc, path, name_path, file, want)?,
            registry: None,
        });
    }
    if sites.is_empty() {
        match insertable {
            Some((d, pointer, slot)) if want.create => sites.push(Site {
                doc: d,
                pointer,
                tag: slot,
                form: Form::Tag,
                digest: digest_site(&docs[d], digest_path, file, want)?,
                name: name_site(&docs[d], path, name_path, file, want)?,
                registry: None,
            }),
            _ => {
                return Err(BumpError::EntryNotFound {
                    file: file.to_string(),
                    what: format!("path {}", show_path(path)),
                    hint: if insertable.is_some() {
                        "pass --create to add the last key".into()
                    } else {
                        "check the group's \"path\"; --create adds only the last key of a path whose parent exists".into()
                    },
                });
            }
        }
    }
    Ok(sites)
}

fn digest_site<'n>(
    doc: &'n Node,
    path: &[Seg],
    file: &str,
    want: &Want,
) -> Result<Option<(String, Slot<'n>)>, BumpError> {
    let (node, parent, pointer) = follow(doc, path);
    Ok(match (node, parent) {
        (Some(Node::Scalar(s)), _) => Some((pointer, Slot::At(s))),
        (Some(_), _) => {
            return Err(uneditable(
                file,
                format!("{} is not a scalar", show_path(path)),
            ));
        }
        (None, Some((map, key))) if want.digest.is_some() => {
            Some((pointer, Slot::NewKey { map, key }))
        }
        (None, _) if want.digest.is_some() => {
            return Err(BumpError::EntryNotFound {
                file: file.to_string(),
                what: format!("digest path {}", show_path(path)),
                hint: "give the group a \"digestPath\" whose parent exists".into(),
            });
        }
        (None, _) => None,
    })
}

/// Where a yaml-path group's image name is, when a new name is asked for: `namePath`, else a
/// `repository` key next to the tag (`image: {repository, tag}`, the common chart layout).
/// A `namePath` whose last key is missing is added; a missing default is an error, since a
/// chart that names its image another way would get a key it never reads.
fn name_site<'n>(
    doc: &'n Node,
    tag_path: &[Seg],
    name_path: Option<&[Seg]>,
    file: &str,
    want: &Want,
) -> Result<Option<(String, Slot<'n>)>, BumpError> {
    if want.name.is_none() {
        return Ok(None);
    }
    let default: Vec<Seg>;
    let path = match name_path {
        Some(p) => p,
        None => {
            let mut p = tag_path[..tag_path.len() - 1].to_vec();
            p.push(Seg::Key("repository".into()));
            default = p;
            &default
        }
    };
    let (node, parent, pointer) = follow(doc, path);
    match (node, parent) {
        (Some(Node::Scalar(s)), _) => Ok(Some((pointer, Slot::At(s)))),
        (Some(_), _) => Err(uneditable(
            file,
            format!("{} is not a scalar", show_path(path)),
        )),
        (None, Some((map, key))) if name_path.is_some() => {
            Ok(Some((pointer, Slot::NewKey { map, key })))
        }
        _ => Err(BumpError::EntryNotFound {
            file: file.to_string(),
            what: format!("image name at {}", show_path(path)),
            hint: "give the group a \"namePath\" (the key that holds the image's repository)"
                .into(),
        }),
    }
}

/// The sites of a helm-image group: at `path` in each document, a reference string (only
/// its tag, digest and name bytes change), or a mapping with `tag`, `digest`, `repository`
/// and maybe `registry` keys.
fn helm_image_sites<'n>(
    docs: &'n [Node],
    file: &str,
    path: &[Seg],
    want: &Want,
) -> Result<Vec<Site<'n>>, BumpError> {
    let mut sites = Vec::new();
    for (d, doc) in docs.iter().enumerate() {
        let (node, _, pointer) = follow(doc, path);
        let site = match node {
            None => continue,
            Some(Node::Scalar(_)) if matches!(path.last(), Some(Seg::Key(k)) if k == "tag") => {
                return Err(uneditable(
                    file,
                    format!(
                        "{} is the tag; a helm-image path names the image (its parent), or use type yaml-path",
                        show_path(path)
                    ),
                ));
            }
            Some(Node::Scalar(s)) => {
                if s.value.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(uneditable(
                        file,
                        format!(
                            "{} is not an image reference (it holds whitespace): {:?}",
                            show_path(path),
                            s.value
                        ),
                    ));
                }
                Site {
                    doc: d,
                    pointer,
                    tag: Slot::At(s),
                    form: Form::Reference,
                    digest: None,
                    name: None,
                    registry: None,
                }
            }
            Some(map @ Node::Map(..)) => helm_map_site(map, d, &pointer, file, path, want)?,
            Some(_) => {
                return Err(uneditable(
                    file,
                    format!(
                        "{} is neither an image reference nor a mapping",
                        show_path(path)
                    ),
                ));
            }
        };
        sites.push(site);
    }
    if sites.is_empty() {
        return Err(BumpError::EntryNotFound {
            file: file.to_string(),
            what: format!("image at {}", show_path(path)),
            hint:
                "check the group's \"path\": it names the image (.spec.values.image), not its tag"
                    .into(),
        });
    }
    Ok(sites)
}

/// The `kustomize.images` (or `helm.parameters`) sequence of an Argo CD source file.
fn argo_seq<'n>(doc: &'n Node, section: &str, key: &str) -> Option<&'n Node> {
    doc.get(section)
        .and_then(|n| n.get(key))
        .filter(|n| matches!(n, Node::Seq(..)))
}

/// The sites of an argocd-kustomize group: the `kustomize.images` override of the image
/// (the name before `=`, else the reference's name), or the item to append with --create.
fn argocd_kustomize_sites<'n>(
    docs: &'n [Node],
    file: &str,
    image: &str,
    want: &Want,
) -> Result<(Vec<Site<'n>>, Option<Append<'n>>), BumpError> {
    let mut sites = Vec::new();
    let mut have = Vec::new();
    let mut first_seq = None;
    for (d, doc) in docs.iter().enumerate() {
        let Some(seq @ Node::Seq(items, _)) = argo_seq(doc, "kustomize", "images") else {
            continue;
        };
        first_seq.get_or_insert((d, seq, items.len()));
        for (i, item) in items.iter().enumerate() {
            let Node::Scalar(s) = item else {
                return Err(uneditable(
                    file,
                    format!("kustomize.images[{i}] is not a string"),
                ));
            };
            let (old, new) = argo_ref(&s.value);
            let name = old.unwrap_or_else(|| split_reference(new).0);
            have.push(name.to_string());
            if name != image {
                continue;
            }
            if !sites.is_empty() {
                return Err(uneditable(
                    file,
                    format!("kustomize.images lists {image:?} twice: merge them by hand"),
                ));
            }
            sites.push(Site {
                doc: d,
                pointer: format!("/kustomize/images/{i}"),
                tag: Slot::At(s),
                form: Form::ArgoImage,
                digest: None,
                name: None,
                registry: None,
            });
        }
    }
    if !sites.is_empty() {
        return Ok((sites, None));
    }
    match first_seq {
        Some((doc, seq, index)) if want.create => {
            let value = argo_value(image, None, want);
            Ok((
                Vec::new(),
                Some(Append {
                    doc,
                    seq,
                    pointer: format!("/kustomize/images/{index}"),
                    lines: vec![render(ScalarStyle::Plain, &value)],
                    value: Value::String(value),
                }),
            ))
        }
        _ => Err(BumpError::EntryNotFound {
            file: file.to_string(),
            what: format!("kustomize.images override of {image:?}"),
            hint: if have.is_empty() {
                "the file has no kustomize.images list; --create writes a new file, but not into one that has other content".into()
            } else {
                format!("it has: {}; pass --create to add one", have.join(", "))
            },
        }),
    }
}

/// The override string Argo CD reads for `image`: `new:tag[@digest]`, with `image=` in front
/// when the name changes (`current` is the override there now, if any).
fn argo_value(image: &str, current: Option<&str>, want: &Want) -> String {
    let (old, new) = current.map_or((None, image), argo_ref);
    let (name_now, _, _) = split_reference(new);
    let name = want.name.unwrap_or(name_now);
    let mut out = String::new();
    match old {
        Some(o) => out.push_str(&format!("{o}=")),
        None if name != image => out.push_str(&format!("{image}=")),
        None => {}
    }
    out.push_str(&format!("{name}:{}", want.tag));
    if let Some(d) = want.digest {
        out.push_str(&format!("@{d}"));
    }
    out
}

/// The sites of an argocd-helm group: the `helm.parameters` entry named `tag_param` (its
/// value is the tag, `tag@digest` with a digest) and, for a new name, the one named
/// `name_param`; with --create a missing tag parameter is appended.
fn argocd_helm_sites<'n>(
    docs: &'n [Node],
    file: &str,
    tag_param: &str,
    name_param: &str,
    want: &Want,
) -> Result<(Vec<Site<'n>>, Option<Append<'n>>), BumpError> {
    let mut sites = Vec::new();
    let mut first_seq = None;
    for (d, doc) in docs.iter().enumerate() {
        let Some(seq @ Node::Seq(items, _)) = argo_seq(doc, "helm", "parameters") else {
            continue;
        };
        first_seq.get_or_insert((d, seq, items.len()));
        let find = |param: &str| -> Result<Option<(String, &'n Scalar)>, BumpError> {
            let mut found = None;
            for (i, item) in items.iter().enumerate() {
                if item.get_str("name").map(|s| s.value.as_str()) != Some(param) {
                    continue;
                }
                let Some(Node::Scalar(v)) = item.get("value") else {
                    return Err(uneditable(
                        file,
                        format!("helm.parameters[{i}] ({param}) has no string value"),
                    ));
                };
                if found.is_some() {
                    return Err(uneditable(
                        file,
                        format!("helm.parameters names {param:?} twice: merge them by hand"),
                    ));
                }
                found = Some((format!("/helm/parameters/{i}/value"), v));
            }
            Ok(found)
        };
        let Some((pointer, v)) = find(tag_param)? else {
            continue;
        };
        let name = match (want.name, find(name_param)?) {
            (None, _) => None,
            (Some(_), Some((p, n))) => Some((p, Slot::At(n))),
            (Some(_), None) => {
                return Err(BumpError::EntryNotFound {
                    file: file.to_string(),
                    what: format!("helm parameter {name_param:?}"),
                    hint: "give the group a \"namePath\" naming the parameter that holds the image name".into(),
                });
            }
        };
        let form = if v.value.contains('@') || want.digest.is_some() {
            Form::TagAtDigest
        } else {
            Form::Tag
        };
        sites.push(Site {
            doc: d,
            pointer,
            tag: Slot::At(v),
            form,
            digest: None,
            name,
            registry: None,
        });
    }
    if !sites.is_empty() {
        return Ok((sites, None));
    }
    match first_seq {
        Some((doc, seq, index)) if want.create && want.name.is_none() => {
            let value = match want.digest {
                Some(d) => format!("{}@{d}", want.tag),
                None => want.tag.to_string(),
            };
            Ok((
                Vec::new(),
                Some(Append {
                    doc,
                    seq,
                    pointer: format!("/helm/parameters/{index}"),
                    lines: vec![
                        format!("name: {}", render(ScalarStyle::Plain, tag_param)),
                        format!("value: {}", render(ScalarStyle::Plain, &value)),
                        "forcestring: true".into(),
                    ],
                    value: json!({"name": tag_param, "value": value, "forcestring": true}),
                }),
            ))
        }
        _ => Err(BumpError::EntryNotFound {
            file: file.to_string(),
            what: format!("helm parameter {tag_param:?}"),
            hint: "check the group's \"path\" (the parameter name, default image.tag); --create appends it to an existing helm.parameters list or writes a new file".into(),
        }),
    }
}

/// A new `.argocd-source-<app>.yaml`, in the layout Argo CD Image Updater writes.
fn argocd_new_file(target: &Target, image: &str, want: &Want) -> Option<String> {
    match target {
        Target::ArgocdKustomize => Some(format!(
            "kustomize:\n  images:\n  - {}\n",
            render(ScalarStyle::Plain, &argo_value(image, None, want))
        )),
        Target::ArgocdHelm {
            tag_param,
            name_param,
        } => {
            let tag = match want.digest {
                Some(d) => format!("{}@{d}", want.tag),
                None => want.tag.to_string(),
            };
            let param = |name: &str, value: &str| {
                format!(
                    "  - name: {}\n    value: {}\n    forcestring: true\n",
                    render(ScalarStyle::Plain, name),
                    render(ScalarStyle::Plain, value)
                )
            };
            Some(format!(
                "helm:\n  parameters:\n{}{}",
                param(name_param, want.name.unwrap_or(image)),
                param(tag_param, &tag)
            ))
        }
        _ => None,
    }
}

/// The edit that appends an item to a block sequence, laid out like its first item.
fn append_item(src: &str, a: &Append, file: &str) -> Result<Edit, BumpError> {
    let Node::Seq(items, start) = a.seq else {
        return Err(uneditable(file, "not a sequence"));
    };
    if src.as_bytes().get(*start) == Some(&b'[') {
        return Err(uneditable(
            file,
            "a flow sequence ([...]); --create appends to block sequences only",
        ));
    }
    let first = items
        .first()
        .and_then(|i| match i {
            Node::Scalar(s) => Some(s.start),
            Node::Map(es, _) => es.first().and_then(|(k, _)| k.as_scalar()).map(|s| s.start),
            _ => None,
        })
        .ok_or_else(|| uneditable(file, "the list is empty; cannot copy its layout"))?;
    let (dash, gap) =
        dash_layout(src, first).ok_or_else(|| uneditable(file, "cannot find the list's '-'"))?;
    let eol = line_ending(src);
    let mut text = String::new();
    for (i, line) in a.lines.iter().enumerate() {
        if i == 0 {
            text.push_str(&format!("{dash}-{}{line}{eol}", " ".repeat(gap)));
        } else {
            text.push_str(&format!("{dash} {}{line}{eol}", " ".repeat(gap)));
        }
    }
    let last = items.last().expect("a block sequence has items");
    let (at, prefix) = after_line(src, last.content_end(src));
    Ok(Edit {
        start: at,
        end: at,
        text: format!("{prefix}{text}"),
    })
}

/// The site of a chart image written as a mapping: `tag` (added with --create), `digest`
/// (added when a digest is asked for), and for a new name `repository` and `registry`.
fn helm_map_site<'n>(
    map: &'n Node,
    d: usize,
    pointer: &str,
    file: &str,
    path: &[Seg],
    want: &Want,
) -> Result<Site<'n>, BumpError> {
    let scalar = |key: &str| -> Result<Option<&'n Scalar>, BumpError> {
        match map.get(key) {
            None => Ok(None),
            Some(Node::Scalar(s)) => Ok(Some(s)),
            Some(_) => Err(uneditable(
                file,
                format!("{}.{key} is not a scalar", show_path(path)),
            )),
        }
    };
    let (tag, form) = match scalar("tag")? {
        Some(s) if s.value.contains('@') => (Slot::At(s), Form::TagAtDigest),
        Some(s) => (Slot::At(s), Form::Tag),
        None if want.create => (
            Slot::NewKey {
                map,
                key: "tag".into(),
            },
            Form::Tag,
        ),
        None => {
            return Err(BumpError::EntryNotFound {
                file: file.to_string(),
                what: format!("tag of the image at {}", show_path(path)),
                hint: "pass --create to add the tag key".into(),
            });
        }
    };
    let slot_of = |key: &str, s: Option<&'n Scalar>, add: bool| {
        let at = format!("{pointer}/{key}");
        match s {
            Some(s) => Some((at, Slot::At(s))),
            None if add => Some((
                at,
                Slot::NewKey {
                    map,
                    key: key.into(),
                },
            )),
            None => None,
        }
    };
    let digest = slot_of(
        "digest",
        scalar("digest")?,
        want.digest.is_some() && form == Form::Tag,
    );
    let (name, registry) = if want.name.is_some() {
        let Some(repo) = scalar("repository")? else {
            return Err(BumpError::EntryNotFound {
                file: file.to_string(),
                what: format!("repository of the image at {}", show_path(path)),
                hint: "a new name is written to the image's repository key".into(),
            });
        };
        (
            slot_of("repository", Some(repo), false),
            slot_of("registry", scalar("registry")?, false),
        )
    } else {
        (None, None)
    };
    Ok(Site {
        doc: d,
        pointer: format!("{pointer}/tag"),
        tag,
        form,
        digest,
        name,
        registry,
    })
}

/// Split a new name into the registry and the repository, for a chart that writes them
/// apart; None when the name has no registry part.
fn split_registry(name: &str) -> Option<(&str, &str)> {
    let (first, rest) = name.split_once('/')?;
    (first.contains(['.', ':']) || first == "localhost").then_some((first, rest))
}

/// A Flux setter marker on the rest of a scalar's line: `# {"$imagepolicy": "ns:name:field"}`.
fn setter_marker(src: &str, s: &Scalar) -> Option<String> {
    let (_, end) = yamledit::scalar_extent(src, s).ok()?;
    let line_end = src[end..].find('\n').map_or(src.len(), |i| end + i);
    let rest = src[end..line_end].trim();
    let json = rest.strip_prefix('#')?.trim();
    let v: Value = serde_json::from_str(json).ok()?;
    v.get("$imagepolicy")?.as_str().map(str::to_string)
}

/// Every scalar under `node`, with its JSON pointer.
fn scalars<'n>(node: &'n Node, pointer: String, out: &mut Vec<(String, &'n Scalar)>) {
    match node {
        Node::Scalar(s) => out.push((pointer, s)),
        Node::Map(entries, _) => {
            for (k, v) in entries {
                if let Node::Scalar(ks) = k {
                    scalars(v, format!("{pointer}/{}", escape(&ks.value)), out);
                }
            }
        }
        Node::Seq(items, _) => {
            for (i, v) in items.iter().enumerate() {
                scalars(v, format!("{pointer}/{i}"), out);
            }
        }
        Node::Alias(_) => {}
    }
}

/// The field a setter marker (`ns:name` or `ns:name:field`) marks for `policy` (`ns:name`,
/// or a bare name): `Some(None)` for a whole reference, `None` when it is another policy's.
fn marked_field<'m>(marker: &'m str, policy: &str) -> Option<Option<&'m str>> {
    let parts: Vec<&str> = marker.split(':').collect();
    let (ns, name, field) = match parts.as_slice() {
        [ns, name] => (*ns, *name, None),
        [ns, name, field] => (*ns, *name, Some(*field)),
        _ => return None,
    };
    let matches = match policy.split_once(':') {
        Some((pns, pname)) => pns == ns && pname == name,
        None => policy == name,
    };
    matches.then_some(field)
}

fn setter_sites<'n>(
    src: &str,
    docs: &'n [Node],
    file: &str,
    policy: &str,
) -> Result<Vec<Site<'n>>, BumpError> {
    let mut sites = Vec::new();
    let mut riders = Vec::new();
    for (d, doc) in docs.iter().enumerate() {
        let mut scalars = Vec::new();
        self::scalars(doc, String::new(), &mut scalars);
        for (pointer, s) in scalars {
            let Some(marker) = setter_marker(src, s) else {
                continue;
            };
            let Some(field) = marked_field(&marker, policy) else {
                continue;
            };
            let form = match field {
                None if s.value.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                    return Err(BumpError::Uneditable {
                        file: file.to_string(),
                        message: format!(
                            r#"line {}: the value marked {{"$imagepolicy": "{policy}"}} is not an image reference (it holds whitespace): {:?}"#,
                            s.line, s.value
                        ),
                    });
                }
                None => Form::Reference,
                Some("tag") => Form::Tag,
                Some("digest") => {
                    riders.push((d, pointer, s, Form::DigestOnly));
                    continue;
                }
                Some("name") => {
                    riders.push((d, pointer, s, Form::NameOnly));
                    continue;
                }
                Some(_) => continue,
            };
            sites.push(Site {
                doc: d,
                pointer,
                tag: Slot::At(s),
                form,
                digest: None,
                name: None,
                registry: None,
            });
        }
    }
    if sites.is_empty() {
        return Err(BumpError::EntryNotFound {
            file: file.to_string(),
            what: format!(r#"a value marked {{"$imagepolicy": "{policy}:tag"}}"#),
            hint: format!(
                r#"mark the tag with # {{"$imagepolicy": "{policy}:tag"}} (a Flux setter comment); --create cannot add a marker"#
            ),
        });
    }
    // A `:digest` (`:name`) setter of the same policy is the digest (name) of every tag
    // site of its document.
    for (d, pointer, s, form) in riders {
        sites.push(Site {
            doc: d,
            pointer,
            tag: Slot::At(s),
            form,
            digest: None,
            name: None,
            registry: None,
        });
    }
    Ok(sites)
}

/// The text of a new key line (block) or entry (flow) added to a mapping.
fn insert_key(
    src: &str,
    map: &Node,
    key: &str,
    value: &str,
    file: &str,
) -> Result<Edit, BumpError> {
    let Node::Map(entries, start) = map else {
        return Err(uneditable(file, "cannot add a key to a non-mapping"));
    };
    let rendered = format!("{key}: {}", render(ScalarStyle::Plain, value));
    if src.as_bytes().get(*start) == Some(&b'{') {
        let at = match entries.last() {
            Some((_, v)) => v.content_end(src),
            None => start + 1,
        };
        let text = if entries.is_empty() {
            rendered
        } else {
            format!(", {rendered}")
        };
        return Ok(Edit {
            start: at,
            end: at,
            text,
        });
    }
    let Some((Node::Scalar(first), _)) = entries.first() else {
        return Err(uneditable(file, "cannot add a key next to a complex key"));
    };
    let indent = " ".repeat(first.column - 1);
    let (last_key, last_value) = entries.last().expect("a block mapping has entries");
    let end = last_value.content_end(src).max(last_key.content_end(src));
    let (at, prefix) = after_line(src, end);
    Ok(Edit {
        start: at,
        end: at,
        text: format!("{prefix}{indent}{rendered}{}", line_ending(src)),
    })
}

/// The edit that appends an entry to `images` (or adds `images:` to the document).
fn insert_entry(src: &str, e: &NewEntry, file: &str) -> Result<Edit, BumpError> {
    let eol = line_ending(src);
    let render_fields = |dash_indent: &str, gap: usize| {
        let mut text = String::new();
        for (i, (k, v)) in e.fields.iter().enumerate() {
            let lead = if i == 0 {
                format!("{dash_indent}-{}", " ".repeat(gap))
            } else {
                " ".repeat(dash_indent.len() + 1 + gap)
            };
            text.push_str(&format!(
                "{lead}{k}: {}{eol}",
                render(ScalarStyle::Plain, v)
            ));
        }
        text
    };
    match e.seq {
        Some(Node::Seq(items, start)) => {
            if src.as_bytes().get(*start) == Some(&b'[') {
                return Err(uneditable(
                    file,
                    "images is a flow sequence ([...]); --create adds entries to block sequences only",
                ));
            }
            let Some((Node::Scalar(first_key), _)) = items.first().and_then(|i| match i {
                Node::Map(entries, _) => entries.first(),
                _ => None,
            }) else {
                return Err(uneditable(
                    file,
                    "images[0] is not a mapping; cannot copy its layout",
                ));
            };
            let (dash_indent, gap) = dash_layout(src, first_key.start)
                .ok_or_else(|| uneditable(file, "cannot find the '-' of images[0]"))?;
            let last = items.last().expect("a block sequence has items");
            let (at, prefix) = after_line(src, last.content_end(src));
            Ok(Edit {
                start: at,
                end: at,
                text: format!("{prefix}{}", render_fields(&dash_indent, gap)),
            })
        }
        _ => {
            let Node::Map(entries, _) = e.root else {
                return Err(uneditable(file, "the document is not a mapping"));
            };
            let Some((Node::Scalar(first), _)) = entries.first() else {
                return Err(uneditable(file, "the document has no plain keys"));
            };
            if let Some(v) = e.root.get("images")
                && !matches!(v, Node::Scalar(s) if s.value.is_empty())
            {
                return Err(uneditable(file, "images is not a block sequence"));
            }
            if e.root.get("images").is_some() {
                return Err(uneditable(
                    file,
                    "images is empty (null); write the first entry by hand",
                ));
            }
            let key_indent = first.column - 1;
            // Mirror how this document indents its other block sequences under their keys.
            let offset = entries
                .iter()
                .find_map(|(k, v)| match (k, v) {
                    (Node::Scalar(k), Node::Seq(items, s))
                        if src.as_bytes().get(*s) != Some(&b'[') && !items.is_empty() =>
                    {
                        let item_start = match &items[0] {
                            Node::Map(es, _) => {
                                es.first().and_then(|(k, _)| k.as_scalar()).map(|s| s.start)
                            }
                            Node::Scalar(s) => Some(s.start),
                            _ => None,
                        }?;
                        let (ind, _) = dash_layout(src, item_start)?;
                        Some(ind.len().saturating_sub(k.column - 1))
                    }
                    _ => None,
                })
                .unwrap_or(0);
            let dash_indent = " ".repeat(key_indent + offset);
            let (at, prefix) = after_line(src, e.root.content_end(src));
            Ok(Edit {
                start: at,
                end: at,
                text: format!(
                    "{prefix}{}images:{eol}{}",
                    " ".repeat(key_indent),
                    render_fields(&dash_indent, 1)
                ),
            })
        }
    }
}

/// The indentation before an item's `-` and the spaces between the `-` and the item.
fn dash_layout(src: &str, item_start: usize) -> Option<(String, usize)> {
    let ls = line_start(src, item_start);
    let before = &src[ls..item_start];
    let trimmed = before.trim_end_matches(' ');
    let dash = trimmed.strip_suffix('-')?;
    if !dash.bytes().all(|b| b == b' ') {
        return None;
    }
    Some((dash.to_string(), before.len() - trimmed.len()))
}

/// Set a group's tag (and digest) in `src`. Pure: returns the new text and what it did.
pub fn bump(src: &str, file: &str, group: &Group, want: &Want) -> Result<Outcome, BumpError> {
    // A missing (or empty) Argo CD source file is written whole with --create.
    if src.trim().is_empty()
        && let Some(text) = argocd_new_file(&group.target, &group.image, want)
    {
        return new_file(text, file, group, want);
    }
    let docs = parse_unambiguous(src, file)?;
    let (sites, new_entry, append) = find_sites(src, &docs, file, group, want)?;
    let mut acc = Changes::default();
    if let Some(entry) = &new_entry {
        absent_allowed(file, group, want)?;
        acc.insert_entry(src, entry, file)?;
    }
    if let Some(a) = &append {
        absent_allowed(file, group, want)?;
        acc.edits.push(append_item(src, a, file)?);
        acc.changes
            .push((a.doc, a.pointer.clone(), a.value.clone()));
        acc.created = true;
    }
    // Read the current values first: CAS and shadowing digests are checked on all sites
    // before any edit is planned.
    let now = current(&sites, file, group, want)?;
    if now.at_target && new_entry.is_none() && append.is_none() {
        return Ok(Outcome {
            text: src.to_string(),
            old_tag: now.tag,
            old_digest: now.digest,
            old_name: now.name,
            changed: false,
            created: false,
            sites: now.tag_sites,
        });
    }
    for site in &sites {
        acc.set_site(src, file, group, site, want)?;
    }
    let text = yamledit::apply(src, &acc.edits).map_err(|m| uneditable(file, m))?;
    verify(&docs, &text, file, &acc.changes)?;
    Ok(Outcome {
        changed: text != src,
        text,
        old_tag: now.tag,
        old_digest: now.digest,
        old_name: now.name,
        created: acc.created,
        sites: now.tag_sites,
    })
}

/// A compare-and-swap (`--expect-current`) cannot hold for a value that is not there yet.
fn absent_allowed(file: &str, group: &Group, want: &Want) -> Result<(), BumpError> {
    if let Some(expected) = want.expect_current {
        return Err(BumpError::CurrentMismatch {
            file: file.to_string(),
            image: group.image.clone(),
            found: "absent".into(),
            expected: expected.to_string(),
        });
    }
    Ok(())
}

/// An Argo CD source file written whole: only with `--create`, checked by parsing it.
fn new_file(text: String, file: &str, group: &Group, want: &Want) -> Result<Outcome, BumpError> {
    if !want.create {
        return Err(BumpError::EntryNotFound {
            file: file.to_string(),
            what: "an Argo CD source file".into(),
            hint: "pass --create to write it, as Argo CD Image Updater would".into(),
        });
    }
    absent_allowed(file, group, want)?;
    parse_documents(&text, file).map_err(|e| BumpError::VerifyFailed {
        file: file.to_string(),
        message: format!("the new file does not parse: {e}"),
    })?;
    Ok(Outcome {
        changed: true,
        text,
        old_tag: None,
        old_digest: None,
        old_name: None,
        created: true,
        sites: 1,
    })
}

/// The file's documents; a duplicate key is refused, since readers disagree on which counts.
fn parse_unambiguous(src: &str, file: &str) -> Result<Vec<Node>, BumpError> {
    let docs = parse_documents(src, file)?;
    if let Some(key) = docs.iter().find_map(Node::duplicate_key) {
        return Err(rollout_core::CoreError::MalformedYaml {
            origin: file.to_string(),
            line: key.line,
            column: key.column,
            message: format!(
                "duplicate key {:?}: readers disagree on which one counts, so it is not edited",
                key.value
            ),
        }
        .into());
    }
    Ok(docs)
}

/// Where the group's values are in the file (each by its layout), and what must be inserted:
/// a kustomize images entry, or an Argo CD list item.
#[allow(clippy::type_complexity)]
fn find_sites<'n>(
    src: &str,
    docs: &'n [Node],
    file: &str,
    group: &Group,
    want: &Want,
) -> Result<(Vec<Site<'n>>, Option<NewEntry<'n>>, Option<Append<'n>>), BumpError> {
    let mut append = None;
    let (sites, new_entry) = match &group.target {
        Target::KustomizeImages => kustomize_sites(docs, file, &group.image, want)?,
        Target::ArgocdKustomize => {
            let (sites, a) = argocd_kustomize_sites(docs, file, &group.image, want)?;
            append = a;
            (sites, None)
        }
        Target::ArgocdHelm {
            tag_param,
            name_param,
        } => {
            let (sites, a) = argocd_helm_sites(docs, file, tag_param, name_param, want)?;
            append = a;
            (sites, None)
        }
        Target::YamlPath {
            path,
            digest_path,
            name_path,
        } => (
            yaml_path_sites(
                docs,
                file,
                path,
                digest_path.as_deref(),
                name_path.as_deref(),
                want,
            )?,
            None,
        ),
        Target::HelmImage { path } => (helm_image_sites(docs, file, path, want)?, None),
        Target::FluxSetter { policy } => (setter_sites(src, docs, file, policy)?, None),
    };
    Ok((sites, new_entry, append))
}

/// What the file holds now, read from every site before anything is planned.
#[derive(Debug, Default)]
struct Current {
    tag: Option<String>,
    digest: Option<String>,
    name: Option<String>,
    /// Every site already holds what is asked (nothing to do).
    at_target: bool,
    /// How many sites hold the tag.
    tag_sites: usize,
}

/// Read the current values: the first tag, digest and name; whether all are at the target;
/// a compare-and-swap mismatch and a digest that would shadow the new tag are refused.
fn current(sites: &[Site], file: &str, group: &Group, want: &Want) -> Result<Current, BumpError> {
    let (mut old_tag, mut old_digest, mut old_name) = (None, None, None);
    let tag_sites: Vec<&Site> = sites.iter().filter(|s| s.form.holds_tag()).collect();
    let mut already = !tag_sites.is_empty();
    for site in &tag_sites {
        let current = match &site.tag {
            Slot::At(s) => read_value(&s.value, &site.form),
            Slot::NewKey { .. } => (None, None),
        };
        let (tag, inline_digest) = current;
        let side_digest = match &site.digest {
            Some((_, Slot::At(s))) if !s.value.is_empty() => Some(s.value.clone()),
            _ => None,
        };
        let digest = inline_digest.or(side_digest);
        if old_tag.is_none() {
            old_tag.clone_from(&tag);
        }
        if old_digest.is_none() {
            old_digest.clone_from(&digest);
        }
        let name = match (&site.form, &site.tag, &site.name, &site.registry) {
            (Form::Reference, Slot::At(s), _, _) => Some(split_reference(&s.value).0.to_string()),
            (Form::ArgoImage, Slot::At(s), _, _) => {
                Some(split_reference(argo_ref(&s.value).1).0.to_string())
            }
            (_, _, Some((_, Slot::At(s))), Some((_, Slot::At(r)))) if !r.value.is_empty() => {
                Some(format!("{}/{}", r.value, s.value))
            }
            (_, _, Some((_, Slot::At(s))), _) => Some(s.value.clone()),
            _ => None,
        };
        if want.name.is_some() && old_name.is_none() {
            old_name.clone_from(&name);
        }
        let at_target = tag.as_deref() == Some(want.tag)
            && match want.digest {
                Some(d) => digest.as_deref() == Some(d),
                None => digest.is_none(),
            }
            && want.name.is_none_or(|n| name.as_deref() == Some(n));
        if !at_target {
            already = false;
            if let Some(expected) = want.expect_current
                && tag.as_deref() != Some(expected)
            {
                return Err(BumpError::CurrentMismatch {
                    file: file.to_string(),
                    image: group.image.clone(),
                    found: tag.map_or("absent".into(), |t| format!("{t:?}")),
                    expected: expected.to_string(),
                });
            }
        }
        if let (Some(d), None) = (&digest, want.digest) {
            return Err(BumpError::DigestShadowsTag {
                file: file.to_string(),
                image: group.image.clone(),
                digest: d.clone(),
            });
        }
    }
    for site in sites.iter().filter(|s| s.form == Form::NameOnly) {
        if let (Slot::At(s), Some(n)) = (&site.tag, want.name) {
            if old_name.is_none() {
                old_name = Some(s.value.clone());
            }
            if s.value != n {
                already = false;
            }
        }
    }
    for site in sites.iter().filter(|s| s.form == Form::DigestOnly) {
        if let Slot::At(s) = &site.tag {
            if want.digest.is_none() && !s.value.is_empty() {
                return Err(BumpError::DigestShadowsTag {
                    file: file.to_string(),
                    image: group.image.clone(),
                    digest: s.value.clone(),
                });
            }
            if want.digest.is_some_and(|d| d != s.value) {
                already = false;
            }
        }
    }
    Ok(Current {
        tag: old_tag,
        digest: old_digest,
        name: old_name,
        at_target: already,
        tag_sites: tag_sites.len(),
    })
}

/// The edits of one bump and the JSON changes they must make (what [`verify`] checks).
#[derive(Debug, Default)]
struct Changes {
    edits: Vec<Edit>,
    changes: Vec<(usize, String, Value)>,
    /// An entry or key was inserted.
    created: bool,
}

impl Changes {
    /// Insert a kustomize images entry, and the JSON change it must make.
    fn insert_entry(&mut self, src: &str, entry: &NewEntry, file: &str) -> Result<(), BumpError> {
        self.edits.push(insert_entry(src, entry, file)?);
        let obj: serde_json::Map<String, Value> = entry
            .fields
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
            .collect();
        let value = Value::Object(obj);
        match entry.seq {
            Some(_) => self.changes.push((
                entry.doc,
                format!("{}/images/{}", entry.prefix, entry.index),
                value,
            )),
            None => self.changes.push((
                entry.doc,
                format!("{}/images", entry.prefix),
                json!([value]),
            )),
        }
        self.created = true;
        Ok(())
    }

    /// Set one site's values: the tag in the site's form, the name (and registry) and the
    /// digest beside it when asked.
    fn set_site(
        &mut self,
        src: &str,
        file: &str,
        group: &Group,
        site: &Site,
        want: &Want,
    ) -> Result<(), BumpError> {
        let new_value = match (&site.form, &site.tag) {
            (Form::Tag, _) => want.tag.to_string(),
            (Form::TagAtDigest, _) => match want.digest {
                Some(d) => format!("{}@{d}", want.tag),
                None => want.tag.to_string(),
            },
            (Form::Reference, Slot::At(s)) => {
                let (name, _, _) = split_reference(&s.value);
                let name = want.name.unwrap_or(name);
                match want.digest {
                    Some(d) => format!("{name}:{}@{d}", want.tag),
                    None => format!("{name}:{}", want.tag),
                }
            }
            (Form::Reference | Form::ArgoImage, Slot::NewKey { .. }) => {
                unreachable!("references are never inserted")
            }
            (Form::ArgoImage, Slot::At(s)) => argo_value(&group.image, Some(&s.value), want),
            (Form::DigestOnly, _) => match want.digest {
                Some(d) => d.to_string(),
                None => return Ok(()),
            },
            (Form::NameOnly, _) => match want.name {
                Some(n) => n.to_string(),
                None => return Ok(()),
            },
        };
        self.set(src, file, &site.tag, &new_value, site.doc, &site.pointer)?;
        if let (Some(n), Some((pointer, slot))) = (want.name, &site.name) {
            let n = match &site.registry {
                Some((rpointer, rslot)) => {
                    let Some((registry, repository)) = split_registry(n) else {
                        return Err(uneditable(
                            file,
                            format!(
                                "the image writes its registry apart; --name {n:?} has no registry part (such as ghcr.io/{n})"
                            ),
                        ));
                    };
                    self.set(src, file, rslot, registry, site.doc, rpointer)?;
                    repository
                }
                None => n,
            };
            self.set(src, file, slot, n, site.doc, pointer)?;
        }
        if let (Some(d), Some((pointer, slot))) = (want.digest, &site.digest) {
            self.set(src, file, slot, d, site.doc, pointer)?;
        }
        Ok(())
    }

    /// Set `slot` (document `doc`, at `pointer`) to `value`: replace the scalar in its own
    /// style, or insert the key; nothing when it already holds the value.
    fn set(
        &mut self,
        src: &str,
        file: &str,
        slot: &Slot,
        value: &str,
        doc: usize,
        pointer: &str,
    ) -> Result<(), BumpError> {
        match slot {
            // Already the value as a string (`newTag: 16` reads as "16" to kustomize too).
            Slot::At(s) if s.value == value => return Ok(()),
            Slot::At(s) => self.edits.push(
                yamledit::set_scalar(src, s, value)
                    .map_err(|m| uneditable(file, format!("line {}: {m}", s.line)))?,
            ),
            Slot::NewKey { map, key } => {
                self.edits.push(insert_key(src, map, key, value, file)?);
                self.created = true;
            }
        }
        self.changes
            .push((doc, pointer.to_string(), Value::String(value.to_string())));
        Ok(())
    }
}

/// Parse the new text and prove it is the old document with exactly `changes` applied.
fn verify(
    old: &[Node],
    after: &str,
    file: &str,
    changes: &[(usize, String, Value)],
) -> Result<(), BumpError> {
    let fail = |message: String| BumpError::VerifyFailed {
        file: file.to_string(),
        message,
    };
    let new =
        parse_documents(after, file).map_err(|e| fail(format!("it no longer parses: {e}")))?;
    if old.len() != new.len() {
        return Err(fail(format!(
            "{} documents became {}",
            old.len(),
            new.len()
        )));
    }
    for (d, (o, n)) in old.iter().zip(&new).enumerate() {
        let expected: Vec<(String, Value)> = changes
            .iter()
            .filter(|(doc, _, _)| *doc == d)
            .map(|(_, p, v)| (p.clone(), v.clone()))
            .collect();
        yamledit::check_only_changed(&o.to_json(), &n.to_json(), &expected)
            .map_err(|m| fail(format!("document {}: {m}", d + 1)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
