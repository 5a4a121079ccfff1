//! The worker loop: claims due jobs with a lease, runs up to `jobs.concurrency` at once, renews
//! the leases of the ones still running, and records each outcome (successes together with the
//! next claim, in one round trip). It queues again, every quarter lease, the jobs of workers whose
//! lease ran out. On shutdown it stops claiming, lets running jobs finish within the grace
//! period, and hands back the rest.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::FutureExt;
use rand::Rng;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::JobsConfig;
use crate::jobs::job::{Attempt, JobContext, JobError};
use crate::jobs::registry;
use crate::jobs::schedule::Scheduler;
use crate::store::begin_write;
use crate::store::jobs::{self as queue, job};

type Held = Arc<Mutex<HashSet<Uuid>>>;

/// Told of each run: its kind, its outcome (`done`, `retry` or `dead`), the seconds it ran and
/// the seconds it waited past its due time. The metrics listen; the worker does not know them.
pub type OnRun = Arc<dyn Fn(&str, &str, f64, f64) + Send + Sync>;

/// A name for this worker that is unique across instances and restarts.
fn worker_id() -> String {
    let host = hostname_or_default();
    format!(
        "{host}-{}-{}",
        std::process::id(),
        &Uuid::new_v4().simple().to_string()[..8]
    )
}

fn hostname_or_default() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().chars().take(40).collect::<String>())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "beebox".into())
}

/// Runs until `shutdown` is cancelled, then drains. `ctx` is what each job gets (its attempt
/// filled in per run).
pub async fn run(ctx: JobContext, on_run: OnRun, shutdown: CancellationToken) {
    let db = ctx.db.clone();
    let id = worker_id();
    let config = ctx.config.jobs.clone();
    let lease = chrono::Duration::seconds(config.lease_secs as i64);
    let poll = Duration::from_millis(config.poll_ms);
    let held: Held = Arc::default();
    let mut inflight = JoinSet::new();
    // Jobs that ran to success, recorded as done with the next claim (a crash before that runs
    // them again; handlers are idempotent).
    let mut finished: Vec<Uuid> = Vec::new();
    let mut scheduler = Scheduler::new(&ctx.config);
    let renewer = tokio::spawn(renew_leases(db.clone(), id.clone(), held.clone(), lease));
    let reap_every = (lease / 4)
        .to_std()
        .unwrap_or(Duration::from_secs(1))
        .min(Duration::from_secs(15));
    let mut reaped: Option<Instant> = None;
    tracing::info!(worker = %id, concurrency = config.concurrency, "job worker started");
    while !shutdown.is_cancelled() {
        if let Err(e) = scheduler.tick(&db).await {
            tracing::warn!(error = %e, "scheduling periodic jobs failed");
        }
        if reaped.is_none_or(|at| at.elapsed() >= reap_every) {
            match queue::requeue_expired(&db).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(jobs = n, "queued again jobs whose lease ran out"),
                Err(e) => tracing::warn!(error = %e, "queueing expired jobs again failed"),
            }
            reaped = Some(Instant::now());
        }
        while let Some(result) = inflight.try_join_next() {
            finished.extend(result.ok().flatten());
        }
        let free = config.concurrency.saturating_sub(inflight.len());
        let mut claimed = 0;
        if free > 0 || !finished.is_empty() {
            match queue::finish_and_claim(&db, &id, &finished, free as u64, lease).await {
                Ok(jobs) => {
                    let mut holding = held.lock().expect("lock");
                    for job_id in finished.drain(..) {
                        holding.remove(&job_id);
                    }
                    claimed = jobs.len();
                    for job in jobs {
                        holding.insert(job.id);
                        let run =
                            run_one(ctx.clone(), on_run.clone(), id.clone(), job, held.clone());
                        inflight.spawn(run);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "claiming jobs failed"),
            }
        }
        // A full batch suggests more are due: look again at once.
        if claimed > 0 && claimed == free {
            continue;
        }
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = tokio::time::sleep(poll) => {}
            Some(result) = inflight.join_next(), if !inflight.is_empty() => {
                finished.extend(result.ok().flatten());
            }
        }
    }
    let grace = Duration::from_secs(ctx.config.server.shutdown_grace_secs);
    let drained = tokio::time::timeout(grace, async {
        while let Some(result) = inflight.join_next().await {
            finished.extend(result.ok().flatten());
        }
    })
    .await;
    if drained.is_err() {
        inflight.abort_all();
        while let Some(result) = inflight.join_next().await {
            finished.extend(result.ok().flatten());
        }
    }
    renewer.abort();
    if !finished.is_empty() {
        match queue::finish_and_claim(&db, &id, &finished, 0, lease).await {
            Ok(_) => {
                let mut holding = held.lock().expect("lock");
                for job_id in &finished {
                    holding.remove(job_id);
                }
            }
            Err(e) => tracing::warn!(error = %e, "recording finished jobs failed; they run again"),
        }
    }
    let unfinished: Vec<Uuid> = held.lock().expect("lock").drain().collect();
    for job_id in &unfinished {
        if let Err(e) = queue::release(&db, *job_id, &id, Utc::now()).await {
            tracing::warn!(job = %job_id, error = %e, "could not hand back a job; its lease will end");
        }
    }
    tracing::info!(worker = %id, handed_back = unfinished.len(), "job worker stopped");
}

