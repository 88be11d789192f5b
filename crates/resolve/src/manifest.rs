//! What a registry answered, read and proven: manifests, indexes and image configs.
//!
//! Pure: bytes in, facts out. A manifest's digest is computed here from the bytes received
//! (the algorithm of the digest asked for, sha256 otherwise) and compared with the digest
//! asked for and with the registry's `Docker-Content-Digest`: a registry, a proxy or a
//! cache that hands back other bytes is caught, not believed. The shapes are the OCI image
//! spec's (`oci-spec`'s types); Docker's schema 2 manifest and manifest list have the same
//! shape under their own media types, and schema 1 is refused.

use std::collections::BTreeMap;

use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest};
use rollout_core::oci::{Algorithm, Digest};
use sha2::{Digest as _, Sha256, Sha512};

/// Media types of an image index (OCI) or manifest list (Docker).
pub const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
/// Media types of an image manifest (OCI, Docker schema 2).
pub const MANIFEST_TYPES: [&str; 2] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];
/// Media types of an image config whose labels can be read.
pub const CONFIG_TYPES: [&str; 2] = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

/// The `Accept` header of a manifest request: every type above, nothing else.
pub fn accept() -> String {
    INDEX_TYPES
        .iter()
        .chain(MANIFEST_TYPES.iter())
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

/// The digest of bytes with a given algorithm.
pub fn digest_of(algorithm: Algorithm, bytes: &[u8]) -> Digest {
    let hex: String = match algorithm {
        Algorithm::Sha256 => Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        Algorithm::Sha512 => Sha512::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    };
    Digest::parse(&format!("{}:{hex}", algorithm.name())).expect("a computed digest parses")
}

/// Why received bytes are not what was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// The bytes hash to another digest than the one asked for.
    NotAsked {
        /// Asked for.
        expected: Digest,
        /// Computed.
        actual: Digest,
    },
    /// The registry's `Docker-Content-Digest` names other bytes than those it sent.
    HeaderDiffers {
        /// The header.
        header: String,
        /// Computed.
        actual: Digest,
    },
}

/// Hash `bytes`, and check them against the digest asked for and the registry's header.
pub fn prove(bytes: &[u8], asked: Option<&Digest>, header: Option<&str>) -> Result<Digest, Proof> {
    let algorithm = asked.map_or(Algorithm::Sha256, Digest::algorithm);
    let actual = digest_of(algorithm, bytes);
    if let Some(expected) = asked
        && *expected != actual
    {
        return Err(Proof::NotAsked {
            expected: expected.clone(),
            actual,
        });
    }
    if let Some(h) = header.map(str::trim).filter(|h| !h.is_empty())
        && let Ok(d) = Digest::parse(h)
        && d.algorithm() == algorithm
        && d != actual
    {
        return Err(Proof::HeaderDiffers {
            header: h.to_string(),
            actual,
        });
    }
    Ok(actual)
}

/// One platform child of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    /// `linux`, `windows`.
    pub os: String,
    /// `amd64`, `arm64`.
    pub architecture: String,
    /// `v8`, `v7`, when given.
    pub variant: Option<String>,
    /// The child manifest's digest.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
}

impl Child {
    /// `os/arch[/variant]`.
    pub fn platform(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

/// A manifest as read.
#[derive(Debug, Clone)]
pub enum Manifest {
    /// An index: its platform children (entries without a platform, such as attestations,
    /// are left out).
    Index(Vec<Child>),
    /// An image: its config descriptor.
    Image {
        /// The config blob's digest.
        config: Digest,
        /// The config's media type.
        config_type: String,
        /// Layers, and the total of their sizes.
        layers: usize,
        /// Total size of the layers in bytes.
        layers_size: u64,
    },
}

/// The media type a manifest declares: its `mediaType` field, else the `Content-Type`.
pub fn media_type(bytes: &[u8], content_type: Option<&str>) -> String {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
    }
    serde_json::from_slice::<Head>(bytes)
        .ok()
        .and_then(|h| h.media_type)
        .or_else(|| content_type.map(|c| c.split(';').next().unwrap_or(c).trim().to_string()))
        .unwrap_or_default()
}

fn digest(d: &impl std::fmt::Display) -> Result<Digest, String> {
    Digest::parse(&d.to_string())
}

/// Read a manifest of `media_type`; the error says what was wrong.
pub fn parse(media_type: &str, bytes: &[u8]) -> Result<Manifest, String> {
    if INDEX_TYPES.contains(&media_type) {
        let index: ImageIndex =
            serde_json::from_slice(bytes).map_err(|e| format!("not an image index: {e}"))?;
        let mut children = Vec::new();
        for m in index.manifests() {
            let Some(p) = m.platform() else { continue };
            let os = p.os().to_string();
            if os == "unknown" {
                continue; // buildkit's attestation manifests
            }
            children.push(Child {
                os,
                architecture: p.architecture().to_string(),
                variant: p.variant().clone().filter(|v| !v.is_empty()),
                digest: digest(m.digest())?,
                media_type: m.media_type().to_string(),
                size: m.size(),
            });
        }
        Ok(Manifest::Index(children))
    } else if MANIFEST_TYPES.contains(&media_type) {
        let m: ImageManifest =
            serde_json::from_slice(bytes).map_err(|e| format!("not an image manifest: {e}"))?;
        Ok(Manifest::Image {
            config: digest(m.config().digest())?,
            config_type: m.config().media_type().to_string(),
            layers: m.layers().len(),
            layers_size: m.layers().iter().map(|l| l.size()).sum(),
        })
    } else if media_type.starts_with("application/vnd.docker.distribution.manifest.v1") {
        Err("a Docker schema 1 manifest, which image-resolve does not read (push the image again with a current client)".into())
    } else {
        Err(format!(
            "media type {media_type:?} is neither an image manifest nor an index"
        ))
    }
}

/// What an image config says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// `created`, as written.
    pub created: Option<String>,
    /// The labels, sorted.
    pub labels: BTreeMap<String, String>,
    /// `os/arch[/variant]` the config declares.
    pub platform: String,
}

