//! `/v1/applications`: a citizen's applications. Every route is the citizen's own: another
//! citizen's id answers 404 exactly like a missing one. Pages live in `pages.rs` (path A) and
//! `uploads.rs` (path B); both go through `intake.rs`.

pub mod intake;
pub mod notifications;
pub mod pages;
pub mod pickup;
pub mod receive;
pub mod result;
pub mod shipments;
pub mod uploads;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::{ParseFromJSON, ToJSON};
use poem_openapi::{ApiResponse, Object, OpenApi};
use sea_orm::ActiveValue::Set;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::matters::{AcceptedKind, Department, material_kinds};
use crate::api::problem::{ApiError, ApiResult, FieldProblem};
use crate::api::security::CitizenAuth;
use crate::api::text::MultiLine;
use crate::domain::application::{self as machine, Action, ApplicationState};
use crate::domain::email::EmailAddress;
use crate::domain::id_number::IdNumber;
use crate::domain::phone::PhoneNumber;
use crate::http::rate_limit::Limit;
use crate::state::AppState;
use crate::store::applications::{self, Actor, application};
use crate::store::pages as store_pages;
use crate::store::{begin_write, catalog, idempotency};

pub struct ApplicationsApi;

#[derive(Debug, Clone, Object)]
pub struct Address {
    #[oai(validator(min_length = 1, max_length = 32))]
    pub province: String,
    #[oai(validator(min_length = 1, max_length = 32))]
    pub city: String,
    #[oai(validator(min_length = 1, max_length = 32))]
    pub district: String,
    /// Street, building, room.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub detail: String,
    #[oai(validator(min_length = 1, max_length = 50))]
    pub contact_name: String,
    pub phone: String,
}

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

#[derive(Debug, Clone, Object)]
pub struct Applicant {
    pub name: String,
    pub phone: String,
    /// Shown in full to its owner only; masked (`110105********002X`) to anyone else.
    #[oai(skip_serializing_if_is_none)]
    pub id_number: Option<String>,
    /// Shown in full to its owner only; masked (`z***@example.com`) to anyone else.
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct MatterRef {
    pub code: String,
    /// The catalogue version the application was filed under.
    pub version: i32,
    pub name: String,
    pub department: Department,
}

/// A required document of the application's item, and how far the citizen got with it.
#[derive(Debug, Clone, Object)]
pub struct ApplicationMaterial {
    pub code: String,
    pub name: String,
    pub guidance: String,
    pub kinds: Vec<AcceptedKind>,
    pub required: bool,
    pub min_pages: i32,
    pub max_pages: i32,
    pub original_required: bool,
    pub page_count: i32,
    /// Enough pages for submission.
    pub satisfied: bool,
    /// The pages, in order.
    pub pages: Vec<pages::PageWithLinks>,
}

/// Why pre-review sent a material back, in plain words.
#[derive(Debug, Clone, Object, serde::Serialize, serde::Deserialize)]
pub struct ReturnReason {
    pub material_code: String,
    pub reason: MultiLine,
}

#[derive(Debug, Clone, Object)]
pub struct Application {
    pub id: Uuid,
    /// `draft`, `submitted`, `returned`, … (see docs/design/state-machine.md).
    pub state: String,
    pub matter: MatterRef,
    pub applicant: Applicant,
    #[oai(skip_serializing_if_is_none)]
    pub return_address: Option<Address>,
    #[oai(skip_serializing_if_is_none)]
    pub note: Option<String>,
    pub materials: Vec<ApplicationMaterial>,
    /// While `returned`: what to fix. Only these materials' pages may change.
    #[oai(skip_serializing_if_is_none)]
    pub return_reasons: Option<Vec<ReturnReason>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub submitted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Object)]
pub struct ApplicationSummary {
    pub id: Uuid,
    pub state: String,
    pub matter_code: String,
    pub matter_name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub submitted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Object)]
