//! What a courier leg's movement means for its application. The originals picked up move the
//! case on, and their arrival at the centre is a timeline event reception works from; the result
//! delivered completes the case; the originals handed back after a mismatch are noted. Runs
//! inside the ingest transaction, so the application and the shipment never disagree.

use sea_orm::{ConnectionTrait, DbErr, EntityTrait};

use crate::courier::ingest::StatusChange;
use crate::domain::application::{self as machine, Action, ApplicationState};
use crate::integrations::courier::ShipmentStatus;
use crate::notify::outbox::Channels;
use crate::store::applications::{self, Actor, application};
use crate::store::shipments::{LEG_MATERIALS, LEG_RESULT, LEG_RETURN};

pub async fn advance<C: ConnectionTrait>(
    txn: &C,
    channels: &Channels,
    change: &StatusChange,
) -> Result<(), DbErr> {
    if !concerns_application(change) {
        return Ok(());
    }
    let Some(app) = application::Entity::find_by_id(change.application_id)
        .one(txn)
        .await?
    else {
        return Ok(());
    };
    let Some(state) = ApplicationState::parse(&app.state) else {
        return Ok(());
    };
    let waybill = Some(format!("waybill {}", change.waybill_no));
    let delivered = change.new == ShipmentStatus::Delivered;
    match change.leg.as_str() {
        LEG_MATERIALS => materials(txn, channels, app, state, change).await,
        LEG_RESULT if delivered && state == ApplicationState::ResultInDelivery => {
            let to = machine::next(state, Action::DeliverResult).expect("delivered -> completed");
            applications::change_state(
                txn,
                channels,
                &app,
                to,
                Actor::system(),
                Action::DeliverResult.as_str(),
                waybill,
            )
            .await?;
            Ok(())
        }
        LEG_RETURN if delivered => {
            applications::record_event(
                txn,
                app.id,
                Actor::system(),
                "originals_returned",
                Some(state),
                state,
                waybill,
            )
            .await?;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Whether a move can mean anything for the application: the originals starting to move, or a
/// leg delivered. The other moves (in transit, out for delivery, ...) skip reading the
/// application, which is most pushes. The shipment and its application move in one
/// transaction, so a leg already moving has moved its application already.
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

/// Leg 1: collected → `originals_in_transit`; delivered → the `originals_delivered` event.
async fn materials<C: ConnectionTrait>(
    txn: &C,
    channels: &Channels,
    app: application::Model,
    state: ApplicationState,
    change: &StatusChange,
) -> Result<(), DbErr> {
    let mut current = app.clone();
    if moving(change.new) && state == ApplicationState::PickupScheduled {
        let to = machine::next(state, Action::PickUp).expect("pickup_scheduled -> in transit");
        if applications::change_state(
            txn,
            channels,
            &app,
            to,
            Actor::system(),
            Action::PickUp.as_str(),
            Some(format!("waybill {}", change.waybill_no)),
        )
        .await?
        {
            current = application::Model {
                state: to.as_str().into(),
                version: app.version + 1,
                ..app
            };
        }
    }
    if change.new == ShipmentStatus::Delivered
        && current.state == ApplicationState::OriginalsInTransit.as_str()
    {
        applications::record_event(
            txn,
            current.id,
            Actor::system(),
            "originals_delivered",
            Some(ApplicationState::OriginalsInTransit),
            ApplicationState::OriginalsInTransit,
            Some(format!("waybill {}", change.waybill_no)),
        )
        .await?;
    }
    Ok(())
}
