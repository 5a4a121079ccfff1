//! `/v1/admin/shipments/problems`: the courier legs that need a person: refused orders, parcels
//! returned, failed deliveries, exceptions, and parcels with no movement for
//! `courier.stuck_after_hours`. Addresses stay out; operators look the case up by its id. Each
//! problem names its partner; `?partner=` shows one partner's, with every partner's count.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::problem::{ApiError, ApiResult, FieldProblem};
use crate::api::security::StaffAuth;
use crate::cases::drop_off::{BOX, shown_waybill};
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
    /// The quietest first (of `partner` only, when given).
    pub items: Vec<ShipmentProblem>,
    /// How many problems each partner has, every partner counted whatever the filter.
    pub by_partner: std::collections::BTreeMap<String, u64>,
}

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminShipmentsApi {
    /// Courier legs that need a person, with the reason for each (admin).
    #[oai(path = "/v1/admin/shipments/problems", method = "get")]
    async fn problems(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        /// Only this partner's legs, e.g. `ems`, or `box` for drops in the box.
        #[oai(validator(max_length = 16))]
        partner: Query<Option<String>>,
    ) -> ApiResult<Json<ShipmentProblemList>> {
        auth.0.require(Role::Admin)?;
        if let Some(partner) = partner.0.as_deref()
            && !state.config.courier.enabled(partner)
            && partner != BOX
        {
            return Err(ApiError::invalid_fields(vec![FieldProblem::new(
                "partner",
                format!(
                    "`{partner}` is not an enabled courier partner ({})",
                    state.config.courier.partners.join(", ")
                ),
            )]));
        }
        let now = state.clock.now();
        let problems = reconcile::problems(state.db()?, &state.config).await?;
        let mut by_partner = std::collections::BTreeMap::new();
        for p in &problems {
            *by_partner.entry(p.shipment.partner.clone()).or_insert(0) += 1;
        }
        let items = problems
            .into_iter()
            .filter(|p| {
                partner
                    .0
                    .as_ref()
                    .is_none_or(|only| *only == p.shipment.partner)
            })
            .map(|p| ShipmentProblem {
                shipment_id: p.shipment.id,
                application_id: p.shipment.application_id,
                leg: p.shipment.leg,
                waybill_no: shown_waybill(&p.shipment.partner, p.shipment.waybill_no),
                partner: p.shipment.partner,
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
        Ok(Json(ShipmentProblemList { items, by_partner }))
    }
}
