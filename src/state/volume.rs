//! What a source's usual volume is, per hour of the week: the events its commits delivered in
//! each hour, learnt over the weeks (a running mean over about [`WEEKS_LEARNT`] weeks), kept
//! in the source's checkpoint so that it survives restarts and is shared by every worker. The
//! `volume_low` alert compares the last complete hour with it.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Deserialize, Serialize};

/// Hours in a week: the profile's buckets (Monday 00:00 UTC first).
pub const HOURS_PER_WEEK: usize = 168;

/// Weeks the running mean of an hour weighs (about): older weeks fade out.
pub const WEEKS_LEARNT: u16 = 4;

/// Events delivered per hour of the week (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VolumeProfile {
    /// The hour being counted (hours since the Unix epoch), if any yet.
    hour: Option<i64>,
    /// Events delivered in it so far.
    count: u64,
    /// The hour counted before it: its hour, its count, and what was usual for it then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous: Option<PastHour>,
    /// Per hour of the week, the mean of its counts; empty until an hour was completed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    means: Vec<f64>,
    /// Per hour of the week, the weeks its mean has seen (up to [`WEEKS_LEARNT`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    weeks: Vec<u16>,
}

/// One completed hour.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct PastHour {
    hour: i64,
    count: u64,
    usual: Option<Usual>,
}

/// What was usual for an hour of the week: the mean of its counts over `weeks` weeks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Usual {
    /// Mean events in that hour of the week.
    pub mean: f64,
    /// Weeks the mean was learnt from.
    pub weeks: u16,
}

/// The last complete hour, and what is usual for its hour of the week.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HourVolume {
    /// Its start.
    pub start: DateTime<Utc>,
    /// Events delivered in it.
    pub events: u64,
    /// What was usual for it before it was counted; `None` before it was ever seen.
    pub usual: Option<Usual>,
}

fn hour_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(3600)
}

/// Monday 00:00 UTC is 0.
fn hour_of_week(hour: i64) -> usize {
    // 1970-01-01 was a Thursday: hour 0 of the epoch is hour 72 of its week.
    ((hour + 72).rem_euclid(HOURS_PER_WEEK as i64)) as usize
}

impl VolumeProfile {
    /// Whether nothing was ever counted.
    pub fn is_empty(&self) -> bool {
        self.hour.is_none()
    }

    /// Notes `events` delivered at `at`: hours that went by since the last note are completed
    /// (the first with its count, the others, if any, with none).
    pub fn add(&mut self, at: DateTime<Utc>, events: u64) {
        let now = hour_of(at);
        match self.hour {
            Some(hour) if hour == now => self.count += events,
            // A clock that went back: keep counting the hour we are in.
            Some(hour) if now < hour => self.count += events,
            Some(hour) => {
                self.complete(hour, self.count);
                // Quiet hours in between (at most a week of them is worth learning).
                let quiet_from = (hour + 1).max(now - HOURS_PER_WEEK as i64);
                for quiet in quiet_from..now {
                    self.complete(quiet, 0);
                }
                self.hour = Some(now);
                self.count = events;
            }
            None => {
                self.hour = Some(now);
                self.count = events;
            }
        }
    }

    fn complete(&mut self, hour: i64, count: u64) {
        if self.means.len() != HOURS_PER_WEEK || self.weeks.len() != HOURS_PER_WEEK {
            self.means = vec![0.0; HOURS_PER_WEEK];
            self.weeks = vec![0; HOURS_PER_WEEK];
        }
        let slot = hour_of_week(hour);
        let usual = self.usual_at(slot);
        let seen = self.weeks[slot];
        let weight = f64::from(seen.saturating_add(1).min(WEEKS_LEARNT));
        self.means[slot] += (count as f64 - self.means[slot]) / weight;
        self.weeks[slot] = seen.saturating_add(1).min(WEEKS_LEARNT);
        self.previous = Some(PastHour { hour, count, usual });
    }

    fn usual_at(&self, slot: usize) -> Option<Usual> {
        let weeks = *self.weeks.get(slot)?;
        (weeks > 0).then(|| Usual {
            mean: self.means[slot],
            weeks,
        })
    }

