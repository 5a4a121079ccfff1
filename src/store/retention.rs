//! The rows of retention: which ended cases are due, taking their pages and result files,
//! blanking their personal fields, legal holds, and the record of what was destroyed.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{ActiveValue::Set, DatabaseBackend, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::applications::application;
use super::department::result_file;
use super::pages::page;
use super::shipments::shipment;
use crate::domain::application::ApplicationState;

pub mod destruction {
    use sea_orm::entity::prelude::*;

    /// One destruction of one part of a case (or of a deleted account's wallet).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "destructions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// `None` for the wallet of a deleted account.
        pub application_id: Option<Uuid>,
        pub citizen_id: Uuid,
        /// `photos`, `results`, `personal` or `wallet`.
        pub part: String,
        /// `retention` or `account_deleted`.
        pub reason: String,
        /// Objects given to the delete job.
        pub objects: i32,
        /// The fields blanked, comma-separated (personal), or the rows removed (photos: `pages`).
        pub fields: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The states a case ends in; nothing moves it on from them.
pub const ENDED: [ApplicationState; 4] = [
    ApplicationState::Completed,
    ApplicationState::Rejected,
    ApplicationState::Refused,
    ApplicationState::Cancelled,
];

/// The states a case waits in for its citizen, where it can be abandoned.
pub const WAITING_ON_CITIZEN: [ApplicationState; 2] =
    [ApplicationState::Draft, ApplicationState::Returned];

/// A part of a case that retention destroys on its own date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Photos,
    Results,
    Personal,
}

impl Part {
    pub const ALL: [Part; 3] = [Part::Photos, Part::Results, Part::Personal];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Photos => "photos",
            Self::Results => "results",
            Self::Personal => "personal",
        }
    }

    fn column(self) -> application::Column {
        match self {
            Self::Photos => application::Column::PhotosDestroyedAt,
            Self::Results => application::Column::ResultsDestroyedAt,
            Self::Personal => application::Column::PersonalDestroyedAt,
        }
    }
}

/// The personal fields of a case, as blanked (recorded in `destructions.fields`).
pub const PERSONAL_FIELDS: &str = "applicant_name,applicant_phone,applicant_id_number,\
applicant_email,return_address,note,shipment_contacts,file_names";

/// A case due for destruction, as the job reads it.
#[derive(Debug, Clone, Copy, sea_orm::FromQueryResult)]
pub struct EndedCase {
    pub id: Uuid,
    pub citizen_id: Uuid,
}

fn states(list: &[ApplicationState]) -> Vec<&'static str> {
    list.iter().map(|s| s.as_str()).collect()
}

