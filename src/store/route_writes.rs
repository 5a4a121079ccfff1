//! The writes of an ingest: its new route events and the tracking they make of their shipments.
//! On PostgreSQL both go in one statement, so a batch of pushes spends one round trip of its
//! transaction on them rather than two; on SQLite a statement costs no round trip, and they go
//! one after the other. Callers hold the shipments' row locks.

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, QueryFilter, Statement,
    TryInsertResult,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::store::shipments::{Tracking, route_event, shipment};

/// Rows per multi-row INSERT on SQLite: 13 columns each stays well inside its 32,766 bind
/// parameters.
const INSERT_CHUNK: usize = 500;

/// What `store` wrote.
#[derive(Debug, Default)]
pub struct Stored {
    /// The rows not stored, their partner event id being stored already: the replays.
    pub replays: HashSet<Uuid>,
    /// The shipments whose tracking was written.
    pub tracked: HashSet<Uuid>,
}

/// Stores `rows`, each unless an event with its partner event id is stored already (earlier, or
/// earlier in `rows`), and records each shipment's new tracking as read at its `version`. The
/// tracking was folded as if every row were new, so it is written only for a shipment none of
/// whose rows is a replay; the caller folds the others again and writes them with another call,
/// without rows. A shipment missing from `tracked` for any other reason was changed meanwhile.
pub async fn store<C: ConnectionTrait>(
    db: &C,
    rows: &[&route_event::Model],
    trackings: &[(&shipment::Model, &Tracking)],
) -> Result<Stored, DbErr> {
    if rows.is_empty() && trackings.is_empty() {
        return Ok(Stored::default());
    }
    if db.get_database_backend() != DatabaseBackend::Postgres {
        let replays = insert_events(db, rows).await?;
        let mut tracked = HashSet::new();
        for (row, tracking) in trackings {
            let replayed = rows
                .iter()
                .any(|e| e.shipment_id == Some(row.id) && replays.contains(&e.id));
            if !replayed && set_tracking(db, row, tracking).await? {
                tracked.insert(row.id);
            }
        }
        return Ok(Stored { replays, tracked });
    }
    // Rows and trackings as JSON parameters: one statement text (and prepared plan) whatever the
    // counts. The events go in partner event id order (bytewise, as Rust sorts them), so that
    // concurrent ingests take their unique-key slots alike.
    let sql = r#"
        WITH v AS (
            SELECT * FROM json_to_recordset($1::json) AS v(id uuid, partner text,
                partner_event_id text, waybill_no text, shipment_id uuid, op_code text,
                status text, occurred_at timestamptz, location text, description text, raw text,
                applied boolean, received_at timestamptz)
        ), ins AS (
            INSERT INTO shipment_events (id, partner, partner_event_id, waybill_no, shipment_id,
                op_code, status, occurred_at, location, description, raw, applied, received_at)
            SELECT id, partner, partner_event_id, waybill_no, shipment_id, op_code, status,
                occurred_at, location, description, raw, applied, received_at
            FROM v ORDER BY partner_event_id COLLATE "C"
            ON CONFLICT (partner, partner_event_id) DO NOTHING
            RETURNING id
        ), upd AS (
            UPDATE shipments AS s SET status = t.status, last_op_code = t.last_op_code,
                last_event_at = t.last_event_at, delivered_at = t.delivered_at,
                forward_rank = t.forward_rank, forward_at = t.forward_at,
                side_status = t.side_status, side_at = t.side_at,
                version = s.version + 1, updated_at = $3
            FROM json_to_recordset($2::json) AS t(id uuid, version integer, status text,
                last_op_code text, last_event_at timestamptz, delivered_at timestamptz,
                forward_rank integer, forward_at timestamptz, side_status text,
                side_at timestamptz)
            WHERE s.id = t.id AND s.version = t.version AND NOT EXISTS (
                SELECT 1 FROM v WHERE v.shipment_id = t.id AND v.id NOT IN (SELECT id FROM ins))
            RETURNING s.id
        )
        SELECT id, true AS event FROM ins UNION ALL SELECT id, false FROM upd"#;
    let events: Vec<Value> = rows.iter().map(|row| event_json(row)).collect();
    let statement = Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        sql,
        [
            Value::Array(events).to_string().into(),
            trackings_json(trackings).into(),
            Utc::now().into(),
        ],
    );
    let mut stored = Stored {
        replays: rows.iter().map(|row| row.id).collect(),
        tracked: HashSet::new(),
    };
    for row in db.query_all_raw(statement).await? {
        let id: Uuid = row.try_get("", "id")?;
        if row.try_get::<bool>("", "event")? {
            stored.replays.remove(&id);
        } else {
            stored.tracked.insert(id);
        }
    }
    Ok(stored)
}

