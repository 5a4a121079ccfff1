//! `/v1/admin/audit`: the audit log, newest first, with filters and a cursor.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::problem::ApiResult;
use crate::api::security::StaffAuth;
use crate::domain::staff::Role;
use crate::state::AppState;
use crate::store::audit::{self, Filter};

pub struct AdminAuditApi;

#[derive(Object)]
pub struct AuditEntry {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    /// `staff`, `citizen` or `system`.
    pub actor_kind: String,
    #[oai(skip_serializing_if_is_none)]
    pub actor_id: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    pub actor_name: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub client_ip: Option<String>,
    /// e.g. `login`, `staff.create`, `review.claim`.
    pub action: String,
    #[oai(skip_serializing_if_is_none)]
    pub target_kind: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub target_id: Option<Uuid>,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    #[oai(skip_serializing_if_is_none)]
    pub detail: Option<String>,
    /// The resident (citizen account) an agent acted for.
    #[oai(skip_serializing_if_is_none)]
    pub on_behalf_of: Option<Uuid>,
}

#[derive(Object)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminAuditApi {
    /// The audit log, newest first.
    #[oai(path = "/v1/admin/audit", method = "get")]
    #[allow(clippy::too_many_arguments)] // one per filter of the contract
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        /// Only this actor's entries.
        actor: Query<Option<Uuid>>,
        /// Only entries about this application (or other target id).
        application: Query<Option<Uuid>>,
        /// Only this action, e.g. `login`.
        action: Query<Option<String>>,
        /// From this time (inclusive).
        from: Query<Option<DateTime<Utc>>>,
        /// Up to this time (exclusive).
        to: Query<Option<DateTime<Utc>>>,
        cursor: Query<Option<Uuid>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "500"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<Json<AuditPage>> {
        auth.0.require(Role::Admin)?;
        let filter = Filter {
            actor_id: actor.0,
            target_id: application.0,
            action: action.0,
            from: from.0,
            to: to.0,
            before: cursor.0,
        };
        let rows = audit::list(state.db()?, &filter, limit.0 + 1).await?;
        let more = rows.len() as u64 > limit.0;
        let items: Vec<AuditEntry> = rows
            .into_iter()
            .take(limit.0 as usize)
            .map(|e| AuditEntry {
                id: e.id,
                at: e.at,
                actor_kind: e.actor_kind,
                actor_id: e.actor_id,
                actor_name: e.actor_name,
                client_ip: e.client_ip,
                action: e.action,
                target_kind: e.target_kind,
                target_id: e.target_id,
                outcome: e.outcome,
                detail: e.detail,
                on_behalf_of: e.on_behalf_of,
            })
            .collect();
        let next_cursor = more
            .then(|| items.last().map(|i| i.id.to_string()))
            .flatten();
        Ok(Json(AuditPage { items, next_cursor }))
    }
}

fn default_limit() -> u64 {
    100
}
