//! `/v1/department/*`: the department's desk. Approvers list the cases their batches brought,
//! read each with its pages, attach the result files they issue (scans of the licence or
//! certificate, cleaned like pages), and decide. An approved item that posts a paper result gets
//! leg 2, a courier order from the centre to the citizen; any other decision ends the case.
//! Approvers see only their departments' cases.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::ParseFromJSON;
use poem_openapi::{Enum, Object, OpenApi};
use serde_json::json;
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::applications::pickup::{centre, contact_of};
use crate::api::applications::result::{ResultFile, file_view};
use crate::api::applications::{
    Address, Application, Event, Viewer, concurrent_change, event_view, linked_pages, parse_state,
    version_of, view,
};
use crate::api::problem::{ApiError, ApiResult, FieldProblem};
use crate::api::review::visible;
use crate::api::security::{ClientIp, StaffAuth, StaffMember, audit_staff_action};
use crate::api::text::MultiLine;
use crate::courier::orders;
use crate::domain::application::{self as machine, Action, ApplicationState};
use crate::domain::staff::Role;
use crate::state::AppState;
use crate::store::applications::{self, Actor, application};
use crate::store::begin_write;
use crate::store::department::{self, decision};
use crate::store::shipments::{self, LEG_MATERIALS, LEG_RESULT, NewShipment};

mod results;

pub use results::DepartmentResultsApi;

pub struct DepartmentApi;

