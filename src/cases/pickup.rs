//! Booking the courier that collects the paper originals (leg 1). Booking, rebooking and
//! cancelling change our records and queue the partner call in one transaction; the order itself
//! is made by a job, so a partner outage never loses a booking. A rebooking cancels the old
//! order and makes a new one with a new order id. A bundle's items post their originals in one
//! pickup: one leg that carries them all, booked, moved and cancelled for the filing.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::json;
use uuid::Uuid;

use super::change::state_of;
use super::{CaseError, CaseResult, Cases, FieldIssue, reads};
use crate::domain::application::{self as machine, Action, ApplicationState};
use crate::integrations::courier::Contact;
use crate::store::applications::{self, Actor, application};
use crate::store::shipments::{self, LEG_MATERIALS, NewShipment, shipment};
use crate::store::{begin_write, filings};

/// A pickup window on offer, checked against the schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Local date, `YYYY-MM-DD`.
    pub date: String,
    /// `HH:MM-HH:MM`, local time.
    pub slot: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// What booking did (a pickup, or a drop-off in the box).
pub enum Booking {
    Created(shipment::Model),
    /// The same booking existed already (a retried request).
    Existing(shipment::Model),
}

impl Cases {
    /// Books the pickup of `citizen`'s originals once pre-review has passed, with `partner`
    /// when the citizen chose one (`partner_for`). A retry of the same booking answers the
    /// booking; a different one while booked is refused (rebook instead).
    pub async fn schedule_pickup(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
        id: Uuid,
        contact: Contact,
        window: Window,
        partner: Option<String>,
    ) -> CaseResult<Booking> {
        let txn = begin_write(db).await?;
        let app = reads::lock_owned(&txn, citizen, id).await?;
        let version = reads::version_of(&txn, &app).await?;
        if !version.matter.originals_by_courier {
            return Err(CaseError::PickupNotNeeded);
        }
        let from = state_of(&app)?;
        if from == ApplicationState::PickupScheduled
            && let Some(existing) = shipments::current_leg(&txn, app.id, LEG_MATERIALS).await?
        {
            if same_booking(&existing, &contact, &window)
                && partner.as_ref().is_none_or(|p| *p == existing.partner)
            {
                return Ok(Booking::Existing(existing));
            }
            return Err(CaseError::PickupAlreadyScheduled);
        }
        machine::next(from, Action::SchedulePickup)?;
        // A bundle's items post their originals together.
        if let Some(filing) = app.filing_id {
            return Err(CaseError::PickupWithFiling(filing));
        }
        let partner = self.partner_for(&txn, &app, partner.as_deref()).await?;
        let row = self
            .book(&txn, &app, Vec::new(), &contact, &window, partner)
            .await?;
        let reason = Some(format!("{} {}", window.date, window.slot));
        self.change(
            &txn,
            &app,
            Action::SchedulePickup,
            Actor::citizen(citizen),
            reason,
        )
        .await?;
        txn.commit().await?;
        Ok(Booking::Created(row))
    }

    /// Moves a booked pickup to another address, window or partner, before the courier came.
    /// The partner order is replaced; without a `partner` the new one goes to the same partner.
    pub async fn reschedule_pickup(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
        id: Uuid,
        contact: Contact,
        window: Window,
        partner: Option<String>,
    ) -> CaseResult<shipment::Model> {
        let txn = begin_write(db).await?;
        let (app, old) = booked_leg(&txn, citizen, id).await?;
        let chosen = partner.unwrap_or_else(|| old.partner.clone());
        let partner = self.partner_for(&txn, &app, Some(&chosen)).await?;
        shipments::request_cancel(&txn, &old).await?;
        let row = self
            .book(&txn, &app, Vec::new(), &contact, &window, partner)
            .await?;
        let reason = Some(format!("{} {}", window.date, window.slot));
        self.change(
            &txn,
            &app,
            Action::ReschedulePickup,
            Actor::citizen(citizen),
            reason,
        )
        .await?;
        txn.commit().await?;
        Ok(row)
    }

