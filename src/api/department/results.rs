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
use crate::api::applications::receive::FieldSource;
use crate::api::applications::result::{ResultFile, file_view};
use crate::api::problem::ApiResult;
use crate::api::security::{ClientIp, StaffAuth, audit_staff_action};
use crate::cases::department::waiting;
use crate::domain::staff::Role;
use crate::state::AppState;

pub struct DepartmentResultsApi;

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
        // Refused before the body is read, as a client expects of a case it may not change.
        waiting(db, &auth.0.departments, id.0).await?;
        let field = form.file().await?;
        let original_name = field.file_name().map(str::to_string);
        let file = (state.cases)
            .attach_result(
                db,
                auth.0.id,
                &auth.0.departments,
                id.0,
                FieldSource(field),
                original_name,
            )
            .await?;
        let app_id = id.0;
        audit_staff_action(
            &state,
            &auth.0,
            &ip,
            "department.result_upload",
            Some(("application", app_id)),
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
        let file = (state.cases)
            .remove_result(state.db()?, &auth.0.departments, id.0, file_id.0)
            .await?;
        let app = file.application_id;
        audit_staff_action(
            &state,
            &auth.0,
            &ip,
            "department.result_delete",
            Some(("application", app)),
            Some(format!("result file {}", file.id)),
        )
        .await?;
        Ok(ResultFileDeleted::Deleted)
    }
}
