//! The catalogue of service items (事项). Items are versioned: an import that changes an item adds
//! a version and keeps the old one, because applications refer to the version they were filed under.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Departments::Table)
                    .col(string_len(Departments::Code, 64).primary_key())
                    .col(string_len(Departments::Name, 200))
                    .col(timestamp_with_time_zone(Departments::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Matters::Table)
                    .col(pk_uuid(Matters::Id))
                    .col(string_len(Matters::Code, 64))
                    .col(integer(Matters::Version))
                    .col(boolean(Matters::IsCurrent))
                    .col(string_len(Matters::Name, 200))
                    .col(text(Matters::Description))
                    .col(string_len(Matters::DepartmentCode, 64))
                    .col(string_len(Matters::DepartmentName, 200))
                    .col(integer(Matters::ProcessingDays))
                    .col(boolean(Matters::OriginalsByCourier))
                    .col(boolean(Matters::ResultByCourier))
                    .col(boolean(Matters::IdNumberRequired))
                    .col(string_len(Matters::ContentHash, 64))
                    .col(timestamp_with_time_zone(Matters::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Matters::Table, Matters::DepartmentCode)
                            .to(Departments::Table, Departments::Code),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("matters_code_version_key")
                    .table(Matters::Table)
                    .col(Matters::Code)
                    .col(Matters::Version)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("matters_current_idx")
                    .table(Matters::Table)
                    .col(Matters::IsCurrent)
                    .col(Matters::Code)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MatterMaterials::Table)
                    .col(pk_uuid(MatterMaterials::Id))
                    .col(uuid(MatterMaterials::MatterId))
                    .col(integer(MatterMaterials::Position))
                    .col(string_len(MatterMaterials::Code, 64))
                    .col(string_len(MatterMaterials::Name, 200))
                    .col(text(MatterMaterials::Guidance))
                    .col(string_len(MatterMaterials::Kinds, 64))
                    .col(integer(MatterMaterials::MinPages))
                    .col(integer(MatterMaterials::MaxPages))
                    .col(boolean(MatterMaterials::Required))
                    .col(boolean(MatterMaterials::OriginalRequired))
                    .foreign_key(
                        ForeignKey::create()
                            .from(MatterMaterials::Table, MatterMaterials::MatterId)
                            .to(Matters::Table, Matters::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("matter_materials_matter_code_key")
                    .table(MatterMaterials::Table)
                    .col(MatterMaterials::MatterId)
                    .col(MatterMaterials::Code)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MatterMaterials::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Matters::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Departments::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Departments {
    Table,
    Code,
    Name,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Matters {
    Table,
    Id,
    Code,
    Version,
    IsCurrent,
    Name,
    Description,
    DepartmentCode,
    DepartmentName,
    ProcessingDays,
    OriginalsByCourier,
    ResultByCourier,
    IdNumberRequired,
    ContentHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MatterMaterials {
    Table,
    Id,
    MatterId,
    Position,
    Code,
    Name,
    Guidance,
    Kinds,
    MinPages,
    MaxPages,
    Required,
    OriginalRequired,
}
