//! A shipment's events by shipment, in the order they happened. Every route push reads the
//! history of its shipment; without this index that read scanned the whole event table.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const NAME: &str = "shipment_events_shipment_idx";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NAME)
                    .table(ShipmentEvents::Table)
                    .col(ShipmentEvents::ShipmentId)
                    .col(ShipmentEvents::OccurredAt)
                    .col(ShipmentEvents::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(NAME)
                    .table(ShipmentEvents::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum ShipmentEvents {
    Table,
    ShipmentId,
    OccurredAt,
    Id,
}
