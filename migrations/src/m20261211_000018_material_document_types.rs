//! Document types on catalogue materials, for the citizen's wallet: which kind of document a
//! material is (`resident_id_card`, ...), whether a verified document from the wallet may fill
//! it, and for how many days after its verification. Existing materials take no document type
//! and `fresh_only`, which is what they mean today.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [
            text_null(MatterMaterials::DocumentType),
            text(MatterMaterials::Reuse).default("fresh_only").take(),
            integer_null(MatterMaterials::ReuseValidDays),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(MatterMaterials::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            MatterMaterials::DocumentType,
            MatterMaterials::Reuse,
            MatterMaterials::ReuseValidDays,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(MatterMaterials::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum MatterMaterials {
    Table,
    DocumentType,
    Reuse,
    ReuseValidDays,
}
