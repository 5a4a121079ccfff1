//! Pre-review: the department an application belongs to (copied from its item, so the queue and
//! claims filter without a join), claim leases, and queue priority for resubmitted cases.

use sea_orm_migration::sea_orm::ConnectionTrait;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        let columns = [
            string_len(Applications::DepartmentCode, 64)
                .default("")
                .to_owned(),
            uuid_null(Applications::ClaimedBy).to_owned(),
            timestamp_with_time_zone_null(Applications::ClaimExpiresAt).to_owned(),
            integer(Applications::QueuePriority).default(0).to_owned(),
        ];
        for column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Applications::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE applications SET department_code = \
                 (SELECT department_code FROM matters WHERE matters.id = applications.matter_id)",
            )
            .await?;
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
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("applications_queue_idx")
                    .table(Applications::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            Applications::QueuePriority,
            Applications::ClaimExpiresAt,
            Applications::ClaimedBy,
            Applications::DepartmentCode,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Applications::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Applications {
    Table,
    DepartmentCode,
    ClaimedBy,
    ClaimExpiresAt,
    QueuePriority,
    State,
}
