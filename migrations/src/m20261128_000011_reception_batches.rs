//! Reception and dispatch: what reception found when the originals arrived, and the twice-daily
//! batches that carry received cases to their department.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DispatchBatches::Table)
                    .col(pk_uuid(DispatchBatches::Id))
                    .col(string_len(DispatchBatches::DepartmentCode, 64))
                    .col(timestamp_with_time_zone(DispatchBatches::CutoffAt))
                    .col(integer(DispatchBatches::CaseCount))
                    .col(timestamp_with_time_zone(DispatchBatches::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("dispatch_batches_slot_idx")
                    .table(DispatchBatches::Table)
                    .col(DispatchBatches::DepartmentCode)
                    .col(DispatchBatches::CutoffAt)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Receptions::Table)
                    .col(pk_uuid(Receptions::Id))
                    .col(uuid(Receptions::ApplicationId))
                    .col(uuid(Receptions::StaffId))
                    .col(boolean(Receptions::Matches))
                    .col(text_null(Receptions::Note))
                    .col(text(Receptions::MismatchedMaterials))
                    .col(timestamp_with_time_zone(Receptions::CreatedAt))
                    .to_owned(),
            )
            .await?;
        for column in [
            uuid_null(Applications::BatchId).to_owned(),
            timestamp_with_time_zone_null(Applications::ReceivedAt).to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Applications::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Applications::ReceivedAt, Applications::BatchId] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Applications::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(Receptions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(DispatchBatches::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum DispatchBatches {
    Table,
    Id,
    DepartmentCode,
    CutoffAt,
    CaseCount,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Receptions {
    Table,
    Id,
    ApplicationId,
    StaffId,
    Matches,
    Note,
    MismatchedMaterials,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Applications {
    Table,
    BatchId,
    ReceivedAt,
}
