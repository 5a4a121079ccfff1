//! `/v1/staff/login`: username and password for back-office staff. Failures count per username
//! (existing or not), slow down and then lock; the answer never says which part was wrong.

use std::time::Duration;

use chrono::Utc;
use poem::http::{HeaderValue, StatusCode, header};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use crate::api::ApiTags;
use crate::api::auth::{TokenPair, start_session};
use crate::api::problem::{ApiError, ApiResult};
use crate::api::security::{ClientIp, split_list};
use crate::auth::SubjectKind;
use crate::domain::staff::{normalize_username, parse_roles};
use crate::passwords;
use crate::state::AppState;
use crate::store::audit::{self, Record};
use crate::store::staff::{self, member};

pub struct StaffApi;

#[derive(Object)]
pub struct StaffLogin {
    #[oai(validator(min_length = 1, max_length = 64))]
    pub username: String,
    #[oai(validator(min_length = 1, max_length = 256))]
    pub password: String,
}

/// A staff member as shown to themselves and to admins.
#[derive(Debug, Clone, Object)]
pub struct StaffView {
    pub id: uuid::Uuid,
    pub username: String,
    pub display_name: String,
    /// `reviewer`, `reception`, `approver`, `admin`.
    pub roles: Vec<String>,
    /// Department codes whose items this member handles.
    pub departments: Vec<String>,
    pub disabled: bool,
    /// Where alerts and digests go.
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub last_login_at: Option<chrono::DateTime<Utc>>,
    pub created_at: chrono::DateTime<Utc>,
}

impl From<&member::Model> for StaffView {
    fn from(m: &member::Model) -> Self {
        Self {
            id: m.id,
            username: m.username.clone(),
            display_name: m.display_name.clone(),
            roles: parse_roles(&m.roles)
                .iter()
                .map(|r| r.as_str().to_string())
                .collect(),
            departments: split_list(&m.departments),
            disabled: m.disabled_at.is_some(),
            email: m.email.clone(),
            last_login_at: m.last_login_at,
            created_at: m.created_at,
        }
    }
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized(
        "invalid_credentials",
        "The username or password is not correct.",
    )
}

#[OpenApi(tag = "ApiTags::Auth")]
impl StaffApi {
    /// Staff login. Returns the same token pair as citizen login, with `staff` filled in.
    #[oai(path = "/v1/staff/login", method = "post")]
    async fn login(
        &self,
        state: Data<&AppState>,
        ip: ClientIp,
        body: Json<StaffLogin>,
    ) -> ApiResult<Json<TokenPair>> {
        let db = state.db()?;
        let auth = &state.config.auth;
        // Malformed names are throttled and answered like any other unknown user.
        let username = normalize_username(&body.username).unwrap_or_else(|_| {
            body.username
                .trim()
                .to_lowercase()
                .chars()
                .take(64)
                .collect()
        });
        state.rate_limits.staff_login(ip.0.as_deref(), &username)?;
        let now = Utc::now();
        let failed = |detail: &str| Record {
            actor_kind: "staff",
            actor_name: Some(username.clone()),
            client_ip: ip.0.clone(),
            action: "login",
            outcome: "failure",
            detail: Some(detail.to_string()),
            ..Default::default()
        };
        if let Some(locked_until) = staff::throttle_of(db, &username)
            .await?
            .and_then(|t| t.locked_until)
            .filter(|until| *until > now)
        {
            audit::append(db, failed("locked")).await?;
            let wait = (locked_until - now).num_seconds().max(1);
            return Err(ApiError::new(
                StatusCode::LOCKED,
                "account_locked",
                format!(
                    "Too many failed logins. Try again in {} minutes.",
                    (wait + 59) / 60
                ),
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from(wait)));
        }
        let account = staff::find_by_username(db, &username).await?;
        let password = body.password.clone();
        let stored = account.as_ref().map(|a| a.password_hash.clone());
        let matches =
            tokio::task::spawn_blocking(move || passwords::verify(&password, stored.as_deref()))
                .await
                .map_err(ApiError::internal)?;
        let account = match account {
            Some(account) if matches && account.disabled_at.is_none() => account,
            _ => {
                let throttle = staff::record_failure(
                    db,
                    &username,
                    now,
                    auth.login_lock_after as i32,
                    chrono::Duration::seconds(auth.login_lock_secs as i64),
                )
                .await?;
                audit::append(db, failed("bad credentials")).await?;
                // Slow down from the third failure on, the same for every username.
                let extra = (throttle.failures - 2).clamp(0, 4) as u64;
                tokio::time::sleep(Duration::from_millis(500 * extra)).await;
                return Err(invalid_credentials());
            }
        };
        staff::clear_failures(db, &username).await?;
        staff::record_login(db, account.id).await?;
        audit::append(
            db,
            Record {
                actor_kind: "staff",
                actor_id: Some(account.id),
                actor_name: Some(account.username.clone()),
                client_ip: ip.0.clone(),
                action: "login",
                outcome: "success",
                ..Default::default()
            },
        )
        .await?;
        let view = StaffView::from(&account);
        let mut pair = start_session(&state, SubjectKind::Staff, account.id).await?;
        pair.access_token = crate::auth::issue_access_token_with(
            &state.keys,
            account.id,
            SubjectKind::Staff,
            auth.access_ttl_secs,
            view.roles.clone(),
            view.departments.clone(),
        );
        pair.staff = Some(view);
        Ok(Json(pair))
    }
}
