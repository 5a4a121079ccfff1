//! `/v1/applications/{id}/shipments`: where the citizen's parcels are. Every courier leg of the
//! application (originals in, result out, originals back), each with its full route as the
//! partner reported it, in the order things happened.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::problem::ApiResult;
use crate::api::security::CitizenAuth;
use crate::cases::drop_off::shown_waybill;
use crate::cases::reads;
use crate::integrations::courier::ShipmentStatus;
use crate::state::AppState;
use crate::store::shipments::{self, route_event, shipment};

pub struct ShipmentsApi;

/// One step of a parcel's route.
#[derive(Debug, Clone, Object)]
pub struct TrackingStep {
    /// When it happened.
    pub time: DateTime<Utc>,
    pub status: ShipmentStatus,
    /// The partner's own operation code (SF `opCode`).
    pub op_code: String,
    /// Where, as the partner names it.
    #[oai(skip_serializing_if_is_none)]
    pub location: Option<String>,
    /// The partner's words, e.g. `顺丰速运 已收取快件`.
    pub description: String,
}

/// A courier leg and its route.
#[derive(Debug, Clone, Object)]
pub struct TrackedShipment {
    pub id: Uuid,
    /// `materials` (originals to the centre), `result` (the result to the citizen) or `return`
    /// (originals back).
    pub leg: String,
    /// The courier partner, e.g. `sf`.
    pub partner: String,
    /// The waybill number (运单号), once the partner gave one.
    #[oai(skip_serializing_if_is_none)]
    pub waybill_no: Option<String>,
    /// Where the parcel is. It only moves forward; `delivery_failed` and `exception` last until
    /// the next step.
    pub status: ShipmentStatus,
    /// The courier order: `requested` (being placed), `created`, `cancel_requested`,
    /// `cancelled` or `failed`.
    pub order_status: String,
    #[oai(skip_serializing_if_is_none)]
    pub courier_name: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub courier_phone: Option<String>,
    /// The booked pickup day (`YYYY-MM-DD`, local) and window (`HH:MM-HH:MM`).
    #[oai(skip_serializing_if_is_none)]
    pub pickup_date: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub pickup_slot: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub pickup_from: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub pickup_until: Option<DateTime<Utc>>,
    /// When the partner last reported a step.
    #[oai(skip_serializing_if_is_none)]
    pub last_event_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Every reported step, oldest first, including late ones that did not change `status`.
    pub timeline: Vec<TrackingStep>,
}

#[derive(Debug, Clone, Object)]
pub struct ShipmentList {
    /// Oldest first.
    pub items: Vec<TrackedShipment>,
}

fn status(text: &str) -> ShipmentStatus {
    ShipmentStatus::parse(text).unwrap_or(ShipmentStatus::Pending)
}

fn step(event: route_event::Model) -> TrackingStep {
    TrackingStep {
        time: event.occurred_at,
        status: status(&event.status),
        op_code: event.op_code,
        location: event.location,
        description: event.description,
    }
}

fn view(row: shipment::Model, timeline: Vec<TrackingStep>) -> TrackedShipment {
    TrackedShipment {
        id: row.id,
        status: status(&row.status),
        leg: row.leg,
        waybill_no: shown_waybill(&row.partner, row.waybill_no),
        partner: row.partner,
        order_status: row.order_status,
        courier_name: row.courier_name,
        courier_phone: row.courier_phone,
        pickup_date: row.pickup_date,
        pickup_slot: row.pickup_slot,
        pickup_from: row.pickup_from,
        pickup_until: row.pickup_until,
        last_event_at: row.last_event_at,
        delivered_at: row.delivered_at,
        created_at: row.created_at,
        timeline,
    }
}

#[OpenApi(tag = "ApiTags::Applications")]
impl ShipmentsApi {
    /// My application's parcels and their routes.
    #[oai(path = "/v1/applications/:id/shipments", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<ShipmentList>> {
        let db = state.db()?;
        let app = reads::owned(db, auth.0.id, id.0).await?;
        Ok(Json(tracked(db, app.id).await?))
    }
}

/// Every parcel of case `application` (the caller has checked who may see it), with its route.
pub async fn tracked<C: sea_orm::ConnectionTrait>(
    db: &C,
    application: Uuid,
) -> ApiResult<ShipmentList> {
    let rows = shipments::of_application(db, application).await?;
    let ids: Vec<Uuid> = rows.iter().map(|s| s.id).collect();
    let mut timelines: HashMap<Uuid, Vec<TrackingStep>> = HashMap::new();
    for event in shipments::events_of(db, &ids).await? {
        if let Some(shipment_id) = event.shipment_id {
            timelines.entry(shipment_id).or_default().push(step(event));
        }
    }
    let items = rows
        .into_iter()
        .map(|row| {
            let timeline = timelines.remove(&row.id).unwrap_or_default();
            view(row, timeline)
        })
        .collect();
    Ok(ShipmentList { items })
}
