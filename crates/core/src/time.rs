//! Timestamps and durations, the way every document writes them.
//!
//! Input accepts any RFC 3339 offset and fractional seconds (the replaced scripts accepted
//! only `YYYY-MM-DDTHH:MM:SSZ` and silently failed open on anything else); output is always
//! UTC with a `Z`. Durations are a whole number and one unit, or several such groups
//! (`1h30m`); days are 24 hours and weeks 7 days, never calendar units, so arithmetic on
//! them cannot fail the way `jiff::Span` calendar units do.

use jiff::{SignedDuration, Timestamp};

use crate::error::CoreError;

/// Parse an RFC 3339 timestamp with any offset and optional fractional seconds.
pub fn parse_timestamp(text: &str) -> Result<Timestamp, CoreError> {
    let trimmed = text.trim();
    // jiff also accepts a bracketed time zone annotation and a few other forms; a document
    // timestamp must be plain RFC 3339, so require the date-time separator and an offset.
    let bad = |message: &str| CoreError::InvalidTimestamp {
        value: text.to_string(),
        message: message.to_string(),
    };
    if trimmed.contains('[') {
        return Err(bad("time zone annotations are not RFC 3339"));
    }
    if trimmed.len() < 20 || !matches!(trimmed.as_bytes()[10], b'T' | b't') {
        return Err(bad(
            "expected RFC 3339 such as 2026-11-21T08:00:00Z or 2026-11-21T09:00:00.5+01:00",
        ));
    }
    trimmed
        .parse::<Timestamp>()
        .map_err(|e| bad(&e.to_string()))
}

/// Write a timestamp as RFC 3339 in UTC with a `Z` (fractional seconds only when present).
pub fn format_timestamp(ts: Timestamp) -> String {
    ts.to_string()
}

/// A duration as written in flags and files: `90s`, `45m`, `36h`, `14d`, `2w`, `1h30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration {
    secs: i64,
}

impl Duration {
    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: i64) -> Self {
        Duration { secs }
    }

    /// The length in seconds.
    pub fn as_secs(self) -> i64 {
        self.secs
    }

    /// The same length as a `jiff::SignedDuration`, for timestamp arithmetic.
    pub fn to_signed(self) -> SignedDuration {
        SignedDuration::from_secs(self.secs)
    }

    /// Parse `90s`, `45m`, `36h`, `14d`, `2w` or a sequence of such groups (`1h30m`).
    pub fn parse(text: &str) -> Result<Self, CoreError> {
        const UNITS: &[(&str, i64)] = &[
            ("s", 1),
            ("m", 60),
            ("h", 3600),
            ("d", 86_400),
            ("w", 604_800),
        ];
        // Keep every duration inside what timestamps can represent (about 9999 years).
        match parse_groups(text, UNITS) {
            Some(total) if total <= 315_537_897_599 => Ok(Duration { secs: total }),
            _ => Err(CoreError::InvalidDuration {
                value: text.to_string(),
            }),
        }
    }
}

