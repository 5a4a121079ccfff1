//! The citizen's wallet (证照夹): documents verified in one case, reused in others.
//!
//! - `documents`: one verified document of a citizen, from one material of one case, with who
//!   verified it (pre-review, then the department), until when it is valid, and how it ended
//!   (withdrawn by the citizen, invalidated by a reviewer, replaced by a later verification).
//! - `document_pages`: its pages, naming the same stored objects as the case's pages (no copy).
//! - `document_uses`: each time the citizen attached it to a case: their consent for that case
//!   and department.
//! - `pages.document_id`: a page that came from the wallet.

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
                    .table(Documents::Table)
                    .col(pk_uuid(Documents::Id))
                    .col(uuid(Documents::CitizenId))
                    .col(string_len(Documents::DocumentType, 64))
                    .col(uuid(Documents::SourceApplicationId))
                    .col(string_len(Documents::SourceMaterialCode, 64))
                    .col(string_len(Documents::SourceDepartmentCode, 64))
                    .col(uuid(Documents::VerifiedBy))
                    .col(timestamp_with_time_zone(Documents::VerifiedAt))
                    .col(uuid_null(Documents::ConfirmedBy))
                    .col(timestamp_with_time_zone_null(Documents::ConfirmedAt))
                    .col(date_null(Documents::ExpiresOn))
                    .col(integer_null(Documents::ValidDays))
                    .col(timestamp_with_time_zone_null(Documents::ValidUntil))
                    .col(string_len(Documents::State, 16))
                    .col(timestamp_with_time_zone_null(Documents::EndedAt))
                    .col(uuid_null(Documents::EndedBy))
                    .col(text_null(Documents::EndReason))
                    .col(timestamp_with_time_zone(Documents::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Documents::Table, Documents::CitizenId)
                            .to(Citizens::Table, Citizens::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "documents_citizen_type_idx",
                vec![Documents::CitizenId, Documents::DocumentType],
            ),
            (
                "documents_source_idx",
                vec![
                    Documents::SourceApplicationId,
                    Documents::SourceMaterialCode,
                ],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Documents::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(DocumentPages::Table)
                    .col(uuid(DocumentPages::DocumentId))
                    .col(integer(DocumentPages::Position))
                    .col(string_len(DocumentPages::ObjectKey, 512))
                    .col(string_len_null(DocumentPages::ThumbnailKey, 512))
                    .col(string_len(DocumentPages::ContentType, 64))
                    .col(big_integer(DocumentPages::Size))
                    .col(string_len(DocumentPages::Sha256, 64))
                    .col(integer_null(DocumentPages::Width))
                    .col(integer_null(DocumentPages::Height))
                    .primary_key(
                        Index::create()
                            .col(DocumentPages::DocumentId)
                            .col(DocumentPages::Position),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(DocumentPages::Table, DocumentPages::DocumentId)
                            .to(Documents::Table, Documents::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("document_pages_object_idx")
                    .table(DocumentPages::Table)
                    .col(DocumentPages::ObjectKey)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DocumentUses::Table)
                    .col(pk_uuid(DocumentUses::Id))
                    .col(uuid(DocumentUses::DocumentId))
                    .col(uuid(DocumentUses::ApplicationId))
                    .col(string_len(DocumentUses::MaterialCode, 64))
                    .col(string_len(DocumentUses::DepartmentCode, 64))
                    .col(timestamp_with_time_zone(DocumentUses::ConsentedAt))
                    .col(timestamp_with_time_zone_null(DocumentUses::RemovedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DocumentUses::Table, DocumentUses::DocumentId)
                            .to(Documents::Table, Documents::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(DocumentUses::Table, DocumentUses::ApplicationId)
                            .to(Applications::Table, Applications::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("document_uses_document_idx", DocumentUses::DocumentId),
            ("document_uses_application_idx", DocumentUses::ApplicationId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(DocumentUses::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Pages::Table)
                    .add_column(uuid_null(Pages::DocumentId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Pages::Table)
                    .drop_column(Pages::DocumentId)
                    .to_owned(),
            )
            .await?;
        for table in [
            DocumentUses::Table.into_iden(),
            DocumentPages::Table.into_iden(),
            Documents::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
    CitizenId,
    DocumentType,
    SourceApplicationId,
    SourceMaterialCode,
    SourceDepartmentCode,
    VerifiedBy,
    VerifiedAt,
    ConfirmedBy,
    ConfirmedAt,
    ExpiresOn,
    ValidDays,
    ValidUntil,
    State,
    EndedAt,
    EndedBy,
    EndReason,
    CreatedAt,
}

#[derive(DeriveIden)]
enum DocumentPages {
    Table,
    DocumentId,
    Position,
    ObjectKey,
    ThumbnailKey,
    ContentType,
    Size,
    Sha256,
    Width,
    Height,
}

#[derive(DeriveIden)]
enum DocumentUses {
    Table,
    Id,
    DocumentId,
    ApplicationId,
    MaterialCode,
    DepartmentCode,
    ConsentedAt,
    RemovedAt,
}

#[derive(DeriveIden)]
enum Citizens {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Pages {
    Table,
    DocumentId,
}
