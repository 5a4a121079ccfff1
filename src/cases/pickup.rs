//! Booking the courier that collects the paper originals (leg 1). Booking, rebooking and
//! cancelling change our records and queue the partner call in one transaction; the order itself
//! is made by a job, so a partner outage never loses a booking. A rebooking cancels the old
//! order and makes a new one with a new order id.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::json;
use uuid::Uuid;

use super::change::state_of;
use super::{CaseError, CaseResult, Cases, reads};
use crate::domain::application::{self as machine, Action, ApplicationState};
use crate::integrations::courier::Contact;
use crate::store::applications::{Actor, application};
use crate::store::begin_write;
use crate::store::shipments::{self, LEG_MATERIALS, NewShipment, shipment};

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

/// What booking did.
pub enum Booking {
    Created(shipment::Model),
    /// The same booking existed already (a retried request).
    Existing(shipment::Model),
}

impl Cases {
    /// Books the pickup of `citizen`'s originals once pre-review has passed. A retry of the same
    /// booking answers the booking; a different one while booked is refused (rebook instead).
    pub async fn schedule_pickup(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
        id: Uuid,
        contact: Contact,
        window: Window,
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
            let same = serde_json::from_str::<Contact>(&existing.sender).ok() == Some(contact)
                && existing.pickup_date.as_deref() == Some(window.date.as_str())
                && existing.pickup_slot.as_deref() == Some(window.slot.as_str());
            if same {
                return Ok(Booking::Existing(existing));
            }
            return Err(CaseError::PickupAlreadyScheduled);
        }
        machine::next(from, Action::SchedulePickup)?;
        let row = self.book(&txn, &app, &contact, &window).await?;
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

    /// Moves a booked pickup to another address or window, before the courier came. The
    /// partner order is replaced.
    pub async fn reschedule_pickup(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
        id: Uuid,
        contact: Contact,
        window: Window,
    ) -> CaseResult<shipment::Model> {
        let txn = begin_write(db).await?;
        let (app, old) = booked_leg(&txn, citizen, id).await?;
        shipments::request_cancel(&txn, &old).await?;
        let row = self.book(&txn, &app, &contact, &window).await?;
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

    /// A new leg 1 from the citizen to the centre, and the job that orders it.
    async fn book<C: ConnectionTrait>(
        &self,
        txn: &C,
        app: &application::Model,
        contact: &Contact,
        window: &Window,
    ) -> CaseResult<shipment::Model> {
        let row = shipments::insert(
            txn,
            NewShipment {
                application_id: app.id,
                leg: LEG_MATERIALS,
                partner: self.partner.clone(),
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
    match state_of(&app)? {
        ApplicationState::PickupScheduled => {}
        ApplicationState::OriginalsInTransit | ApplicationState::Received => {
            return Err(CaseError::PickupInProgress);
        }
        _ => return Err(CaseError::PickupNotFound),
    }
    let leg = shipments::current_leg(txn, app.id, LEG_MATERIALS)
        .await?
        .ok_or(CaseError::PickupNotFound)?;
    // The courier came but its push has not moved the case yet.
    if leg.status != "pending" {
        return Err(CaseError::PickupInProgress);
    }
    Ok((app, leg))
}
