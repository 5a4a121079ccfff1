//! The rollup rows a change adds, as upserts that add to a row's counts. State changes hand
//! theirs to `record_change`, which writes them with the change's event (one statement on
//! PostgreSQL); a pre-review decision writes its materials' counts itself. The rebuild goes
//! through the same row builders.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use sea_orm::sea_query::{
    Alias, Expr, ExprTrait, InsertStatement, OnConflict, Order, Query, SimpleExpr,
};
use sea_orm::{ConnectionTrait, DbErr, Value};
use uuid::Uuid;

use crate::domain::application::{Action, ApplicationState};
use crate::domain::stats::{Stage, bucket_of, local_day_hour};
use crate::store::applications::{application, event};

pub(super) const FILINGS: &str = "stats_filings";
pub(super) const STAGES: &str = "stats_stages";
pub(super) const MATERIALS: &str = "stats_materials";
pub(super) const REASONS: &str = "stats_return_reasons";

/// A reason is grouped by its text, trimmed and cut to this many characters.
pub const REASON_CHARS: usize = 200;

/// `INSERT` one row, or add its counts to the row with the same key.
fn upsert(table: &str, keys: Vec<(&str, Value)>, counts: Vec<(&str, i64)>) -> InsertStatement {
    let key_columns: Vec<&str> = keys.iter().map(|(c, _)| *c).collect();
    let count_columns: Vec<&str> = counts.iter().map(|(c, _)| *c).collect();
    let row = keys
        .into_iter()
        .map(|(_, v)| v)
        .chain(counts.into_iter().map(|(_, n)| Value::from(n)))
        .collect();
    upsert_many(table, &key_columns, &count_columns, vec![row])
}

/// `INSERT` rows of `keys` then `counts` columns, each added to an existing row's counts.
pub(super) fn upsert_many(
    table: &str,
    keys: &[&str],
    counts: &[&str],
    rows: Vec<Vec<Value>>,
) -> InsertStatement {
    let table_name = Alias::new(table);
    let mut insert = Query::insert();
    insert
        .into_table(table_name.clone())
        .columns(keys.iter().chain(counts).map(|c| Alias::new(*c)));
    for row in rows {
        insert.values_panic(row.into_iter().map(SimpleExpr::from));
    }
    let mut on_conflict = OnConflict::columns(keys.iter().map(|c| Alias::new(*c)));
    for column in counts {
        on_conflict.value(
            Alias::new(*column),
            Expr::col((table_name.clone(), Alias::new(*column)))
                .add(Expr::col((Alias::new("excluded"), Alias::new(*column)))),
        );
    }
    insert.on_conflict(on_conflict.to_owned());
    insert
}

pub(super) fn filing_row(
    day: NaiveDate,
    hour: i16,
    department: &str,
    matter: &str,
    count: i64,
) -> InsertStatement {
    upsert(
        FILINGS,
        vec![
            ("day", day.into()),
            ("hour", hour.into()),
            ("department_code", department.into()),
            ("matter_code", matter.into()),
        ],
        vec![("count", count)],
    )
}

pub(super) fn stage_row(
    day: NaiveDate,
    department: &str,
    stage: Stage,
    seconds: i64,
) -> InsertStatement {
    upsert(
        STAGES,
        vec![
            ("day", day.into()),
            ("department_code", department.into()),
            ("stage", stage.code().into()),
            ("bucket", bucket_of(seconds).into()),
        ],
        vec![("count", 1), ("seconds", Ord::max(seconds, 0))],
    )
}

/// The rows a state change of `app` adds: its first submission's filing, the duration of the
/// stage it ends. `app` is the case as read before the change (or as moved, for the service's
/// own moves: the columns read here do not change). Reads the event that started the stage.
pub async fn for_change<C: ConnectionTrait>(
    db: &C,
    app: &application::Model,
    from: Option<ApplicationState>,
    action: Action,
    now: DateTime<Utc>,
    offset: FixedOffset,
) -> Result<Vec<InsertStatement>, DbErr> {
    let mut rows = Vec::new();
    let (day, hour) = local_day_hour(now, offset);
    if action == Action::Submit {
        rows.push(filing_row(
            day,
            hour,
            &app.department_code,
            &app.matter_code,
            1,
        ));
    }
    if let Some(stage) = Stage::ended_by(action, from) {
        let started = match stage {
            // The latest (re)submission, kept on the row.
            Stage::Prereview => app.submitted_at,
            _ => stage_start(db, app.id, stage).await?,
        };
        if let Some(started) = started {
            let seconds = (now - started).num_seconds();
            rows.push(stage_row(day, &app.department_code, stage, seconds));
        }
    }
    Ok(rows)
}

