//! `fail_when_refused`: how much refusal by a sink fails a run.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A share of the events offered to a sink in one run, written as a percentage (`"100%"`,
/// `"5%"`, `"0.1%"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Share(f64);

impl Share {
    /// Every event: a run fails only when the sink refused all it was offered.
    pub const ALL: Share = Share(1.0);

    /// The share as a fraction in `[0, 1]`.
    pub fn fraction(self) -> f64 {
        self.0
    }

    /// Whether `part` of `whole` events reaches this share. Nothing refused never does, so
    /// `"0%"` means "any refusal at all".
    pub fn reached_by(self, part: u64, whole: u64) -> bool {
        part > 0 && (whole == 0 || part as f64 >= self.0 * whole as f64)
    }
}

impl Default for Share {
    fn default() -> Self {
        Share::ALL
    }
}

impl fmt::Display for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0 * 100.0)
    }
}

impl std::str::FromStr for Share {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let percent = text
            .trim()
            .strip_suffix('%')
            .and_then(|number| number.trim().parse::<f64>().ok())
            .filter(|n| (0.0..=100.0).contains(n));
        match percent {
            Some(percent) => Ok(Share(percent / 100.0)),
            None => Err(format!(
                "`{text}` is not a percentage from 0% to 100% (write e.g. \"100%\" to fail a run only when the sink refused every event, or \"1%\")"
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Share {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_parse_and_bad_ones_are_refused_with_an_example() {
        assert_eq!("100%".parse::<Share>(), Ok(Share::ALL));
        assert_eq!("5 %".parse::<Share>().map(Share::fraction), Ok(0.05));
        assert_eq!("0%".parse::<Share>().map(Share::fraction), Ok(0.0));
        for bad in ["", "5", "120%", "-1%", "x%", "0.5"] {
            let err = bad.parse::<Share>().unwrap_err();
            assert!(err.contains("\"100%\""), "{bad}: {err}");
        }
    }

    #[test]
    fn a_share_is_reached_at_or_above_it_and_never_by_nothing() {
        assert!(Share::ALL.reached_by(10, 10));
        assert!(!Share::ALL.reached_by(9, 10));
        let five: Share = "5%".parse().unwrap();
        assert!(five.reached_by(5, 100));
        assert!(!five.reached_by(4, 100));
        let zero: Share = "0%".parse().unwrap();
        assert!(zero.reached_by(1, 1_000_000));
        assert!(!zero.reached_by(0, 10));
    }
}
