//! URLs in messages and documents: credentials never shown.
//!
//! CONTRACT.md §6: URLs in output have their userinfo removed. tag-bump (remotes),
//! health-probe (health URLs) and freshness-check (the repository's origin) all print URLs
//! that a user may have written with a token in them.

/// Drop the `user:password@` part of every URL in a text.
pub fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        out.push_str(&rest[..i + 3]);
        rest = &rest[i + 3..];
        let authority_end = rest
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            rest = &rest[at + 1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_never_shows() {
        assert_eq!(
            redact_userinfo("fetch https://u:s3cret@host/r.git and http://x@h/"),
            "fetch https://host/r.git and http://h/"
        );
        assert_eq!(redact_userinfo("no url here"), "no url here");
    }
}
