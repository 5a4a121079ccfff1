//! Emptying the 24-hour box: each envelope's drop code, scanned or typed by reception, is
//! matched to its drop (`cases::drop_off`) and becomes that leg's one route event, ingested as a
//! partner's push would be. So the case moves exactly as a courier-delivered one: collected,
//! delivered at the centre, waiting for reception's check. An envelope whose code is unknown,
//! already used, withdrawn, of a cancelled case or of another department changes nothing; every
//! scan, matched or not, is recorded in its run. A drop not found by its day is flagged and its
//! citizen reminded (`RemindDropOffs`).

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr, EntityTrait};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ingest;
use crate::cases::Cases;
use crate::cases::drop_off::BOX;
use crate::domain::application::ApplicationState;
use crate::domain::drop_code;
use crate::integrations::courier::{RouteEvent, ShipmentStatus};
use crate::jobs::job::{Job, JobContext, JobError};
use crate::store::applications::application;
use crate::store::box_runs::{self, NewScan, run, scan};
use crate::store::jobs::JobPayload;
use crate::store::shipments::{self, OrderStatus};
use crate::store::{self, StoreError};

/// What a scan found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The envelope's case moved on: its originals are at the centre.
    Received,
    /// No drop has this code (or it cannot be one: mistyped).
    Unknown,
    /// The envelope was scanned before.
    Used,
    /// The case was cancelled.
    CaseCancelled,
    /// The citizen took the drop-off back (and booked a pickup instead).
    Withdrawn,
    /// The case belongs to this department, not to the scanning member's.
    OtherDepartment(String),
}

impl Outcome {
    /// The outcome a scan was recorded as (`as_str`), with the department an
    /// `other_department` one names.
    fn recorded(text: &str, department: String) -> Self {
        [
            Self::Received,
            Self::Used,
            Self::CaseCancelled,
            Self::Withdrawn,
            Self::OtherDepartment(department),
        ]
        .into_iter()
        .find(|o| o.as_str() == text)
        .unwrap_or(Self::Unknown)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Unknown => "unknown",
            Self::Used => "used",
            Self::CaseCancelled => "case_cancelled",
            Self::Withdrawn => "withdrawn",
            Self::OtherDepartment(_) => "other_department",
        }
    }
}

/// A recorded scan: what it found, the row, and the case's state when it was received.
pub struct Scanned {
    pub outcome: Outcome,
    pub scan: scan::Model,
    pub state: Option<ApplicationState>,
    /// The scanner's retry of a scan made under the same `Idempotency-Key`: answered as it was,
    /// nothing recorded again.
    pub replayed: bool,
}

/// One envelope's scan into a run.
pub struct ScanInput<'a> {
    pub staff: Uuid,
    pub departments: &'a [String],
    pub typed: &'a str,
    /// The scanner's `Idempotency-Key`: a retry under it answers as the first scan did.
    pub key: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// Scans `input.typed` into `run` for a reception member of `input.departments`.
pub async fn scan(
    db: &DatabaseConnection,
    cases: &Cases,
    run: &run::Model,
    input: ScanInput<'_>,
) -> Result<Scanned, DbErr> {
    if let Some(key) = input.key
        && let Some(earlier) = box_runs::scan_by_key(db, run.id, key).await?
    {
        return replay(db, earlier).await;
    }
    let code = drop_code::normalize(input.typed);
    let (outcome, application_id) = match &code {
        None => (Outcome::Unknown, None),
        Some(code) => find(db, cases, &input, code, run).await?,
    };
    // Another department's case stays out of this member's record.
    let shown = match outcome {
        Outcome::OtherDepartment(_) => None,
        _ => application_id,
    };
    let recorded = store::unique(
        box_runs::record(
            db,
            NewScan {
                run_id: run.id,
                typed: input.typed,
                drop_code: code,
                outcome: outcome.as_str(),
                application_id: shown,
                staff_id: input.staff,
                scanned_at: input.now,
                idempotency_key: input.key,
            },
        )
        .await,
    );
    let scan = match (recorded, input.key) {
        (Ok(scan), _) => scan,
        // A concurrent retry under the same key recorded first: answer as it was answered.
        (Err(StoreError::Conflict), Some(key)) => {
            if let Some(earlier) = box_runs::scan_by_key(db, run.id, key).await? {
                return replay(db, earlier).await;
            }
            return Err(DbErr::Custom("a scan's key clashed with no scan".into()));
        }
        (Err(StoreError::Conflict), None) => {
            return Err(DbErr::Custom("a scan without a key clashed".into()));
        }
        (Err(StoreError::Db(e)), _) => return Err(e),
    };
    let state = match (&outcome, application_id) {
        (Outcome::Received, Some(id)) => state_of(db, id).await?,
        _ => None,
    };
    Ok(Scanned {
        outcome,
        scan,
        state,
        replayed: false,
    })
}

