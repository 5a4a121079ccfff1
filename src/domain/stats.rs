//! The rules of the dashboard's statistics, with no I/O: which change ends which stage of a
//! case and which events start it, the log-spaced buckets stage durations are counted in, and
//! reading a median or p90 back from such a histogram. The live writer (`store::stats`) and
//! the rebuild read the same rules, so both count a case the same way.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Timelike, Utc};

use crate::domain::application::{Action, ApplicationState};

/// A stage of a case, timed from the event that starts it to the change that ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// The (re)submission to the pre-review decision (approve, return or reject).
    Prereview,
    /// Pre-review approval to the courier collecting the originals.
    Pickup,
    /// The originals collected to reception checking them (matching or not).
    Transit,
    /// Reception confirming the originals (or, for an item without originals, pre-review
    /// sending it on) to the department's decision.
    Department,
    /// The department's approval to the result delivered (or its receipt confirmed).
    Delivery,
}

pub const ALL_STAGES: [Stage; 5] = [
    Stage::Prereview,
    Stage::Pickup,
    Stage::Transit,
    Stage::Department,
    Stage::Delivery,
];

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prereview => "prereview",
            Self::Pickup => "pickup",
            Self::Transit => "transit",
            Self::Department => "department",
            Self::Delivery => "delivery",
        }
    }

    /// The number stored in the rollup (stable: rows outlive a reordering of the enum).
    pub fn code(self) -> i16 {
        match self {
            Self::Prereview => 1,
            Self::Pickup => 2,
            Self::Transit => 3,
            Self::Department => 4,
            Self::Delivery => 5,
        }
    }

    pub fn from_code(code: i16) -> Option<Self> {
        ALL_STAGES.into_iter().find(|s| s.code() == code)
    }

    /// The stage a state change ends, if any.
    pub fn ended_by(action: Action, from: Option<ApplicationState>) -> Option<Self> {
        use ApplicationState as S;
        match (action, from) {
            (Action::Approve | Action::Return | Action::Reject, _) => Some(Self::Prereview),
            (Action::PickUp, _) => Some(Self::Pickup),
            (Action::Receive | Action::ReceiveMismatch, _) => Some(Self::Transit),
            (Action::DepartmentApprove | Action::DepartmentRefuse, _) => Some(Self::Department),
            (
                Action::DeliverResult | Action::ConfirmReceipt | Action::AutoConfirmReceipt,
                Some(S::ResultInDelivery),
            ) => Some(Self::Delivery),
            _ => None,
        }
    }

    /// The events that start the stage; the latest of them before its end counts.
    pub fn started_by(self) -> &'static [Action] {
        match self {
            Self::Prereview => &[Action::Submit, Action::Resubmit],
            Self::Pickup => &[Action::Approve],
            Self::Transit => &[Action::PickUp],
            Self::Department => &[Action::Receive, Action::SkipPickup],
            Self::Delivery => &[Action::DepartmentApprove],
        }
    }
}

/// Buckets per doubling of a duration. Bucket `b >= 1` holds durations in
/// `[2^((b-1)/8), 2^(b/8))` seconds; bucket 0 holds those under a second. A bucket's value is
/// read back as its geometric middle, at most `2^(1/16) - 1` (4.4%) from any duration in it.
pub const BUCKETS_PER_DOUBLING: f64 = 8.0;

/// The largest relative error of a duration read back from its bucket, for the contract.
pub const BUCKET_ERROR_PERCENT: f64 = 4.4;

/// The bucket of a duration in seconds.
pub fn bucket_of(seconds: i64) -> i16 {
    if seconds < 1 {
        return 0;
    }
    let b = (seconds as f64).log2() * BUCKETS_PER_DOUBLING;
    // A year is bucket ~200; the clamp only guards against absurd clocks.
    (b.floor() as i64 + 1).clamp(1, i16::MAX as i64) as i16
}

