//! `/v1/applications/{id}/materials/{code}/uploads` (upload path B, step 1): a presigned PUT
//! straight to the object store. Step 2 is `POST /v1/uploads/{upload_id}/complete`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use std::collections::HashMap;
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::problem::{ApiError, ApiResult, FieldProblem};
use crate::api::security::CitizenAuth;
use crate::cases::reads;
use crate::domain::catalog::MaterialKind;
use crate::state::AppState;
use crate::storage::ObjectKey;
use crate::store::begin_write;
use crate::store::uploads;

pub struct DirectUploadsApi;

#[derive(Debug, Clone, Object)]
pub struct NewUpload {
    /// The type the client will send: `image/jpeg`, `image/png`, `image/heic`, `image/heif`,
    /// `image/webp` or `application/pdf`.
    pub content_type: String,
    /// Exact byte size of the file.
    #[oai(validator(minimum(value = "1")))]
    pub size: u64,
    /// Lower-case hex SHA-256 of the file.
    #[oai(validator(pattern = "^[0-9a-fA-F]{64}$"))]
    pub sha256: String,
}

#[derive(Debug, Clone, Object)]
pub struct UploadTicket {
    pub upload_id: Uuid,
    /// Always `PUT`.
    pub method: String,
    pub url: String,
    /// Send exactly these headers with the PUT.
    pub headers: HashMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

#[derive(ApiResponse)]
pub enum TicketCreated {
    /// PUT the bytes to `url`, then call `POST /v1/uploads/{upload_id}/complete`.
    #[oai(status = 201)]
    Created(Json<UploadTicket>),
}

const TYPES: [(&str, MaterialKind); 6] = [
    ("image/jpeg", MaterialKind::Photo),
    ("image/png", MaterialKind::Photo),
    ("image/heic", MaterialKind::Photo),
    ("image/heif", MaterialKind::Photo),
    ("image/webp", MaterialKind::Photo),
    ("application/pdf", MaterialKind::Pdf),
];

#[OpenApi(tag = "ApiTags::Applications")]
impl DirectUploadsApi {
    /// Start a direct upload of one page (path B): returns a presigned PUT.
    #[oai(
        path = "/v1/applications/:id/materials/:material_code/uploads",
        method = "post"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
        material_code: Path<String>,
        body: Json<NewUpload>,
    ) -> ApiResult<TicketCreated> {
        use crate::http::rate_limit::Limit;
        state.rate_limits.citizen(Limit::UploadTickets, auth.0.id)?;
        state.note_upload();
        let target = (state.cases)
            .target(state.db()?, auth.0.id, id.0, &material_code.0)
            .await?;
        let request = body.0;
        let content_type = request.content_type.trim().to_ascii_lowercase();
        let mut problems = Vec::new();
        match TYPES.iter().find(|(t, _)| *t == content_type) {
            None => problems.push(FieldProblem::new(
                "content_type",
                "must be image/jpeg, image/png, image/heic, image/heif, image/webp or application/pdf",
            )),
            Some((_, kind)) if !target.material.kinds.split(',').any(|k| k == kind.as_str()) => {
                problems.push(FieldProblem::new(
                    "content_type",
                    format!("{} does not accept this type", target.material.name),
                ))
            }
            Some(_) => {}
        }
        let sha256 = request.sha256.trim().to_ascii_lowercase();
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            problems.push(FieldProblem::new("sha256", "must be 64 hex characters"));
        }
        if request.size == 0 {
            problems.push(FieldProblem::new("size", "must be at least 1"));
        }
        if !problems.is_empty() {
            return Err(ApiError::invalid_fields(problems));
        }
        let max = state.config.uploads.max_page_bytes;
        if request.size > max {
            return Err(ApiError::page_too_large(max));
        }
        let upload_id = Uuid::now_v7();
        let key = ObjectKey::parse(format!("uploads/{upload_id}"))?;
        let ttl = Duration::from_secs(state.config.uploads.direct_upload_ttl_secs);
        let presigned = state.store.presign_put(&key, &content_type, ttl).await?;
        let now = state.clock.now();
        // Counted and inserted under the application's lock (PostgreSQL) or the one writer
        // (SQLite), so parallel requests cannot overshoot the cap.
        let db = state.db()?;
        let txn = begin_write(db).await?;
        reads::lock_owned(&txn, auth.0.id, target.app.id).await?;
        let cap = state.config.uploads.max_open_tickets_per_application;
        let (open, earliest) = uploads::open_of_application(&txn, target.app.id, now).await?;
        if open >= cap as u64 {
            return Err(too_many_tickets(cap, earliest, now));
        }
        let ticket = uploads::NewTicket {
            id: upload_id,
            application_id: target.app.id,
            citizen_id: auth.0.id,
            material_code: target.material.code.clone(),
            object_key: key.as_str().to_string(),
            content_type,
            size: request.size as i64,
            sha256,
            created_at: now,
            expires_at: presigned.expires_at,
        };
        uploads::insert(&txn, ticket).await?;
        txn.commit().await?;
        Ok(TicketCreated::Created(Json(UploadTicket {
            upload_id,
            method: presigned.method.to_string(),
            url: presigned.url,
            headers: presigned.headers.into_iter().collect(),
            expires_at: presigned.expires_at,
        })))
    }
}

/// A 429 until the earliest open ticket expires (or one is completed sooner).
fn too_many_tickets(cap: u32, earliest: Option<DateTime<Utc>>, now: DateTime<Utc>) -> ApiError {
    let wait = earliest.map_or(1, |at| (at - now).num_seconds().max(1));
    ApiError::new(
        poem::http::StatusCode::TOO_MANY_REQUESTS,
        "upload_tickets_exhausted",
        format!(
            "This application already has {cap} open uploads; complete them or wait until they \
             expire."
        ),
    )
    .with_header(
        poem::http::header::RETRY_AFTER,
        poem::http::HeaderValue::from(wait),
    )
}
