//! The durable job queue: one table that is also the transactional outbox. A job is inserted in
//! the transaction of the change that causes it, claimed with a lease (`FOR UPDATE SKIP LOCKED`
//! on PostgreSQL), and finished, retried or buried by the worker that holds the lease. Every
//! write after the claim names the holder, so a worker whose lease ran out cannot overwrite the
//! outcome of the worker that took the job over.

use chrono::{DateTime, Duration, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, DatabaseBackend, FromQueryResult, QueryOrder, QuerySelect, QueryTrait,
    UpdateMany,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

pub use crate::domain::job::JobStatus;

pub mod job {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "jobs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub kind: String,
        /// JSON.
        pub payload: String,
        /// `queued`, `running`, `done` or `dead`.
        pub state: String,
        pub attempts: i32,
        pub max_attempts: i32,
        /// When it may run next.
        pub run_at: DateTimeUtc,
        pub locked_by: Option<String>,
        pub lease_until: Option<DateTimeUtc>,
        pub last_error: Option<String>,
        pub dedupe_key: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub started_at: Option<DateTimeUtc>,
        pub finished_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// What a job of one kind carries: a serde struct whose JSON is the row's `payload`, named by
/// `KIND`. Its field names are the payload's keys, so renaming one strands the jobs already
/// queued. Running it is `jobs::Job`; this half is all that enqueueing needs, so the writes
/// below the job bodies (`store::outbox`) can queue them too.
pub trait JobPayload: Serialize + DeserializeOwned + Send + 'static {
    /// The `kind` column: the job's name in the queue, in the admin API and in metrics.
    const KIND: &'static str;
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: &'static str,
    pub payload: serde_json::Value,
    /// A second job with the same key is not created: event ids, schedule slots.
    pub dedupe_key: Option<String>,
    pub run_at: DateTime<Utc>,
    /// 0 for the kind's configured number, resolved when it runs (so a changed setting applies
    /// to jobs already queued).
    pub max_attempts: i32,
}

impl NewJob {
    /// `job`, due now, with its kind's configured number of attempts.
    pub fn of<J: JobPayload>(job: &J) -> Self {
        Self {
            kind: J::KIND,
            // A struct of plain fields always serialises.
            payload: serde_json::to_value(job).expect("a job payload serialises to JSON"),
            dedupe_key: None,
            run_at: Utc::now(),
            max_attempts: 0,
        }
    }

    /// Not created when a job with `key` exists already.
    pub fn deduped_by(self, key: impl Into<String>) -> Self {
        Self {
            dedupe_key: Some(key.into()),
            ..self
        }
    }
}

/// Inserts the job unless one with its dedupe key exists. Returns whether it was inserted.
pub async fn enqueue<C: ConnectionTrait>(db: &C, job: NewJob) -> Result<bool, DbErr> {
    let result = db.execute(&insert(job)).await?;
    Ok(result.rows_affected() > 0)
}

/// `enqueue` as a statement, to run with others (`store::insert_all`).
pub fn insert(job: NewJob) -> sea_orm::sea_query::InsertStatement {
    let now = Utc::now();
    let model = job::ActiveModel {
        id: Set(Uuid::now_v7()),
        kind: Set(job.kind.to_string()),
        payload: Set(job.payload.to_string()),
        state: Set(JobStatus::Queued.as_str().into()),
        attempts: Set(0),
        max_attempts: Set(job.max_attempts),
        run_at: Set(job.run_at),
        locked_by: Set(None),
        lease_until: Set(None),
        last_error: Set(None),
        dedupe_key: Set(job.dedupe_key),
        created_at: Set(now),
        updated_at: Set(now),
        started_at: Set(None),
        finished_at: Set(None),
    };
    job::Entity::insert(model)
        .on_conflict(
            OnConflict::column(job::Column::DedupeKey)
                .do_nothing()
                .to_owned(),
        )
        .into_query()
}

/// Records the jobs `worker` finished (`finished`, held by it) as done and takes up to `limit`
/// due queued jobs for it, each claim counting an attempt: one round trip and one commit on
/// PostgreSQL, however many jobs it finishes and claims. Jobs whose worker's lease ran out are
/// queued again by `requeue_expired`.
pub async fn finish_and_claim(
    db: &DatabaseConnection,
    worker: &str,
    finished: &[Uuid],
    limit: u64,
    lease: Duration,
) -> Result<Vec<job::Model>, DbErr> {
    let now = Utc::now();
    if db.get_database_backend() == DatabaseBackend::Postgres {
        // Hand-written: sea-query builds neither data-modifying CTEs nor `= ANY($n)`. The state
        // literals let the planner use the partial index of queued jobs (a parameter would not
        // match its predicate), and `SKIP LOCKED` lets the workers of several instances claim
        // side by side.
        let sql = r#"
            WITH finished AS (
                UPDATE jobs SET state = 'done', locked_by = NULL, lease_until = NULL,
                    finished_at = $1, updated_at = $1
                WHERE id = ANY($2) AND state = 'running' AND locked_by = $3
            ), due AS (
                SELECT id FROM jobs WHERE state = 'queued' AND run_at <= $1
                ORDER BY run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED
            )
            UPDATE jobs SET state = 'running', locked_by = $3, lease_until = $5,
                attempts = jobs.attempts + 1, started_at = $1, updated_at = $1
            FROM due WHERE jobs.id = due.id
            RETURNING jobs.*"#;
        let values: [sea_orm::Value; 5] = [
            now.into(),
            finished.to_vec().into(),
            worker.into(),
            (limit as i64).into(),
            (now + lease).into(),
        ];
        let statement =
            sea_orm::Statement::from_sql_and_values(DatabaseBackend::Postgres, sql, values);
        return job::Entity::find().from_raw_sql(statement).all(db).await;
    }
    // SQLite has one writer at a time: the two statements in one transaction.
    let txn = crate::store::begin_write(db).await?;
    if !finished.is_empty() {
        unheld(job::Entity::update_many(), now)
            .col_expr(job::Column::State, Expr::value(JobStatus::Done.as_str()))
            .col_expr(job::Column::FinishedAt, Expr::value(now))
            .filter(held_all(finished, worker))
            .exec(&txn)
            .await?;
    }
    let claimed = if limit == 0 {
        Vec::new()
    } else {
        let mut due = Query::select();
        due.column(job::Column::Id)
            .from(job::Entity)
            .and_where(job::Column::State.eq(JobStatus::Queued.as_str()))
            .and_where(job::Column::RunAt.lte(now))
            .order_by(job::Column::RunAt, sea_orm::Order::Asc)
            .order_by(job::Column::Id, sea_orm::Order::Asc)
            .limit(limit);
        job::Entity::update_many()
            .col_expr(job::Column::State, Expr::value(JobStatus::Running.as_str()))
            .col_expr(job::Column::LockedBy, Expr::value(worker))
            .col_expr(job::Column::LeaseUntil, Expr::value(now + lease))
            .col_expr(
                job::Column::Attempts,
                Expr::col(job::Column::Attempts).add(1),
            )
            .col_expr(job::Column::StartedAt, Expr::value(now))
            .col_expr(job::Column::UpdatedAt, Expr::value(now))
            .filter(job::Column::Id.in_subquery(due))
            .exec_with_returning(&txn)
            .await?
    };
    txn.commit().await?;
    Ok(claimed)
}

/// Queues again the running jobs whose lease ran out: their worker died or lost the database.
/// The next claim counts another attempt.
pub async fn requeue_expired<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    let now = Utc::now();
    let result = unheld(job::Entity::update_many(), now)
        .col_expr(job::Column::State, Expr::value(JobStatus::Queued.as_str()))
        .filter(job::Column::State.eq(JobStatus::Running.as_str()))
        .filter(job::Column::LeaseUntil.lt(now))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

fn held_by(id: Uuid, worker: &str) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(job::Column::Id.eq(id))
        .add(job::Column::State.eq(JobStatus::Running.as_str()))
        .add(job::Column::LockedBy.eq(worker))
}