#[derive(Debug, Clone, Object)]
pub struct WaitingCase {
    pub id: Uuid,
    pub matter_code: String,
    pub department_code: String,
    pub applicant_name: String,
    /// The dispatch batch that brought the originals; absent for items without originals.
    #[oai(skip_serializing_if_is_none)]
    pub batch_id: Option<Uuid>,
    /// When reception confirmed the originals.
    #[oai(skip_serializing_if_is_none)]
    pub received_at: Option<DateTime<Utc>>,
    /// When the case reached the department.
    pub waiting_since: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct DepartmentQueue {
    /// Longest waiting first.
    pub items: Vec<WaitingCase>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum DepartmentOutcome {
    Approved,
    Refused,
}

impl DepartmentOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Refused => "refused",
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct DepartmentDecisionRequest {
    pub outcome: DepartmentOutcome,
    /// The department's words to the citizen; required for a refusal (its reason).
    #[oai(skip_serializing_if_is_none, validator(max_length = 1000))]
    pub note: Option<MultiLine>,
}

#[derive(Debug, Clone, Object)]
pub struct DepartmentDecision {
    pub id: Uuid,
    /// `approved` or `refused`.
    pub outcome: String,
    #[oai(skip_serializing_if_is_none)]
    pub note: Option<String>,
    pub approver_id: Uuid,
    pub created_at: DateTime<Utc>,
}

/// A case as the department sees it.
#[derive(Object)]
pub struct DepartmentCase {
    pub application: Application,
    pub events: Vec<Event>,
    #[oai(skip_serializing_if_is_none)]
    pub decision: Option<DepartmentDecision>,
    pub result_files: Vec<ResultFile>,
}

/// What a decision did; a retry of the same decision answers the same.
#[derive(Debug, Clone, Object)]
pub struct Decided {
    pub application_id: Uuid,
    /// `result_in_delivery` (a paper result is posted), `completed` or `refused`.
    pub state: String,
    pub decision: DepartmentDecision,
    /// Leg 2, when a paper result is posted; `GET /v1/applications/{id}/shipments` tracks it.
    #[oai(skip_serializing_if_is_none)]
    pub result_shipment_id: Option<Uuid>,
}

fn decision_view(d: decision::Model) -> DepartmentDecision {
    DepartmentDecision {
        id: d.id,
        outcome: d.outcome,
        note: d.note,
        approver_id: d.approver_id,
        created_at: d.created_at,
    }
}

pub(super) fn not_at_department(app: &application::Model) -> ApiError {
    ApiError::conflict(
        "not_at_department",
        format!(
            "The case is {}; the department acts on cases waiting for its decision.",
            app.state
        ),
    )
}

/// The case, visible to this approver and waiting for the department.
pub(super) async fn waiting<C: sea_orm::ConnectionTrait>(
    db: &C,
    member: &StaffMember,
    id: Uuid,
) -> Result<application::Model, ApiError> {
    let app = visible(db, member, id).await?;
    if parse_state(&app)? != ApplicationState::AtDepartment {
        return Err(not_at_department(&app));
    }
    Ok(app)
}

#[OpenApi(tag = "ApiTags::Department")]
impl DepartmentApi {
    /// Cases of my departments waiting for a decision, longest waiting first.
    #[oai(path = "/v1/department/queue", method = "get")]
    async fn queue(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<Json<DepartmentQueue>> {
        auth.0.require(Role::Approver)?;
        let rows = department::queue(state.db()?, &auth.0.departments, limit.0).await?;
        Ok(Json(DepartmentQueue {
            items: rows
                .into_iter()
                .map(|app| WaitingCase {
                    id: app.id,
                    matter_code: app.matter_code,
                    department_code: app.department_code,
                    applicant_name: app.applicant_name,
                    batch_id: app.batch_id,
                    received_at: app.received_at,
                    waiting_since: app.updated_at,
                })
                .collect(),
        }))
    }

    /// A case of my departments: the application with its pages (short-lived links), its
    /// events, the decision and the result files. Audited.
    #[oai(path = "/v1/department/applications/:id", method = "get")]
    async fn case(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
    ) -> ApiResult<Json<DepartmentCase>> {
        auth.0.require(Role::Approver)?;
        let db = state.db()?;
        let app = visible(db, &auth.0, id.0).await?;
        let version = version_of(db, &app).await?;
        let linked = linked_pages(&state, &app).await?;
        let mut result_files = Vec::new();
        for file in department::result_files(db, app.id).await? {
            result_files.push(file_view(&state, file).await);
        }
        let case = DepartmentCase {
            application: view(&state, &app, &version, &linked, Viewer::Other),
            events: applications::events(db, app.id)
                .await?
                .into_iter()
                .map(event_view)
                .collect(),
            decision: department::decision_of(db, app.id)
                .await?
                .map(decision_view),
            result_files,
        };
        audit_staff_action(
            &state,
            &auth.0,
            &ip,
            "department.view",
            Some(("application", app.id)),
            None,
        )
        .await?;
        Ok(Json(case))
    }

    /// Decide: `approved` grants the application (a paper result then goes to the citizen by
    /// courier, or the case completes), `refused` ends it with the reason in `note`. One decision
    /// per case; repeating the same decision answers the same.
    #[oai(path = "/v1/department/applications/:id/decision", method = "post")]
    async fn decide(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
        body: Json<DepartmentDecisionRequest>,
    ) -> ApiResult<Json<Decided>> {
        auth.0.require(Role::Approver)?;
        let note = body
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        if body.outcome == DepartmentOutcome::Refused && note.is_none() {
            return Err(ApiError::invalid_fields(vec![FieldProblem::new(
                "note",
                "give the reason for a refusal",
            )]));
        }
        let note = note.map(str::to_string);
        let db = state.db()?;
        let txn = begin_write(db).await?;
        let app = visible(&txn, &auth.0, id.0).await?;
        let app = applications::lock(&txn, app.id)
            .await?
            .ok_or_else(|| ApiError::not_found("application_not_found", "No such application."))?;
        if let Some(earlier) = department::decision_of(&txn, app.id).await? {
            return replay(&txn, &app, earlier, body.outcome, note.as_deref()).await;
        }
        let from = parse_state(&app)?;
        let action = match body.outcome {
            DepartmentOutcome::Approved => Action::DepartmentApprove,
            DepartmentOutcome::Refused => Action::DepartmentRefuse,
        };
        let to = machine::next(from, action).map_err(|_| not_at_department(&app))?;
        let decision = match department::record_decision(
            &txn,
            app.id,
            auth.0.id,
            body.outcome.as_str(),
            note.clone(),
        )
        .await
        {
            Ok(decision) => decision,
            Err(e) if crate::store::is_unique_violation(&e) => {
                return Err(concurrent_change());
            }
            Err(e) => return Err(e.into()),
        };
        if !applications::change_state(
            &txn,
            &state.channels,
            &app,
            to,
            Actor::staff(auth.0.id),
            action.as_str(),
            note.clone(),
        )
        .await?
        {
            return Err(concurrent_change());
        }
        let mut result_shipment_id = None;
        let mut end = to;
        if to == ApplicationState::Approved {
            let approved = application::Model {
                state: to.as_str().into(),
                version: app.version + 1,
                ..app.clone()
            };
            let version = version_of(&txn, &app).await?;
            let next = if version.matter.result_by_courier {
                let leg = ship_result(&state, &txn, &approved).await?;
                result_shipment_id = Some(leg.id);
                Action::ShipResult
            } else {
                Action::Complete
            };
            end = machine::next(to, next).map_err(ApiError::internal)?;
            if !applications::change_state(
                &txn,
                &state.channels,
                &approved,
                end,
                Actor::system(),
                next.as_str(),
                None,
            )
            .await?
            {
                return Err(concurrent_change());
            }
        }
        txn.commit().await?;
        audit_staff_action(
            &state,
            &auth.0,
            &ip,
            "department.decide",
            Some(("application", app.id)),
            Some(format!("outcome={}", body.outcome.as_str())),
        )
        .await?;
        Ok(Json(Decided {
            application_id: app.id,
            state: end.as_str().into(),
            decision: decision_view(decision),
            result_shipment_id,
        }))
    }
}

/// A second decision on a decided case: the same one answers as the first did, another is 409.
async fn replay<C: sea_orm::ConnectionTrait>(
    txn: &C,
    app: &application::Model,
    earlier: decision::Model,
    outcome: DepartmentOutcome,
    note: Option<&str>,
) -> ApiResult<Json<Decided>> {
    if earlier.outcome != outcome.as_str() || earlier.note.as_deref() != note {
        return Err(ApiError::conflict(
            "already_decided",
            format!(
                "The department already decided this case: {}.",
                earlier.outcome
            ),
        ));
    }
    let result_shipment_id = shipments::current_leg(txn, app.id, LEG_RESULT)
        .await?
        .map(|leg| leg.id);
    Ok(Json(Decided {
        application_id: app.id,
        state: app.state.clone(),
        decision: decision_view(earlier),
        result_shipment_id,
    }))
}

/// Leg 2: an order from the centre to the citizen's return address, or else to where the
/// originals were collected.
async fn ship_result<C: sea_orm::ConnectionTrait>(
    state: &AppState,
    txn: &C,
    app: &application::Model,
) -> Result<shipments::shipment::Model, ApiError> {
    let address = app
        .return_address
        .clone()
        .and_then(|v| Address::parse_from_json(Some(v)).ok());
    let recipient = match address {
        Some(address) => json!(contact_of(&address)),
        None => match shipments::current_leg(txn, app.id, LEG_MATERIALS).await? {
            Some(leg) => serde_json::from_str(&leg.sender).map_err(ApiError::internal)?,
            None => {
                return Err(ApiError::conflict(
                    "no_delivery_address",
                    "The application has no return address and no pickup to post the result to.",
                ));
            }
        },
    };
    let leg = shipments::insert(
        txn,
        NewShipment {
            application_id: app.id,
            leg: LEG_RESULT,
            partner: state.couriers.default_partner().code().to_string(),
            sender: json!(centre(state)),
            recipient,
            pickup_date: None,
            pickup_slot: None,
            pickup_from: None,
            pickup_until: None,
        },
    )
    .await?;
    orders::enqueue_create(txn, leg.id).await?;
    Ok(leg)
}

fn default_limit() -> u64 {
    50
}
