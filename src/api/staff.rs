//! `/v1/staff/login`: username and password for back-office staff. Attempts count per
//! (username, client address), existing user or not, and lock that pair; a slower back-off per
//! username holds every other address but the member's desk (their last good login's address).
//! The answer never says which part was wrong; only the right password learns of `disabled`.

use std::time::Duration;

use chrono::Utc;
use poem::http::{HeaderValue, StatusCode, header};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use crate::api::ApiTags;
use crate::api::problem::{ApiError, ApiResult};
use crate::api::security::ClientIp;
use crate::api::tokens::{StaffView, TokenPair, start_session_with};
use crate::auth::SubjectKind;
use crate::domain::staff::normalize_username;
use crate::passwords;
use crate::state::AppState;
use crate::store::audit::{self, Record};
use crate::store::login_attempts::{self, Counted, EVERYWHERE};
use crate::store::staff::{self, member};

pub struct StaffApi;

#[derive(Object)]
pub struct StaffLogin {
    #[oai(validator(min_length = 1, max_length = 64))]
    pub username: String,
    #[oai(validator(min_length = 1, max_length = 256))]
    pub password: String,
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized(
        "invalid_credentials",
        "The username or password is not correct.",
    )
}

fn locked(until: Option<chrono::DateTime<Utc>>, now: chrono::DateTime<Utc>) -> ApiError {
    let wait = until.map_or(60, |until| (until - now).num_seconds().max(1));
    ApiError::new(
        StatusCode::LOCKED,
        "account_locked",
        format!(
            "Too many failed logins. Try again in {} minutes.",
            (wait + 59) / 60
        ),
    )
    .with_header(header::RETRY_AFTER, HeaderValue::from(wait))
}

#[OpenApi(tag = "ApiTags::Auth")]
impl StaffApi {
    /// Staff login. Returns the same token pair as citizen login, with `staff` filled in.
    /// Too many failures from one address lock the username there (423 `account_locked`); a
    /// disabled account with the right password answers 403 `account_disabled`.
    #[oai(path = "/v1/staff/login", method = "post")]
    async fn login(
        &self,
        state: Data<&AppState>,
        ip: ClientIp,
        body: Json<StaffLogin>,
    ) -> ApiResult<Json<TokenPair>> {
        Ok(Json(log_in(&state, &ip, &body).await?))
    }
}

/// Checks a staff login (throttled, counted, audited) and starts its session. Shared with the
/// console's cookie session (`console.rs`).
pub async fn log_in(
    state: &AppState,
    ip: &ClientIp,
    body: &StaffLogin,
) -> Result<TokenPair, ApiError> {
    {
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
        let address = ip.0.clone().unwrap_or_else(|| "unknown".into());
        let now = Utc::now();
        let record = |outcome: &'static str, action: &'static str, detail: String| Record {
            actor_kind: "staff",
            actor_name: Some(username.clone()),
            client_ip: ip.0.clone(),
            action,
            outcome,
            detail: Some(detail),
            ..Default::default()
        };
        // Counted before the password is checked, in one statement: a burst of parallel
        // guesses gets no more checks than the same guesses one after another.
        let here = login_attempts::count(
            db,
            &username,
            &address,
            now,
            auth.login_lock_after,
            chrono::Duration::seconds(auth.login_lock_secs as i64),
        )
        .await?;
        if !here.allowed(auth.login_lock_after) {
            audit::append(db, record("failure", "login", "locked".into())).await?;
            return Err(locked(here.locked_until, now));
        }
        let account = staff::find_by_username(db, &username).await?;
        let at_desk = ip.0.is_some()
            && account.as_ref().and_then(|a| a.last_login_ip.as_deref()) == ip.0.as_deref();
        let everywhere = if at_desk {
            None
        } else {
            Some(
                login_attempts::count(
                    db,
                    &username,
                    EVERYWHERE,
                    now,
                    auth.login_global_lock_after,
                    chrono::Duration::seconds(auth.login_global_lock_secs as i64),
                )
                .await?,
            )
        };
        if let Some(everywhere) = everywhere.filter(|c| !c.allowed(auth.login_global_lock_after)) {
            let detail = "locked (every address but the desk)".to_string();
            audit::append(db, record("failure", "login", detail)).await?;
            return Err(locked(everywhere.locked_until, now));
        }
        let password = body.password.clone();
        let stored = account.as_ref().map(|a| a.password_hash.clone());
        let matches =
            tokio::task::spawn_blocking(move || passwords::verify(&password, stored.as_deref()))
                .await
                .map_err(ApiError::internal)?;
        let account = match account {
            Some(account) if matches => account,
            account => {
                audit::append(db, record("failure", "login", "bad credentials".into())).await?;
                audit_locks(state, &username, account.as_ref(), here, everywhere, ip).await?;
                // Slow down from the third failure on, the same for every username.
                let extra = (here.attempt - 2).clamp(0, 4) as u64;
                tokio::time::sleep(Duration::from_millis(500 * extra)).await;
                return Err(invalid_credentials());
            }
        };
        // The right password: this address's count, and the per-username one unless it was
        // not touched (at the desk), start again.
        login_attempts::clear(db, &username, Some(&address)).await?;
        if everywhere.is_some() {
            login_attempts::clear(db, &username, Some(EVERYWHERE)).await?;
        }
        if account.disabled_at.is_some() {
            let mut denied = record("denied", "login", "account_disabled".into());
            denied.actor_id = Some(account.id);
            audit::append(db, denied).await?;
            return Err(ApiError::forbidden(
                "account_disabled",
                "This staff account is disabled.",
            ));
        }
        staff::record_login(db, account.id, ip.0.as_deref()).await?;
        let mut success = record("success", "login", String::new());
        success.actor_id = Some(account.id);
        success.actor_name = Some(account.username.clone());
        success.detail = None;
        audit::append(db, success).await?;
        let view = StaffView::from(&account);
        let mut pair = start_session_with(
            state,
            SubjectKind::Staff,
            account.id,
            view.roles.clone(),
            view.departments.clone(),
        )
        .await?;
        pair.staff = Some(view);
        Ok(pair)
    }
}

/// A failure that just locked the username (here, or everywhere but the desk) is audited as
/// `login.lock`, with the member as target when the name is theirs.
async fn audit_locks(
    state: &AppState,
    username: &str,
    account: Option<&member::Model>,
    here: Counted,
    everywhere: Option<Counted>,
    ip: &ClientIp,
) -> Result<(), ApiError> {
    let auth = &state.config.auth;
    let mut locks = Vec::new();
    if here.attempt == auth.login_lock_after as i32 {
        locks.push(format!("from this address for {} s", auth.login_lock_secs));
    }
    if everywhere.is_some_and(|c| c.attempt == auth.login_global_lock_after as i32) {
        locks.push(format!(
            "from every address but the desk for {} s",
            auth.login_global_lock_secs
        ));
    }
    for detail in locks {
        audit::append(
            state.db()?,
            Record {
                actor_kind: "staff",
                actor_name: Some(username.to_string()),
                client_ip: ip.0.clone(),
                action: "login.lock",
                target_kind: account.map(|_| "staff"),
                target_id: account.map(|a| a.id),
                outcome: "success",
                detail: Some(detail),
                ..Default::default()
            },
        )
        .await?;
    }
    Ok(())
}
