//! `/v1/applications/{id}/materials/{material_code}/documents`: fill a material from the
//! citizen's wallet instead of uploading. Also the wallet's objects as every view of a case
//! shows them (what a material reused, what it could reuse), and as `/v1/documents` lists them.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::pages::{Page, view as page_view};
use crate::api::ApiTags;
use crate::api::problem::{ApiError, ApiResult};
use crate::api::security::CitizenAuth;
use crate::domain::document::DocumentState;
use crate::state::AppState;
use crate::store::documents::{self, document};
use crate::store::staff;

pub struct ReuseApi;

/// Where a wallet document stands: only `valid` ones are offered and attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "DocumentState", rename_all = "snake_case")]
pub enum Status {
    Valid,
    /// The citizen withdrew it.
    Withdrawn,
    /// A reviewer found it unusable (`end_reason` says why).
    Invalidated,
    /// The same case's material was verified again with other pages.
    Replaced,
}

impl Status {
    fn of(stored: &str) -> Self {
        match DocumentState::parse(stored) {
            Some(DocumentState::Valid) => Self::Valid,
            Some(DocumentState::Withdrawn) => Self::Withdrawn,
            Some(DocumentState::Replaced) => Self::Replaced,
            // Written only from `DocumentState::as_str`; anything else reads as unusable.
            Some(DocumentState::Invalidated) | None => Self::Invalidated,
        }
    }
}

/// The case and material a document was verified in.
#[derive(Debug, Clone, Object)]
pub struct DocumentSource {
    pub application_id: Uuid,
    pub material_code: String,
    pub department_code: String,
}

/// A verified document of the citizen's wallet (证照夹).
#[derive(Debug, Clone, Object)]
pub struct WalletDocument {
    pub id: Uuid,
    /// As the catalogue names it: `resident_id_card`, `property_certificate`, ...
    pub document_type: String,
    pub state: Status,
    /// When pre-review approved the case it came from.
    pub verified_at: DateTime<Utc>,
    /// When the department approved that case too; validity counts from the latest of the two.
    #[oai(skip_serializing_if_is_none)]
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The end of its validity: the verifying material's days, or the document's own expiry
    /// if sooner. A material that takes it may ask for a fresher verification.
    #[oai(skip_serializing_if_is_none)]
    pub valid_until: Option<DateTime<Utc>>,
    /// The expiry printed on the document, as the reviewer recorded it.
    #[oai(skip_serializing_if_is_none)]
    pub expires_on: Option<NaiveDate>,
    pub source: DocumentSource,
    pub page_count: i32,
    #[oai(skip_serializing_if_is_none)]
    pub ended_at: Option<DateTime<Utc>>,
    /// Why a reviewer invalidated it.
    #[oai(skip_serializing_if_is_none)]
    pub end_reason: Option<String>,
}

/// A staff member as a case's reader sees them.
#[derive(Debug, Clone, Object)]
pub struct StaffRef {
    pub id: Uuid,
    pub display_name: String,
}

/// A document of the wallet that filled a material of this case.
#[derive(Debug, Clone, Object)]
pub struct ReusedDocument {
    #[oai(flatten)]
    pub document: WalletDocument,
    /// The reviewer who verified it (shown to staff only).
    #[oai(skip_serializing_if_is_none)]
    pub verified_by: Option<StaffRef>,
    /// When the citizen attached it to this case: their consent for this case and department.
    pub consented_at: DateTime<Utc>,
}

/// The wallet's part of one case's view: per material, what it reused and what it could.
#[derive(Default)]
pub struct CaseWallet {
    pub reused: HashMap<String, Vec<ReusedDocument>>,
    pub offers: HashMap<String, Vec<WalletDocument>>,
}

/// The API's view of `docs`, in their order, with their page counts.
pub async fn wallet_documents<C: ConnectionTrait>(
    db: &C,
    docs: &[document::Model],
) -> Result<Vec<WalletDocument>, ApiError> {
    let ids: Vec<Uuid> = docs.iter().map(|d| d.id).collect();
    let pages = documents::pages_of(db, &ids).await?;
    Ok(docs
        .iter()
        .map(|d| WalletDocument {
            id: d.id,
            document_type: d.document_type.clone(),
            state: Status::of(&d.state),
            verified_at: d.verified_at,
            confirmed_at: d.confirmed_at,
            valid_until: d.valid_until,
            expires_on: d.expires_on,
            source: DocumentSource {
                application_id: d.source_application_id,
                material_code: d.source_material_code.clone(),
                department_code: d.source_department_code.clone(),
            },
            page_count: pages.iter().filter(|p| p.document_id == d.id).count() as i32,
            ended_at: d.ended_at,
            end_reason: d.end_reason.clone(),
        })
        .collect())
}

