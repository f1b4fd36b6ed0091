//! Placement policies and their text form: `replicate 3 regions>=2`, `rs 4+2 jurisdiction=EU`,
//! `replicate 2 tag=cold`, `rs 4+2 eu-only`.
//!
//! Grammar (words separated by spaces, in any order after the redundancy):
//! - `replicate N` (N whole copies, 1 to 16) or `rs K+M` (Reed–Solomon, K and M at least 1,
//!   K+M at most 255), first;
//! - `regions>=R`: the copies span at least R distinct regions (replicate only; R ≤ N);
//! - `jurisdiction=A[,B…]` (repeatable): only backends in one of these jurisdictions
//!   (case-insensitive; printed upper-case); `eu-only` is `jurisdiction=EU`;
//! - `tag=T` (repeatable): only backends carrying every such tag.
//!
//! [`Policy`]'s `Display` prints the canonical form (`replicate 3 regions>=2 jurisdiction=EU
//! tag=a tag=b`: jurisdictions and tags sorted, `regions>=1` left out), which parses back to the
//! same policy.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// Most whole copies a `replicate` policy may ask for.
pub const MAX_COPIES: usize = 16;

/// Why a policy text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The text is empty.
    #[error("empty placement policy: say `replicate N` or `rs K+M`, then any constraints")]
    Empty,
    /// It does not start with `replicate N` or `rs K+M`.
    #[error("a placement policy starts with `replicate N` or `rs K+M`, not {0:?}")]
    NoRedundancy(String),
    /// A number out of range or not a number.
    #[error("bad {what} {got:?}: {why}")]
    BadNumber {
        /// Which number.
        what: &'static str,
        /// What was given.
        got: String,
        /// The allowed range.
        why: String,
    },
    /// A word this grammar does not know.
    #[error(
        "unknown policy word {0:?}: constraints are regions>=N, jurisdiction=X[,Y], tag=T, eu-only"
    )]
    UnknownWord(String),
    /// A constraint that does not fit the redundancy (`regions>=` with `rs`).
    #[error("{0}")]
    Conflict(String),
    /// An empty or malformed jurisdiction or tag.
    #[error("bad {what} {got:?}: use 1 to 64 characters of A-Z a-z 0-9 . _ -")]
    BadLabel {
        /// `jurisdiction` or `tag`.
        what: &'static str,
        /// What was given.
        got: String,
    },
}

/// How many pieces a block is stored as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redundancy {
    /// `copies` whole copies on distinct backends spanning at least `min_regions` regions.
    Replicate {
        /// Whole copies (1 to [`MAX_COPIES`]).
        copies: usize,
        /// Distinct regions the copies must span (1 to `copies`).
        min_regions: usize,
    },
    /// Reed–Solomon `k + m` shards on distinct backends (any `k` rebuild the block).
    Erasure {
        /// Data shards.
        k: usize,
        /// Parity shards.
        m: usize,
    },
}

/// A placement policy: a redundancy and the constraints a backend must meet to hold a piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Copies or shards.
    pub redundancy: Redundancy,
    /// Allowed jurisdictions, upper-case (empty: any, including backends with none).
    pub jurisdictions: BTreeSet<String>,
    /// Tags every backend used must carry.
    pub tags: BTreeSet<String>,
}

impl Policy {
    /// `replicate copies` with no constraints.
    pub fn replicate(copies: usize) -> Self {
        Self {
            redundancy: Redundancy::Replicate {
                copies,
                min_regions: 1,
            },
            jurisdictions: BTreeSet::new(),
            tags: BTreeSet::new(),
        }
    }

    /// `rs k+m` with no constraints.
    pub fn erasure(k: usize, m: usize) -> Self {
        Self {
            redundancy: Redundancy::Erasure { k, m },
            jurisdictions: BTreeSet::new(),
            tags: BTreeSet::new(),
        }
    }

    /// Backends a write needs: copies, or shards.
    pub fn pieces(&self) -> usize {
        match self.redundancy {
            Redundancy::Replicate { copies, .. } => copies,
            Redundancy::Erasure { k, m } => k + m,
        }
    }

