//! The pre-review SLA: a deadline in hours per item, and the due time each case got when it was
//! first submitted (kept across resubmission).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Matters::Table)
                    .add_column(integer(Matters::PrereviewHours).default(24))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .add_column(timestamp_with_time_zone_null(Applications::PrereviewDueAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .drop_column(Applications::PrereviewDueAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Matters::Table)
                    .drop_column(Matters::PrereviewHours)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Matters {
    Table,
    PrereviewHours,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    PrereviewDueAt,
}