    /// The hour before the one `now` is in, with its count and what is usual for it; `None`
    /// when nothing was ever counted or the profile is ahead of `now`.
    pub fn last_hour(&self, now: DateTime<Utc>) -> Option<HourVolume> {
        let wanted = hour_of(now) - 1;
        let counting = self.hour?;
        let start = DateTime::from_timestamp(wanted * 3600, 0)?;
        let (events, usual) = if counting == wanted {
            (self.count, self.usual_at(hour_of_week(wanted)))
        } else if counting < wanted {
            // Nothing was delivered since an earlier hour.
            (0, self.usual_at(hour_of_week(wanted)))
        } else {
            let previous = self.previous.filter(|p| p.hour == wanted)?;
            (previous.count, previous.usual)
        };
        Some(HourVolume {
            start,
            events,
            usual,
        })
    }
}

/// `start` as "Monday 09:00 UTC", for messages.
pub fn hour_name(start: DateTime<Utc>) -> String {
    format!("{} {:02}:00 UTC", start.weekday(), start.hour())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        // December 2026: the 7th is a Monday.
        Utc.with_ymd_and_hms(2026, 12, day, hour, 30, 0).unwrap()
    }

    #[test]
    fn hours_of_the_week_start_on_monday() {
        assert_eq!(hour_of_week(hour_of(at(7, 0))), 0);
        assert_eq!(hour_of_week(hour_of(at(7, 9))), 9);
        assert_eq!(hour_of_week(hour_of(at(13, 23))), 167);
    }

    #[test]
    fn an_hour_is_judged_against_the_same_hour_of_earlier_weeks() {
        let mut profile = VolumeProfile::default();
        // Three weeks of Mondays with 1,000 events at 09:00, nothing at 10:00.
        for week in 0..3 {
            let day = 7 + 7 * week; // the 7th, 14th, 21st
            profile.add(at(day, 9), 600);
            profile.add(at(day, 9), 400);
            profile.add(at(day, 11), 5);
        }
        // The fourth Monday: 50 events at 09:00.
        profile.add(at(28, 9), 50);
        profile.add(at(28, 10), 1);
        let last = profile.last_hour(at(28, 10)).unwrap();
        assert_eq!(last.events, 50);
        assert_eq!(
            last.start,
            Utc.with_ymd_and_hms(2026, 12, 28, 9, 0, 0).unwrap()
        );
        let usual = last.usual.unwrap();
        assert_eq!(usual.weeks, 3);
        assert!((usual.mean - 1_000.0).abs() < 1e-9, "{usual:?}");
        // An hour nothing was delivered in counts as 0, judged against its usual 0.
        let quiet = profile.last_hour(at(28, 11)).unwrap();
        assert_eq!(quiet.events, 1);
        assert!(quiet.usual.unwrap().mean.abs() < 1e-9);
    }

    #[test]
    fn a_source_that_stops_delivering_shows_zero_for_the_last_hour() {
        let mut profile = VolumeProfile::default();
        for day in [7, 14] {
            profile.add(at(day, 9), 1_000);
            profile.add(at(day, 10), 1_000);
        }
        profile.add(at(21, 8), 1_000);
        // Nothing since 08:xx on the 21st; at 10:30 the last hour (09:00) had none.
        let last = profile.last_hour(at(21, 10)).unwrap();
        assert_eq!(last.events, 0);
        assert!((last.usual.unwrap().mean - 1_000.0).abs() < 1e-9);
    }

    #[test]
    fn the_mean_follows_a_lasting_change_within_weeks() {
        let mut profile = VolumeProfile::default();
        let monday = at(7, 9);
        for week in 0..10 {
            let nine = monday + chrono::TimeDelta::weeks(week);
            profile.add(nine, if week < 5 { 1_000 } else { 100 });
            profile.add(nine + chrono::TimeDelta::hours(1), 0);
        }
        let usual = profile.usual_at(hour_of_week(hour_of(monday))).unwrap();
        assert_eq!(usual.weeks, WEEKS_LEARNT);
        // Five weeks after the drop to 100, the mean has moved most of the way from 1,000.
        assert!(usual.mean > 100.0 && usual.mean < 400.0, "{usual:?}");
    }
}
