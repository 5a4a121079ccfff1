//! Several courier partners at once: the partner an item's legs go to, and the one a service
//! point's cases use (NULL: the next rule down, ending at `courier.default_partner`). A shipment
//! already keeps its own partner (`shipments.partner`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Matters::Table)
                    .add_column(string_null(Matters::CourierPartner))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ServicePoints::Table)
                    .add_column(string_null(ServicePoints::CourierPartner))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ServicePoints::Table)
                    .drop_column(ServicePoints::CourierPartner)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Matters::Table)
                    .drop_column(Matters::CourierPartner)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Matters {
    Table,
    CourierPartner,
}

#[derive(DeriveIden)]
enum ServicePoints {
    Table,
    CourierPartner,
}
