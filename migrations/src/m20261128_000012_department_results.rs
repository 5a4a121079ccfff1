//! The department's side: its decisions, the result files it issues (scans of the licence or
//! certificate, stored like pages), the citizen's receipt of a posted result, and what each item
//! does with originals that do not match their photos.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DepartmentDecisions::Table)
                    .col(pk_uuid(DepartmentDecisions::Id))
                    .col(uuid(DepartmentDecisions::ApplicationId))
                    .col(uuid(DepartmentDecisions::ApproverId))
                    .col(string_len(DepartmentDecisions::Outcome, 16))
                    .col(text_null(DepartmentDecisions::Note))
                    .col(timestamp_with_time_zone(DepartmentDecisions::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                DepartmentDecisions::Table,
                                DepartmentDecisions::ApplicationId,
                            )
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One decision per case: a second one (a retry, or two approvers at once) meets this.
        manager
            .create_index(
                Index::create()
                    .name("department_decisions_application_idx")
                    .table(DepartmentDecisions::Table)
                    .col(DepartmentDecisions::ApplicationId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ResultFiles::Table)
                    .col(pk_uuid(ResultFiles::Id))
                    .col(uuid(ResultFiles::ApplicationId))
                    .col(uuid(ResultFiles::UploadedBy))
                    .col(string_len(ResultFiles::ObjectKey, 512))
                    .col(string_len(ResultFiles::ContentType, 64))
                    .col(big_integer(ResultFiles::Size))
                    .col(string_len(ResultFiles::Sha256, 64))
                    .col(integer_null(ResultFiles::Width))
                    .col(integer_null(ResultFiles::Height))
                    .col(string_len_null(ResultFiles::OriginalName, 255))
                    .col(timestamp_with_time_zone(ResultFiles::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ResultFiles::Table, ResultFiles::ApplicationId)
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("result_files_application_sha_idx")
                    .table(ResultFiles::Table)
                    .col(ResultFiles::ApplicationId)
                    .col(ResultFiles::Sha256)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Matters::Table)
                    .add_column(string_len_null(Matters::OriginalsOnMismatch, 16))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .add_column(timestamp_with_time_zone_null(
                        Applications::ReceiptConfirmedAt,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Matters::Table)
                    .drop_column(Matters::OriginalsOnMismatch)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .drop_column(Applications::ReceiptConfirmedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(ResultFiles::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(DepartmentDecisions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum DepartmentDecisions {
    Table,
    Id,
    ApplicationId,
    ApproverId,
    Outcome,
    Note,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ResultFiles {
    Table,
    Id,
    ApplicationId,
    UploadedBy,
    ObjectKey,
    ContentType,
    Size,
    Sha256,
    Width,
    Height,
    OriginalName,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Matters {
    Table,
    OriginalsOnMismatch,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
    ReceiptConfirmedAt,
}
