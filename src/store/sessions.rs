//! Refresh-token families. Each login starts a family; each refresh marks the presented token
//! used and adds its successor. Presenting a used token again means it leaked: the whole family
//! is revoked.

use chrono::{DateTime, Duration, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, DatabaseConnection, DatabaseTransaction, QuerySelect};
use uuid::Uuid;

use crate::domain::subject::SubjectKind;
use crate::store::begin_write;

pub mod refresh_token {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "refresh_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub family_id: Uuid,
        pub subject_kind: String,
        pub subject_id: Uuid,
        pub token_hash: String,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        pub used_at: Option<DateTimeUtc>,
        pub revoked_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[derive(Debug, PartialEq, Eq)]
pub enum RotateError {
    /// Unknown, expired or revoked.
    Invalid,
    /// Already rotated: the family has now been revoked.
    Reused,
}

/// Who a rotated token belonged to, and its session.
pub struct Rotated {
    pub subject_kind: String,
    pub subject_id: Uuid,
    pub family_id: Uuid,
}

/// Stores the first token of a new family; returns the family (the session's id).
pub async fn start_family(
    db: &DatabaseConnection,
    kind: SubjectKind,
    subject_id: Uuid,
    token_hash: String,
    ttl_secs: u64,
) -> Result<Uuid, DbErr> {
    let family = Uuid::now_v7();
    insert(db, family, kind.as_str(), subject_id, token_hash, ttl_secs).await?;
    Ok(family)
}

async fn insert<C: ConnectionTrait>(
    db: &C,
    family_id: Uuid,
    kind: &str,
    subject_id: Uuid,
    token_hash: String,
    ttl_secs: u64,
) -> Result<(), DbErr> {
    let now = Utc::now();
    refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        family_id: Set(family_id),
        subject_kind: Set(kind.to_string()),
        subject_id: Set(subject_id),
        token_hash: Set(token_hash),
        created_at: Set(now),
        expires_at: Set(now + Duration::seconds(ttl_secs as i64)),
        used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Marks the token with `presented_hash` used and stores `next_hash` in its family. The update
/// is conditional on the token still being unused, so two concurrent refreshes cannot both win.
pub async fn rotate(
    db: &DatabaseConnection,
    presented_hash: &str,
    next_hash: String,
    ttl_secs: u64,
) -> Result<Result<Rotated, RotateError>, DbErr> {
    let txn = begin_write(db).await?;
    let Some(token) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(presented_hash))
        .one(&txn)
        .await?
    else {
        return Ok(Err(RotateError::Invalid));
    };
    let now = Utc::now();
    if token.revoked_at.is_some() || token.expires_at <= now {
        return Ok(Err(RotateError::Invalid));
    }
    let claimed = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(token.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected == 0 {
        revoke_family_in(&txn, token.family_id, now).await?;
        txn.commit().await?;
        tracing::warn!(family = %token.family_id, "refresh token reused; family revoked");
        return Ok(Err(RotateError::Reused));
    }
    insert(
        &txn,
        token.family_id,
        &token.subject_kind,
        token.subject_id,
        next_hash,
        ttl_secs,
    )
    .await?;
    txn.commit().await?;
    Ok(Ok(Rotated {
        subject_kind: token.subject_kind,
        subject_id: token.subject_id,
        family_id: token.family_id,
    }))
}

/// Revokes the family of the token with `hash`. Returns false when no such token exists.
pub async fn revoke_by_token(db: &DatabaseConnection, hash: &str) -> Result<bool, DbErr> {
    let Some(token) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash))
        .one(db)
        .await?
    else {
        return Ok(false);
    };
    let txn = begin_write(db).await?;
    revoke_family_in(&txn, token.family_id, Utc::now()).await?;
    txn.commit().await?;
    Ok(true)
}

/// Revokes every live token of a subject (e.g. a disabled staff member).
pub async fn revoke_subject<C: ConnectionTrait>(db: &C, subject_id: Uuid) -> Result<(), DbErr> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::SubjectId.eq(subject_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// The families revoked after `since` (one range read of `refresh_tokens_revoked_at_idx`).
pub async fn revoked_since(
    db: &DatabaseConnection,
    since: DateTime<Utc>,
) -> Result<Vec<Uuid>, DbErr> {
    refresh_token::Entity::find()
        .select_only()
        .column(refresh_token::Column::FamilyId)
        .distinct()
        .filter(refresh_token::Column::RevokedAt.gt(since))
        .into_tuple()
        .all(db)
        .await
}

async fn revoke_family_in(
    txn: &DatabaseTransaction,
    family_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(txn)
        .await?;
    Ok(())
}