/// Records `tracking` on the shipment as read at `row.version`. Zero rows means someone else
/// changed it meanwhile: a conflict, never a success.
async fn set_tracking<C: ConnectionTrait>(
    db: &C,
    row: &shipment::Model,
    tracking: &Tracking,
) -> Result<bool, DbErr> {
    let result = shipment::Entity::update_many()
        .col_expr(
            shipment::Column::Status,
            Expr::value(tracking.status.as_str()),
        )
        .col_expr(
            shipment::Column::LastOpCode,
            Expr::value(tracking.last_op_code.clone()),
        )
        .col_expr(
            shipment::Column::LastEventAt,
            Expr::value(tracking.last_event_at),
        )
        .col_expr(
            shipment::Column::DeliveredAt,
            Expr::value(tracking.delivered_at),
        )
        .col_expr(
            shipment::Column::ForwardRank,
            Expr::value(tracking.forward.map(|(rank, _)| rank)),
        )
        .col_expr(
            shipment::Column::ForwardAt,
            Expr::value(tracking.forward.map(|(_, at)| at)),
        )
        .col_expr(
            shipment::Column::SideStatus,
            Expr::value(tracking.side.map(|(status, _)| status.as_str())),
        )
        .col_expr(
            shipment::Column::SideAt,
            Expr::value(tracking.side.map(|(_, at)| at)),
        )
        .col_expr(shipment::Column::Version, Expr::value(row.version + 1))
        .col_expr(shipment::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(shipment::Column::Id.eq(row.id))
        .filter(shipment::Column::Version.eq(row.version))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Stores route events as `store` does, without any tracking (SQLite).
async fn insert_events<C: ConnectionTrait>(
    db: &C,
    rows: &[&route_event::Model],
) -> Result<HashSet<Uuid>, DbErr> {
    let mut replays: HashSet<Uuid> = rows.iter().map(|row| row.id).collect();
    for chunk in rows.chunks(INSERT_CHUNK) {
        let inserted = route_event::Entity::insert_many(
            chunk
                .iter()
                .map(|row| route_event::ActiveModel::from((*row).clone())),
        )
        .on_conflict(
            OnConflict::columns([
                route_event::Column::Partner,
                route_event::Column::PartnerEventId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .try_insert()
        .exec_with_returning_keys(db)
        .await?;
        if let TryInsertResult::Inserted(ids) = inserted {
            for id in ids {
                replays.remove(&id);
            }
        }
    }
    Ok(replays)
}

/// Times go at microseconds, truncated, as sqlx binds them.
fn micros(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true))
}

fn event_json(row: &route_event::Model) -> Value {
    json!({
        "id": row.id,
        "partner": row.partner,
        "partner_event_id": row.partner_event_id,
        "waybill_no": row.waybill_no,
        "shipment_id": row.shipment_id,
        "op_code": row.op_code,
        "status": row.status,
        "occurred_at": micros(Some(row.occurred_at)),
        "location": row.location,
        "description": row.description,
        "raw": row.raw,
        "applied": row.applied,
        "received_at": micros(Some(row.received_at)),
    })
}

/// The rows as one JSON parameter, with nulls where an array parameter could not carry them.
fn trackings_json(rows: &[(&shipment::Model, &Tracking)]) -> String {
    let rows: Vec<Value> = rows
        .iter()
        .map(|(row, t)| {
            json!({
                "id": row.id,
                "version": row.version,
                "status": t.status.as_str(),
                "last_op_code": t.last_op_code,
                "last_event_at": micros(t.last_event_at),
                "delivered_at": micros(t.delivered_at),
                "forward_rank": t.forward.map(|(rank, _)| rank),
                "forward_at": micros(t.forward.map(|(_, at)| at)),
                "side_status": t.side.map(|(status, _)| status.as_str()),
                "side_at": micros(t.side.map(|(_, at)| at)),
            })
        })
        .collect();
    Value::Array(rows).to_string()
}
