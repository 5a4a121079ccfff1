//! Durable background jobs. Anything that must happen after a commit (a message to a citizen, an
//! alert to staff, an order with the courier) is enqueued in that commit's transaction and run
//! later by a worker, retried with backoff until it succeeds or goes dead. Handlers are
//! idempotent: a job may run again after its worker died, so each checks what was already done.

pub mod periodic;
pub mod schedule;
pub mod worker;

use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use serde_json::Value;

use crate::config::JobsConfig;
use crate::state::AppState;
use crate::store::jobs::NewJob;

/// Every kind of job, and the handler each runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Fans a citizen-visible application event out into one send job per channel.
    NotifyCitizen,
    NotifyWechat,
    NotifyEmail,
    /// An email to staff: digest, overdue alert, dead-job alert.
    StaffEmail,
    SweepUploads,
    ReleaseClaims,
    CheckSla,
    Digest,
    PruneJobs,
    CourierCreateOrder,
    CourierCancelOrder,
    ReconcileShipments,
    DispatchBatches,
    /// Confirms receipt of results delivered `courier.auto_confirm_hours` ago.
    ConfirmReceipts,
    /// Deletes the objects of a deleted page, retrying while the store fails.
    DeleteObjects,
    /// Deletes objects no row names, once `storage.orphan_grace_secs` old.
    SweepOrphans,
}

pub const ALL_KINDS: [JobKind; 16] = [
    JobKind::NotifyCitizen,
    JobKind::NotifyWechat,
    JobKind::NotifyEmail,
    JobKind::StaffEmail,
    JobKind::SweepUploads,
    JobKind::ReleaseClaims,
    JobKind::CheckSla,
    JobKind::Digest,
    JobKind::PruneJobs,
    JobKind::CourierCreateOrder,
    JobKind::CourierCancelOrder,
    JobKind::ReconcileShipments,
    JobKind::DispatchBatches,
    JobKind::ConfirmReceipts,
    JobKind::DeleteObjects,
    JobKind::SweepOrphans,
];

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotifyCitizen => "notify_citizen",
            Self::NotifyWechat => "notify_wechat",
            Self::NotifyEmail => "notify_email",
            Self::StaffEmail => "staff_email",
            Self::SweepUploads => "sweep_uploads",
            Self::ReleaseClaims => "release_claims",
            Self::CheckSla => "check_sla",
            Self::Digest => "digest",
            Self::PruneJobs => "prune_jobs",
            Self::CourierCreateOrder => "courier_create_order",
            Self::CourierCancelOrder => "courier_cancel_order",
            Self::ReconcileShipments => "reconcile_shipments",
            Self::DispatchBatches => "dispatch_batches",
            Self::ConfirmReceipts => "confirm_receipts",
            Self::DeleteObjects => "delete_objects",
            Self::SweepOrphans => "sweep_orphans",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        ALL_KINDS.into_iter().find(|k| k.as_str() == text)
    }

    /// Attempts before the job goes dead. Periodic work runs again at its next slot anyway, so
    /// it gives up sooner. A job's own `max_attempts`, when above 0, overrides this.
    pub fn max_attempts(self, config: &JobsConfig) -> i32 {
        match self {
            Self::SweepUploads
            | Self::ReleaseClaims
            | Self::CheckSla
            | Self::Digest
            | Self::PruneJobs
            | Self::ReconcileShipments
            | Self::ConfirmReceipts
            | Self::SweepOrphans => config.max_attempts.min(3),
            _ => config.max_attempts,
        }
    }
}

/// A job of `kind`, due now, with the kind's configured number of attempts (resolved when it
/// runs, so a changed setting applies to jobs already queued).
pub fn new_job(kind: JobKind, payload: Value, dedupe_key: Option<String>) -> NewJob {
    NewJob {
        kind: kind.as_str(),
        payload,
        dedupe_key,
        run_at: Utc::now(),
        max_attempts: 0,
    }
}

/// What a handler knows about the run it is in.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    pub job_id: uuid::Uuid,
    /// 1 on the first run.
    pub number: i32,
    pub max: i32,
}

impl Attempt {
    pub fn is_last(&self) -> bool {
        self.number >= self.max
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt after backoff.
    #[error("{0:#}")]
    Retry(anyhow::Error),
    /// No attempt can succeed: the job goes dead at once.
    #[error("{0:#}")]
    Fatal(anyhow::Error),
}

impl From<anyhow::Error> for JobError {
    fn from(e: anyhow::Error) -> Self {
        Self::Retry(e)
    }
}

impl From<sea_orm::DbErr> for JobError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Retry(e.into())
    }
}

/// The database, for a handler: not ready yet is worth a retry.
pub fn database(state: &AppState) -> Result<&sea_orm::DatabaseConnection, JobError> {
    state
        .database()
        .ok_or_else(|| JobError::Retry(anyhow::anyhow!("the database is not ready")))
}

/// Runs one job's handler.
pub async fn run(
    state: &AppState,
    kind: JobKind,
    payload: &Value,
    attempt: Attempt,
) -> Result<(), JobError> {
    use crate::notify::{citizen, staff};
    match kind {
        JobKind::NotifyCitizen => citizen::fan_out(state, payload).await,
        JobKind::NotifyWechat => citizen::send_wechat(state, payload, attempt).await,
        JobKind::NotifyEmail => citizen::send_email(state, payload, attempt).await,
        JobKind::StaffEmail => staff::send(state, payload).await,
        JobKind::SweepUploads => periodic::sweep_uploads(state).await,
        JobKind::ReleaseClaims => periodic::release_claims(state).await,
        JobKind::CheckSla => staff::check_sla(state).await,
        JobKind::Digest => staff::digest(state, payload).await,
        JobKind::PruneJobs => periodic::prune_jobs(state).await,
        JobKind::CourierCreateOrder => crate::courier::orders::create(state, payload).await,
        JobKind::CourierCancelOrder => crate::courier::orders::cancel(state, payload).await,
        JobKind::ReconcileShipments => crate::courier::reconcile::run(state).await,
        JobKind::DispatchBatches => crate::courier::dispatch::run(state, payload).await,
        JobKind::ConfirmReceipts => crate::courier::receipts::auto_confirm(state).await,
        JobKind::DeleteObjects => periodic::delete_objects(state, payload).await,
        JobKind::SweepOrphans => periodic::sweep_orphans(state).await,
    }
}

/// The delay before attempt `attempts + 1`: doubling from the base, capped, with full jitter in
/// its upper half so that jobs failing together do not retry together.
pub fn backoff(config: &JobsConfig, attempts: i32) -> Duration {
    let base = config.backoff_base_ms.max(1);
    let exp = base.saturating_mul(1u64 << attempts.clamp(0, 30).saturating_sub(1));
    let capped = exp.min(config.backoff_max_secs.saturating_mul(1000)).max(1);
    let jittered = rand::thread_rng().gen_range(capped / 2..=capped);
    Duration::from_millis(jittered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_stops_at_the_cap() {
        let config = JobsConfig {
            backoff_base_ms: 1_000,
            backoff_max_secs: 10,
            ..JobsConfig::default()
        };
        for _ in 0..50 {
            let first = backoff(&config, 1).as_millis();
            assert!((500..=1_000).contains(&first), "{first}");
            let third = backoff(&config, 3).as_millis();
            assert!((2_000..=4_000).contains(&third), "{third}");
            let late = backoff(&config, 20).as_millis();
            assert!((5_000..=10_000).contains(&late), "{late}");
        }
    }

    #[test]
    fn kinds_round_trip_by_name() {
        for kind in ALL_KINDS {
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(JobKind::parse("nope"), None);
    }
}
