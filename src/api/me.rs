//! `/v1/me` and `/v1/me/*`: the signed-in citizen's account and own settings. Deleting the
//! account is `DELETE /v1/me` (rules in `cases::retention`). Subscriptions record what the citizen
//! accepted in `wx.requestSubscribeMessage`: each acceptance allows one message with that
//! template, so a retried request must not count twice (`Idempotency-Key`).

use poem::web::Data;
use poem_openapi::param::Header;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use sha2::{Digest, Sha256};

use crate::api::ApiTags;
use crate::api::problem::{ApiError, ApiResult, FieldProblem};
use crate::api::retention::CaseRetention;
use crate::api::security::CitizenAuth;
use crate::state::AppState;
use crate::store::{StoreError, begin_write, idempotency, subscriptions};

pub struct MeApi;

#[derive(Debug, Clone, Object)]
pub struct SubscriptionRequest {
    /// The template ids the citizen accepted (`accept` in the `wx.requestSubscribeMessage`
    /// result).
    #[oai(validator(min_items = 1, max_items = 20))]
    pub template_ids: Vec<String>,
}

#[derive(Debug, Clone, Object)]
pub struct Subscription {
    pub template_id: String,
    /// The events this template is used for, e.g. `returned`.
    pub events: Vec<String>,
    /// Messages still allowed with it.
    pub remaining: i32,
}

#[derive(Debug, Clone, Object)]
pub struct Subscriptions {
    /// Every configured template, with what the citizen has left of each: the mini-program asks
    /// consent for the ones at 0.
    pub items: Vec<Subscription>,
}

/// What deleting the account did, and when the rest of its data goes.
#[derive(Debug, Clone, Object)]
pub struct AccountDeleted {
    pub deleted_at: chrono::DateTime<chrono::Utc>,
    /// Drafts cancelled, their photos and personal fields destroyed at once.
    pub drafts_deleted: Vec<uuid::Uuid>,
    /// Wallet documents withdrawn, their photos deleted.
    pub documents_withdrawn: u32,
    /// Every other case (ended, or cancelled now): when its photos, result files and personal
    /// fields go under its item's retention.
    pub cases: Vec<CaseRetention>,
    /// When the last of it goes; absent when nothing is left, or while a case is on legal
    /// hold (then that case's data stays as long as the hold).
    #[oai(skip_serializing_if_is_none)]
    pub complete_by: Option<chrono::DateTime<chrono::Utc>>,
}

const SCOPE: &str = "me.subscriptions";

async fn current(state: &AppState, citizen: uuid::Uuid) -> ApiResult<Subscriptions> {
    let stored = subscriptions::of_citizen(state.db()?, citizen).await?;
    let mut items: Vec<Subscription> = Vec::new();
    for (event, template) in &state.config.wechat.subscribe.templates {
        let Some(id) = &template.template_id else {
            continue;
        };
        match items.iter_mut().find(|s| &s.template_id == id) {
            Some(existing) => existing.events.push(event.clone()),
            None => items.push(Subscription {
                template_id: id.clone(),
                events: vec![event.clone()],
                remaining: stored
                    .iter()
                    .find(|s| &s.template_id == id)
                    .map_or(0, |s| s.remaining),
            }),
        }
    }
    Ok(Subscriptions { items })
}

#[OpenApi(tag = "ApiTags::Auth")]
impl MeApi {
    /// Delete my account. Refused (409 `account_has_open_cases`, each case in `errors`) while
    /// a case is with the centre, the courier or the department. Otherwise drafts are
    /// cancelled and destroyed at once, submitted and returned cases cancelled, wallet
    /// documents withdrawn, sessions ended and the WeChat identity forgotten (a later login
    /// starts a new account); ended cases keep their data until their item's retention dates,
    /// which the answer gives.
    #[oai(path = "/v1/me", method = "delete")]
    async fn delete_account(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
    ) -> ApiResult<Json<AccountDeleted>> {
        let deletion = state.cases.delete_account(state.db()?, auth.0.id).await?;
        // Its sessions were revoked with it: this instance stops taking their tokens at once.
        state.revocations.invalidate();
        tracing::info!(
            drafts = deletion.drafts.len(),
            cases = deletion.cases.len(),
            documents = deletion.documents,
            "citizen account deleted"
        );
        Ok(Json(AccountDeleted {
            deleted_at: deletion.deleted_at,
            complete_by: deletion.complete_by(),
            drafts_deleted: deletion.drafts,
            documents_withdrawn: u32::try_from(deletion.documents).unwrap_or(u32::MAX),
            cases: deletion.cases.iter().map(CaseRetention::from).collect(),
        }))
    }

    /// My message subscriptions: each configured template and how many messages it still allows.
    #[oai(path = "/v1/me/subscriptions", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
    ) -> ApiResult<Json<Subscriptions>> {
        Ok(Json(current(&state, auth.0.id).await?))
    }

    /// Record the templates the citizen just accepted: one more message allowed with each.
    #[oai(path = "/v1/me/subscriptions", method = "post")]
    async fn accept(
        &self,
        state: Data<&AppState>,
        auth: CitizenAuth,
        /// Unique per `wx.requestSubscribeMessage` result, reused on retries, so a retry does not
        /// count the acceptance twice.
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 128))]
        idempotency_key: Header<Option<String>>,
        body: Json<SubscriptionRequest>,
    ) -> ApiResult<Json<Subscriptions>> {
        let citizen = auth.0.id;
        let configured: Vec<&String> = state
            .config
            .wechat
            .subscribe
            .templates
            .values()
            .filter_map(|t| t.template_id.as_ref())
            .collect();
        let problems: Vec<FieldProblem> = body
            .template_ids
            .iter()
            .enumerate()
            .filter(|(_, id)| !configured.contains(id))
            .map(|(i, _)| {
                FieldProblem::new(
                    format!("template_ids[{i}]"),
                    "is not a template this service sends",
                )
            })
            .collect();
        if !problems.is_empty() {
            return Err(ApiError::invalid_fields(problems));
        }
        let mut ids = body.template_ids.clone();
        ids.sort();
        ids.dedup();
        let request_hash = hex::encode(Sha256::digest(ids.join("\n").as_bytes()));
        let db = state.db()?;
        let txn = begin_write(db).await?;
        if let Some(key) = &idempotency_key.0 {
            if let Some(saved) = idempotency::find(&txn, citizen, SCOPE, key).await? {
                if saved.request_hash != request_hash {
                    return Err(ApiError::unprocessable(
                        "idempotency_key_reused",
                        "This Idempotency-Key was already used with a different request body.",
                    ));
                }
                drop(txn);
                return Ok(Json(current(&state, citizen).await?));
            }
            let saved =
                idempotency::save(&txn, citizen, SCOPE, key, request_hash, 200, String::new())
                    .await;
            match saved {
                Ok(()) => {}
                // A concurrent retry with this key committed first: it counted the acceptance.
                Err(StoreError::Conflict) => {
                    txn.rollback().await?;
                    return Ok(Json(current(&state, citizen).await?));
                }
                Err(StoreError::Db(e)) => return Err(e.into()),
            }
        }
        subscriptions::accept(&txn, citizen, &ids).await?;
        txn.commit().await?;
        Ok(Json(current(&state, citizen).await?))
    }
}
