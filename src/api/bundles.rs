//! `/v1/bundles`: the catalogue's "one thing" bundles (一件事): items of several departments a
//! citizen files together with `POST /v1/filings`.

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use sea_orm::ConnectionTrait;

use crate::api::ApiTags;
use crate::api::matters::Department;
use crate::api::problem::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::catalog::{self, MatterVersion, bundle};

pub struct BundlesApi;

/// An item of a bundle, as of the catalogue's current version.
#[derive(Debug, Clone, Object)]
pub struct BundleItem {
    pub matter_code: String,
    pub matter_name: String,
    pub department: Department,
}

#[derive(Debug, Clone, Object)]
pub struct Bundle {
    pub code: String,
    pub name: String,
    pub description: String,
    /// In the order the citizen sees them.
    pub items: Vec<BundleItem>,
}

#[derive(Debug, Clone, Object)]
pub struct BundleList {
    pub items: Vec<Bundle>,
}

#[OpenApi(tag = "ApiTags::Matters")]
impl BundlesApi {
    /// The bundles citizens can file: several departments' items in one go.
    #[oai(path = "/v1/bundles", method = "get")]
    async fn list(&self, state: Data<&AppState>) -> ApiResult<Json<BundleList>> {
        let db = state.db()?;
        let mut items = Vec::new();
        for row in catalog::bundles(db).await? {
            let versions = current_items(db, &row).await?;
            items.push(view(row, &versions));
        }
        Ok(Json(BundleList { items }))
    }

    /// One bundle with its items.
    #[oai(path = "/v1/bundles/:code", method = "get")]
    async fn get(&self, state: Data<&AppState>, code: Path<String>) -> ApiResult<Json<Bundle>> {
        let db = state.db()?;
        let row = find(db, &code.0).await?;
        let versions = current_items(db, &row).await?;
        Ok(Json(view(row, &versions)))
    }
}

/// The bundle `code`, or `bundle_not_found`.
pub async fn find<C: ConnectionTrait>(db: &C, code: &str) -> Result<bundle::Model, ApiError> {
    catalog::find_bundle(db, code).await?.ok_or_else(|| {
        ApiError::not_found("bundle_not_found", format!("There is no bundle `{code}`."))
    })
}

/// The current version of each item of `bundle`, in its order.
pub async fn current_items<C: ConnectionTrait>(
    db: &C,
    bundle: &bundle::Model,
) -> Result<Vec<MatterVersion>, ApiError> {
    let mut versions = Vec::new();
    for code in bundle.item_codes() {
        let version = catalog::find(db, code, None).await?.ok_or_else(|| {
            ApiError::internal(format!(
                "bundle {} names a missing item {code}",
                bundle.code
            ))
        })?;
        versions.push(version);
    }
    Ok(versions)
}

fn view(row: bundle::Model, versions: &[MatterVersion]) -> Bundle {
    Bundle {
        code: row.code,
        name: row.name,
        description: row.description,
        items: versions
            .iter()
            .map(|v| BundleItem {
                matter_code: v.matter.code.clone(),
                matter_name: v.matter.name.clone(),
                department: Department {
                    code: v.matter.department_code.clone(),
                    name: v.matter.department_name.clone(),
                },
            })
            .collect(),
    }
}
