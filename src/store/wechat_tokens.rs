//! The WeChat access token every instance shares: one row per AppID holding the token
//! (encrypted), its expiry and a refresh lease. Whoever takes the lease with a conditional UPDATE
//! calls WeChat; the others read the row. The token is stored only as ciphertext from
//! `keys.data`; this module never sees it in the clear.

use chrono::{DateTime, Duration, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, Condition};

pub mod wechat_token {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "wechat_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub app_id: String,
        /// The access token, encrypted with `keys.data`; `None` until fetched or once rejected.
        pub token_enc: Option<String>,
        pub expires_at: Option<DateTimeUtc>,
        /// An instance is fetching a new token until then.
        pub refresh_lease_until: Option<DateTimeUtc>,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub async fn find<C: ConnectionTrait>(
    db: &C,
    app_id: &str,
) -> Result<Option<wechat_token::Model>, DbErr> {
    wechat_token::Entity::find_by_id(app_id.to_string())
        .one(db)
        .await
}

/// Takes the refresh lease until `now + lease` unless another instance holds a live one.
/// Exactly one of several instances racing here gets `true`.
pub async fn try_lease<C: ConnectionTrait>(
    db: &C,
    app_id: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<bool, DbErr> {
    // The row may not exist yet: create it empty, leaving an existing one alone, so that the
    // UPDATE below is the only place the race is decided.
    wechat_token::Entity::insert(wechat_token::ActiveModel {
        app_id: Set(app_id.to_string()),
        token_enc: Set(None),
        expires_at: Set(None),
        refresh_lease_until: Set(None),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(wechat_token::Column::AppId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    let result = wechat_token::Entity::update_many()
        .col_expr(
            wechat_token::Column::RefreshLeaseUntil,
            Expr::value(now + lease),
        )
        .filter(wechat_token::Column::AppId.eq(app_id))
        .filter(
            Condition::any()
                .add(wechat_token::Column::RefreshLeaseUntil.is_null())
                .add(wechat_token::Column::RefreshLeaseUntil.lt(now)),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Gives up the lease without a new token (the fetch failed), so others need not wait it out.
pub async fn release_lease<C: ConnectionTrait>(db: &C, app_id: &str) -> Result<(), DbErr> {
    wechat_token::Entity::update_many()
        .col_expr(
            wechat_token::Column::RefreshLeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(wechat_token::Column::AppId.eq(app_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Stores a freshly fetched token (already encrypted) and ends the lease.
pub async fn store<C: ConnectionTrait>(
    db: &C,
    app_id: &str,
    token_enc: String,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    wechat_token::Entity::insert(wechat_token::ActiveModel {
        app_id: Set(app_id.to_string()),
        token_enc: Set(Some(token_enc)),
        expires_at: Set(Some(expires_at)),
        refresh_lease_until: Set(None),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(wechat_token::Column::AppId)
            .update_columns([
                wechat_token::Column::TokenEnc,
                wechat_token::Column::ExpiresAt,
                wechat_token::Column::RefreshLeaseUntil,
                wechat_token::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Forgets the token WeChat rejected, but only if the row still holds the very ciphertext the
/// caller read: every encryption uses a fresh nonce, so a token another instance stored since
/// has a different ciphertext and survives. Returns whether it was cleared.
pub async fn invalidate<C: ConnectionTrait>(
    db: &C,
    app_id: &str,
    token_enc_seen: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = wechat_token::Entity::update_many()
        .col_expr(
            wechat_token::Column::TokenEnc,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            wechat_token::Column::ExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(wechat_token::Column::UpdatedAt, Expr::value(now))
        .filter(wechat_token::Column::AppId.eq(app_id))
        .filter(wechat_token::Column::TokenEnc.eq(token_enc_seen))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}
