//! `/v1/console/session`: the staff login of the browser console (`/console/`). The same
//! checks, lockout and audit as `/v1/staff/login`, but the refresh token never reaches script:
//! it lives in an `HttpOnly`, `SameSite=Strict` cookie scoped to this path (`Secure` in prod),
//! and the access token is kept in the page's memory only. Every call here must come from the
//! console's own origin (the `Origin` header), so another site cannot use the cookie.

use poem::Request;
use poem::http::StatusCode;
use poem::web::Data;
use poem_openapi::param::Cookie;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::api::ApiTags;
use crate::api::auth::rotate;
use crate::api::problem::{ApiError, ApiResult};
use crate::api::security::ClientIp;
use crate::api::staff::{StaffLogin, log_in};
use crate::api::tokens::StaffView;
use crate::auth::{SubjectKind, hash_refresh_token, issue_access_token_with};
use crate::config::Profile;
use crate::console::origin_of;
use crate::state::AppState;
use crate::store::{sessions, staff};

/// The cookie that holds the console's refresh token.
pub const COOKIE: &str = "beebox_console";
/// The only path the browser sends it to.
pub const COOKIE_PATH: &str = "/v1/console/session";

pub struct ConsoleApi;

/// A console session: the access token for `Authorization: Bearer`, to keep in memory only.
#[derive(Object)]
pub struct ConsoleSession {
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires; refresh before then.
    pub expires_in: u64,
    pub staff: StaffView,
}

#[derive(ApiResponse)]
pub enum SessionResponse {
    /// The session, with its refresh token set as a cookie.
    #[oai(status = 200)]
    Started(
        Json<ConsoleSession>,
        /// `beebox_console=…; HttpOnly; SameSite=Strict; Path=/v1/console/session`.
        #[oai(header = "Set-Cookie")]
        String,
        #[oai(header = "Cache-Control")] String,
    ),
}

#[derive(ApiResponse)]
pub enum EndResponse {
    /// The session is over and its cookie cleared.
    #[oai(status = 204)]
    Ended(#[oai(header = "Set-Cookie")] String),
}

#[OpenApi(tag = "ApiTags::Auth")]
impl ConsoleApi {
    /// Log in to the console. Answers as `/v1/staff/login` does (401 `invalid_credentials`,
    /// 423 `account_locked`, 403 `account_disabled`), but the refresh token is set as an
    /// `HttpOnly` cookie instead of returned. The `Origin` must be this service's own (403
    /// `origin_refused`).
    #[oai(path = "/v1/console/session", method = "post")]
    async fn log_in(
        &self,
        state: Data<&AppState>,
        req: &Request,
        ip: ClientIp,
        body: Json<StaffLogin>,
    ) -> ApiResult<SessionResponse> {
        same_origin(&state, req)?;
        let pair = log_in(&state, &ip, &body).await?;
        let staff = pair.staff.expect("a staff login names its member");
        Ok(started(
            &state,
            ConsoleSession {
                access_token: pair.access_token,
                token_type: pair.token_type,
                expires_in: pair.expires_in,
                staff,
            },
            &pair.refresh_token,
        ))
    }

    /// A new access token for the console session of the cookie; the cookie's token is
    /// replaced (each works once; a reused one ends the session, 401 `refresh_token_reused`).
    /// A disabled member's session answers 401 `account_disabled`.
    #[oai(path = "/v1/console/session/refresh", method = "post")]
    async fn refresh(
        &self,
        state: Data<&AppState>,
        req: &Request,
        #[oai(name = "beebox_console")] cookie: Cookie<Option<String>>,
    ) -> ApiResult<SessionResponse> {
        same_origin(&state, req)?;
        let presented = cookie.0.ok_or_else(|| {
            ApiError::unauthorized(
                "refresh_token_invalid",
                "There is no console session in this browser. Log in again.",
            )
        })?;
        let (rotated, token) = rotate(&state, &presented).await?;
        if rotated.subject_kind != SubjectKind::Staff.as_str() {
            return Err(ApiError::unauthorized(
                "refresh_token_invalid",
                "This is not a staff session. Log in again.",
            ));
        }
        let member = staff::find(state.db()?, rotated.subject_id)
            .await?
            .filter(|m| m.disabled_at.is_none())
            .ok_or_else(|| {
                ApiError::unauthorized("account_disabled", "This staff account is disabled.")
            })?;
        let view = StaffView::from(&member);
        let auth = &state.config.auth;
        let access_token = issue_access_token_with(
            &state.keys,
            member.id,
            SubjectKind::Staff,
            rotated.family_id,
            auth.access_ttl_secs,
            view.roles.clone(),
            view.departments.clone(),
        );
        Ok(started(
            &state,
            ConsoleSession {
                access_token,
                token_type: "Bearer".into(),
                expires_in: auth.access_ttl_secs,
                staff: view,
            },
            &token,
        ))
    }

    /// Log out of the console: ends the session of the cookie and clears it. Without a cookie,
    /// or with an unknown one, the outcome is the same.
    #[oai(path = "/v1/console/session", method = "delete")]
    async fn log_out(
        &self,
        state: Data<&AppState>,
        req: &Request,
        #[oai(name = "beebox_console")] cookie: Cookie<Option<String>>,
    ) -> ApiResult<EndResponse> {
        same_origin(&state, req)?;
        if let Some(token) = cookie.0 {
            sessions::revoke_by_token(state.db()?, &hash_refresh_token(&token)).await?;
            state.revocations.invalidate();
        }
        Ok(EndResponse::Ended(cookie_header(&state, "", 0)))
    }
}

fn started(state: &AppState, session: ConsoleSession, refresh_token: &str) -> SessionResponse {
    let cookie = cookie_header(state, refresh_token, state.config.auth.refresh_ttl_secs);
    SessionResponse::Started(Json(session), cookie, "no-store".into())
}

fn cookie_header(state: &AppState, value: &str, max_age: u64) -> String {
    let secure = if secure_cookie(state) { "; Secure" } else { "" };
    format!(
        "{COOKIE}={value}; Max-Age={max_age}; Path={COOKIE_PATH}; HttpOnly; SameSite=Strict{secure}"
    )
}

/// `Secure` in prod, and wherever the public address is https.
fn secure_cookie(state: &AppState) -> bool {
    state.config.profile == Profile::Prod
        || state
            .config
            .server
            .public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"))
}

/// 403 `origin_refused` unless the request says it comes from this service's own origin:
/// `server.public_url` when set, else the address the request was sent to (`Host`).
fn same_origin(state: &AppState, req: &Request) -> Result<(), ApiError> {
    let refused =
        |detail: &str| ApiError::new(StatusCode::FORBIDDEN, "origin_refused", detail.to_string());
    let origin = req
        .headers()
        .get("origin")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| refused("The console session is only available to the console's own pages (no Origin header)."))?;
    let expected = state
        .config
        .server
        .public_url
        .as_deref()
        .map(|url| origin_of(url).to_ascii_lowercase());
    let ok = match expected {
        Some(expected) => origin.eq_ignore_ascii_case(&expected),
        None => {
            let host = req
                .headers()
                .get("host")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let authority = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            !host.is_empty() && authority.is_some_and(|a| a.eq_ignore_ascii_case(host))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(refused(
            "The console session is only available to the console's own pages.",
        ))
    }
}