    /// Whether a backend in `jurisdiction` with `tags` may hold pieces under this policy.
    pub fn admits(&self, jurisdiction: Option<&str>, tags: &BTreeSet<String>) -> bool {
        let place_ok = self.jurisdictions.is_empty()
            || jurisdiction.is_some_and(|j| self.jurisdictions.contains(&j.to_ascii_uppercase()));
        place_ok && self.tags.is_subset(tags)
    }
}

fn label(what: &'static str, got: &str) -> Result<String, PolicyError> {
    let ok = !got.is_empty()
        && got.len() <= 64
        && got
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(got.to_string())
    } else {
        Err(PolicyError::BadLabel {
            what,
            got: got.to_string(),
        })
    }
}

/// Checks a jurisdiction or tag label (also used for the backend registry).
pub fn check_label(what: &'static str, got: &str) -> Result<(), PolicyError> {
    label(what, got).map(|_| ())
}

fn number(
    what: &'static str,
    got: &str,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, PolicyError> {
    got.parse::<usize>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| PolicyError::BadNumber {
            what,
            got: got.to_string(),
            why: format!("a whole number from {} to {}", range.start(), range.end()),
        })
}

impl FromStr for Policy {
    type Err = PolicyError;

    fn from_str(text: &str) -> Result<Self, PolicyError> {
        let mut words = text.split_whitespace();
        let first = words.next().ok_or(PolicyError::Empty)?;
        let mut redundancy = match first {
            "replicate" => {
                let n = words.next().unwrap_or("");
                Redundancy::Replicate {
                    copies: number("copy count", n, 1..=MAX_COPIES)?,
                    min_regions: 1,
                }
            }
            "rs" => {
                let code = words.next().unwrap_or("");
                let (k, m) = code.split_once('+').ok_or_else(|| PolicyError::BadNumber {
                    what: "erasure code",
                    got: code.to_string(),
                    why: "K+M, e.g. 4+2".to_string(),
                })?;
                let (k, m) = (number("k", k, 1..=254)?, number("m", m, 1..=254)?);
                if k + m > 255 {
                    return Err(PolicyError::BadNumber {
                        what: "erasure code",
                        got: code.to_string(),
                        why: "K+M is at most 255".to_string(),
                    });
                }
                Redundancy::Erasure { k, m }
            }
            other => return Err(PolicyError::NoRedundancy(other.to_string())),
        };
        let mut jurisdictions = BTreeSet::new();
        let mut tags = BTreeSet::new();
        for word in words {
            if let Some(r) = word.strip_prefix("regions>=") {
                let Redundancy::Replicate {
                    copies,
                    ref mut min_regions,
                } = redundancy
                else {
                    return Err(PolicyError::Conflict(
                        "regions>= applies to `replicate`; an `rs` policy spreads shards over \
                         distinct backends, restrict where with jurisdiction= or tag="
                            .to_string(),
                    ));
                };
                *min_regions = number("region count", r, 1..=copies)?;
            } else if let Some(list) = word.strip_prefix("jurisdiction=") {
                for j in list.split(',') {
                    jurisdictions.insert(label("jurisdiction", j)?.to_ascii_uppercase());
                }
            } else if let Some(t) = word.strip_prefix("tag=") {
                tags.insert(label("tag", t)?);
            } else if word == "eu-only" {
                jurisdictions.insert("EU".to_string());
            } else {
                return Err(PolicyError::UnknownWord(word.to_string()));
            }
        }
        Ok(Self {
            redundancy,
            jurisdictions,
            tags,
        })
    }
}

