//! The result files a department issues (a scan or PDF of the licence, card or certificate),
//! attached before its decision: checked and cleaned exactly like pages (`intake::clean`), kept
//! only while the case waits for the department.

use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::department::{at_department, waiting};
use super::intake::clean::ByteSource;
use super::{CaseError, CaseResult, Cases, reads};
use crate::domain::catalog::MaterialKind;
use crate::storage::ObjectKey;
use crate::store::department::{self, result_file};
use crate::store::{StoreError, begin_write};

/// A case holds at most this many result files.
pub const MAX_RESULT_FILES: usize = 10;

impl Cases {
    /// Checks, cleans and stores the file `source` brings for a waiting case of `departments`,
    /// and records it. The object is deleted again if the file is refused at the last moment.
    pub async fn attach_result<S: ByteSource>(
        &self,
        db: &DatabaseConnection,
        approver: Uuid,
        departments: &[String],
        id: Uuid,
        source: S,
        original_name: Option<String>,
    ) -> CaseResult<result_file::Model> {
        let app = waiting(db, departments, id).await?;
        if department::result_files(db, app.id).await?.len() >= MAX_RESULT_FILES {
            return Err(CaseError::TooManyResultFiles(MAX_RESULT_FILES));
        }
        let kinds = [MaterialKind::Photo, MaterialKind::Pdf];
        let file_id = Uuid::now_v7();
        let (clean, key) = self
            .clean_and_store(source, &kinds, |page_type| {
                ObjectKey::parse(format!(
                    "applications/{}/results/{file_id}.{}",
                    app.id,
                    page_type.extension()
                ))
                .map_err(CaseError::Storage)
            })
            .await?;
        let model = result_file::Model {
            id: file_id,
            application_id: app.id,
            uploaded_by: approver,
            object_key: key.as_str().to_string(),
            content_type: clean.page_type.content_type().to_string(),
            size: clean.size as i64,
            sha256: clean.sha256.clone(),
            width: clean.width.map(|w| w as i32),
            height: clean.height.map(|h| h as i32),
            original_name: original_name.map(|n| n.chars().take(255).collect()),
            created_at: self.clock.now(),
        };
        let recorded = record(db, departments, model).await;
        if recorded.is_err()
            && let Err(e) = self.store.delete(&key).await
        {
            tracing::warn!(error = %e, "could not delete the object of a refused result file");
        }
        recorded
    }

    /// Removes a result file of a waiting case, and its object.
    pub async fn remove_result(
        &self,
        db: &DatabaseConnection,
        departments: &[String],
        id: Uuid,
        file_id: Uuid,
    ) -> CaseResult<result_file::Model> {
        let txn = begin_write(db).await?;
        let app = reads::lock_visible(&txn, departments, id).await?;
        let file = department::find_result_file(&txn, app.id, file_id)
            .await?
            .ok_or(CaseError::ResultFileNotFound)?;
        at_department(&app)?;
        department::delete_result_file(&txn, file.id).await?;
        txn.commit().await?;
        if let Ok(key) = ObjectKey::parse(file.object_key.clone())
            && let Err(e) = self.store.delete(&key).await
        {
            tracing::warn!(error = %e, "a deleted result file's object stays behind");
        }
        Ok(file)
    }
}

/// Records a stored result file, if the case still waits for the department and the file is
/// new to it.
async fn record(
    db: &DatabaseConnection,
    departments: &[String],
    model: result_file::Model,
) -> CaseResult<result_file::Model> {
    let txn = begin_write(db).await?;
    let app = reads::lock_visible(&txn, departments, model.application_id).await?;
    at_department(&app)?;
    let existing = department::result_files(&txn, app.id).await?;
    if existing.len() >= MAX_RESULT_FILES {
        return Err(CaseError::TooManyResultFiles(MAX_RESULT_FILES));
    }
    if existing.iter().any(|f| f.sha256 == model.sha256) {
        return Err(CaseError::DuplicateResultFile);
    }
    let file = match department::insert_result_file(&txn, model).await {
        Ok(file) => file,
        Err(StoreError::Conflict) => return Err(CaseError::DuplicateResultFile),
        Err(StoreError::Db(e)) => return Err(e.into()),
    };
    txn.commit().await?;
    Ok(file)
}
