//! What a shipment's route events add up to, kept on its row: the furthest forward step and the
//! latest side state (`delivery_failed`, `exception`), each with when it happened. A push folds
//! its events over these instead of reading the shipment's history. Existing rows are filled in
//! from their events. Events stored before their waybill was known are found by a partial index,
//! so that checking a locked shipment for them costs a probe of an index that is nearly empty.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UNATTACHED: &str = "shipment_events_unattached_idx";

/// The forward steps and their rank, as `courier::track` ranks them.
const RANK: &str = "CASE e.status WHEN 'pending' THEN 0 WHEN 'picked_up' THEN 1 \
    WHEN 'in_transit' THEN 2 WHEN 'out_for_delivery' THEN 3 WHEN 'delivered' THEN 4 END";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [
            integer_null(Shipments::ForwardRank),
            timestamp_with_time_zone_null(Shipments::ForwardAt),
            text_null(Shipments::SideStatus),
            timestamp_with_time_zone_null(Shipments::SideAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Shipments::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        // Ties go to the earliest event in (occurred_at, id) order, as the fold takes them.
        let forward = |column: &str| {
            format!(
                "(SELECT {column} FROM shipment_events e WHERE e.shipment_id = shipments.id \
                 AND e.status IN ('pending', 'picked_up', 'in_transit', 'out_for_delivery', \
                 'delivered') ORDER BY {RANK} DESC, e.occurred_at DESC, e.id ASC LIMIT 1)"
            )
        };
        let side = |column: &str| {
            format!(
                "(SELECT {column} FROM shipment_events e WHERE e.shipment_id = shipments.id \
                 AND e.status IN ('delivery_failed', 'exception') \
                 ORDER BY e.occurred_at DESC, e.id ASC LIMIT 1)"
            )
        };
        let backfill = format!(
            "UPDATE shipments SET forward_rank = {}, forward_at = {}, side_status = {}, \
             side_at = {} WHERE EXISTS (SELECT 1 FROM shipment_events e \
             WHERE e.shipment_id = shipments.id)",
            forward(RANK),
            forward("e.occurred_at"),
            side("e.status"),
            side("e.occurred_at"),
        );
        manager
            .get_connection()
            .execute_unprepared(&backfill)
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(UNATTACHED)
                    .table(ShipmentEvents::Table)
                    .col(ShipmentEvents::Partner)
                    .col(ShipmentEvents::WaybillNo)
                    .and_where(Expr::col(ShipmentEvents::ShipmentId).is_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(UNATTACHED)
                    .table(ShipmentEvents::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            Shipments::ForwardRank,
            Shipments::ForwardAt,
            Shipments::SideStatus,
            Shipments::SideAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Shipments::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Shipments {
    Table,
    ForwardRank,
    ForwardAt,
    SideStatus,
    SideAt,
}

#[derive(DeriveIden)]
enum ShipmentEvents {
    Table,
    Partner,
    WaybillNo,
    ShipmentId,
}
