//! Pre-review decisions, and the reasons of the latest return, which the citizen reads and which
//! limit the materials they may change.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Decisions::Table)
                    .col(pk_uuid(Decisions::Id))
                    .col(uuid(Decisions::ApplicationId))
                    .col(uuid(Decisions::ReviewerId))
                    .col(string_len(Decisions::Outcome, 16))
                    .col(json(Decisions::Reasons))
                    .col(text_null(Decisions::Note))
                    .col(timestamp_with_time_zone(Decisions::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Decisions::Table, Decisions::ApplicationId)
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("decisions_application_idx")
                    .table(Decisions::Table)
                    .col(Decisions::ApplicationId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .add_column(json_null(Applications::ReturnReasons))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .drop_column(Applications::ReturnReasons)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Decisions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Decisions {
    Table,
    Id,
    ApplicationId,
    ReviewerId,
    Outcome,
    Reasons,
    Note,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
    ReturnReasons,
}
