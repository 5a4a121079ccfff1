//! Access and refresh tokens. Access tokens are short-lived EdDSA JWTs that any instance can
//! verify with the public key alone; refresh tokens are opaque, stored only as a SHA-256 hash,
//! and rotate on every use. An access token names its session (the refresh-token family), so
//! ending the session ends the token within `auth.revocation_refresh_ms` (see `revocations`).

pub mod revocations;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::{Algorithm, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::keys::Keys;

pub const ISSUER: &str = "beebox";
pub const AUDIENCE: &str = "beebox-api";

pub use crate::domain::subject::SubjectKind;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub kind: SubjectKind,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
    /// The session (refresh-token family) the token belongs to. A token without one is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    /// Staff only: roles and departments at issue time (informational; every staff request
    /// re-reads them, so a change takes effect at once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub departments: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is not valid")]
    Invalid,
}

pub fn issue_access_token(
    keys: &Keys,
    sub: Uuid,
    kind: SubjectKind,
    session: Uuid,
    ttl_secs: u64,
) -> String {
    issue_access_token_with(keys, sub, kind, session, ttl_secs, Vec::new(), Vec::new())
}

pub fn issue_access_token_with(
    keys: &Keys,
    sub: Uuid,
    kind: SubjectKind,
    session: Uuid,
    ttl_secs: u64,
    roles: Vec<String>,
    departments: Vec<String>,
) -> String {
    let now = Utc::now().timestamp();
    let claims = Claims {
        sub,
        kind,
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        iat: now,
        exp: now + ttl_secs as i64,
        jti: Uuid::now_v7(),
        sid: Some(session),
        roles,
        departments,
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(keys.jwt_kid.clone());
    jsonwebtoken::encode(&header, &claims, &keys.jwt_encoding).expect("EdDSA signing cannot fail")
}

/// Clock skew a token's expiry is allowed.
const LEEWAY_SECS: i64 = 30;

/// Accepts only EdDSA tokens signed by our key, for our audience, unexpired (no leeway beyond
/// 30 s of clock skew). `alg: none` and HMAC tokens fail the algorithm check.
pub fn verify_access_token(keys: &Keys, token: &str) -> Result<Claims, TokenError> {
    // Built once: the rules never change.
    static VALIDATION: std::sync::LazyLock<Validation> = std::sync::LazyLock::new(|| {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = LEEWAY_SECS as u64;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation
    });
    jsonwebtoken::decode::<Claims>(token, &keys.jwt_decoding, &VALIDATION)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
            _ => TokenError::Invalid,
        })
}

/// The access tokens this instance has verified, with their claims. A client sends the same
/// token with every request until it expires, and its signature check costs tens of
/// microseconds (`cargo run --release --example token_cost`), more than the rest of a cached
/// read; a token seen before is only checked for expiry. Keyed by the whole token, so only the
/// exact bytes that verified are ever accepted; bounded, the least used forgotten first.
pub struct VerifiedTokens {
    cache: quick_cache::sync::Cache<String, Claims>,
}

impl VerifiedTokens {
    pub fn new(capacity: usize) -> Self {
        Self {
            cache: quick_cache::sync::Cache::new(capacity),
        }
    }

    /// `verify_access_token`, from memory when this token verified before.
    pub fn check(&self, keys: &Keys, token: &str) -> Result<Claims, TokenError> {
        if let Some(claims) = self.cache.get(token) {
            if Utc::now().timestamp() > claims.exp + LEEWAY_SECS {
                self.cache.remove(token);
                return Err(TokenError::Expired);
            }
            return Ok(claims);
        }
        let claims = verify_access_token(keys, token)?;
        self.cache.insert(token.to_string(), claims.clone());
        Ok(claims)
    }
}

/// A new opaque refresh token (256 random bits) and the hash we store.
pub fn new_refresh_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
