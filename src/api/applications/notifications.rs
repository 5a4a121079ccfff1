//! `/v1/applications/{id}/notifications`: what the citizen was told about their application,
//! by which channel, and whether it arrived. Staff see the same list in the review case view.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::problem::ApiResult;
use crate::api::security::CitizenAuth;
use crate::cases::reads;
use crate::state::AppState;
use crate::store::notifications;

pub struct NotificationsApi;

#[derive(Debug, Clone, Object)]
pub struct Notification {
    pub id: Uuid,
    /// `wechat`, `email`, or `agent` (an email to the agent who filed the case).
    pub channel: String,
    /// The event it tells of: `submitted`, `returned`, `rejected`, `prereview_passed`, ...
    pub event: String,
    /// `pending` (queued or being retried), `sent`, `skipped` (no consent, not configured),
    /// `failed`, or `unknown`: the service stopped while the message was being handed over, so it
    /// may or may not have arrived; it is not sent again, to avoid a duplicate.
    pub status: String,
    /// Why it was skipped or failed, or the last error while it is retried.
    #[oai(skip_serializing_if_is_none)]
    pub detail: Option<String>,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Object)]
pub struct NotificationList {
    pub items: Vec<Notification>,
}

/// An application's notifications, oldest first.
pub async fn history<C: sea_orm::ConnectionTrait>(
    db: &C,
    application_id: Uuid,
) -> Result<Vec<Notification>, sea_orm::DbErr> {
    Ok(notifications::of_application(db, application_id)
        .await?
        .into_iter()
        .map(|n| Notification {
            id: n.id,
            channel: n.channel,
            event: n.event,
            // `sending` is internal: to a reader the message is still on its way.
            status: if n.status == notifications::NotificationStatus::Sending.as_str() {
                notifications::NotificationStatus::Pending.as_str().into()
            } else {
                n.status
            },
            detail: n.detail,
            attempts: n.attempts,
            created_at: n.created_at,
            sent_at: n.sent_at,
        })
        .collect())
}

#[OpenApi(tag = "ApiTags::Applications")]
impl NotificationsApi {
    /// The messages sent to me about this application.
    #[oai(path = "/v1/applications/:id/notifications", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<NotificationList>> {
        let db = state.db()?;
        let app = reads::owned(db, auth.0.id, id.0).await?;
        Ok(Json(NotificationList {
            items: history(db, app.id).await?,
        }))
    }
}
