//! The one list of job kinds: each kind's name, how many attempts it gets, and how its payload
//! is read and run. The worker knows no job type; it looks the row's kind up here. A kind
//! missing from this list is a newer release's, and the worker leaves it for one that knows it.

use futures_util::future::BoxFuture;

use crate::config::JobsConfig;
use crate::courier::dispatch::DispatchBatches;
use crate::courier::drop_box::RemindDropOffs;
use crate::courier::orders::{CourierCancelOrder, CourierCreateOrder};
use crate::courier::receipts::ConfirmReceipts;
use crate::courier::reconcile::ReconcileShipments;
use crate::jobs::job::{Job, JobContext, JobError};
use crate::jobs::periodic::{
    ApplyRetention, DeleteObjects, PruneJobs, ReleaseClaims, SweepOrphans, SweepUploads,
};
use crate::notify::citizen::NotifyCitizen;
use crate::notify::staff::{CheckSla, Digest, StaffEmail};
use crate::store::outbox::{NotifyEmail, NotifyWechat};

/// Every kind this release runs.
fn all() -> [Kind; 18] {
    [
        Kind::of::<NotifyCitizen>(),
        Kind::of::<NotifyWechat>(),
        Kind::of::<NotifyEmail>(),
        Kind::of::<StaffEmail>(),
        Kind::of::<SweepUploads>(),
        Kind::of::<ReleaseClaims>(),
        Kind::of::<CheckSla>(),
        Kind::of::<Digest>(),
        Kind::of::<PruneJobs>(),
        Kind::of::<CourierCreateOrder>(),
        Kind::of::<CourierCancelOrder>(),
        Kind::of::<ReconcileShipments>(),
        Kind::of::<DispatchBatches>(),
        Kind::of::<ConfirmReceipts>(),
        Kind::of::<DeleteObjects>(),
        Kind::of::<SweepOrphans>(),
        Kind::of::<ApplyRetention>(),
        Kind::of::<RemindDropOffs>(),
    ]
}

/// The kind named `name`, if this release runs it.
pub fn find(name: &str) -> Option<Kind> {
    all().into_iter().find(|kind| kind.name == name)
}

type Runner = for<'a> fn(&'a str, &'a JobContext) -> BoxFuture<'a, Result<(), JobError>>;

/// One job kind, with its type erased.
#[derive(Clone, Copy)]
pub struct Kind {
    pub name: &'static str,
    max_attempts: fn(&JobsConfig) -> i32,
    run: Runner,
}

impl Kind {
    fn of<J: Job>() -> Self {
        Self {
            name: J::KIND,
            max_attempts: J::max_attempts,
            run: run_as::<J>,
        }
    }

    /// Attempts before a job goes dead: its own `max_attempts` when above 0 (resolved now, so a
    /// changed setting applies to jobs already queued), else its kind's.
    pub fn max_attempts(&self, own: i32, config: &JobsConfig) -> i32 {
        if own > 0 {
            own
        } else {
            (self.max_attempts)(config)
        }
    }

    /// Reads `payload` (the row's JSON) as this kind's struct and runs it. A payload that does
    /// not read can never run: the job goes dead at once.
    pub fn run<'a>(
        &self,
        payload: &'a str,
        ctx: &'a JobContext,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        (self.run)(payload, ctx)
    }
}

fn run_as<'a, J: Job>(
    payload: &'a str,
    ctx: &'a JobContext,
) -> BoxFuture<'a, Result<(), JobError>> {
    match serde_json::from_str::<J>(payload) {
        Ok(job) => Box::pin(job.run(ctx)),
        Err(e) => Box::pin(std::future::ready(Err(JobError::fatal(format!(
            "unreadable payload: {e}"
        ))))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_found_by_their_names_and_listed_once() {
        let kinds = all();
        for kind in kinds {
            assert_eq!(find(kind.name).map(|k| k.name), Some(kind.name));
            assert_eq!(kinds.iter().filter(|k| k.name == kind.name).count(), 1);
        }
        assert!(find("nope").is_none());
    }

    #[test]
    fn scheduled_work_gives_up_sooner_unless_the_job_says_otherwise() {
        let config = JobsConfig {
            max_attempts: 8,
            ..JobsConfig::default()
        };
        let sweep = find("sweep_uploads").unwrap();
        assert_eq!(sweep.max_attempts(0, &config), 3);
        assert_eq!(sweep.max_attempts(5, &config), 5);
        assert_eq!(find("notify_email").unwrap().max_attempts(0, &config), 8);
    }

    /// The payloads as the previous release wrote them (`json!` by key): the same JSON must
    /// still read as each kind's struct.
    #[test]
    fn payloads_queued_by_the_previous_release_still_read() {
        use serde::de::DeserializeOwned;
        fn reads<J: DeserializeOwned>(json: &str) {
            serde_json::from_str::<J>(json).unwrap_or_else(|e| panic!("{json}: {e}"));
        }
        let id = "0190f5c4-7d3a-7cc1-9a2b-3c4d5e6f7a8b";
        reads::<NotifyCitizen>(&format!(r#"{{"event_id":"{id}"}}"#));
        reads::<NotifyWechat>(&format!(r#"{{"notification_id":"{id}"}}"#));
        reads::<NotifyEmail>(&format!(r#"{{"notification_id":"{id}"}}"#));
        reads::<StaffEmail>(
            r#"{"context":{"job_id":"x"},"template":"admin_dead_job","to":["a@example.com"]}"#,
        );
        reads::<CourierCreateOrder>(&format!(r#"{{"shipment_id":"{id}"}}"#));
        reads::<CourierCancelOrder>(&format!(r#"{{"shipment_id":"{id}"}}"#));
        reads::<DispatchBatches>(r#"{"cutoff":"2026-11-28T09:00:00Z"}"#);
        reads::<Digest>(r#"{"since":"2026-11-28T01:00:00Z","until":"2026-11-28T07:00:00Z"}"#);
        reads::<DeleteObjects>(r#"{"keys":["applications/a/b.jpg"]}"#);
        for slot in [r#"{"slot":1795000000}"#, "{}"] {
            reads::<SweepUploads>(slot);
            reads::<SweepOrphans>(slot);
            reads::<ApplyRetention>(slot);
            reads::<ReleaseClaims>(slot);
            reads::<PruneJobs>(slot);
            reads::<CheckSla>(slot);
            reads::<ReconcileShipments>(slot);
            reads::<ConfirmReceipts>(slot);
            reads::<RemindDropOffs>(slot);
        }
    }
}
