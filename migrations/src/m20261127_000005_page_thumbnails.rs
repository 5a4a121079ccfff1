//! Thumbnails are made after the upload: count the attempts so a page whose thumbnail cannot be
//! made is not tried forever.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Pages::Table)
                    .add_column(integer(Pages::ThumbnailAttempts).default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Pages::Table)
                    .drop_column(Pages::ThumbnailAttempts)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Pages {
    Table,
    ThumbnailAttempts,
}
