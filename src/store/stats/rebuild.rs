//! `beebox stats rebuild`: recomputes every rollup from the events and decisions, for the data
//! written before the rollups existed, or after `local_utc_offset` changed. It reads the events
//! in case order and folds them by the rules the live writer follows (`domain::stats`), so a
//! rebuild of data written live gives the same rows.
//!
//! One transaction: on PostgreSQL it first locks the rollup tables against writes, so a change
//! committing meanwhile is counted once (it waits for the rebuild and adds to its rows); on
//! SQLite the write transaction holds the database.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use futures_util::TryStreamExt;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, StreamTrait, Value};
use uuid::Uuid;

use super::rollups::{self, DecisionCounts, FILINGS, MATERIALS, REASONS, STAGES, upsert_many};
use crate::domain::application::{Action, ApplicationState};
use crate::domain::stats::{ALL_STAGES, Stage, bucket_of, local_day_hour};
use crate::store::applications::{application, event};
use crate::store::begin_write;
use crate::store::catalog::material;
use crate::store::decisions::decision;

/// What a rebuild read and wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    pub events: u64,
    pub decisions: u64,
    pub rows: u64,
}

/// Rows per INSERT: well under either database's limit on bound values.
const CHUNK: usize = 1000;

type FilingKey = (NaiveDate, i16, String, String);
type StageKey = (NaiveDate, String, i16, i16);
type MaterialKey = (NaiveDate, String, String, String);
type ReasonKey = (NaiveDate, String, String, String, String);

#[derive(Default)]
struct Tally {
    filings: HashMap<FilingKey, i64>,
    stages: HashMap<StageKey, (i64, i64)>,
    materials: HashMap<MaterialKey, (i64, i64)>,
    reasons: HashMap<ReasonKey, i64>,
}

pub async fn rebuild(db: &DatabaseConnection, offset: FixedOffset) -> Result<Rebuilt, DbErr> {
    let txn = begin_write(db).await?;
    if db.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_unprepared(&format!(
            "LOCK TABLE {FILINGS}, {STAGES}, {MATERIALS}, {REASONS} IN EXCLUSIVE MODE"
        ))
        .await?;
    }
    let mut tally = Tally::default();
    let events = fold_events(&txn, offset, &mut tally).await?;
    let decisions = fold_decisions(&txn, offset, &mut tally).await?;
    for table in [FILINGS, STAGES, MATERIALS, REASONS] {
        txn.execute(&Query::delete().from_table(Alias::new(table)).to_owned())
            .await?;
    }
    let rows = write(&txn, tally).await?;
    txn.commit().await?;
    Ok(Rebuilt {
        events,
        decisions,
        rows,
    })
}

/// The actions any rule reads: first submissions, stage ends and stage starts.
fn relevant_actions() -> Vec<&'static str> {
    crate::domain::application::ALL_ACTIONS
        .into_iter()
        .filter(|a| {
            *a == Action::Submit
                || Stage::ended_by(*a, Some(ApplicationState::ResultInDelivery)).is_some()
                || ALL_STAGES.iter().any(|s| s.started_by().contains(a))
        })
        .map(Action::as_str)
        .collect()
}

async fn fold_events<C: ConnectionTrait + StreamTrait>(
    db: &C,
    offset: FixedOffset,
    tally: &mut Tally,
) -> Result<u64, DbErr> {
    use application::Column as A;
    use event::Column as E;
    let select = Query::select()
        .column((event::Entity, E::ApplicationId))
        .column((event::Entity, E::Action))
        .column((event::Entity, E::FromState))
        .column((event::Entity, E::CreatedAt))
        .column((application::Entity, A::DepartmentCode))
        .column((application::Entity, A::MatterCode))
        .from(event::Entity)
        .inner_join(
            application::Entity,
            Expr::col((application::Entity, A::Id)).equals((event::Entity, E::ApplicationId)),
        )
        .and_where(Expr::col((event::Entity, E::Action)).is_in(relevant_actions()))
        .order_by((event::Entity, E::ApplicationId), Order::Asc)
        .order_by((event::Entity, E::CreatedAt), Order::Asc)
        .order_by((event::Entity, E::Id), Order::Asc)
        .to_owned();
    let mut stream = Box::pin(db.stream(&select).await?);
    let mut current: Option<Uuid> = None;
    let mut starts: HashMap<Action, DateTime<Utc>> = HashMap::new();
    let mut read = 0;
    while let Some(row) = stream.try_next().await? {
        read += 1;
        let id: Uuid = row.try_get("", "application_id")?;
        if current != Some(id) {
            current = Some(id);
            starts.clear();
        }
        let action: String = row.try_get("", "action")?;
        let Some(action) = Action::parse(&action) else {
            continue;
        };
        let from: Option<String> = row.try_get("", "from_state")?;
        let from = from.as_deref().and_then(ApplicationState::parse);
        let at: DateTime<Utc> = row.try_get("", "created_at")?;
        let department: String = row.try_get("", "department_code")?;
        let (day, hour) = local_day_hour(at, offset);
        if action == Action::Submit {
            let matter: String = row.try_get("", "matter_code")?;
            *tally
                .filings
                .entry((day, hour, department.clone(), matter))
                .or_default() += 1;
        }
        // A change ends a stage with the starts seen before it, then may start the next.
        if let Some(stage) = Stage::ended_by(action, from) {
            let started = stage
                .started_by()
                .iter()
                .filter_map(|a| starts.get(a))
                .max();
            if let Some(started) = started {
                let seconds = (at - *started).num_seconds();
                let entry = tally
                    .stages
                    .entry((day, department, stage.code(), bucket_of(seconds)))
                    .or_default();
                entry.0 += 1;
                entry.1 += Ord::max(seconds, 0);
            }
        }
        starts.insert(action, at);
    }
    Ok(read)
}

