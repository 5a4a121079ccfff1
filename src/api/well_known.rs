//! `/.well-known/jwks.json`: the public keys that verify our access tokens.

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use crate::api::ApiTags;
use crate::state::AppState;

pub struct WellKnownApi;

#[derive(Object)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

/// An Ed25519 public key (RFC 8037).
#[derive(Object)]
pub struct Jwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    pub crv: String,
    /// The public key, base64url.
    pub x: String,
    pub kid: String,
    /// `EdDSA`.
    pub alg: String,
    /// `sig`.
    #[oai(rename = "use")]
    pub usage: String,
}

#[OpenApi(tag = "ApiTags::Auth")]
impl WellKnownApi {
    /// The JSON Web Key Set that verifies access tokens.
    #[oai(path = "/.well-known/jwks.json", method = "get")]
    async fn jwks(&self, state: Data<&AppState>) -> Json<JwkSet> {
        Json(JwkSet {
            keys: vec![Jwk {
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x: state.keys.jwt_public_x.clone(),
                kid: state.keys.jwt_kid.clone(),
                alg: "EdDSA".into(),
                usage: "sig".into(),
            }],
        })
    }
}
