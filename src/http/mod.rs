//! The HTTP edge around every route: request ids, metrics and the request log, problem+json for
//! the framework's own errors, body limits and the text rules of every input. Outermost first:
//! request id -> metrics -> problems -> body limit -> text input -> routes. Below them all,
//! `framing` answers the requests hyper refuses to parse.

pub mod body_limit;
pub mod framing;
pub mod metrics;
pub mod problems;
pub mod rate_limit;
pub mod request_id;
pub mod routes;
pub mod text_input;

use std::sync::Arc;

use poem::middleware::CatchPanic;
use poem::{Endpoint, EndpointExt, IntoEndpoint, Response};

use crate::http::body_limit::BodyLimits;
use crate::http::metrics::Metrics;
use crate::http::routes::RouteIndex;

pub fn wrap(
    routes: impl IntoEndpoint + 'static,
    metrics: Arc<Metrics>,
    routes_index: Arc<RouteIndex>,
    limits: BodyLimits,
) -> impl Endpoint<Output = Response> {
    routes
        .into_endpoint()
        .with(CatchPanic::new())
        .around({
            let index = routes_index.clone();
            move |ep, req| text_input::middleware(ep, req, index.clone())
        })
        .around({
            let limits = limits.clone();
            move |ep, req| body_limit::middleware(ep, req, limits.clone())
        })
        .around({
            let index = routes_index.clone();
            move |ep, req| problems::middleware(ep, req, index.clone(), limits.clone())
        })
        .around(move |ep, req| metrics::middleware(ep, req, metrics.clone(), routes_index.clone()))
        .around(request_id::middleware)
}
