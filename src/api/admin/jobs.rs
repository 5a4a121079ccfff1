//! `/v1/admin/jobs`: the job queue for operators. Dead jobs are listed with their last error
//! and can be queued again once the cause (SMTP down, a wrong template id) is fixed.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::problem::{ApiError, ApiResult};
use crate::api::security::{ClientIp, StaffAuth, audit_staff_action};
use crate::domain::staff::Role;
use crate::jobs::registry;
use crate::state::AppState;
use crate::store::jobs::{self as queue, JobStatus, job};

pub struct AdminJobsApi;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Dead,
}

impl JobState {
    fn status(self) -> JobStatus {
        match self {
            Self::Queued => JobStatus::Queued,
            Self::Running => JobStatus::Running,
            Self::Done => JobStatus::Done,
            Self::Dead => JobStatus::Dead,
        }
    }
}

#[derive(Object)]
pub struct Job {
    pub id: Uuid,
    /// e.g. `notify_wechat`, `notify_email`, `staff_email`, `sweep_uploads`.
    pub kind: String,
    /// `queued`, `running`, `done` or `dead`.
    pub state: String,
    pub attempts: i32,
    /// Attempts before it goes dead.
    pub max_attempts: i32,
    /// When it runs next (queued) or was due (otherwise).
    pub run_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Object)]
pub struct JobPage {
    pub items: Vec<Job>,
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

fn view(state: &AppState, row: job::Model) -> Job {
    let max_attempts = registry::find(&row.kind).map_or(row.max_attempts, |kind| {
        kind.max_attempts(row.max_attempts, &state.config.jobs)
    });
    // The payload stays out: it can hold addresses, and operators act on kind and error.
    Job {
        id: row.id,
        kind: row.kind,
        state: row.state,
        attempts: row.attempts,
        max_attempts,
        run_at: row.run_at,
        last_error: row.last_error,
        created_at: row.created_at,
        updated_at: row.updated_at,
        finished_at: row.finished_at,
    }
}

fn job_not_found() -> ApiError {
    ApiError::not_found("job_not_found", "There is no such job.")
}

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminJobsApi {
    /// Jobs, newest first; `state=dead` lists the ones that gave up.
    #[oai(path = "/v1/admin/jobs", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        #[oai(name = "state")] job_state: Query<Option<JobState>>,
        /// Only jobs of this kind.
        kind: Query<Option<String>>,
        cursor: Query<Option<Uuid>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<Json<JobPage>> {
        auth.0.require(Role::Admin)?;
        let rows = queue::list(
            state.db()?,
            job_state.0.map(JobState::status),
            kind.0.as_deref(),
            cursor.0,
            limit.0 + 1,
        )
        .await?;
        let more = rows.len() as u64 > limit.0;
        let items: Vec<Job> = rows
            .into_iter()
            .take(limit.0 as usize)
            .map(|row| view(&state, row))
            .collect();
        let next_cursor = more
            .then(|| items.last().map(|i| i.id.to_string()))
            .flatten();
        Ok(Json(JobPage { items, next_cursor }))
    }

    /// One job.
    #[oai(path = "/v1/admin/jobs/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<Job>> {
        auth.0.require(Role::Admin)?;
        let row = queue::find(state.db()?, id.0)
            .await?
            .ok_or_else(job_not_found)?;
        Ok(Json(view(&state, row)))
    }

    /// Queue a dead job again, with its attempts reset. Retrying a job that is not dead is a
    /// conflict, so a double click does not run it twice.
    #[oai(path = "/v1/admin/jobs/:id/retry", method = "post")]
    async fn retry(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
    ) -> ApiResult<Json<Job>> {
        auth.0.require(Role::Admin)?;
        let db = state.db()?;
        let row = queue::find(db, id.0).await?.ok_or_else(job_not_found)?;
        if !queue::retry(db, row.id).await? {
            return Err(ApiError::conflict(
                "job_not_dead",
                format!("The job is {}; only dead jobs can be retried.", row.state),
            ));
        }
        audit_staff_action(
            &state,
            &auth.0,
            &ip,
            "jobs.retry",
            Some(("job", row.id)),
            Some(format!("kind={}", row.kind)),
        )
        .await?;
        let row = queue::find(db, id.0).await?.ok_or_else(job_not_found)?;
        Ok(Json(view(&state, row)))
    }
}

fn default_limit() -> u64 {
    50
}
