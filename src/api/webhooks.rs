//! `/v1/webhooks/courier/{partner}`: route pushes from courier partners. The partner's adapter
//! checks the push (its signature and our per-partner secret) before anything is stored; a
//! refused push leaves only a counter behind. Before that, a per-address rate limit refuses
//! floods without any signature work. Answers are in the partner's own format, except
//! for an unknown partner, which gets our problem+json 404.

use poem::http::{HeaderValue, StatusCode, header};
use poem::web::Data;
use poem::{IntoResponse, Request, RequestBody, Response};
use poem_openapi::param::Path;
use poem_openapi::registry::{
    MetaMediaType, MetaRequest, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::{ApiExtractor, ApiExtractorType, ApiResponse, ExtractParamOptions, OpenApi};

use crate::api::ApiTags;
use crate::api::problem::{ApiError, ApiResult};
use crate::api::security::ClientIp;
use crate::http::problems::ForeignFormat;
use crate::http::rate_limit::{Limit, retry_after_secs};
use crate::integrations::courier::{PushError, PushReply};
use crate::state::AppState;

pub struct WebhooksApi;

/// A push body exactly as the partner sent it, whatever its content type: the signature covers
/// the raw bytes, so nothing may parse it before the adapter.
pub struct PushBody(pub Vec<u8>);

fn raw_schema() -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        format: Some("binary"),
        ..MetaSchema::new("string")
    }))
}

impl<'a> ApiExtractor<'a> for PushBody {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: Some(
                "The push as the partner sends it. SF: a form (`partnerID`, `requestID`, \
                 `serviceCode`, `timestamp`, `msgDigest`, `msgData`).",
            ),
            content: [
                "application/x-www-form-urlencoded",
                "application/json",
                "*/*",
            ]
            .into_iter()
            .map(|content_type| MetaMediaType {
                content_type,
                schema: raw_schema(),
            })
            .collect(),
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let bytes = <Vec<u8> as poem::FromRequest>::from_request(request, body).await?;
        Ok(Self(bytes))
    }
}

/// The partner's answer to its push, in its own format; with `Retry-After` (seconds) when over
/// the rate limit.
pub struct PartnerAnswer(PushReply, Option<u64>);

impl IntoResponse for PartnerAnswer {
    fn into_response(self) -> Response {
        let mut response = Response::builder()
            .status(StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::OK))
            .header(header::CONTENT_TYPE, self.0.content_type)
            .body(self.0.body);
        if let Some(secs) = self.1 {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response.extensions_mut().insert(ForeignFormat);
        response
    }
}

impl ApiResponse for PartnerAnswer {
    fn meta() -> MetaResponses {
        let content = || {
            vec![MetaMediaType {
                content_type: "application/json",
                schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new("object"))),
            }]
        };
        let response = |status: u16, description: &'static str| MetaResponse {
            description,
            status: Some(status),
            status_range: None,
            content: content(),
            headers: vec![],
        };
        MetaResponses {
            responses: vec![
                response(
                    200,
                    "Accepted (also a replay), in the partner's format. SF: \
                     `{\"return_code\":\"0000\",\"return_msg\":\"成功\"}`.",
                ),
                response(
                    400,
                    "Authenticated but unreadable, in the partner's format; nothing stored.",
                ),
                response(
                    401,
                    "Signature or per-partner secret missing or wrong, or signed outside the \
                     freshness window (`courier.sf.push_max_age_secs`), in the partner's \
                     format; nothing stored.",
                ),
                response(
                    429,
                    "Too many pushes from this address (`rate_limits.webhook_per_ip`), in the \
                     partner's format, with `Retry-After`; refused before any signature work.",
                ),
            ],
        }
    }

    fn register(_registry: &mut Registry) {}
}

#[OpenApi(tag = "ApiTags::Operations")]
impl WebhooksApi {
    /// A route push from a courier partner (SF: 路由推送). The per-partner secret comes as
    /// `?secret=` or the `X-Beebox-Webhook-Secret` header; the partner's own signature is checked
    /// too. Each event is stored once: a replayed push is accepted and changes nothing.
    #[oai(path = "/v1/webhooks/courier/:partner", method = "post")]
    async fn push(
        &self,
        state: Data<&AppState>,
        request: &Request,
        ip: ClientIp,
        /// The partner's code, e.g. `sf`.
        partner: Path<String>,
        body: PushBody,
    ) -> ApiResult<PartnerAnswer> {
        let Some(adapter) = state.couriers.get(&partner.0) else {
            return Err(ApiError::not_found(
                "partner_not_found",
                "There is no courier partner by that name.",
            ));
        };
        let code = adapter.code();
        if let Err(wait) = state
            .rate_limits
            .wait_ip(Limit::WebhookPerIp, ip.0.as_deref())
        {
            state.metrics.webhook_rejected(code, "rate_limited");
            let reply = adapter.push_refused(&PushError::RateLimited);
            let secs = retry_after_secs(wait).max(1);
            return Ok(PartnerAnswer(
                PushReply {
                    status: 429,
                    ..reply
                },
                Some(secs),
            ));
        }
        let push = match adapter.verify_push(request.headers(), request.uri().query(), &body.0) {
            Ok(push) => push,
            Err(error) => {
                let (status, reason) = match &error {
                    PushError::Unauthenticated => (401, "unauthenticated"),
                    PushError::Malformed(_) => (400, "malformed"),
                    PushError::Stale => (401, "stale"),
                    PushError::RateLimited => (429, "rate_limited"),
                };
                tracing::warn!(partner = code, %error, "courier push refused");
                state.metrics.webhook_rejected(code, reason);
                // The status is ours to keep (401 stores nothing, 400 is unreadable); the body
                // is the partner's.
                let reply = adapter.push_refused(&error);
                return Ok(PartnerAnswer(PushReply { status, ..reply }, None));
            }
        };
        let report = state.pushes.ingest(state.db()?, code, push.events).await?;
        state.metrics.webhook_events(code, "stored", report.stored);
        state
            .metrics
            .webhook_events(code, "duplicate", report.duplicates);
        state
            .metrics
            .webhook_events(code, "unknown_waybill", report.unknown_waybill);
        tracing::info!(
            partner = code,
            stored = report.stored,
            duplicates = report.duplicates,
            unknown_waybill = report.unknown_waybill,
            moved = report.changes.len(),
            "courier push accepted"
        );
        Ok(PartnerAnswer(adapter.push_accepted(), None))
    }
}
