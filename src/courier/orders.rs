//! Partner orders, made and cancelled by jobs queued in the transaction that books or cancels a
//! leg. Creating is idempotent at the partner by our order id, so a job that died after the
//! partner answered makes no second parcel when it runs again. A cancelled order id is never
//! used again: a new booking gets a new shipment row and a new id.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::integrations::courier::{Contact, CourierError, OrderRequest};
use crate::jobs::{JobError, JobKind, database, new_job};
use crate::state::AppState;
use crate::store::jobs as queue;
use crate::store::shipments::{
    self, CANCEL_REQUESTED, CANCELLED, CREATED, FAILED, REQUESTED, shipment,
};

/// In the booking's transaction: make the partner order for `shipment_id`.
pub async fn enqueue_create<C: ConnectionTrait>(
    db: &C,
    shipment_id: Uuid,
) -> Result<(), sea_orm::DbErr> {
    let job = new_job(
        JobKind::CourierCreateOrder,
        json!({ "shipment_id": shipment_id }),
        Some(format!("order:create:{shipment_id}")),
    );
    queue::enqueue(db, job).await?;
    Ok(())
}

/// In the cancelling transaction: mark the order for cancellation and queue the partner call.
pub async fn request_cancel<C: ConnectionTrait>(
    db: &C,
    row: &shipment::Model,
) -> Result<(), sea_orm::DbErr> {
    shipments::set_order_status(
        db,
        row.id,
        &[REQUESTED, CREATED, FAILED],
        CANCEL_REQUESTED,
        None,
    )
    .await?;
    let job = new_job(
        JobKind::CourierCancelOrder,
        json!({ "shipment_id": row.id }),
        Some(format!("order:cancel:{}", row.id)),
    );
    queue::enqueue(db, job).await?;
    Ok(())
}

fn shipment_id(payload: &Value) -> Result<Uuid, JobError> {
    payload["shipment_id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| JobError::Fatal(anyhow::anyhow!("payload has no shipment_id")))
}

fn contact(json: &str) -> Result<Contact, JobError> {
    serde_json::from_str(json).map_err(|e| JobError::Fatal(anyhow::anyhow!("stored contact: {e}")))
}

/// `courier_create_order {shipment_id}`.
pub async fn create(state: &AppState, payload: &Value) -> Result<(), JobError> {
    let db = database(state)?;
    let id = shipment_id(payload)?;
    let Some(row) = shipments::find(db, id).await? else {
        return Err(JobError::Fatal(anyhow::anyhow!("the shipment is gone")));
    };
    // Cancelled before the order was placed, or placed already by an earlier run.
    if row.order_status != REQUESTED {
        return Ok(());
    }
    let partner = state
        .couriers
        .get(&row.partner)
        .ok_or_else(|| JobError::Fatal(anyhow::anyhow!("unknown partner {}", row.partner)))?;
    let order = OrderRequest {
        order_id: row.order_id.clone(),
        sender: contact(&row.sender)?,
        recipient: contact(&row.recipient)?,
        pickup_from: row.pickup_from,
        pickup_until: row.pickup_until,
        cargo: "文件".into(),
        remark: Some(format!("Beebox {}", row.leg)),
    };
    match partner.create_order(&order).await {
        Ok(created) => {
            shipments::set_created(
                db,
                row.id,
                &created.waybill_no,
                created.courier_name,
                created.courier_phone,
            )
            .await?;
            crate::courier::ingest::match_unknown(
                db,
                &state.channels,
                &row.partner,
                &created.waybill_no,
                row.id,
            )
            .await?;
            Ok(())
        }
        Err(CourierError::Retryable(e)) => Err(JobError::Retry(anyhow::anyhow!(e))),
        Err(CourierError::Final(e)) => {
            shipments::set_order_status(db, row.id, &[REQUESTED], FAILED, Some(e.clone())).await?;
            Err(JobError::Fatal(anyhow::anyhow!(
                "the partner refused the order: {e}"
            )))
        }
    }
}

/// `courier_cancel_order {shipment_id}`. Cancelling an order the partner never made (the
/// booking was cancelled before its order job ran) is harmless: the partner answers it is
/// unknown, and that is the cancelled state we want.
pub async fn cancel(state: &AppState, payload: &Value) -> Result<(), JobError> {
    let db = database(state)?;
    let id = shipment_id(payload)?;
    let Some(row) = shipments::find(db, id).await? else {
        return Err(JobError::Fatal(anyhow::anyhow!("the shipment is gone")));
    };
    if row.order_status != CANCEL_REQUESTED {
        return Ok(());
    }
    let partner = state
        .couriers
        .get(&row.partner)
        .ok_or_else(|| JobError::Fatal(anyhow::anyhow!("unknown partner {}", row.partner)))?;
    match partner.cancel_order(&row.order_id).await {
        Ok(()) => {}
        Err(CourierError::Retryable(e)) => return Err(JobError::Retry(anyhow::anyhow!(e))),
        Err(CourierError::Final(e)) => {
            tracing::info!(shipment = %row.id, reason = %e, "partner had no order to cancel");
        }
    }
    shipments::set_order_status(db, row.id, &[CANCEL_REQUESTED], CANCELLED, None).await?;
    Ok(())
}