/// When the latest event that starts `stage` happened.
async fn stage_start<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
    stage: Stage,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    let actions = stage.started_by().iter().map(|a| a.as_str());
    let select = Query::select()
        .column(event::Column::CreatedAt)
        .from(event::Entity)
        .and_where(Expr::col(event::Column::ApplicationId).eq(application_id))
        .and_where(Expr::col(event::Column::Action).is_in(actions))
        .order_by(event::Column::CreatedAt, Order::Desc)
        .order_by(event::Column::Id, Order::Desc)
        .limit(1)
        .to_owned();
    match db.query_one(&select).await? {
        Some(row) => Ok(Some(row.try_get("", "created_at")?)),
        None => Ok(None),
    }
}

/// What a pre-review decision adds: every material of the case's item was looked at; a return
/// counts each material it names once, and each (material, reason) once.
pub struct DecisionCounts<'a> {
    pub department: &'a str,
    pub matter: &'a str,
    /// The materials of the case's item version.
    pub materials: Vec<&'a str>,
    /// `(material, reason)` of a return; empty for an approval or a rejection.
    pub returned: Vec<(&'a str, &'a str)>,
}

/// A decision's tally: each material with 1 when returned (else 0); each `(material, reason)`.
pub(super) type Tallies<'a> = (Vec<(&'a str, i64)>, Vec<(&'a str, String)>);

impl DecisionCounts<'_> {
    /// Each material once with 1 when the decision returned it (else 0), and each
    /// `(material, reason)` of a return once.
    pub(super) fn tallies(&self) -> Tallies<'_> {
        let mut materials: Vec<(&str, i64)> = self.materials.iter().map(|m| (*m, 0)).collect();
        materials.sort();
        materials.dedup();
        let mut reasons: Vec<(&str, String)> = self
            .returned
            .iter()
            .map(|(m, r)| (*m, reason_key(r)))
            .collect();
        reasons.sort();
        reasons.dedup();
        for (material, _) in &reasons {
            match materials.binary_search_by(|(m, _)| m.cmp(material)) {
                Ok(i) => materials[i].1 = 1,
                // A return names only materials of the item (checked before); kept all the same.
                Err(i) => materials.insert(i, (material, 1)),
            }
        }
        (materials, reasons)
    }

    /// The upserts: at most two statements whatever the number of materials.
    fn rows(&self, day: NaiveDate) -> Vec<InsertStatement> {
        let (materials, reasons) = self.tallies();
        let mut statements = Vec::new();
        if !materials.is_empty() {
            statements.push(material_rows(
                materials
                    .iter()
                    .map(|(material, returned)| {
                        vec![
                            day.into(),
                            self.department.into(),
                            self.matter.into(),
                            (*material).into(),
                            1i64.into(),
                            (*returned).into(),
                        ]
                    })
                    .collect(),
            ));
        }
        if !reasons.is_empty() {
            statements.push(reason_rows(
                reasons
                    .iter()
                    .map(|(material, reason)| {
                        vec![
                            day.into(),
                            self.department.into(),
                            self.matter.into(),
                            (*material).into(),
                            reason.clone().into(),
                            1i64.into(),
                        ]
                    })
                    .collect(),
            ));
        }
        statements
    }
}

/// Rows of `(day, department, matter, material, decisions, returns)`.
pub(super) fn material_rows(rows: Vec<Vec<Value>>) -> InsertStatement {
    upsert_many(
        MATERIALS,
        &["day", "department_code", "matter_code", "material_code"],
        &["decisions", "returns"],
        rows,
    )
}

/// Rows of `(day, department, matter, material, reason, count)`.
pub(super) fn reason_rows(rows: Vec<Vec<Value>>) -> InsertStatement {
    upsert_many(
        REASONS,
        &[
            "day",
            "department_code",
            "matter_code",
            "material_code",
            "reason",
        ],
        &["count"],
        rows,
    )
}

/// Records a pre-review decision's counts, in the decision's transaction.
pub async fn record_decision<C: ConnectionTrait>(
    db: &C,
    counts: &DecisionCounts<'_>,
    now: DateTime<Utc>,
    offset: FixedOffset,
) -> Result<(), DbErr> {
    let (day, _) = local_day_hour(now, offset);
    crate::store::insert_all(db, counts.rows(day)).await
}

/// The text a reason is grouped by.
pub fn reason_key(reason: &str) -> String {
    reason.trim().chars().take(REASON_CHARS).collect()
}
