//! Periodic work as scheduled jobs. Each schedule divides time into slots; every instance's
//! worker enqueues the current slot's job with the slot as its dedupe key, so however many
//! instances run, each slot's job is created (and run) once.

use std::collections::HashMap;

use chrono::{DateTime, Duration, FixedOffset, NaiveTime, TimeZone, Utc};
use serde_json::json;

use crate::config::{Config, parse_local_time};
use crate::jobs::{JobKind, new_job};
use crate::state::AppState;
use crate::store::jobs as queue;

pub struct Scheduler {
    every: Vec<(JobKind, i64)>,
    digest_times: Vec<NaiveTime>,
    dispatch_cutoffs: Vec<NaiveTime>,
    offset: FixedOffset,
    /// The last slot this instance enqueued, per kind: saves a write per tick.
    last: HashMap<&'static str, String>,
}

/// One slot's job.
#[derive(Debug, PartialEq, Eq)]
pub struct Slot {
    pub kind: JobKind,
    pub key: String,
    pub payload: serde_json::Value,
}

impl Scheduler {
    pub fn new(config: &Config) -> Self {
        let times = |list: &[String]| {
            let mut parsed: Vec<NaiveTime> =
                list.iter().filter_map(|t| parse_local_time(t)).collect();
            parsed.sort();
            parsed.dedup();
            parsed
        };
        let digest_times = times(&config.notifications.digest_times);
        let dispatch_cutoffs = times(&config.courier.dispatch_cutoffs);
        Self {
            every: vec![
                (JobKind::SweepUploads, 60),
                (JobKind::ReleaseClaims, 60),
                (
                    JobKind::CheckSla,
                    config.notifications.sla_check_secs.max(10) as i64,
                ),
                (JobKind::PruneJobs, 3600),
                (
                    JobKind::ReconcileShipments,
                    config.courier.reconcile_every_secs.max(1) as i64,
                ),
                (JobKind::ConfirmReceipts, 600),
                (JobKind::SweepOrphans, 900),
            ],
            digest_times,
            dispatch_cutoffs,
            offset: config.local_offset(),
            last: HashMap::new(),
        }
    }

    /// The slot each schedule is in at `now`.
    pub fn slots(&self, now: DateTime<Utc>) -> Vec<Slot> {
        let mut slots: Vec<Slot> = self
            .every
            .iter()
            .map(|&(kind, secs)| {
                let start = now.timestamp() - now.timestamp().rem_euclid(secs);
                Slot {
                    kind,
                    key: format!("schedule:{}:{start}", kind.as_str()),
                    payload: json!({ "slot": start }),
                }
            })
            .collect();
        if let Some((since, until)) = self.window(&self.digest_times, now) {
            slots.push(Slot {
                kind: JobKind::Digest,
                key: format!("schedule:digest:{}", until.timestamp()),
                payload: json!({ "since": since, "until": until }),
            });
        }
        if let Some((_, cutoff)) = self.window(&self.dispatch_cutoffs, now) {
            slots.push(Slot {
                kind: JobKind::DispatchBatches,
                key: format!("schedule:dispatch:{}", cutoff.timestamp()),
                payload: json!({ "cutoff": cutoff }),
            });
        }
        slots
    }

    /// The latest of the daily `times` at or before `now`, and the one before it.
    fn window(
        &self,
        times: &[NaiveTime],
        now: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if times.is_empty() {
            return None;
        }
        let local = now.with_timezone(&self.offset);
        let mut past = Vec::new();
        for days_back in 0..=2 {
            let date = local.date_naive() - Duration::days(days_back);
            for time in times {
                let at = self
                    .offset
                    .from_local_datetime(&date.and_time(*time))
                    .single()?
                    .with_timezone(&Utc);
                if at <= now {
                    past.push(at);
                }
            }
        }
        past.sort();
        let until = *past.last()?;
        let since = past.iter().rev().nth(1).copied()?;
        Some((since, until))
    }

    /// Enqueues the jobs of slots this instance has not enqueued yet.
    pub async fn tick(&mut self, state: &AppState) -> anyhow::Result<()> {
        let Some(db) = state.database() else {
            return Ok(());
        };
        for slot in self.slots(Utc::now()) {
            if self.last.get(slot.kind.as_str()) == Some(&slot.key) {
                continue;
            }
            let job = new_job(slot.kind, slot.payload, Some(slot.key.clone()));
            queue::enqueue(db, job).await?;
            self.last.insert(slot.kind.as_str(), slot.key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scheduler() -> Scheduler {
        let mut config = Config::default();
        config.notifications.digest_times = vec!["09:00".into(), "15:00".into()];
        config.notifications.sla_check_secs = 300;
        Scheduler::new(&config)
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn instances_at_different_moments_of_one_slot_agree_on_its_key() {
        let s = scheduler();
        let a = s.slots(at("2026-11-28T10:00:05+08:00"));
        let b = s.slots(at("2026-11-28T10:00:59+08:00"));
        assert_eq!(a, b);
        let c = s.slots(at("2026-11-28T10:01:00+08:00"));
        assert_ne!(a[0].key, c[0].key);
    }

    #[test]
    fn the_digest_covers_the_time_since_the_previous_digest_in_local_time() {
        let s = scheduler();
        let slots = s.slots(at("2026-11-28T16:30:00+08:00"));
        let digest = slots.iter().find(|s| s.kind == JobKind::Digest).unwrap();
        assert_eq!(
            digest.payload["until"],
            json!(at("2026-11-28T15:00:00+08:00"))
        );
        assert_eq!(
            digest.payload["since"],
            json!(at("2026-11-28T09:00:00+08:00"))
        );
        // Before the first digest of the day, it is yesterday afternoon's.
        let early = s.slots(at("2026-11-28T08:00:00+08:00"));
        let digest = early.iter().find(|s| s.kind == JobKind::Digest).unwrap();
        assert_eq!(
            digest.payload["until"],
            json!(at("2026-11-27T15:00:00+08:00"))
        );
        assert_eq!(
            digest.payload["since"],
            json!(at("2026-11-27T09:00:00+08:00"))
        );
    }
}
