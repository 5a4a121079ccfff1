//! `/v1/reception/box-runs`: emptying the centre's 24-hour box. Reception starts a run, scans
//! (or types) each envelope's drop code into it, and closes it. A matched envelope's case moves
//! on exactly as a courier-delivered one (then `POST /v1/reception/applications/{id}/receive`);
//! an envelope whose code is unknown, used, withdrawn, of a cancelled case or of another
//! department gets a clear error and changes nothing. Every scan is kept in its run, and every
//! start, scan and close is audited.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::applications::State;
use crate::api::problem::{ApiError, ApiResult};
use crate::api::security::{ClientIp, StaffAuth, audit_staff_action};
use crate::courier::drop_box::{self, Outcome};
use crate::domain::drop_code;
use crate::domain::staff::Role;
use crate::state::AppState;
use crate::store::box_runs::{self, run, scan};

pub struct ReceptionBoxApi;

#[derive(Debug, Clone, Object)]
pub struct BoxRun {
    pub id: Uuid,
    pub started_by: Uuid,
    pub started_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub closed_at: Option<DateTime<Utc>>,
    /// Every envelope scanned in this run, in order, matched or not.
    pub scans: Vec<BoxScan>,
    /// When reception empties the box each day (`HH:MM`, local time).
    pub schedule: Vec<String>,
}

#[derive(Debug, Clone, Object)]
pub struct BoxScan {
    pub id: Uuid,
    /// As typed or scanned.
    pub typed: String,
    /// The code it reads as (`XXXX-XXXX`), when it can be one.
    #[oai(skip_serializing_if_is_none)]
    pub code: Option<String>,
    /// `received`, or the problem: `unknown`, `used`, `case_cancelled`, `withdrawn`,
    /// `other_department`.
    pub outcome: String,
    /// The envelope's case, when it is one of the scanner's departments.
    #[oai(skip_serializing_if_is_none)]
    pub application_id: Option<Uuid>,
    pub scanned_by: Uuid,
    pub scanned_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct ScanRequest {
    /// The envelope's drop code as typed or scanned (case, spaces and dashes do not matter).
    #[oai(validator(min_length = 1, max_length = 64))]
    pub code: String,
}

#[derive(Debug, Clone, Object)]
pub struct ScanReceived {
    pub scan: BoxScan,
    pub application_id: Uuid,
    /// The case's state now: `originals_in_transit`, delivered at the centre and waiting for
    /// reception's check.
    pub state: State,
}

#[derive(ApiResponse)]
pub enum RunStarted {
    #[oai(status = 201)]
    Created(Json<BoxRun>),
}

#[derive(ApiResponse)]
pub enum Scanned {
    /// The envelope's case: its originals are at the centre, to check against the photos.
    #[oai(status = 201)]
    Received(Json<ScanReceived>),
}

fn scan_view(s: &scan::Model) -> BoxScan {
    BoxScan {
        id: s.id,
        typed: s.typed.clone(),
        code: s.drop_code.as_deref().map(drop_code::display),
        outcome: s.outcome.clone(),
        application_id: s.application_id,
        scanned_by: s.staff_id,
        scanned_at: s.scanned_at,
    }
}

async fn run_view(state: &AppState, run: run::Model) -> ApiResult<BoxRun> {
    let scans = box_runs::scans_of(state.db()?, run.id).await?;
    Ok(BoxRun {
        id: run.id,
        started_by: run.started_by,
        started_at: run.started_at,
        closed_at: run.closed_at,
        scans: scans.iter().map(scan_view).collect(),
        schedule: state.config.courier.drop_box.empty_at.clone(),
    })
}

async fn find(state: &AppState, id: Uuid) -> ApiResult<run::Model> {
    box_runs::find(state.db()?, id)
        .await?
        .ok_or_else(|| ApiError::not_found("box_run_not_found", "No such emptying of the box."))
}

#[OpenApi(tag = "ApiTags::Review")]
impl ReceptionBoxApi {
    /// Start emptying the box: the run its envelopes are scanned into.
    #[oai(path = "/v1/reception/box-runs", method = "post")]
    async fn start(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
    ) -> ApiResult<RunStarted> {
        auth.0.require(Role::Reception)?;
        let run = box_runs::start(state.db()?, auth.0.id, state.clock.now()).await?;
        let target = Some(("box_run", run.id));
        audit_staff_action(&state, &auth.0, &ip, "reception.box_run", target, None).await?;
        Ok(RunStarted::Created(Json(run_view(&state, run).await?)))
    }

