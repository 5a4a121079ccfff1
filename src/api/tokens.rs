//! What a login answers: the token pair of a new session and who it is for. Shared by the
//! citizen's WeChat login (`auth.rs`) and the staff login (`staff.rs`).

use chrono::Utc;
use poem_openapi::Object;

use crate::api::problem::ApiError;
use crate::api::security::split_list;
use crate::auth::{SubjectKind, issue_access_token_with, new_refresh_token};
use crate::domain::staff::parse_roles;
use crate::state::AppState;
use crate::store::sessions;
use crate::store::staff::member;

#[derive(Object)]
pub struct CitizenView {
    pub id: uuid::Uuid,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Object)]
pub struct TokenPair {
    /// A JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque; trade it at `/v1/auth/refresh` for a new pair. Each one works once.
    pub refresh_token: String,
    /// The citizen logged in (absent for staff tokens).
    #[oai(skip_serializing_if_is_none)]
    pub citizen: Option<CitizenView>,
    /// The staff member logged in (absent for citizen tokens).
    #[oai(skip_serializing_if_is_none)]
    pub staff: Option<StaffView>,
}

/// A staff member as shown to themselves and to admins.
#[derive(Debug, Clone, Object)]
pub struct StaffView {
    pub id: uuid::Uuid,
    pub username: String,
    pub display_name: String,
    /// `reviewer`, `reception`, `approver`, `admin`, or `agent` alone.
    pub roles: Vec<String>,
    /// Department codes whose items this member handles.
    pub departments: Vec<String>,
    /// An agent's village service point.
    #[oai(skip_serializing_if_is_none)]
    pub service_point_id: Option<uuid::Uuid>,
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
            service_point_id: m.service_point_id,
            disabled: m.disabled_at.is_some(),
            email: m.email.clone(),
            last_login_at: m.last_login_at,
            created_at: m.created_at,
        }
    }
}

/// Issues an access token and the first refresh token of a new session family.
pub async fn start_session(
    state: &AppState,
    kind: SubjectKind,
    subject: uuid::Uuid,
) -> Result<TokenPair, ApiError> {
    start_session_with(state, kind, subject, Vec::new(), Vec::new()).await
}

/// `start_session`, with a staff member's roles and departments in the access token.
pub async fn start_session_with(
    state: &AppState,
    kind: SubjectKind,
    subject: uuid::Uuid,
    roles: Vec<String>,
    departments: Vec<String>,
) -> Result<TokenPair, ApiError> {
    let (token, hash) = new_refresh_token();
    let auth = &state.config.auth;
    let session =
        sessions::start_family(state.db()?, kind, subject, hash, auth.refresh_ttl_secs).await?;
    Ok(TokenPair {
        access_token: issue_access_token_with(
            &state.keys,
            subject,
            kind,
            session,
            auth.access_ttl_secs,
            roles,
            departments,
        ),
        token_type: "Bearer".into(),
        expires_in: auth.access_ttl_secs,
        refresh_token: token,
        citizen: None,
        staff: None,
    })
}
