//! `/v1/agent/applications`: an agent at a village service point files for residents. The
//! agent sees the cases of their own service point only (another point's id answers 404), does
//! what the citizen would (pages, submit, cancel, the timeline and the parcels), asks the
//! resident's confirmation with a code, and hands the result over; every action is audited as
//! done on behalf of the resident. The rules live in `cases::agents`; the point's one pickup is
//! `pickups.rs`.

use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::admin::service_points::point_view;
use crate::api::applications::documents::case_wallet;
use crate::api::applications::pages::{self, PageCreated, PageDeleted, PageForm};
use crate::api::applications::receive::FieldSource;
use crate::api::applications::shipments::{ShipmentList, tracked};
use crate::api::applications::{
    Address, ApplicantInput, Application, ApplicationPage, EventList, Viewer, attach_refs,
    check_new, staff_view, summary_page, view,
};
use crate::api::idempotent;
use crate::api::problem::{ApiError, ApiResult};
use crate::api::security::{ClientIp, StaffAuth, StaffMember, audit_for_resident};
use crate::api::text::MultiLine;
use crate::cases::agents::Agent;
use crate::domain::agent::Method;
use crate::domain::staff::{Role, split_list};
use crate::http::rate_limit::Limit;
use crate::state::AppState;
use crate::store::applications::{self, application};
use crate::store::{begin_write, catalog, service_points};

pub mod pickups;

pub struct AgentApi;

/// How the resident authorizes the agent.
#[derive(Debug, Clone, Copy, poem_openapi::Enum)]
#[oai(rename_all = "snake_case")]
pub enum AuthorizationMethod {
    /// The resident confirms in the mini-program with a short code the agent shows.
    MiniProgram,
    /// A photographed signed authorization form (授权委托书), uploaded as the material
    /// `power-of-attorney`, which pre-review must accept.
    SignedForm,
}

impl From<AuthorizationMethod> for Method {
    fn from(m: AuthorizationMethod) -> Self {
        match m {
            AuthorizationMethod::MiniProgram => Method::MiniProgram,
            AuthorizationMethod::SignedForm => Method::SignedForm,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct NewAgentApplication {
    #[oai(validator(min_length = 1, max_length = 64))]
    pub matter_code: String,
    /// The resident the case is filed for.
    pub resident: ApplicantInput,
    pub authorization: AuthorizationMethod,
    /// Where a paper result goes; defaults to the service point, where the agent hands it over.
    #[oai(skip_serializing_if_is_none)]
    pub return_address: Option<Address>,
    #[oai(validator(max_length = 500), skip_serializing_if_is_none)]
    pub note: Option<MultiLine>,
}

#[derive(ApiResponse)]
pub enum AgentCreated {
    /// The new draft. A retry with the same `Idempotency-Key` and body answers the same.
    #[oai(status = 201)]
    Created(Json<Application>),
}

/// A code for the resident to confirm with in the mini-program, shown once.
#[derive(Debug, Clone, Object)]
pub struct ConfirmationCode {
    /// Eight letters and digits; the resident types it or scans `qr_text`.
    pub code: String,
    /// What the agent's screen renders as a QR code for the mini-program to scan.
    pub qr_text: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

const CREATE_SCOPE: &str = "agent.applications.create";

/// The caller as an agent, with their service point; 403 for anyone else.
pub fn agent_of(member: &StaffMember) -> Result<Agent, ApiError> {
    member.require(Role::Agent)?;
    let service_point = member.service_point.ok_or_else(|| {
        ApiError::forbidden(
            "no_service_point",
            "This agent account is not attached to a service point.",
        )
    })?;
    Ok(Agent {
        id: member.id,
        service_point,
    })
}

#[OpenApi(tag = "ApiTags::Agent")]
impl AgentApi {
    /// Start a draft for a resident. The resident's authorization must be recorded before it
    /// can be submitted.
    #[oai(path = "/v1/agent/applications", method = "post")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        /// Any unique string per intended application, reused on retries.
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 128))]
        idempotency_key: Header<Option<String>>,
        body: Json<NewAgentApplication>,
    ) -> ApiResult<AgentCreated> {
        let agent = agent_of(&auth.0)?;
        state.rate_limits.citizen(Limit::Applications, agent.id)?;
        let db = state.db()?;
        let input = body.0;
        let request_hash = idempotent::request_hash(&input);
        let key = idempotency_key.0.as_deref();
        let txn = begin_write(db).await?;
        if let Some(earlier) =
            idempotent::earlier(&txn, agent.id, CREATE_SCOPE, key, &request_hash).await?
        {
            return Ok(AgentCreated::Created(Json(earlier)));
        }
        // Read in this transaction: SQLite's other connections wait for its write lock.
        let point = service_points::find(&txn, agent.service_point)
            .await?
            .ok_or_else(|| ApiError::internal("an agent's service point is missing"))?;
        let Some(version) = catalog::find(&txn, &input.matter_code, None).await? else {
            return Err(ApiError::not_found(
                "matter_not_found",
                format!("There is no service item `{}`.", input.matter_code),
            ));
        };
        if !split_list(&point.departments).contains(&version.matter.department_code) {
            return Err(ApiError::unprocessable(
                "matter_not_at_service_point",
                format!(
                    "The service point `{}` does not file items of the department `{}`.",
                    point.code, version.matter.department_code
                ),
            ));
        }
        let checked = check_new(
            &input.resident,
            input.return_address.as_ref(),
            version.matter.id_number_required,
            false,
        )?;
        // The result comes back to the service point unless the resident chose an address.
        let point_address = point_view(&point)?.address;
        let return_address = input.return_address.clone().unwrap_or(point_address);
        let draft = checked.draft(&input.resident, Some(&return_address), input.note.as_ref());
        let created = (state.cases)
            .file_for_resident(
                &txn,
                agent,
                input.authorization.into(),
                &version,
                draft,
                &state.keys,
            )
            .await?;
        audit_for_resident(
            &txn,
            &auth.0,
            &ip,
            "agent.create",
            &created,
            Some(format!("matter={}", created.matter_code)),
        )
        .await?;
        let view = agent_view_in(&state, &txn, &created).await?;
        let saved = idempotent::save(
            db,
            txn,
            agent.id,
            CREATE_SCOPE,
            key,
            &request_hash,
            201,
            view,
        )
        .await?;
        let view = saved.answer().await?;
        Ok(AgentCreated::Created(Json(view)))
    }

