//! Claim leases on submitted applications. A claim is a lease: it ends at `claim_expires_at`
//! unless renewed, and an expired claim counts as no claim. Two reviewers never hold one case:
//! every claim is a conditional UPDATE inside a write transaction, and claim-next picks its row
//! with `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite's `BEGIN IMMEDIATE` serialises writers).

use chrono::{DateTime, Duration, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{Condition, DatabaseBackend, QueryOrder, QuerySelect};
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

/// Hands `reviewer` the oldest claimable case (resubmitted ones first), or `None`.
pub async fn claim_next<C: ConnectionTrait>(
    db: &C,
    reviewer: Uuid,
    departments: &[String],
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Option<application::Model>, DbErr> {
    loop {
        let mut query = application::Entity::find()
            .filter(claimable(departments, now))
            .order_by_desc(application::Column::QueuePriority)
            .order_by_asc(application::Column::FirstSubmittedAt)
            .order_by_asc(application::Column::Id)
            .limit(1);
        if db.get_database_backend() == DatabaseBackend::Postgres {
            query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
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
    match (app.claimed_by, app.claim_expires_at) {
        (Some(who), Some(until)) if until > now => Some(who),
        _ => None,
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
) -> Result<Vec<application::Model>, DbErr> {
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
        .order_by_desc(application::Column::QueuePriority)
        .order_by_asc(application::Column::FirstSubmittedAt)
        .order_by_asc(application::Column::Id)
        .limit(limit)
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
    app.prereview_due_at.is_some_and(|due| due < now)
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
