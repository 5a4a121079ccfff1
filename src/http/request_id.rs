//! `X-Request-Id`: accepted when the client sends a sane one, generated otherwise, echoed on every
//! response and carried by every log line and problem body of the request.

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Request, Response, Result};
use tracing::Instrument;
use uuid::Uuid;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request this task is serving, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(|id| id.clone()).ok()
}

fn accept(value: Option<&HeaderValue>) -> Option<String> {
    let value = value?.to_str().ok()?;
    let sane = (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    sane.then(|| value.to_string())
}

/// Outermost middleware: names the request, opens its span and echoes the id.
pub async fn middleware<E: Endpoint>(next: E, req: Request) -> Result<Response> {
    let id = accept(req.headers().get(HEADER)).unwrap_or_else(|| Uuid::now_v7().to_string());
    // Only the path: query strings may carry signatures.
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
    );
    let header = HeaderValue::from_str(&id).expect("request ids are ASCII");
    let response = REQUEST_ID
        .scope(id, async move {
            next.call(req).await.map(IntoResponse::into_response)
        })
        .instrument(span)
        .await;
    let mut response = response.unwrap_or_else(|e| e.into_response());
    response.headers_mut().insert(HEADER, header);
    Ok(response)
}
