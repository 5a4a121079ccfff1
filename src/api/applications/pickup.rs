//! `/v1/applications/{id}/pickup`: booking the courier that collects the paper originals (leg
//! 1). Booking, rebooking and cancelling change our records and queue the partner call in one
//! transaction; the order itself is made by a job, so a partner outage never loses a booking.
//! A rebooking cancels the old order and makes a new one with a new order id.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::json;
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::applications::{
    Address, concurrent_change, lock_owned, owned, parse_state, version_of,
};
use crate::api::pickup_slots::window;
use crate::api::problem::{ApiError, ApiResult, FieldProblem};
use crate::api::security::CitizenAuth;
use crate::courier::orders;
use crate::domain::application::{self as machine, Action, ApplicationState};
use crate::domain::phone::PhoneNumber;
use crate::integrations::courier::Contact;
use crate::state::AppState;
use crate::store::applications::{self, Actor, application};
use crate::store::begin_write;
use crate::store::shipments::{self, LEG_MATERIALS, NewShipment, shipment};

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

fn view(row: &shipment::Model) -> Result<Pickup, ApiError> {
    let sender: Contact = serde_json::from_str(&row.sender).map_err(ApiError::internal)?;
    Ok(Pickup {
        shipment_id: row.id,
        order_status: row.order_status.clone(),
        status: row.status.clone(),
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
    })
}

/// Only a booked pickup changes; once the courier came it is too late.
fn pickup_changeable_in(state: ApplicationState) -> Result<(), ApiError> {
    match state {
        ApplicationState::PickupScheduled => Ok(()),
        ApplicationState::OriginalsInTransit | ApplicationState::Received => {
            Err(ApiError::conflict(
                "pickup_in_progress",
                "The courier has already collected the originals; the pickup can no longer change.",
            ))
        }
        _ => Err(no_pickup()),
    }
}

fn no_pickup() -> ApiError {
    ApiError::not_found("pickup_not_found", "This application has no pickup booked.")
}

/// The request, checked: the contact, and the window with its times.
fn check(
    state: &AppState,
    body: &PickupRequest,
) -> Result<(Contact, crate::api::pickup_slots::PickupSlot), ApiError> {
    let mut problems = Vec::new();
    if PhoneNumber::parse(&body.address.phone).is_err() {
        problems.push(FieldProblem::new(
            "address.phone",
            "must be an 11-digit mainland mobile number",
        ));
    }
    for (field, value) in [
        ("address.province", &body.address.province),
        ("address.city", &body.address.city),
        ("address.district", &body.address.district),
        ("address.detail", &body.address.detail),
        ("address.contact_name", &body.address.contact_name),
    ] {
        if value.trim().is_empty() {
            problems.push(FieldProblem::new(field, "must not be blank"));
        }
    }
    let slot = window(
        &state.config,
        &body.window.date,
        &body.window.slot,
        Utc::now(),
    );
    if slot.is_none() {
        problems.push(FieldProblem::new(
            "window",
            "is not a pickup window on offer: see GET /v1/pickup-slots (a window that has begun or passed cannot be booked)",
        ));
    }
    match slot {
        Some(slot) if problems.is_empty() => Ok((contact_of(&body.address), slot)),
        _ => Err(ApiError::invalid_fields(problems)),
    }
}

/// The centre as a shipment's recipient (leg 1) or sender (leg 2).
pub fn centre(state: &AppState) -> Contact {
    let c = &state.config.courier.centre;
    Contact {
        name: c.name.clone(),
        phone: c.phone.clone(),
        province: c.province.clone(),
        city: c.city.clone(),
        district: c.district.clone(),
        detail: c.detail.clone(),
    }
}

async fn book<C: sea_orm::ConnectionTrait>(
    state: &AppState,
    txn: &C,
    app: &application::Model,
    contact: &Contact,
    slot: &crate::api::pickup_slots::PickupSlot,
) -> Result<shipment::Model, ApiError> {
    let row = shipments::insert(
        txn,
        NewShipment {
            application_id: app.id,
            leg: LEG_MATERIALS,
            partner: state.couriers.default_partner().code().to_string(),
            sender: json!(contact),
            recipient: json!(centre(state)),
            pickup_date: Some(slot.date.clone()),
            pickup_slot: Some(slot.slot.clone()),
            pickup_from: Some(slot.starts_at),
            pickup_until: Some(slot.ends_at),
        },
    )
    .await?;
    orders::enqueue_create(txn, row.id).await?;
    Ok(row)
}

