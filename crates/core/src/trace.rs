//! Trace ids: one id follows a change through every tool of a pipeline.
//!
//! Resolution order (CONTRACT.md §3): `--trace-id`, then `ROLLOUT_TRACE_ID`, then the
//! `traceId` of the input document, then a fresh random UUID. The generator is a parameter
//! so domain code and tests never read randomness ad hoc.

/// Pick the trace id by the documented precedence; `generate` runs only when needed.
pub fn resolve(
    flag_or_env: Option<&str>,
    inherited: Option<&str>,
    generate: impl FnOnce() -> String,
) -> String {
    flag_or_env
        .filter(|s| !s.trim().is_empty())
        .or(inherited.filter(|s| !s.trim().is_empty()))
        .map(str::to_string)
        .unwrap_or_else(generate)
}

/// A random version-4 UUID in lowercase, from the kernel's random source.
pub fn random_uuid() -> String {
    let mut b = [0u8; 16];
    let filled = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .is_ok();
    if !filled {
        // No /dev/urandom: mix the clock, the pid and an address; unique enough for tracing.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
            ^ (u128::from(std::process::id()) << 64)
            ^ (&b as *const _ as usize as u128);
        b = seed.to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::hash::hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence() {
        assert_eq!(resolve(Some("f"), Some("i"), || "g".into()), "f");
        assert_eq!(resolve(None, Some("i"), || "g".into()), "i");
        assert_eq!(resolve(Some(" "), None, || "g".into()), "g");
    }

    #[test]
    fn uuid_shape() {
        let u = random_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(u, random_uuid());
    }
}
