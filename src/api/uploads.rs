//! `/v1/uploads/{upload_id}/complete` (upload path B, step 2): the service checks the object the
//! client PUT, then runs the same page pipeline as path A.

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::applications::pages::{Page, view};
use crate::api::problem::{ApiError, ApiResult};
use crate::api::security::CitizenAuth;
use crate::cases::intake::clean::local_io;
use crate::state::AppState;
use crate::storage::{ObjectKey, StorageError};
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
        let info = match state.store.head(&key).await {
            Ok(info) => info,
            Err(StorageError::NotFound) => {
                return Err(ApiError::conflict(
                    "upload_missing",
                    "Nothing was uploaded to this upload's URL yet.",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        if info.size != upload.size as u64 {
            discard(&state, &key).await;
            return Err(ApiError::unprocessable(
                "size_mismatch",
                format!(
                    "{} bytes were uploaded, {} were announced.",
                    info.size, upload.size
                ),
            ));
        }
        let raw = state.cases.temp_file()?;
        let sha256 = copy_out(&state, &key, raw.path()).await?;
        if sha256 != upload.sha256 {
            discard(&state, &key).await;
            return Err(ApiError::unprocessable(
                "sha256_mismatch",
                "The uploaded bytes do not have the announced SHA-256.",
            ));
        }
        let page = match state.cases.ingest(db, target, raw.path(), None).await {
            Ok(page) => page,
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
        uploads::mark_completed(db, upload.id, page.id, state.clock.now()).await?;
        discard(&state, &key).await;
        Ok(Completed::Created(Json(view(&page))))
    }
}

/// Streams the staged object into `file`, returning its SHA-256.
async fn copy_out(
    state: &AppState,
    key: &ObjectKey,
    file: &std::path::Path,
) -> Result<String, ApiError> {
    let (_, mut reader) = state.store.get(key).await?;
    let mut out = tokio::fs::File::create(file)
        .await
        .map_err(|e| ApiError::from(local_io(e)))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buffer).await.map_err(ApiError::internal)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        out.write_all(&buffer[..n])
            .await
            .map_err(|e| ApiError::from(local_io(e)))?;
    }
    out.flush().await.map_err(|e| ApiError::from(local_io(e)))?;
    Ok(hex::encode(hasher.finalize()))
}

async fn discard(state: &AppState, key: &ObjectKey) {
    if let Err(e) = state.store.delete(key).await {
        tracing::warn!(error = %e, "a staged upload stays behind for the sweep");
    }
}
