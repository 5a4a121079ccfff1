//! The catalogue's revision, so that every instance notices an import without a database round
//! trip per request: `catalog_state` holds one row whose `revision` each changing import bumps,
//! and `catalog_readers` is where each running instance says which revision it serves (an
//! import waits for the live ones before it reports done).

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
                    .table(CatalogState::Table)
                    .col(integer(CatalogState::Id).primary_key())
                    .col(big_integer(CatalogState::Revision))
                    .col(timestamp_with_time_zone(CatalogState::ChangedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(CatalogState::Table)
                    .columns([
                        CatalogState::Id,
                        CatalogState::Revision,
                        CatalogState::ChangedAt,
                    ])
                    .values_panic([1.into(), 1.into(), Expr::current_timestamp()])
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CatalogReaders::Table)
                    .col(uuid(CatalogReaders::InstanceId).primary_key())
                    .col(big_integer(CatalogReaders::Revision))
                    .col(timestamp_with_time_zone(CatalogReaders::SeenAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CatalogReaders::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(CatalogState::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum CatalogState {
    Table,
    Id,
    Revision,
    ChangedAt,
}

#[derive(DeriveIden)]
enum CatalogReaders {
    Table,
    InstanceId,
    Revision,
    SeenAt,
}