    /// The cases my service point filed, newest first.
    #[oai(path = "/v1/agent/applications", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<Uuid>>,
        /// Page size, 1 to 100.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<Json<ApplicationPage>> {
        let agent = agent_of(&auth.0)?;
        let db = state.db()?;
        let rows =
            applications::list_of_point(db, agent.service_point, cursor.0, limit.0 + 1).await?;
        Ok(Json(summary_page(db, rows, limit.0).await?))
    }

    /// One case of my service point, with its materials, pages and authorization.
    #[oai(path = "/v1/agent/applications/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<Application>> {
        now(&state, agent_of(&auth.0)?, id.0).await
    }

    /// The case's timeline, oldest first.
    #[oai(path = "/v1/agent/applications/:id/events", method = "get")]
    async fn events(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<EventList>> {
        let agent = agent_of(&auth.0)?;
        let app = state.cases.of_point(state.db()?, agent, id.0).await?;
        Ok(Json(EventList {
            items: staff_view(&state, &app).await?.1,
        }))
    }

    /// A fresh confirmation code for the resident (mini-program authorization). Any earlier
    /// code stops working; the code works once, for `agents.code_ttl_secs`.
    #[oai(
        path = "/v1/agent/applications/:id/authorization/code",
        method = "post"
    )]
    async fn code(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
    ) -> ApiResult<Json<ConfirmationCode>> {
        let agent = agent_of(&auth.0)?;
        let db = state.db()?;
        let issued = state.cases.issue_code(db, agent, id.0).await?;
        let app = state.cases.of_point(db, agent, id.0).await?;
        audit_for_resident(db, &auth.0, &ip, "agent.issue_code", &app, None).await?;
        Ok(Json(ConfirmationCode {
            qr_text: format!("beebox:authorize:{}", issued.code),
            code: issued.code,
            expires_at: issued.expires_at,
        }))
    }

    /// Upload one page of a material for the resident. Send the file in the multipart field
    /// `file`. A signed-form case also takes the material `power-of-attorney`.
    #[oai(
        path = "/v1/agent/applications/:id/materials/:material_code/pages",
        method = "post"
    )]
    async fn upload(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
        material_code: Path<String>,
        form: PageForm,
    ) -> ApiResult<PageCreated> {
        let agent = agent_of(&auth.0)?;
        state.rate_limits.citizen(Limit::PageUploads, agent.id)?;
        state.note_upload();
        let db = state.db()?;
        let app = writable(&state, agent, id.0).await?;
        let target = (state.cases)
            .target(db, app.citizen_id, app.id, &material_code.0)
            .await?;
        let field = form.file().await?;
        let original_name = field.file_name().map(str::to_string);
        let page = (state.cases)
            .receive_page(db, target, FieldSource(field), original_name)
            .await?;
        let detail = Some(format!("material={}", page.material_code));
        audit_for_resident(db, &auth.0, &ip, "agent.upload_page", &app, detail).await?;
        Ok(PageCreated::Created(Json(pages::view(&page))))
    }

    /// Remove a page while the case is editable.
    #[oai(path = "/v1/agent/applications/:id/pages/:page_id", method = "delete")]
    async fn delete_page(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
        page_id: Path<Uuid>,
    ) -> ApiResult<PageDeleted> {
        let agent = agent_of(&auth.0)?;
        let db = state.db()?;
        let app = writable(&state, agent, id.0).await?;
        (state.cases)
            .delete_page(db, app.citizen_id, app.id, page_id.0)
            .await?;
        let detail = Some(format!("page={}", page_id.0));
        audit_for_resident(db, &auth.0, &ip, "agent.delete_page", &app, detail).await?;
        Ok(PageDeleted::Deleted)
    }

    /// Submit for pre-review, or resubmit a returned case. Needs the resident's authorization:
    /// confirmed in the mini-program, or a signed form among the pages (422
    /// `authorization_required` otherwise, and when it was revoked or has expired).
    #[oai(path = "/v1/agent/applications/:id/submit", method = "post")]
    async fn submit(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
    ) -> ApiResult<Json<Application>> {
        let agent = agent_of(&auth.0)?;
        let db = state.db()?;
        let app = state.cases.of_point(db, agent, id.0).await?;
        (state.cases)
            .submit_as(db, app.citizen_id, app.id, Some(agent.id))
            .await?;
        audit_for_resident(db, &auth.0, &ip, "agent.submit", &app, None).await?;
        now(&state, agent, id.0).await
    }

    /// Record that I handed the posted result (which came back to my service point) to the
    /// resident. Confirms its receipt, completing the case if the courier has not reported the
    /// delivery yet; a retry answers the same.
    #[oai(path = "/v1/agent/applications/:id/handover", method = "post")]
    async fn handover(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
    ) -> ApiResult<Json<Application>> {
        let agent = agent_of(&auth.0)?;
        let db = state.db()?;
        let app = state.cases.hand_over(db, agent, id.0).await?;
        audit_for_resident(db, &auth.0, &ip, "agent.handover", &app, None).await?;
        now(&state, agent, id.0).await
    }

    /// Withdraw the case, while the resident's authorization stands. Withdrawing twice is
    /// harmless.
    #[oai(path = "/v1/agent/applications/:id/cancel", method = "post")]
    async fn cancel(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
    ) -> ApiResult<Json<Application>> {
        let agent = agent_of(&auth.0)?;
        let db = state.db()?;
        let app = writable(&state, agent, id.0).await?;
        (state.cases)
            .cancel_as(db, app.citizen_id, app.id, Some(agent.id))
            .await?;
        audit_for_resident(db, &auth.0, &ip, "agent.cancel", &app, None).await?;
        now(&state, agent, id.0).await
    }

    // Last in this impl: poem's router stopped matching `.../shipments` when it was added
    // before `.../submit` (the two share the prefix `s`); added after, both match.
    /// The case's parcels and their routes: the originals from the point, the result back.
    #[oai(path = "/v1/agent/applications/:id/shipments", method = "get")]
    async fn shipments(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<ShipmentList>> {
        let agent = agent_of(&auth.0)?;
        let db = state.db()?;
        let app = state.cases.of_point(db, agent, id.0).await?;
        Ok(Json(tracked(db, app.id).await?))
    }
}

/// The point's case `id` as it is now.
async fn now(state: &AppState, agent: Agent, id: Uuid) -> ApiResult<Json<Application>> {
    let app = state.cases.of_point(state.db()?, agent, id).await?;
    Ok(Json(staff_view(state, &app).await?.0))
}

/// The point's case `id`, which the agent may still change: not after the resident revoked
/// the authorization or it expired.
async fn writable(state: &AppState, agent: Agent, id: Uuid) -> ApiResult<application::Model> {
    let db = state.db()?;
    let app = state.cases.of_point(db, agent, id).await?;
    state.cases.check_authorized(db, &app, false).await?;
    Ok(app)
}

/// The new case as the agent sees it, read in the creating transaction (no pages yet).
async fn agent_view_in(
    state: &AppState,
    txn: &sea_orm::DatabaseTransaction,
    app: &application::Model,
) -> ApiResult<Application> {
    let version = crate::cases::reads::version_of(txn, app).await?;
    let wallet = case_wallet(state, txn, app, &version, &[], false, true).await?;
    let mut application = view(state, app, &version, &[], &wallet, Viewer::Other)?;
    attach_refs(state, txn, app, &mut application).await?;
    Ok(application)
}

fn default_limit() -> u64 {
    20
}
