//! `/v1/filings/{id}/pickup`: one courier pickup of the paper originals of every item of a
//! bundle that posts them, booked once all of those passed pre-review. One order, one parcel;
//! moving or cancelling it moves or cancels it for every item.

use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::applications::pickup::{Booked, Cancelled, Pickup, PickupRequest, check, view};
use crate::api::problem::ApiResult;
use crate::api::security::CitizenAuth;
use crate::cases::CaseError;
use crate::cases::pickup::Booking;
use crate::state::AppState;
use crate::store::shipments::{self, LEG_MATERIALS};
use crate::store::{applications, filings};

pub struct FilingPickupApi;

#[OpenApi(tag = "ApiTags::Applications")]
impl FilingPickupApi {
    /// Book one pickup of the originals of every item that posts them, once all of those
    /// passed pre-review (`filing_not_ready` names the others). `carries` lists the cases.
    #[oai(path = "/v1/filings/:id/pickup", method = "post")]
    async fn schedule(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
        body: Json<PickupRequest>,
    ) -> ApiResult<Booked> {
        let db = state.db()?;
        let (contact, window) = check(&state, &body)?;
        match (state.cases)
            .schedule_filing_pickup(db, auth.0.id, id.0, contact, window)
            .await?
        {
            Booking::Created(row) => Ok(Booked::Created(Json(view(db, &row).await?))),
            Booking::Existing(row) => Ok(Booked::Existing(Json(view(db, &row).await?))),
        }
    }

    /// The filing's booked pickup, with its waybill once the partner gave one.
    #[oai(path = "/v1/filings/:id/pickup", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<Pickup>> {
        let db = state.db()?;
        let filing = filings::find_owned(db, auth.0.id, id.0)
            .await?
            .ok_or(CaseError::FilingNotFound)?;
        for item in applications::of_filing(db, filing.id).await? {
            if let Some(leg) = shipments::current_leg(db, item.id, LEG_MATERIALS).await? {
                return Ok(Json(view(db, &leg).await?));
            }
        }
        Err(CaseError::PickupNotFound.into())
    }

    /// Change the address or window of the filing's pickup, before the courier came. The
    /// partner order is replaced, for every item it collects.
    #[oai(path = "/v1/filings/:id/pickup", method = "put")]
    async fn reschedule(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
        body: Json<PickupRequest>,
    ) -> ApiResult<Json<Pickup>> {
        let db = state.db()?;
        let rebook = check(&state, &body)?;
        let row = (state.cases)
            .change_filing_pickup(db, auth.0.id, id.0, Some(rebook))
            .await?
            .ok_or(CaseError::PickupNotFound)?;
        Ok(Json(view(db, &row).await?))
    }

    /// Cancel the filing's pickup before the courier came; every item waits for a new booking.
    #[oai(path = "/v1/filings/:id/pickup", method = "delete")]
    async fn cancel(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Cancelled> {
        (state.cases)
            .change_filing_pickup(state.db()?, auth.0.id, id.0, None)
            .await?;
        Ok(Cancelled::Cancelled)
    }
}