/// The jobs among `ids` that `worker` still holds.
fn held_all(ids: &[Uuid], worker: &str) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(job::Column::Id.is_in(ids.iter().copied()))
        .add(job::Column::State.eq(JobStatus::Running.as_str()))
        .add(job::Column::LockedBy.eq(worker))
}

/// Clears the holder and lease of the jobs `update` writes.
fn unheld(update: UpdateMany<job::Entity>, now: DateTime<Utc>) -> UpdateMany<job::Entity> {
    update
        .col_expr(job::Column::LockedBy, Expr::value(Option::<String>::None))
        .col_expr(
            job::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
}

/// Extends the leases `worker` holds on `ids`.
pub async fn renew<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
    worker: &str,
    lease: Duration,
) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    job::Entity::update_many()
        .col_expr(job::Column::LeaseUntil, Expr::value(Utc::now() + lease))
        .filter(held_all(ids, worker))
        .exec(db)
        .await?;
    Ok(())
}

/// Records a failed attempt: queued again at `retry_at`, or dead when that is `None`.
pub async fn fail<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    worker: &str,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let mut update = unheld(job::Entity::update_many(), now)
        .col_expr(job::Column::LastError, Expr::value(truncate(error, 2000)));
    update = match retry_at {
        Some(at) => update
            .col_expr(job::Column::State, Expr::value(JobStatus::Queued.as_str()))
            .col_expr(job::Column::RunAt, Expr::value(at)),
        None => update
            .col_expr(job::Column::State, Expr::value(JobStatus::Dead.as_str()))
            .col_expr(job::Column::FinishedAt, Expr::value(now)),
    };
    let result = update.filter(held_by(id, worker)).exec(db).await?;
    Ok(result.rows_affected == 1)
}

