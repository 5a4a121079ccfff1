//! `/v1/uploads/{upload_id}/complete` (upload path B, step 2): the service checks the object the
//! client PUT, then runs the same page pipeline as path A, streaming the object from the store.

use bytes::{Bytes, BytesMut};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::applications::pages::{Page, view};
use crate::api::problem::{ApiError, ApiResult};
use crate::api::security::CitizenAuth;
use crate::cases::intake::clean::ByteSource;
use crate::cases::{CaseError, CaseResult};
use crate::state::AppState;
use crate::storage::{ByteReader, ObjectKey, StorageError};
use crate::store::{pages, uploads};

pub struct UploadsApi;

#[derive(ApiResponse)]
pub enum Completed {
    /// The page, exactly as path A returns it. Completing again returns the same page.
    #[oai(status = 201)]
    Created(Json<Page>),
}

#[OpenApi(tag = "ApiTags::Applications")]
impl UploadsApi {
    /// Finish a direct upload: checks size, SHA-256 and type, then stores the page.
    #[oai(path = "/v1/uploads/:upload_id/complete", method = "post")]
    async fn complete(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        upload_id: Path<Uuid>,
    ) -> ApiResult<Completed> {
        let db = state.db()?;
        let upload = uploads::find_owned(db, auth.0.id, upload_id.0)
            .await?
            .ok_or_else(|| ApiError::not_found("upload_not_found", "No such upload."))?;
        // A retry after a lost response gets the same page.
        if let Some(page_id) = upload.page_id {
            let page = pages::find(db, upload.application_id, page_id)
                .await?
                .ok_or_else(|| {
                    ApiError::gone(
                        "upload_page_deleted",
                        "The page of this upload was deleted since.",
                    )
                })?;
            return Ok(Completed::Created(Json(view(&page))));
        }
        let key = ObjectKey::parse(upload.object_key.clone())?;
        if upload.expires_at < state.clock.now() {
            discard(&state, &key).await;
            return Err(ApiError::gone(
                "upload_expired",
                "This upload expired before it was completed; start a new one.",
            ));
        }
        state.note_upload();
        let target = (state.cases)
            .target(db, auth.0.id, upload.application_id, &upload.material_code)
            .await?;
        // One GET: the size checked is that of the bytes then read, even if the client PUTs again
        // meanwhile.
        let (info, staged) = match state.store.get(&key).await {
            Ok(found) => found,
            Err(StorageError::NotFound) => {
                return Err(ApiError::conflict(
                    "upload_missing",
                    "Nothing was uploaded to this upload's URL yet.",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        if info.size != upload.size as u64 {
            drop(staged);
            discard(&state, &key).await;
            return Err(ApiError::unprocessable(
                "size_mismatch",
                format!(
                    "{} bytes were uploaded, {} were announced.",
                    info.size, upload.size
                ),
            ));
        }
        let source = StagedSource {
            reader: staged,
            hasher: Some(Sha256::new()),
            announced: upload.sha256.clone(),
        };
        let page = match state
            .cases
            .complete_upload(db, target, source, upload.id)
            .await
        {
            Ok(page) => page,
            // A racing retry of this completion recorded the page first: the same answer.
            Err(CaseError::Concurrent) if let Some(page) = completed_page(db, &upload).await? => {
                page
            }
            Err(e) => {
                let e = ApiError::from(e);
                // Refused content is not kept; a passing failure (store, database) keeps the
                // object so the client can retry the completion.
                if e.status().is_client_error() {
                    discard(&state, &key).await;
                }
                return Err(e);
            }
        };
        discard(&state, &key).await;
        Ok(Completed::Created(Json(view(&page))))
    }
}

/// The staged object as the bytes the page pipeline checks and cleans, hashed as they pass: bytes
/// that are not the announced ones are refused at their end, before anything is kept.
struct StagedSource {
    reader: ByteReader,
    /// `None` once the end was reached.
    hasher: Option<Sha256>,
    announced: String,
}

/// Each read from the store.
const STAGED_CHUNK: usize = 64 * 1024;

impl ByteSource for StagedSource {
    async fn chunk(&mut self) -> CaseResult<Option<Bytes>> {
        let Some(hasher) = self.hasher.as_mut() else {
            return Ok(None);
        };
        let mut chunk = BytesMut::with_capacity(STAGED_CHUNK);
        let read = self.reader.read_buf(&mut chunk).await.map_err(|e| {
            CaseError::Storage(StorageError::Unavailable(format!(
                "reading a staged upload: {e}"
            )))
        })?;
        if read > 0 {
            hasher.update(&chunk);
            return Ok(Some(chunk.freeze()));
        }
        let sha256 = hex::encode(self.hasher.take().unwrap_or_default().finalize());
        if sha256 != self.announced {
            return Err(CaseError::Sha256Mismatch);
        }
        Ok(None)
    }
}

/// The page a completion of `upload` recorded, if one did.
async fn completed_page(
    db: &sea_orm::DatabaseConnection,
    upload: &uploads::upload::Model,
) -> ApiResult<Option<pages::page::Model>> {
    let Some(upload) = uploads::find_owned(db, upload.citizen_id, upload.id).await? else {
        return Ok(None);
    };
    match upload.page_id {
        Some(page_id) => Ok(pages::find(db, upload.application_id, page_id).await?),
        None => Ok(None),
    }
}

async fn discard(state: &AppState, key: &ObjectKey) {
    if let Err(e) = state.store.delete(key).await {
        tracing::warn!(error = %e, "a staged upload stays behind for the sweep");
    }
}