    /// An emptying of the box with every envelope scanned in it.
    #[oai(path = "/v1/reception/box-runs/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<BoxRun>> {
        auth.0.require(Role::Reception)?;
        let run = find(&state, id.0).await?;
        Ok(Json(run_view(&state, run).await?))
    }

    /// Scan one envelope's drop code. 201 with its case when it is received; otherwise the
    /// problem, recorded in the run, and nothing changes: 404 `drop_code_unknown` (no drop has
    /// it, or it is mistyped), 409 `drop_code_used` (scanned before), `drop_code_withdrawn`
    /// (the citizen took the drop-off back), `drop_code_case_cancelled`, or
    /// `drop_code_other_department` (naming the department to pass the envelope to).
    #[oai(path = "/v1/reception/box-runs/:id/scans", method = "post")]
    async fn scan(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
        body: Json<ScanRequest>,
    ) -> ApiResult<Scanned> {
        auth.0.require(Role::Reception)?;
        let run = find(&state, id.0).await?;
        if run.closed_at.is_some() {
            return Err(ApiError::conflict(
                "box_run_closed",
                "This emptying of the box is closed; start another.",
            ));
        }
        let db = state.db()?;
        let scanned = drop_box::scan(
            db,
            &state.cases,
            auth.0.id,
            &auth.0.departments,
            &run,
            body.0.code.trim(),
            state.clock.now(),
        )
        .await?;
        let detail = Some(format!("outcome={}", scanned.outcome.as_str()));
        let target = scanned
            .scan
            .application_id
            .map(|id| ("application", id))
            .or(Some(("box_run", run.id)));
        audit_staff_action(&state, &auth.0, &ip, "reception.box_scan", target, detail).await?;
        let view = scan_view(&scanned.scan);
        match scanned.outcome {
            Outcome::Received => Ok(Scanned::Received(Json(ScanReceived {
                application_id: view.application_id.unwrap_or_default(),
                state: scanned
                    .state
                    .map(State::from)
                    .ok_or_else(|| ApiError::internal("a received case without its state"))?,
                scan: view,
            }))),
            Outcome::Unknown => Err(ApiError::not_found(
                "drop_code_unknown",
                "No envelope in the box has this drop code; check it for a typing mistake.",
            )),
            Outcome::Used => Err(ApiError::conflict(
                "drop_code_used",
                "This drop code was scanned before: the case's originals are already in.",
            )),
            Outcome::Withdrawn => Err(ApiError::conflict(
                "drop_code_withdrawn",
                "The citizen took this drop-off back; keep the envelope aside for them.",
            )),
            Outcome::CaseCancelled => Err(ApiError::conflict(
                "drop_code_case_cancelled",
                "This drop code's case was cancelled; keep the envelope aside for the citizen.",
            )),
            Outcome::OtherDepartment(department) => Err(ApiError::conflict(
                "drop_code_other_department",
                format!("This envelope is for department `{department}`: pass it on."),
            )),
        }
    }

    /// Close an emptying of the box; later envelopes go in another run.
    #[oai(path = "/v1/reception/box-runs/:id/close", method = "post")]
    async fn close(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
    ) -> ApiResult<Json<BoxRun>> {
        auth.0.require(Role::Reception)?;
        let run = find(&state, id.0).await?;
        box_runs::close(state.db()?, run.id, state.clock.now()).await?;
        let target = Some(("box_run", run.id));
        audit_staff_action(
            &state,
            &auth.0,
            &ip,
            "reception.box_run_close",
            target,
            None,
        )
        .await?;
        let run = find(&state, id.0).await?;
        Ok(Json(run_view(&state, run).await?))
    }
}
