//! `/v1/applications`: a citizen's applications. Every route is the citizen's own: another
//! citizen's id answers 404 exactly like a missing one. Pages live in `pages.rs` (path A) and
//! `uploads.rs` (path B); both go through `intake.rs`.

pub mod documents;
pub mod drop_off;
pub mod notifications;
pub mod pages;
pub mod pickup;
pub mod receive;
pub mod result;
pub mod shipments;
pub mod uploads;
mod view;

pub use view::{
    Address, AgentFiling, Applicant, Application, ApplicationMaterial, ApplicationPage,
    ApplicationSummary, AuthorizationView, Event, EventList, FilingRef, MatterRef, ReturnReason,
    ServicePointRef, State, Viewer, agent_filing, attach_refs, event_view, filing_ref, full_view,
    full_view_of, link_pages, staff_view, summary_page, view,
};

use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::idempotent;
use crate::api::problem::{ApiError, ApiResult, FieldProblem};
use crate::api::security::CitizenAuth;
use crate::api::text::MultiLine;
use crate::cases::citizen::Draft;
use crate::cases::reads;
use crate::domain::email::EmailAddress;
use crate::domain::id_number::IdNumber;
use crate::domain::phone::PhoneNumber;
use crate::http::rate_limit::Limit;
use crate::state::AppState;
use crate::store::applications;
use crate::store::{begin_write, catalog};

pub struct ApplicationsApi;

