//! `/v1/agent/pickups`: one courier visit to the service point collects the originals of every
//! case of the point waiting for it. The parcel carries them all; the courier's pushes move
//! each case, and reception finds each department's own in it.

use poem::web::Data;
use poem_openapi::param::Header;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::agent_of;
use crate::api::ApiTags;
use crate::api::admin::service_points::{ServicePoint, point_view};
use crate::api::applications::Address;
use crate::api::applications::pickup::{self, Pickup, PickupRequest, PickupWindow};
use crate::api::idempotent;
use crate::api::pickup_slots::{PickupSlots, offered, partners};
use crate::api::problem::{ApiError, ApiResult};
use crate::api::security::{ClientIp, StaffAuth, audit_staff_action};
use crate::state::AppState;
use crate::store::{begin_write, service_points};

pub struct AgentPickupsApi;

#[derive(Debug, Clone, Object)]
pub struct PointPickupRequest {
    pub window: PickupWindow,
    /// Where the courier collects; defaults to the service point's address.
    #[oai(skip_serializing_if_is_none)]
    pub address: Option<Address>,
}

#[derive(ApiResponse)]
pub enum PointPickupBooked {
    /// Booked; `carries` lists every case the one parcel collects. A retry with the same
    /// `Idempotency-Key` and body answers the same.
    #[oai(status = 201)]
    Created(Json<Pickup>),
}

const SCOPE: &str = "agent.pickups.create";

#[OpenApi(tag = "ApiTags::Agent")]
impl AgentPickupsApi {
    /// The windows a courier can collect at my service point in.
    #[oai(path = "/v1/agent/pickup-slots", method = "get")]
    async fn slots(&self, state: Data<&AppState>, auth: StaffAuth) -> ApiResult<Json<PickupSlots>> {
        let agent = agent_of(&auth.0)?;
        let point = point_of(&state, agent.service_point).await?;
        Ok(Json(PickupSlots {
            city: point.address.city,
            items: offered(&state.config, state.clock.now()),
            partners: partners(&state.config),
        }))
    }

    /// Book one courier visit to my service point for every case waiting for its originals
    /// to be collected (409 `nothing_to_collect` when none is).
    #[oai(path = "/v1/agent/pickups", method = "post")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        /// Any unique string per intended booking, reused on retries.
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 128))]
        idempotency_key: Header<Option<String>>,
        body: Json<PointPickupRequest>,
    ) -> ApiResult<PointPickupBooked> {
        let agent = agent_of(&auth.0)?;
        let db = state.db()?;
        let key = idempotency_key.0.as_deref();
        let request_hash = idempotent::request_hash(&body.0);
        {
            let txn = begin_write(db).await?;
            if let Some(earlier) =
                idempotent::earlier(&txn, agent.id, SCOPE, key, &request_hash).await?
            {
                return Ok(PointPickupBooked::Created(Json(earlier)));
            }
        }
        let address = match body.0.address.clone() {
            Some(address) => address,
            None => point_of(&state, agent.service_point).await?.address,
        };
        let request = PickupRequest {
            address,
            window: body.0.window.clone(),
            partner: None,
        };
        let (contact, window) = pickup::check(&state, &request)?;
        let row = (state.cases)
            .schedule_point_pickup(db, agent, contact, window)
            .await?;
        let view = pickup::view(db, &row).await?;
        let detail = Some(format!("cases={}", view.carries.len()));
        let target = Some(("shipment", row.id));
        audit_staff_action(&state, &auth.0, &ip, "agent.pickup", target, detail).await?;
        let txn = begin_write(db).await?;
        let saved =
            idempotent::save(db, txn, agent.id, SCOPE, key, &request_hash, 201, view).await?;
        let view = saved.answer().await?;
        Ok(PointPickupBooked::Created(Json(view)))
    }
}

/// The agent's service point, as the admin sees it.
async fn point_of(state: &AppState, id: uuid::Uuid) -> ApiResult<ServicePoint> {
    let point = service_points::find(state.db()?, id)
        .await?
        .ok_or_else(|| ApiError::internal("an agent's service point is missing"))?;
    point_view(&point)
}
