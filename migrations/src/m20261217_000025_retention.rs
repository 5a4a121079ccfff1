//! Retention and destruction of personal data: each item's retention periods (NULL: the
//! service's `retention.*` defaults), a case's legal hold and what of it was destroyed when, an
//! account's deletion, the record of every destruction, and an index the retention job reads
//! ended cases by.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const ENDED: &str = "applications_state_updated_idx";
const OF_CASE: &str = "destructions_application_idx";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [
            Matters::RetentionPhotosDays,
            Matters::RetentionResultsDays,
            Matters::RetentionPersonalDays,
            Matters::RetentionAbandonedDays,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Matters::Table)
                        .add_column(integer_null(column))
                        .to_owned(),
                )
                .await?;
        }
        let mut columns = [
            timestamp_with_time_zone_null(Applications::HeldAt),
            uuid_null(Applications::HeldBy),
            text_null(Applications::HoldReason),
            timestamp_with_time_zone_null(Applications::PhotosDestroyedAt),
            timestamp_with_time_zone_null(Applications::ResultsDestroyedAt),
            timestamp_with_time_zone_null(Applications::PersonalDestroyedAt),
        ];
        for column in columns.iter_mut() {
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
            .alter_table(
                Table::alter()
                    .table(Citizens::Table)
                    .add_column(timestamp_with_time_zone_null(Citizens::DeletedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(ENDED)
                    .table(Applications::Table)
                    .col(Applications::State)
                    .col(Applications::UpdatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Destructions::Table)
                    .col(uuid(Destructions::Id).primary_key())
                    .col(uuid_null(Destructions::ApplicationId))
                    .col(uuid(Destructions::CitizenId))
                    .col(string_len(Destructions::Part, 16))
                    .col(string_len(Destructions::Reason, 32))
                    .col(integer(Destructions::Objects))
                    .col(text(Destructions::Fields))
                    .col(timestamp_with_time_zone(Destructions::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(OF_CASE)
                    .table(Destructions::Table)
                    .col(Destructions::ApplicationId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Destructions::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(ENDED)
                    .table(Applications::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Citizens::Table)
                    .drop_column(Citizens::DeletedAt)
                    .to_owned(),
            )
            .await?;
        for column in [
            Applications::HeldAt,
            Applications::HeldBy,
            Applications::HoldReason,
            Applications::PhotosDestroyedAt,
            Applications::ResultsDestroyedAt,
            Applications::PersonalDestroyedAt,
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
        for column in [
            Matters::RetentionPhotosDays,
            Matters::RetentionResultsDays,
            Matters::RetentionPersonalDays,
            Matters::RetentionAbandonedDays,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Matters::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Matters {
    Table,
    RetentionPhotosDays,
    RetentionResultsDays,
    RetentionPersonalDays,
    RetentionAbandonedDays,
}

#[derive(DeriveIden, Clone, Copy)]
enum Applications {
    Table,
    State,
    UpdatedAt,
    HeldAt,
    HeldBy,
    HoldReason,
    PhotosDestroyedAt,
    ResultsDestroyedAt,
    PersonalDestroyedAt,
}

#[derive(DeriveIden)]
enum Citizens {
    Table,
    DeletedAt,
}

#[derive(DeriveIden)]
enum Destructions {
    Table,
    Id,
    ApplicationId,
    CitizenId,
    Part,
    Reason,
    Objects,
    Fields,
    CreatedAt,
}
