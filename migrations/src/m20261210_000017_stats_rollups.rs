//! The dashboard's rollups: small tables of counts kept in the transaction of each change that
//! feeds them (`store::stats`), so that a statistic over a year of cases reads a few thousand
//! rows instead of millions of events. Days are the centre's local dates; `beebox stats
//! rebuild` recomputes every table from the events and decisions.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // First submissions per local day and hour.
        manager
            .create_table(
                Table::create()
                    .table(StatsFilings::Table)
                    .col(date(StatsFilings::Day))
                    .col(small_integer(StatsFilings::Hour))
                    .col(string_len(StatsFilings::DepartmentCode, 64))
                    .col(string_len(StatsFilings::MatterCode, 64))
                    .col(big_integer(StatsFilings::Count))
                    .primary_key(
                        Index::create()
                            .col(StatsFilings::Day)
                            .col(StatsFilings::Hour)
                            .col(StatsFilings::DepartmentCode)
                            .col(StatsFilings::MatterCode),
                    )
                    .to_owned(),
            )
            .await?;
        // Stage durations per local day of the stage's end, in log-spaced buckets.
        manager
            .create_table(
                Table::create()
                    .table(StatsStages::Table)
                    .col(date(StatsStages::Day))
                    .col(string_len(StatsStages::DepartmentCode, 64))
                    .col(small_integer(StatsStages::Stage))
                    .col(small_integer(StatsStages::Bucket))
                    .col(big_integer(StatsStages::Count))
                    .col(big_integer(StatsStages::Seconds))
                    .primary_key(
                        Index::create()
                            .col(StatsStages::Day)
                            .col(StatsStages::DepartmentCode)
                            .col(StatsStages::Stage)
                            .col(StatsStages::Bucket),
                    )
                    .to_owned(),
            )
            .await?;
        // Pre-review decisions that covered a material, and returns of it.
        manager
            .create_table(
                Table::create()
                    .table(StatsMaterials::Table)
                    .col(date(StatsMaterials::Day))
                    .col(string_len(StatsMaterials::DepartmentCode, 64))
                    .col(string_len(StatsMaterials::MatterCode, 64))
                    .col(string_len(StatsMaterials::MaterialCode, 64))
                    .col(big_integer(StatsMaterials::Decisions))
                    .col(big_integer(StatsMaterials::Returns))
                    .primary_key(
                        Index::create()
                            .col(StatsMaterials::Day)
                            .col(StatsMaterials::DepartmentCode)
                            .col(StatsMaterials::MatterCode)
                            .col(StatsMaterials::MaterialCode),
                    )
                    .to_owned(),
            )
            .await?;
        // Returns of a material per reason (its text, trimmed and cut to 200 characters).
        manager
            .create_table(
                Table::create()
                    .table(StatsReturnReasons::Table)
                    .col(date(StatsReturnReasons::Day))
                    .col(string_len(StatsReturnReasons::DepartmentCode, 64))
                    .col(string_len(StatsReturnReasons::MatterCode, 64))
                    .col(string_len(StatsReturnReasons::MaterialCode, 64))
                    .col(string_len(StatsReturnReasons::Reason, 800))
                    .col(big_integer(StatsReturnReasons::Count))
                    .primary_key(
                        Index::create()
                            .col(StatsReturnReasons::Day)
                            .col(StatsReturnReasons::DepartmentCode)
                            .col(StatsReturnReasons::MatterCode)
                            .col(StatsReturnReasons::MaterialCode)
                            .col(StatsReturnReasons::Reason),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            StatsReturnReasons::Table.into_iden(),
            StatsMaterials::Table.into_iden(),
            StatsStages::Table.into_iden(),
            StatsFilings::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum StatsFilings {
    Table,
    Day,
    Hour,
    DepartmentCode,
    MatterCode,
    Count,
}

#[derive(DeriveIden)]
enum StatsStages {
    Table,
    Day,
    DepartmentCode,
    Stage,
    Bucket,
    Count,
    Seconds,
}

#[derive(DeriveIden)]
enum StatsMaterials {
    Table,
    Day,
    DepartmentCode,
    MatterCode,
    MaterialCode,
    Decisions,
    Returns,
}

#[derive(DeriveIden)]
enum StatsReturnReasons {
    Table,
    Day,
    DepartmentCode,
    MatterCode,
    MaterialCode,
    Reason,
    Count,
}
