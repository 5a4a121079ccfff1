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
    /// The cover sheet to print and attach to the envelope (A4 PDF): the code, its QR, the box
    /// and the originals that go inside.
    pub cover_url: String,
    /// Not found in the box by then, the drop is flagged and the citizen reminded.
    pub drop_by: DateTime<Utc>,
    /// When the citizen was reminded (the drop was not found by `drop_by`).
    #[oai(skip_serializing_if_is_none)]
    pub reminded_at: Option<DateTime<Utc>>,
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
pub enum CoverSheet {
    /// The cover sheet, one A4 page.
    #[oai(status = 200, content_type = "application/pdf")]
    Pdf(
        Binary<Vec<u8>>,
        /// `attachment; filename="drop-off-XXXX-XXXX.pdf"`.
        #[oai(header = "Content-Disposition")]
        String,
        /// `private, no-cache`: the item's list of originals may change with the catalogue.
        #[oai(header = "Cache-Control")]
        String,
    ),
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
        cover_url: format!("/v1/applications/{id}/drop-off/cover"),
        drop_by: drop_off::drop_by(config, row.created_at),
        reminded_at: row.overdue_at,
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

    /// The drop-off's cover sheet, an A4 PDF to print and attach to the envelope: the code in
    /// large type and as a QR, where the box is and when it is emptied, the day to drop it by,
    /// and the originals that go inside with a box to tick for each.
    #[oai(path = "/v1/applications/:id/drop-off/cover", method = "get")]
    async fn cover(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<CoverSheet> {
        let sheet = (state.cases)
            .cover_sheet(state.db()?, auth.0.id, id.0)
            .await?;
        let pdf = drop_sheet::cover_pdf(&sheet).map_err(ApiError::internal)?;
        let name = drop_code::display(&sheet.code);
        Ok(CoverSheet::Pdf(
            Binary(pdf),
            format!("attachment; filename=\"drop-off-{name}.pdf\""),
            "private, no-cache".into(),
        ))
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
