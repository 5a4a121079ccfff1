//! `/v1/applications/{id}/drop-off`: leaving the paper originals in the centre's 24-hour box
//! instead of booking a pickup, where the item allows it (`drop_box`). The answer carries the
//! drop code to write on the envelope (or print as its QR, `.../drop-off/qr`), where the box is
//! and when reception empties it. Taking it back (`DELETE`) is possible until the box is emptied.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::{Binary, Json};
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::applications::Address;
use crate::api::applications::pickup::{address_problems, contact_of};
use crate::api::problem::{ApiError, ApiResult};
use crate::api::security::CitizenAuth;
use crate::cases::drop_off;
use crate::cases::drop_sheet;
use crate::cases::pickup::Booking;
use crate::config::Config;
use crate::domain::drop_code;
use crate::state::AppState;
use crate::store::shipments::shipment;

pub struct DropOffApi;

#[derive(Debug, Clone, Object)]
pub struct DropOffRequest {
    /// Where mismatched originals (and, without a return address, the result) are posted back.
    pub address: Address,
}

#[derive(Debug, Clone, Object)]
pub struct DropOffView {
    /// The shipment of this leg (partner `box`; see `GET /v1/applications/{id}/shipments`).
    pub shipment_id: Uuid,
    /// The code to write on the envelope, `XXXX-XXXX`.
    pub code: String,
    /// `pending` until reception takes the envelope from the box, then `delivered`.
    pub status: String,
    /// Where the box is.
    pub place: String,
    /// When reception empties the box each day (`HH:MM`, local time).
    pub emptied_at: Vec<String>,
    /// The code as a QR image to print or show.
    pub qr_url: String,
    pub created_at: DateTime<Utc>,
}

#[derive(ApiResponse)]
pub enum DropOffChosen {
    /// The drop-off is chosen: write the code on the envelope and leave it in the box.
    #[oai(status = 201)]
    Created(Json<DropOffView>),
    /// The drop-off was chosen already (a retried request).
    #[oai(status = 200)]
    Existing(Json<DropOffView>),
}

#[derive(ApiResponse)]
pub enum DropOffTakenBack {
    /// Taken back: the code is void, and the case waits for a pickup or another drop-off.
    #[oai(status = 204)]
    TakenBack,
}

#[derive(ApiResponse)]
pub enum QrImage {
    /// The drop code as a QR image.
    #[oai(status = 200, content_type = "image/png")]
    Png(
        Binary<Vec<u8>>,
        /// `private, max-age=86400`: the code never changes.
        #[oai(header = "Cache-Control")]
        String,
    ),
}

fn view(config: &Config, id: Uuid, row: &shipment::Model) -> DropOffView {
    let code = row.waybill_no.clone().unwrap_or_default();
    DropOffView {
        shipment_id: row.id,
        code: drop_code::display(&code),
        status: row.status.clone(),
        place: config.courier.drop_box.place.clone(),
        emptied_at: config.courier.drop_box.empty_at.clone(),
        qr_url: format!("/v1/applications/{id}/drop-off/qr"),
        created_at: row.created_at,
    }
}

#[OpenApi(tag = "ApiTags::Applications")]
impl DropOffApi {
    /// Choose to leave the paper originals in the centre's 24-hour box, once pre-review has
    /// passed and where the item allows it (409 `drop_off_not_offered` otherwise).
    #[oai(path = "/v1/applications/:id/drop-off", method = "post")]
    async fn choose(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
        body: Json<DropOffRequest>,
    ) -> ApiResult<DropOffChosen> {
        let problems = address_problems(&body.address);
        if !problems.is_empty() {
            return Err(ApiError::invalid_fields(problems));
        }
        let db = state.db()?;
        let contact = contact_of(&body.address);
        match (state.cases)
            .choose_drop_off(db, auth.0.id, id.0, contact)
            .await?
        {
            Booking::Created(row) => Ok(DropOffChosen::Created(Json(view(
                &state.config,
                id.0,
                &row,
            )))),
            Booking::Existing(row) => Ok(DropOffChosen::Existing(Json(view(
                &state.config,
                id.0,
                &row,
            )))),
        }
    }

    /// The drop-off: its code, where the box is and when it is emptied.
    #[oai(path = "/v1/applications/:id/drop-off", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<DropOffView>> {
        let row = drop_off::drop_off(state.db()?, auth.0.id, id.0).await?;
        Ok(Json(view(&state.config, id.0, &row)))
    }

    /// The drop code as a QR image (PNG), to print and attach to the envelope.
    #[oai(path = "/v1/applications/:id/drop-off/qr", method = "get")]
    async fn qr(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<QrImage> {
        let row = drop_off::drop_off(state.db()?, auth.0.id, id.0).await?;
        let png = drop_sheet::qr_png(row.waybill_no.as_deref().unwrap_or_default())
            .map_err(ApiError::internal)?;
        Ok(QrImage::Png(Binary(png), "private, max-age=86400".into()))
    }

    /// Take the drop-off back before reception emptied the box (409 `drop_off_collected`
    /// after); the code is void.
    #[oai(path = "/v1/applications/:id/drop-off", method = "delete")]
    async fn take_back(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<DropOffTakenBack> {
        (state.cases)
            .cancel_drop_off(state.db()?, auth.0.id, id.0)
            .await?;
        Ok(DropOffTakenBack::TakenBack)
    }
}
