//! The application as the API shows it: to its owner in full, to staff with the ID number and
//! email masked. Shared by the citizen's, the reviewer's and the department's routes.

use chrono::{DateTime, Utc};
use poem_openapi::types::ParseFromJSON;
use poem_openapi::{Enum, Object};
use uuid::Uuid;

use super::documents::{CaseWallet, ReusedDocument, WalletDocument, case_wallet};
use super::pages;
use crate::api::matters::{AcceptedKind, Department, DocumentReuse, material_kinds};
use crate::api::problem::ApiError;
use crate::api::text::MultiLine;
use crate::domain::application::ApplicationState;
use crate::domain::email::EmailAddress;
use crate::state::AppState;
use crate::store::applications::{self, application};
use crate::store::catalog;
use crate::store::pages as store_pages;

/// Where an application is in its workflow (docs/design/state-machine.md).
// The domain's `ApplicationState` mirrored for the contract: the domain stays free of the HTTP
// framework's derives, and the `From` below fails to compile when a state is added there only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "ApplicationState", rename_all = "snake_case")]
pub enum State {
    Draft,
    Submitted,
    Returned,
    Rejected,
    PrereviewPassed,
    PickupScheduled,
    AwaitingDropOff,
    OriginalsInTransit,
    Received,
    AtDepartment,
    Approved,
    Refused,
    ResultInDelivery,
    Completed,
    Cancelled,
}

impl From<ApplicationState> for State {
    fn from(state: ApplicationState) -> Self {
        use ApplicationState as S;
        match state {
            S::Draft => Self::Draft,
            S::Submitted => Self::Submitted,
            S::Returned => Self::Returned,
            S::Rejected => Self::Rejected,
            S::PrereviewPassed => Self::PrereviewPassed,
            S::PickupScheduled => Self::PickupScheduled,
            S::AwaitingDropOff => Self::AwaitingDropOff,
            S::OriginalsInTransit => Self::OriginalsInTransit,
            S::Received => Self::Received,
            S::AtDepartment => Self::AtDepartment,
            S::Approved => Self::Approved,
            S::Refused => Self::Refused,
            S::ResultInDelivery => Self::ResultInDelivery,
            S::Completed => Self::Completed,
            S::Cancelled => Self::Cancelled,
        }
    }
}

impl State {
    /// The state of a stored row. The schema only holds the machine's states; a row that
    /// does not is a broken invariant, answered as 500.
    pub fn of(stored: &str) -> Result<Self, ApiError> {
        ApplicationState::parse(stored)
            .map(Self::from)
            .ok_or_else(|| ApiError::internal(format!("unknown state {stored}")))
    }
}

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
    /// The kind of document this material is, if the catalogue names one.
    #[oai(skip_serializing_if_is_none)]
    pub document_type: Option<String>,
    /// Whether a verified document of the citizen's wallet may fill it.
    pub reuse: DocumentReuse,
    /// Documents of the wallet whose pages fill it ("reused: verified on D by R in case C").
    pub reused: Vec<ReusedDocument>,
    /// To the owner, while the material may change: the wallet's documents that could fill it
    /// now. Attach one with `POST .../materials/{code}/documents`.
    pub offers: Vec<WalletDocument>,
}

/// Why pre-review sent a material back, in plain words.
#[derive(Debug, Clone, Object, serde::Serialize, serde::Deserialize)]
pub struct ReturnReason {
    pub material_code: String,
    pub reason: MultiLine,
}

/// The bundle filing (一件事) an application is an item of.
#[derive(Debug, Clone, Object)]
pub struct FilingRef {
    pub id: Uuid,
    pub bundle_code: String,
    pub bundle_name: String,
}

/// The service point an agent files at.
#[derive(Debug, Clone, Object)]
pub struct ServicePointRef {
    pub id: Uuid,
    pub code: String,
    pub name: String,
}