/// Up to `limit` cases of item `code` that ended before `before`, not held, whose `part` is
/// still there: oldest first, and on PostgreSQL locked (skipping rows another run holds).
pub async fn due<C: ConnectionTrait>(
    db: &C,
    code: &str,
    part: Part,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<EndedCase>, DbErr> {
    let mut query = application::Entity::find()
        .select_only()
        .column(application::Column::Id)
        .column(application::Column::CitizenId)
        .filter(application::Column::MatterCode.eq(code))
        .filter(application::Column::State.is_in(states(&ENDED)))
        .filter(application::Column::UpdatedAt.lt(before))
        .filter(application::Column::HeldAt.is_null())
        .filter(part.column().is_null())
        .order_by_asc(application::Column::UpdatedAt)
        .limit(limit);
    if db.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    query.into_model::<EndedCase>().all(db).await
}

/// Up to `limit` drafts and returned cases of item `code` untouched since `before`, not held.
pub async fn abandoned<C: ConnectionTrait>(
    db: &C,
    code: &str,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<application::Model>, DbErr> {
    application::Entity::find()
        .filter(application::Column::MatterCode.eq(code))
        .filter(application::Column::State.is_in(states(&WAITING_ON_CITIZEN)))
        .filter(application::Column::UpdatedAt.lt(before))
        .filter(application::Column::HeldAt.is_null())
        .order_by_asc(application::Column::UpdatedAt)
        .limit(limit)
        .all(db)
        .await
}

/// Removes the pages of `ids`; returns the keys of their objects and thumbnails, each with
/// its case.
pub async fn take_pages<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, String)>, DbErr> {
    let rows: Vec<(Uuid, String, Option<String>)> = page::Entity::find()
        .select_only()
        .column(page::Column::ApplicationId)
        .column(page::Column::ObjectKey)
        .column(page::Column::ThumbnailKey)
        .filter(page::Column::ApplicationId.is_in(ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    page::Entity::delete_many()
        .filter(page::Column::ApplicationId.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(rows
        .into_iter()
        .flat_map(|(id, object, thumbnail)| {
            std::iter::once((id, object)).chain(thumbnail.map(|t| (id, t)))
        })
        .collect())
}

/// Removes the result files of `ids`; returns their keys, each with its case.
pub async fn take_results<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, String)>, DbErr> {
    let keys: Vec<(Uuid, String)> = result_file::Entity::find()
        .select_only()
        .column(result_file::Column::ApplicationId)
        .column(result_file::Column::ObjectKey)
        .filter(result_file::Column::ApplicationId.is_in(ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    result_file::Entity::delete_many()
        .filter(result_file::Column::ApplicationId.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(keys)
}

/// Blanks the personal fields of `ids`: the applicant's name, phone, ID number, email, return
/// address and note, the contacts of their shipments, and the file names of their pages and
/// result files. The case's state, item, dates, events and audit rows stay.
pub async fn blank_personal<C: ConnectionTrait>(db: &C, ids: &[Uuid]) -> Result<(), DbErr> {
    let none: Option<String> = None;
    application::Entity::update_many()
        .col_expr(application::Column::ApplicantName, Expr::value(""))
        .col_expr(application::Column::ApplicantPhone, Expr::value(""))
        .col_expr(
            application::Column::ApplicantIdNumberEnc,
            Expr::value(none.clone()),
        )
        .col_expr(
            application::Column::ApplicantIdNumberMasked,
            Expr::value(none.clone()),
        )
        .col_expr(
            application::Column::ApplicantEmail,
            Expr::value(none.clone()),
        )
        .col_expr(
            application::Column::ReturnAddress,
            Expr::value(Option::<serde_json::Value>::None),
        )
        .col_expr(application::Column::Note, Expr::value(none.clone()))
        .filter(application::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    // A contact that still reads as one, so nothing that lists shipments trips over it.
    let blank = r#"{"name":"","phone":"","province":"","city":"","district":"","detail":""}"#;
    shipment::Entity::update_many()
        .col_expr(shipment::Column::Sender, Expr::value(blank))
        .col_expr(shipment::Column::Recipient, Expr::value(blank))
        .filter(shipment::Column::ApplicationId.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    page::Entity::update_many()
        .col_expr(page::Column::OriginalName, Expr::value(none.clone()))
        .filter(page::Column::ApplicationId.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    result_file::Entity::update_many()
        .col_expr(result_file::Column::OriginalName, Expr::value(none))
        .filter(result_file::Column::ApplicationId.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

/// Marks `part` of `ids` destroyed at `now`. The case's `updated_at` stays: it is when the
/// case ended, which the other parts' dates count from.
pub async fn mark<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
    part: Part,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    application::Entity::update_many()
        .col_expr(part.column(), Expr::value(now))
        .filter(application::Column::Id.is_in(ids.iter().copied()))
        .filter(part.column().is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// A destruction record, ready to insert.
pub fn record(
    application_id: Option<Uuid>,
    citizen_id: Uuid,
    part: &str,
    reason: &str,
    objects: usize,
    fields: &str,
    now: DateTime<Utc>,
) -> destruction::ActiveModel {
    destruction::ActiveModel {
        id: Set(Uuid::now_v7()),
        application_id: Set(application_id),
        citizen_id: Set(citizen_id),
        part: Set(part.to_string()),
        reason: Set(reason.to_string()),
        objects: Set(i32::try_from(objects).unwrap_or(i32::MAX)),
        fields: Set(fields.to_string()),
        created_at: Set(now),
    }
}

pub async fn insert_records<C: ConnectionTrait>(
    db: &C,
    records: Vec<destruction::ActiveModel>,
) -> Result<(), DbErr> {
    if records.is_empty() {
        return Ok(());
    }
    destruction::Entity::insert_many(records).exec(db).await?;
    Ok(())
}

/// What was destroyed of a case, oldest first.
pub async fn of_application<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> Result<Vec<destruction::Model>, DbErr> {
    destruction::Entity::find()
        .filter(destruction::Column::ApplicationId.eq(id))
        .order_by_asc(destruction::Column::CreatedAt)
        .order_by_asc(destruction::Column::Id)
        .all(db)
        .await
}

/// Puts a legal hold on case `id` (a new reason replaces the old).
pub async fn hold<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    by: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    application::Entity::update_many()
        .col_expr(application::Column::HeldAt, Expr::value(now))
        .col_expr(application::Column::HeldBy, Expr::value(by))
        .col_expr(application::Column::HoldReason, Expr::value(reason))
        .filter(application::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Lifts case `id`'s legal hold; false when it had none.
pub async fn release<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<bool, DbErr> {
    let result = application::Entity::update_many()
        .col_expr(
            application::Column::HeldAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            application::Column::HeldBy,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(
            application::Column::HoldReason,
            Expr::value(Option::<String>::None),
        )
        .filter(application::Column::Id.eq(id))
        .filter(application::Column::HeldAt.is_not_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}
