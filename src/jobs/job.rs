//! What a job is, and what it gets when it runs. A job kind is a serde struct (its payload,
//! `store::jobs::JobPayload`) that implements `Job`; its body lives with the code it belongs to
//! (`notify`, `courier`, `jobs::periodic`). This module is the one part of `jobs` those bodies
//! import, so it must never import them: the runner above (`registry`, `worker`) does.

use std::future::Future;
use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::clock::Clock;
use crate::config::{Config, JobsConfig};
use crate::integrations::courier::partners::Couriers;
use crate::integrations::mailer::Mailer;
use crate::integrations::wechat::WechatClient;
use crate::keys::Keys;
use crate::storage::ObjectStore;
use crate::store::jobs::JobPayload;
use crate::store::outbox::Channels;

/// A job kind: its payload, and how to run it. Runs are idempotent: a job may run again after
/// its worker died, so each checks what was done already.
pub trait Job: JobPayload + Sync {
    /// Scheduled work runs again at its next slot anyway, so it gives up sooner.
    const SCHEDULED: bool = false;

    fn run(self, ctx: &JobContext) -> impl Future<Output = Result<(), JobError>> + Send;

    /// Attempts before a job of this kind goes dead, unless the job names its own.
    fn max_attempts(config: &JobsConfig) -> i32 {
        if Self::SCHEDULED {
            config.max_attempts.min(3)
        } else {
            config.max_attempts
        }
    }
}

/// The handles a job may use, and the attempt it is in: not the whole `AppState`, which belongs
/// to the HTTP side.
#[derive(Clone)]
pub struct JobContext {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub clock: Clock,
    /// The case workflow, for jobs that move cases (dispatch, receipts).
    pub cases: crate::cases::Cases,
    pub store: Arc<dyn ObjectStore>,
    pub couriers: Couriers,
    /// Which channels the citizen's messages go by.
    pub channels: Arc<Channels>,
    pub wechat: WechatClient,
    /// The WeChat access token is stored sealed with these.
    pub keys: Arc<Keys>,
    pub mailer: Mailer,
    pub attempt: Attempt,
}

impl JobContext {
    /// The context of one run of job `attempt.job_id`.
    pub fn for_attempt(&self, attempt: Attempt) -> Self {
        Self {
            attempt,
            ..self.clone()
        }
    }
}

/// What a job knows about the run it is in.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    pub job_id: uuid::Uuid,
    /// 1 on the first run.
    pub number: i32,
    pub max: i32,
}

impl Attempt {
    /// Outside the worker (a test, a command run by hand): the first and only attempt.
    pub fn only() -> Self {
        Self {
            job_id: uuid::Uuid::nil(),
            number: 1,
            max: 1,
        }
    }

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

impl JobError {
    pub fn fatal(message: impl Into<String>) -> Self {
        Self::Fatal(anyhow::anyhow!(message.into()))
    }
}

impl From<anyhow::Error> for JobError {
    fn from(e: anyhow::Error) -> Self {
        Self::Retry(e)
    }
}

impl From<crate::cases::CaseError> for JobError {
    fn from(e: crate::cases::CaseError) -> Self {
        Self::Retry(e.into())
    }
}

impl From<sea_orm::DbErr> for JobError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Retry(e.into())
    }
}
