//! `/v1/admin/staff`: create, list, re-role, disable and enable staff, reset passwords and lift
//! login locks. Every change is audited; disabling or resetting a password ends the member's
//! sessions.

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::problem::{ApiError, ApiResult, FieldProblem};
use crate::api::security::{ClientIp, StaffAuth, StaffMember, audit_staff_action};
use crate::api::tokens::StaffView;
use crate::domain::email::EmailAddress;
use crate::domain::staff::{Role, check_password, join_roles, normalize_username};
use crate::passwords;
use crate::state::AppState;
use crate::store::catalog;
use crate::store::{begin_write, login_attempts, sessions, staff};

pub struct AdminStaffApi;

#[derive(Object)]
pub struct NewStaff {
    pub username: String,
    #[oai(validator(min_length = 1, max_length = 100))]
    pub display_name: String,
    pub password: String,
    pub roles: Vec<String>,
    #[oai(default)]
    pub departments: Vec<String>,
    /// Where alerts and digests go.
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
    /// For the role `agent` (which holds no other role and no departments): the village
    /// service point the agent files at.
    #[oai(skip_serializing_if_is_none)]
    pub service_point_id: Option<Uuid>,
}

#[derive(Object)]
pub struct EmailChange {
    /// The new address; `null` or absent removes it.
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
}

#[derive(Object)]
pub struct RoleChange {
    pub roles: Vec<String>,
    pub departments: Vec<String>,
    /// Required with the role `agent`, refused without it.
    #[oai(skip_serializing_if_is_none)]
    pub service_point_id: Option<Uuid>,
}

#[derive(Object)]
pub struct PasswordReset {
    pub password: String,
}

#[derive(Object)]
pub struct StaffList {
    pub items: Vec<StaffView>,
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
pub enum StaffCreated {
    #[oai(status = 201)]
    Created(Json<StaffView>),
}

#[derive(ApiResponse)]
pub enum Unlocked {
    /// The member's failed logins are forgotten, from every address: they can log in again.
    #[oai(status = 204)]
    Unlocked,
}

#[derive(ApiResponse)]
pub enum PasswordChanged {
    /// The new password is set and the member's sessions are ended.
    #[oai(status = 204)]
    Changed,
}

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminStaffApi {
    /// Create a staff member.
    #[oai(path = "/v1/admin/staff", method = "post")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        body: Json<NewStaff>,
    ) -> ApiResult<StaffCreated> {
        auth.0.require(Role::Admin)?;
        let db = state.db()?;
        let mut problems = Vec::new();
        let username = normalize_username(&body.username)
            .map_err(|m| problems.push(FieldProblem::new("username", m)))
            .ok();
        if let Err(m) = check_password(&body.password) {
            problems.push(FieldProblem::new("password", m));
        }
        let (roles, departments) = check_roles(
            &state,
            &body.roles,
            &body.departments,
            body.service_point_id,
            &mut problems,
        )
        .await?;
        let email = check_email(body.email.as_deref(), &mut problems);
        let Some(username) = username.filter(|_| problems.is_empty()) else {
            return Err(ApiError::invalid_fields(problems));
        };
        if staff::find_by_username(db, &username).await?.is_some() {
            return Err(ApiError::conflict(
                "username_taken",
                format!("The username `{username}` is taken."),
            ));
        }
        let password = body.password.clone();
        let hash = tokio::task::spawn_blocking(move || passwords::hash(&password))
            .await
            .map_err(ApiError::internal)?;
        let txn = begin_write(db).await?;
        let mut created = staff::insert(
            &txn,
            &username,
            body.display_name.trim(),
            hash,
            join_roles(&roles),
            departments.join(","),
            email,
        )
        .await?;
        if body.service_point_id.is_some() {
            staff::set_service_point(&txn, created.id, body.service_point_id).await?;
            created.service_point_id = body.service_point_id;
        }
        txn.commit().await?;
        audit_change(
            &state,
            &auth.0,
            &ip,
            "staff.create",
            created.id,
            Some(format!("roles={}", created.roles)),
        )
        .await?;
        Ok(StaffCreated::Created(Json(StaffView::from(&created))))
    }