/// The application and its booked leg 1, locked for a change: 404 without a booking, 409 once
/// the courier has collected the originals.
async fn booked_leg<C: sea_orm::ConnectionTrait>(
    txn: &C,
    citizen: Uuid,
    id: Uuid,
) -> Result<(application::Model, shipment::Model), ApiError> {
    let app = lock_owned(txn, citizen, id).await?;
    pickup_changeable_in(parse_state(&app)?)?;
    let leg = shipments::current_leg(txn, app.id, LEG_MATERIALS)
        .await?
        .ok_or_else(no_pickup)?;
    changeable(&leg)?;
    Ok((app, leg))
}

/// A pickup can still be changed: the order is not cancelled and the courier has not come.
fn changeable(row: &shipment::Model) -> Result<(), ApiError> {
    if row.status != "pending" {
        return Err(ApiError::conflict(
            "pickup_in_progress",
            "The courier has already collected the originals; the pickup can no longer change.",
        ));
    }
    Ok(())
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
        let txn = begin_write(db).await?;
        let app = lock_owned(&txn, auth.0.id, id.0).await?;
        let version = version_of(&txn, &app).await?;
        if !version.matter.originals_by_courier {
            return Err(ApiError::conflict(
                "pickup_not_needed",
                "This item's originals are not posted; it goes to the department directly.",
            ));
        }
        let (contact, slot) = check(&state, &body)?;
        let from = parse_state(&app)?;
        if from == ApplicationState::PickupScheduled
            && let Some(existing) = shipments::current_leg(&txn, app.id, LEG_MATERIALS).await?
        {
            // A retried request books nothing new; a different one must use PUT.
            let same = serde_json::from_str::<Contact>(&existing.sender).ok() == Some(contact)
                && existing.pickup_date.as_deref() == Some(slot.date.as_str())
                && existing.pickup_slot.as_deref() == Some(slot.slot.as_str());
            if same {
                return Ok(Booked::Existing(Json(view(&existing)?)));
            }
            return Err(ApiError::conflict(
                "pickup_already_scheduled",
                "A pickup is already booked; change it with PUT or cancel it with DELETE.",
            ));
        }
        let to = machine::next(from, Action::SchedulePickup).map_err(|_| {
            ApiError::conflict(
                "invalid_state",
                format!(
                    "The application is {from}; a pickup is booked once pre-review has passed."
                ),
            )
        })?;
        let row = book(&state, &txn, &app, &contact, &slot).await?;
        if !applications::change_state(
            &txn,
            &state.channels,
            &app,
            to,
            Actor::citizen(auth.0.id),
            Action::SchedulePickup.as_str(),
            Some(format!("{} {}", slot.date, slot.slot)),
        )
        .await?
        {
            return Err(concurrent_change());
        }
        txn.commit().await?;
        Ok(Booked::Created(Json(view(&row)?)))
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
        let app = owned(db, auth.0.id, id.0).await?;
        let row = shipments::current_leg(db, app.id, LEG_MATERIALS)
            .await?
            .ok_or_else(no_pickup)?;
        Ok(Json(view(&row)?))
    }

    /// Change the address or window of a booked pickup, before the courier came. The partner
    /// order is replaced.
    #[oai(path = "/v1/applications/:id/pickup", method = "put")]
    async fn reschedule(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
        body: Json<PickupRequest>,
    ) -> ApiResult<Json<Pickup>> {
        let db = state.db()?;
        let txn = begin_write(db).await?;
        let (app, old) = booked_leg(&txn, auth.0.id, id.0).await?;
        let (contact, slot) = check(&state, &body)?;
        orders::request_cancel(&txn, &old).await?;
        let row = book(&state, &txn, &app, &contact, &slot).await?;
        if !applications::touch(&txn, &app, Utc::now()).await? {
            return Err(concurrent_change());
        }
        applications::record_event(
            &txn,
            app.id,
            Actor::citizen(auth.0.id),
            "reschedule_pickup",
            Some(ApplicationState::PickupScheduled),
            ApplicationState::PickupScheduled,
            Some(format!("{} {}", slot.date, slot.slot)),
        )
        .await?;
        txn.commit().await?;
        Ok(Json(view(&row)?))
    }

    /// Cancel a booked pickup before the courier came; the case waits for a new booking.
    #[oai(path = "/v1/applications/:id/pickup", method = "delete")]
    async fn cancel(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Cancelled> {
        let db = state.db()?;
        let txn = begin_write(db).await?;
        let (app, old) = booked_leg(&txn, auth.0.id, id.0).await?;
        orders::request_cancel(&txn, &old).await?;
        let to = machine::next(ApplicationState::PickupScheduled, Action::CancelPickup)
            .map_err(|e| ApiError::conflict("invalid_state", e.to_string()))?;
        if !applications::change_state(
            &txn,
            &state.channels,
            &app,
            to,
            Actor::citizen(auth.0.id),
            Action::CancelPickup.as_str(),
            None,
        )
        .await?
        {
            return Err(concurrent_change());
        }
        txn.commit().await?;
        Ok(Cancelled::Cancelled)
    }
}
