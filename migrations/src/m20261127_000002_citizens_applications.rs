//! Citizens, their sessions (refresh tokens), idempotency records, applications and their event
//! timeline.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Citizens::Table)
                    .col(pk_uuid(Citizens::Id))
                    .col(string_len_uniq(Citizens::Openid, 128))
                    .col(string_len_null(Citizens::Unionid, 128))
                    .col(timestamp_with_time_zone(Citizens::CreatedAt))
                    .col(timestamp_with_time_zone(Citizens::LastLoginAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(pk_uuid(RefreshTokens::Id))
                    .col(uuid(RefreshTokens::FamilyId))
                    .col(string_len(RefreshTokens::SubjectKind, 16))
                    .col(uuid(RefreshTokens::SubjectId))
                    .col(string_len_uniq(RefreshTokens::TokenHash, 64))
                    .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                    .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::UsedAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RevokedAt))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("refresh_tokens_family_idx", RefreshTokens::FamilyId),
            ("refresh_tokens_subject_idx", RefreshTokens::SubjectId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(RefreshTokens::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(uuid(IdempotencyKeys::SubjectId))
                    .col(string_len(IdempotencyKeys::Scope, 64))
                    .col(string_len(IdempotencyKeys::Key, 128))
                    .col(string_len(IdempotencyKeys::RequestHash, 64))
                    .col(integer(IdempotencyKeys::ResponseStatus))
                    .col(text(IdempotencyKeys::ResponseBody))
                    .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(IdempotencyKeys::SubjectId)
                            .col(IdempotencyKeys::Scope)
                            .col(IdempotencyKeys::Key),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Applications::Table)
                    .col(pk_uuid(Applications::Id))
                    .col(uuid(Applications::CitizenId))
                    .col(uuid(Applications::MatterId))
                    .col(string_len(Applications::MatterCode, 64))
                    .col(string_len(Applications::State, 32))
                    .col(integer(Applications::Version))
                    .col(string_len(Applications::ApplicantName, 100))
                    .col(string_len(Applications::ApplicantPhone, 20))
                    .col(text_null(Applications::ApplicantIdNumberEnc))
                    .col(string_len_null(Applications::ApplicantIdNumberMasked, 18))
                    .col(json_null(Applications::ReturnAddress))
                    .col(text_null(Applications::Note))
                    .col(timestamp_with_time_zone(Applications::CreatedAt))
                    .col(timestamp_with_time_zone(Applications::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Applications::SubmittedAt))
                    .col(timestamp_with_time_zone_null(
                        Applications::FirstSubmittedAt,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Applications::Table, Applications::CitizenId)
                            .to(Citizens::Table, Citizens::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Applications::Table, Applications::MatterId)
                            .to(Matters::Table, Matters::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("applications_citizen_idx")
                    .table(Applications::Table)
                    .col(Applications::CitizenId)
                    .col(Applications::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("applications_state_idx")
                    .table(Applications::Table)
                    .col(Applications::State)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApplicationEvents::Table)
                    .col(pk_uuid(ApplicationEvents::Id))
                    .col(uuid(ApplicationEvents::ApplicationId))
                    .col(string_len(ApplicationEvents::ActorKind, 16))
                    .col(uuid_null(ApplicationEvents::ActorId))
                    .col(string_len(ApplicationEvents::Action, 32))
                    .col(string_len_null(ApplicationEvents::FromState, 32))
                    .col(string_len(ApplicationEvents::ToState, 32))
                    .col(text_null(ApplicationEvents::Reason))
                    .col(timestamp_with_time_zone(ApplicationEvents::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApplicationEvents::Table, ApplicationEvents::ApplicationId)
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("application_events_application_idx")
                    .table(ApplicationEvents::Table)
                    .col(ApplicationEvents::ApplicationId)
                    .col(ApplicationEvents::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ApplicationEvents::Table.into_iden(),
            Applications::Table.into_iden(),
            IdempotencyKeys::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            Citizens::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Citizens {
    Table,
    Id,
    Openid,
    Unionid,
    CreatedAt,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    FamilyId,
    SubjectKind,
    SubjectId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    SubjectId,
    Scope,
    Key,
    RequestHash,
    ResponseStatus,
    ResponseBody,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
    CitizenId,
    MatterId,
    MatterCode,
    State,
    Version,
    ApplicantName,
    ApplicantPhone,
    ApplicantIdNumberEnc,
    ApplicantIdNumberMasked,
    ReturnAddress,
    Note,
    CreatedAt,
    UpdatedAt,
    SubmittedAt,
    FirstSubmittedAt,
}

#[derive(DeriveIden)]
enum ApplicationEvents {
    Table,
    Id,
    ApplicationId,
    ActorKind,
    ActorId,
    Action,
    FromState,
    ToState,
    Reason,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Matters {
    Table,
    Id,
}
