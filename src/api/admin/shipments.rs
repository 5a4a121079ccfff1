//! `/v1/admin/shipments/problems`: the courier legs that need a person: refused orders, parcels
//! returned, failed deliveries, exceptions, and parcels with no movement for
//! `courier.stuck_after_hours`. Addresses stay out; operators look the case up by its id.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::problem::ApiResult;
use crate::api::security::StaffAuth;
use crate::courier::reconcile::{self, ProblemReason};
use crate::domain::staff::Role;
use crate::integrations::courier::ShipmentStatus;
use crate::state::AppState;

pub struct AdminShipmentsApi;

#[derive(Object)]
pub struct ShipmentProblem {
    pub shipment_id: Uuid,
    pub application_id: Uuid,
    /// `materials`, `result` or `return`.
    pub leg: String,
    pub partner: String,
    #[oai(skip_serializing_if_is_none)]
    pub waybill_no: Option<String>,
    pub reason: ProblemReason,
    pub status: ShipmentStatus,
    /// `requested`, `created`, `cancel_requested`, `cancelled` or `failed`.
    pub order_status: String,
    /// The partner's code of the last step that set `status`.
    #[oai(skip_serializing_if_is_none)]
    pub last_op_code: Option<String>,
    /// Why the order failed, as the partner said it.
    #[oai(skip_serializing_if_is_none)]
    pub last_error: Option<String>,
    /// The last news of the parcel: its last route event, else when its order last changed.
    pub quiet_since: DateTime<Utc>,
    /// Whole hours since `quiet_since`.
    pub quiet_hours: i64,
}

#[derive(Object)]
pub struct ShipmentProblemList {
    /// The quietest first.
    pub items: Vec<ShipmentProblem>,
}

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminShipmentsApi {
    /// Courier legs that need a person, with the reason for each (admin).
    #[oai(path = "/v1/admin/shipments/problems", method = "get")]
    async fn problems(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
    ) -> ApiResult<Json<ShipmentProblemList>> {
        auth.0.require(Role::Admin)?;
        let now = state.clock.now();
        let items = reconcile::problems(state.db()?, &state.config)
            .await?
            .into_iter()
            .map(|p| ShipmentProblem {
                shipment_id: p.shipment.id,
                application_id: p.shipment.application_id,
                leg: p.shipment.leg,
                partner: p.shipment.partner,
                waybill_no: p.shipment.waybill_no,
                reason: p.reason,
                status: ShipmentStatus::parse(&p.shipment.status)
                    .unwrap_or(ShipmentStatus::Pending),
                order_status: p.shipment.order_status,
                last_op_code: p.shipment.last_op_code,
                last_error: p.shipment.last_error,
                quiet_since: p.quiet_since,
                quiet_hours: (now - p.quiet_since).num_hours().max(0),
            })
            .collect();
        Ok(Json(ShipmentProblemList { items }))
    }
}
