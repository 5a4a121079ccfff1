//! `/v1/review/*`: the pre-review queue of a reviewer's departments and claim leases on its
//! cases (here), the case view and decisions (`decision.rs`). A case outside the reviewer's
//! departments answers 404 and never shows in their queue.

pub mod decision;

use chrono::{DateTime, Duration, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::problem::{ApiError, ApiResult};
use crate::api::security::{
    ClientIp, StaffAuth, StaffMember, audit_staff_action, audit_staff_read, staff_record,
};
use crate::cases::change::state_of;
use crate::cases::{CaseError, reads};
use crate::domain::application::ApplicationState;
use crate::domain::staff::Role;
use crate::state::AppState;
use crate::store::applications::application;
use crate::store::{begin_write, claims};

pub struct ReviewApi;

/// A case in the pre-review queue.
#[derive(Debug, Clone, Object)]
pub struct QueueRow {
    pub id: Uuid,
    pub matter_code: String,
    pub department_code: String,
    /// When the citizen first submitted; SLA figures count from here.
    pub first_submitted_at: DateTime<Utc>,
    /// When it was last (re)submitted.
    pub submitted_at: DateTime<Utc>,
    /// Seconds since the first submission.
    pub waited_secs: i64,
    /// Returned once and submitted again: it comes ahead of new cases.
    pub resubmitted: bool,
    /// The pre-review deadline (from the item's `prereview_hours`).
    #[oai(skip_serializing_if_is_none)]
    pub due_at: Option<DateTime<Utc>>,
    /// Past its deadline.
    pub overdue: bool,
    /// Someone holds a live claim on it.
    pub claimed: bool,
    /// That someone is you.
    pub claimed_by_me: bool,
    #[oai(skip_serializing_if_is_none)]
    pub claim_expires_at: Option<DateTime<Utc>>,
    /// Seconds left on the claim by the service's clock: count down from this rather than from
    /// `claim_expires_at` where the client's clock may be off.
    #[oai(skip_serializing_if_is_none)]
    pub claim_remaining_secs: Option<i64>,
}

#[derive(Debug, Clone, Object)]
pub struct QueuePage {
    pub items: Vec<QueueRow>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<Uuid>,
}

#[derive(Debug, Clone, Object)]
pub struct QueueCount {
    pub matter_code: String,
    pub department_code: String,
    /// Submitted and not claimed.
    pub waiting: u64,
    /// Under a live claim.
    pub claimed: u64,
    /// Past the pre-review deadline, claimed or not.
    pub overdue: u64,
}

#[derive(Debug, Clone, Object)]
pub struct QueueStats {
    pub items: Vec<QueueCount>,
}

/// Counts submitted cases per (item, department).
pub fn count(rows: &[application::Model], now: DateTime<Utc>) -> Vec<QueueCount> {
    let mut counts: std::collections::BTreeMap<(String, String), QueueCount> = Default::default();
    for app in rows {
        let entry = counts
            .entry((app.matter_code.clone(), app.department_code.clone()))
            .or_insert_with(|| QueueCount {
                matter_code: app.matter_code.clone(),
                department_code: app.department_code.clone(),
                waiting: 0,
                claimed: 0,
                overdue: 0,
            });
        if claims::holder(app, now).is_some() {
            entry.claimed += 1;
        } else {
            entry.waiting += 1;
        }
        if claims::overdue(app, now) {
            entry.overdue += 1;
        }
    }
    counts.into_values().collect()
}

#[derive(ApiResponse)]
pub enum ClaimNext {
    /// The case now claimed by you.
    #[oai(status = 200)]
    Claimed(Json<QueueRow>),
    /// Nothing left to claim.
    #[oai(status = 204)]
    Empty,
}

#[derive(ApiResponse)]
pub enum Released {
    /// The case is back in the queue.
    #[oai(status = 204)]
    Released,
}

#[OpenApi(tag = "ApiTags::Review")]
impl ReviewApi {
    /// Submitted cases of my departments: resubmitted first, then oldest first.
    #[oai(path = "/v1/review/queue", method = "get")]
    #[allow(clippy::too_many_arguments)] // one per filter of the contract
    async fn queue(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        /// Only this item.
        matter: Query<Option<String>>,
        /// Only this one of my departments.
        department: Query<Option<String>>,
        /// Only cases past their pre-review deadline.
        #[oai(default)]
        overdue: Query<bool>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<Uuid>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<Json<QueuePage>> {
        auth.0.require(Role::Reviewer)?;
        let db = state.db()?;
        let departments = scope(&auth.0, department.0.as_deref());
        let after = match cursor.0 {
            Some(id) => Some(
                <application::Entity as sea_orm::EntityTrait>::find_by_id(id)
                    .one(db)
                    .await?
                    .ok_or_else(|| {
                        ApiError::bad_request("invalid_cursor", "The cursor is not one we issued.")
                    })?,
            ),
            None => None,
        };
        let rows = claims::queue(
            db,
            &departments,
            matter.0.as_deref(),
            overdue.0,
            after.as_ref(),
            limit.0 + 1,
            state.clock.now(),
        )
        .await?;
        let more = rows.len() as u64 > limit.0;
        let now = state.clock.now();
        let items: Vec<QueueRow> = rows
            .iter()
            .take(limit.0 as usize)
            .map(|a| row(a, auth.0.id, now))
            .collect();
        let next_cursor = more.then(|| items.last().map(|i| i.id)).flatten();
        audit_staff_read(
            &state,
            staff_record(&auth.0, &ip, "review.queue", None, None),
        )
        .await?;
        Ok(Json(QueuePage { items, next_cursor }))
    }

    /// Counts per item and department of my queue: waiting, claimed, overdue.
    #[oai(path = "/v1/review/queue/stats", method = "get")]
    async fn stats(&self, state: Data<&AppState>, auth: StaffAuth) -> ApiResult<Json<QueueStats>> {
        auth.0.require(Role::Reviewer)?;
        let rows = claims::submitted(state.db()?, Some(&auth.0.departments)).await?;
        Ok(Json(QueueStats {
            items: count(&rows, state.clock.now()),
        }))
    }

    /// Claim the oldest unclaimed case I may review, or 204 when there is none.
    #[oai(path = "/v1/review/claim-next", method = "post")]
    async fn claim_next(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
    ) -> ApiResult<ClaimNext> {
        auth.0.require(Role::Reviewer)?;
        let claimed = claims::claim_next(
            state.db()?,
            auth.0.id,
            &auth.0.departments,
            lease(&state),
            state.clock.now(),
            // On PostgreSQL the case's id is filled in by the statement that claims it.
            |id| {
                let mut record = staff_record(&auth.0, &ip, "review.claim", None, None);
                record.target_kind = Some("application");
                record.target_id = id;
                record
            },
        )
        .await?;
        match claimed {
            Some(app) => Ok(ClaimNext::Claimed(Json(row(
                &(&app).into(),
                auth.0.id,
                state.clock.now(),
            )))),
            None => Ok(ClaimNext::Empty),
        }
    }

    /// Claim one case (or renew my claim on it).
    #[oai(path = "/v1/review/applications/:id/claim", method = "post")]
    async fn claim(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
    ) -> ApiResult<Json<QueueRow>> {
        auth.0.require(Role::Reviewer)?;
        let db = state.db()?;
        let txn = begin_write(db).await?;
        let app = reads::visible(&txn, &auth.0.departments, id.0).await?;
        let now = state.clock.now();
        let current = state_of(&app)?;
        if current != ApplicationState::Submitted {
            return Err(CaseError::WrongState {
                state: current,
                needs: ApplicationState::Submitted,
            }
            .into());
        }
        if claims::holder(&app, now).is_some_and(|who| who != auth.0.id) {
            return Err(ApiError::conflict(
                "claimed_by_other",
                "Another reviewer holds this case.",
            ));
        }
        if !claims::take(&txn, &app, auth.0.id, now, lease(&state)).await? {
            return Err(ApiError::conflict(
                "claimed_by_other",
                "Another reviewer took this case just now.",
            ));
        }
        let app = reads::visible(&txn, &auth.0.departments, id.0).await?;
        // The claim and its record in one commit: a crash leaves neither without the other.
        let target = Some(("application", app.id));
        let record = staff_record(&auth.0, &ip, "review.claim", target, None);
        crate::store::audit::append(&txn, record).await?;
        txn.commit().await?;
        Ok(Json(row(&(&app).into(), auth.0.id, now)))
    }

    /// Give a case back to the queue.
    #[oai(path = "/v1/review/applications/:id/release", method = "post")]
    async fn release(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
    ) -> ApiResult<Released> {
        auth.0.require(Role::Reviewer)?;
        let db = state.db()?;
        let txn = begin_write(db).await?;
        let app = reads::visible(&txn, &auth.0.departments, id.0).await?;
        let held = claims::holder(&app, state.clock.now()) == Some(auth.0.id);
        if !held || !claims::release(&txn, &app, auth.0.id).await? {
            return Err(ApiError::conflict(
                "not_claim_holder",
                "You do not hold a claim on this case.",
            ));
        }
        let target = Some(("application", app.id));
        let record = staff_record(&auth.0, &ip, "review.release", target, None);
        crate::store::audit::append(&txn, record).await?;
        txn.commit().await?;
        Ok(Released::Released)
    }
}

fn default_limit() -> u64 {
    50
}

pub fn lease(state: &AppState) -> Duration {
    Duration::seconds(state.config.review.claim_lease_secs as i64)
}

/// The departments a request covers: all of mine, or the one asked for if it is mine.
fn scope(member: &StaffMember, department: Option<&str>) -> Vec<String> {
    match department {
        Some(d) => member
            .departments
            .iter()
            .filter(|m| *m == d)
            .cloned()
            .collect(),
        None => member.departments.clone(),
    }
}

fn row(app: &claims::Waiting, me: Uuid, now: DateTime<Utc>) -> QueueRow {
    let first = app.first_submitted_at.unwrap_or(app.created_at);
    let holder = app.holder(now);
    QueueRow {
        id: app.id,
        matter_code: app.matter_code.clone(),
        department_code: app.department_code.clone(),
        first_submitted_at: first,
        submitted_at: app.submitted_at.unwrap_or(first),
        waited_secs: (now - first).num_seconds().max(0),
        resubmitted: app.queue_priority > 0,
        due_at: app.prereview_due_at,
        overdue: app.overdue(now),
        claimed: holder.is_some(),
        claimed_by_me: holder == Some(me),
        claim_expires_at: holder.and(app.claim_expires_at),
        claim_remaining_secs: remaining(app.claim_expires_at, holder, now),
    }
}

/// Seconds left on a live claim that ends at `expires_at`.
pub fn remaining(
    expires_at: Option<DateTime<Utc>>,
    holder: Option<Uuid>,
    now: DateTime<Utc>,
) -> Option<i64> {
    holder
        .and(expires_at)
        .map(|until| (until - now).num_seconds().max(0))
}

pub async fn audit_review(
    state: &AppState,
    member: &StaffMember,
    ip: &ClientIp,
    action: &'static str,
    target: Option<Uuid>,
    detail: Option<String>,
) -> Result<(), ApiError> {
    let target = target.map(|id| ("application", id));
    audit_staff_action(state, member, ip, action, target, detail).await
}
