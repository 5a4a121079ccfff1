//! `Idempotency-Key` on the routes that create (an application, a filing): the first answer is
//! saved in the creating transaction; a retry with the same key and body gets that answer
//! again, one with another body `idempotency_key_reused`.

use poem_openapi::types::{ParseFromJSON, ToJSON};
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::api::problem::{ApiError, ApiResult};
use crate::cases::CaseError;
use crate::store::{StoreError, begin_write, idempotency};

/// What a request body is compared by.
pub fn request_hash(body: &impl ToJSON) -> String {
    hex::encode(Sha256::digest(body.to_json_string().as_bytes()))
}

/// The answer an earlier request with `key` got, if there was one (in the creating
/// transaction, before anything is created).
pub async fn earlier<T: ParseFromJSON>(
    txn: &DatabaseTransaction,
    subject: Uuid,
    scope: &'static str,
    key: Option<&str>,
    request_hash: &str,
) -> ApiResult<Option<T>> {
    let Some(key) = key else {
        return Ok(None);
    };
    match idempotency::find(txn, subject, scope, key).await? {
        Some(saved) => replay(&saved, request_hash).map(Some),
        None => Ok(None),
    }
}

/// How a new answer was kept.
pub enum Saved<T> {
    /// Saved in this transaction (or no key was given): commit it, then answer.
    Fresh(DatabaseTransaction, T),
    /// A concurrent retry with the same key committed first (PostgreSQL lets both transactions
    /// run this far): this one was rolled back; answer with theirs.
    Earlier(T),
}

impl<T> Saved<T> {
    /// The answer to give: a fresh one once its transaction committed, or the earlier one.
    pub async fn answer(self) -> ApiResult<T> {
        match self {
            Saved::Fresh(txn, answer) => {
                txn.commit().await?;
                Ok(answer)
            }
            Saved::Earlier(answer) => Ok(answer),
        }
    }
}

/// Saves `answer` under `key` in `txn`, which created it.
#[allow(clippy::too_many_arguments)] // the record's fields, each plain
pub async fn save<T: ToJSON + ParseFromJSON>(
    db: &DatabaseConnection,
    txn: DatabaseTransaction,
    subject: Uuid,
    scope: &'static str,
    key: Option<&str>,
    request_hash: &str,
    status: u16,
    answer: T,
) -> ApiResult<Saved<T>> {
    let Some(key) = key else {
        return Ok(Saved::Fresh(txn, answer));
    };
    let body = answer.to_json_string();
    match idempotency::save(&txn, subject, scope, key, request_hash.into(), status, body).await {
        Ok(()) => Ok(Saved::Fresh(txn, answer)),
        Err(StoreError::Db(e)) => Err(e.into()),
        Err(StoreError::Conflict) => {
            txn.rollback().await?;
            let txn = begin_write(db).await?;
            let saved = idempotency::find(&txn, subject, scope, key)
                .await?
                .ok_or(CaseError::Concurrent)?;
            Ok(Saved::Earlier(replay(&saved, request_hash)?))
        }
    }
}

/// The response an earlier request with the same key produced.
fn replay<T: ParseFromJSON>(
    saved: &idempotency::record::Model,
    request_hash: &str,
) -> ApiResult<T> {
    if saved.request_hash != request_hash {
        return Err(ApiError::unprocessable(
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request body.",
        ));
    }
    let value: serde_json::Value =
        serde_json::from_str(&saved.response_body).map_err(ApiError::internal)?;
    T::parse_from_json(Some(value)).map_err(|e| ApiError::internal(e.into_message()))
}
