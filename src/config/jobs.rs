//! `[jobs]`: the durable job queue's worker: how many jobs it runs, how it polls, leases and
//! retries them, and how long finished ones are kept.

use serde::{Deserialize, Serialize};

use super::Problems;

/// The durable job queue and its worker.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Run the worker (and the scheduler) in this instance; `serve --no-worker` turns it off.
    pub worker: bool,
    /// Jobs one worker runs at once.
    pub concurrency: usize,
    /// How often an idle worker looks for due jobs.
    pub poll_ms: u64,
    /// How long a claimed job is held; a job whose worker died is taken again after this.
    pub lease_secs: u64,
    /// Attempts before a job goes dead, for kinds that do not set their own.
    pub max_attempts: i32,
    /// First retry delay; each retry doubles it (with jitter) up to `backoff_max_secs`.
    pub backoff_base_ms: u64,
    pub backoff_max_secs: u64,
    /// Finished jobs are deleted after this long.
    pub keep_done_hours: u64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            worker: true,
            concurrency: 4,
            poll_ms: 500,
            lease_secs: 60,
            max_attempts: 8,
            backoff_base_ms: 2_000,
            backoff_max_secs: 3_600,
            keep_done_hours: 72,
        }
    }
}

impl JobsConfig {
    pub(super) fn validate(&self, problems: &mut Problems) {
        if self.concurrency == 0 || self.concurrency > 64 {
            problems.add("jobs.concurrency", "must be between 1 and 64");
        }
        if self.lease_secs < 2 {
            problems.add("jobs.lease_secs", "must be at least 2");
        }
        if self.max_attempts < 1 {
            problems.add("jobs.max_attempts", "must be at least 1");
        }
        if self.poll_ms < 10 {
            problems.add("jobs.poll_ms", "must be at least 10");
        }
    }
}
