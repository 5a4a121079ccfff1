//! Leaving the originals in the centre's 24-hour box instead of booking a pickup, where the
//! item allows it. The drop is a `materials` leg of the pseudo-partner `box` whose waybill is a
//! drop code, placed at once (no partner order): reception's scan of the envelope is its one
//! route event (`courier::drop_box`), and from there the case goes on as a courier-delivered
//! one. The citizen may take the drop-off back until the box is emptied (to book a pickup).

use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::change::state_of;
use super::pickup::Booking;
use super::{CaseError, CaseResult, Cases, reads};
use crate::domain::application::{self as machine, Action, ApplicationState};
use crate::domain::drop_code;
use crate::integrations::courier::Contact;
use crate::store::applications::{Actor, application};
use crate::store::begin_write;
use crate::store::shipments::{self, LEG_MATERIALS, NewShipment, OrderStatus, shipment};

/// The pseudo-partner of a drop in the box: no adapter, no orders, reception's scan its event.
pub const BOX: &str = "box";

impl Cases {
    /// The citizen will leave the originals of a case that passed pre-review in the box; `contact`
    /// is where mismatched originals or the result go back. A retry answers the drop-off.
    pub async fn choose_drop_off(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
        id: Uuid,
        contact: Contact,
    ) -> CaseResult<Booking> {
        let txn = begin_write(db).await?;
        let app = reads::lock_owned(&txn, citizen, id).await?;
        let version = reads::version_of(&txn, &app).await?;
        if !version.matter.originals_by_courier {
            return Err(CaseError::PickupNotNeeded);
        }
        if !version.matter.drop_box {
            return Err(CaseError::DropOffNotOffered);
        }
        let from = state_of(&app)?;
        if from == ApplicationState::AwaitingDropOff
            && let Some(existing) = shipments::current_leg(&txn, app.id, LEG_MATERIALS).await?
        {
            return Ok(Booking::Existing(existing));
        }
        if from == ApplicationState::PickupScheduled {
            return Err(CaseError::PickupAlreadyScheduled);
        }
        machine::next(from, Action::ChooseDropOff)?;
        if let Some(filing) = app.filing_id {
            return Err(CaseError::PickupWithFiling(filing));
        }
        let row = shipments::insert(
            &txn,
            NewShipment {
                application_id: app.id,
                also_for: Vec::new(),
                leg: LEG_MATERIALS,
                partner: BOX.into(),
                sender: serde_json::json!(contact),
                recipient: serde_json::json!(self.centre()),
                pickup_date: None,
                pickup_slot: None,
                pickup_from: None,
                pickup_until: None,
            },
        )
        .await?;
        // Eight random characters: a clash with an earlier code is vanishingly rare, but a
        // code must name one drop, so a taken one is drawn again.
        let code = loop {
            let code = drop_code::generate();
            if shipments::by_waybill(&txn, BOX, &code).await?.is_none() {
                break code;
            }
        };
        shipments::set_created(&txn, row.id, &code, None, None).await?;
        let reason = Some(format!("drop code {}", drop_code::display(&code)));
        self.change(
            &txn,
            &app,
            Action::ChooseDropOff,
            Actor::citizen(citizen),
            reason,
        )
        .await?;
        let row = shipments::find(&txn, row.id)
            .await?
            .ok_or_else(|| CaseError::Internal("the drop-off just written is gone".into()))?;
        txn.commit().await?;
        Ok(Booking::Created(row))
    }

    /// Takes the drop-off back before the box was emptied: the code is void and the case waits
    /// for a pickup (or another drop-off) again.
    pub async fn cancel_drop_off(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
        id: Uuid,
    ) -> CaseResult<()> {
        let txn = begin_write(db).await?;
        let app = reads::lock_owned(&txn, citizen, id).await?;
        let leg = open_drop(&txn, &app).await?;
        let voided = shipments::set_order_status(
            &txn,
            leg.id,
            &[OrderStatus::Created],
            OrderStatus::Cancelled,
            None,
        )
        .await?;
        if !voided {
            return Err(CaseError::DropOffCollected);
        }
        self.change(
            &txn,
            &app,
            Action::CancelDropOff,
            Actor::citizen(citizen),
            None,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}

/// The citizen's drop-off, as a resource: none before it is chosen (or after it is taken back).
pub async fn drop_off<C: sea_orm::ConnectionTrait>(
    db: &C,
    citizen: Uuid,
    id: Uuid,
) -> CaseResult<shipment::Model> {
    let app = reads::owned(db, citizen, id).await?;
    shipments::current_leg(db, app.id, LEG_MATERIALS)
        .await?
        .filter(|leg| leg.partner == BOX && leg.order_status != OrderStatus::Cancelled.as_str())
        .ok_or(CaseError::DropOffNotFound)
}

/// The open drop-off of `app`: `DropOffNotFound` without one, `DropOffCollected` once scanned.
async fn open_drop<C: sea_orm::ConnectionTrait>(
    txn: &C,
    app: &application::Model,
) -> CaseResult<shipment::Model> {
    match state_of(app)? {
        ApplicationState::AwaitingDropOff => {}
        ApplicationState::OriginalsInTransit | ApplicationState::Received => {
            return Err(CaseError::DropOffCollected);
        }
        _ => return Err(CaseError::DropOffNotFound),
    }
    let leg = shipments::current_leg(txn, app.id, LEG_MATERIALS)
        .await?
        .filter(|leg| leg.partner == BOX)
        .ok_or(CaseError::DropOffNotFound)?;
    if leg.status != "pending" {
        return Err(CaseError::DropOffCollected);
    }
    Ok(leg)
}