/// The resident's authorization of the agent.
#[derive(Debug, Clone, Object)]
pub struct AuthorizationView {
    /// `mini_program` (confirmed with a code) or `signed_form` (the material
    /// `power-of-attorney`, accepted by pre-review).
    pub method: String,
    /// `pending`, `granted`, `revoked` or `expired`.
    pub status: String,
    #[oai(skip_serializing_if_is_none)]
    pub granted_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub expires_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Filed by an agent at a service point on behalf of the resident.
#[derive(Debug, Clone, Object)]
pub struct AgentFiling {
    pub agent_name: String,
    pub service_point: ServicePointRef,
    pub authorization: AuthorizationView,
    /// When the agent handed the posted result to the resident.
    #[oai(skip_serializing_if_is_none)]
    pub handed_over_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Object)]
pub struct Application {
    pub id: Uuid,
    pub state: State,
    pub matter: MatterRef,
    /// Set when it was filed as an item of a bundle, with other departments' items.
    #[oai(skip_serializing_if_is_none)]
    pub filing: Option<FilingRef>,
    /// Set when an agent filed it for the resident: who, where, and the authorization.
    #[oai(skip_serializing_if_is_none)]
    pub agent_filing: Option<AgentFiling>,
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
    pub state: State,
    pub matter_code: String,
    pub matter_name: String,
    /// The bundle filing (一件事) it is an item of: group its items under `GET /v1/filings/{id}`.
    #[oai(skip_serializing_if_is_none)]
    pub filing_id: Option<Uuid>,
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
    pub from_state: Option<State>,
    pub to_state: State,
    #[oai(skip_serializing_if_is_none)]
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct EventList {
    pub items: Vec<Event>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    /// The citizen who filed it: sees the ID number in full.
    Owner,
    /// Staff, or anyone else: sees it masked.
    Other,
}

pub fn event_view(e: applications::event::Model) -> Result<Event, ApiError> {
    Ok(Event {
        id: e.id,
        actor_kind: e.actor_kind,
        action: e.action,
        from_state: e.from_state.as_deref().map(State::of).transpose()?,
        to_state: State::of(&e.to_state)?,
        reason: e.reason,
        created_at: e.created_at,
    })
}

/// A page of a list: the first `limit` of `rows` (read `limit + 1` to know whether more follow),
/// each with its item's name.
pub async fn summary_page<C: sea_orm::ConnectionTrait>(
    db: &C,
    rows: Vec<applications::Listed>,
    limit: u64,
) -> Result<ApplicationPage, ApiError> {
    let more = rows.len() as u64 > limit;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    let names = catalog::names_of(db, rows.iter().map(|r| r.matter_id)).await?;
    let items: Vec<ApplicationSummary> = rows
        .into_iter()
        .map(|row| {
            Ok(ApplicationSummary {
                id: row.id,
                state: State::of(&row.state)?,
                matter_name: names.get(&row.matter_id).cloned().unwrap_or_default(),
                matter_code: row.matter_code,
                filing_id: row.filing_id,
                created_at: row.created_at,
                updated_at: row.updated_at,
                submitted_at: row.submitted_at,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    let next_cursor = more
        .then(|| items.last().map(|i| i.id.to_string()))
        .flatten();
    Ok(ApplicationPage { items, next_cursor })
}

/// The owner's view with every page and its links.
pub async fn full_view(
    state: &AppState,
    app: &application::Model,
    version: &catalog::MatterVersion,
) -> Result<Application, ApiError> {
    let stored = store_pages::of_application(state.db()?, app.id).await?;
    full_view_of(state, app, version, &stored).await
}

/// `full_view` of pages already read (`store::pages::owned_with_pages` reads them with the row).
pub async fn full_view_of(
    state: &AppState,
    app: &application::Model,
    version: &catalog::MatterVersion,
    stored: &[store_pages::page::Model],
) -> Result<Application, ApiError> {
    let db = state.db()?;
    let linked = link_pages(state, stored).await;
    let wallet = case_wallet(state, db, app, version, stored, true, false).await?;
    let mut application = view(state, app, version, &linked, &wallet, Viewer::Owner)?;
    attach_refs(state, db, app, &mut application).await?;
    Ok(application)
}

/// What `app` is part of, read beside its own row: its bundle filing and its agent filing.
pub async fn attach_refs<C: sea_orm::ConnectionTrait>(
    state: &AppState,
    db: &C,
    app: &application::Model,
    application: &mut Application,
) -> Result<(), ApiError> {
    application.filing = filing_ref(db, app).await?;
    application.agent_filing = agent_filing(state, db, app).await?;
    Ok(())
}

/// Who filed `app` for its resident, if an agent did.
pub async fn agent_filing<C: sea_orm::ConnectionTrait>(
    state: &AppState,
    db: &C,
    app: &application::Model,
) -> Result<Option<AgentFiling>, ApiError> {
    let (Some(agent_id), Some(point_id)) = (app.agent_id, app.service_point_id) else {
        return Ok(None);
    };
    let missing = || ApiError::internal("an agent filing's records are missing");
    let agent = crate::store::staff::find(db, agent_id)
        .await?
        .ok_or_else(missing)?;
    let point = crate::store::service_points::find(db, point_id)
        .await?
        .ok_or_else(missing)?;
    let auth = crate::store::authorizations::of_application(db, app.id)
        .await?
        .ok_or_else(missing)?;
    let status = crate::cases::agents::standing(&auth, state.clock.now());
    Ok(Some(AgentFiling {
        agent_name: agent.display_name,
        service_point: ServicePointRef {
            id: point.id,
            code: point.code,
            name: point.name,
        },
        authorization: AuthorizationView {
            method: auth.method,
            status: status.as_str().into(),
            granted_at: auth.granted_at,
            expires_at: auth.expires_at,
            revoked_at: auth.revoked_at,
        },
        handed_over_at: auth.handed_over_at,
    }))
}

/// The filing `app` is an item of, if any.
pub async fn filing_ref<C: sea_orm::ConnectionTrait>(
    db: &C,
    app: &application::Model,
) -> Result<Option<FilingRef>, ApiError> {
    let Some(id) = app.filing_id else {
        return Ok(None);
    };
    Ok(crate::store::filings::find(db, id)
        .await?
        .map(|f| FilingRef {
            id: f.id,
            bundle_code: f.bundle_code,
            bundle_name: f.bundle_name,
        }))
}

/// A case as reception and the department read it: the application (ID number masked) with its
/// pages' short-lived links, and its events.
pub async fn staff_view(
    state: &AppState,
    app: &application::Model,
) -> Result<(Application, Vec<Event>), ApiError> {
    let db = state.db()?;
    let version = crate::cases::reads::version_of(db, app).await?;
    let stored = store_pages::of_application(db, app.id).await?;
    let linked = link_pages(state, &stored).await;
    let wallet = case_wallet(state, db, app, &version, &stored, false, true).await?;
    let mut application = view(state, app, &version, &linked, &wallet, Viewer::Other)?;
    attach_refs(state, db, app, &mut application).await?;
    let events = applications::events(db, app.id)
        .await?
        .into_iter()
        .map(event_view)
        .collect::<Result<_, _>>()?;
    Ok((application, events))
}

/// `stored` pages with their short-lived links.
pub async fn link_pages(
    state: &AppState,
    stored: &[store_pages::page::Model],
) -> Vec<pages::PageWithLinks> {
    let mut linked = Vec::with_capacity(stored.len());
    for page in stored {
        linked.push(pages::with_links(state, page).await);
    }
    linked
}

pub fn view(
    state: &AppState,
    app: &application::Model,
    version: &catalog::MatterVersion,
    stored: &[pages::PageWithLinks],
    wallet: &CaseWallet,
    viewer: Viewer,
) -> Result<Application, ApiError> {
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
                document_type: m.document_type.clone(),
                reuse: crate::api::matters::reuse_of(m),
                reused: wallet.reused.get(&m.code).cloned().unwrap_or_default(),
                offers: wallet.offers.get(&m.code).cloned().unwrap_or_default(),
            }
        })
        .collect();
    Ok(Application {
        id: app.id,
        state: State::of(&app.state)?,
        matter: MatterRef {
            code: version.matter.code.clone(),
            version: version.matter.version,
            name: version.matter.name.clone(),
            department: Department {
                code: version.matter.department_code.clone(),
                name: version.matter.department_name.clone(),
            },
        },
        filing: None,
        agent_filing: None,
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
        return_reasons: crate::cases::intake::return_reasons::<ReturnReason>(app),
        created_at: app.created_at,
        updated_at: app.updated_at,
        submitted_at: app.submitted_at,
    })
}