async fn state_of(db: &DatabaseConnection, id: Uuid) -> Result<Option<ApplicationState>, DbErr> {
    Ok(application::Entity::find_by_id(id)
        .one(db)
        .await?
        .and_then(|a| ApplicationState::parse(&a.state)))
}

/// A scan made before under the same key, answered again as it was.
async fn replay(db: &DatabaseConnection, earlier: scan::Model) -> Result<Scanned, DbErr> {
    // Another department is not kept on the scan (it names no case of this member's): read
    // again.
    let mut department = String::new();
    if earlier.outcome == Outcome::OtherDepartment(String::new()).as_str()
        && let Some(code) = &earlier.drop_code
        && let Some(leg) = shipments::by_waybill(db, BOX, code).await?
        && let Some(app) = application::Entity::find_by_id(leg.application_id)
            .one(db)
            .await?
    {
        department = app.department_code;
    }
    let outcome = Outcome::recorded(&earlier.outcome, department);
    let state = match (&outcome, earlier.application_id) {
        (Outcome::Received, Some(id)) => state_of(db, id).await?,
        _ => None,
    };
    Ok(Scanned {
        outcome,
        scan: earlier,
        state,
        replayed: true,
    })
}

/// The drop of `code` and what scanning it does; ingests its event when it is received.
async fn find(
    db: &DatabaseConnection,
    cases: &Cases,
    input: &ScanInput<'_>,
    code: &str,
    run: &run::Model,
) -> Result<(Outcome, Option<Uuid>), DbErr> {
    let Some(leg) = shipments::by_waybill(db, BOX, code).await? else {
        return Ok((Outcome::Unknown, None));
    };
    let Some(app) = application::Entity::find_by_id(leg.application_id)
        .one(db)
        .await?
    else {
        return Ok((Outcome::Unknown, None));
    };
    let id = Some(app.id);
    if !input.departments.contains(&app.department_code) {
        return Ok((Outcome::OtherDepartment(app.department_code), id));
    }
    if app.state == ApplicationState::Cancelled.as_str() {
        return Ok((Outcome::CaseCancelled, id));
    }
    if leg.order_status == OrderStatus::Cancelled.as_str() {
        return Ok((Outcome::Withdrawn, id));
    }
    let received = if leg.status == ShipmentStatus::Pending.as_str() {
        let event = RouteEvent {
            // One event per drop: a second scan of the code (however it races) is a replay.
            event_id: format!("box-{code}"),
            waybill_no: code.to_string(),
            op_code: "box_scan".into(),
            status: ShipmentStatus::Delivered,
            occurred_at: input.now,
            location: Some(cases.config.courier.drop_box.place.clone()),
            description: "投递箱开箱取件".into(),
            raw: serde_json::json!({"run_id": run.id, "key": input.key}),
        };
        ingest::ingest(db, cases, BOX, &[event]).await?.stored > 0
    } else {
        false
    };
    if received || received_under(db, leg.id, run, input.key).await? {
        return Ok((Outcome::Received, id));
    }
    Ok((Outcome::Used, id))
}

/// Whether the drop's one event came from this run's scan under `key`: the same scan retried
/// after its event was stored but before its record was (a crash, a lost answer, a race).
async fn received_under(
    db: &DatabaseConnection,
    leg: Uuid,
    run: &run::Model,
    key: Option<&str>,
) -> Result<bool, DbErr> {
    let Some(key) = key else {
        return Ok(false);
    };
    let events = shipments::events_of(db, &[leg]).await?;
    Ok(events.iter().any(|e| {
        serde_json::from_str::<serde_json::Value>(&e.raw).is_ok_and(|raw| {
            raw["key"].as_str() == Some(key) && raw["run_id"].as_str() == Some(&run.id.to_string())
        })
    }))
}

/// `remind_drop_offs {slot}`: drops not found in the box `courier.drop_box.remind_after_days`
/// after they were chosen are flagged and their citizens reminded, once each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemindDropOffs {
    /// The schedule slot (Unix seconds) it was queued for.
    #[serde(default)]
    pub slot: i64,
}

impl JobPayload for RemindDropOffs {
    const KIND: &'static str = "remind_drop_offs";
}

impl Job for RemindDropOffs {
    const SCHEDULED: bool = true;

    async fn run(self, ctx: &JobContext) -> Result<(), JobError> {
        let reminded = ctx.cases.remind_late_drops(&ctx.db).await?;
        if reminded > 0 {
            tracing::info!(reminded, "citizens reminded of drops not found in the box");
        }
        Ok(())
    }
}