#[derive(Debug, Clone, Object)]
pub struct ApplicantInput {
    #[oai(validator(min_length = 1, max_length = 50))]
    pub name: String,
    /// Mainland mobile number.
    pub phone: String,
    /// 18-digit resident ID number; required when the item says so.
    #[oai(skip_serializing_if_is_none)]
    pub id_number: Option<String>,
    /// Where email notifications of this application go (optional).
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct NewApplication {
    #[oai(validator(min_length = 1, max_length = 64))]
    pub matter_code: String,
    pub applicant: ApplicantInput,
    /// Where a paper result is delivered; defaults to the pickup address.
    #[oai(skip_serializing_if_is_none)]
    pub return_address: Option<Address>,
    #[oai(validator(max_length = 500), skip_serializing_if_is_none)]
    pub note: Option<MultiLine>,
}

#[derive(ApiResponse)]
pub enum Created {
    /// The new draft. A retry with the same `Idempotency-Key` and body answers the same.
    #[oai(status = 201)]
    Created(Json<Application>),
}

const CREATE_SCOPE: &str = "applications.create";

#[OpenApi(tag = "ApiTags::Applications")]
impl ApplicationsApi {
    /// Start a draft application for a service item.
    #[oai(path = "/v1/applications", method = "post")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        /// Any unique string per intended application (e.g. a UUID), reused on retries.
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 128))]
        idempotency_key: Header<Option<String>>,
        body: Json<NewApplication>,
    ) -> ApiResult<Created> {
        let citizen = auth.0.id;
        state.rate_limits.citizen(Limit::Applications, citizen)?;
        let db = state.db()?;
        let input = body.0;
        let request_hash = idempotent::request_hash(&input);
        let key = idempotency_key.0.as_deref();
        let txn = begin_write(db).await?;
        if let Some(earlier) =
            idempotent::earlier(&txn, citizen, CREATE_SCOPE, key, &request_hash).await?
        {
            return Ok(Created::Created(Json(earlier)));
        }
        let Some(version) = catalog::find(&txn, &input.matter_code, None).await? else {
            return Err(ApiError::not_found(
                "matter_not_found",
                format!("There is no service item `{}`.", input.matter_code),
            ));
        };
        // A posted result with no pickup to take an address from needs one from the start.
        let address_required =
            version.matter.result_by_courier && !version.matter.originals_by_courier;
        let checked = check_new(
            &input.applicant,
            input.return_address.as_ref(),
            version.matter.id_number_required,
            address_required,
        )?;
        let draft = checked.draft(
            &input.applicant,
            input.return_address.as_ref(),
            input.note.as_ref(),
        );
        let created = (state.cases)
            .create_draft(&txn, citizen, &version, draft, &state.keys)
            .await?;
        // What the wallet could fill, told at once: nothing is attached to a new draft yet.
        let wallet =
            documents::case_wallet(&state, &txn, &created, &version, &[], true, false).await?;
        let view = view(&state, &created, &version, &[], &wallet, Viewer::Owner)?;
        let saved = idempotent::save(
            db,
            txn,
            citizen,
            CREATE_SCOPE,
            key,
            &request_hash,
            201,
            view,
        )
        .await?;
        let view = saved.answer().await?;
        Ok(Created::Created(Json(view)))
    }

    /// My applications, newest first.
    #[oai(path = "/v1/applications", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<Uuid>>,
        /// Page size, 1 to 100.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<Json<ApplicationPage>> {
        let db = state.db()?;
        let rows = applications::list_owned(db, auth.0.id, cursor.0, limit.0 + 1).await?;
        Ok(Json(summary_page(db, rows, limit.0).await?))
    }

    /// One of my applications, with each required material and whether it is satisfied.
    #[oai(path = "/v1/applications/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<Application>> {
        owned_view(&state, auth.0.id, id.0).await
    }

    /// Withdraw a draft, submitted or returned application. Cancelling twice is harmless.
    #[oai(path = "/v1/applications/:id/cancel", method = "post")]
    async fn cancel(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<Application>> {
        state.cases.cancel(state.db()?, auth.0.id, id.0).await?;
        owned_view(&state, auth.0.id, id.0).await
    }

    /// Submit for pre-review (or resubmit a returned case). Every required material needs
    /// between its minimum and maximum pages; from then on the pages are fixed.
    #[oai(path = "/v1/applications/:id/submit", method = "post")]
    async fn submit(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<Application>> {
        let db = state.db()?;
        let version = state.cases.submit(db, auth.0.id, id.0).await?;
        let app = reads::owned(db, auth.0.id, id.0).await?;
        Ok(Json(full_view(&state, &app, &version).await?))
    }

    /// Revoke the authorization I gave the agent who filed this case for me. The agent can
    /// no longer change or submit it; I still can. Only while the department has not decided;
    /// revoking twice is harmless.
    #[oai(path = "/v1/applications/:id/authorization/revoke", method = "post")]
    async fn revoke_authorization(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<Application>> {
        let db = state.db()?;
        state
            .cases
            .revoke_authorization(db, auth.0.id, id.0)
            .await?;
        owned_view(&state, auth.0.id, id.0).await
    }

    /// The application's timeline: every state change, oldest first.
    #[oai(path = "/v1/applications/:id/events", method = "get")]
    async fn events(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<EventList>> {
        let db = state.db()?;
        let app = reads::owned(db, auth.0.id, id.0).await?;
        let items = applications::events(db, app.id)
            .await?
            .into_iter()
            .map(event_view)
            .collect::<Result<_, _>>()?;
        Ok(Json(EventList { items }))
    }
}

fn default_limit() -> u64 {
    20
}

/// A new draft's applicant in domain types.
pub struct Checked {
    phone: PhoneNumber,
    id_number: Option<IdNumber>,
    email: Option<EmailAddress>,
}

impl Checked {
    /// The draft these checked fields and the rest of the request make.
    pub fn draft(
        &self,
        applicant: &ApplicantInput,
        return_address: Option<&Address>,
        note: Option<&MultiLine>,
    ) -> Draft {
        Draft {
            applicant_name: applicant.name.trim().to_string(),
            phone: self.phone.clone(),
            id_number: self.id_number.clone(),
            email: self.email.clone(),
            return_address: return_address
                .map(|a| serde_json::from_str(&a.to_json_string()).expect("JSON")),
            note: note
                .filter(|n| !n.trim().is_empty())
                .cloned()
                .map(MultiLine::into_string),
            filing_id: None,
            agent: None,
        }
    }
}

/// Converts a new draft's applicant and addresses into domain types, collecting every field
/// problem at once.
pub fn check_new(
    applicant: &ApplicantInput,
    return_address: Option<&Address>,
    id_number_required: bool,
    address_required: bool,
) -> Result<Checked, ApiError> {
    let mut problems = Vec::new();
    if address_required && return_address.is_none() {
        problems.push(FieldProblem::new(
            "return_address",
            "this service item posts its result and collects no originals: say where it goes",
        ));
    }
    if applicant.name.trim().is_empty() {
        problems.push(FieldProblem::new("applicant.name", "must not be blank"));
    }
    let phone = PhoneNumber::parse(&applicant.phone)
        .map_err(|m| problems.push(FieldProblem::new("applicant.phone", m)))
        .ok();
    let id_number = match applicant.id_number.as_deref().map(str::trim) {
        Some(raw) if !raw.is_empty() => IdNumber::parse(raw)
            .map_err(|m| problems.push(FieldProblem::new("applicant.id_number", m)))
            .ok(),
        _ => {
            if id_number_required {
                problems.push(FieldProblem::new(
                    "applicant.id_number",
                    "this service item requires the applicant's ID number",
                ));
            }
            None
        }
    };
    let email = match applicant.email.as_deref().map(str::trim) {
        Some(raw) if !raw.is_empty() => EmailAddress::parse(raw)
            .map_err(|m| problems.push(FieldProblem::new("applicant.email", m)))
            .ok(),
        _ => None,
    };
    if let Some(address) = return_address
        && PhoneNumber::parse(&address.phone).is_err()
    {
        problems.push(FieldProblem::new(
            "return_address.phone",
            "must be an 11-digit mainland mobile number",
        ));
    }
    match (phone, problems.is_empty()) {
        (Some(phone), true) => Ok(Checked {
            phone,
            id_number,
            email,
        }),
        _ => Err(ApiError::invalid_fields(problems)),
    }
}

/// The citizen's application as they see it now.
async fn owned_view(state: &AppState, citizen: Uuid, id: Uuid) -> ApiResult<Json<Application>> {
    let db = state.db()?;
    let (app, stored) = crate::store::pages::owned_with_pages(db, citizen, id)
        .await?
        .ok_or(crate::cases::CaseError::NotFound)?;
    let version = reads::version_of(db, &app).await?;
    Ok(Json(full_view_of(state, &app, &version, &stored).await?))
}
