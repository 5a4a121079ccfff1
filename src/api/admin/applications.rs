//! `/v1/admin/applications/{id}/retention` and `/v1/admin/applications/{id}/legal-hold`: when
//! a case's data goes, what went already, and the legal hold that stops it (rules in
//! `cases::retention`). Setting and lifting a hold are audited.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::problem::{ApiError, ApiResult, FieldProblem};
use crate::api::retention::CaseRetention;
use crate::api::security::{ClientIp, StaffAuth, audit_staff_action};
use crate::cases::CaseError;
use crate::cases::retention::schedule_of;
use crate::domain::staff::Role;
use crate::state::AppState;
use crate::store::applications::{self, application};
use crate::store::retention as rows;

pub struct AdminApplicationsApi;

#[derive(Debug, Clone, Object)]
pub struct LegalHold {
    pub held_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub held_by: Option<Uuid>,
    pub reason: String,
}

/// One destruction of a part of the case.
#[derive(Debug, Clone, Object)]
pub struct Destruction {
    pub at: DateTime<Utc>,
    /// `photos`, `results` or `personal`.
    pub part: String,
    /// `retention` or `account_deleted`.
    pub reason: String,
    /// Objects deleted (pages with their thumbnails, or result files).
    pub objects: i32,
    /// What was removed or blanked.
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, Object)]
pub struct RetentionView {
    #[oai(flatten)]
    pub retention: CaseRetention,
    #[oai(skip_serializing_if_is_none)]
    pub hold: Option<LegalHold>,
    /// Oldest first.
    pub destructions: Vec<Destruction>,
}

#[derive(Debug, Clone, Object)]
pub struct HoldRequest {
    /// Why the case's data must be kept (a court order, a complaint under investigation).
    #[oai(validator(min_length = 1, max_length = 500))]
    pub reason: String,
}

fn not_found() -> ApiError {
    ApiError::not_found("application_not_found", "There is no such application.")
}

async fn view(state: &AppState, app: &application::Model) -> ApiResult<RetentionView> {
    let db = state.db()?;
    let schedule = schedule_of(&state.cases, db, app).await?;
    let destructions = rows::of_application(db, app.id)
        .await?
        .into_iter()
        .map(|d| Destruction {
            at: d.created_at,
            part: d.part,
            reason: d.reason,
            objects: d.objects,
            fields: d.fields.split(',').map(str::to_string).collect(),
        })
        .collect();
    Ok(RetentionView {
        retention: CaseRetention::from(&schedule),
        hold: app.held_at.map(|held_at| LegalHold {
            held_at,
            held_by: app.held_by,
            reason: app.hold_reason.clone().unwrap_or_default(),
        }),
        destructions,
    })
}

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminApplicationsApi {
    /// When the case's photos, result files and personal fields go, what went already, and
    /// its legal hold.
    #[oai(path = "/v1/admin/applications/:id/retention", method = "get")]
    async fn retention(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<RetentionView>> {
        auth.0.require(Role::Admin)?;
        let app = applications::find(state.db()?, id.0)
            .await?
            .ok_or_else(not_found)?;
        Ok(Json(view(&state, &app).await?))
    }

    /// Put the case on legal hold: retention destroys nothing more of it until the hold is
    /// lifted. Setting it again replaces the reason.
    #[oai(path = "/v1/admin/applications/:id/legal-hold", method = "put")]
    async fn hold(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
        body: Json<HoldRequest>,
    ) -> ApiResult<Json<RetentionView>> {
        auth.0.require(Role::Admin)?;
        let reason = body.0.reason.trim();
        if reason.is_empty() {
            return Err(ApiError::invalid_fields(vec![FieldProblem::new(
                "reason",
                "must say why the data is kept",
            )]));
        }
        let (app, _) = state
            .cases
            .set_hold(state.db()?, id.0, Some((auth.0.id, reason)))
            .await
            .map_err(hold_error)?;
        audit_staff_action(
            &state,
            &auth.0,
            &ip,
            "applications.legal_hold",
            Some(("application", app.id)),
            Some(format!("reason={reason}")),
        )
        .await?;
        Ok(Json(view(&state, &app).await?))
    }

    /// Lift the case's legal hold: its retention dates apply again (a date already past is
    /// acted on at the job's next run). Lifting a hold that is not there changes nothing.
    #[oai(path = "/v1/admin/applications/:id/legal-hold", method = "delete")]
    async fn release(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
    ) -> ApiResult<Json<RetentionView>> {
        auth.0.require(Role::Admin)?;
        let (app, lifted) = state
            .cases
            .set_hold(state.db()?, id.0, None)
            .await
            .map_err(hold_error)?;
        if lifted {
            audit_staff_action(
                &state,
                &auth.0,
                &ip,
                "applications.legal_hold_lifted",
                Some(("application", app.id)),
                None,
            )
            .await?;
        }
        Ok(Json(view(&state, &app).await?))
    }
}

fn hold_error(e: CaseError) -> ApiError {
    match e {
        CaseError::NotFound => not_found(),
        e => e.into(),
    }
}
