//! The health URL list: parsed, checked and normalised before any request is made.
//!
//! The list usually lives in a CI secret (`RUNTIME_HEALTH_URLS`) that nobody can read back,
//! so a mistake in it must be caught when it is written (`--validate-only`), not during the
//! rollout that needs it. Rules:
//!
//! * entries are separated by commas, whitespace or newlines (a comma inside a URL is
//!   written `%2C`), and lines starting with `#` are comments; a list that starts with `[`
//!   is read as a JSON array of strings;
//! * each entry is an absolute `http` or `https` URL with a host;
//! * `user:password@` is refused: credentials do not belong in a URL list, and the error
//!   shows the URL with them removed;
//! * the WHATWG normal form is kept (scheme and host lowercased, default port dropped,
//!   empty path written `/`), the fragment is dropped (it is never sent), and duplicates
//!   of that form are dropped, first occurrence kept.

use rollout_core::url::redact_userinfo;
use serde_json::Value;

use crate::error::ProbeError;

/// Where a piece of the list came from, and how it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Exactly one URL (`--url`).
    Single,
    /// A separated list or a JSON array (`--urls`, `RUNTIME_HEALTH_URLS`).
    List,
}

/// One source of URLs: its name for messages, its shape and its text.
#[derive(Debug, Clone)]
pub struct Piece<'a> {
    /// `--url`, `--urls` or `RUNTIME_HEALTH_URLS`.
    pub origin: &'a str,
    /// How the text is split.
    pub shape: Shape,
    /// The text as given.
    pub text: &'a str,
}

/// Split one list into its entries.
fn entries(piece: &Piece<'_>) -> Result<Vec<String>, ProbeError> {
    let trimmed = piece.text.trim();
    if piece.shape == Shape::Single {
        return Ok(if trimmed.is_empty() {
            Vec::new()
        } else {
            vec![trimmed.to_string()]
        });
    }
    if trimmed.starts_with('[') {
        let bad = |message: String| ProbeError::BadList {
            origin: piece.origin.to_string(),
            message,
        };
        let value: Value = serde_json::from_str(trimmed).map_err(|e| {
            bad(format!(
                "a list starting with '[' must be a JSON array: {e}"
            ))
        })?;
        let Value::Array(items) = value else {
            return Err(bad("expected a JSON array of strings".into()));
        };
        return items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.trim().to_string()),
                other => Err(ProbeError::BadUrl {
                    origin: piece.origin.to_string(),
                    position: i + 1,
                    url: redact_userinfo(&other.to_string()),
                    message: "expected a string".into(),
                }),
            })
            .collect();
    }
    Ok(trimmed
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .flat_map(|line| line.split(|c: char| c == ',' || c.is_whitespace()))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect())
}

/// Check and normalise one entry.
fn normalise(origin: &str, position: usize, raw: &str) -> Result<String, ProbeError> {
    let shown = redact_userinfo(raw);
    let bad = |message: &str| ProbeError::BadUrl {
        origin: origin.to_string(),
        position,
        url: shown.clone(),
        message: message.to_string(),
    };
    let mut url = url::Url::parse(raw).map_err(|e| {
        bad(&match e {
            url::ParseError::RelativeUrlWithoutBase => {
                "not an absolute URL (expected http://HOST/... or https://HOST/...)".to_string()
            }
            other => other.to_string(),
        })
    })?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(bad(&format!(
            "scheme {:?} is not http or https",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_fragment(None);
        return Err(ProbeError::Credentials {
            origin: origin.to_string(),
            position,
            url: url.to_string(),
        });
    }
    url.set_fragment(None);
    Ok(url.to_string())
}

/// Parse every piece, in order, into one normalised list without duplicates.
/// An empty result is an error ([`ProbeError::NoUrls`]).
pub fn parse(pieces: &[Piece<'_>]) -> Result<Vec<String>, ProbeError> {
    let mut out: Vec<String> = Vec::new();
    for piece in pieces {
        for (i, raw) in entries(piece)?.iter().enumerate() {
            let url = normalise(piece.origin, i + 1, raw)?;
            if !out.contains(&url) {
                out.push(url);
            }
        }
    }
    if out.is_empty() {
        return Err(ProbeError::NoUrls);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollout_core::Failure;

    fn list(text: &str) -> Result<Vec<String>, ProbeError> {
        parse(&[Piece {
            origin: "--urls",
            shape: Shape::List,
            text,
        }])
    }

    #[test]
    fn separators_normal_form_and_duplicates() {
        let got = list(
            " HTTPS://API.Example.com:443/healthz ,https://api.example.com/healthz\n\
             http://web.example.com:80\thttp://web.example.com:8080/x?a=1#frag,,",
        )
        .unwrap();
        assert_eq!(
            got,
            [
                "https://api.example.com/healthz",
                "http://web.example.com/",
                "http://web.example.com:8080/x?a=1",
            ]
        );
        assert_eq!(
            list(r#"["https://a.example/h", "https://a.example/h", "http://[::1]:9/"]"#).unwrap(),
            ["https://a.example/h", "http://[::1]:9/"]
        );
    }

    #[test]
    fn refusals_name_the_entry() {
        let e = list("https://ok.example/, ftp://files.example/").unwrap_err();
        assert_eq!(e.reason_code(), "url_invalid");
        assert!(
            e.to_string().contains("URL 2 \"ftp://files.example/\""),
            "{e}"
        );
        for bad in [
            "example.com/healthz",
            "http://",
            "https://exa mple.com",
            "mailto:a@b",
        ] {
            let e = list(bad).unwrap_err();
            assert_eq!(e.reason_code(), "url_invalid", "{bad}: {e}");
        }
        let e = list("[1]").unwrap_err();
        assert!(e.to_string().contains("expected a string"), "{e}");
        let e = list("[\"https://a/\"").unwrap_err();
        assert_eq!(
            e.to_string(),
            "--urls: a list starting with '[' must be a JSON array: EOF while parsing a list at line 1 column 13"
        );
    }

    #[test]
    fn credentials_are_refused_and_never_shown() {
        for text in [
            "https://deploy:s3cret@api.example.com/healthz",
            "https://s3cret@api.example.com/healthz",
            "[\"https://u:s3cret@api.example.com/healthz\"]",
        ] {
            let e = list(text).unwrap_err();
            assert_eq!(e.reason_code(), "url_credentials", "{text}");
            let shown = e.to_string();
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("https://api.example.com/healthz"), "{shown}");
        }
        let e = list("htp://u:s3cret@x y").unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn empty_lists_are_an_error() {
        for text in ["", " ,\n, ", "[]"] {
            assert_eq!(
                list(text).unwrap_err().reason_code(),
                "urls_empty",
                "{text:?}"
            );
        }
    }

    #[test]
    fn comment_lines_are_skipped() {
        let got = list(
            "# production\nhttps://a.example/h\n  # canary\nhttps://b.example/h # not a comment\n",
        );
        assert_eq!(
            got.unwrap_err().reason_code(),
            "url_invalid",
            "# mid-line is an entry"
        );
        let got = list("# production\nhttps://a.example/h\n  # canary, off\nhttps://b.example/h\n")
            .unwrap();
        assert_eq!(got, ["https://a.example/h", "https://b.example/h"]);
    }

    #[test]
    fn single_urls_keep_their_commas() {
        let got = parse(&[Piece {
            origin: "--url",
            shape: Shape::Single,
            text: "https://a.example/h?x=1,2",
        }])
        .unwrap();
        assert_eq!(got, ["https://a.example/h?x=1,2"]);
    }
}
