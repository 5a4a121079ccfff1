//! Periodic work as scheduled jobs. Each schedule divides time into slots; every instance's
//! worker enqueues the current slot's job with the slot as its dedupe key, so however many
//! instances run, each slot's job is created (and run) once.

use std::collections::HashMap;

use chrono::{DateTime, Duration, FixedOffset, NaiveTime, TimeZone, Utc};
use sea_orm::DatabaseConnection;

use crate::config::{Config, parse_local_time};
use crate::courier::dispatch::DispatchBatches;
use crate::courier::drop_box::RemindDropOffs;
use crate::courier::receipts::ConfirmReceipts;
use crate::courier::reconcile::ReconcileShipments;
use crate::jobs::periodic::{ApplyRetention, PruneJobs, ReleaseClaims, SweepOrphans, SweepUploads};
use crate::notify::staff::{CheckSla, Digest};
use crate::store::jobs::{self as queue, JobPayload, NewJob};

/// A job that runs every so many seconds: its kind, its job for a slot, and the seconds.
type Every = (&'static str, Box<dyn Fn(i64) -> NewJob + Send + Sync>, i64);

fn every<J: JobPayload>(job: fn(i64) -> J, secs: i64) -> Every {
    (J::KIND, Box::new(move |slot| NewJob::of(&job(slot))), secs)
}

pub struct Scheduler {
    every: Vec<Every>,
    digest_times: Vec<NaiveTime>,
    dispatch_cutoffs: Vec<NaiveTime>,
    offset: FixedOffset,
    /// The last slot this instance enqueued, per kind: saves a write per tick.
    last: HashMap<&'static str, String>,
}

/// One slot's job, deduped by the slot.
#[derive(Debug)]
pub struct Slot {
    pub kind: &'static str,
    pub key: String,
    pub job: NewJob,
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
                every(|slot| SweepUploads { slot }, 60),
                every(|slot| ReleaseClaims { slot }, 60),
                every(
                    |slot| CheckSla { slot },
                    config.notifications.sla_check_secs.max(10) as i64,
                ),
                every(|slot| PruneJobs { slot }, 3600),
                every(
                    |slot| ReconcileShipments { slot },
                    config.courier.reconcile_every_secs.max(1) as i64,
                ),
                every(|slot| ConfirmReceipts { slot }, 600),
                every(|slot| RemindDropOffs { slot }, 600),
                every(|slot| SweepOrphans { slot }, 900),
                every(
                    |slot| ApplyRetention { slot },
                    config.retention.every_secs.max(10) as i64,
                ),
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
            .map(|(kind, job, secs)| {
                let start = now.timestamp() - now.timestamp().rem_euclid(*secs);
                Slot::new(kind, format!("schedule:{kind}:{start}"), job(start))
            })
            .collect();
        if let Some((since, until)) = self.window(&self.digest_times, now) {
            slots.push(Slot::new(
                Digest::KIND,
                format!("schedule:digest:{}", until.timestamp()),
                NewJob::of(&Digest { since, until }),
            ));
        }
        if let Some((_, cutoff)) = self.window(&self.dispatch_cutoffs, now) {
            slots.push(Slot::new(
                DispatchBatches::KIND,
                format!("schedule:dispatch:{}", cutoff.timestamp()),
                NewJob::of(&DispatchBatches { cutoff }),
            ));
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
    pub async fn tick(&mut self, db: &DatabaseConnection) -> anyhow::Result<()> {
        for slot in self.slots(Utc::now()) {
            if self.last.get(slot.kind) == Some(&slot.key) {
                continue;
            }
            queue::enqueue(db, slot.job).await?;
            self.last.insert(slot.kind, slot.key);
        }
        Ok(())
    }
}

impl Slot {
    fn new(kind: &'static str, key: String, job: NewJob) -> Self {
        Self {
            kind,
            job: job.deduped_by(key.clone()),
            key,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    /// What an instance would write for each slot (the due time aside, which is when it writes).
    fn written(slots: Vec<Slot>) -> Vec<(&'static str, String, serde_json::Value)> {
        slots
            .into_iter()
            .map(|s| (s.job.kind, s.job.dedupe_key.unwrap(), s.job.payload))
            .collect()
    }

    #[test]
    fn instances_at_different_moments_of_one_slot_agree_on_its_key() {
        let s = scheduler();
        let a = s.slots(at("2026-11-28T10:00:05+08:00"));
        let b = s.slots(at("2026-11-28T10:00:59+08:00"));
        assert_eq!(written(a), written(b));
        let a = s.slots(at("2026-11-28T10:00:05+08:00"));
        let c = s.slots(at("2026-11-28T10:01:00+08:00"));
        assert_ne!(a[0].key, c[0].key);
    }

    #[test]
    fn the_digest_covers_the_time_since_the_previous_digest_in_local_time() {
        let s = scheduler();
        let slots = s.slots(at("2026-11-28T16:30:00+08:00"));
        let digest = slots.iter().find(|s| s.kind == Digest::KIND).unwrap();
        assert_eq!(
            digest.job.payload["until"],
            json!(at("2026-11-28T15:00:00+08:00"))
        );
        assert_eq!(
            digest.job.payload["since"],
            json!(at("2026-11-28T09:00:00+08:00"))
        );
        // Before the first digest of the day, it is yesterday afternoon's.
        let early = s.slots(at("2026-11-28T08:00:00+08:00"));
        let digest = early.iter().find(|s| s.kind == Digest::KIND).unwrap();
        assert_eq!(
            digest.job.payload["until"],
            json!(at("2026-11-27T15:00:00+08:00"))
        );
        assert_eq!(
            digest.job.payload["since"],
            json!(at("2026-11-27T09:00:00+08:00"))
        );
    }
}
