//! Regular expressions given in flags: compiled with a size bound, errors on one line.
//!
//! The `regex` crate explains a syntax error over several lines with a caret under the
//! pattern; CONTRACT.md wants one error line per failure, so only its last line (what is
//! wrong) is kept. The size bound keeps a hostile pattern from taking the memory a
//! pipeline step has.

/// The compiled-size bound for a pattern from a flag (1 MiB).
pub const SIZE_LIMIT: usize = 1 << 20;

/// Compile a pattern over text; the error is one line (`unclosed group`).
pub fn compile(source: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(source)
        .size_limit(SIZE_LIMIT)
        .build()
        .map_err(one_line)
}

/// Compile a pattern over bytes (a response body that may not be UTF-8).
pub fn compile_bytes(source: &str) -> Result<regex::bytes::Regex, String> {
    regex::bytes::RegexBuilder::new(source)
        .size_limit(SIZE_LIMIT)
        .build()
        .map_err(one_line)
}

fn one_line(e: regex::Error) -> String {
    e.to_string()
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("invalid regex")
        .trim_start_matches("error: ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_fit_on_one_line() {
        assert_eq!(compile("(").unwrap_err(), "unclosed group");
        assert_eq!(compile_bytes("a{2,1}").unwrap_err().lines().count(), 1);
        assert!(compile("a{1000}{1000}").unwrap_err().contains("size limit"));
        assert!(compile("^v[0-9]+$").unwrap().is_match("v12"));
    }
}
