//! `/v1/admin/service-points`: the village service points (代办点) agents file at: name, the
//! courier address residents' originals leave from and results come back to, and the
//! departments whose items the point files. Agents are staff with the role `agent` and a
//! `service_point_id` (`/v1/admin/staff`). Every change is audited.

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::{ParseFromJSON, ToJSON};
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::applications::Address;
use crate::api::problem::{ApiError, ApiResult, FieldProblem};
use crate::api::security::{ClientIp, StaffAuth, audit_staff_action, split_list};
use crate::domain::phone::PhoneNumber;
use crate::domain::staff::{Role, normalize_username};
use crate::state::AppState;
use crate::store::catalog;
use crate::store::service_points::{self, NewPoint, point};

pub struct AdminServicePointsApi;

#[derive(Debug, Clone, Object)]
pub struct NewServicePoint {
    /// A short stable name: 3-64 lower-case letters, digits, `.`, `_` or `-`.
    pub code: String,
    #[oai(validator(min_length = 1, max_length = 100))]
    pub name: String,
    /// Where the courier collects originals and delivers results; its contact is the point's.
    pub address: Address,
    /// The departments whose items agents here may file (at least one).
    pub departments: Vec<String>,
    /// The courier partner (of `courier.partners`) for this point's cases when their item
    /// names none; absent: `courier.default_partner`.
    pub courier_partner: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct ServicePointChange {
    #[oai(validator(min_length = 1, max_length = 100))]
    pub name: String,
    pub address: Address,
    pub departments: Vec<String>,
    /// Absent: `courier.default_partner`.
    pub courier_partner: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct ServicePoint {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub address: Address,
    pub departments: Vec<String>,
    #[oai(skip_serializing_if_is_none)]
    pub courier_partner: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct ServicePointList {
    pub items: Vec<ServicePoint>,
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
pub enum ServicePointCreated {
    #[oai(status = 201)]
    Created(Json<ServicePoint>),
}

pub fn point_view(row: &point::Model) -> Result<ServicePoint, ApiError> {
    Ok(ServicePoint {
        id: row.id,
        code: row.code.clone(),
        name: row.name.clone(),
        address: Address::parse_from_json(Some(row.address.clone())).map_err(|e| {
            ApiError::internal(format!("a service point's address: {}", e.message()))
        })?,
        departments: split_list(&row.departments),
        courier_partner: row.courier_partner.clone(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// The address, departments and courier partner, checked; every problem at once.
async fn check(
    state: &AppState,
    address: &Address,
    departments: &[String],
    partner: Option<&str>,
    problems: &mut Vec<FieldProblem>,
) -> ApiResult<Vec<String>> {
    if let Some(partner) = partner.filter(|p| !state.config.courier.enabled(p)) {
        problems.push(FieldProblem::new(
            "courier_partner",
            format!(
                "`{partner}` is not an enabled courier partner ({})",
                state.config.courier.partners.join(", ")
            ),
        ));
    }
    if PhoneNumber::parse(&address.phone).is_err() {
        problems.push(FieldProblem::new(
            "address.phone",
            "must be an 11-digit mainland mobile number",
        ));
    }
    let known = catalog::department_codes(state.db()?).await?;
    let mut codes: Vec<String> = departments.iter().map(|d| d.trim().to_string()).collect();
    codes.sort();
    codes.dedup();
    if codes.is_empty() {
        problems.push(FieldProblem::new("departments", "name at least one"));
    }
    for code in &codes {
        if !known.contains(code) {
            problems.push(FieldProblem::new(
                "departments",
                format!("there is no department `{code}`"),
            ));
        }
    }
    Ok(codes)
}

fn address_json(address: &Address) -> serde_json::Value {
    address.to_json().unwrap_or_default()
}

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminServicePointsApi {
    /// Register a service point.
    #[oai(path = "/v1/admin/service-points", method = "post")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        body: Json<NewServicePoint>,
    ) -> ApiResult<ServicePointCreated> {
        auth.0.require(Role::Admin)?;
        let mut problems = Vec::new();
        let code = normalize_username(&body.code)
            .map_err(|m| problems.push(FieldProblem::new("code", m)))
            .ok();
        let partner = body.courier_partner.as_deref();
        let departments = check(
            &state,
            &body.address,
            &body.departments,
            partner,
            &mut problems,
        )
        .await?;
        let Some(code) = code.filter(|_| problems.is_empty()) else {
            return Err(ApiError::invalid_fields(problems));
        };
        let db = state.db()?;
        if service_points::find_by_code(db, &code).await?.is_some() {
            return Err(ApiError::conflict(
                "service_point_code_taken",
                format!("A service point `{code}` exists."),
            ));
        }
        let new = NewPoint {
            code: &code,
            name: body.name.trim(),
            address: address_json(&body.address),
            departments: &departments,
            courier_partner: partner,
        };
        let created = service_points::insert(db, new, state.clock.now()).await?;
        let target = Some(("service_point", created.id));
        let detail = Some(format!("code={code}"));
        audit_staff_action(&state, &auth.0, &ip, "service_point.create", target, detail).await?;
        Ok(ServicePointCreated::Created(Json(point_view(&created)?)))
    }

    /// List service points.
    #[oai(path = "/v1/admin/service-points", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        cursor: Query<Option<Uuid>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<Json<ServicePointList>> {
        auth.0.require(Role::Admin)?;
        let rows = service_points::list(state.db()?, cursor.0, limit.0 + 1).await?;
        let more = rows.len() as u64 > limit.0;
        let items = rows
            .iter()
            .take(limit.0 as usize)
            .map(point_view)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = more
            .then(|| items.last().map(|i| i.id.to_string()))
            .flatten();
        Ok(Json(ServicePointList { items, next_cursor }))
    }

    /// One service point.
    #[oai(path = "/v1/admin/service-points/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<ServicePoint>> {
        auth.0.require(Role::Admin)?;
        Ok(Json(point_view(&find(&state, id.0).await?)?))
    }

    /// Change a service point's name, address, departments or courier partner. Cases already
    /// filed keep the address they were filed with, and a parcel ordered keeps its partner.
    #[oai(path = "/v1/admin/service-points/:id", method = "put")]
    async fn change(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
        body: Json<ServicePointChange>,
    ) -> ApiResult<Json<ServicePoint>> {
        auth.0.require(Role::Admin)?;
        let mut problems = Vec::new();
        let partner = body.courier_partner.as_deref();
        let departments = check(
            &state,
            &body.address,
            &body.departments,
            partner,
            &mut problems,
        )
        .await?;
        if !problems.is_empty() {
            return Err(ApiError::invalid_fields(problems));
        }
        let row = find(&state, id.0).await?;
        let new = NewPoint {
            code: &row.code.clone(),
            name: body.name.trim(),
            address: address_json(&body.address),
            departments: &departments,
            courier_partner: partner,
        };
        let updated = service_points::update(state.db()?, row, new, state.clock.now()).await?;
        let target = Some(("service_point", updated.id));
        audit_staff_action(&state, &auth.0, &ip, "service_point.change", target, None).await?;
        Ok(Json(point_view(&updated)?))
    }
}

async fn find(state: &AppState, id: Uuid) -> ApiResult<point::Model> {
    service_points::find(state.db()?, id)
        .await?
        .ok_or_else(|| ApiError::not_found("service_point_not_found", "No such service point."))
}

fn default_limit() -> u64 {
    50
}
