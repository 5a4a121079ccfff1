//! What the tracking sweeps look for: open shipments gone quiet (reconciliation), shipments that
//! belong on the problems list, delivered results nobody confirmed (auto-confirm), and drops in
//! the box still waiting or late (reception's box, the reminder).

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{Condition, QueryOrder};

use super::{LEG_RESULT, OrderStatus, closed_orders, shipment};
use crate::integrations::courier::{ALL_STATUSES, ShipmentStatus};

/// Tracking statuses no event moves a shipment out of.
pub fn final_statuses() -> Vec<&'static str> {
    ALL_STATUSES
        .into_iter()
        .filter(|s| s.is_final())
        .map(ShipmentStatus::as_str)
        .collect()
}

/// Shipments on their way with a partner order and waybill: not final, not cancelled.
fn open() -> Condition {
    Condition::all()
        .add(shipment::Column::OrderStatus.eq(OrderStatus::Created.as_str()))
        .add(shipment::Column::WaybillNo.is_not_null())
        .add(shipment::Column::Status.is_not_in(final_statuses()))
}

/// No route event since `cutoff`: the last event is older, or there is none and the row has not
/// changed since.
fn quiet_since(cutoff: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(shipment::Column::LastEventAt.lt(cutoff))
        .add(
            Condition::all()
                .add(shipment::Column::LastEventAt.is_null())
                .add(shipment::Column::UpdatedAt.lt(cutoff)),
        )
}

/// Open shipments with no route event since `cutoff`, quietest first.
pub async fn quiet_open<C: ConnectionTrait>(
    db: &C,
    cutoff: DateTime<Utc>,
) -> Result<Vec<shipment::Model>, DbErr> {
    shipment::Entity::find()
        .filter(open())
        .filter(quiet_since(cutoff))
        .order_by_asc(shipment::Column::LastEventAt)
        .order_by_asc(shipment::Column::Id)
        .all(db)
        .await
}

/// Candidates for the problems list: failed orders, parcels that failed delivery, came back or
/// hit an exception, open shipments quiet since `quiet_cutoff`, and drops flagged late.
/// Cancelled orders are not problems.
pub async fn problem_candidates<C: ConnectionTrait>(
    db: &C,
    quiet_cutoff: DateTime<Utc>,
) -> Result<Vec<shipment::Model>, DbErr> {
    shipment::Entity::find()
        .filter(
            Condition::any()
                .add(shipment::Column::OrderStatus.eq(OrderStatus::Failed.as_str()))
                .add(
                    Condition::all()
                        .add(shipment::Column::OrderStatus.is_not_in(closed_orders()))
                        .add(shipment::Column::Status.is_in([
                            ShipmentStatus::DeliveryFailed.as_str(),
                            ShipmentStatus::Returned.as_str(),
                            ShipmentStatus::Exception.as_str(),
                        ])),
                )
                .add(open().add(quiet_since(quiet_cutoff)))
                .add(open().add(shipment::Column::OverdueAt.is_not_null())),
        )
        .order_by_asc(shipment::Column::Id)
        .all(db)
        .await
}

/// Result legs delivered at or before `cutoff` whose receipt nobody has confirmed yet.
pub async fn unconfirmed_results<C: ConnectionTrait>(
    db: &C,
    cutoff: DateTime<Utc>,
) -> Result<Vec<shipment::Model>, DbErr> {
    use crate::store::applications::application;
    use sea_orm::sea_query::Query;
    let unconfirmed = Query::select()
        .column(application::Column::Id)
        .from(application::Entity)
        .and_where(application::Column::ReceiptConfirmedAt.is_null())
        .to_owned();
    shipment::Entity::find()
        .filter(shipment::Column::Leg.eq(LEG_RESULT))
        .filter(shipment::Column::Status.eq("delivered"))
        .filter(shipment::Column::DeliveredAt.lte(cutoff))
        .filter(shipment::Column::ApplicationId.in_subquery(unconfirmed))
        .order_by_asc(shipment::Column::DeliveredAt)
        .all(db)
        .await
}

/// Drops of `partner` (the box) not found yet: placed, not withdrawn, still pending.
fn waiting(partner: &str) -> Condition {
    Condition::all()
        .add(shipment::Column::Partner.eq(partner))
        .add(shipment::Column::OrderStatus.eq(OrderStatus::Created.as_str()))
        .add(shipment::Column::Status.eq(ShipmentStatus::Pending.as_str()))
}

/// The drops in the box of `partner` still waiting to be found, for cases of `departments`,
/// oldest first.
pub async fn waiting_drops<C: ConnectionTrait>(
    db: &C,
    partner: &str,
    departments: &[String],
) -> Result<Vec<shipment::Model>, DbErr> {
    use crate::store::applications::application;
    use sea_orm::sea_query::Query;
    let theirs = Query::select()
        .column(application::Column::Id)
        .from(application::Entity)
        .and_where(application::Column::DepartmentCode.is_in(departments.iter().cloned()))
        .to_owned();
    shipment::Entity::find()
        .filter(waiting(partner))
        .filter(shipment::Column::ApplicationId.in_subquery(theirs))
        .order_by_asc(shipment::Column::CreatedAt)
        .order_by_asc(shipment::Column::Id)
        .all(db)
        .await
}

/// Drops chosen before `cutoff`, still waiting and not flagged yet: the reminder's work.
pub async fn unflagged_late_drops<C: ConnectionTrait>(
    db: &C,
    partner: &str,
    cutoff: DateTime<Utc>,
) -> Result<Vec<shipment::Model>, DbErr> {
    shipment::Entity::find()
        .filter(waiting(partner))
        .filter(shipment::Column::OverdueAt.is_null())
        .filter(shipment::Column::CreatedAt.lt(cutoff))
        .order_by_asc(shipment::Column::CreatedAt)
        .all(db)
        .await
}

/// Flags drop `id` overdue at `now`, if it still waits and was not flagged: whether it was.
pub async fn flag_overdue<C: ConnectionTrait>(
    db: &C,
    partner: &str,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use sea_orm::sea_query::Expr;
    let result = shipment::Entity::update_many()
        .col_expr(shipment::Column::OverdueAt, Expr::value(Some(now)))
        .filter(shipment::Column::Id.eq(id))
        .filter(waiting(partner))
        .filter(shipment::Column::OverdueAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}
