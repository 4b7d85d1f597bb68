//! Late events: APIs publish some events a while after their event time, so a client that
//! lists a window too soon misses them unless it waits (a settle delay) or reads again.
//!
//! Every profile shares this model. A deterministic share of the events (chosen from the
//! seed) becomes visible a delay after its time; the rest at their time. Nothing is served
//! before it is visible, so an event whose time lies in the future is not served either.

use std::time::Duration;

use super::rng::{domain, hash3};

/// Events that the API publishes some time after their event time.
///
/// A deterministic `fraction` of the events (chosen from the seed) becomes visible a delay
/// uniform in `(0, max_delay]` after its time; the others at their time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LateEvents {
    /// Share of late events, in `[0, 1]`.
    pub fraction: f64,
    /// Longest delay.
    pub max_delay: Duration,
}

impl LateEvents {
    /// Rejects a share outside `[0, 1]`, and late events without a delay.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.fraction),
            "late.fraction must be within [0, 1], got {}",
            self.fraction
        );
        anyhow::ensure!(
            self.fraction == 0.0 || !self.max_delay.is_zero(),
            "late.max_delay must be positive when late.fraction is"
        );
        Ok(())
    }
}

/// Which events of one seed are late, and by how much.
#[derive(Clone, Debug, Default)]
pub(crate) struct Lateness {
    seed: u64,
    /// Events whose hash is below this (in `[0, 2^64)`) are late.
    threshold: u128,
    max_delay_ns: u64,
}

impl Lateness {
    pub(crate) fn new(seed: u64, late: &LateEvents) -> Self {
        let max_delay_ns = u64::try_from(late.max_delay.as_nanos()).unwrap_or(u64::MAX);
        let fraction = if late.fraction.is_finite() {
            late.fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let threshold = if max_delay_ns == 0 {
            0
        } else {
            // 2^64 as a float: the share of the hash space that is late.
            (fraction * 18_446_744_073_709_551_616.0) as u128
        };
        Self {
            seed,
            threshold,
            max_delay_ns,
        }
    }

    /// Whether any event can be late at all.
    pub(crate) fn any(&self) -> bool {
        self.threshold > 0
    }

    /// The longest delay of a late event, in nanoseconds; 0 when none is late.
    pub(crate) fn max_delay_ns(&self) -> u64 {
        if self.any() {
            self.max_delay_ns
        } else {
            0
        }
    }

    /// How long after its time event `index` becomes visible, in nanoseconds.
    pub(crate) fn delay_ns(&self, index: u64) -> u64 {
        if self.threshold == 0
            || u128::from(hash3(self.seed, domain::LATE, index)) >= self.threshold
        {
            return 0;
        }
        1 + hash3(self.seed, domain::LATE_DELAY, index) % self.max_delay_ns
    }
}

/// Now, in nanoseconds since the Unix epoch.
pub(crate) fn now_ns() -> i128 {
    let now = chrono::Utc::now();
    i128::from(now.timestamp()) * 1_000_000_000 + i128::from(now.timestamp_subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_of_late_events_and_their_delays_follow_the_settings() {
        let late = LateEvents {
            fraction: 0.25,
            max_delay: Duration::from_secs(2),
        };
        let lateness = Lateness::new(7, &late);
        let delays: Vec<u64> = (0..10_000).map(|i| lateness.delay_ns(i)).collect();
        let count = delays.iter().filter(|d| **d > 0).count();
        assert!((2_200..2_800).contains(&count), "{count} late of 10,000");
        assert!(delays.iter().all(|d| *d <= 2_000_000_000));
        assert!(!Lateness::new(7, &LateEvents::default()).any());
        assert_eq!(Lateness::new(7, &LateEvents::default()).delay_ns(3), 0);
    }

    #[test]
    fn bad_settings_are_refused() {
        let share = LateEvents {
            fraction: 1.5,
            max_delay: Duration::from_secs(1),
        };
        assert!(share.validate().is_err());
        let no_delay = LateEvents {
            fraction: 0.5,
            max_delay: Duration::ZERO,
        };
        assert!(no_delay.validate().is_err());
        assert!(LateEvents::default().validate().is_ok());
    }
}
