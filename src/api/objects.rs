//! `/v1/objects/{token}`: the signed, expiring URLs of the filesystem store, so that clients see
//! the same presigned GET/PUT contract as with S3. With the S3 backend these routes answer 404.

use poem::Body;
use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::{Binary, Json};
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::api::ApiTags;
use crate::api::problem::{ApiError, ApiResult};
use crate::state::AppState;
use crate::storage::{ObjectKey, SignedUrlError};
use crate::store::uploads;

pub struct ObjectsApi;

#[derive(ApiResponse)]
pub enum ObjectBody {
    /// The object's bytes.
    #[oai(status = 200)]
    Ok(
        Binary<Body>,
        #[oai(header = "Content-Type")] String,
        #[oai(header = "Content-Length")] u64,
    ),
}

#[derive(Object)]
pub struct StoredObject {
    pub size: u64,
    /// Lower-case hex SHA-256 of the stored bytes.
    pub sha256: String,
}

#[OpenApi(tag = "ApiTags::Objects")]
impl ObjectsApi {
    /// Download an object through a presigned URL.
    #[oai(path = "/v1/objects/:token", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        token: Path<String>,
        expires: Query<i64>,
        signature: Query<String>,
    ) -> ApiResult<ObjectBody> {
        let key = verify(&state, "GET", &token.0, expires.0, &signature.0, None)?;
        let (info, reader) = state.store.get(&key).await?;
        let content_type = info
            .content_type
            .unwrap_or_else(|| "application/octet-stream".into());
        Ok(ObjectBody::Ok(
            Binary(Body::from_async_read(reader)),
            content_type,
            info.size,
        ))
    }

    /// Upload an object through a presigned URL. Send the `Content-Type` it was signed for.
    #[oai(path = "/v1/objects/:token", method = "put")]
    async fn put(
        &self,
        state: Data<&AppState>,
        token: Path<String>,
        expires: Query<i64>,
        signature: Query<String>,
        #[oai(name = "Content-Type")] content_type: Header<String>,
        body: Binary<Body>,
    ) -> ApiResult<Json<StoredObject>> {
        let key = verify(
            &state,
            "PUT",
            &token.0,
            expires.0,
            &signature.0,
            Some(&content_type.0),
        )?;
        ensure_upload_open(&state, &key).await?;
        let reader = Box::pin(body.0.into_async_read());
        let outcome = state.store.put(&key, &content_type.0, reader).await?;
        Ok(Json(StoredObject {
            size: outcome.size,
            sha256: outcome.sha256,
        }))
    }
}

/// A PUT to a direct upload's staged key is taken only while its ticket is open: after
/// `complete` (or the sweep) the URL is refused even though its signature is still good.
async fn ensure_upload_open(state: &AppState, key: &ObjectKey) -> Result<(), ApiError> {
    let Some(id) = key.as_str().strip_prefix("uploads/") else {
        return Ok(());
    };
    let upload = match id.parse() {
        Ok(id) => uploads::find(state.db()?, id).await?,
        Err(_) => None,
    };
    match upload {
        Some(upload) if upload.completed_at.is_none() && upload.swept_at.is_none() => Ok(()),
        _ => Err(ApiError::conflict(
            "upload_closed",
            "This upload was completed or has ended; its link takes no more data.",
        )),
    }
}

fn verify(
    state: &AppState,
    method: &str,
    token: &str,
    expires: i64,
    signature: &str,
    content_type: Option<&str>,
) -> Result<ObjectKey, ApiError> {
    if state.store.backend() != "fs" {
        return Err(ApiError::not_found("object_not_found", "No such object."));
    }
    state
        .signer
        .verify(
            method,
            token,
            expires,
            signature,
            content_type,
            chrono::Utc::now(),
        )
        .map_err(|e| match e {
            SignedUrlError::Expired => {
                ApiError::forbidden("url_expired", "This link has expired; ask for a new one.")
            }
            SignedUrlError::Malformed | SignedUrlError::BadSignature => ApiError::forbidden(
                "url_signature_invalid",
                "This link's signature does not match.",
            ),
        })
}