/// Read an image config.
pub fn parse_config(bytes: &[u8]) -> Result<Config, String> {
    let c: ImageConfiguration =
        serde_json::from_slice(bytes).map_err(|e| format!("not an image config: {e}"))?;
    let labels = c
        .labels_of_config()
        .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let mut platform = format!("{}/{}", c.os(), c.architecture());
    if let Some(v) = c.variant().as_deref().filter(|v| !v.is_empty()) {
        platform = format!("{platform}/{v}");
    }
    Ok(Config {
        created: c.created().clone(),
        labels,
        platform,
    })
}

/// The child for `want` (`os/arch[/variant]`): an exact match, or the one child of that
/// os/arch when `want` names no variant.
pub fn select<'a>(children: &'a [Child], want: &str) -> Option<&'a Child> {
    children.iter().find(|c| c.platform() == want).or_else(|| {
        let same: Vec<&Child> = children
            .iter()
            .filter(|c| format!("{}/{}", c.os, c.architecture) == want)
            .collect();
        (same.len() == 1).then(|| same[0])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":10,"platform":{"architecture":"amd64","os":"linux"}},
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":11,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}},
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:3333333333333333333333333333333333333333333333333333333333333333","size":12,"platform":{"architecture":"unknown","os":"unknown"}}]}"#;

    #[test]
    fn an_index_lists_its_platforms_without_attestations() {
        let Manifest::Index(children) = parse(INDEX_TYPES[0], INDEX.as_bytes()).unwrap() else {
            panic!("not an index")
        };
        let names: Vec<String> = children.iter().map(Child::platform).collect();
        assert_eq!(names, ["linux/amd64", "linux/arm64/v8"]);
        assert_eq!(select(&children, "linux/arm64").unwrap().size, 11);
        assert_eq!(select(&children, "linux/arm64/v8").unwrap().size, 11);
        assert!(select(&children, "linux/s390x").is_none());
    }

    #[test]
    fn bytes_are_proven_against_the_asked_digest_and_the_header() {
        let bytes = b"{}";
        let d = digest_of(Algorithm::Sha256, bytes);
        assert_eq!(prove(bytes, Some(&d), Some(d.as_str())).unwrap(), d);
        let other = digest_of(Algorithm::Sha256, b"[]");
        assert!(matches!(
            prove(bytes, Some(&other), None),
            Err(Proof::NotAsked { .. })
        ));
        assert!(matches!(
            prove(bytes, None, Some(other.as_str())),
            Err(Proof::HeaderDiffers { .. })
        ));
        let d512 = digest_of(Algorithm::Sha512, bytes);
        assert_eq!(prove(bytes, Some(&d512), Some(d.as_str())).unwrap(), d512);
    }

    #[test]
    fn schema_1_and_other_types_are_refused_by_name() {
        assert!(
            parse(
                "application/vnd.docker.distribution.manifest.v1+prettyjws",
                b"{}"
            )
            .unwrap_err()
            .contains("schema 1")
        );
        assert!(parse("text/html", b"{}").unwrap_err().contains("text/html"));
        assert_eq!(media_type(b"{\"mediaType\":\"x\"}", Some("y")), "x");
        assert_eq!(media_type(b"{}", Some("y; charset=utf-8")), "y");
    }
}
