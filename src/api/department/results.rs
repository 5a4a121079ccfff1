//! `/v1/department/applications/{id}/results`: the result files a department issues (a scan or
//! PDF of the licence, card or certificate), attached before its decision. They are checked and
//! cleaned exactly like pages, and the citizen sees them once the department has decided.

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::applications::pages::PageForm;
use crate::api::applications::receive;
use crate::api::applications::result::{ResultFile, file_view};
use crate::api::problem::{ApiError, ApiResult};
use crate::api::security::{ClientIp, StaffAuth, StaffMember, audit_staff_action};
use crate::cases::department::{at_department, waiting};
use crate::cases::reads;
use crate::domain::catalog::MaterialKind;
use crate::domain::staff::Role;
use crate::state::AppState;
use crate::storage::{ObjectKey, PutOutcome};
use crate::store::department::{self, result_file};
use crate::store::{StoreError, begin_write};

pub struct DepartmentResultsApi;

/// A case may carry at most this many result files.
const MAX_RESULT_FILES: usize = 10;

#[derive(ApiResponse)]
pub enum ResultFileCreated {
    #[oai(status = 201)]
    Created(Json<ResultFile>),
}

#[derive(ApiResponse)]
pub enum ResultFileDeleted {
    #[oai(status = 204)]
    Deleted,
}

#[OpenApi(tag = "ApiTags::Department")]
impl DepartmentResultsApi {
    /// Attach a result file (a scan or PDF of what was issued) before deciding. Send it in the
    /// multipart field `file`; it is checked and cleaned like a page.
    #[oai(path = "/v1/department/applications/:id/results", method = "post")]
    async fn upload_result(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
        form: PageForm,
    ) -> ApiResult<ResultFileCreated> {
        auth.0.require(Role::Approver)?;
        let db = state.db()?;
        let app = waiting(db, &auth.0.departments, id.0).await?;
        if department::result_files(db, app.id).await?.len() >= MAX_RESULT_FILES {
            return Err(too_many_files());
        }
        let field = form.file().await?;
        let original_name = field
            .file_name()
            .map(|n| n.chars().take(255).collect::<String>());
        let kinds = [MaterialKind::Photo, MaterialKind::Pdf];
        let (clean, cleaned) = receive::clean_field(&state, field, &kinds).await?;
        let file_id = Uuid::now_v7();
        let key = ObjectKey::parse(format!(
            "applications/{}/results/{file_id}.{}",
            app.id,
            clean.page_type.extension()
        ))?;
        let known = PutOutcome {
            size: clean.size,
            sha256: clean.sha256.clone(),
        };
        state
            .store
            .put_file(&key, clean.page_type.content_type(), &cleaned, known)
            .await?;
        let model = result_file::Model {
            id: file_id,
            application_id: app.id,
            uploaded_by: auth.0.id,
            object_key: key.as_str().to_string(),
            content_type: clean.page_type.content_type().to_string(),
            size: clean.size as i64,
            sha256: clean.sha256.clone(),
            width: clean.width.map(|w| w as i32),
            height: clean.height.map(|h| h as i32),
            original_name,
            created_at: state.clock.now(),
        };
        let recorded = record_result_file(&state, &auth.0, model).await;
        let file = match recorded {
            Ok(file) => file,
            Err(e) => {
                if let Err(e) = state.store.delete(&key).await {
                    tracing::warn!(error = %e, "could not delete the object of a refused result file");
                }
                return Err(e);
            }
        };
        audit_staff_action(
            &state,
            &auth.0,
            &ip,
            "department.result_upload",
            Some(("application", app.id)),
            Some(format!("result file {}", file.id)),
        )
        .await?;
        Ok(ResultFileCreated::Created(Json(
            file_view(&state, file).await,
        )))
    }

    /// Remove a result file before deciding.
    #[oai(
        path = "/v1/department/applications/:id/results/:file_id",
        method = "delete"
    )]
    async fn delete_result(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
        file_id: Path<Uuid>,
    ) -> ApiResult<ResultFileDeleted> {
        auth.0.require(Role::Approver)?;
        let db = state.db()?;
        let txn = begin_write(db).await?;
        let app = reads::visible(&txn, &auth.0.departments, id.0).await?;
        let app = reads::lock_visible(&txn, &auth.0.departments, app.id).await?;
        let file = department::find_result_file(&txn, app.id, file_id.0)
            .await?
            .ok_or_else(|| ApiError::not_found("result_file_not_found", "No such result file."))?;
        at_department(&app)?;
        department::delete_result_file(&txn, file.id).await?;
        txn.commit().await?;
        if let Ok(key) = ObjectKey::parse(file.object_key)
            && let Err(e) = state.store.delete(&key).await
        {
            tracing::warn!(error = %e, "a deleted result file's object stays behind");
        }
        audit_staff_action(
            &state,
            &auth.0,
            &ip,
            "department.result_delete",
            Some(("application", app.id)),
            Some(format!("result file {}", file.id)),
        )
        .await?;
        Ok(ResultFileDeleted::Deleted)
    }
}

/// Records a stored result file, if the case still waits for the department and the file is
/// new to it.
async fn record_result_file(
    state: &AppState,
    member: &StaffMember,
    model: result_file::Model,
) -> Result<result_file::Model, ApiError> {
    let db = state.db()?;
    let txn = begin_write(db).await?;
    let app = reads::visible(&txn, &member.departments, model.application_id).await?;
    let app = reads::lock_visible(&txn, &member.departments, app.id).await?;
    at_department(&app)?;
    let existing = department::result_files(&txn, app.id).await?;
    if existing.len() >= MAX_RESULT_FILES {
        return Err(too_many_files());
    }
    if existing.iter().any(|f| f.sha256 == model.sha256) {
        return Err(duplicate_file());
    }
    let file = match department::insert_result_file(&txn, model).await {
        Ok(file) => file,
        Err(StoreError::Conflict) => return Err(duplicate_file()),
        Err(StoreError::Db(e)) => return Err(e.into()),
    };
    txn.commit().await?;
    Ok(file)
}

fn too_many_files() -> ApiError {
    ApiError::unprocessable(
        "too_many_result_files",
        format!("A case holds at most {MAX_RESULT_FILES} result files; delete one first."),
    )
}

fn duplicate_file() -> ApiError {
    ApiError::conflict(
        "duplicate_result_file",
        "This case already has a result file with exactly these bytes.",
    )
}
