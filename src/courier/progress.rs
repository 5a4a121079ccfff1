//! What a courier leg's movement means for its application: the originals picked up move the
//! case on, their arrival at the centre is a timeline event reception works from. Runs inside
//! the ingest transaction, so the application and the shipment never disagree.

use sea_orm::{ConnectionTrait, DbErr, EntityTrait};

use crate::courier::ingest::StatusChange;
use crate::domain::application::{self as machine, Action, ApplicationState};
use crate::integrations::courier::ShipmentStatus;
use crate::store::applications::{self, Actor, application};
use crate::store::shipments::LEG_MATERIALS;

pub async fn advance<C: ConnectionTrait>(txn: &C, change: &StatusChange) -> Result<(), DbErr> {
    if change.leg != LEG_MATERIALS {
        // The result and return legs are wired with reception and the department.
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
    let moving = matches!(
        change.new,
        ShipmentStatus::PickedUp
            | ShipmentStatus::InTransit
            | ShipmentStatus::OutForDelivery
            | ShipmentStatus::Delivered
    );
    let mut current = app.clone();
    if moving && state == ApplicationState::PickupScheduled {
        let to = machine::next(state, Action::PickUp).expect("pickup_scheduled -> in transit");
        if applications::change_state(
            txn,
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
