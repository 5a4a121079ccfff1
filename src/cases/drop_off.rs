//! Leaving the originals in the centre's 24-hour box instead of booking a pickup, where the
//! item allows it. The drop is a `materials` leg of the pseudo-partner `box` whose waybill is a
//! drop code, placed at once (no partner order): reception's scan of the envelope is its one
//! route event (`courier::drop_box`), and from there the case goes on as a courier-delivered
//! one. The citizen may take the drop-off back until the box is emptied (to book a pickup).

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use uuid::Uuid;

use super::change::state_of;
use super::drop_sheet::CoverSheet;
use super::pickup::{Booking, open_materials_leg};
use super::{CaseError, CaseResult, Cases, reads};
use crate::config::Config;
use crate::domain::application::{self as machine, Action, ApplicationState, DROP_OFF_REMINDER};
use crate::domain::drop_code;
use crate::integrations::courier::Contact;
use crate::store::applications::{self, Actor, application};
use crate::store::shipments::{self, LEG_MATERIALS, NewShipment, OrderStatus, shipment};
use crate::store::{begin_write, outbox};

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

    /// Flags every drop not found in the box by its day and reminds its citizen, once each:
    /// the scheduled `remind_drop_offs`. Returns how many were reminded.
    pub async fn remind_late_drops(&self, db: &DatabaseConnection) -> CaseResult<usize> {
        let days = i64::from(self.config.courier.drop_box.remind_after_days);
        let cutoff = self.clock.now() - Duration::days(days);
        let mut reminded = 0;
        for leg in shipments::unflagged_late_drops(db, BOX, cutoff).await? {
            if self.remind_late_drop(db, &leg).await? {
                reminded += 1;
            }
        }
        Ok(reminded)
    }

    /// Flags drop `leg` not found in the box by its day (`drop_by`) and reminds its citizen, once:
    /// the flag, the timeline's event and the messages in one transaction. False when the drop
    /// was found, taken back or flagged meanwhile.
    async fn remind_late_drop(
        &self,
        db: &DatabaseConnection,
        leg: &shipment::Model,
    ) -> CaseResult<bool> {
        let now = self.clock.now();
        let txn = begin_write(db).await?;
        let Some(app) = applications::lock(&txn, leg.application_id).await? else {
            return Ok(false);
        };
        if state_of(&app)? != ApplicationState::AwaitingDropOff
            || !shipments::flag_overdue(&txn, BOX, leg.id, now).await?
        {
            return Ok(false);
        }
        let code = drop_code::display(leg.waybill_no.as_deref().unwrap_or_default());
        let state = ApplicationState::AwaitingDropOff;
        let event = applications::record_event(
            &txn,
            app.id,
            Actor::system(),
            Action::RemindDropOff,
            Some(state),
            state,
            Some(format!("投递码 {code} 未在投递箱中找到，请尽快投递")),
            now,
        )
        .await?;
        outbox::queue(&txn, &self.channels, &app, event, DROP_OFF_REMINDER).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// The cover sheet of the citizen's drop-off, to print and attach to the envelope.
    pub async fn cover_sheet(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
        id: Uuid,
    ) -> CaseResult<CoverSheet> {
        let app = reads::owned(db, citizen, id).await?;
        let leg = current_drop(db, &app).await?;
        let version = reads::version_of(db, &app).await?;
        let box_config = &self.config.courier.drop_box;
        Ok(CoverSheet {
            code: leg.waybill_no.clone().unwrap_or_default(),
            matter_name: version.matter.name.clone(),
            application_no: app.id.simple().to_string(),
            originals: version
                .materials
                .iter()
                .filter(|m| m.original_required)
                .map(|m| m.name.clone())
                .collect(),
            place: box_config.place.clone(),
            emptied_at: box_config.empty_at.clone(),
            drop_by: drop_by(&self.config, leg.created_at)
                .with_timezone(&self.config.local_offset())
                .format("%Y-%m-%d")
                .to_string(),
        })
    }
}

/// A leg's waybill as people read it: a drop in the box shows its code as `XXXX-XXXX`, as on
/// the envelope.
pub fn shown_waybill(partner: &str, waybill: Option<String>) -> Option<String> {
    match partner {
        BOX => waybill.map(|code| drop_code::display(&code)),
        _ => waybill,
    }
}

/// When a drop chosen at `chosen_at` is late: not found in the box by then, it is flagged and
/// its citizen reminded.
pub fn drop_by(config: &Config, chosen_at: DateTime<Utc>) -> DateTime<Utc> {
    chosen_at + Duration::days(i64::from(config.courier.drop_box.remind_after_days))
}

/// The citizen's drop-off, as a resource: none before it is chosen (or after it is taken back).
pub async fn drop_off<C: ConnectionTrait>(
    db: &C,
    citizen: Uuid,
    id: Uuid,
) -> CaseResult<shipment::Model> {
    let app = reads::owned(db, citizen, id).await?;
    current_drop(db, &app).await
}

/// `app`'s drop-off unless taken back.
async fn current_drop<C: ConnectionTrait>(
    db: &C,
    app: &application::Model,
) -> CaseResult<shipment::Model> {
    shipments::current_leg(db, app.id, LEG_MATERIALS)
        .await?
        .filter(|leg| leg.partner == BOX && leg.order_status != OrderStatus::Cancelled.as_str())
        .ok_or(CaseError::DropOffNotFound)
}

/// The open drop-off of `app`: `DropOffNotFound` without one, `DropOffCollected` once scanned.
async fn open_drop<C: ConnectionTrait>(
    txn: &C,
    app: &application::Model,
) -> CaseResult<shipment::Model> {
    let (missing, moving) = (CaseError::DropOffNotFound, CaseError::DropOffCollected);
    let waiting = ApplicationState::AwaitingDropOff;
    let leg = open_materials_leg(txn, app, waiting, missing, moving).await?;
    // Waiting for the box, the case's leg 1 is its drop: anything else is no drop-off.
    if leg.partner != BOX {
        return Err(CaseError::DropOffNotFound);
    }
    Ok(leg)
}
