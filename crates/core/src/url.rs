//! URLs in messages and documents: credentials never shown.
//!
//! CONTRACT.md §6: URLs in output have their userinfo removed. tag-bump (remotes),
//! health-probe (health URLs) and freshness-check (the repository's origin) all print URLs
//! that a user may have written with a token in them.

/// Query parameters whose value is a credential (compared without case).
const SECRET_PARAMS: [&str; 14] = [
    "access_token",
    "token",
    "private_token",
    "password",
    "passwd",
    "pwd",
    "secret",
    "client_secret",
    "api_key",
    "apikey",
    "key",
    "sig",
    "signature",
    "x-amz-signature",
];

/// Characters that end a URL in a message.
fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | ']' | '`')
}

/// Remove every credential a URL in `text` carries: the `user:password@` part (of
/// `scheme://` URLs; of scp-like `user:password@host:path` when it has a password), and the
/// values of query parameters that hold one (`?access_token=`, `token`, `sig`, ... become
/// `***`).
pub fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let start = rest.find(|c: char| !ends_url(c)).unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(ends_url).unwrap_or(rest.len());
        out.push_str(&redact_word(&rest[..end]));
        rest = &rest[end..];
    }
    out
}

/// One word of a message (a comma-separated list of URLs, as a URL list secret holds,
/// is taken URL by URL).
fn redact_word(word: &str) -> String {
    word.split(',')
        .map(redact_one)
        .collect::<Vec<_>>()
        .join(",")
}

/// One URL (or anything else, kept).
fn redact_one(word: &str) -> String {
    let Some(scheme_end) = word.find("://") else {
        return redact_scp(word);
    };
    let (head, tail) = word.split_at(scheme_end + 3);
    let authority_end = tail.find(['/', '?', '#']).unwrap_or(tail.len());
    let tail = match tail[..authority_end].rfind('@') {
        Some(at) => &tail[at + 1..],
        None => tail,
    };
    let mut out = String::from(head);
    let Some((path, query)) = tail.split_once('?') else {
        out.push_str(tail);
        return out;
    };
    out.push_str(path);
    out.push('?');
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if SECRET_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(k)) => {
                format!("{k}=***")
            }
            _ => p.to_string(),
        })
        .collect();
    out.push_str(&params.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// git's scp-like `user:password@host:path`: the credentials dropped (a bare `git@` user
/// is no secret and stays).
fn redact_scp(word: &str) -> String {
    if let Some(at) = word.find('@') {
        let (user, host) = (&word[..at], &word[at + 1..]);
        if user.contains(':') && !user.contains('/') && host.contains(':') {
            return host.to_string();
        }
    }
    word.to_string()
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

    #[test]
    fn query_tokens_and_scp_like_credentials_never_show() {
        assert_eq!(
            redact_userinfo("origin https://h/r.git?access_token=s3cret&ref=main#x: failed"),
            "origin https://h/r.git?access_token=***&ref=main#x: failed"
        );
        assert_eq!(
            redact_userinfo("(https://h/p?X-Amz-Signature=abc&Token=t)"),
            "(https://h/p?X-Amz-Signature=***&Token=***)"
        );
        assert_eq!(
            redact_userinfo("fetch u:pw@host:org/r.git"),
            "fetch host:org/r.git"
        );
        assert_eq!(
            redact_userinfo("git@github.com:org/r.git"),
            "git@github.com:org/r.git"
        );
        assert_eq!(
            redact_userinfo("mail a@b.c at 10:30"),
            "mail a@b.c at 10:30"
        );
        assert_eq!(
            redact_userinfo("https://h/a,https://u:p@h2/b"),
            "https://h/a,https://h2/b"
        );
        assert_eq!(
            redact_userinfo("\"https://u:p@h/x\" and 'http://v@h'"),
            "\"https://h/x\" and 'http://h'"
        );
    }
}
