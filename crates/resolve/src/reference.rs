//! Image references as docker, skopeo and kustomize write them, and the registry each names.
//!
//! `[HOST[:PORT]/]PATH[:TAG][@DIGEST]`: the first component is the registry when it holds a
//! `.` or a `:` or is `localhost` (the rule docker and kustomize use); without one the image
//! is on Docker Hub, whose API host is `registry-1.docker.io` and whose one-component names
//! live under `library/`. No tag and no digest means `latest`, as `docker pull` reads it.
//! The name, tag and digest grammars are core's ([`rollout_core::oci`]), so a reference
//! image-resolve accepts is one digest-pin and tag-bump accept.

use rollout_core::oci::{Digest, check_name, check_tag};

/// Docker Hub as references name it.
pub const DOCKER_HUB: &str = "docker.io";
/// Docker Hub's registry API host.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The registry as written (`ghcr.io`, `127.0.0.1:5000`), `docker.io` when none is.
    pub registry: String,
    /// The repository inside it (`acme/web`, `library/nginx`).
    pub repository: String,
    /// The tag, if one was written or implied (`latest` when neither tag nor digest is).
    pub tag: Option<String>,
    /// The digest, if one was written.
    pub digest: Option<Digest>,
    /// A mirror asked instead of the registry (`--mirror`); names and pins keep the
    /// registry's name.
    pub mirror: Option<String>,
}

impl Reference {
    /// The host (and port) the registry API is asked at: the mirror's, else the registry's.
    pub fn api_host(&self) -> &str {
        self.mirror
            .as_deref()
            .unwrap_or_else(|| api_host(&self.registry))
    }

    /// What to ask the registry for: the digest when one was written (it is the proof a
    /// tag is not), else the tag.
    pub fn manifest_key(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.as_str().to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".into(),
        }
    }

    /// `registry/repository`, the name a pin is written under.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// `registry/repository@digest` for a resolved digest.
    pub fn pinned(&self, digest: &Digest) -> String {
        format!("{}@{}", self.name(), digest.as_str())
    }
}

/// The API host of a registry as references name it (Docker Hub's aliases to its API host).
pub fn api_host(registry: &str) -> &str {
    match registry {
        DOCKER_HUB | "index.docker.io" | DOCKER_HUB_API => DOCKER_HUB_API,
        other => other,
    }
}

/// Parse a reference; `what` is how the error names it (`reference`, `repository`).
/// With `allow_tag` false (a repository for `tags`), a tag or digest is refused.
pub fn parse(text: &str, allow_tag: bool) -> Result<Reference, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("an image reference cannot be empty".into());
    }
    if t.contains("://") {
        return Err("an image reference has no scheme: write host/path[:tag][@digest], as docker does (the registry is always asked over HTTPS)".into());
    }
    let (rest, digest) = match t.split_once('@') {
        Some((r, d)) => (r, Some(Digest::parse(d)?)),
        None => (t, None),
    };
    // a tag is after the last ':' that follows the last '/' (a port's ':' comes before)
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[slash..].rfind(':') {
        Some(i) => {
            let tag = &rest[slash + i + 1..];
            check_tag(tag).map_err(|m| format!("tag {tag:?}: {m}"))?;
            (&rest[..slash + i], Some(tag.to_string()))
        }
        None => (rest, None),
    };
    if !allow_tag && (tag.is_some() || digest.is_some()) {
        return Err("a repository is named without a tag or digest (host/path)".into());
    }
    check_name(name)?;
    let first = name.split('/').next().unwrap_or_default();
    let has_host = name.contains('/') && (first.contains(['.', ':']) || first == "localhost");
    let (registry, mut repository) = if has_host {
        let (h, p) = name.split_once('/').unwrap_or((name, ""));
        (h.to_ascii_lowercase(), p.to_string())
    } else {
        (DOCKER_HUB.to_string(), name.to_string())
    };
    if api_host(&registry) == DOCKER_HUB_API && !repository.contains('/') {
        repository = format!("library/{repository}");
    }
    let tag = match (tag, &digest) {
        (None, None) if allow_tag => Some("latest".to_string()),
        (t, _) => t,
    };
    Ok(Reference {
        registry,
        repository,
        tag,
        digest,
        mirror: None,
    })
}

