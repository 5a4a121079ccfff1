//! The authenticated caller, as extractors: a handler that takes `CitizenAuth` can only run for a
//! valid citizen access token, and never parses headers itself.

use std::sync::{Arc, Mutex};

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;
use uuid::Uuid;

use crate::api::problem::ApiError;
use crate::auth::{Claims, SubjectKind, TokenError};
use crate::domain::staff::{Role, parse_roles};
use crate::state::AppState;
use crate::store::audit::writer::Flush;

/// A citizen, from `Authorization: Bearer <access token>`.
#[derive(SecurityScheme)]
#[oai(
    rename = "CitizenToken",
    ty = "bearer",
    bearer_format = "JWT",
    checker = "check_citizen"
)]
pub struct CitizenAuth(pub Citizen);

#[derive(Debug, Clone, Copy)]
pub struct Citizen {
    pub id: Uuid,
}

async fn check_citizen(req: &Request, bearer: Bearer) -> poem::Result<Citizen> {
    let state = req
        .data::<AppState>()
        .expect("AppState is attached to every route");
    match state.tokens.check(&state.keys, &bearer.token) {
        Ok(claims) if claims.kind == SubjectKind::Citizen => {
            ensure_live(state, &claims).await?;
            Ok(Citizen { id: claims.sub })
        }
        Ok(_) => Err(ApiError::forbidden(
            "citizen_only",
            "This endpoint is for citizens; staff tokens are not accepted here.",
        )
        .into()),
        Err(TokenError::Expired) => Err(ApiError::unauthorized(
            "token_expired",
            "The access token has expired; refresh it.",
        )
        .into()),
        Err(TokenError::Invalid) => {
            Err(ApiError::unauthorized("token_invalid", "The access token is not valid.").into())
        }
    }
}

/// A staff member, from `Authorization: Bearer <access token>`, re-read from the database on
/// every request: a disabled account or a changed role takes effect at once.
#[derive(SecurityScheme)]
#[oai(
    rename = "StaffToken",
    ty = "bearer",
    bearer_format = "JWT",
    checker = "check_staff"
)]
pub struct StaffAuth(pub StaffMember);

#[derive(Debug, Clone)]
pub struct StaffMember {
    pub id: Uuid,
    pub username: String,
    pub roles: Vec<Role>,
    pub departments: Vec<String>,
    /// An agent's village service point.
    pub service_point: Option<Uuid>,
}

impl StaffMember {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// 403 unless the member holds `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.has(role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "role_required",
                format!("This needs the `{role}` role."),
            ))
        }
    }
}

async fn check_staff(req: &Request, bearer: Bearer) -> poem::Result<StaffMember> {
    let state = req
        .data::<AppState>()
        .expect("AppState is attached to every route");
    let claims = match state.tokens.check(&state.keys, &bearer.token) {
        Ok(claims) if claims.kind == SubjectKind::Staff => claims,
        Ok(_) => {
            return Err(ApiError::forbidden(
                "staff_only",
                "This endpoint is for staff; citizen tokens are not accepted here.",
            )
            .into());
        }
        Err(TokenError::Expired) => {
            return Err(ApiError::unauthorized(
                "token_expired",
                "The access token has expired; refresh it.",
            )
            .into());
        }
        Err(TokenError::Invalid) => {
            return Err(
                ApiError::unauthorized("token_invalid", "The access token is not valid.").into(),
            );
        }
    };
    let member = crate::store::staff::find(state.db().map_err(ApiError::from)?, claims.sub)
        .await
        .map_err(ApiError::from)?
        .filter(|m| m.disabled_at.is_none())
        .ok_or_else(|| {
            ApiError::unauthorized("account_disabled", "This staff account is disabled.")
        })?;
    // After the account check: a disabled member's token says so, not just "session ended".
    ensure_live(state, &claims).await?;
    if let Some(slot) = req.data::<AuthenticatedStaff>() {
        slot.set(member.id, &member.username);
    }
    Ok(StaffMember {
        id: member.id,
        username: member.username,
        roles: parse_roles(&member.roles),
        departments: split_list(&member.departments),
        service_point: member.service_point_id,
    })
}

