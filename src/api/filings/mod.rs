//! `/v1/filings`: a citizen's filings of "one thing" bundles (一件事). A filing makes one
//! application per item; the materials its items share are asked once (`materials` says where
//! to upload or attach each, and which items it also fills); one submit submits them all.
//! Each item is then an ordinary application of its department: decided, returned and fixed on
//! its own. Another citizen's filing answers 404 exactly like a missing one. The items' paper
//! originals, if any, go in one pickup (`pickup.rs`).

pub mod pickup;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::applications::{
    Address, ApplicantInput, Event, ReturnReason, State, check_new, event_view,
};
use crate::api::bundles::{current_items, find};
use crate::api::idempotent;
use crate::api::matters::Department;
use crate::api::problem::{ApiError, ApiResult};
use crate::api::security::CitizenAuth;
use crate::api::text::MultiLine;
use crate::cases::bundles::shared;
use crate::cases::{CaseError, reads};
use crate::domain::application::ApplicationState;
use crate::http::rate_limit::Limit;
use crate::state::AppState;
use crate::store::applications::{self, application};
use crate::store::catalog::MatterVersion;
use crate::store::filings::{self, filing};
use crate::store::{begin_write, pages};

pub struct FilingsApi;

#[derive(Debug, Clone, Object)]
pub struct NewFiling {
    #[oai(validator(min_length = 1, max_length = 64))]
    pub bundle_code: String,
    /// The applicant of every item.
    pub applicant: ApplicantInput,
    /// Where paper results are delivered.
    #[oai(skip_serializing_if_is_none)]
    pub return_address: Option<Address>,
    #[oai(validator(max_length = 500), skip_serializing_if_is_none)]
    pub note: Option<MultiLine>,
}

/// Where a filing stands, from its items'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum FilingState {
    /// Not submitted yet.
    Draft,
    /// Submitted; some item is still under way.
    InProgress,
    /// Every item ended (completed, refused, rejected or withdrawn), not all withdrawn.
    Settled,
    /// Every item was withdrawn.
    Cancelled,
}

/// One item of a filing: an application of its own department.
#[derive(Debug, Clone, Object)]
pub struct FilingItem {
    pub application_id: Uuid,
    pub matter_code: String,
    pub matter_name: String,
    pub department: Department,
    pub state: State,
    /// While this item is `returned`: what its department asks to fix, and only that.
    #[oai(skip_serializing_if_is_none)]
    pub return_reasons: Option<Vec<ReturnReason>>,
}

/// Another item a material of the filing also fills.
#[derive(Debug, Clone, Object)]
pub struct MaterialShare {
    pub application_id: Uuid,
    pub matter_code: String,
    pub material_code: String,
}

/// A material the filing asks for once: upload or attach its pages to `application_id`'s
/// material `material_code`; at submission they also fill each of `shared_with`.
#[derive(Debug, Clone, Object)]
pub struct FilingMaterial {
    pub application_id: Uuid,
    pub material_code: String,
    pub name: String,
    #[oai(skip_serializing_if_is_none)]
    pub document_type: Option<String>,
    /// Required by at least one of the items it fills.
    pub required: bool,
    pub page_count: i32,
    /// Enough pages for every item it fills.
    pub satisfied: bool,
    pub shared_with: Vec<MaterialShare>,
}

#[derive(Debug, Clone, Object)]
pub struct Filing {
    pub id: Uuid,
    pub bundle_code: String,
    pub bundle_name: String,
    pub state: FilingState,
    pub created_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub submitted_at: Option<DateTime<Utc>>,
    /// In the bundle's order.
    pub items: Vec<FilingItem>,
    /// What its items not withdrawn ask for, each shared material once.
    pub materials: Vec<FilingMaterial>,
}

