//! `/v1/reception/*`: the centre's reception desk. It lists the cases whose originals the courier
//! delivered and confirms each against its photos (a mismatch goes back to the citizen with the
//! reasons, and the originals back by courier); `batches` hands the departments their batches
//! with a manifest to sign. Reception staff see only their departments' cases.

pub mod batches;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use serde_json::json;
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::applications::pickup::centre;
use crate::api::applications::{concurrent_change, version_of};
use crate::api::problem::{ApiError, ApiResult, FieldProblem};
use crate::api::review::visible;
use crate::api::security::{ClientIp, StaffAuth, audit_staff_action};
use crate::api::text::MultiLine;
use crate::courier::orders;
use crate::domain::application::{self as machine, Action, ApplicationState};
use crate::domain::staff::Role;
use crate::state::AppState;
use crate::store::applications::{self, Actor, application};
use crate::store::shipments::{self, LEG_MATERIALS, LEG_RETURN, NewShipment};
use crate::store::{begin_write, dispatch};

pub struct ReceptionApi;

#[derive(Debug, Clone, Object)]
pub struct ArrivedCase {
    pub id: Uuid,
    pub matter_code: String,
    pub department_code: String,
    pub applicant_name: String,
    pub waybill_no: Option<String>,
    /// When the courier delivered the originals to the centre.
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Object)]
pub struct ArrivedList {
    pub items: Vec<ArrivedCase>,
}

#[derive(Debug, Clone, Object)]
pub struct ReceiveRequest {
    /// Whether the originals match the photos the case was pre-reviewed on.
    pub matches: bool,
    #[oai(validator(max_length = 500), skip_serializing_if_is_none)]
    pub note: Option<MultiLine>,
    /// With `matches: false`: the materials whose originals do not match.
    #[oai(default)]
    pub mismatched_materials: Vec<String>,
}

#[derive(Debug, Clone, Object)]
pub struct Received {
    pub application_id: Uuid,
    /// `received`, or `returned` after a mismatch.
    pub state: String,
    /// The courier leg that takes the originals back, after a mismatch.
    #[oai(skip_serializing_if_is_none)]
    pub return_shipment_id: Option<Uuid>,
}

#[OpenApi(tag = "ApiTags::Review")]
impl ReceptionApi {
    /// Cases of my departments whose originals the courier delivered to the centre.
    #[oai(path = "/v1/reception/queue", method = "get")]
    async fn queue(&self, state: Data<&AppState>, auth: StaffAuth) -> ApiResult<Json<ArrivedList>> {
        auth.0.require(Role::Reception)?;
        let db = state.db()?;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
        let in_transit = application::Entity::find()
            .filter(application::Column::State.eq(ApplicationState::OriginalsInTransit.as_str()))
            .filter(application::Column::DepartmentCode.is_in(auth.0.departments.clone()))
            .order_by_asc(application::Column::UpdatedAt)
            .all(db)
            .await?;
        let mut items = Vec::new();
        for app in in_transit {
            let Some(leg) = shipments::current_leg(db, app.id, LEG_MATERIALS).await? else {
                continue;
            };
            if leg.status != "delivered" {
                continue;
            }
            items.push(ArrivedCase {
                id: app.id,
                matter_code: app.matter_code,
                department_code: app.department_code,
                applicant_name: app.applicant_name,
                waybill_no: leg.waybill_no,
                delivered_at: leg.delivered_at,
            });
        }
        Ok(Json(ArrivedList { items }))
    }

    /// Confirm the originals of an arrived case against its photos.
    #[oai(path = "/v1/reception/applications/:id/receive", method = "post")]
    async fn receive(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
        body: Json<ReceiveRequest>,
    ) -> ApiResult<Json<Received>> {
        auth.0.require(Role::Reception)?;
        let db = state.db()?;
        let txn = begin_write(db).await?;
        let app = visible(&txn, &auth.0, id.0).await?;
        let leg = shipments::current_leg(&txn, app.id, LEG_MATERIALS).await?;
        let arrived = app.state == ApplicationState::OriginalsInTransit.as_str()
            && leg.as_ref().is_some_and(|l| l.status == "delivered");
        if !arrived {
            return Err(ApiError::conflict(
                "originals_not_arrived",
                format!(
                    "The case is {}; reception confirms cases whose originals the courier delivered.",
                    app.state
                ),
            ));
        }
        let note = body
            .note
            .clone()
            .filter(|n| !n.trim().is_empty())
            .map(MultiLine::into_string);
        let version = version_of(&txn, &app).await?;
        let action = if body.matches {
            Action::Receive
        } else {
            let mut problems = Vec::new();
            if body.mismatched_materials.is_empty() {
                problems.push(FieldProblem::new(
                    "mismatched_materials",
                    "name at least one material whose original does not match",
                ));
            }
            for (i, code) in body.mismatched_materials.iter().enumerate() {
                if !version.materials.iter().any(|m| &m.code == code) {
                    problems.push(FieldProblem::new(
                        format!("mismatched_materials[{i}]"),
                        "is not a material of this application",
                    ));
                }
            }
            if !problems.is_empty() {
                return Err(ApiError::invalid_fields(problems));
            }
            Action::ReceiveMismatch
        };
        let from = ApplicationState::OriginalsInTransit;
        let to = machine::next(from, action).map_err(ApiError::internal)?;
        // Before the event: the return message reads the finding at or before its event's time.
        dispatch::record_reception(
            &txn,
            app.id,
            auth.0.id,
            body.matches,
            note.clone(),
            &body.mismatched_materials,
        )
        .await?;
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
        let mut return_shipment_id = None;
        if body.matches {
            dispatch::set_received(&txn, app.id).await?;
        } else {
            let reason = note
                .clone()
                .unwrap_or_else(|| "原件与上传的照片不一致，请核对后重新上传".into());
            let reasons: Vec<_> = body
                .mismatched_materials
                .iter()
                .map(|code| json!({ "material_code": code, "reason": reason }))
                .collect();
            applications::set_return_reasons(&txn, app.id, Some(json!(reasons))).await?;
            if crate::api::matters::returns_originals(&state, &version.matter)
                && let Some(leg) = &leg
            {
                let back = shipments::insert(
                    &txn,
                    NewShipment {
                        application_id: app.id,
                        leg: LEG_RETURN,
                        partner: leg.partner.clone(),
                        sender: json!(centre(&state)),
                        recipient: serde_json::from_str(&leg.sender).map_err(ApiError::internal)?,
                        pickup_date: None,
                        pickup_slot: None,
                        pickup_from: None,
                        pickup_until: None,
                    },
                )
                .await?;
                orders::enqueue_create(&txn, back.id).await?;
                return_shipment_id = Some(back.id);
            }
        }
        txn.commit().await?;
        audit_staff_action(
            &state,
            &auth.0,
            &ip,
            "reception.receive",
            Some(("application", app.id)),
            Some(format!("matches={}", body.matches)),
        )
        .await?;
        Ok(Json(Received {
            application_id: app.id,
            state: to.as_str().into(),
            return_shipment_id,
        }))
    }
}