pub struct ApplicationPage {
    pub items: Vec<ApplicationSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct Event {
    pub id: Uuid,
    /// `citizen`, `staff`, `courier` or `system`.
    pub actor_kind: String,
    pub action: String,
    #[oai(skip_serializing_if_is_none)]
    pub from_state: Option<String>,
    pub to_state: String,
    #[oai(skip_serializing_if_is_none)]
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct EventList {
    pub items: Vec<Event>,
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
        let request_hash = hex::encode(Sha256::digest(input.to_json_string().as_bytes()));
        let txn = begin_write(db).await?;
        if let Some(key) = &idempotency_key.0
            && let Some(saved) = idempotency::find(&txn, citizen, CREATE_SCOPE, key).await?
        {
            return replay(&saved, &request_hash);
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
        let checked = check_new(&input, version.matter.id_number_required, address_required)?;
        let now = Utc::now();
        let model = application::ActiveModel {
            id: Set(Uuid::now_v7()),
            citizen_id: Set(citizen),
            matter_id: Set(version.matter.id),
            matter_code: Set(version.matter.code.clone()),
            state: Set(ApplicationState::Draft.as_str().into()),
            version: Set(1),
            applicant_name: Set(input.applicant.name.trim().to_string()),
            applicant_phone: Set(checked.phone.as_str().to_string()),
            applicant_id_number_enc: Set(checked
                .id_number
                .as_ref()
                .map(|id| state.keys.data.encrypt(id.as_str()))),
            applicant_id_number_masked: Set(checked.id_number.as_ref().map(IdNumber::masked)),
            return_address: Set(input
                .return_address
                .as_ref()
                .map(|a| serde_json::from_str(&a.to_json_string()).expect("JSON"))),
            note: Set(input
                .note
                .clone()
                .filter(|n| !n.trim().is_empty())
                .map(MultiLine::into_string)),
            created_at: Set(now),
            updated_at: Set(now),
            submitted_at: Set(None),
            first_submitted_at: Set(None),
            department_code: Set(version.matter.department_code.clone()),
            claimed_by: Set(None),
            claim_expires_at: Set(None),
            queue_priority: Set(0),
            return_reasons: Set(None),
            prereview_due_at: Set(None),
            applicant_email: Set(checked.email.as_ref().map(|e| e.as_str().to_string())),
            overdue_alerted_at: Set(None),
            batch_id: Set(None),
            received_at: Set(None),
            receipt_confirmed_at: Set(None),
        };
        let created = applications::insert(&txn, model, Actor::citizen(citizen)).await?;
        let view = view(&state, &created, &version, &[], Viewer::Owner);
        if let Some(key) = &idempotency_key.0 {
            let saved = idempotency::save(
                &txn,
                citizen,
                CREATE_SCOPE,
                key,
                request_hash.clone(),
                201,
                view.to_json_string(),
            )
            .await;
            if let Err(e) = saved {
                // A concurrent retry with the same key committed first (PostgreSQL lets both
                // transactions run this far): drop ours and answer with theirs.
                if !crate::store::is_unique_violation(&e) {
                    return Err(e.into());
                }
                txn.rollback().await?;
                let txn = begin_write(db).await?;
                return match idempotency::find(&txn, citizen, CREATE_SCOPE, key).await? {
                    Some(saved) => replay(&saved, &request_hash),
                    None => Err(concurrent_change()),
                };
            }
        }
        txn.commit().await?;
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
        let more = rows.len() as u64 > limit.0;
        let mut items = Vec::new();
        for row in rows.into_iter().take(limit.0 as usize) {
            let name = catalog::find_version(db, row.matter_id)
                .await?
                .map(|v| v.matter.name)
                .unwrap_or_default();
            items.push(ApplicationSummary {
                id: row.id,
                state: row.state,
                matter_code: row.matter_code,
                matter_name: name,
                created_at: row.created_at,
                updated_at: row.updated_at,
                submitted_at: row.submitted_at,
            });
        }
        let next_cursor = more
            .then(|| items.last().map(|i| i.id.to_string()))
            .flatten();
        Ok(Json(ApplicationPage { items, next_cursor }))
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
        let db = state.db()?;
        let citizen = auth.0.id;
        let txn = begin_write(db).await?;
        let app = lock_owned(&txn, citizen, id.0).await?;
        let from = parse_state(&app)?;
        if from != ApplicationState::Cancelled {
            let to = machine::next(from, Action::Cancel)
                .map_err(|e| ApiError::conflict("invalid_state", format!("You {e}.")))?;
            if !applications::change_state(
                &txn,
                &state.channels,
                &app,
                to,
                Actor::citizen(citizen),
                "cancel",
                None,
            )
            .await?
            {
                return Err(concurrent_change());
            }
        }
        txn.commit().await?;
        owned_view(&state, citizen, id.0).await
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
        let citizen = auth.0.id;
        let txn = begin_write(db).await?;
        let app = lock_owned(&txn, citizen, id.0).await?;
        let from = parse_state(&app)?;
        let to = machine::next(from, Action::Submit)
            .map_err(|e| ApiError::conflict("invalid_state", format!("You {e}.")))?;
        let version = version_of(&txn, &app).await?;
        let stored = store_pages::of_application(&txn, app.id).await?;
        let problems = intake::incomplete(&version, &stored);
        if !problems.is_empty() {
            let names: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
            return Err(ApiError::unprocessable(
                "materials_incomplete",
                format!("Some materials are not complete: {}.", names.join(", ")),
            )
            .with_errors(problems));
        }
        let action = if from == ApplicationState::Returned {
            "resubmit"
        } else {
            "submit"
        };
        if !applications::change_state(
            &txn,
            &state.channels,
            &app,
            to,
            Actor::citizen(citizen),
            action,
            None,
        )
        .await?
        {
            return Err(concurrent_change());
        }
        if app.first_submitted_at.is_none() {
            let hours = i64::from(version.matter.prereview_hours);
            applications::set_prereview_due(
                &txn,
                app.id,
                Utc::now() + chrono::Duration::hours(hours),
            )
            .await?;
        }
        txn.commit().await?;
        let app = owned(db, citizen, id.0).await?;
        Ok(Json(full_view(&state, &app, &version).await?))
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
        let app = owned(db, auth.0.id, id.0).await?;
        let items = applications::events(db, app.id)
            .await?
            .into_iter()
            .map(event_view)
            .collect();
        Ok(Json(EventList { items }))
    }
}

/// The response an earlier request with the same `Idempotency-Key` produced.
fn replay(saved: &idempotency::record::Model, request_hash: &str) -> ApiResult<Created> {
    if saved.request_hash != request_hash {
        return Err(ApiError::unprocessable(
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request body.",
        ));
    }
    let value: serde_json::Value =
        serde_json::from_str(&saved.response_body).map_err(ApiError::internal)?;
    let view = Application::parse_from_json(Some(value))
        .map_err(|e| ApiError::internal(e.into_message()))?;
    Ok(Created::Created(Json(view)))
}

fn default_limit() -> u64 {
    20
}

pub fn concurrent_change() -> ApiError {
    ApiError::conflict(
        "concurrent_change",
        "The application changed while this request ran. Reload it and try again.",
    )
}

pub async fn owned<C: sea_orm::ConnectionTrait>(
    db: &C,
    citizen: Uuid,
    id: Uuid,
) -> Result<application::Model, ApiError> {
    applications::find_owned(db, citizen, id)
        .await?
        .ok_or_else(|| ApiError::not_found("application_not_found", "No such application."))
}

/// The citizen's application, locked for the rest of the write transaction.
pub async fn lock_owned<C: sea_orm::ConnectionTrait>(
    db: &C,
    citizen: Uuid,
    id: Uuid,
) -> Result<application::Model, ApiError> {
    applications::lock_owned(db, citizen, id)
        .await?
        .ok_or_else(|| ApiError::not_found("application_not_found", "No such application."))
}

pub async fn version_of<C: sea_orm::ConnectionTrait>(
    db: &C,
    app: &application::Model,
) -> Result<catalog::MatterVersion, ApiError> {
    catalog::find_version(db, app.matter_id)
        .await?
        .ok_or_else(|| ApiError::internal("an application's catalogue version is missing"))
}

pub fn parse_state(app: &application::Model) -> Result<ApplicationState, ApiError> {
    ApplicationState::parse(&app.state)
        .ok_or_else(|| ApiError::internal(format!("unknown state {}", app.state)))
}

struct Checked {
    phone: PhoneNumber,
    id_number: Option<IdNumber>,
    email: Option<EmailAddress>,
}

/// Converts the request into domain types, collecting every field problem at once.
fn check_new(
    input: &NewApplication,
    id_number_required: bool,
    address_required: bool,
) -> Result<Checked, ApiError> {
    let mut problems = Vec::new();
    if address_required && input.return_address.is_none() {
        problems.push(FieldProblem::new(
            "return_address",
            "this service item posts its result and collects no originals: say where it goes",
        ));
    }
    if input.applicant.name.trim().is_empty() {
        problems.push(FieldProblem::new("applicant.name", "must not be blank"));
    }
    let phone = PhoneNumber::parse(&input.applicant.phone)
        .map_err(|m| problems.push(FieldProblem::new("applicant.phone", m)))
        .ok();
    let id_number = match input.applicant.id_number.as_deref().map(str::trim) {
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
    let email = match input.applicant.email.as_deref().map(str::trim) {
        Some(raw) if !raw.is_empty() => EmailAddress::parse(raw)
            .map_err(|m| problems.push(FieldProblem::new("applicant.email", m)))
            .ok(),
        _ => None,
    };
    if let Some(address) = &input.return_address
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

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    /// The citizen who filed it: sees the ID number in full.
    Owner,
    /// Staff, or anyone else: sees it masked.
    Other,
}

pub fn event_view(e: applications::event::Model) -> Event {
    Event {
        id: e.id,
        actor_kind: e.actor_kind,
        action: e.action,
        from_state: e.from_state,
        to_state: e.to_state,
        reason: e.reason,
        created_at: e.created_at,
    }
}

/// The citizen's application as they see it now.
async fn owned_view(state: &AppState, citizen: Uuid, id: Uuid) -> ApiResult<Json<Application>> {
    let db = state.db()?;
    let app = owned(db, citizen, id).await?;
    let version = version_of(db, &app).await?;
    Ok(Json(full_view(state, &app, &version).await?))
}

/// The owner's view with every page and its links.
pub async fn full_view(
    state: &AppState,
    app: &application::Model,
    version: &catalog::MatterVersion,
) -> Result<Application, ApiError> {
    let linked = linked_pages(state, app).await?;
    Ok(view(state, app, version, &linked, Viewer::Owner))
}

/// Every page of the application with its short-lived links.
pub async fn linked_pages(
    state: &AppState,
    app: &application::Model,
) -> Result<Vec<pages::PageWithLinks>, ApiError> {
    let stored = store_pages::of_application(state.db()?, app.id).await?;
    let mut linked = Vec::with_capacity(stored.len());
    for page in &stored {
        linked.push(pages::with_links(state, page).await);
    }
    Ok(linked)
}

/// The reasons of the latest return, while the application is returned.
pub fn return_reasons(app: &application::Model) -> Option<Vec<ReturnReason>> {
    if app.state != ApplicationState::Returned.as_str() {
        return None;
    }
    app.return_reasons
        .clone()
        .and_then(|v| serde_json::from_value(v).ok())
}

pub fn view(
    state: &AppState,
    app: &application::Model,
    version: &catalog::MatterVersion,
    stored: &[pages::PageWithLinks],
    viewer: Viewer,
) -> Application {
    let id_number = match viewer {
        Viewer::Owner => app
            .applicant_id_number_enc
            .as_deref()
            .and_then(|enc| state.keys.data.decrypt(enc)),
        Viewer::Other => app.applicant_id_number_masked.clone(),
    };
    let materials = version
        .materials
        .iter()
        .map(|m| {
            let own: Vec<pages::PageWithLinks> = stored
                .iter()
                .filter(|p| p.page.material_code == m.code)
                .cloned()
                .collect();
            let count = own.len() as i32;
            ApplicationMaterial {
                code: m.code.clone(),
                name: m.name.clone(),
                guidance: m.guidance.clone(),
                kinds: material_kinds(&m.kinds),
                required: m.required,
                min_pages: m.min_pages,
                max_pages: m.max_pages,
                original_required: m.original_required,
                page_count: count,
                satisfied: count >= m.min_pages && count <= m.max_pages,
                pages: own,
            }
        })
        .collect();
    Application {
        id: app.id,
        state: app.state.clone(),
        matter: MatterRef {
            code: version.matter.code.clone(),
            version: version.matter.version,
            name: version.matter.name.clone(),
            department: Department {
                code: version.matter.department_code.clone(),
                name: version.matter.department_name.clone(),
            },
        },
        applicant: Applicant {
            name: app.applicant_name.clone(),
            phone: app.applicant_phone.clone(),
            id_number,
            email: app.applicant_email.as_deref().map(|e| match viewer {
                Viewer::Owner => e.to_string(),
                _ => EmailAddress::masked(e),
            }),
        },
        return_address: app
            .return_address
            .clone()
            .and_then(|v| Address::parse_from_json(Some(v)).ok()),
        note: app.note.clone(),
        materials,
        return_reasons: return_reasons(app),
        created_at: app.created_at,
        updated_at: app.updated_at,
        submitted_at: app.submitted_at,
    }
}
