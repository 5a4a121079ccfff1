//! The durable job queue (the transactional outbox), citizen notifications and their history,
//! the WeChat access token shared by every instance, subscribe-message consent counts, and the
//! email addresses notifications go to.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(pk_uuid(Jobs::Id))
                    .col(string_len(Jobs::Kind, 64))
                    .col(text(Jobs::Payload))
                    .col(string_len(Jobs::State, 16))
                    .col(integer(Jobs::Attempts).default(0))
                    .col(integer(Jobs::MaxAttempts))
                    .col(timestamp_with_time_zone(Jobs::RunAt))
                    .col(string_len_null(Jobs::LockedBy, 64))
                    .col(timestamp_with_time_zone_null(Jobs::LeaseUntil))
                    .col(text_null(Jobs::LastError))
                    // Enqueueing twice with one key makes one job: event ids, schedule slots.
                    .col(string_len_null(Jobs::DedupeKey, 200).unique_key())
                    .col(timestamp_with_time_zone(Jobs::CreatedAt))
                    .col(timestamp_with_time_zone(Jobs::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Jobs::StartedAt))
                    .col(timestamp_with_time_zone_null(Jobs::FinishedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("jobs_due_idx")
                    .table(Jobs::Table)
                    .col(Jobs::State)
                    .col(Jobs::RunAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .col(pk_uuid(Notifications::Id))
                    .col(uuid(Notifications::ApplicationId))
                    .col(uuid(Notifications::CitizenId))
                    .col(uuid(Notifications::EventId))
                    .col(string_len(Notifications::Event, 32))
                    .col(string_len(Notifications::Channel, 16))
                    .col(string_len(Notifications::Status, 16))
                    .col(text_null(Notifications::Detail))
                    .col(integer(Notifications::Attempts).default(0))
                    .col(timestamp_with_time_zone(Notifications::CreatedAt))
                    .col(timestamp_with_time_zone(Notifications::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Notifications::SentAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("notifications_event_channel_idx")
                    .table(Notifications::Table)
                    .col(Notifications::EventId)
                    .col(Notifications::Channel)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("notifications_application_idx")
                    .table(Notifications::Table)
                    .col(Notifications::ApplicationId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WechatTokens::Table)
                    .col(string_len(WechatTokens::AppId, 64).primary_key())
                    .col(text_null(WechatTokens::TokenEnc))
                    .col(timestamp_with_time_zone_null(WechatTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(
                        WechatTokens::RefreshLeaseUntil,
                    ))
                    .col(timestamp_with_time_zone(WechatTokens::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WechatSubscriptions::Table)
                    .col(uuid(WechatSubscriptions::CitizenId))
                    .col(string_len(WechatSubscriptions::TemplateId, 128))
                    .col(integer(WechatSubscriptions::Remaining))
                    .col(timestamp_with_time_zone(WechatSubscriptions::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(WechatSubscriptions::CitizenId)
                            .col(WechatSubscriptions::TemplateId),
                    )
                    .to_owned(),
            )
            .await?;
        // SQLite adds one column per ALTER TABLE.
        for (table, column) in [
            (
                Applications::Table.into_iden(),
                string_len_null(Applications::ApplicantEmail, 254).to_owned(),
            ),
            (
                Applications::Table.into_iden(),
                timestamp_with_time_zone_null(Applications::OverdueAlertedAt).to_owned(),
            ),
            (
                Staff::Table.into_iden(),
                string_len_null(Staff::Email, 254).to_owned(),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(table).add_column(column).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in [
            (Staff::Table.into_iden(), Staff::Email.into_iden()),
            (
                Applications::Table.into_iden(),
                Applications::OverdueAlertedAt.into_iden(),
            ),
            (
                Applications::Table.into_iden(),
                Applications::ApplicantEmail.into_iden(),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        for table in [
            WechatSubscriptions::Table.into_iden(),
            WechatTokens::Table.into_iden(),
            Notifications::Table.into_iden(),
            Jobs::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    Kind,
    Payload,
    State,
    Attempts,
    MaxAttempts,
    RunAt,
    LockedBy,
    LeaseUntil,
    LastError,
    DedupeKey,
    CreatedAt,
    UpdatedAt,
    StartedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    ApplicationId,
    CitizenId,
    EventId,
    Event,
    Channel,
    Status,
    Detail,
    Attempts,
    CreatedAt,
    UpdatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum WechatTokens {
    Table,
    AppId,
    TokenEnc,
    ExpiresAt,
    RefreshLeaseUntil,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WechatSubscriptions {
    Table,
    CitizenId,
    TemplateId,
    Remaining,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    ApplicantEmail,
    OverdueAlertedAt,
}

#[derive(DeriveIden)]
enum Staff {
    Table,
    Email,
}
