//! The rewrite as a pure function: file bytes and a digest set in, new bytes, changes,
//! counts and the verdict of every assertion out. Nothing here touches the disk, so the
//! whole plan, for every file, exists and is checked before the first byte is written.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Serialize;

use crate::error::PinError;
use crate::model::DigestSet;
use crate::scanner::{LineIndex, Pin, scan, scan_file};

/// One pin that changes (or, for `--check`, differs).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Change {
    /// The file, relative to the root.
    pub file: String,
    /// 1-based line of the digest.
    pub line: usize,
    /// 1-based column of the digest.
    pub column: usize,
    /// The repository as written in the file.
    pub image: String,
    /// The tag kept next to the digest.
    pub tag: Option<String>,
    /// The digest as written before.
    pub old: String,
    /// The digest written instead.
    pub new: String,
}

/// Counts for one image of the set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Pins of the image found (well-formed ones).
    pub found: u64,
    /// Pins that change.
    pub changed: u64,
    /// Pins that already hold the digest.
    pub already_pinned: u64,
    /// Pins of the image whose digest is malformed (not counted in `found`).
    pub malformed: u64,
}

/// What one file contributes to the plan.
#[derive(Debug, Clone, Default)]
pub struct FilePlan {
    /// The file, relative to the root.
    pub file: String,
    /// Counts per image of the set (same order as the set).
    pub counts: Vec<Counts>,
    /// The pins that change.
    pub changes: Vec<Change>,
    /// Pins of a set image that a rewrite would leave wrong (malformed digests).
    pub stale: Vec<Change>,
    /// The new content, when something changes.
    pub new_bytes: Option<Vec<u8>>,
    /// Why the YAML pass did not run on this file, if it did not.
    pub warning: Option<String>,
}

/// Plan one file: find the set's pins, splice the new digests in, and check the result by
/// scanning it again: every pin of a set image holds its new digest, no pin appeared or
/// vanished, and every byte outside the digests is unchanged.
pub fn plan_file(file: &str, bytes: &[u8], yaml: bool, set: &DigestSet) -> FilePlan {
    let mut plan = FilePlan {
        file: file.to_string(),
        counts: vec![Counts::default(); set.images.len()],
        ..FilePlan::default()
    };
    let (pins, warning) = scan_file(bytes, yaml);
    plan.warning = warning;
    if pins.is_empty() {
        return plan;
    }
    let mut lines = LineIndex::new(bytes);
    let mut edits: Vec<(&Pin, &str)> = Vec::new();
    for pin in &pins {
        let Some(i) = set.find(&pin.image) else {
            continue;
        };
        let new = set.images[i].1.as_str();
        let (line, column) = lines.locate(pin.start);
        let change = Change {
            file: file.to_string(),
            line,
            column,
            image: pin.image.clone(),
            tag: pin.tag.clone(),
            old: pin.digest.clone(),
            new: new.to_string(),
        };
        if pin.malformed {
            plan.counts[i].malformed += 1;
            plan.stale.push(change);
            continue;
        }
        plan.counts[i].found += 1;
        if pin.digest == new {
            plan.counts[i].already_pinned += 1;
        } else {
            plan.counts[i].changed += 1;
            edits.push((pin, new));
            plan.changes.push(change);
        }
    }
    if edits.is_empty() {
        return plan;
    }
    let mut out = Vec::with_capacity(bytes.len() + 64 * edits.len());
    let mut at = 0;
    for (pin, new) in &edits {
        out.extend_from_slice(&bytes[at..pin.start]);
        out.extend_from_slice(new.as_bytes());
        at = pin.end;
    }
    out.extend_from_slice(&bytes[at..]);
    verify(bytes, &out, &edits, yaml, set, &mut plan);
    plan.new_bytes = Some(out);
    plan
}

