//! The day's emptyings of the 24-hour box against the runs reception started: which were done,
//! which are missed, which are still to come. Pure.

use chrono::{DateTime, FixedOffset, NaiveTime, TimeZone, Utc};

/// How long before its time a run still counts for an emptying: reception may start a little
/// early.
pub const EARLY_MINUTES: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyingStatus {
    /// A run started for it.
    Done,
    /// Its time has passed and no run started for it.
    Missed,
    /// Still to come.
    Upcoming,
}

impl EmptyingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Missed => "missed",
            Self::Upcoming => "upcoming",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emptying {
    pub at: DateTime<Utc>,
    pub status: EmptyingStatus,
    /// The first run that counts for it.
    pub run_started_at: Option<DateTime<Utc>>,
}

/// The emptyings of `now`'s local day at `times` (sorted by the caller or not), each matched with
/// the first of `runs` (start times) from `EARLY_MINUTES` before it until the next emptying.
pub fn today(
    times: &[NaiveTime],
    runs: &[DateTime<Utc>],
    now: DateTime<Utc>,
    offset: FixedOffset,
) -> Vec<Emptying> {
    let date = now.with_timezone(&offset).date_naive();
    let mut at: Vec<DateTime<Utc>> = times
        .iter()
        .filter_map(|t| offset.from_local_datetime(&date.and_time(*t)).single())
        .map(|t| t.with_timezone(&Utc))
        .collect();
    at.sort();
    at.dedup();
    let early = chrono::Duration::minutes(EARLY_MINUTES);
    at.iter()
        .enumerate()
        .map(|(i, &when)| {
            let until = at.get(i + 1).map(|next| *next - early);
            let run = runs
                .iter()
                .filter(|r| **r >= when - early && until.is_none_or(|u| **r < u))
                .min()
                .copied();
            let status = match run {
                Some(_) => EmptyingStatus::Done,
                None if when <= now => EmptyingStatus::Missed,
                None => EmptyingStatus::Upcoming,
            };
            Emptying {
                at: when,
                status,
                run_started_at: run,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(h: u32, m: u32) -> DateTime<Utc> {
        // 2026-12-07 in UTC+8, as UTC.
        let local = chrono::NaiveDate::from_ymd_opt(2026, 12, 7)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap();
        china()
            .from_local_datetime(&local)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn china() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).unwrap()
    }

    fn times() -> Vec<NaiveTime> {
        ["15:30", "09:30"]
            .iter()
            .map(|t| NaiveTime::parse_from_str(t, "%H:%M").unwrap())
            .collect()
    }

    #[test]
    fn a_run_counts_for_the_emptying_it_is_nearest_after() {
        let day = today(&times(), &[utc(9, 10), utc(9, 50)], utc(12, 0), china());
        assert_eq!(day.len(), 2);
        assert_eq!(day[0].at, utc(9, 30));
        assert_eq!(day[0].status, EmptyingStatus::Done);
        assert_eq!(day[0].run_started_at, Some(utc(9, 10)));
        assert_eq!(day[1].status, EmptyingStatus::Upcoming);
    }

    #[test]
    fn a_time_passed_without_a_run_is_missed() {
        // A run far too early for the morning, and the afternoon's not started yet at 16:00.
        let day = today(&times(), &[utc(7, 0)], utc(16, 0), china());
        assert_eq!(day[0].status, EmptyingStatus::Missed);
        assert_eq!(day[1].status, EmptyingStatus::Missed);
        // A run an hour before the afternoon's counts for it, not for the morning's.
        let day = today(&times(), &[utc(14, 30)], utc(16, 0), china());
        assert_eq!(
            (day[0].status, day[1].status),
            (EmptyingStatus::Missed, EmptyingStatus::Done)
        );
    }
}
