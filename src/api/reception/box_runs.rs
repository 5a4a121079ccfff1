//! `/v1/reception/box-runs`: emptying the centre's 24-hour box. Reception starts a run, scans
//! (or types) each envelope's drop code into it, and closes it. A matched envelope's case moves
//! on exactly as a courier-delivered one (then `POST /v1/reception/applications/{id}/receive`);
//! an envelope whose code is unknown, used, withdrawn, of a cancelled case or of another
//! department gets a clear error and changes nothing. Every scan is kept in its run, and every
//! start, scan and close is audited.

use chrono::{DateTime, Duration, Utc};
use poem::web::Data;
use poem_openapi::param::{Header, Path};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::applications::State;
use crate::api::problem::{ApiError, ApiResult};
use crate::api::security::{ClientIp, StaffAuth, audit_staff_action};
use crate::cases::drop_off::{BOX, drop_by};
use crate::config::parse_local_time;
use crate::courier::drop_box::{self, Outcome, ScanInput};
use crate::domain::box_schedule;
use crate::domain::drop_code;
use crate::domain::staff::Role;
use crate::state::AppState;
use crate::store::box_runs::{self, run, scan};
use crate::store::shipments;

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

#[derive(Debug, Clone, Object)]
pub struct BoxStatus {
    /// Where the box is.
    pub place: String,
    /// Today's emptyings (local day), each `done` (a run started from an hour before it until
    /// the next), `missed` (its time passed without one) or `upcoming`.
    pub today: Vec<Emptying>,
    /// The run still open, to scan into.
    #[oai(skip_serializing_if_is_none)]
    pub open_run: Option<Uuid>,
    /// How many drops of the member's departments wait to be found in the box.
    pub waiting: u64,
    /// The drops not found by their day (the citizen was reminded), oldest first.
    pub overdue: Vec<OverdueDrop>,
}

#[derive(Debug, Clone, Object)]
pub struct Emptying {
    /// `HH:MM`, local time.
    pub time: String,
    pub at: DateTime<Utc>,
    /// `done`, `missed` or `upcoming`.
    pub status: String,
    /// When the run that counts for it started.
    #[oai(skip_serializing_if_is_none)]
    pub run_started_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Object)]
pub struct OverdueDrop {
    pub application_id: Uuid,
    /// `XXXX-XXXX`.
    pub code: String,
    /// When the citizen chose the box.
    pub chosen_at: DateTime<Utc>,
    pub drop_by: DateTime<Utc>,
    /// When the drop was flagged and the citizen reminded.
    pub reminded_at: DateTime<Utc>,
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
    /// A retry under the same `Idempotency-Key`: the scan as it was received.
    #[oai(status = 200)]
    Again(Json<ScanReceived>),
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
    /// The box today: its emptyings by the schedule (`courier.drop_box.empty_at`) against the
    /// runs started, the run open, how many drops of the member's departments wait, and those
    /// not found by their day.
    #[oai(path = "/v1/reception/box", method = "get")]
    async fn status(&self, state: Data<&AppState>, auth: StaffAuth) -> ApiResult<Json<BoxStatus>> {
        auth.0.require(Role::Reception)?;
        let db = state.db()?;
        let config = &state.config;
        let (now, offset) = (state.clock.now(), config.local_offset());
        // Runs from the day before on: a run an hour before the first emptying counts for it.
        let runs = box_runs::started_since(db, now - Duration::hours(36)).await?;
        let times: Vec<_> = (config.courier.drop_box.empty_at.iter())
            .filter_map(|t| parse_local_time(t))
            .collect();
        let started: Vec<_> = runs.iter().map(|r| r.started_at).collect();
        let today = box_schedule::today(&times, &started, now, offset)
            .into_iter()
            .map(|e| Emptying {
                time: e.at.with_timezone(&offset).format("%H:%M").to_string(),
                at: e.at,
                status: e.status.as_str().into(),
                run_started_at: e.run_started_at,
            })
            .collect();
        let waiting = shipments::waiting_drops(db, BOX, &auth.0.departments).await?;
        let overdue = waiting
            .iter()
            .filter_map(|leg| {
                Some(OverdueDrop {
                    application_id: leg.application_id,
                    code: drop_code::display(leg.waybill_no.as_deref()?),
                    chosen_at: leg.created_at,
                    drop_by: drop_by(config, leg.created_at),
                    reminded_at: leg.overdue_at?,
                })
            })
            .collect();
        Ok(Json(BoxStatus {
            place: config.courier.drop_box.place.clone(),
            today,
            open_run: runs
                .iter()
                .rev()
                .find(|r| r.closed_at.is_none())
                .map(|r| r.id),
            waiting: waiting.len() as u64,
            overdue,
        }))
    }

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
    /// `drop_code_other_department` (naming the department to pass the envelope to). A retry
    /// under the same `Idempotency-Key` answers as the scan did (200 for a received one), and is
    /// not recorded again (the key with another code: 422 `idempotency_key_reused`); without a
    /// key, a second scan of a code is `drop_code_used`.
    #[oai(path = "/v1/reception/box-runs/:id/scans", method = "post")]
    async fn scan(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 128))]
        idempotency_key: Header<Option<String>>,
        body: Json<ScanRequest>,
    ) -> ApiResult<Scanned> {
        auth.0.require(Role::Reception)?;
        let run = find(&state, id.0).await?;
        let db = state.db()?;
        let (key, typed) = (idempotency_key.0.as_deref(), body.0.code.trim());
        let earlier = match key {
            Some(key) => box_runs::scan_by_key(db, run.id, key).await?,
            None => None,
        };
        if earlier.as_ref().is_some_and(|e| e.typed != typed) {
            return Err(ApiError::unprocessable(
                "idempotency_key_reused",
                "This Idempotency-Key was already used to scan another code.",
            ));
        }
        // A retry of a scan made before the run closed still gets its answer.
        if run.closed_at.is_some() && earlier.is_none() {
            return Err(ApiError::conflict(
                "box_run_closed",
                "This emptying of the box is closed; start another.",
            ));
        }
        let input = ScanInput {
            staff: auth.0.id,
            departments: &auth.0.departments,
            typed,
            key,
            now: state.clock.now(),
        };
        let scanned = drop_box::scan(db, &state.cases, &run, input).await?;
        if !scanned.replayed {
            let detail = Some(format!("outcome={}", scanned.outcome.as_str()));
            let target = scanned
                .scan
                .application_id
                .map(|id| ("application", id))
                .or(Some(("box_run", run.id)));
            audit_staff_action(&state, &auth.0, &ip, "reception.box_scan", target, detail).await?;
        }
        let view = scan_view(&scanned.scan);
        match scanned.outcome {
            Outcome::Received => {
                let received = ScanReceived {
                    application_id: view.application_id.unwrap_or_default(),
                    state: scanned
                        .state
                        .map(State::from)
                        .ok_or_else(|| ApiError::internal("a received case without its state"))?,
                    scan: view,
                };
                Ok(match scanned.replayed {
                    false => Scanned::Received(Json(received)),
                    true => Scanned::Again(Json(received)),
                })
            }
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
