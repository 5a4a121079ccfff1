//! `/v1/reception/*`: the centre's reception desk. It lists the cases whose originals the courier
//! delivered and confirms each against its photos (a mismatch goes back to the citizen with the
//! reasons, and the originals back by courier); `batches` hands the departments their batches
//! with a manifest to sign. Reception staff see only their departments' cases.

pub mod batches;
pub mod box_runs;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::applications::{Application, Event, State, staff_view};
use crate::api::problem::{ApiError, ApiResult};
use crate::api::security::{ClientIp, StaffAuth, audit_staff_read, staff_record};
use crate::api::text::MultiLine;
use crate::cases::change::state_of;
use crate::cases::drop_off::{BOX, shown_waybill};
use crate::cases::reads;
use crate::cases::reception::Finding;
use crate::domain::application::ApplicationState;
use crate::domain::drop_code;
use crate::domain::staff::Role;
use crate::state::AppState;
use crate::store::dispatch;

pub struct ReceptionApi;

#[derive(Debug, Clone, Object)]
pub struct ArrivedCase {
    pub id: Uuid,
    pub matter_code: String,
    pub department_code: String,
    pub applicant_name: String,
    /// Who carried the originals: `sf`, `ems`, or `box` (dropped in the 24-hour box, the
    /// waybill being its drop code).
    pub partner: String,
    pub waybill_no: Option<String>,
    /// When the courier delivered the originals to the centre.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// The case a scanned waybill belongs to.
#[derive(Debug, Clone, Object)]
pub struct ScannedCase {
    #[oai(flatten)]
    pub case: ArrivedCase,
    /// Where the case stands: `originals_in_transit` with `awaiting_reception` is the one to
    /// check now; any other state means reception has nothing to do with it.
    pub state: State,
    /// The courier delivered its originals here and reception has not checked them yet.
    pub awaiting_reception: bool,
    /// Other cases of my departments whose originals came in the same parcel (a bundle's items
    /// collected in one pickup): check each of them too.
    pub same_parcel: Vec<Uuid>,
}

#[derive(Debug, Clone, Object)]
pub struct ArrivedList {
    pub items: Vec<ArrivedCase>,
}

/// A case as reception reads it: the photos and the list of materials to check the paper
/// originals against, and what happened so far. Read-only.
#[derive(Object)]
pub struct ReceptionCase {
    pub application: Application,
    pub events: Vec<Event>,
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
    pub state: State,
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
        let arrived = dispatch::arrived(state.db()?, &auth.0.departments).await?;
        let items = arrived
            .into_iter()
            .map(|(app, leg)| ArrivedCase {
                id: app.id,
                matter_code: app.matter_code,
                department_code: app.department_code,
                applicant_name: app.applicant_name,
                waybill_no: shown_waybill(&leg.partner, leg.waybill_no),
                partner: leg.partner,
                delivered_at: leg.delivered_at,
            })
            .collect();
        Ok(Json(ArrivedList { items }))
    }

    /// The case of my departments whose originals came under this waybill number (what the
    /// barcode scanner reads), or in the box under this drop code. 404 `waybill_not_found` when
    /// none did.
    #[oai(path = "/v1/reception/waybills/:waybill_no", method = "get")]
    async fn by_waybill(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        #[oai(validator(min_length = 1, max_length = 64))] waybill_no: Path<String>,
    ) -> ApiResult<Json<ScannedCase>> {
        auth.0.require(Role::Reception)?;
        let partners = state.couriers.codes();
        let waybill = waybill_no.0.trim();
        let (db, departments) = (state.db()?, &auth.0.departments);
        let mut found = dispatch::by_waybill(db, departments, &partners, waybill).await?;
        // An envelope from the box: its drop code, however it was typed.
        if found.is_none()
            && let Some(code) = drop_code::normalize(waybill)
        {
            found = dispatch::by_waybill(db, departments, &[BOX], &code).await?;
        }
        let (cases, leg) = found.ok_or_else(|| {
            ApiError::not_found(
                "waybill_not_found",
                "No case of your departments came under this waybill number.",
            )
        })?;
        // The first case still to check, or the first of the parcel.
        let pending = ApplicationState::OriginalsInTransit.as_str();
        let first = cases.iter().position(|a| a.state == pending).unwrap_or(0);
        let mut cases = cases;
        let app = cases.remove(first);
        let same_parcel = cases.iter().map(|a| a.id).collect();
        let app_state = state_of(&app)?;
        let awaiting =
            app_state == ApplicationState::OriginalsInTransit && leg.status == "delivered";
        Ok(Json(ScannedCase {
            case: ArrivedCase {
                id: app.id,
                matter_code: app.matter_code,
                department_code: app.department_code,
                applicant_name: app.applicant_name,
                waybill_no: shown_waybill(&leg.partner, leg.waybill_no),
                partner: leg.partner,
                delivered_at: leg.delivered_at,
            },
            state: app_state.into(),
            awaiting_reception: awaiting,
            same_parcel,
        }))
    }

    /// A case of my departments, read-only: the application with its pages (short-lived links)
    /// and its events, to check the originals against. Audited.
    #[oai(path = "/v1/reception/applications/:id", method = "get")]
    async fn case(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
    ) -> ApiResult<Json<ReceptionCase>> {
        auth.0.require(Role::Reception)?;
        let app = reads::visible(state.db()?, &auth.0.departments, id.0).await?;
        let (application, events) = staff_view(&state, &app).await?;
        let case = ReceptionCase {
            application,
            events,
        };
        audit_staff_read(
            &state,
            staff_record(
                &auth.0,
                &ip,
                "reception.view",
                Some(("application", app.id)),
                None,
            ),
        )
        .await?;
        Ok(Json(case))
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
        let note = body
            .note
            .clone()
            .filter(|n| !n.trim().is_empty())
            .map(MultiLine::into_string);
        let finding = Finding {
            matches: body.matches,
            mismatched_materials: body.mismatched_materials.clone(),
            note,
        };
        let app_id = id.0;
        let audit = staff_record(
            &auth.0,
            &ip,
            "reception.receive",
            Some(("application", app_id)),
            Some(format!("matches={}", body.matches)),
        );
        let received = (state.cases)
            .receive_originals(
                state.db()?,
                auth.0.id,
                &auth.0.departments,
                app_id,
                finding,
                audit,
            )
            .await?;
        Ok(Json(Received {
            application_id: app_id,
            state: received.state.into(),
            return_shipment_id: received.return_shipment_id,
        }))
    }
}