    /// List staff members.
    #[oai(path = "/v1/admin/staff", method = "get")]
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
    ) -> ApiResult<Json<StaffList>> {
        auth.0.require(Role::Admin)?;
        let rows = staff::list(state.db()?, cursor.0, limit.0 + 1).await?;
        let more = rows.len() as u64 > limit.0;
        let items: Vec<StaffView> = rows
            .iter()
            .take(limit.0 as usize)
            .map(StaffView::from)
            .collect();
        let next_cursor = more
            .then(|| items.last().map(|i| i.id.to_string()))
            .flatten();
        Ok(Json(StaffList { items, next_cursor }))
    }

    /// Set or remove the address a member's alerts and digests go to.
    #[oai(path = "/v1/admin/staff/:id/email", method = "put")]
    async fn change_email(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
        body: Json<EmailChange>,
    ) -> ApiResult<Json<StaffView>> {
        auth.0.require(Role::Admin)?;
        let mut problems = Vec::new();
        let email = check_email(body.email.as_deref(), &mut problems);
        if !problems.is_empty() {
            return Err(ApiError::invalid_fields(problems));
        }
        let member = find(&state, id.0).await?;
        let change = staff::Change::Email(email);
        let updated = staff::change(state.db()?, member, change, state.clock.now()).await?;
        // The address itself stays out of the audit detail: it is personal data.
        let detail = if updated.email.is_some() {
            "email=set"
        } else {
            "email=removed"
        };
        audit_change(
            &state,
            &auth.0,
            &ip,
            "staff.change_email",
            updated.id,
            Some(detail.into()),
        )
        .await?;
        Ok(Json(StaffView::from(&updated)))
    }

    /// Change a member's roles and departments.
    #[oai(path = "/v1/admin/staff/:id/roles", method = "put")]
    async fn change_roles(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
        body: Json<RoleChange>,
    ) -> ApiResult<Json<StaffView>> {
        auth.0.require(Role::Admin)?;
        let mut problems = Vec::new();
        let (roles, departments) = check_roles(
            &state,
            &body.roles,
            &body.departments,
            body.service_point_id,
            &mut problems,
        )
        .await?;
        if !problems.is_empty() {
            return Err(ApiError::invalid_fields(problems));
        }
        if id.0 == auth.0.id && !roles.contains(&Role::Admin) {
            return Err(self_lockout());
        }
        let member = find(&state, id.0).await?;
        let change = staff::Change::Access {
            roles: join_roles(&roles),
            departments,
        };
        let db = state.db()?;
        let txn = begin_write(db).await?;
        let mut updated = staff::change(&txn, member, change, state.clock.now()).await?;
        staff::set_service_point(&txn, updated.id, body.service_point_id).await?;
        updated.service_point_id = body.service_point_id;
        txn.commit().await?;
        audit_change(
            &state,
            &auth.0,
            &ip,
            "staff.change_roles",
            updated.id,
            Some(format!(
                "roles={} departments={}",
                updated.roles, updated.departments
            )),
        )
        .await?;
        Ok(Json(StaffView::from(&updated)))
    }

    /// Disable a member: they cannot log in, and their sessions end at once.
    #[oai(path = "/v1/admin/staff/:id/disable", method = "post")]
    async fn disable(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
    ) -> ApiResult<Json<StaffView>> {
        auth.0.require(Role::Admin)?;
        if id.0 == auth.0.id {
            return Err(self_lockout());
        }
        let member = find(&state, id.0).await?;
        let updated = if member.disabled_at.is_some() {
            member
        } else {
            let now = state.clock.now();
            let change = staff::Change::Disabled(Some(now));
            staff::change(state.db()?, member, change, now).await?
        };
        sessions::revoke_subject(state.db()?, updated.id).await?;
        state.revocations.invalidate();
        audit_change(&state, &auth.0, &ip, "staff.disable", updated.id, None).await?;
        Ok(Json(StaffView::from(&updated)))
    }

    /// Enable a disabled member again.
    #[oai(path = "/v1/admin/staff/:id/enable", method = "post")]
    async fn enable(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
    ) -> ApiResult<Json<StaffView>> {
        auth.0.require(Role::Admin)?;
        let member = find(&state, id.0).await?;
        let change = staff::Change::Disabled(None);
        let updated = staff::change(state.db()?, member, change, state.clock.now()).await?;
        audit_change(&state, &auth.0, &ip, "staff.enable", updated.id, None).await?;
        Ok(Json(StaffView::from(&updated)))
    }

    /// Set a new password for a member; their sessions end.
    #[oai(path = "/v1/admin/staff/:id/password", method = "post")]
    async fn reset_password(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
        body: Json<PasswordReset>,
    ) -> ApiResult<PasswordChanged> {
        auth.0.require(Role::Admin)?;
        check_password(&body.password)
            .map_err(|m| ApiError::invalid_fields(vec![FieldProblem::new("password", m)]))?;
        let member = find(&state, id.0).await?;
        let password = body.password.clone();
        let hash = tokio::task::spawn_blocking(move || passwords::hash(&password))
            .await
            .map_err(ApiError::internal)?;
        let change = staff::Change::PasswordHash(hash);
        let updated = staff::change(state.db()?, member, change, state.clock.now()).await?;
        sessions::revoke_subject(state.db()?, updated.id).await?;
        state.revocations.invalidate();
        audit_change(
            &state,
            &auth.0,
            &ip,
            "staff.reset_password",
            updated.id,
            None,
        )
        .await?;
        Ok(PasswordChanged::Changed)
    }

    /// Lift a member's login lock: from every address, and the per-username back-off.
    #[oai(path = "/v1/admin/staff/:id/unlock", method = "post")]
    async fn unlock(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
    ) -> ApiResult<Unlocked> {
        auth.0.require(Role::Admin)?;
        let member = find(&state, id.0).await?;
        let cleared = login_attempts::clear(state.db()?, &member.username, None).await?;
        let detail = format!("throttle rows cleared: {cleared}");
        audit_change(
            &state,
            &auth.0,
            &ip,
            "staff.unlock",
            member.id,
            Some(detail),
        )
        .await?;
        Ok(Unlocked::Unlocked)
    }
}

