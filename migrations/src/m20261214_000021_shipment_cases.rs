//! One courier leg for several cases: the originals of a bundle's items (or, later, of a
//! service point's residents) collected in one pickup. `shipments.application_id` stays the
//! first case; `shipment_cases` names the others the same parcel carries.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ShipmentCases::Table)
                    .col(uuid(ShipmentCases::ShipmentId))
                    .col(uuid(ShipmentCases::ApplicationId))
                    .primary_key(
                        Index::create()
                            .col(ShipmentCases::ShipmentId)
                            .col(ShipmentCases::ApplicationId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ShipmentCases::Table, ShipmentCases::ShipmentId)
                            .to(Shipments::Table, Shipments::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ShipmentCases::Table, ShipmentCases::ApplicationId)
                            .to(Applications::Table, Applications::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("shipment_cases_application_idx")
                    .table(ShipmentCases::Table)
                    .col(ShipmentCases::ApplicationId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ShipmentCases::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ShipmentCases {
    Table,
    ShipmentId,
    ApplicationId,
}

#[derive(DeriveIden)]
enum Shipments {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
}
