//! `/v1/applications/{id}/pickup`: booking the courier that collects the paper originals (leg
//! 1). Booking, rebooking and cancelling change our records and queue the partner call in one
//! transaction; the order itself is made by a job, so a partner outage never loses a booking.
//! A rebooking cancels the old order and makes a new one with a new order id.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::applications::Address;
use crate::api::pickup_slots::window;
use crate::api::problem::{ApiError, ApiResult, FieldProblem};
use crate::api::security::CitizenAuth;
use crate::cases::pickup::{self, Booking, Window};
use crate::domain::phone::PhoneNumber;
use crate::integrations::courier::Contact;
use crate::state::AppState;
use crate::store::shipments::{self, shipment};

pub struct PickupApi;

#[derive(Debug, Clone, Object)]
pub struct PickupWindow {
    /// Local date, `YYYY-MM-DD`, from `GET /v1/pickup-slots`.
    pub date: String,
    /// `HH:MM-HH:MM`, from `GET /v1/pickup-slots`.
    pub slot: String,
}

#[derive(Debug, Clone, Object)]
pub struct PickupRequest {
    /// Where the courier collects the originals.
    pub address: Address,
    pub window: PickupWindow,
    /// The courier partner, one of `GET /v1/pickup-slots`' `partners`. Absent: the item's,
    /// else the deployment's default. An item that names its partner takes no other.
    #[oai(validator(max_length = 16))]
    pub partner: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct Pickup {
    /// The shipment of this leg (see `GET /v1/applications/{id}/shipments`).
    pub shipment_id: Uuid,
    /// `requested` (the order is being placed), `created`, `cancel_requested`, `cancelled` or
    /// `failed`.
    pub order_status: String,
    /// The parcel's tracking status: `pending` until the courier collects it.
    pub status: String,
    /// The courier partner that collects it, e.g. `sf` or `ems`; kept for the parcel's life.
    pub partner: String,
    /// The waybill number (运单号), once the partner gave one.
    #[oai(skip_serializing_if_is_none)]
    pub waybill_no: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub courier_name: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub courier_phone: Option<String>,
    pub address: Address,
    pub window: PickupWindow,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// Every case whose originals this one parcel collects (several for a bundle's items).
    pub carries: Vec<Uuid>,
}

#[derive(ApiResponse)]
pub enum Booked {
    /// Booked; the courier order is being placed.
    #[oai(status = 201)]
    Created(Json<Pickup>),
    /// The same booking already existed (a retried request).
    #[oai(status = 200)]
    Existing(Json<Pickup>),
}

#[derive(ApiResponse)]
pub enum Cancelled {
    /// Cancelled; the partner order is being cancelled.
    #[oai(status = 204)]
    Cancelled,
}

pub fn contact_of(address: &Address) -> Contact {
    Contact {
        name: address.contact_name.trim().to_string(),
        phone: address.phone.trim().to_string(),
        province: address.province.trim().to_string(),
        city: address.city.trim().to_string(),
        district: address.district.trim().to_string(),
        detail: address.detail.trim().to_string(),
    }
}

fn address_of(contact: &Contact) -> Address {
    Address {
        province: contact.province.clone(),
        city: contact.city.clone(),
        district: contact.district.clone(),
        detail: contact.detail.clone(),
        contact_name: contact.name.clone(),
        phone: contact.phone.clone(),
    }
}

/// The booking as the citizen sees it.
pub async fn view<C: ConnectionTrait>(db: &C, row: &shipment::Model) -> Result<Pickup, ApiError> {
    let carries = shipments::carried(db, row).await?;
    let sender: Contact = serde_json::from_str(&row.sender).map_err(ApiError::internal)?;
    Ok(Pickup {
        shipment_id: row.id,
        order_status: row.order_status.clone(),
        status: row.status.clone(),
        partner: row.partner.clone(),
        waybill_no: row.waybill_no.clone(),
        courier_name: row.courier_name.clone(),
        courier_phone: row.courier_phone.clone(),
        address: address_of(&sender),
        window: PickupWindow {
            date: row.pickup_date.clone().unwrap_or_default(),
            slot: row.pickup_slot.clone().unwrap_or_default(),
        },
        starts_at: row.pickup_from.unwrap_or(row.created_at),
        ends_at: row.pickup_until.unwrap_or(row.created_at),
        created_at: row.created_at,
        carries,
    })
}

/// The problems of an address the courier goes to or posts back to (`address.*`).
pub fn address_problems(address: &Address) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    if PhoneNumber::parse(&address.phone).is_err() {
        problems.push(FieldProblem::new(
            "address.phone",
            "must be an 11-digit mainland mobile number",
        ));
    }
    for (field, value) in [
        ("address.province", &address.province),
        ("address.city", &address.city),
        ("address.district", &address.district),
        ("address.detail", &address.detail),
        ("address.contact_name", &address.contact_name),
    ] {
        if value.trim().is_empty() {
            problems.push(FieldProblem::new(field, "must not be blank"));
        }
    }
    problems
}