/// Re-scan the new content; anything unexpected becomes a stale entry, which refuses the
/// write.
fn verify(
    old: &[u8],
    new: &[u8],
    edits: &[(&Pin, &str)],
    yaml: bool,
    set: &DigestSet,
    plan: &mut FilePlan,
) {
    let mut found = vec![0u64; set.images.len()];
    let mut lines = LineIndex::new(new);
    for pin in scan(new, yaml) {
        let Some(i) = set.find(&pin.image) else {
            continue;
        };
        let want = set.images[i].1.as_str();
        if pin.malformed {
            continue; // already recorded as stale from the first scan
        }
        found[i] += 1;
        if pin.digest != want {
            let (line, column) = lines.locate(pin.start);
            plan.stale.push(Change {
                file: plan.file.clone(),
                line,
                column,
                image: pin.image,
                tag: pin.tag,
                old: pin.digest,
                new: want.to_string(),
            });
        }
    }
    let counts_hold = found.iter().zip(&plan.counts).all(|(f, c)| *f == c.found);
    // Every byte between the edits is the old byte.
    let mut old_at = 0;
    let mut new_at = 0;
    let mut bytes_hold = true;
    for (pin, d) in edits {
        let keep = pin.start - old_at;
        bytes_hold &= old[old_at..pin.start] == new[new_at..new_at + keep];
        new_at += keep + d.len();
        old_at = pin.end;
    }
    bytes_hold &= old[old_at..] == new[new_at..];
    if !(counts_hold && bytes_hold) {
        plan.stale.push(Change {
            file: plan.file.clone(),
            line: 1,
            column: 1,
            image: "*".into(),
            tag: None,
            old: "the rewrite changed more than the digests".into(),
            new: String::new(),
        });
    }
}

/// Assertions asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// `--expect N`.
    pub total: Option<u64>,
    /// `--expect-image IMAGE=N`, by index into the set.
    pub per_image: Vec<(usize, u64)>,
    /// `--allow-missing`.
    pub allow_missing: bool,
    /// `--check`: an image whose only pins are malformed is there (the drift check lists
    /// them, exit 1), not missing.
    pub malformed_is_present: bool,
}

impl Expectations {
    /// The assertions of `--expect`, `--expect-image IMAGE=N` (each image one of the set's),
    /// `--allow-missing` and `--check`.
    pub fn parse(
        total: Option<u64>,
        expect_image: &[String],
        allow_missing: bool,
        check: bool,
        set: &DigestSet,
    ) -> Result<Expectations, PinError> {
        let mut per_image = Vec::new();
        for e in expect_image {
            let bad = |message: &str| {
                PinError::from(rollout_core::CoreError::bad_value(
                    "--expect-image",
                    e,
                    message,
                ))
            };
            let (image, n) = e.rsplit_once('=').ok_or_else(|| bad("expected IMAGE=N"))?;
            let n: u64 = n
                .trim()
                .parse()
                .map_err(|_| bad("N must be a whole number"))?;
            let spec = crate::reference::ImageSpec::parse(image.trim()).map_err(|m| bad(&m))?;
            let i = set
                .images
                .iter()
                .position(|(s, _)| *s == spec)
                .ok_or_else(|| bad("not an image of the digest set"))?;
            per_image.push((i, n));
        }
        Ok(Expectations {
            total,
            per_image,
            allow_missing,
            malformed_is_present: check,
        })
    }
}

/// The plan of a whole run, summed over files.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    /// Counts per image of the set.
    pub counts: Vec<Counts>,
}

