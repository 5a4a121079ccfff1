//! Village service points (代办点) and the agents who file there for residents: the points
//! themselves, an agent's point (`staff.service_point_id`), the case's agent and point, the
//! resident's authorization of the agent (`authorizations`), and whom an audited action was
//! done for (`audit_log.on_behalf_of`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ServicePoints::Table)
                    .col(pk_uuid(ServicePoints::Id))
                    .col(string_len_uniq(ServicePoints::Code, 64))
                    .col(string_len(ServicePoints::Name, 100))
                    // The courier address: `api::applications::view::Address` as JSON.
                    .col(json(ServicePoints::Address))
                    // Comma-separated department codes whose items the point files.
                    .col(text(ServicePoints::Departments))
                    .col(timestamp_with_time_zone(ServicePoints::CreatedAt))
                    .col(timestamp_with_time_zone(ServicePoints::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Staff::Table)
                    .add_column(uuid_null(Staff::ServicePointId))
                    .to_owned(),
            )
            .await?;
        // SQLite adds one column per statement.
        for column in [Applications::AgentId, Applications::ServicePointId] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Applications::Table)
                        .add_column(uuid_null(column))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .add_column(string_len_null(Applications::AuthorizationMethod, 16))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("applications_service_point_idx")
                    .table(Applications::Table)
                    .col(Applications::ServicePointId)
                    .col(Applications::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Authorizations::Table)
                    .col(pk_uuid(Authorizations::Id))
                    .col(uuid_uniq(Authorizations::ApplicationId))
                    .col(uuid(Authorizations::AgentId))
                    .col(uuid(Authorizations::ServicePointId))
                    .col(string_len(Authorizations::Method, 16))
                    // The confirmation code's SHA-256 while one is outstanding.
                    .col(string_len_null(Authorizations::CodeHash, 64))
                    .col(timestamp_with_time_zone_null(Authorizations::CodeExpiresAt))
                    .col(uuid_null(Authorizations::CitizenId))
                    .col(timestamp_with_time_zone_null(Authorizations::GrantedAt))
                    .col(timestamp_with_time_zone_null(Authorizations::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Authorizations::RevokedAt))
                    // When the agent handed the result to the resident.
                    .col(timestamp_with_time_zone_null(Authorizations::HandedOverAt))
                    .col(timestamp_with_time_zone(Authorizations::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Authorizations::Table, Authorizations::ApplicationId)
                            .to(Applications::Table, Applications::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("authorizations_code_idx")
                    .table(Authorizations::Table)
                    .col(Authorizations::CodeHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditLog::Table)
                    .add_column(uuid_null(AuditLog::OnBehalfOf))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AuditLog::Table)
                    .drop_column(AuditLog::OnBehalfOf)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Authorizations::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("applications_service_point_idx")
                    .table(Applications::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            Applications::AgentId,
            Applications::ServicePointId,
            Applications::AuthorizationMethod,
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
        manager
            .alter_table(
                Table::alter()
                    .table(Staff::Table)
                    .drop_column(Staff::ServicePointId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(ServicePoints::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ServicePoints {
    Table,
    Id,
    Code,
    Name,
    Address,
    Departments,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Staff {
    Table,
    ServicePointId,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
    AgentId,
    ServicePointId,
    AuthorizationMethod,
}

#[derive(DeriveIden)]
enum Authorizations {
    Table,
    Id,
    ApplicationId,
    AgentId,
    ServicePointId,
    Method,
    CodeHash,
    CodeExpiresAt,
    CitizenId,
    GrantedAt,
    ExpiresAt,
    RevokedAt,
    HandedOverAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    OnBehalfOf,
}