/// A network wait as written in flags: `500ms`, `5s`, `2m`, `1s500ms`; at most one hour.
/// Timeouts and retry delays need milliseconds, which [`Duration`] (whole seconds, for ages
/// and gaps) does not carry.
pub fn parse_wait(text: &str) -> Result<std::time::Duration, CoreError> {
    const UNITS: &[(&str, i64)] = &[("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)];
    match parse_groups(text, UNITS) {
        Some(millis) if millis <= 3_600_000 => Ok(std::time::Duration::from_millis(millis as u64)),
        _ => Err(CoreError::InvalidWait {
            value: text.to_string(),
        }),
    }
}

/// A wait as [`parse_wait`] reads it: `5s`, `250ms`.
pub fn format_wait(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Sum groups of digits followed by a unit of `units` (name, size in the base unit); `None`
/// when the text is not such a sequence or overflows.
fn parse_groups(text: &str, units: &[(&str, i64)]) -> Option<i64> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits_end = rest.find(|c: char| !c.is_ascii_digit())?;
        let unit_end = rest[digits_end..]
            .find(|c: char| !c.is_ascii_alphabetic())
            .map_or(rest.len(), |i| digits_end + i);
        let (digits, unit) = (&rest[..digits_end], &rest[digits_end..unit_end]);
        let size = units.iter().find(|(name, _)| *name == unit)?.1;
        let n: i64 = digits.parse().ok()?;
        total = total.checked_add(n.checked_mul(size)?)?;
        rest = &rest[unit_end..];
    }
    Some(total)
}

impl Duration {
    /// A readable compound form for measured lengths: `1d3h12m5s`, `45m`, `0s`.
    pub fn compound(self) -> String {
        if self.secs == 0 {
            return "0s".into();
        }
        let sign = if self.secs < 0 { "-" } else { "" };
        let mut rest = self.secs.unsigned_abs();
        let mut out = String::from(sign);
        for (unit, name) in [(86_400u64, 'd'), (3600, 'h'), (60, 'm'), (1, 's')] {
            if rest >= unit {
                out.push_str(&format!("{}{}", rest / unit, name));
                rest %= unit;
            }
        }
        out
    }
}

impl std::fmt::Display for Duration {
    /// The largest single unit that divides the length exactly: `3600s` prints as `1h`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.secs;
        for (unit, name) in [(604_800, 'w'), (86_400, 'd'), (3600, 'h'), (60, 'm')] {
            if s != 0 && s % unit == 0 {
                return write!(f, "{}{}", s / unit, name);
            }
        }
        write!(f, "{s}s")
    }
}

impl std::str::FromStr for Duration {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Duration::parse(s)
    }
}

/// `ts + d`, refusing an overflow past the representable range.
pub fn add(ts: Timestamp, d: Duration) -> Result<Timestamp, CoreError> {
    ts.checked_add(d.to_signed())
        .map_err(|e| CoreError::InvalidTimestamp {
            value: format!("{ts} + {d}"),
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_accept_offsets_and_fractions_and_print_utc() {
        let t = parse_timestamp("2026-11-01T14:00:00.250+02:00").unwrap();
        assert_eq!(format_timestamp(t), "2026-11-01T12:00:00.25Z");
        let t = parse_timestamp("2026-11-01T12:00:00Z").unwrap();
        assert_eq!(format_timestamp(t), "2026-11-01T12:00:00Z");
    }

    #[test]
    fn timestamps_refuse_dates_and_garbage() {
        for bad in [
            "2026-11-01",
            "yesterday",
            "",
            "2026-11-01 12:00:00",
            "2026-11-01T12:00:00",
            "2026-13-01T12:00:00Z",
            "2026-11-01T12:00:00Z[Europe/Paris]",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_parse_and_print() {
        for (text, secs, shown) in [
            ("90s", 90, "90s"),
            ("45m", 2700, "45m"),
            ("36h", 129_600, "36h"),
            ("14d", 1_209_600, "2w"),
            ("2w", 1_209_600, "2w"),
            ("1h30m", 5400, "90m"),
            ("0s", 0, "0s"),
            ("168h", 604_800, "1w"),
        ] {
            let d = Duration::parse(text).unwrap();
            assert_eq!(d.as_secs(), secs, "{text}");
            assert_eq!(d.to_string(), shown, "{text}");
        }
        assert_eq!(Duration::from_secs(97_925).compound(), "1d3h12m5s");
        assert_eq!(Duration::from_secs(-60).compound(), "-1m");
        for bad in [
            "",
            "5",
            "m",
            "1.5h",
            "-5m",
            "5y",
            "5 m",
            "99999999999999999999w",
        ] {
            assert!(Duration::parse(bad).is_err(), "{bad}");
        }
        assert!(Duration::parse("5ms").is_err());
    }

    #[test]
    fn waits_take_milliseconds() {
        for (text, millis) in [
            ("500ms", 500),
            ("5s", 5000),
            ("2m", 120_000),
            ("1s500ms", 1500),
            ("1h", 3_600_000),
            ("0ms", 0),
        ] {
            assert_eq!(parse_wait(text).unwrap().as_millis(), millis, "{text}");
            let shown = format_wait(parse_wait(text).unwrap());
            assert_eq!(parse_wait(&shown).unwrap().as_millis(), millis, "{shown}");
        }
        for bad in ["", "5", "ms", "1.5s", "-1s", "2h", "5d", "5 s", "1x"] {
            assert!(parse_wait(bad).is_err(), "{bad}");
        }
    }
}
