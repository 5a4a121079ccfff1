//! Claim leases on submitted applications. A claim is a lease: it ends at `claim_expires_at`
//! unless renewed, and an expired claim counts as no claim. Two reviewers never hold one case:
//! every claim is a conditional UPDATE, and claim-next picks its row with `FOR UPDATE SKIP
//! LOCKED` on PostgreSQL (SQLite's `BEGIN IMMEDIATE` serialises writers).

use chrono::{DateTime, Duration, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{Condition, DatabaseBackend, QueryOrder, QuerySelect, QueryTrait};
use uuid::Uuid;

use crate::domain::application::ApplicationState;
use crate::store::applications::{self, application};

/// Submitted applications of these departments that nobody holds a live claim on.
fn claimable(departments: &[String], now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(application::Column::State.eq(ApplicationState::Submitted.as_str()))
        .add(application::Column::DepartmentCode.is_in(departments.iter().cloned()))
        .add(
            Condition::any()
                .add(application::Column::ClaimedBy.is_null())
                .add(application::Column::ClaimExpiresAt.lt(now)),
        )
}

/// Hands `reviewer` the oldest claimable case (resubmitted ones first), or `None`, and appends
/// `audit(case)` to the audit log in the same commit. On PostgreSQL one statement on its own:
/// an UPDATE of the row a `SKIP LOCKED` sub-select picks, and the INSERT of its audit record,
/// as data-modifying `WITH` queries (one round trip, one WAL flush); on SQLite a write
/// transaction.
pub async fn claim_next(
    db: &DatabaseConnection,
    reviewer: Uuid,
    departments: &[String],
    lease: Duration,
    now: DateTime<Utc>,
    audit: impl FnOnce(Option<Uuid>) -> crate::store::audit::Record,
) -> Result<Option<application::Model>, DbErr> {
    if db.get_database_backend() == DatabaseBackend::Postgres {
        use sea_orm::FromQueryResult;
        use sea_orm::sea_query::{Alias, Asterisk, CommonTableExpression, Query, WithClause};
        let next = application::Entity::find()
            .select_only()
            .column(application::Column::Id)
            .filter(claimable(departments, now))
            .order_by_desc(application::Column::QueuePriority)
            .order_by_asc(application::Column::FirstSubmittedAt)
            .order_by_asc(application::Column::Id)
            .limit(1)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .into_query();
        let claim = Query::update()
            .table(application::Entity)
            .value(application::Column::ClaimedBy, reviewer)
            .value(application::Column::ClaimExpiresAt, now + lease)
            .value(
                application::Column::Version,
                Expr::col(application::Column::Version).add(1),
            )
            .and_where(application::Column::Id.in_subquery(next))
            .returning_all()
            .to_owned();
        let statement = WithClause::new()
            .cte(
                CommonTableExpression::new()
                    .query(claim)
                    .table_name("claimed")
                    .to_owned(),
            )
            .cte(
                CommonTableExpression::new()
                    .query(crate::store::audit::insert_for(audit(None), "claimed")?)
                    .table_name("audited")
                    .to_owned(),
            )
            .to_owned()
            .query(
                Query::select()
                    .column(Asterisk)
                    .from(Alias::new("claimed"))
                    .to_owned(),
            );
        let row = db
            .query_one_raw(db.get_database_backend().build(&statement))
            .await?;
        return row
            .map(|row| application::Model::from_query_result(&row, ""))
            .transpose();
    }
    let txn = crate::store::begin_write(db).await?;
    let claimed = claim_next_in(&txn, reviewer, departments, lease, now).await?;
    if let Some(app) = &claimed {
        crate::store::audit::append(&txn, audit(Some(app.id))).await?;
    }
    txn.commit().await?;
    Ok(claimed)
}

/// `claim_next` in a write transaction that serialises writers (SQLite's `BEGIN IMMEDIATE`).
async fn claim_next_in<C: ConnectionTrait>(
    db: &C,
    reviewer: Uuid,
    departments: &[String],
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Option<application::Model>, DbErr> {
    loop {
        let query = application::Entity::find()
            .filter(claimable(departments, now))
            .order_by_desc(application::Column::QueuePriority)
            .order_by_asc(application::Column::FirstSubmittedAt)
            .order_by_asc(application::Column::Id)
            .limit(1);
        let Some(candidate) = query.one(db).await? else {
            return Ok(None);
        };
        if take(db, &candidate, reviewer, now, lease).await? {
            return application::Entity::find_by_id(candidate.id).one(db).await;
        }
        // Someone else took it between our read and our write; look again.
    }
}

/// Gives `app` to `reviewer` if it is submitted and unclaimed (or theirs, or expired).
pub async fn take<C: ConnectionTrait>(
    db: &C,
    app: &application::Model,
    reviewer: Uuid,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<bool, DbErr> {
    let result = application::Entity::update_many()
        .col_expr(application::Column::ClaimedBy, Expr::value(reviewer))
        .col_expr(
            application::Column::ClaimExpiresAt,
            Expr::value(now + lease),
        )
        .col_expr(application::Column::Version, Expr::value(app.version + 1))
        .filter(application::Column::Id.eq(app.id))
        .filter(application::Column::Version.eq(app.version))
        .filter(application::Column::State.eq(ApplicationState::Submitted.as_str()))
        .filter(
            Condition::any()
                .add(application::Column::ClaimedBy.is_null())
                .add(application::Column::ClaimedBy.eq(reviewer))
                .add(application::Column::ClaimExpiresAt.lt(now)),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Ends `reviewer`'s claim on `app`. False when they do not hold it.
pub async fn release<C: ConnectionTrait>(
    db: &C,
    app: &application::Model,
    reviewer: Uuid,
) -> Result<bool, DbErr> {
    let result = applications::end_claim(application::Entity::update_many())
        .col_expr(application::Column::Version, Expr::value(app.version + 1))
        .filter(application::Column::Id.eq(app.id))
        .filter(application::Column::ClaimedBy.eq(reviewer))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// The live holder of a claim, if any.
pub fn holder(app: &application::Model, now: DateTime<Utc>) -> Option<Uuid> {
    live_claim(app.claimed_by, app.claim_expires_at, now)
}

fn live_claim(
    claimed_by: Option<Uuid>,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<Uuid> {
    match (claimed_by, expires_at) {
        (Some(who), Some(until)) if until > now => Some(who),
        _ => None,
    }
}

/// A case as the queue lists it: the columns a queue row needs, not the applicant's details or
/// JSON columns (a page reads many rows).
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub struct Waiting {
    pub id: Uuid,
    pub matter_code: String,
    pub department_code: String,
    pub created_at: DateTime<Utc>,
    pub first_submitted_at: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub queue_priority: i32,
    pub prereview_due_at: Option<DateTime<Utc>>,
    pub claimed_by: Option<Uuid>,
    pub claim_expires_at: Option<DateTime<Utc>>,
}

impl Waiting {
    const COLUMNS: [application::Column; 10] = [
        application::Column::Id,
        application::Column::MatterCode,
        application::Column::DepartmentCode,
        application::Column::CreatedAt,
        application::Column::FirstSubmittedAt,
        application::Column::SubmittedAt,
        application::Column::QueuePriority,
        application::Column::PrereviewDueAt,
        application::Column::ClaimedBy,
        application::Column::ClaimExpiresAt,
    ];

    /// Who holds a live claim on it.
    pub fn holder(&self, now: DateTime<Utc>) -> Option<Uuid> {
        live_claim(self.claimed_by, self.claim_expires_at, now)
    }

    pub fn overdue(&self, now: DateTime<Utc>) -> bool {
        past_due(self.prereview_due_at, now)
    }
}

impl From<&application::Model> for Waiting {
    fn from(app: &application::Model) -> Self {
        Self {
            id: app.id,
            matter_code: app.matter_code.clone(),
            department_code: app.department_code.clone(),
            created_at: app.created_at,
            first_submitted_at: app.first_submitted_at,
            submitted_at: app.submitted_at,
            queue_priority: app.queue_priority,
            prereview_due_at: app.prereview_due_at,
            claimed_by: app.claimed_by,
            claim_expires_at: app.claim_expires_at,
        }
    }
}

/// One page of the queue: submitted cases of these departments, resubmitted first, then
/// oldest first submission. `after` is the last row of the previous page.
pub async fn queue<C: ConnectionTrait>(
    db: &C,
    departments: &[String],
    matter: Option<&str>,
    overdue_only: bool,
    after: Option<&application::Model>,
    limit: u64,
    now: DateTime<Utc>,
) -> Result<Vec<Waiting>, DbErr> {
    let mut condition = Condition::all()
        .add(application::Column::State.eq(ApplicationState::Submitted.as_str()))
        .add(application::Column::DepartmentCode.is_in(departments.iter().cloned()));
    if let Some(matter) = matter {
        condition = condition.add(application::Column::MatterCode.eq(matter));
    }
    if overdue_only {
        condition = condition.add(application::Column::PrereviewDueAt.lt(now));
    }
    if let Some(after) = after {
        // (priority desc, first_submitted_at asc, id asc) strictly after `after`.
        let first = after.first_submitted_at.unwrap_or(after.created_at);
        condition = condition.add(
            Condition::any()
                .add(application::Column::QueuePriority.lt(after.queue_priority))
                .add(
                    Condition::all()
                        .add(application::Column::QueuePriority.eq(after.queue_priority))
                        .add(
                            Condition::any()
                                .add(application::Column::FirstSubmittedAt.gt(first))
                                .add(
                                    Condition::all()
                                        .add(application::Column::FirstSubmittedAt.eq(first))
                                        .add(application::Column::Id.gt(after.id)),
                                ),
                        ),
                ),
        );
    }
    application::Entity::find()
        .filter(condition)
        .select_only()
        .columns(Waiting::COLUMNS)
        .order_by_desc(application::Column::QueuePriority)
        .order_by_asc(application::Column::FirstSubmittedAt)
        .order_by_asc(application::Column::Id)
        .limit(limit)
        .into_model::<Waiting>()
        .all(db)
        .await
}

/// Every submitted case of these departments (all departments when `None`), for counts.
pub async fn submitted<C: ConnectionTrait>(
    db: &C,
    departments: Option<&[String]>,
) -> Result<Vec<application::Model>, DbErr> {
    let mut query = application::Entity::find()
        .filter(application::Column::State.eq(ApplicationState::Submitted.as_str()));
    if let Some(departments) = departments {
        query =
            query.filter(application::Column::DepartmentCode.is_in(departments.iter().cloned()));
    }
    query.all(db).await
}

/// Whether a submitted case has passed its pre-review deadline.
pub fn overdue(app: &application::Model, now: DateTime<Utc>) -> bool {
    past_due(app.prereview_due_at, now)
}

fn past_due(due_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    due_at.is_some_and(|due| due < now)
}

/// Clears claims whose lease ended. They already count as no claim; this tidies the rows so the
/// queue shows them unclaimed to anyone reading the columns directly. Returns how many.
pub async fn clear_expired<C: ConnectionTrait>(db: &C, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let result = applications::end_claim(application::Entity::update_many())
        .filter(application::Column::ClaimedBy.is_not_null())
        .filter(application::Column::ClaimExpiresAt.lt(now))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