/// The API's view of one document.
pub async fn wallet_document<C: ConnectionTrait>(
    db: &C,
    doc: document::Model,
) -> Result<WalletDocument, ApiError> {
    wallet_documents(db, &[doc])
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal("a document has no view"))
}

/// What the case's materials reused (with the verifier's name for `staff`), and, for its owner,
/// what they could still reuse. Read on `db`: a transaction that just wrote the case reads it.
pub async fn case_wallet<C: ConnectionTrait>(
    state: &AppState,
    db: &C,
    app: &crate::store::applications::application::Model,
    version: &crate::store::catalog::MatterVersion,
    stored: &[crate::store::pages::page::Model],
    owner: bool,
    staff_reader: bool,
) -> Result<CaseWallet, ApiError> {
    let mut wallet = CaseWallet::default();
    // A document stands in a case only while a page of the case comes from it.
    let uses = if stored.iter().any(|p| p.document_id.is_some()) {
        documents::uses_in(db, app.id).await?
    } else {
        Vec::new()
    };
    let standing: Vec<_> = uses.iter().filter(|u| u.removed_at.is_none()).collect();
    let ids: Vec<Uuid> = standing.iter().map(|u| u.document_id).collect();
    let docs = documents::find_many(db, &ids).await?;
    let views = wallet_documents(db, &docs).await?;
    for u in standing {
        let Some((doc, view)) = docs.iter().zip(&views).find(|(d, _)| d.id == u.document_id) else {
            continue;
        };
        let verified_by = if staff_reader {
            staff::find(db, doc.verified_by).await?.map(|m| StaffRef {
                id: m.id,
                display_name: m.display_name,
            })
        } else {
            None
        };
        wallet
            .reused
            .entry(u.material_code.clone())
            .or_default()
            .push(ReusedDocument {
                document: view.clone(),
                verified_by,
                consented_at: u.consented_at,
            });
    }
    if owner {
        let offers =
            crate::cases::wallet::offers(db, app, version, stored, state.clock.now()).await?;
        for (material, docs) in offers {
            wallet
                .offers
                .insert(material, wallet_documents(db, &docs).await?);
        }
    }
    Ok(wallet)
}

#[derive(Debug, Clone, Object)]
pub struct AttachDocument {
    /// A valid document of my wallet whose type the material accepts.
    pub document_id: Uuid,
}

/// The material's new pages: the document's, stored once, named again.
#[derive(Debug, Clone, Object)]
pub struct AttachedDocument {
    pub document: WalletDocument,
    pub pages: Vec<Page>,
}

#[derive(ApiResponse)]
pub enum Attached {
    /// Attached now.
    #[oai(status = 201)]
    Created(Json<AttachedDocument>),
    /// It was attached to this material already: the same answer again.
    #[oai(status = 200)]
    Existing(Json<AttachedDocument>),
}

#[OpenApi(tag = "ApiTags::Applications")]
impl ReuseApi {
    /// Fill a material with a document from my wallet instead of uploading it: my consent to
    /// show it to this application's department. The material must accept reuse of the
    /// document's type (`offers` in the application lists what fits). Its pages can be removed
    /// like uploaded ones.
    #[oai(
        path = "/v1/applications/:id/materials/:material_code/documents",
        method = "post"
    )]
    async fn attach(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
        material_code: Path<String>,
        body: Json<AttachDocument>,
    ) -> ApiResult<Attached> {
        let db = state.db()?;
        let attached = (state.cases)
            .attach_document(db, auth.0.id, id.0, &material_code.0, body.document_id)
            .await?;
        let doc = documents::find(db, body.document_id)
            .await?
            .ok_or_else(|| ApiError::internal("an attached document is missing"))?;
        let document = wallet_document(db, doc).await?;
        let answer = AttachedDocument {
            document,
            pages: attached.pages.iter().map(page_view).collect(),
        };
        Ok(if attached.created {
            Attached::Created(Json(answer))
        } else {
            Attached::Existing(Json(answer))
        })
    }
}
