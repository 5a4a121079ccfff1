//! Reading a case as someone may see it: a citizen their own, staff their departments'. Another
//! citizen's or department's case is `NotFound`, exactly as a missing one.

use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::{CaseError, CaseResult};
use crate::store::applications::{self, application};
use crate::store::catalog::{self, MatterVersion};

pub async fn owned<C: ConnectionTrait>(
    db: &C,
    citizen: Uuid,
    id: Uuid,
) -> CaseResult<application::Model> {
    applications::find_owned(db, citizen, id)
        .await?
        .ok_or(CaseError::NotFound)
}

/// The citizen's application, locked for the rest of the write transaction.
pub async fn lock_owned<C: ConnectionTrait>(
    db: &C,
    citizen: Uuid,
    id: Uuid,
) -> CaseResult<application::Model> {
    applications::lock_owned(db, citizen, id)
        .await?
        .ok_or(CaseError::NotFound)
}

/// A case of one of `departments`.
pub async fn visible<C: ConnectionTrait>(
    db: &C,
    departments: &[String],
    id: Uuid,
) -> CaseResult<application::Model> {
    applications::find(db, id)
        .await?
        .filter(|a| departments.contains(&a.department_code))
        .ok_or(CaseError::NotFound)
}

/// `visible`, locked for the rest of the write transaction.
pub async fn lock_visible<C: ConnectionTrait>(
    db: &C,
    departments: &[String],
    id: Uuid,
) -> CaseResult<application::Model> {
    applications::lock(db, id)
        .await?
        .filter(|a| departments.contains(&a.department_code))
        .ok_or(CaseError::NotFound)
}

/// The catalogue version the case was filed under.
pub async fn version_of<C: ConnectionTrait>(
    db: &C,
    app: &application::Model,
) -> CaseResult<std::sync::Arc<MatterVersion>> {
    catalog::find_case_version(db, app.matter_id, app.signed_form())
        .await?
        .ok_or_else(|| CaseError::Internal("an application's catalogue version is missing".into()))
}