async fn fold_decisions<C: ConnectionTrait + StreamTrait>(
    db: &C,
    offset: FixedOffset,
    tally: &mut Tally,
) -> Result<u64, DbErr> {
    use application::Column as A;
    use decision::Column as D;
    // The materials of every item version; a few hundred rows.
    let mut materials: HashMap<Uuid, Vec<String>> = HashMap::new();
    let select = Query::select()
        .column(material::Column::MatterId)
        .column(material::Column::Code)
        .from(material::Entity)
        .to_owned();
    for row in db.query_all(&select).await? {
        materials
            .entry(row.try_get("", "matter_id")?)
            .or_default()
            .push(row.try_get("", "code")?);
    }
    let select = Query::select()
        .column((decision::Entity, D::Outcome))
        .column((decision::Entity, D::Reasons))
        .column((decision::Entity, D::CreatedAt))
        .column((application::Entity, A::DepartmentCode))
        .column((application::Entity, A::MatterCode))
        .column((application::Entity, A::MatterId))
        .from(decision::Entity)
        .inner_join(
            application::Entity,
            Expr::col((application::Entity, A::Id)).equals((decision::Entity, D::ApplicationId)),
        )
        .to_owned();
    let mut stream = Box::pin(db.stream(&select).await?);
    let mut read = 0;
    let none = Vec::new();
    while let Some(row) = stream.try_next().await? {
        read += 1;
        let outcome: String = row.try_get("", "outcome")?;
        let reasons: serde_json::Value = row.try_get("", "reasons")?;
        let at: DateTime<Utc> = row.try_get("", "created_at")?;
        let department: String = row.try_get("", "department_code")?;
        let matter: String = row.try_get("", "matter_code")?;
        let matter_id: Uuid = row.try_get("", "matter_id")?;
        let returned: Vec<(&str, &str)> = if outcome == Action::Return.as_str() {
            reasons
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(|r| Some((r["material_code"].as_str()?, r["reason"].as_str()?)))
                        .collect()
                })
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let counts = DecisionCounts {
            department: &department,
            matter: &matter,
            materials: materials
                .get(&matter_id)
                .unwrap_or(&none)
                .iter()
                .map(String::as_str)
                .collect(),
            returned,
        };
        let (day, _) = local_day_hour(at, offset);
        let (covered, reasons) = counts.tallies();
        for (material, returned) in covered {
            let entry = tally
                .materials
                .entry((
                    day,
                    department.clone(),
                    matter.clone(),
                    material.to_string(),
                ))
                .or_default();
            entry.0 += 1;
            entry.1 += returned;
        }
        for (material, reason) in reasons {
            *tally
                .reasons
                .entry((
                    day,
                    department.clone(),
                    matter.clone(),
                    material.to_string(),
                    reason,
                ))
                .or_default() += 1;
        }
    }
    Ok(read)
}

async fn write<C: ConnectionTrait>(db: &C, tally: Tally) -> Result<u64, DbErr> {
    let mut written = 0;
    let filings: Vec<Vec<Value>> = tally
        .filings
        .into_iter()
        .map(|((day, hour, department, matter), n)| {
            vec![
                day.into(),
                hour.into(),
                department.into(),
                matter.into(),
                n.into(),
            ]
        })
        .collect();
    let stages: Vec<Vec<Value>> = tally
        .stages
        .into_iter()
        .map(|((day, department, stage, bucket), (n, seconds))| {
            vec![
                day.into(),
                department.into(),
                stage.into(),
                bucket.into(),
                n.into(),
                seconds.into(),
            ]
        })
        .collect();
    let materials: Vec<Vec<Value>> = tally
        .materials
        .into_iter()
        .map(|((day, department, matter, material), (d, r))| {
            vec![
                day.into(),
                department.into(),
                matter.into(),
                material.into(),
                d.into(),
                r.into(),
            ]
        })
        .collect();
    let reasons: Vec<Vec<Value>> = tally
        .reasons
        .into_iter()
        .map(|((day, department, matter, material, reason), n)| {
            vec![
                day.into(),
                department.into(),
                matter.into(),
                material.into(),
                reason.into(),
                n.into(),
            ]
        })
        .collect();
    for chunk in filings.chunks(CHUNK) {
        let insert = upsert_many(
            FILINGS,
            &["day", "hour", "department_code", "matter_code"],
            &["count"],
            chunk.to_vec(),
        );
        written += db.execute(&insert).await?.rows_affected();
    }
    for chunk in stages.chunks(CHUNK) {
        let insert = upsert_many(
            STAGES,
            &["day", "department_code", "stage", "bucket"],
            &["count", "seconds"],
            chunk.to_vec(),
        );
        written += db.execute(&insert).await?.rows_affected();
    }
    for chunk in materials.chunks(CHUNK) {
        written += db
            .execute(&rollups::material_rows(chunk.to_vec()))
            .await?
            .rows_affected();
    }
    for chunk in reasons.chunks(CHUNK) {
        written += db
            .execute(&rollups::reason_rows(chunk.to_vec()))
            .await?
            .rows_affected();
    }
    Ok(written)
}
