use super::*;
use crate::services::{Fields, group};

fn kust(image: &str) -> Group {
    group(
        "g",
        "k.yaml",
        image,
        &Fields {
            type_name: Some("kustomize-images"),
            ..Default::default()
        },
    )
    .unwrap()
}

fn want(tag: &str) -> Want<'_> {
    Want {
        tag,
        digest: None,
        name: None,
        expect_current: None,
        create: false,
    }
}

fn run(src: &str, g: &Group, w: &Want) -> Outcome {
    bump(src, "k.yaml", g, w).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn only_the_tag_bytes_change() {
    let src = "images:\n- name: backend # the API\n  newName: ghcr.io/acme/backend\n  newTag: pr-41-0000000 # bumped\n";
    let out = run(src, &kust("backend"), &want("pr-42-a1b2c3d"));
    assert_eq!(out.text, src.replace("pr-41-0000000", "pr-42-a1b2c3d"));
    assert_eq!(out.old_tag.as_deref(), Some("pr-41-0000000"));
    assert!(out.changed && !out.created);
    let again = run(&out.text, &kust("backend"), &want("pr-42-a1b2c3d"));
    assert!(!again.changed);
    assert_eq!(again.text, out.text);
}

#[test]
fn values_that_would_change_type_are_quoted() {
    let src = "images:\n  - {name: nginx, newTag: 1.25}\n";
    let out = run(src, &kust("nginx"), &want("16"));
    assert_eq!(out.text, "images:\n  - {name: nginx, newTag: \"16\"}\n");
}

#[test]
fn expect_current_is_a_compare_and_swap() {
    let src = "images:\n- name: a\n  newTag: v1\n";
    let mut w = want("v2");
    w.expect_current = Some("v0");
    let e = bump(src, "k.yaml", &kust("a"), &w).unwrap_err();
    assert!(
        e.to_string().contains("current tag of a is \"v1\", not v0"),
        "{e}"
    );
    w.expect_current = Some("v1");
    assert!(run(src, &kust("a"), &w).changed);
    // Already at the new tag: a retry converges, whatever it expected.
    let done = src.replace("v1", "v2");
    assert!(!run(&done, &kust("a"), &w).changed);
}

#[test]
fn a_pinned_digest_must_move_with_the_tag() {
    let d1 = format!("sha256:{}", "1".repeat(64));
    let d2 = format!("sha256:{}", "2".repeat(64));
    let src = format!("images:\n- name: a\n  newTag: v1\n  digest: {d1}\n");
    let e = bump(&src, "k.yaml", &kust("a"), &want("v2")).unwrap_err();
    assert!(matches!(e, BumpError::DigestShadowsTag { .. }), "{e}");
    let mut w = want("v2");
    w.digest = Some(&d2);
    let out = run(&src, &kust("a"), &w);
    assert_eq!(out.text, src.replace("v1", "v2").replace(&d1, &d2));
    assert_eq!(out.old_digest.as_deref(), Some(d1.as_str()));
    // tag@digest in newTag
    let src = format!("images:\n- name: a\n  newTag: v1@{d1}\n");
    let out = run(&src, &kust("a"), &w);
    assert_eq!(out.text, format!("images:\n- name: a\n  newTag: v2@{d2}\n"));
    // A digest added where there was none, in the entry's indentation.
    let src = "images:\n  - name: a\n    newTag: v1\n";
    let out = run(src, &kust("a"), &w);
    assert_eq!(
        out.text,
        format!("images:\n  - name: a\n    newTag: v2\n    digest: {d2}\n")
    );
}

#[test]
fn create_inserts_in_the_files_own_layout() {
    let mut w = want("v2");
    w.create = true;
    // 4-space sequence indent, CRLF
    let src = "images:\r\n    -   name: a\r\n        newTag: v1\r\n";
    let out = run(src, &kust("b"), &w);
    assert_eq!(
        out.text,
        "images:\r\n    -   name: a\r\n        newTag: v1\r\n    -   name: b\r\n        newTag: v2\r\n"
    );
    assert!(out.created && out.old_tag.is_none());
    // no images key: mirror the resources list's indentation
    let src = "kind: Kustomization\nresources:\n  - a.yaml\n";
    let out = run(src, &kust("b"), &w);
    assert_eq!(
        out.text,
        format!("{src}images:\n  - name: b\n    newTag: v2\n")
    );
    // no final newline
    let src = "images:\n- name: a\n  newTag: v1";
    let out = run(src, &kust("b"), &w);
    assert_eq!(out.text, format!("{src}\n- name: b\n  newTag: v2\n"));
    // without --create: refused, naming what is there
    let e = bump(src, "k.yaml", &kust("b"), &want("v2")).unwrap_err();
    assert!(
        e.to_string()
            .contains("images entry with name \"b\" not found"),
        "{e}"
    );
    assert!(rollout_core::Failure::hints(&e)[0].contains("it has: a"));
    // flow sequences are refused, not rewritten
    let src = "images: [{name: a, newTag: v1}]\n";
    assert!(bump(src, "k.yaml", &kust("b"), &w).is_err());
}

#[test]
fn only_kustomization_documents_are_edited() {
    let src = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n- name: api\n  newTag: 4.20\n---\nimages:\n- name: api\n  newTag: keep\n";
    let out = run(src, &kust("api"), &want("5.0"));
    assert_eq!(out.text, src.replace("4.20", "\"5.0\""));
    assert_eq!(out.old_tag.as_deref(), Some("4.20"));
}

#[test]
fn yaml_paths_and_their_digest() {
    let g = group(
        "g",
        "r.yaml",
        "app",
        &Fields {
            type_name: Some("yaml-path"),
            path: Some(".spec.values.image.tag"),
            ..Default::default()
        },
    )
    .unwrap();
    let src = "spec:\n  values:\n    image:\n      repository: ghcr.io/acme/app # keep\n      tag: \"1.4.2\"\n";
    let out = run(src, &g, &want("1.5.0"));
    assert_eq!(out.text, src.replace("1.4.2", "1.5.0"));
    let missing = "spec:\n  values:\n    image:\n      repository: x\n";
    assert!(matches!(
        bump(missing, "r.yaml", &g, &want("v")),
        Err(BumpError::EntryNotFound { .. })
    ));
    let mut w = want("v2");
    w.create = true;
    assert_eq!(
        run(missing, &g, &w).text,
        format!("{missing}      tag: v2\n")
    );
    let d = format!("sha256:{}", "a".repeat(64));
    w.digest = Some(&d);
    let out = run(src, &g, &w);
    assert_eq!(
        out.text,
        src.replace("\"1.4.2\"", "\"v2\"") + &format!("      digest: {d}\n")
    );
}

#[test]
fn flux_setters_by_policy() {
    let src = "spec:\n  values:\n    image:\n      repository: ghcr.io/acme/app # {\"$imagepolicy\": \"flux-system:app:name\"}\n      tag: 1.4.2 # {\"$imagepolicy\": \"flux-system:app:tag\"}\n    sidecar:\n      tag: \"0.9\" #{\"$imagepolicy\": \"flux-system:sidecar:tag\"}\n    other: image:v1.0.0 # {\"$imagepolicy\": \"flux-system:app\"}\n";
    let g = group(
        "g",
        "f.yaml",
        "flux-system:app",
        &Fields {
            type_name: Some("flux-setter"),
            ..Default::default()
        },
    )
    .unwrap();
    let out = run(src, &g, &want("1.5.0"));
    assert_eq!(
        out.text,
        src.replace("tag: 1.4.2", "tag: 1.5.0")
            .replace("image:v1.0.0", "image:1.5.0")
    );
    assert_eq!(out.sites, 2);
    let by_name = group(
        "g",
        "f.yaml",
        "sidecar",
        &Fields {
            type_name: Some("flux-setter"),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        run(src, &by_name, &want("1.0")).text,
        src.replace("\"0.9\"", "\"1.0\"")
    );
    let none = group(
        "g",
        "f.yaml",
        "flux-system:nope",
        &Fields {
            type_name: Some("flux-setter"),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(matches!(
        bump(src, "f.yaml", &none, &want("1")),
        Err(BumpError::EntryNotFound { .. })
    ));
}

/// Every kustomization of the corpus: each images entry bumped, only its tag bytes change.
#[test]
fn every_corpus_images_entry_bumps_in_place() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/corpus");
    let mut bumped = 0;
    for sub in ["kustomize", "synthetic", "flux"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            let src = std::fs::read_to_string(&path).unwrap();
            let Ok(docs) = parse_documents(&src, "t") else {
                continue;
            };
            let mut names = Vec::new();
            for d in kustomizations(&docs) {
                if let Some(Node::Seq(items, _)) = docs[d].get("images") {
                    for i in items {
                        if let (Some(n), Some(t)) = (i.get_str("name"), i.get_str("newTag"))
                            && i.get("digest").is_none()
                            && !t.value.contains('@')
                        {
                            names.push((n.value.clone(), t.clone()));
                        }
                    }
                }
            }
            for (name, old) in &names {
                if names.iter().filter(|(n, _)| n == name).count() > 1 {
                    // Listed twice (a renovate fixture): refused, never guessed.
                    let e = bump(&src, "t", &kust(name), &want("x")).unwrap_err();
                    assert!(e.to_string().contains("twice"), "{e}");
                    continue;
                }
                let out = bump(&src, "t", &kust(name), &want("pr-42-a1b2c3d"))
                    .unwrap_or_else(|e| panic!("{}: {name}: {e}", path.display()));
                let (s, e) = yamledit::scalar_extent(&src, old).unwrap();
                assert_eq!(&out.text[..s], &src[..s]);
                assert_eq!(&out.text[out.text.len() - (src.len() - e)..], &src[e..]);
                bumped += 1;
            }
        }
    }
    assert!(bumped >= 20, "{bumped}");
}

#[test]
fn a_new_name_goes_with_the_tag_in_every_target_type() {
    let name = "index.repo.fake/updated";
    let mut w = want("v1.0.1");
    w.name = Some(name);
    // kustomize: newName replaced, or added next to the entry's other keys
    let k = "images:\n  - name: image\n    newName: replaced\n    newTag: v1.0.0\n  - name: other\n    newTag: v1\n";
    let out = run(k, &kust("image"), &w);
    assert_eq!(
        out.text,
        k.replace("newName: replaced", &format!("newName: {name}"))
            .replace("newTag: v1.0.0", "newTag: v1.0.1")
    );
    assert_eq!(out.old_name.as_deref(), Some("replaced"));
    let added = run(k, &kust("other"), &w).text;
    assert_eq!(
        added,
        k.replace(
            "newTag: v1\n",
            &format!("newTag: v1.0.1\n    newName: {name}\n")
        )
    );
    assert!(
        !run(&added, &kust("other"), &w).changed,
        "a second run is a no-op"
    );
    // Flux setters: a whole reference takes the name, a :name setter the name alone
    let f = "spec:\n  containers:\n    - image: image:v1.0.0 # {\"$imagepolicy\": \"automation-ns:policy\"}\n  values:\n    repository: old/repo # {\"$imagepolicy\": \"automation-ns:policy:name\"}\n    tag: v1.0.0 # {\"$imagepolicy\": \"automation-ns:policy:tag\"}\n";
    let setter = group(
        "g",
        "f.yaml",
        "automation-ns:policy",
        &Fields {
            type_name: Some("flux-setter"),
            ..Default::default()
        },
    )
    .unwrap();
    let out = run(f, &setter, &w);
    assert_eq!(
        out.text,
        f.replace("image:v1.0.0", &format!("{name}:v1.0.1"))
            .replace("old/repo", name)
            .replace("tag: v1.0.0", "tag: v1.0.1")
    );
    // without --name the :name setter is left alone, as before
    assert_eq!(
        run(f, &setter, &want("v2")).text,
        f.replace("image:v1.0.0", "image:v2")
            .replace("tag: v1.0.0", "tag: v2")
    );
    // yaml-path: the chart's repository beside the tag
    let chart = group(
        "g",
        "r.yaml",
        "app",
        &Fields {
            type_name: Some("yaml-path"),
            path: Some(".image.tag"),
            ..Default::default()
        },
    )
    .unwrap();
    let h = "image:\n  repository: ghcr.io/acme/app\n  tag: \"1.4.2\"\n";
    assert_eq!(
        run(h, &chart, &w).text,
        h.replace("ghcr.io/acme/app", name)
            .replace("1.4.2", "v1.0.1")
    );
    // no repository key and no namePath: named, not guessed
    let bare = "image:\n  tag: \"1.4.2\"\n";
    let e = bump(bare, "r.yaml", &chart, &w).unwrap_err();
    assert!(
        e.to_string().contains("image name at .image.repository"),
        "{e}"
    );
    // a namePath is added when its last key is missing
    let by_path = group(
        "g",
        "r.yaml",
        "app",
        &Fields {
            type_name: Some("yaml-path"),
            path: Some(".image.tag"),
            name_path: Some(".image.name"),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        run(bare, &by_path, &w).text,
        format!("image:\n  tag: \"v1.0.1\"\n  name: {name}\n")
    );
}

#[test]
fn helm_images_in_the_three_layouts_charts_use() {
    let g = group(
        "g",
        "v.yaml",
        "api",
        &Fields {
            type_name: Some("helm-image"),
            path: Some(".image"),
            ..Default::default()
        },
    )
    .unwrap();
    let d = format!("sha256:{}", "c".repeat(64));
    let mut w = want("2.0.0");
    // {repository, tag}
    let a = "image:\n  repository: ghcr.io/acme/api\n  tag: \"1.9.0\" # pinned\n  pullPolicy: IfNotPresent\n";
    assert_eq!(run(a, &g, &w).text, a.replace("1.9.0", "2.0.0"));
    // {registry, repository, tag, digest} with a new name split over registry and repository
    let b = "image:\n  registry: docker.io\n  repository: bitnami/redis\n  tag: 7.2.4\n  digest: \"\"\n";
    w.digest = Some(&d);
    w.name = Some("registry.example.com/prod/redis");
    let out = run(b, &g, &w);
    assert_eq!(
        out.text,
        b.replace("docker.io", "registry.example.com")
            .replace("bitnami/redis", "prod/redis")
            .replace("7.2.4", "2.0.0")
            .replace("digest: \"\"", &format!("digest: \"{d}\""))
    );
    assert_eq!(out.old_name.as_deref(), Some("docker.io/bitnami/redis"));
    assert!(!run(&out.text, &g, &w).changed, "a second run is a no-op");
    // a name without a registry cannot fill a registry key
    let mut bare = want("2.0.0");
    bare.name = Some("acme/redis");
    let e = bump(b, "v.yaml", &g, &bare).unwrap_err();
    assert!(e.to_string().contains("has no registry part"), "{e}");
    // one string: only the tag, digest and name bytes change
    let c = "image: ghcr.io/acme/api:1.9.0 # the chart splits it\n";
    let mut w = want("2.0.0");
    assert_eq!(run(c, &g, &w).text, c.replace("1.9.0", "2.0.0"));
    w.digest = Some(&d);
    w.name = Some("registry.example.com/prod/api");
    assert_eq!(
        run(c, &g, &w).text,
        c.replace(
            "ghcr.io/acme/api:1.9.0",
            &format!("registry.example.com/prod/api:2.0.0@{d}")
        )
    );
    // the path names the image, not its tag
    let tag_path = group(
        "g",
        "v.yaml",
        "api",
        &Fields {
            type_name: Some("helm-image"),
            path: Some(".image.tag"),
            ..Default::default()
        },
    )
    .unwrap();
    let e = bump(a, "v.yaml", &tag_path, &want("2.0.0")).unwrap_err();
    assert!(e.to_string().contains(".image.tag is the tag"), "{e}");
}

fn argo(type_name: &str) -> Group {
    group(
        "g",
        ".argocd-source-web.yaml",
        "ghcr.io/acme/web",
        &Fields {
            type_name: Some(type_name),
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn argocd_image_updater_kustomize_write_back() {
    let g = argo("argocd-kustomize");
    let mut w = want("v1.3.0");
    w.create = true;
    // a new file, in the layout the image updater writes
    let new = run("", &g, &w);
    assert_eq!(
        new.text,
        "kustomize:\n  images:\n  - ghcr.io/acme/web:v1.3.0\n"
    );
    assert!(new.created);
    assert!(!run(&new.text, &g, &w).changed, "a second run is a no-op");
    // an override string: only its tag (and digest, name) bytes change
    let src = "kustomize:\n  images:\n  - ghcr.io/acme/web:v1.2.0\n  - quay.io/other=quay.io/other2:0.1\n";
    let out = run(src, &g, &want("v1.3.0"));
    assert_eq!(out.text, src.replace("web:v1.2.0", "web:v1.3.0"));
    assert_eq!(out.old_tag.as_deref(), Some("v1.2.0"));
    let d = format!("sha256:{}", "e".repeat(64));
    let mut w = want("v1.3.0");
    w.digest = Some(&d);
    w.name = Some("registry.example.com/prod/web");
    let out = run(src, &g, &w);
    assert_eq!(
        out.text,
        src.replace(
            "ghcr.io/acme/web:v1.2.0",
            &format!("ghcr.io/acme/web=registry.example.com/prod/web:v1.3.0@{d}")
        )
    );
    assert!(!run(&out.text, &g, &w).changed);
    // an alias keeps its left side
    let other = group(
        "g",
        "f",
        "quay.io/other",
        &Fields {
            type_name: Some("argocd-kustomize"),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        run(src, &other, &want("0.2")).text,
        src.replace("quay.io/other2:0.1", "quay.io/other2:0.2")
    );
    // a missing override is named, and appended with --create
    let third = group(
        "g",
        "f",
        "nginx",
        &Fields {
            type_name: Some("argocd-kustomize"),
            ..Default::default()
        },
    )
    .unwrap();
    let Err(BumpError::EntryNotFound { hint, .. }) = bump(src, "f", &third, &want("1.27")) else {
        panic!("a missing override is not found");
    };
    assert!(
        hint.contains("it has: ghcr.io/acme/web, quay.io/other"),
        "{hint}"
    );
    let mut c = want("1.27");
    c.create = true;
    assert_eq!(run(src, &third, &c).text, format!("{src}  - nginx:1.27\n"));
    // without --create a missing file is not written
    assert!(matches!(
        bump("", "f", &g, &want("v1")),
        Err(BumpError::EntryNotFound { .. })
    ));
}

#[test]
fn argocd_image_updater_helm_write_back() {
    let g = argo("argocd-helm");
    let mut w = want("v1.3.0");
    w.create = true;
    let new = run("", &g, &w);
    assert_eq!(
        new.text,
        "helm:\n  parameters:\n  - name: image.name\n    value: ghcr.io/acme/web\n    forcestring: true\n  - name: image.tag\n    value: v1.3.0\n    forcestring: true\n"
    );
    assert!(!run(&new.text, &g, &w).changed);
    let mut w = want("v1.4.0");
    w.name = Some("registry.example.com/prod/web");
    let out = run(&new.text, &g, &w);
    assert_eq!(
        out.text,
        new.text
            .replace(
                "value: ghcr.io/acme/web",
                "value: registry.example.com/prod/web"
            )
            .replace("value: v1.3.0", "value: v1.4.0")
    );
    assert_eq!(out.old_name.as_deref(), Some("ghcr.io/acme/web"));
    // numbers stay strings: a tag that YAML would read as a number is quoted
    assert!(
        run(&new.text, &g, &want("1e3"))
            .text
            .contains("value: \"1e3\"")
    );
    // other parameter names, from path and namePath
    let custom = group(
        "g",
        "f",
        "web",
        &Fields {
            type_name: Some("argocd-helm"),
            path: Some("web.image.tag"),
            ..Default::default()
        },
    )
    .unwrap();
    let src =
        "helm:\n  parameters:\n  - name: replicaCount\n    value: \"2\"\n    forcestring: true\n";
    let mut c = want("v2");
    c.create = true;
    assert_eq!(
        run(src, &custom, &c).text,
        format!("{src}  - name: web.image.tag\n    value: v2\n    forcestring: true\n")
    );
}