/// The request, checked: the contact, and the window with its times.
pub fn check(state: &AppState, body: &PickupRequest) -> Result<(Contact, Window), ApiError> {
    let mut problems = address_problems(&body.address);
    let slot = window(
        &state.config,
        &body.window.date,
        &body.window.slot,
        state.clock.now(),
    );
    if slot.is_none() {
        problems.push(FieldProblem::new(
            "window",
            "is not a pickup window on offer: see GET /v1/pickup-slots (a window that has begun or passed cannot be booked)",
        ));
    }
    match slot {
        Some(slot) if problems.is_empty() => Ok((
            contact_of(&body.address),
            Window {
                date: slot.date,
                slot: slot.slot,
                starts_at: slot.starts_at,
                ends_at: slot.ends_at,
            },
        )),
        _ => Err(ApiError::invalid_fields(problems)),
    }
}

#[OpenApi(tag = "ApiTags::Applications")]
impl PickupApi {
    /// Book the courier pickup of the paper originals, once pre-review has passed.
    #[oai(path = "/v1/applications/:id/pickup", method = "post")]
    async fn schedule(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
        body: Json<PickupRequest>,
    ) -> ApiResult<Booked> {
        let db = state.db()?;
        let (contact, window) = check(&state, &body)?;
        match (state.cases)
            .schedule_pickup(db, auth.0.id, id.0, contact, window, body.0.partner)
            .await?
        {
            Booking::Created(row) => Ok(Booked::Created(Json(view(db, &row).await?))),
            Booking::Existing(row) => Ok(Booked::Existing(Json(view(db, &row).await?))),
        }
    }

    /// The booked pickup, with its waybill once the partner gave one.
    #[oai(path = "/v1/applications/:id/pickup", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<Pickup>> {
        let db = state.db()?;
        let row = pickup::booking(db, auth.0.id, id.0).await?;
        Ok(Json(view(db, &row).await?))
    }

    /// Change the address, window or partner of a booked pickup, before the courier came. The
    /// partner order is replaced.
    #[oai(path = "/v1/applications/:id/pickup", method = "put")]
    async fn reschedule(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
        body: Json<PickupRequest>,
    ) -> ApiResult<Json<Pickup>> {
        let db = state.db()?;
        let (contact, window) = check(&state, &body)?;
        let row = (state.cases)
            .reschedule_pickup(db, auth.0.id, id.0, contact, window, body.0.partner)
            .await?;
        Ok(Json(view(db, &row).await?))
    }

    /// Cancel a booked pickup before the courier came; the case waits for a new booking.
    #[oai(path = "/v1/applications/:id/pickup", method = "delete")]
    async fn cancel(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Cancelled> {
        state
            .cases
            .cancel_pickup(state.db()?, auth.0.id, id.0)
            .await?;
        Ok(Cancelled::Cancelled)
    }
}
