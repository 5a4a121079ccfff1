//! Request body limits. A declared `Content-Length` over the limit is refused before reading; a
//! chunked body is cut off once it passes the limit, and the error layer answers 413 either way.
//! Operations that take a file (a multipart or raw body, as the OpenAPI document says) get the
//! upload limit; everything else the JSON limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt;
use poem::http::header;
use poem::{Body, Endpoint, IntoResponse, Request, Response, Result};

use crate::http::routes::RouteIndex;

/// Set when a streamed body passed its limit, so the error layer can answer 413.
#[derive(Clone, Default)]
pub struct BodyLimitExceeded(Arc<AtomicBool>);

impl BodyLimitExceeded {
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Clone)]
pub struct BodyLimits {
    pub json: usize,
    pub upload: usize,
    pub routes: Arc<RouteIndex>,
}

impl BodyLimits {
    /// Pages, direct-upload PUTs and department result files carry scans and photos.
    pub fn for_request(&self, req: &Request) -> usize {
        if self
            .routes
            .takes_file(req.method().as_str(), req.uri().path())
        {
            self.upload
        } else {
            self.json
        }
    }
}

pub async fn middleware<E: Endpoint>(
    next: E,
    mut req: Request,
    limits: BodyLimits,
) -> Result<Response> {
    let limit = limits.for_request(&req);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let exceeded = req.data::<BodyLimitExceeded>().cloned().unwrap_or_default();
    if declared.is_some_and(|n| n > limit as u64) {
        exceeded.0.store(true, Ordering::Relaxed);
        return Err(poem::Error::from_status(
            poem::http::StatusCode::PAYLOAD_TOO_LARGE,
        ));
    }
    if declared.is_none() {
        let body = req.take_body();
        let flag = exceeded.clone();
        let mut seen = 0usize;
        let limited = body.into_bytes_stream().map(move |chunk| {
            let chunk = chunk?;
            seen += chunk.len();
            if seen > limit {
                flag.0.store(true, Ordering::Relaxed);
                return Err(std::io::Error::other("request body too large"));
            }
            Ok(chunk)
        });
        req.set_body(Body::from_bytes_stream(limited));
    }
    next.call(req).await.map(IntoResponse::into_response)
}
