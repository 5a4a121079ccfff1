//! Emptying the 24-hour box: each envelope's drop code, scanned or typed by reception, is
//! matched to its drop (`cases::drop_off`) and becomes that leg's one route event, ingested as a
//! partner's push would be. So the case moves exactly as a courier-delivered one: collected,
//! delivered at the centre, waiting for reception's check. An envelope whose code is unknown,
//! already used, withdrawn, of a cancelled case or of another department changes nothing; every
//! scan, matched or not, is recorded in its run.

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr, EntityTrait};
use uuid::Uuid;

use super::ingest;
use crate::cases::Cases;
use crate::cases::drop_off::BOX;
use crate::domain::application::ApplicationState;
use crate::domain::drop_code;
use crate::integrations::courier::{RouteEvent, ShipmentStatus};
use crate::store::applications::application;
use crate::store::box_runs::{self, NewScan, run, scan};
use crate::store::shipments::{self, OrderStatus};

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
}

/// Scans `typed` into `run` for a reception member of `departments`.
pub async fn scan(
    db: &DatabaseConnection,
    cases: &Cases,
    staff: Uuid,
    departments: &[String],
    run: &run::Model,
    typed: &str,
    now: DateTime<Utc>,
) -> Result<Scanned, DbErr> {
    let code = drop_code::normalize(typed);
    let (outcome, application_id) = match &code {
        None => (Outcome::Unknown, None),
        Some(code) => find(db, cases, departments, code, run, now).await?,
    };
    // Another department's case stays out of this member's record.
    let shown = match outcome {
        Outcome::OtherDepartment(_) => None,
        _ => application_id,
    };
    let scan = box_runs::record(
        db,
        NewScan {
            run_id: run.id,
            typed,
            drop_code: code,
            outcome: outcome.as_str(),
            application_id: shown,
            staff_id: staff,
            scanned_at: now,
        },
    )
    .await?;
    let state = match (&outcome, application_id) {
        (Outcome::Received, Some(id)) => application::Entity::find_by_id(id)
            .one(db)
            .await?
            .and_then(|a| ApplicationState::parse(&a.state)),
        _ => None,
    };
    Ok(Scanned {
        outcome,
        scan,
        state,
    })
}

/// The drop of `code` and what scanning it does; ingests its event when it is received.
async fn find(
    db: &DatabaseConnection,
    cases: &Cases,
    departments: &[String],
    code: &str,
    run: &run::Model,
    now: DateTime<Utc>,
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
    if !departments.contains(&app.department_code) {
        return Ok((Outcome::OtherDepartment(app.department_code), id));
    }
    if app.state == ApplicationState::Cancelled.as_str() {
        return Ok((Outcome::CaseCancelled, id));
    }
    if leg.order_status == OrderStatus::Cancelled.as_str() {
        return Ok((Outcome::Withdrawn, id));
    }
    if leg.status != ShipmentStatus::Pending.as_str() {
        return Ok((Outcome::Used, id));
    }
    let event = RouteEvent {
        // One event per drop: a second scan of the code (however it races) is a replay.
        event_id: format!("box-{code}"),
        waybill_no: code.to_string(),
        op_code: "box_scan".into(),
        status: ShipmentStatus::Delivered,
        occurred_at: now,
        location: Some(cases.config.courier.drop_box.place.clone()),
        description: "投递箱开箱取件".into(),
        raw: serde_json::json!({"run_id": run.id}),
    };
    let report = ingest::ingest(db, cases, BOX, &[event]).await?;
    if report.stored == 0 {
        return Ok((Outcome::Used, id));
    }
    Ok((Outcome::Received, id))
}