/// A bucket's value read back, in whole seconds: its geometric middle (0 for bucket 0).
pub fn bucket_value(bucket: i16) -> i64 {
    if bucket <= 0 {
        return 0;
    }
    let exponent = (f64::from(bucket) - 0.5) / BUCKETS_PER_DOUBLING;
    2f64.powf(exponent).round() as i64
}

/// The value at quantile `q` (0..=1) of a histogram of `(bucket, count)`, by nearest rank;
/// `None` when it is empty.
pub fn quantile(histogram: &[(i16, i64)], q: f64) -> Option<i64> {
    let total: i64 = histogram.iter().map(|(_, n)| n).sum();
    if total <= 0 {
        return None;
    }
    let mut sorted = histogram.to_vec();
    sorted.sort_by_key(|(b, _)| *b);
    // Nearest rank: the smallest value with at least q of the counts at or below it.
    let rank = ((q * total as f64).ceil() as i64).clamp(1, total);
    let mut seen = 0;
    for (bucket, n) in sorted {
        seen += n;
        if seen >= rank {
            return Some(bucket_value(bucket));
        }
    }
    None
}

/// Where an instant falls in the centre's local time: its date and hour.
pub fn local_day_hour(at: DateTime<Utc>, offset: FixedOffset) -> (NaiveDate, i16) {
    let local = at.with_timezone(&offset);
    (local.date_naive(), local.hour() as i16)
}

/// ISO weekday of a date: 1 = Monday .. 7 = Sunday.
pub fn weekday(day: NaiveDate) -> i16 {
    day.weekday().number_from_monday() as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_read_back_within_the_documented_error() {
        for seconds in [
            1i64, 2, 3, 7, 59, 60, 61, 3600, 86_399, 86_400, 604_800, 31_536_000,
        ] {
            let back = bucket_value(bucket_of(seconds)) as f64;
            let error = (back - seconds as f64).abs() / seconds as f64 * 100.0;
            // Rounding to whole seconds adds up to half a second on the smallest buckets.
            assert!(
                error <= BUCKET_ERROR_PERCENT || (back - seconds as f64).abs() <= 0.5,
                "{seconds}: {back} ({error:.2}%)"
            );
        }
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(-5), 0);
        assert_eq!(bucket_value(0), 0);
    }

    #[test]
    fn buckets_grow_with_the_duration() {
        let mut last = 0;
        for seconds in 1..100_000 {
            let b = bucket_of(seconds);
            assert!(b >= last);
            last = b;
        }
    }

    #[test]
    fn quantiles_come_from_the_ranks() {
        let h = [
            (bucket_of(10), 5),
            (bucket_of(100), 4),
            (bucket_of(1000), 1),
        ];
        assert_eq!(quantile(&h, 0.5), Some(bucket_value(bucket_of(10))));
        assert_eq!(quantile(&h, 0.9), Some(bucket_value(bucket_of(100))));
        assert_eq!(quantile(&h, 1.0), Some(bucket_value(bucket_of(1000))));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn each_end_of_a_stage_is_not_its_start() {
        for action in crate::domain::application::ALL_ACTIONS {
            if let Some(stage) = Stage::ended_by(action, Some(ApplicationState::ResultInDelivery)) {
                assert!(!stage.started_by().contains(&action), "{action:?}");
            }
        }
        assert_eq!(
            Stage::ended_by(Action::ConfirmReceipt, Some(ApplicationState::Completed)),
            None
        );
        for stage in ALL_STAGES {
            assert_eq!(Stage::from_code(stage.code()), Some(stage));
        }
    }

    #[test]
    fn local_hours_follow_the_offset() {
        let at = DateTime::parse_from_rfc3339("2026-03-01T17:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let east8 = FixedOffset::east_opt(8 * 3600).unwrap();
        let (day, hour) = local_day_hour(at, east8);
        assert_eq!(day, NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
        assert_eq!(hour, 1);
        assert_eq!(weekday(day), 1);
    }
}
