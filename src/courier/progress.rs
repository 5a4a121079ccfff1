//! What a courier leg's movement means for its application. The originals picked up move the
//! case on, and their arrival at the centre is a timeline event reception works from; the result
//! delivered completes the case; the originals handed back after a mismatch are noted. Runs
//! inside the ingest transaction, so the application and the shipment never disagree.

use sea_orm::{ConnectionTrait, DbErr, EntityTrait};

use crate::cases::{CaseError, Cases};
use crate::domain::application::{Action, ApplicationState};
use crate::domain::shipment::ShipmentStatus;
use crate::domain::track::StatusChange;
use crate::store::applications::{self, Actor, application};
use crate::store::shipments::{self, LEG_MATERIALS, LEG_RESULT, LEG_RETURN};

pub async fn advance<C: ConnectionTrait>(
    txn: &C,
    cases: &Cases,
    change: &StatusChange,
) -> Result<(), DbErr> {
    if !concerns_application(change) {
        return Ok(());
    }
    let delivered = change.new == ShipmentStatus::Delivered;
    // The moves are conditional writes on the application's state rather than a read and a
    // write: a state that does not match writes nothing, as a read would have decided.
    match change.leg.as_str() {
        LEG_MATERIALS => {
            // One parcel may carry several cases' originals (a bundle's items): each moves.
            let carried = shipments::carried_by(txn, change.shipment_id).await?;
            for id in std::iter::once(change.application_id).chain(carried) {
                if moving(change.new) && !moving(change.old) {
                    // A drop in the box is "collected" when reception empties the box.
                    let from = if change.partner == crate::cases::drop_off::BOX {
                        ApplicationState::AwaitingDropOff
                    } else {
                        ApplicationState::PickupScheduled
                    };
                    move_on(txn, cases, id, change, from, Action::PickUp).await?;
                }
                // Delivered at the centre, perhaps in the same push as the collection.
                if delivered {
                    applications::record_event_in_state(
                        txn,
                        id,
                        Actor::system(),
                        Action::OriginalsDelivered,
                        ApplicationState::OriginalsInTransit,
                        waybill(change),
                        cases.clock.now(),
                    )
                    .await?;
                }
            }
            Ok(())
        }
        LEG_RESULT if delivered => {
            let state = ApplicationState::ResultInDelivery;
            let id = change.application_id;
            move_on(txn, cases, id, change, state, Action::DeliverResult).await
        }
        LEG_RETURN if delivered => {
            let Some(app) = application::Entity::find_by_id(change.application_id)
                .one(txn)
                .await?
            else {
                return Ok(());
            };
            let Some(state) = ApplicationState::parse(&app.state) else {
                return Ok(());
            };
            applications::record_event(
                txn,
                app.id,
                Actor::system(),
                Action::OriginalsReturned,
                Some(state),
                state,
                waybill(change),
                cases.clock.now(),
            )
            .await?;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Takes application `id` on by `action` from `from`, if it is there.
async fn move_on<C: ConnectionTrait>(
    txn: &C,
    cases: &Cases,
    id: uuid::Uuid,
    change: &StatusChange,
    from: ApplicationState,
    action: Action,
) -> Result<(), DbErr> {
    match cases
        .change_from(txn, id, from, action, waybill(change))
        .await
    {
        Ok(_) => Ok(()),
        Err(CaseError::Store(e)) => Err(e),
        // The courier's moves are in the state machine: anything else is a broken invariant.
        Err(e) => Err(DbErr::Custom(e.to_string())),
    }
}

/// The reason the case's timeline gives for a courier move.
fn waybill(change: &StatusChange) -> Option<String> {
    Some(format!("waybill {}", change.waybill_no))
}

/// Whether a move can mean anything for the application: the originals starting to move, or a
/// leg delivered. The other moves (in transit, out for delivery, ...) skip the application,
/// which is most pushes. The shipment and its application move in one transaction, so a leg
/// already moving has moved its application already.
fn concerns_application(change: &StatusChange) -> bool {
    change.new == ShipmentStatus::Delivered
        || (change.leg == LEG_MATERIALS && moving(change.new) && !moving(change.old))
}

fn moving(status: ShipmentStatus) -> bool {
    matches!(
        status,
        ShipmentStatus::PickedUp
            | ShipmentStatus::InTransit
            | ShipmentStatus::OutForDelivery
            | ShipmentStatus::Delivered
    )
}
