//! Staff login throttling per (username, client address) with a slower back-off per username
//! (client address `*`), replacing the per-username `login_throttle`; the address of a member's
//! last good login (their desk, which the per-username back-off spares); and an index on
//! `refresh_tokens.revoked_at`, so that the sessions revoked in the last minutes are one range read.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const REVOKED: &str = "refresh_tokens_revoked_at_idx";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LoginAttempts::Table)
                    .col(string_len(LoginAttempts::Username, 64))
                    .col(string_len(LoginAttempts::ClientIp, 64))
                    .col(integer(LoginAttempts::Failures))
                    .col(timestamp_with_time_zone(LoginAttempts::LastFailureAt))
                    .col(timestamp_with_time_zone_null(LoginAttempts::LockedUntil))
                    .primary_key(
                        Index::create()
                            .col(LoginAttempts::Username)
                            .col(LoginAttempts::ClientIp),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(LoginThrottle::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Staff::Table)
                    .add_column(string_len_null(Staff::LastLoginIp, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(REVOKED)
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::RevokedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(REVOKED)
                    .table(RefreshTokens::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Staff::Table)
                    .drop_column(Staff::LastLoginIp)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LoginThrottle::Table)
                    .col(string_len(LoginThrottle::Username, 64).primary_key())
                    .col(integer(LoginThrottle::Failures))
                    .col(timestamp_with_time_zone(LoginThrottle::LastFailureAt))
                    .col(timestamp_with_time_zone_null(LoginThrottle::LockedUntil))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(LoginAttempts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum LoginAttempts {
    Table,
    Username,
    ClientIp,
    Failures,
    LastFailureAt,
    LockedUntil,
}

#[derive(DeriveIden)]
enum LoginThrottle {
    Table,
    Username,
    Failures,
    LastFailureAt,
    LockedUntil,
}

#[derive(DeriveIden)]
enum Staff {
    Table,
    LastLoginIp,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    RevokedAt,
}
