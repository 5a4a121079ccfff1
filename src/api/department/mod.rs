//! `/v1/department/*`: the department's desk. Approvers list the cases their batches brought,
//! read each with its pages, attach the result files they issue (scans of the licence or
//! certificate, cleaned like pages), and decide. An approved item that posts a paper result gets
//! leg 2, a courier order from the centre to the citizen; any other decision ends the case.
//! Approvers see only their departments' cases.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::applications::result::{ResultFile, file_view};
use crate::api::applications::{Application, Event, State, staff_view};
use crate::api::problem::{ApiError, ApiResult, FieldProblem};
use crate::api::security::{ClientIp, StaffAuth, audit_staff_read, staff_record};
use crate::api::text::MultiLine;
use crate::cases::department::Verdict;
use crate::cases::reads;
use crate::domain::application::Action;
use crate::domain::staff::Role;
use crate::state::AppState;
use crate::store::department::{self, decision};

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
    pub state: State,
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
        let app = reads::visible(db, &auth.0.departments, id.0).await?;
        let (application, events) = staff_view(&state, &app).await?;
        let mut result_files = Vec::new();
        for file in department::result_files(db, app.id).await? {
            result_files.push(file_view(&state, file).await);
        }
        let case = DepartmentCase {
            application,
            events,
            decision: department::decision_of(db, app.id)
                .await?
                .map(decision_view),
            result_files,
        };
        audit_staff_read(
            &state,
            staff_record(
                &auth.0,
                &ip,
                "department.view",
                Some(("application", app.id)),
                None,
            ),
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
        let action = match body.outcome {
            DepartmentOutcome::Approved => Action::DepartmentApprove,
            DepartmentOutcome::Refused => Action::DepartmentRefuse,
        };
        let audit = staff_record(
            &auth.0,
            &ip,
            "department.decide",
            Some(("application", id.0)),
            Some(format!("outcome={}", body.outcome.as_str())),
        );
        let decided = (state.cases)
            .decide_at_department(
                state.db()?,
                auth.0.id,
                &auth.0.departments,
                id.0,
                Verdict { action, note },
                audit,
            )
            .await?;
        let app_id = decided.app.id;
        Ok(Json(Decided {
            application_id: app_id,
            state: State::of(&decided.app.state)?,
            decision: decision_view(decided.decision),
            result_shipment_id: decided.result_shipment_id,
        }))
    }
}

fn default_limit() -> u64 {
    50
}