#[derive(Debug, Clone, Object)]
pub struct FilingPage {
    pub items: Vec<Filing>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

/// An event of one item, in the filing's one timeline.
#[derive(Debug, Clone, Object)]
pub struct FilingEvent {
    pub application_id: Uuid,
    pub matter_code: String,
    #[oai(flatten)]
    pub event: Event,
}

#[derive(Debug, Clone, Object)]
pub struct FilingTimeline {
    /// Every item's events, oldest first.
    pub items: Vec<FilingEvent>,
}

/// An item a cancel left as it was: past the point where it can be withdrawn.
#[derive(Debug, Clone, Object)]
pub struct KeptItem {
    pub application_id: Uuid,
    pub matter_code: String,
    pub state: State,
}

#[derive(Debug, Clone, Object)]
pub struct FilingCancelled {
    pub filing: Filing,
    /// The items that could not be withdrawn any more; every other item is withdrawn.
    pub not_cancelled: Vec<KeptItem>,
}

#[derive(ApiResponse)]
pub enum Created {
    /// The filing with a draft per item. A retry with the same `Idempotency-Key` and body
    /// answers the same.
    #[oai(status = 201)]
    Created(Json<Filing>),
}

const CREATE_SCOPE: &str = "filings.create";

#[OpenApi(tag = "ApiTags::Applications")]
impl FilingsApi {
    /// File a bundle: one draft application per item, each for its own department.
    #[oai(path = "/v1/filings", method = "post")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        /// Any unique string per intended filing (e.g. a UUID), reused on retries.
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 128))]
        idempotency_key: Header<Option<String>>,
        body: Json<NewFiling>,
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
        let bundle = find(&txn, &input.bundle_code).await?;
        let versions = current_items(&txn, &bundle).await?;
        let id_required = versions.iter().any(|v| v.matter.id_number_required);
        let address_required = versions
            .iter()
            .any(|v| v.matter.result_by_courier && !v.matter.originals_by_courier);
        let checked = check_new(
            &input.applicant,
            input.return_address.as_ref(),
            id_required,
            address_required,
        )?;
        let draft = || {
            checked.draft(
                &input.applicant,
                input.return_address.as_ref(),
                input.note.as_ref(),
            )
        };
        let filed = (state.cases)
            .file_bundle(&txn, citizen, &bundle, &versions, draft, &state.keys)
            .await?;
        let view = filing_view(&txn, &filed.filing, &filed.items).await?;
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

    /// My filings, newest first.
    #[oai(path = "/v1/filings", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<Uuid>>,
        /// Page size, 1 to 50.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "50"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<Json<FilingPage>> {
        let db = state.db()?;
        let rows = filings::list_owned(db, auth.0.id, cursor.0, limit.0 + 1).await?;
        let more = rows.len() as u64 > limit.0;
        let mut items = Vec::new();
        for row in rows.into_iter().take(limit.0 as usize) {
            let apps = applications::of_filing(db, row.id).await?;
            items.push(filing_view(db, &row, &apps).await?);
        }
        let next_cursor = more
            .then(|| items.last().map(|f| f.id.to_string()))
            .flatten();
        Ok(Json(FilingPage { items, next_cursor }))
    }

    /// One of my filings: each item's state, and what its items still ask for.
    #[oai(path = "/v1/filings/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<Filing>> {
        Ok(Json(owned_view(&state, auth.0.id, id.0).await?))
    }

    /// Submit every item at once. The shared materials' pages fill each item that asks for
    /// them; every item must then be complete (`materials_incomplete` names `item.material`),
    /// and either all are submitted or none is. Withdrawn items stay out.
    #[oai(path = "/v1/filings/:id/submit", method = "post")]
    async fn submit(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<Filing>> {
        let db = state.db()?;
        let filed = state.cases.submit_filing(db, auth.0.id, id.0).await?;
        Ok(Json(filing_view(db, &filed.filing, &filed.items).await?))
    }

    /// Withdraw the whole filing: every item that can still be withdrawn is; the answer names
    /// those that could not. Withdraw one item alone with its own cancel.
    #[oai(path = "/v1/filings/:id/cancel", method = "post")]
    async fn cancel(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<FilingCancelled>> {
        let db = state.db()?;
        let kept = state.cases.cancel_filing(db, auth.0.id, id.0).await?;
        let filing = owned_view(&state, auth.0.id, id.0).await?;
        let not_cancelled = kept
            .into_iter()
            .map(|(application_id, state)| KeptItem {
                application_id,
                matter_code: filing
                    .items
                    .iter()
                    .find(|i| i.application_id == application_id)
                    .map(|i| i.matter_code.clone())
                    .unwrap_or_default(),
                state: state.into(),
            })
            .collect();
        Ok(Json(FilingCancelled {
            filing,
            not_cancelled,
        }))
    }

    /// The filing's one timeline: every item's events, oldest first.
    #[oai(path = "/v1/filings/:id/events", method = "get")]
    async fn events(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<FilingTimeline>> {
        let db = state.db()?;
        let filing = filings::find_owned(db, auth.0.id, id.0)
            .await?
            .ok_or(CaseError::FilingNotFound)?;
        let apps = applications::of_filing(db, filing.id).await?;
        let ids: Vec<Uuid> = apps.iter().map(|a| a.id).collect();
        let items = applications::events_of(db, &ids)
            .await?
            .into_iter()
            .map(|e| {
                let matter_code = apps
                    .iter()
                    .find(|a| a.id == e.application_id)
                    .map(|a| a.matter_code.clone())
                    .unwrap_or_default();
                Ok(FilingEvent {
                    application_id: e.application_id,
                    matter_code,
                    event: event_view(e)?,
                })
            })
            .collect::<Result<_, ApiError>>()?;
        Ok(Json(FilingTimeline { items }))
    }
}

fn default_limit() -> u64 {
    20
}

async fn owned_view(state: &AppState, citizen: Uuid, id: Uuid) -> Result<Filing, ApiError> {
    let db = state.db()?;
    let filing = filings::find_owned(db, citizen, id)
        .await?
        .ok_or(CaseError::FilingNotFound)?;
    let apps = applications::of_filing(db, filing.id).await?;
    filing_view(db, &filing, &apps).await
}

/// The filing as its owner sees it, read on `db` (a transaction that just wrote it reads it).
async fn filing_view<C: ConnectionTrait>(
    db: &C,
    filing: &filing::Model,
    apps: &[application::Model],
) -> Result<Filing, ApiError> {
    let mut versions = Vec::with_capacity(apps.len());
    for app in apps {
        versions.push(reads::version_of(db, app).await?);
    }
    let items: Vec<FilingItem> = apps
        .iter()
        .zip(&versions)
        .map(|(app, version)| {
            Ok(FilingItem {
                application_id: app.id,
                matter_code: app.matter_code.clone(),
                matter_name: version.matter.name.clone(),
                department: Department {
                    code: version.matter.department_code.clone(),
                    name: version.matter.department_name.clone(),
                },
                state: State::of(&app.state)?,
                return_reasons: crate::cases::intake::return_reasons::<ReturnReason>(app),
            })
        })
        .collect::<Result<_, ApiError>>()?;
    let states: Vec<ApplicationState> = apps
        .iter()
        .filter_map(|a| ApplicationState::parse(&a.state))
        .collect();
    let live: Vec<(&application::Model, &MatterVersion)> = apps
        .iter()
        .zip(versions.iter().map(|v| &**v))
        .filter(|(a, _)| a.state != ApplicationState::Cancelled.as_str())
        .collect();
    Ok(Filing {
        id: filing.id,
        bundle_code: filing.bundle_code.clone(),
        bundle_name: filing.bundle_name.clone(),
        state: filing_state(&states),
        created_at: filing.created_at,
        submitted_at: filing.submitted_at,
        items,
        materials: materials(db, &live).await?,
    })
}

fn filing_state(states: &[ApplicationState]) -> FilingState {
    use ApplicationState as S;
    let live: Vec<&S> = states.iter().filter(|s| **s != S::Cancelled).collect();
    if live.is_empty() {
        FilingState::Cancelled
    } else if live.iter().all(|s| **s == S::Draft) {
        FilingState::Draft
    } else if live
        .iter()
        .all(|s| matches!(s, S::Completed | S::Refused | S::Rejected))
    {
        FilingState::Settled
    } else {
        FilingState::InProgress
    }
}

/// Every material the live items ask for, a shared one once (at its first item, which holds
/// its pages), with the items it also fills.
async fn materials<C: ConnectionTrait>(
    db: &C,
    live: &[(&application::Model, &MatterVersion)],
) -> Result<Vec<FilingMaterial>, ApiError> {
    let groups = shared(live);
    let mut out = Vec::new();
    for (app, version) in live {
        let stored = pages::of_application(db, app.id).await?;
        for m in &version.materials {
            let group = groups.iter().find(|g| {
                g.members
                    .iter()
                    .any(|(id, code)| *id == app.id && *code == m.code)
            });
            // A shared material is listed once, at its first item.
            if group.is_some_and(|g| g.members[0].0 != app.id) {
                continue;
            }
            let members: Vec<(&application::Model, &crate::store::catalog::material::Model)> =
                match group {
                    Some(g) => g
                        .members
                        .iter()
                        .filter_map(|(id, code)| {
                            let (a, v) = live.iter().find(|(a, _)| a.id == *id)?;
                            Some((*a, v.materials.iter().find(|m| &m.code == code)?))
                        })
                        .collect(),
                    None => vec![(*app, m)],
                };
            let count = stored.iter().filter(|p| p.material_code == m.code).count() as i32;
            out.push(FilingMaterial {
                application_id: app.id,
                material_code: m.code.clone(),
                name: m.name.clone(),
                document_type: m.document_type.clone(),
                required: members.iter().any(|(_, m)| m.required),
                page_count: count,
                satisfied: members
                    .iter()
                    .all(|(_, m)| count >= m.min_pages && count <= m.max_pages),
                shared_with: members
                    .iter()
                    .skip(1)
                    .map(|(a, m)| MaterialShare {
                        application_id: a.id,
                        matter_code: a.matter_code.clone(),
                        material_code: m.code.clone(),
                    })
                    .collect(),
            });
        }
    }
    Ok(out)
}
