//! The audit log: append-only (the database refuses updates and deletes), one row per staff
//! action: who, when, from where, what, on what, and how it ended.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};
use uuid::Uuid;

pub mod writer;

pub mod entry {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_log")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub at: DateTimeUtc,
        pub actor_kind: String,
        pub actor_id: Option<Uuid>,
        pub actor_name: Option<String>,
        pub client_ip: Option<String>,
        pub action: String,
        pub target_kind: Option<String>,
        pub target_id: Option<Uuid>,
        pub outcome: String,
        pub detail: Option<String>,
        /// The resident an agent acted for (their citizen account).
        pub on_behalf_of: Option<Uuid>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One audit record, built by the caller.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub actor_kind: &'static str,
    pub actor_id: Option<Uuid>,
    pub actor_name: Option<String>,
    pub client_ip: Option<String>,
    pub action: &'static str,
    pub target_kind: Option<&'static str>,
    pub target_id: Option<Uuid>,
    /// `success`, `failure` or `denied`.
    pub outcome: &'static str,
    pub detail: Option<String>,
    /// The resident an agent acted for.
    pub on_behalf_of: Option<Uuid>,
}

pub async fn append<C: ConnectionTrait>(db: &C, record: Record) -> Result<(), DbErr> {
    append_many(db, vec![record]).await
}

/// An INSERT of `record` naming as its target the `id` of the one row `source` (a `WITH`
/// query's name) yields, or nothing when it yields none: the audit record of a change made in
/// the same statement (`store::claims::claim_next`). `source` must yield at most one row.
pub fn insert_for(
    record: Record,
    source: &str,
) -> Result<sea_orm::sea_query::InsertStatement, DbErr> {
    use sea_orm::sea_query::{Alias, Query};
    let values = Query::select()
        .expr(Expr::val(Uuid::now_v7()))
        .expr(Expr::val(Utc::now()))
        .expr(Expr::val(record.actor_kind))
        .expr(Expr::val(record.actor_id))
        .expr(Expr::val(record.actor_name))
        .expr(Expr::val(record.client_ip))
        .expr(Expr::val(record.action))
        .expr(Expr::val(record.target_kind))
        .expr(Expr::col((Alias::new(source), Alias::new("id"))))
        .expr(Expr::val(record.outcome))
        .expr(Expr::val(record.detail))
        .expr(Expr::val(record.on_behalf_of))
        .from(Alias::new(source))
        .to_owned();
    use entry::Column as C;
    Query::insert()
        .into_table(entry::Entity)
        .columns([
            C::Id,
            C::At,
            C::ActorKind,
            C::ActorId,
            C::ActorName,
            C::ClientIp,
            C::Action,
            C::TargetKind,
            C::TargetId,
            C::Outcome,
            C::Detail,
            C::OnBehalfOf,
        ])
        .select_from(values)
        .map(|insert| insert.to_owned())
        .map_err(|e| DbErr::Custom(e.to_string()))
}

/// Several records in one statement (`writer::AuditWriter` batches concurrent appends so).
pub async fn append_many<C: ConnectionTrait>(db: &C, records: Vec<Record>) -> Result<(), DbErr> {
    if records.is_empty() {
        return Ok(());
    }
    entry::Entity::insert_many(records.into_iter().map(|record| entry::ActiveModel {
        id: Set(Uuid::now_v7()),
        at: Set(Utc::now()),
        actor_kind: Set(record.actor_kind.to_string()),
        actor_id: Set(record.actor_id),
        actor_name: Set(record.actor_name),
        client_ip: Set(record.client_ip),
        action: Set(record.action.to_string()),
        target_kind: Set(record.target_kind.map(str::to_string)),
        target_id: Set(record.target_id),
        outcome: Set(record.outcome.to_string()),
        detail: Set(record.detail),
        on_behalf_of: Set(record.on_behalf_of),
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}

#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub actor_id: Option<Uuid>,
    pub target_id: Option<Uuid>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Entries older than this id (the cursor).
    pub before: Option<Uuid>,
}

/// Newest first.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    filter: &Filter,
    limit: u64,
) -> Result<Vec<entry::Model>, DbErr> {
    let mut query = entry::Entity::find();
    if let Some(actor) = filter.actor_id {
        query = query.filter(entry::Column::ActorId.eq(actor));
    }
    if let Some(target) = filter.target_id {
        query = query.filter(entry::Column::TargetId.eq(target));
    }
    if let Some(action) = &filter.action {
        query = query.filter(entry::Column::Action.eq(action.as_str()));
    }
    if let Some(from) = filter.from {
        query = query.filter(entry::Column::At.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(entry::Column::At.lt(to));
    }
    if let Some(before) = filter.before {
        query = query.filter(entry::Column::Id.lt(before));
    }
    query
        .order_by_desc(entry::Column::Id)
        .limit(limit)
        .all(db)
        .await
}
