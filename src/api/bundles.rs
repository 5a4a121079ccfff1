//! `/v1/bundles`: the catalogue's "one thing" bundles (一件事): items of several departments a
//! citizen files together with `POST /v1/filings`.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::{Object, OpenApi};
use sea_orm::ConnectionTrait;

use crate::api::ApiTags;
use crate::api::conditional::{Cached, Freshness, if_none_match};
use crate::api::matters::{Department, json_bytes};
use crate::api::problem::{ApiError, ApiResult};
use crate::catalog::Snapshot;
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
    /// The bundles citizens can file: several departments' items in one go. Built once per
    /// catalogue revision and sent with an `ETag`; `If-None-Match` naming it answers 304.
    #[oai(path = "/v1/bundles", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        request: &poem::Request,
    ) -> ApiResult<Cached<BundleList>> {
        let snapshot = state.catalog.snapshot(state.db()?).await?;
        let rendered = snapshot.try_rendered("bundles", |snapshot| {
            let items = snapshot
                .bundles
                .iter()
                .map(|row| Ok(view(row, &in_snapshot(snapshot, row)?)))
                .collect::<Result<_, ApiError>>()?;
            Ok::<_, ApiError>(json_bytes(&BundleList { items }))
        })?;
        Ok(Cached::answer(
            rendered,
            Freshness::Revalidate,
            if_none_match(request),
        ))
    }

    /// One bundle with its items.
    #[oai(path = "/v1/bundles/:code", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        code: Path<String>,
        request: &poem::Request,
    ) -> ApiResult<Cached<Bundle>> {
        let snapshot = state.catalog.snapshot(state.db()?).await?;
        let row = snapshot.bundle(&code.0).ok_or_else(|| not_found(&code.0))?;
        let rendered = snapshot.try_rendered(&format!("bundle/{}", row.code), |snapshot| {
            Ok::<_, ApiError>(json_bytes(&view(row, &in_snapshot(snapshot, row)?)))
        })?;
        Ok(Cached::answer(
            rendered,
            Freshness::Revalidate,
            if_none_match(request),
        ))
    }
}

fn not_found(code: &str) -> ApiError {
    ApiError::not_found("bundle_not_found", format!("There is no bundle `{code}`."))
}

/// The current version of each item of `bundle`, from the in-memory catalogue.
fn in_snapshot(
    snapshot: &Snapshot,
    bundle: &bundle::Model,
) -> Result<Vec<Arc<MatterVersion>>, ApiError> {
    bundle
        .item_codes()
        .into_iter()
        .map(|code| {
            snapshot.item(code).cloned().ok_or_else(|| {
                ApiError::internal(format!(
                    "bundle {} names a missing item {code}",
                    bundle.code
                ))
            })
        })
        .collect()
}

/// The bundle `code`, or `bundle_not_found`.
pub async fn find<C: ConnectionTrait>(db: &C, code: &str) -> Result<bundle::Model, ApiError> {
    catalog::find_bundle(db, code)
        .await?
        .ok_or_else(|| not_found(code))
}

/// The current version of each item of `bundle`, in its order.
pub async fn current_items<C: ConnectionTrait>(
    db: &C,
    bundle: &bundle::Model,
) -> Result<Vec<Arc<MatterVersion>>, ApiError> {
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

fn view(row: &bundle::Model, versions: &[Arc<MatterVersion>]) -> Bundle {
    Bundle {
        code: row.code.clone(),
        name: row.name.clone(),
        description: row.description.clone(),
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