/// Parses untrusted text as a placement policy (what a vault's sealed policy block carries,
/// §8 of FORMAT.md): a typed error or a policy whose canonical text parses back to the same
/// policy and prints the same; never a panic. The fuzz target `retention` runs it.
#[doc(hidden)]
pub fn fuzz_policy_text(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(policy) = text.parse::<Policy>() {
        let canonical = policy.to_string();
        let again: Policy = canonical.parse().expect("a policy's canonical text parses");
        assert_eq!(again, policy, "the canonical text keeps the policy");
        assert_eq!(again.to_string(), canonical, "the canonical text is stable");
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.redundancy {
            Redundancy::Replicate {
                copies,
                min_regions,
            } => {
                write!(f, "replicate {copies}")?;
                if min_regions > 1 {
                    write!(f, " regions>={min_regions}")?;
                }
            }
            Redundancy::Erasure { k, m } => write!(f, "rs {k}+{m}")?,
        }
        if !self.jurisdictions.is_empty() {
            let list: Vec<&str> = self.jurisdictions.iter().map(String::as_str).collect();
            write!(f, " jurisdiction={}", list.join(","))?;
        }
        for t in &self.tags {
            write!(f, " tag={t}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fuzz_property_holds_on_awkward_text() {
        for text in [
            "",
            " ",
            "rs",
            "rs 1+254",
            "rs 254+1",
            "rs +",
            "rs 4+2 regions>=1",
            "replicate 16 regions>=16 eu-only jurisdiction=eu,Eu tag=a tag=a",
            "replicate 2 jurisdiction=",
            "replicate 2 jurisdiction=,",
            "replicate\t2\ntag=x",
            "replicate 02",
            "replicate +2",
            "rs 4+2 tag=\u{e9}",
            "replicate 2 regions>=0",
        ] {
            fuzz_policy_text(text.as_bytes());
        }
        fuzz_policy_text(&[0xff, 0xfe]);
    }

    #[test]
    fn policies_parse_and_print_canonically() {
        for (text, canonical) in [
            ("replicate 3 regions>=2", "replicate 3 regions>=2"),
            ("rs 4+2", "rs 4+2"),
            ("rs 4+2 jurisdiction=eu", "rs 4+2 jurisdiction=EU"),
            ("rs 4+2  eu-only", "rs 4+2 jurisdiction=EU"),
            ("replicate 2 tag=cold", "replicate 2 tag=cold"),
            ("replicate 2 regions>=1", "replicate 2"),
            (
                "replicate 3 tag=b jurisdiction=CH,eu tag=a regions>=3",
                "replicate 3 regions>=3 jurisdiction=CH,EU tag=a tag=b",
            ),
        ] {
            let p: Policy = text.parse().expect(text);
            assert_eq!(p.to_string(), canonical, "{text}");
            assert_eq!(canonical.parse::<Policy>().as_ref(), Ok(&p), "{canonical}");
        }
    }

    #[test]
    fn bad_policies_have_typed_errors() {
        let err = |t: &str| t.parse::<Policy>().expect_err(t);
        assert_eq!(err(""), PolicyError::Empty);
        assert!(matches!(err("mirror 3"), PolicyError::NoRedundancy(_)));
        assert!(matches!(err("replicate"), PolicyError::BadNumber { .. }));
        assert!(matches!(err("replicate 0"), PolicyError::BadNumber { .. }));
        assert!(matches!(err("replicate 17"), PolicyError::BadNumber { .. }));
        assert!(matches!(err("rs 4"), PolicyError::BadNumber { .. }));
        assert!(matches!(err("rs 0+2"), PolicyError::BadNumber { .. }));
        assert!(matches!(err("rs 200+100"), PolicyError::BadNumber { .. }));
        assert!(matches!(
            err("replicate 2 regions>=3"),
            PolicyError::BadNumber { .. }
        ));
        assert!(matches!(err("rs 4+2 regions>=2"), PolicyError::Conflict(_)));
        assert!(matches!(err("rs 4+2 fast"), PolicyError::UnknownWord(_)));
        assert!(matches!(err("rs 4+2 tag="), PolicyError::BadLabel { .. }));
        assert!(matches!(
            err("rs 4+2 jurisdiction=E U"),
            PolicyError::UnknownWord(_)
        ));
        assert!(matches!(
            err("rs 4+2 jurisdiction=EU,"),
            PolicyError::BadLabel { .. }
        ));
    }

    #[test]
    fn constraints_admit_backends() {
        let p: Policy = "rs 2+1 jurisdiction=EU tag=ssd".parse().expect("policy");
        let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert!(p.admits(Some("eu"), &tags(&["ssd", "x"])));
        assert!(!p.admits(Some("US"), &tags(&["ssd"])));
        assert!(!p.admits(None, &tags(&["ssd"])));
        assert!(!p.admits(Some("EU"), &tags(&[])));
        assert!(Policy::erasure(2, 1).admits(None, &tags(&[])));
    }
}