    /// Cancels a booked pickup before the courier came; the case waits for a new booking.
    pub async fn cancel_pickup(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
        id: Uuid,
    ) -> CaseResult<()> {
        let txn = begin_write(db).await?;
        let (app, old) = booked_leg(&txn, citizen, id).await?;
        shipments::request_cancel(&txn, &old).await?;
        self.change(
            &txn,
            &app,
            Action::CancelPickup,
            Actor::citizen(citizen),
            None,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// A new leg 1 from the citizen to the centre (carrying `also_for`'s originals with
    /// `app`'s), and the job that orders it.
    pub(super) async fn book<C: ConnectionTrait>(
        &self,
        txn: &C,
        app: &application::Model,
        also_for: Vec<Uuid>,
        contact: &Contact,
        window: &Window,
        partner: String,
    ) -> CaseResult<shipment::Model> {
        let row = shipments::insert(
            txn,
            NewShipment {
                application_id: app.id,
                also_for,
                leg: LEG_MATERIALS,
                partner,
                sender: json!(contact),
                recipient: json!(self.centre()),
                pickup_date: Some(window.date.clone()),
                pickup_slot: Some(window.slot.clone()),
                pickup_from: Some(window.starts_at),
                pickup_until: Some(window.ends_at),
            },
        )
        .await?;
        shipments::enqueue_create(txn, row.id).await?;
        Ok(row)
    }
}

impl Cases {
    /// Books one pickup of the originals of every item of the citizen's filing that posts them,
    /// once all of those passed pre-review: one courier order, one parcel. A retry of the same
    /// booking answers the booking.
    pub async fn schedule_filing_pickup(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
        filing_id: Uuid,
        contact: Contact,
        window: Window,
    ) -> CaseResult<Booking> {
        let txn = begin_write(db).await?;
        let items = posting_items(&txn, citizen, filing_id).await?;
        let (first, rest) = items.split_first().ok_or(CaseError::PickupNotNeeded)?;
        let states = items
            .iter()
            .map(state_of)
            .collect::<CaseResult<Vec<ApplicationState>>>()?;
        if states
            .iter()
            .all(|s| *s == ApplicationState::PickupScheduled)
            && let Some(existing) = shipments::current_leg(&txn, first.id, LEG_MATERIALS).await?
        {
            if same_booking(&existing, &contact, &window) {
                return Ok(Booking::Existing(existing));
            }
            return Err(CaseError::PickupAlreadyScheduled);
        }
        let waiting: Vec<FieldIssue> = items
            .iter()
            .zip(&states)
            .filter(|(_, s)| **s != ApplicationState::PrereviewPassed)
            .map(|(a, s)| FieldIssue::new(a.matter_code.clone(), format!("is {s}")))
            .collect();
        if !waiting.is_empty() {
            return Err(CaseError::FilingNotReady(waiting));
        }
        let also: Vec<Uuid> = rest.iter().map(|a| a.id).collect();
        let partner = self.partner_for(&txn, first, None).await?;
        let row = self
            .book(&txn, first, also, &contact, &window, partner)
            .await?;
        let reason = Some(format!("{} {}", window.date, window.slot));
        for item in &items {
            let actor = Actor::citizen(citizen);
            self.change(&txn, item, Action::SchedulePickup, actor, reason.clone())
                .await?;
        }
        txn.commit().await?;
        Ok(Booking::Created(row))
    }

    /// Moves the filing's one pickup to another address or window, before the courier came;
    /// without `rebook`, cancels it: every item waits for a new booking.
    pub async fn change_filing_pickup(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
        filing_id: Uuid,
        rebook: Option<(Contact, Window)>,
    ) -> CaseResult<Option<shipment::Model>> {
        let txn = begin_write(db).await?;
        let items = posting_items(&txn, citizen, filing_id).await?;
        let first = items.first().ok_or(CaseError::PickupNotFound)?;
        let old = changeable_leg(&txn, first).await?;
        let carried = shipments::carried(&txn, &old).await?;
        let booked: Vec<&application::Model> =
            items.iter().filter(|a| carried.contains(&a.id)).collect();
        shipments::request_cancel(&txn, &old).await?;
        let row = match &rebook {
            Some((contact, window)) => {
                let also = carried.iter().skip(1).copied().collect();
                let partner = old.partner.clone();
                Some(
                    self.book(&txn, booked[0], also, contact, window, partner)
                        .await?,
                )
            }
            None => None,
        };
        for item in booked {
            let (action, reason) = match &rebook {
                Some((_, w)) => (
                    Action::ReschedulePickup,
                    Some(format!("{} {}", w.date, w.slot)),
                ),
                None => (Action::CancelPickup, None),
            };
            self.change(&txn, item, action, Actor::citizen(citizen), reason)
                .await?;
        }
        txn.commit().await?;
        Ok(row)
    }
}

/// The items of the citizen's filing whose originals are posted (withdrawn ones left out),
/// locked for a change, in the bundle's order.
async fn posting_items<C: ConnectionTrait>(
    txn: &C,
    citizen: Uuid,
    filing_id: Uuid,
) -> CaseResult<Vec<application::Model>> {
    filings::lock_owned(txn, citizen, filing_id)
        .await?
        .ok_or(CaseError::FilingNotFound)?;
    let mut items = Vec::new();
    for item in applications::of_filing(txn, filing_id).await? {
        if item.state == ApplicationState::Cancelled.as_str() {
            continue;
        }
        let item = reads::lock_owned(txn, citizen, item.id).await?;
        if reads::version_of(txn, &item)
            .await?
            .matter
            .originals_by_courier
        {
            items.push(item);
        }
    }
    Ok(items)
}

/// The citizen's booked pickup, as a resource: none before a booking (or after its cancel),
/// too late once the courier came.
pub async fn booking<C: ConnectionTrait>(
    db: &C,
    citizen: Uuid,
    id: Uuid,
) -> CaseResult<shipment::Model> {
    let app = reads::owned(db, citizen, id).await?;
    shipments::current_leg(db, app.id, LEG_MATERIALS)
        .await?
        .ok_or(CaseError::PickupNotFound)
}

/// The application and its booked leg 1, locked for a change: no booking is `PickupNotFound`,
/// a collected one `PickupInProgress`.
async fn booked_leg<C: ConnectionTrait>(
    txn: &C,
    citizen: Uuid,
    id: Uuid,
) -> CaseResult<(application::Model, shipment::Model)> {
    let app = reads::lock_owned(txn, citizen, id).await?;
    let leg = changeable_leg(txn, &app).await?;
    // A bundle's pickup is its filing's.
    if let Some(filing) = app.filing_id {
        return Err(CaseError::PickupWithFiling(filing));
    }
    Ok((app, leg))
}

/// The booked leg 1 of `app` (locked), while it can still change: no booking is
/// `PickupNotFound`, a collected one `PickupInProgress`.
async fn changeable_leg<C: ConnectionTrait>(
    txn: &C,
    app: &application::Model,
) -> CaseResult<shipment::Model> {
    let (missing, moving) = (CaseError::PickupNotFound, CaseError::PickupInProgress);
    open_materials_leg(txn, app, ApplicationState::PickupScheduled, missing, moving).await
}

/// The current leg 1 of `app` while its originals have not started moving: `app` must be in
/// `waiting`, else `missing`; once the case or the leg moved (the courier came, or the box was
/// emptied, before the push or scan moved the case), `moving`. Pickups and drop-offs share it.
pub(super) async fn open_materials_leg<C: ConnectionTrait>(
    txn: &C,
    app: &application::Model,
    waiting: ApplicationState,
    missing: CaseError,
    moving: CaseError,
) -> CaseResult<shipment::Model> {
    match state_of(app)? {
        state if state == waiting => {}
        ApplicationState::OriginalsInTransit | ApplicationState::Received => return Err(moving),
        _ => return Err(missing),
    }
    let Some(leg) = shipments::current_leg(txn, app.id, LEG_MATERIALS).await? else {
        return Err(missing);
    };
    if leg.status != "pending" {
        return Err(moving);
    }
    Ok(leg)
}

/// Whether a retried booking asks for what `existing` already is.
fn same_booking(existing: &shipment::Model, contact: &Contact, window: &Window) -> bool {
    serde_json::from_str::<Contact>(&existing.sender)
        .ok()
        .as_ref()
        == Some(contact)
        && existing.pickup_date.as_deref() == Some(window.date.as_str())
        && existing.pickup_slot.as_deref() == Some(window.slot.as_str())
}
