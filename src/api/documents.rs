//! `/v1/documents`: the citizen's wallet (证照夹). Documents their cases verified, each with its
//! pages (short-lived links) and every case it was used in; withdrawing one keeps it out of new
//! cases. Another citizen's document answers 404 exactly like a missing one.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::applications::documents::{WalletDocument, wallet_document, wallet_documents};
use crate::api::applications::pages::link;
use crate::api::problem::{ApiError, ApiResult};
use crate::api::security::CitizenAuth;
use crate::cases::CaseError;
use crate::state::AppState;
use crate::store::documents::{self, document};
use crate::store::{applications, catalog};

pub struct DocumentsApi;

#[derive(Debug, Clone, Object)]
pub struct DocumentList {
    pub items: Vec<WalletDocument>,
}

/// One page of a document: the same stored object as in the case that verified it.
#[derive(Debug, Clone, Object)]
pub struct DocumentPage {
    /// 1-based.
    pub index: i32,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    #[oai(skip_serializing_if_is_none)]
    pub width: Option<i32>,
    #[oai(skip_serializing_if_is_none)]
    pub height: Option<i32>,
    /// Presigned GET of the page, valid for 5 minutes.
    #[oai(skip_serializing_if_is_none)]
    pub url: Option<String>,
    /// Presigned GET of its thumbnail, valid for 5 minutes, where it has one.
    #[oai(skip_serializing_if_is_none)]
    pub thumbnail_url: Option<String>,
}

/// A case the document filled a material of: where the citizen consented to its use.
#[derive(Debug, Clone, Object)]
pub struct DocumentUse {
    pub application_id: Uuid,
    pub matter_code: String,
    pub matter_name: String,
    pub department_code: String,
    pub material_code: String,
    /// When the citizen attached it (their consent for this case and department).
    pub consented_at: DateTime<Utc>,
    /// When its pages left that case again before it was submitted.
    #[oai(skip_serializing_if_is_none)]
    pub removed_at: Option<DateTime<Utc>>,
}

/// A document with its pages and where it was used.
#[derive(Debug, Clone, Object)]
pub struct DocumentDetail {
    #[oai(flatten)]
    pub document: WalletDocument,
    /// The item of the case that verified it.
    pub source_matter_name: String,
    pub pages: Vec<DocumentPage>,
    /// Oldest first.
    pub uses: Vec<DocumentUse>,
}

#[OpenApi(tag = "ApiTags::Documents")]
impl DocumentsApi {
    /// My wallet: the documents my cases verified, newest first. Only valid ones, unless
    /// `ended=true` adds those withdrawn, invalidated (with the reviewer's reason) or replaced.
    #[oai(path = "/v1/documents", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        #[oai(default)] ended: Query<bool>,
    ) -> ApiResult<Json<DocumentList>> {
        let db = state.db()?;
        let docs = documents::of_citizen(db, auth.0.id, ended.0).await?;
        let items = wallet_documents(db, &docs).await?;
        Ok(Json(DocumentList { items }))
    }

    /// One document of my wallet: its pages as short-lived links, and every case it was used in.
    #[oai(path = "/v1/documents/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<DocumentDetail>> {
        let doc = documents::find_owned(state.db()?, auth.0.id, id.0)
            .await?
            .ok_or(CaseError::DocumentNotFound)?;
        Ok(Json(detail(&state, doc).await?))
    }

    /// Withdraw a document from my wallet: it is never offered or attached again. Cases that
    /// used it keep their pages. Withdrawing again is harmless.
    #[oai(path = "/v1/documents/:id/withdraw", method = "post")]
    async fn withdraw(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<DocumentDetail>> {
        let doc = (state.cases)
            .withdraw_document(state.db()?, auth.0.id, id.0)
            .await?;
        Ok(Json(detail(&state, doc).await?))
    }
}

async fn detail(state: &AppState, doc: document::Model) -> Result<DocumentDetail, ApiError> {
    let db = state.db()?;
    let pages = documents::pages_of(db, &[doc.id]).await?;
    let mut linked = Vec::with_capacity(pages.len());
    for p in &pages {
        linked.push(DocumentPage {
            index: p.position,
            content_type: p.content_type.clone(),
            size: p.size,
            sha256: p.sha256.clone(),
            width: p.width,
            height: p.height,
            url: link(state, Some(&p.object_key)).await,
            thumbnail_url: link(state, p.thumbnail_key.as_deref()).await,
        });
    }
    let mut uses = Vec::new();
    for u in documents::uses_of(db, doc.id).await? {
        let (matter_code, matter_name) = matter_of(state, u.application_id).await?;
        uses.push(DocumentUse {
            application_id: u.application_id,
            matter_code,
            matter_name,
            department_code: u.department_code,
            material_code: u.material_code,
            consented_at: u.consented_at,
            removed_at: u.removed_at,
        });
    }
    let (_, source_matter_name) = matter_of(state, doc.source_application_id).await?;
    let document = wallet_document(db, doc).await?;
    Ok(DocumentDetail {
        document,
        source_matter_name,
        pages: linked,
        uses,
    })
}

/// The item code and name a case was filed under.
async fn matter_of(state: &AppState, application_id: Uuid) -> Result<(String, String), ApiError> {
    let db = state.db()?;
    let app = applications::find(db, application_id)
        .await?
        .ok_or_else(|| ApiError::internal("a document's case is missing"))?;
    let version = catalog::find_version(db, app.matter_id)
        .await?
        .ok_or_else(|| ApiError::internal("a case's catalogue version is missing"))?;
    Ok((version.matter.code.clone(), version.matter.name.clone()))
}
