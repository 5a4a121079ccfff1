//! `/v1/auth/*`: WeChat login, token refresh and logout.

use poem::http::{HeaderValue, StatusCode, header};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::api::ApiTags;
use crate::api::problem::{ApiError, ApiResult};
use crate::api::security::ClientIp;
use crate::api::tokens::{CitizenView, TokenPair, start_session};
use crate::auth::{SubjectKind, hash_refresh_token, issue_access_token, new_refresh_token};
use crate::http::rate_limit::Limit;
use crate::integrations::wechat::{WechatError, WechatSession};
use crate::state::AppState;
use crate::store::{citizens, sessions};

pub struct AuthApi;

#[derive(Object)]
pub struct WechatLogin {
    /// The code from `wx.login()`. In dev, `dev:NAME` logs in as a test citizen without WeChat.
    #[oai(validator(min_length = 1, max_length = 256))]
    pub code: String,
}

#[derive(Object)]
pub struct RefreshRequest {
    #[oai(validator(min_length = 1, max_length = 256))]
    pub refresh_token: String,
}

#[derive(ApiResponse)]
pub enum LogoutResponse {
    /// The session is over; its refresh tokens no longer work.
    #[oai(status = 204)]
    LoggedOut,
}

#[OpenApi(tag = "ApiTags::Auth")]
impl AuthApi {
    /// Log in with a `wx.login()` code (code2Session). Creates the citizen on first login.
    #[oai(path = "/v1/auth/wechat", method = "post")]
    async fn wechat(
        &self,
        state: Data<&AppState>,
        ip: ClientIp,
        body: Json<WechatLogin>,
    ) -> ApiResult<Json<TokenPair>> {
        let limits = &state.rate_limits;
        limits.check_ip(Limit::CitizenLoginPerIp, ip.0.as_deref())?;
        let session = login_session(&state, &body.code).await?;
        limits.check(Limit::CitizenLoginPerAccount, &session.openid)?;
        let db = state.db()?;
        let citizen =
            citizens::upsert_by_openid(db, &session.openid, session.unionid.as_deref()).await?;
        let pair = start_session(&state, SubjectKind::Citizen, citizen.id).await?;
        Ok(Json(TokenPair {
            citizen: Some(CitizenView {
                id: citizen.id,
                created_at: citizen.created_at,
            }),
            ..pair
        }))
    }

    /// Trade a refresh token for a new pair. A token already traded revokes its whole session.
    #[oai(path = "/v1/auth/refresh", method = "post")]
    async fn refresh(
        &self,
        state: Data<&AppState>,
        body: Json<RefreshRequest>,
    ) -> ApiResult<Json<TokenPair>> {
        let db = state.db()?;
        let (rotated, token) = rotate(&state, &body.refresh_token).await?;
        let kind = match rotated.subject_kind.as_str() {
            "staff" => SubjectKind::Staff,
            _ => SubjectKind::Citizen,
        };
        let citizen = match kind {
            SubjectKind::Citizen => {
                citizens::find(db, rotated.subject_id)
                    .await?
                    .map(|c| CitizenView {
                        id: c.id,
                        created_at: c.created_at,
                    })
            }
            SubjectKind::Staff => None,
        };
        Ok(Json(TokenPair {
            access_token: issue_access_token(
                &state.keys,
                rotated.subject_id,
                kind,
                rotated.family_id,
                state.config.auth.access_ttl_secs,
            ),
            token_type: "Bearer".into(),
            expires_in: state.config.auth.access_ttl_secs,
            refresh_token: token,
            citizen,
            staff: None,
        }))
    }

    /// End the session of this refresh token. Unknown tokens are accepted too: the outcome is
    /// the same.
    #[oai(path = "/v1/auth/logout", method = "post")]
    async fn logout(
        &self,
        state: Data<&AppState>,
        body: Json<RefreshRequest>,
    ) -> ApiResult<LogoutResponse> {
        sessions::revoke_by_token(state.db()?, &hash_refresh_token(&body.refresh_token)).await?;
        state.revocations.invalidate();
        Ok(LogoutResponse::LoggedOut)
    }
}

/// Trades a refresh token for the next one of its session: the session as it stands, and the
/// new token. Shared with the console's cookie session (`console.rs`).
pub async fn rotate(
    state: &AppState,
    refresh_token: &str,
) -> Result<(sessions::Rotated, String), ApiError> {
    let (token, hash) = new_refresh_token();
    let ttl = state.config.auth.refresh_ttl_secs;
    let rotated = sessions::rotate(state.db()?, &hash_refresh_token(refresh_token), hash, ttl)
        .await?
        .inspect_err(|e| {
            if *e == sessions::RotateError::Reused {
                state.revocations.invalidate();
            }
        })
        .map_err(|e| match e {
            sessions::RotateError::Invalid => ApiError::unauthorized(
                "refresh_token_invalid",
                "The refresh token is unknown, expired or revoked. Log in again.",
            ),
            sessions::RotateError::Reused => ApiError::unauthorized(
                "refresh_token_reused",
                "This refresh token was already used; the session has been ended. Log in again.",
            ),
        })?;
    Ok((rotated, token))
}

/// Who the code belongs to: WeChat's answer, or in dev a `dev:NAME` test citizen.
async fn login_session(state: &AppState, code: &str) -> Result<WechatSession, ApiError> {
    if let Some(name) = code.strip_prefix("dev:") {
        if !state.config.dev_login_enabled() {
            return Err(ApiError::unauthorized(
                "wechat_code_invalid",
                "The WeChat login code is invalid or expired. Call wx.login() again.",
            ));
        }
        let valid = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(ApiError::unprocessable(
                "dev_login_invalid",
                "A dev login code is `dev:` followed by 1-64 letters, digits, - or _.",
            ));
        }
        return Ok(WechatSession {
            openid: format!("dev-{name}"),
            unionid: None,
        });
    }
    state.wechat.code2session(code).await.map_err(|e| match e {
        WechatError::CodeInvalid(_) => ApiError::unauthorized(
            "wechat_code_invalid",
            "The WeChat login code is invalid or expired. Call wx.login() again.",
        ),
        WechatError::RateLimited => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "wechat_rate_limited",
            "Too many logins in a short time. Please wait a minute.",
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("60")),
        WechatError::UserBlocked => ApiError::forbidden(
            "wechat_user_blocked",
            "WeChat has restricted this account from logging in.",
        ),
        // Only dev runs without an AppID (prod refuses to start so): there, only dev codes work.
        WechatError::NotConfigured => ApiError::unauthorized(
            "wechat_code_invalid",
            "WeChat login is not configured here; in dev, log in with the code `dev:NAME`.",
        ),
        WechatError::Unavailable(_) => ApiError::unavailable(
            "wechat_unavailable",
            "WeChat login is unavailable right now. Please retry shortly.",
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("5")),
    })
}
