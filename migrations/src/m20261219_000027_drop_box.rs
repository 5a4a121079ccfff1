//! The 24-hour box as a drop-off for originals: an item allows it (`matters.drop_box`); a drop
//! is a `materials` shipment of the pseudo-partner `box` whose waybill is the drop code. Each
//! emptying of the box is a run, and every envelope scanned in it is a scan, matched or not.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SCANS_OF_RUN: &str = "box_scans_run_idx";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Matters::Table)
                    .add_column(boolean(Matters::DropBox).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BoxRuns::Table)
                    .col(pk_uuid(BoxRuns::Id))
                    .col(uuid(BoxRuns::StartedBy))
                    .col(timestamp_with_time_zone(BoxRuns::StartedAt))
                    .col(timestamp_with_time_zone_null(BoxRuns::ClosedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BoxScans::Table)
                    .col(pk_uuid(BoxScans::Id))
                    .col(uuid(BoxScans::RunId))
                    // As typed or scanned (at most 64 characters), and as read.
                    .col(string_len(BoxScans::Typed, 64))
                    .col(string_len_null(BoxScans::DropCode, 16))
                    // `received`, or why not: `unknown`, `used`, `case_cancelled`, `withdrawn`,
                    // `other_department`.
                    .col(string_len(BoxScans::Outcome, 32))
                    .col(uuid_null(BoxScans::ApplicationId))
                    .col(uuid(BoxScans::StaffId))
                    .col(timestamp_with_time_zone(BoxScans::ScannedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(SCANS_OF_RUN)
                    .table(BoxScans::Table)
                    .col(BoxScans::RunId)
                    .col(BoxScans::ScannedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(BoxScans::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(BoxRuns::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Matters::Table)
                    .drop_column(Matters::DropBox)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Matters {
    Table,
    DropBox,
}

#[derive(DeriveIden)]
enum BoxRuns {
    Table,
    Id,
    StartedBy,
    StartedAt,
    ClosedAt,
}

#[derive(DeriveIden)]
enum BoxScans {
    Table,
    Id,
    RunId,
    Typed,
    DropCode,
    Outcome,
    ApplicationId,
    StaffId,
    ScannedAt,
}