async fn renew_leases(
    db: sea_orm::DatabaseConnection,
    worker: String,
    held: Held,
    lease: chrono::Duration,
) {
    let every = (lease / 3).to_std().unwrap_or(Duration::from_secs(1));
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        let ids: Vec<Uuid> = held.lock().expect("lock").iter().copied().collect();
        if let Err(e) = queue::renew(&db, &ids, &worker, lease).await {
            tracing::warn!(error = %e, "renewing job leases failed");
        }
    }
}

/// Runs one job and records a failure. A success is returned for the loop to record with its
/// next claim; the job stays held (and its lease renewed) until then.
async fn run_one(
    ctx: JobContext,
    on_run: OnRun,
    worker: String,
    job: job::Model,
    held: Held,
) -> Option<Uuid> {
    let db = &ctx.db;
    let started = Instant::now();
    let waited = job
        .started_at
        .map_or(0.0, |s| (s - job.run_at).num_milliseconds() as f64 / 1000.0);
    let kind = registry::find(&job.kind);
    let max = kind.map_or(1, |kind| {
        kind.max_attempts(job.max_attempts, &ctx.config.jobs)
    });
    let outcome = match kind {
        // A newer release's job: leave it for an instance that knows it.
        None => {
            tracing::warn!(job = %job.id, kind = %job.kind, "unknown job kind; handed back");
            let later = Utc::now() + chrono::Duration::seconds(60);
            let _ = queue::release(db, job.id, &worker, later).await;
            held.lock().expect("lock").remove(&job.id);
            return None;
        }
        Some(_) if job.attempts > max => Err(JobError::Fatal(anyhow::anyhow!(
            "gave up after {max} attempts (its worker stopped during the last ones)"
        ))),
        Some(kind) => {
            let ctx = ctx.for_attempt(Attempt {
                job_id: job.id,
                number: job.attempts,
                max,
            });
            AssertUnwindSafe(kind.run(&job.payload, &ctx))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| Err(JobError::Retry(anyhow::anyhow!("the handler panicked"))))
        }
    };
    let label = match &outcome {
        Ok(()) => "done",
        Err(JobError::Retry(_)) if job.attempts < max => "retry",
        Err(_) => "dead",
    };
    on_run(&job.kind, label, started.elapsed().as_secs_f64(), waited);
    let Err(error) = outcome else {
        return Some(job.id);
    };
    if let Err(e) = record_failure(&ctx.config.jobs, db, &worker, &job, max, error).await {
        // The lease ends and another attempt is made; handlers are idempotent.
        tracing::warn!(job = %job.id, error = %e, "recording a job's outcome failed");
    }
    held.lock().expect("lock").remove(&job.id);
    None
}

async fn record_failure(
    config: &JobsConfig,
    db: &sea_orm::DatabaseConnection,
    worker: &str,
    job: &job::Model,
    max: i32,
    error: JobError,
) -> Result<(), sea_orm::DbErr> {
    let error = match error {
        JobError::Retry(e) if job.attempts < max => {
            let delay = backoff(config, job.attempts);
            let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
            tracing::warn!(
                job = %job.id,
                kind = %job.kind,
                attempt = job.attempts,
                retry_in_ms = delay.as_millis() as u64,
                error = %format!("{e:#}"),
                "job failed; will retry"
            );
            queue::fail(db, job.id, worker, &format!("{e:#}"), Some(at)).await?;
            return Ok(());
        }
        JobError::Retry(e) | JobError::Fatal(e) => format!("{e:#}"),
    };
    tracing::error!(job = %job.id, kind = %job.kind, attempts = job.attempts, error = %error, "job dead");
    let txn = begin_write(db).await?;
    if queue::fail(&txn, job.id, worker, &error, None).await? {
        crate::notify::staff::alert_dead_job(&txn, job, &error).await?;
    }
    txn.commit().await?;
    Ok(())
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
}
