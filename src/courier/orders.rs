//! Partner orders, made and cancelled by jobs queued in the transaction that books or cancels a
//! leg. Creating is idempotent at the partner by our order id, so a job that died after the
//! partner answered makes no second parcel when it runs again. A cancelled order id is never
//! used again: a new booking gets a new shipment row and a new id.

use crate::integrations::courier::{Contact, CourierError, OrderRequest};
use crate::jobs::job::{Job, JobContext, JobError};
use crate::store::shipments::{self, OrderStatus};
pub use crate::store::shipments::{CourierCancelOrder, CourierCreateOrder};
use uuid::Uuid;

fn contact(json: &str) -> Result<Contact, JobError> {
    serde_json::from_str(json).map_err(|e| JobError::Fatal(anyhow::anyhow!("stored contact: {e}")))
}

impl Job for CourierCreateOrder {
    async fn run(self, ctx: &JobContext) -> Result<(), JobError> {
        create(ctx, self.shipment_id).await
    }
}

impl Job for CourierCancelOrder {
    async fn run(self, ctx: &JobContext) -> Result<(), JobError> {
        cancel(ctx, self.shipment_id).await
    }
}

async fn create(ctx: &JobContext, id: Uuid) -> Result<(), JobError> {
    let db = &ctx.db;
    let Some(row) = shipments::find(db, id).await? else {
        return Err(JobError::fatal("the shipment is gone"));
    };
    // Cancelled before the order was placed, or placed already by an earlier run.
    if OrderStatus::parse(&row.order_status) != Some(OrderStatus::Requested) {
        return Ok(());
    }
    let partner = ctx
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
                &ctx.cases,
                &row.partner,
                &created.waybill_no,
                row.id,
            )
            .await?;
            Ok(())
        }
        Err(CourierError::Retryable(e)) => Err(JobError::Retry(anyhow::anyhow!(e))),
        Err(CourierError::Final(e)) => {
            let (requested, failed) = (OrderStatus::Requested, OrderStatus::Failed);
            shipments::set_order_status(db, row.id, &[requested], failed, Some(e.clone())).await?;
            Err(JobError::Fatal(anyhow::anyhow!(
                "the partner refused the order: {e}"
            )))
        }
    }
}

/// Cancelling an order the partner never made (the booking was cancelled before its order job
/// ran) is harmless: the partner answers it is unknown, and that is the cancelled state we want.
async fn cancel(ctx: &JobContext, id: Uuid) -> Result<(), JobError> {
    let db = &ctx.db;
    let Some(row) = shipments::find(db, id).await? else {
        return Err(JobError::fatal("the shipment is gone"));
    };
    if OrderStatus::parse(&row.order_status) != Some(OrderStatus::CancelRequested) {
        return Ok(());
    }
    let partner = ctx
        .couriers
        .get(&row.partner)
        .ok_or_else(|| JobError::Fatal(anyhow::anyhow!("unknown partner {}", row.partner)))?;
    match partner
        .cancel_order(&row.order_id, row.waybill_no.as_deref())
        .await
    {
        Ok(()) => {}
        Err(CourierError::Retryable(e)) => return Err(JobError::Retry(anyhow::anyhow!(e))),
        Err(CourierError::Final(e)) => {
            tracing::info!(shipment = %row.id, reason = %e, "partner had no order to cancel");
        }
    }
    let (requested, cancelled) = (OrderStatus::CancelRequested, OrderStatus::Cancelled);
    shipments::set_order_status(db, row.id, &[requested], cancelled, None).await?;
    Ok(())
}