/// Hands back a job `worker` holds without counting the attempt (shutdown, or "not yet").
pub async fn release<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    worker: &str,
    run_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    unheld(job::Entity::update_many(), Utc::now())
        .col_expr(job::Column::State, Expr::value(JobStatus::Queued.as_str()))
        .col_expr(
            job::Column::Attempts,
            Expr::col(job::Column::Attempts).sub(1),
        )
        .col_expr(job::Column::RunAt, Expr::value(run_at))
        .filter(held_by(id, worker))
        .exec(db)
        .await?;
    Ok(())
}

/// Queues a dead job again with its attempts reset. False unless it was dead.
pub async fn retry<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<bool, DbErr> {
    let now = Utc::now();
    let result = job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(JobStatus::Queued.as_str()))
        .col_expr(job::Column::Attempts, Expr::value(0))
        .col_expr(job::Column::RunAt, Expr::value(now))
        .col_expr(
            job::Column::FinishedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::State.eq(JobStatus::Dead.as_str()))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

pub async fn find<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<job::Model>, DbErr> {
    job::Entity::find_by_id(id).one(db).await
}

/// A page of jobs, newest first (ids are UUIDv7), optionally of one state and kind.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    state: Option<JobStatus>,
    kind: Option<&str>,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<job::Model>, DbErr> {
    let mut query = job::Entity::find();
    if let Some(state) = state {
        query = query.filter(job::Column::State.eq(state.as_str()));
    }
    if let Some(kind) = kind {
        query = query.filter(job::Column::Kind.eq(kind));
    }
    if let Some(before) = before {
        query = query.filter(job::Column::Id.lt(before));
    }
    query
        .order_by_desc(job::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

#[derive(Debug, FromQueryResult)]
pub struct Depth {
    pub kind: String,
    pub state: String,
    pub count: i64,
}

/// How many jobs there are of each kind and state, finished ones aside.
pub async fn depth<C: ConnectionTrait>(db: &C) -> Result<Vec<Depth>, DbErr> {
    job::Entity::find()
        .select_only()
        .column(job::Column::Kind)
        .column(job::Column::State)
        .column_as(job::Column::Id.count(), "count")
        .filter(job::Column::State.ne(JobStatus::Done.as_str()))
        .group_by(job::Column::Kind)
        .group_by(job::Column::State)
        .into_model::<Depth>()
        .all(db)
        .await
}

/// Deletes jobs finished before `before`. Dead ones stay until an admin retries them.
pub async fn prune<C: ConnectionTrait>(db: &C, before: DateTime<Utc>) -> Result<u64, DbErr> {
    let result = job::Entity::delete_many()
        .filter(job::Column::State.eq(JobStatus::Done.as_str()))
        .filter(job::Column::FinishedAt.lt(before))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}
