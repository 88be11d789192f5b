//! # rollout-resolve: `image-resolve`, the registry asked instead of `docker pull`
//!
//! A rollout pins digests and checks labels; both are facts the registry holds, and none of
//! them needs an image's layers. This crate speaks the OCI distribution API itself:
//!
//! * [`reference`]: image references and the registry each names (Docker Hub's defaults);
//! * [`auth`]: the `WWW-Authenticate` challenge and the credential sources docker uses
//!   (config `auths`, credential helpers, `GITHUB_TOKEN` for ghcr.io), secrets that never print;
//! * [`client`]: HTTPS over ureq on native-tls: the token flow, bounded answers, bounded
//!   retries on 429 and 5xx honouring `Retry-After`, one deadline for the run;
//! * [`manifest`]: manifests, indexes and configs read with `oci-spec`'s types, every digest
//!   computed from the bytes received and compared (pure);
//! * [`tags`]: Flux's tag policies (semver, numeric, alphabetical, regex, extract) (pure);
//! * [`resolve`]: the requests a reference or a tag listing takes;
//! * [`report`]: the `image-report` and `image-tags` documents and their summaries;
//! * [`cli`]: flags and the run sequence.

pub mod auth;
pub mod cli;
pub mod client;
pub mod error;
pub mod manifest;
pub mod reference;
pub mod report;
pub mod resolve;
pub mod tags;