/// 401 unless the token's session is still live: logout, a replayed refresh token and an
/// admin's disable or password reset end it (`auth::revocations`).
async fn ensure_live(state: &AppState, claims: &Claims) -> Result<(), ApiError> {
    let session = claims
        .sid
        .ok_or_else(|| ApiError::unauthorized("token_invalid", "The access token is not valid."))?;
    if state.revocations.is_revoked(state.db()?, session).await? {
        return Err(ApiError::unauthorized(
            "session_ended",
            "This session has ended (logged out or revoked). Log in again.",
        ));
    }
    Ok(())
}

/// The staff member a request was made by, once `StaffAuth` has let them in. The audit of
/// refused actions (`api::refusals`) puts an empty one in the request and reads it afterwards.
#[derive(Clone, Default)]
pub struct AuthenticatedStaff(Arc<Mutex<Option<(Uuid, String)>>>);

impl AuthenticatedStaff {
    fn set(&self, id: Uuid, username: &str) {
        *self.0.lock().expect("not poisoned") = Some((id, username.to_string()));
    }

    pub fn get(&self) -> Option<(Uuid, String)> {
        self.0.lock().expect("not poisoned").clone()
    }
}

/// Appends a successful action of `member` to the audit log; answers once it is durable.
pub async fn audit_staff_action(
    state: &AppState,
    member: &StaffMember,
    ip: &ClientIp,
    action: &'static str,
    target: Option<(&'static str, Uuid)>,
    detail: Option<String>,
) -> Result<(), ApiError> {
    let record = staff_record(member, ip, action, target, detail);
    state
        .audit
        .append(state.db()?, record, Flush::Durable)
        .await?;
    Ok(())
}

/// Appends what a staff member read (a queue, a case: `staff_record`) to the audit log. The
/// record is committed before the answer, without waiting for its WAL flush (`Flush::Deferred`).
pub async fn audit_staff_read(
    state: &AppState,
    record: crate::store::audit::Record,
) -> Result<(), ApiError> {
    state
        .audit
        .append(state.db()?, record, Flush::Deferred)
        .await?;
    Ok(())
}

/// The audit record of a successful action of `member`.
pub fn staff_record(
    member: &StaffMember,
    ip: &ClientIp,
    action: &'static str,
    target: Option<(&'static str, Uuid)>,
    detail: Option<String>,
) -> crate::store::audit::Record {
    crate::store::audit::Record {
        actor_kind: "staff",
        actor_id: Some(member.id),
        actor_name: Some(member.username.clone()),
        client_ip: ip.0.clone(),
        action,
        target_kind: target.map(|(kind, _)| kind),
        target_id: target.map(|(_, id)| id),
        outcome: "success",
        detail,
        on_behalf_of: None,
    }
}

/// Appends an agent's action on a resident's case to the audit log, naming the resident it was
/// done for (their citizen account) and the case.
pub async fn audit_for_resident<C: sea_orm::ConnectionTrait>(
    db: &C,
    member: &StaffMember,
    ip: &ClientIp,
    action: &'static str,
    app: &crate::store::applications::application::Model,
    detail: Option<String>,
) -> Result<(), ApiError> {
    let mut record = staff_record(member, ip, action, Some(("application", app.id)), detail);
    record.on_behalf_of = Some(app.citizen_id);
    crate::store::audit::append(db, record).await?;
    Ok(())
}

pub use crate::domain::staff::split_list;

/// The client's address for the audit log, the login throttle and the rate limits: the peer,
/// or with `server.trust_forwarded_for` the last `X-Forwarded-For` entry, the one our own proxy
/// added (the entries before it are whatever the client sent, so they would let it pick its
/// address, and hand every guess a fresh one).
pub struct ClientIp(pub Option<String>);

impl<'a> poem::FromRequest<'a> for ClientIp {
    async fn from_request(req: &'a Request, _body: &mut poem::RequestBody) -> poem::Result<Self> {
        let trust = req
            .data::<AppState>()
            .is_some_and(|s| s.config.server.trust_forwarded_for);
        Ok(Self::of(req, trust))
    }
}

impl ClientIp {
    pub fn of(req: &Request, trust: bool) -> Self {
        let forwarded = trust
            .then(|| req.headers().get_all("x-forwarded-for").iter().next_back())
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<std::net::IpAddr>().ok())
            .map(|ip| ip.to_string());
        let peer = req
            .remote_addr()
            .as_socket_addr()
            .map(|a| a.ip().to_string());
        Self(forwarded.or(peer))
    }
}
