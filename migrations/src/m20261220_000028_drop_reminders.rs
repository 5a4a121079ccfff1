//! A drop not found in the box within `courier.drop_box.remind_after_days` is flagged once
//! (`shipments.overdue_at`, shown on the problems view) and its citizen reminded. A scan may
//! carry the scanner's `Idempotency-Key`, unique within its run, so a retried scan answers as
//! the first did.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SCAN_KEYS: &str = "box_scans_run_key_idx";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Shipments::Table)
                    .add_column(timestamp_with_time_zone_null(Shipments::OverdueAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(BoxScans::Table)
                    .add_column(string_len_null(BoxScans::IdempotencyKey, 255))
                    .to_owned(),
            )
            .await?;
        // Both databases let NULLs repeat in a unique index: scans without a key never clash.
        manager
            .create_index(
                Index::create()
                    .name(SCAN_KEYS)
                    .table(BoxScans::Table)
                    .col(BoxScans::RunId)
                    .col(BoxScans::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(SCAN_KEYS)
                    .table(BoxScans::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(BoxScans::Table)
                    .drop_column(BoxScans::IdempotencyKey)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Shipments::Table)
                    .drop_column(Shipments::OverdueAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Shipments {
    Table,
    OverdueAt,
}

#[derive(DeriveIden)]
enum BoxScans {
    Table,
    RunId,
    IdempotencyKey,
}