/// A blank or absent address means none.
fn check_email(raw: Option<&str>, problems: &mut Vec<FieldProblem>) -> Option<String> {
    match raw.map(str::trim) {
        Some(raw) if !raw.is_empty() => EmailAddress::parse(raw)
            .map(|e| e.as_str().to_string())
            .map_err(|m| problems.push(FieldProblem::new("email", m)))
            .ok(),
        _ => None,
    }
}

fn default_limit() -> u64 {
    50
}

fn self_lockout() -> ApiError {
    ApiError::conflict(
        "cannot_lock_out_self",
        "You cannot disable yourself or remove your own admin role.",
    )
}

async fn find(state: &AppState, id: Uuid) -> Result<crate::store::staff::member::Model, ApiError> {
    staff::find(state.db()?, id)
        .await?
        .ok_or_else(|| ApiError::not_found("staff_not_found", "No such staff member."))
}

/// Known roles (at least one) and existing department codes.
async fn check_roles(
    state: &AppState,
    roles: &[String],
    departments: &[String],
    service_point: Option<Uuid>,
    problems: &mut Vec<FieldProblem>,
) -> Result<(Vec<Role>, Vec<String>), ApiError> {
    let parsed: Vec<Role> = roles.iter().filter_map(|r| Role::parse(r)).collect();
    if parsed.is_empty() || parsed.len() != roles.len() {
        problems.push(FieldProblem::new(
            "roles",
            "must list one or more of reviewer, reception, approver, admin, or agent alone",
        ));
    }
    // An agent files for residents: reviewing or deciding too would let them pass their own.
    if parsed.contains(&Role::Agent) {
        if parsed.len() > 1 {
            problems.push(FieldProblem::new("roles", "an agent holds no other role"));
        }
        if !departments.is_empty() {
            problems.push(FieldProblem::new(
                "departments",
                "an agent has none; the service point says what they file",
            ));
        }
        match service_point {
            None => problems.push(FieldProblem::new(
                "service_point_id",
                "an agent files at a service point: name it",
            )),
            Some(id) => {
                if crate::store::service_points::find(state.db()?, id)
                    .await?
                    .is_none()
                {
                    problems.push(FieldProblem::new(
                        "service_point_id",
                        "there is no such service point",
                    ));
                }
            }
        }
    } else if service_point.is_some() {
        problems.push(FieldProblem::new(
            "service_point_id",
            "only an agent has a service point",
        ));
    }
    let known = catalog::department_codes(state.db()?).await?;
    let mut codes: Vec<String> = departments.iter().map(|d| d.trim().to_string()).collect();
    codes.sort();
    codes.dedup();
    if let Some(unknown) = codes.iter().find(|c| !known.contains(c)) {
        problems.push(FieldProblem::new(
            "departments",
            format!("unknown department `{unknown}`"),
        ));
    }
    Ok((parsed, codes))
}

async fn audit_change(
    state: &AppState,
    actor: &StaffMember,
    ip: &ClientIp,
    action: &'static str,
    target: Uuid,
    detail: Option<String>,
) -> Result<(), ApiError> {
    audit_staff_action(state, actor, ip, action, Some(("staff", target)), detail).await
}