/// Mirrors: `REGISTRY=HOST[:PORT]` pairs (a pull-through cache or an air-gapped copy asked
/// instead of the registry). Content is addressed by digest and every byte is proven, so a
/// mirror cannot change what is pinned; a tag it serves may lag the registry's.
pub fn parse_mirrors(pairs: &[String]) -> Result<Vec<(String, String)>, String> {
    let host_ok = |h: &str| {
        let (name, port) = h.rsplit_once(':').map_or((h, None), |(n, p)| (n, Some(p)));
        !name.is_empty()
            && name
                .split('.')
                .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            && port.is_none_or(|p| {
                !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
            })
    };
    let mut out = Vec::new();
    for pair in pairs
        .iter()
        .flat_map(|p| p.split([',', ' ', '\n']))
        .filter(|p| !p.is_empty())
    {
        let (registry, host) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?}: expected REGISTRY=HOST[:PORT]"))?;
        let registry = registry.trim().to_ascii_lowercase();
        let host = host.trim().to_ascii_lowercase();
        if !host_ok(&registry) || !host_ok(&host) {
            return Err(format!(
                "{pair:?}: a registry and a mirror are host names, with an optional port (no scheme, no path)"
            ));
        }
        out.push((api_host(&registry).to_string(), host));
    }
    Ok(out)
}

/// The reference with the mirror of its registry, if `mirrors` names one.
pub fn with_mirror(mut r: Reference, mirrors: &[(String, String)]) -> Reference {
    r.mirror = mirrors
        .iter()
        .find(|(reg, _)| reg == api_host(&r.registry))
        .map(|(_, m)| m.clone());
    r
}

/// Check and normalise a platform (`os/arch[/variant]`, lowercased).
pub fn parse_platform(p: &str) -> Result<String, String> {
    let parts: Vec<&str> = p.split('/').collect();
    let ok = (2..=3).contains(&parts.len())
        && parts.iter().all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        });
    if !ok {
        return Err("expected os/arch[/variant], for example linux/arm64/v8".into());
    }
    Ok(p.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: &str) -> Reference {
        parse(t, true).unwrap_or_else(|e| panic!("{t}: {e}"))
    }

    #[test]
    fn registries_and_docker_hub_defaults() {
        let r = p("ghcr.io/acme/web:v1");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("ghcr.io", "acme/web")
        );
        assert_eq!(r.tag.as_deref(), Some("v1"));
        let r = p("127.0.0.1:5000/org/app");
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.tag.as_deref(), Some("latest"));
        let r = p("nginx");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("docker.io", "library/nginx")
        );
        assert_eq!(r.api_host(), "registry-1.docker.io");
        let r = p("bitnami/redis:7.2");
        assert_eq!(r.repository, "bitnami/redis");
        let r = p("localhost/x");
        assert_eq!(r.registry, "localhost");
    }

    #[test]
    fn digests_with_and_without_tags() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = p(&format!("ghcr.io/acme/web:v1@{d}"));
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.manifest_key(), d);
        let r = p(&format!(
            "localhost:5000/web@{}",
            d.to_uppercase().replace("SHA256", "sha256")
        ));
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.unwrap().as_str(), d);
    }

    #[test]
    fn mirrors_are_asked_and_names_kept() {
        let m = parse_mirrors(&["ghcr.io=127.0.0.1:5000, docker.io=mirror.gcr.io".into()]).unwrap();
        let r = with_mirror(p("ghcr.io/acme/web:v1"), &m);
        assert_eq!(
            (r.api_host(), r.name().as_str()),
            ("127.0.0.1:5000", "ghcr.io/acme/web")
        );
        assert_eq!(with_mirror(p("redis"), &m).api_host(), "mirror.gcr.io");
        assert_eq!(with_mirror(p("quay.io/a/b"), &m).api_host(), "quay.io");
        for bad in ["ghcr.io", "ghcr.io=https://x", "=x", "a=b/c"] {
            assert!(parse_mirrors(&[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_references_say_why() {
        for (bad, says) in [
            ("", "empty"),
            ("https://ghcr.io/acme/web", "no scheme"),
            ("ghcr.io/Acme/web", "path component"),
            ("ghcr.io/acme/web:-x", "tag"),
            ("ghcr.io/acme/web@sha256:12", "64"),
        ] {
            let e = parse(bad, true).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        assert!(
            parse("ghcr.io/acme/web:v1", false)
                .unwrap_err()
                .contains("without a tag")
        );
        assert_eq!(parse("ghcr.io/acme/web", false).unwrap().tag, None);
    }
}
