//! The review queue in the order it is read: a department's submitted cases by priority
//! (resubmitted first), then oldest first. With the order in the index, the queue's first page
//! and claim-next read the first rows instead of sorting every waiting case. It replaces
//! `applications_queue_idx` (state, department, priority), whose uses it covers.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("applications_queue_order_idx")
                    .table(Applications::Table)
                    .col(Applications::State)
                    .col(Applications::DepartmentCode)
                    .col((Applications::QueuePriority, IndexOrder::Desc))
                    .col(Applications::FirstSubmittedAt)
                    .col(Applications::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("applications_queue_idx")
                    .table(Applications::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("applications_queue_idx")
                    .table(Applications::Table)
                    .col(Applications::State)
                    .col(Applications::DepartmentCode)
                    .col(Applications::QueuePriority)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("applications_queue_order_idx")
                    .table(Applications::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    State,
    DepartmentCode,
    QueuePriority,
    FirstSubmittedAt,
    Id,
}
