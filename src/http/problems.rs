//! Turns every error the framework raises itself (unknown route, wrong method, malformed JSON,
//! wrong content type, missing auth, oversized body) into the same problem+json that handlers
//! return, each with a stable `code`.

use std::sync::Arc;

use poem::error::{MethodNotAllowedError, NotFoundError, ReadBodyError};
use poem::http::{HeaderName, HeaderValue, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response, Result};
use poem_openapi::error::{
    AuthorizationError, ContentTypeError, ParseMultipartError, ParseParamError, ParsePathError,
    ParseRequestPayloadError,
};

use crate::api::problem::{ApiError, PROBLEM_JSON, Problem};
use crate::http::body_limit::{BodyLimitExceeded, BodyLimits};
use crate::http::routes::RouteIndex;

pub async fn middleware<E: Endpoint>(
    next: E,
    req: Request,
    allow: Arc<RouteIndex>,
    limits: BodyLimits,
) -> Result<Response> {
    let path = req.uri().path().to_string();
    let body_limit = limits.for_request(&req);
    let exceeded = BodyLimitExceeded::default();
    let mut req = req;
    req.set_data(exceeded.clone());
    let result = next.call(req).await.map(IntoResponse::into_response);
    // A body cut off at its limit fails wherever it was being read; the answer is 413 whatever
    // the reader made of it.
    let failed = match &result {
        Ok(response) => response.status().is_client_error() || response.status().is_server_error(),
        Err(_) => true,
    };
    if failed && exceeded.get() {
        return Ok(too_large(body_limit));
    }
    let mut response = match result {
        Ok(response) => {
            if !response.status().is_client_error() && !response.status().is_server_error() {
                return Ok(response);
            }
            if is_problem(&response) || response.extensions().get::<ForeignFormat>().is_some() {
                return Ok(response);
            }
            from_status(response.status(), &path, &allow, body_limit)
        }
        Err(error) => {
            if error.is::<ApiError>() {
                error.into_response()
            } else {
                from_error(&error, &path, &allow, body_limit)
            }
        }
    };
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && !response.headers().contains_key(header::ALLOW)
        && let Some(allowed) = allow.allowed(&path)
    {
        response.headers_mut().insert(header::ALLOW, allowed);
    }
    Ok(response)
}

/// Marks a response a handler gives in someone else's error format (the answer a courier
/// partner's push protocol expects): it passes through unchanged.
#[derive(Debug, Clone, Copy)]
pub struct ForeignFormat;

fn is_problem(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON))
}

fn too_large(limit: usize) -> Response {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("The request body is larger than the {limit} bytes accepted here."),
    )
    .into_response_with(&[])
}

fn from_error(error: &poem::Error, path: &str, allow: &RouteIndex, body_limit: usize) -> Response {
    if matches!(
        error.downcast_ref::<ReadBodyError>(),
        Some(ReadBodyError::PayloadTooLarge)
    ) {
        return too_large(body_limit);
    }
    let (status, code, detail): (StatusCode, &str, String) = if error.is::<NotFoundError>() {
        return from_status(StatusCode::NOT_FOUND, path, allow, body_limit);
    } else if error.is::<MethodNotAllowedError>() {
        return from_status(StatusCode::METHOD_NOT_ALLOWED, path, allow, body_limit);
    } else if let Some(e) = error.downcast_ref::<ParseRequestPayloadError>() {
        (
            StatusCode::BAD_REQUEST,
            "malformed_body",
            format!("The request body could not be read: {}", e.reason),
        )
    } else if let Some(e) = error.downcast_ref::<ParseMultipartError>() {
        (
            StatusCode::BAD_REQUEST,
            "malformed_multipart",
            format!("The multipart body could not be read: {}", e.reason),
        )
    } else if let Some(e) = error.downcast_ref::<poem::error::ParseMultipartError>() {
        // poem's own, e.g. a multipart Content-Type without a boundary.
        (
            StatusCode::BAD_REQUEST,
            "malformed_multipart",
            format!("The multipart body could not be read: {e}"),
        )
    } else if let Some(e) = error.downcast_ref::<ParseParamError>() {
        (
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            format!("Parameter `{}` is invalid: {}", e.name, e.reason),
        )
    } else if let Some(e) = error.downcast_ref::<ParsePathError>() {
        (
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            format!("Path segment `{}` is invalid: {}", e.name, e.reason),
        )
    } else if let Some(e) = error.downcast_ref::<ContentTypeError>() {
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            e.to_string(),
        )
    } else if error.is::<AuthorizationError>() {
        (
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "This endpoint needs a valid `Authorization: Bearer` token.".to_string(),
        )
    } else {
        let status = error.status();
        if status.is_server_error() {
            tracing::error!(error = %error, "unhandled server error");
        }
        return from_status(status, path, allow, body_limit);
    };
    let mut response = Problem::new(status, code, detail).into_response_with(&[]);
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// A problem for a bare status, such as a router 404 or a handler's empty 4xx.
fn from_status(status: StatusCode, path: &str, allow: &RouteIndex, body_limit: usize) -> Response {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large(body_limit);
    }
    let (code, detail) = match status {
        StatusCode::NOT_FOUND => ("route_not_found", format!("No route matches {path}.")),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            format!("{path} does not accept this method."),
        ),
        StatusCode::BAD_REQUEST => ("malformed_request", "The request is malformed.".to_string()),
        StatusCode::UNAUTHORIZED => (
            "unauthorized",
            "This endpoint needs a valid `Authorization: Bearer` token.".to_string(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "The request's Content-Type is not accepted here.".to_string(),
        ),
        s if s.is_server_error() => (
            "internal_error",
            "Something went wrong on our side. Quote the request id when you report it."
                .to_string(),
        ),
        s => (
            "client_error",
            s.canonical_reason().unwrap_or("Error").to_string(),
        ),
    };
    let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
    if status == StatusCode::METHOD_NOT_ALLOWED
        && let Some(allowed) = allow.allowed(path)
    {
        headers.push((header::ALLOW, allowed));
    }
    Problem::new(status, code, detail).into_response_with(&headers)
}
