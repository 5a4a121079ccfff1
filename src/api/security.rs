//! The authenticated caller, as extractors: a handler that takes `CitizenAuth` can only run for a
//! valid citizen access token, and never parses headers itself.

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;
use uuid::Uuid;

use crate::api::problem::ApiError;
use crate::auth::{SubjectKind, TokenError, verify_access_token};
use crate::state::AppState;

/// A citizen, from `Authorization: Bearer <access token>`.
#[derive(SecurityScheme)]
#[oai(
    rename = "CitizenToken",
    ty = "bearer",
    bearer_format = "JWT",
    checker = "check_citizen"
)]
pub struct CitizenAuth(pub Citizen);

#[derive(Debug, Clone, Copy)]
pub struct Citizen {
    pub id: Uuid,
}

async fn check_citizen(req: &Request, bearer: Bearer) -> poem::Result<Citizen> {
    let state = req
        .data::<AppState>()
        .expect("AppState is attached to every route");
    match verify_access_token(&state.keys, &bearer.token) {
        Ok(claims) if claims.kind == SubjectKind::Citizen => Ok(Citizen { id: claims.sub }),
        Ok(_) => Err(ApiError::forbidden(
            "citizen_only",
            "This endpoint is for citizens; staff tokens are not accepted here.",
        )
        .into()),
        Err(TokenError::Expired) => Err(ApiError::unauthorized(
            "token_expired",
            "The access token has expired; refresh it.",
        )
        .into()),
        Err(TokenError::Invalid) => {
            Err(ApiError::unauthorized("token_invalid", "The access token is not valid.").into())
        }
    }
}
