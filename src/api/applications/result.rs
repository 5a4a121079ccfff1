//! `/v1/applications/{id}/result` (what the department decided, with the result files it
//! issued) and `/v1/applications/{id}/confirm-receipt` (the citizen has the posted result).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::applications::State;
use crate::api::applications::pages::LINK_TTL;
use crate::api::problem::ApiResult;
use crate::api::security::CitizenAuth;
use crate::cases::reads;
use crate::cases::receipts::Confirmed;
use crate::state::AppState;
use crate::storage::ObjectKey;
use crate::store::department::{self, result_file};
use crate::store::shipments::{self, LEG_RESULT};

pub struct ResultApi;

/// A file the department issued: a scan of the licence, card or certificate, or its notice.
#[derive(Debug, Clone, Object)]
pub struct ResultFile {
    pub id: Uuid,
    /// As judged from the bytes: `image/jpeg`, `image/png`, `image/heic`, `image/webp` or
    /// `application/pdf`.
    pub content_type: String,
    /// Bytes stored, after metadata removal.
    pub size: i64,
    pub sha256: String,
    #[oai(skip_serializing_if_is_none)]
    pub width: Option<i32>,
    #[oai(skip_serializing_if_is_none)]
    pub height: Option<i32>,
    /// The file name the approver's client gave, as sent (one line, no control or bidi
    /// characters). Escape it wherever it is shown (HTML, CSV, a shell).
    #[oai(skip_serializing_if_is_none)]
    pub original_name: Option<String>,
    pub created_at: DateTime<Utc>,
    /// A link to the file, valid for 5 minutes; absent when the store cannot sign links.
    #[oai(skip_serializing_if_is_none)]
    pub url: Option<String>,
}

/// The department's decision as the citizen reads it.
#[derive(Debug, Clone, Object)]
pub struct DecisionOutcome {
    /// `approved` or `refused`.
    pub outcome: String,
    /// The department's words; for a refusal, the reason.
    #[oai(skip_serializing_if_is_none)]
    pub note: Option<String>,
    pub decided_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct ApplicationResult {
    pub application_id: Uuid,
    pub state: State,
    /// Absent until the department decides.
    #[oai(skip_serializing_if_is_none)]
    pub decision: Option<DecisionOutcome>,
    /// Issued files, shown once the department has decided.
    pub files: Vec<ResultFile>,
    /// Whether a paper result comes by courier (`GET .../shipments` tracks it).
    pub posted: bool,
    #[oai(skip_serializing_if_is_none)]
    pub receipt_confirmed_at: Option<DateTime<Utc>>,
}

/// The answer to a confirmation, the same on every retry.
#[derive(Debug, Clone, Object)]
pub struct Receipt {
    pub application_id: Uuid,
    /// `completed`.
    pub state: State,
    pub receipt_confirmed_at: DateTime<Utc>,
}

/// The file with a short-lived link.
pub async fn file_view(state: &AppState, file: result_file::Model) -> ResultFile {
    let url = match ObjectKey::parse(file.object_key.clone()) {
        Ok(key) => state
            .store
            .presign_get(&key, LINK_TTL)
            .await
            .ok()
            .map(|p| p.url),
        Err(_) => None,
    };
    ResultFile {
        id: file.id,
        content_type: file.content_type,
        size: file.size,
        sha256: file.sha256,
        width: file.width,
        height: file.height,
        original_name: file.original_name,
        created_at: file.created_at,
        url,
    }
}

#[OpenApi(tag = "ApiTags::Applications")]
impl ResultApi {
    /// What the department decided about my application, and the files it issued.
    #[oai(path = "/v1/applications/:id/result", method = "get")]
    async fn result(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<ApplicationResult>> {
        let db = state.db()?;
        let app = reads::owned(db, auth.0.id, id.0).await?;
        let decision = department::decision_of(db, app.id).await?;
        let mut files = Vec::new();
        if decision.is_some() {
            for file in department::result_files(db, app.id).await? {
                files.push(file_view(&state, file).await);
            }
        }
        let posted = shipments::current_leg(db, app.id, LEG_RESULT)
            .await?
            .is_some();
        Ok(Json(ApplicationResult {
            application_id: app.id,
            state: State::of(&app.state)?,
            decision: decision.map(|d| DecisionOutcome {
                outcome: d.outcome,
                note: d.note,
                decided_at: d.created_at,
            }),
            files,
            posted,
            receipt_confirmed_at: app.receipt_confirmed_at,
        }))
    }

    /// Confirm the posted result arrived. Completes the case if the courier has not reported
    /// the delivery yet; a retry answers the same.
    #[oai(path = "/v1/applications/:id/confirm-receipt", method = "post")]
    async fn confirm_receipt(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<Receipt>> {
        let db = state.db()?;
        let outcome = state.cases.confirm_receipt(db, auth.0.id, id.0).await?;
        let app = reads::owned(db, auth.0.id, id.0).await?;
        if outcome == Confirmed::Now {
            tracing::info!(application = %app.id, "result receipt confirmed by the citizen");
        }
        Ok(Json(Receipt {
            application_id: app.id,
            state: State::of(&app.state)?,
            receipt_confirmed_at: app
                .receipt_confirmed_at
                .unwrap_or_else(|| state.clock.now()),
        }))
    }
}
