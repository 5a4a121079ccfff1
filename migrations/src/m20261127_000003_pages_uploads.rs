//! Pages (the cleaned photos and PDFs of each material) and direct uploads (presigned PUTs that
//! become pages once completed).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Pages::Table)
                    .col(pk_uuid(Pages::Id))
                    .col(uuid(Pages::ApplicationId))
                    .col(string_len(Pages::MaterialCode, 64))
                    .col(integer(Pages::Position))
                    .col(string_len(Pages::ObjectKey, 512))
                    .col(string_len_null(Pages::ThumbnailKey, 512))
                    .col(string_len(Pages::ContentType, 64))
                    .col(big_integer(Pages::Size))
                    .col(string_len(Pages::Sha256, 64))
                    .col(integer_null(Pages::Width))
                    .col(integer_null(Pages::Height))
                    .col(string_len_null(Pages::OriginalName, 255))
                    .col(timestamp_with_time_zone(Pages::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Pages::Table, Pages::ApplicationId)
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("pages_application_sha256_key")
                    .table(Pages::Table)
                    .col(Pages::ApplicationId)
                    .col(Pages::Sha256)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("pages_application_material_idx")
                    .table(Pages::Table)
                    .col(Pages::ApplicationId)
                    .col(Pages::MaterialCode)
                    .col(Pages::Position)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Uploads::Table)
                    .col(pk_uuid(Uploads::Id))
                    .col(uuid(Uploads::ApplicationId))
                    .col(uuid(Uploads::CitizenId))
                    .col(string_len(Uploads::MaterialCode, 64))
                    .col(string_len(Uploads::ObjectKey, 512))
                    .col(string_len(Uploads::ContentType, 64))
                    .col(big_integer(Uploads::Size))
                    .col(string_len(Uploads::Sha256, 64))
                    .col(timestamp_with_time_zone(Uploads::CreatedAt))
                    .col(timestamp_with_time_zone(Uploads::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Uploads::CompletedAt))
                    .col(uuid_null(Uploads::PageId))
                    .col(timestamp_with_time_zone_null(Uploads::SweptAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Uploads::Table, Uploads::ApplicationId)
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uploads_expiry_idx")
                    .table(Uploads::Table)
                    .col(Uploads::CompletedAt)
                    .col(Uploads::SweptAt)
                    .col(Uploads::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Uploads::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Pages::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Pages {
    Table,
    Id,
    ApplicationId,
    MaterialCode,
    Position,
    ObjectKey,
    ThumbnailKey,
    ContentType,
    Size,
    Sha256,
    Width,
    Height,
    OriginalName,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Uploads {
    Table,
    Id,
    ApplicationId,
    CitizenId,
    MaterialCode,
    ObjectKey,
    ContentType,
    Size,
    Sha256,
    CreatedAt,
    ExpiresAt,
    CompletedAt,
    PageId,
    SweptAt,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
}
