//! `/v1/authorizations`: a resident, in the mini-program, reads what an agent files on their
//! behalf (by the code the agent shows) and accepts it. The code travels in the body, never in
//! a URL that access logs keep. Lookups are rate-limited per citizen; a wrong, used or expired
//! code answers 404 `code_invalid` alike.

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use crate::api::ApiTags;
use crate::api::applications::{AgentFiling, Application, agent_filing, full_view};
use crate::api::problem::{ApiError, ApiResult};
use crate::api::security::CitizenAuth;
use crate::cases::reads;
use crate::domain::phone::PhoneNumber;
use crate::http::rate_limit::Limit;
use crate::state::AppState;

pub struct AuthorizationsApi;

#[derive(Debug, Clone, Object)]
pub struct CodeInput {
    /// The code the agent shows (or the mini-program read from its QR code).
    #[oai(validator(min_length = 1, max_length = 32))]
    pub code: String,
}

/// What the resident is asked to authorize.
#[derive(Debug, Clone, Object)]
pub struct AuthorizationOffer {
    /// Who files, where, and the authorization asked for.
    pub agent_filing: AgentFiling,
    pub matter_code: String,
    pub matter_name: String,
    /// The resident named on the case, masked (`张*`).
    pub resident_name: String,
    /// Their phone, masked (`138****0000`).
    pub resident_phone: String,
    /// The materials the agent files, by name.
    pub materials: Vec<String>,
}

fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

#[OpenApi(tag = "ApiTags::Agent")]
impl AuthorizationsApi {
    /// What an agent asks me to authorize, by the code they show.
    #[oai(path = "/v1/authorizations/preview", method = "post")]
    async fn preview(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        body: Json<CodeInput>,
    ) -> ApiResult<Json<AuthorizationOffer>> {
        state
            .rate_limits
            .citizen(Limit::AuthorizationCodes, auth.0.id)?;
        let db = state.db()?;
        let app = state.cases.offer(db, &body.code).await?;
        let version = reads::version_of(db, &app).await?;
        let agent_filing = agent_filing(&state, db, &app)
            .await?
            .ok_or_else(|| ApiError::internal("an offer without an agent"))?;
        Ok(Json(AuthorizationOffer {
            agent_filing,
            matter_code: app.matter_code.clone(),
            matter_name: version.matter.name.clone(),
            resident_name: mask_name(&app.applicant_name),
            resident_phone: PhoneNumber::parse(&app.applicant_phone)
                .map(|p| p.masked())
                .unwrap_or_default(),
            materials: version.materials.iter().map(|m| m.name.clone()).collect(),
        }))
    }

    /// Authorize the agent: the code is spent, the authorization runs for
    /// `agents.authorization_days`, and the case becomes mine (I see it under
    /// `/v1/applications` and get its messages). I may revoke it while the department has not
    /// decided (`POST /v1/applications/{id}/authorization/revoke`).
    #[oai(path = "/v1/authorizations/accept", method = "post")]
    async fn accept(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        body: Json<CodeInput>,
    ) -> ApiResult<Json<Application>> {
        state
            .rate_limits
            .citizen(Limit::AuthorizationCodes, auth.0.id)?;
        let db = state.db()?;
        let app = state.cases.accept_code(db, auth.0.id, &body.code).await?;
        let version = reads::version_of(db, &app).await?;
        Ok(Json(full_view(&state, &app, &version).await?))
    }
}