impl Totals {
    /// Sum file plans.
    pub fn of<'p>(set: &DigestSet, files: impl IntoIterator<Item = &'p FilePlan>) -> Totals {
        let mut counts = vec![Counts::default(); set.images.len()];
        for f in files {
            for (t, c) in counts.iter_mut().zip(&f.counts) {
                t.found += c.found;
                t.changed += c.changed;
                t.already_pinned += c.already_pinned;
                t.malformed += c.malformed;
            }
        }
        Totals { counts }
    }

    /// Pins found for every image.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|c| c.found).sum()
    }

    /// Pins that change.
    pub fn changed(&self) -> u64 {
        self.counts.iter().map(|c| c.changed).sum()
    }

    /// The `perImage` object of the report.
    pub fn per_image(&self, set: &DigestSet) -> IndexMap<String, Counts> {
        set.images
            .iter()
            .zip(&self.counts)
            .map(|((image, _), c)| (image.as_str().to_string(), *c))
            .collect()
    }

    /// Check the count assertions: every image found (unless allowed), per-image counts,
    /// then the total. The first failure is the error.
    pub fn check(&self, set: &DigestSet, expect: &Expectations) -> Result<(), PinError> {
        if !expect.allow_missing {
            let missing: Vec<String> = set
                .images
                .iter()
                .zip(&self.counts)
                .filter(|(_, c)| c.found == 0 && !(expect.malformed_is_present && c.malformed > 0))
                .map(|((i, _), _)| i.as_str().to_string())
                .collect();
            if !missing.is_empty() {
                return Err(PinError::ImageMissing { images: missing });
            }
        }
        for (i, n) in &expect.per_image {
            let actual = self.counts[*i].found;
            if actual != *n {
                return Err(PinError::CountMismatch {
                    what: format!("image {}", set.images[*i].0.as_str()),
                    expected: *n,
                    actual,
                });
            }
        }
        if let Some(n) = expect.total
            && self.total() != n
        {
            return Err(PinError::CountMismatch {
                what: "total".into(),
                expected: n,
                actual: self.total(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "sha256:9a74366aa10eff2bf14dab0948123bd2c51703e1c553a73740ef687f723a0001";
    const NEW: &str = "sha256:28bd5fe8b56d1bd048e5babf5b10710ebe0bae67db86916198a6eec434940002";

    fn set(pairs: &[(&str, &str)]) -> DigestSet {
        DigestSet::from_flags(
            &pairs
                .iter()
                .map(|(i, d)| format!("{i}={d}"))
                .collect::<Vec<_>>(),
            None,
        )
        .unwrap()
    }

    #[test]
    fn only_digest_bytes_change_and_tags_stay() {
        let text = format!(
            "a: ghcr.io/x/fix:v1@{OLD} # c\nb: ghcr.io/x/fix-extra@{OLD}\nc: \"fix@{NEW}\"\n"
        );
        let p = plan_file("f.yml", text.as_bytes(), true, &set(&[("fix", NEW)]));
        let new = String::from_utf8(p.new_bytes.unwrap()).unwrap();
        assert_eq!(new, text.replacen(OLD, NEW, 1));
        assert_eq!(
            p.counts[0],
            Counts {
                found: 2,
                changed: 1,
                already_pinned: 1,
                malformed: 0
            }
        );
        assert_eq!(p.changes[0].tag.as_deref(), Some("v1"));
        assert_eq!((p.changes[0].line, p.changes[0].column), (1, 21));
        assert!(p.stale.is_empty());
    }

    #[test]
    fn a_malformed_pin_of_a_set_image_is_stale() {
        let text = format!("a: fix@{}\n", &OLD[..OLD.len() - 1]);
        let p = plan_file("f", text.as_bytes(), false, &set(&[("fix", NEW)]));
        assert_eq!(p.stale.len(), 1);
        assert_eq!(p.counts[0].found, 0);
    }

    #[test]
    fn sha512_replaces_sha256_and_lengths_may_differ() {
        let long = format!("sha512:{}{}", &NEW[7..], &NEW[7..]);
        let text = format!("x: a/fix@{OLD}\ny: a/fix@{OLD}\n");
        let p = plan_file("f", text.as_bytes(), false, &set(&[("a/fix", &long)]));
        assert!(p.stale.is_empty());
        assert_eq!(
            String::from_utf8(p.new_bytes.unwrap()).unwrap(),
            text.replace(OLD, &long)
        );
    }

    #[test]
    fn assertions_count_occurrences_not_lines() {
        let s = set(&[("fix", NEW), ("review", NEW)]);
        let text = format!("x: fix@{OLD} fix@{OLD}\ny: review@{OLD}\n");
        let t = Totals::of(&s, &[plan_file("f", text.as_bytes(), false, &s)]);
        assert_eq!(t.total(), 3);
        let ok = Expectations {
            total: Some(3),
            per_image: vec![(0, 2)],
            allow_missing: false,
            malformed_is_present: false,
        };
        t.check(&s, &ok).unwrap();
        let bad = Expectations {
            total: Some(2),
            ..ok.clone()
        };
        assert!(matches!(
            t.check(&s, &bad),
            Err(PinError::CountMismatch { .. })
        ));
        let s3 = set(&[("fix", NEW), ("explain", NEW)]);
        let t3 = Totals::of(&s3, &[plan_file("f", text.as_bytes(), false, &s3)]);
        assert!(matches!(
            t3.check(&s3, &Expectations::default()),
            Err(PinError::ImageMissing { .. })
        ));
    }
}
