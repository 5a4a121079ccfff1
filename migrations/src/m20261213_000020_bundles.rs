//! "One thing" bundles (一件事一次办): the catalogue's bundles of items from several
//! departments, a citizen's filing of one (`filings`), and each application's filing.

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
                    .table(CatalogBundles::Table)
                    .col(string_len(CatalogBundles::Code, 64).primary_key())
                    .col(string_len(CatalogBundles::Name, 100))
                    .col(text(CatalogBundles::Description))
                    .col(text(CatalogBundles::Items))
                    .col(string_len(CatalogBundles::ContentHash, 64))
                    .col(timestamp_with_time_zone(CatalogBundles::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Filings::Table)
                    .col(pk_uuid(Filings::Id))
                    .col(uuid(Filings::CitizenId))
                    .col(string_len(Filings::BundleCode, 64))
                    .col(string_len(Filings::BundleName, 100))
                    .col(integer(Filings::Version))
                    .col(timestamp_with_time_zone(Filings::CreatedAt))
                    .col(timestamp_with_time_zone(Filings::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Filings::SubmittedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Filings::Table, Filings::CitizenId)
                            .to(Citizens::Table, Citizens::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("filings_citizen_idx")
                    .table(Filings::Table)
                    .col(Filings::CitizenId)
                    .col(Filings::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .add_column(uuid_null(Applications::FilingId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("applications_filing_idx")
                    .table(Applications::Table)
                    .col(Applications::FilingId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("applications_filing_idx")
                    .table(Applications::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .drop_column(Applications::FilingId)
                    .to_owned(),
            )
            .await?;
        for table in [
            Filings::Table.into_iden(),
            CatalogBundles::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum CatalogBundles {
    Table,
    Code,
    Name,
    Description,
    Items,
    ContentHash,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Filings {
    Table,
    Id,
    CitizenId,
    BundleCode,
    BundleName,
    Version,
    CreatedAt,
    UpdatedAt,
    SubmittedAt,
}

#[derive(DeriveIden)]
enum Citizens {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    FilingId,
}
