//! Conditional GETs of the public catalogue: a body built once per catalogue revision, sent with
//! its `ETag` and `Cache-Control`; a request whose `If-None-Match` names that tag gets
//! `304 Not Modified` with no body. A malformed `If-None-Match` is ignored, as RFC 9110 allows:
//! it is read from the request as it came, not as a declared parameter, which the edge's checks
//! (`http::text_input`) and poem's parsing would answer with 400.

use std::marker::PhantomData;
use std::sync::Arc;

use poem::IntoResponse;
use poem::http::{HeaderValue, StatusCode, header};
use poem::web::headers::{self, Header as _};
use poem_openapi::ApiResponse;
use poem_openapi::registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::Type;

use crate::catalog::Rendered;

/// How long clients and shared caches may keep an answer.
#[derive(Debug, Clone, Copy)]
pub enum Freshness {
    /// What is current changes with an import: keep it, but ask again each time (a 304 is cheap),
    /// so the next request after an import sees it.
    Revalidate,
    /// One catalogue version, which never changes once written.
    Immutable,
}

impl Freshness {
    fn header(self) -> &'static str {
        match self {
            Self::Revalidate => "public, no-cache",
            Self::Immutable => "public, max-age=31536000, immutable",
        }
    }
}

/// A JSON body of schema `T` built once, or `304 Not Modified`.
pub struct Cached<T> {
    rendered: Arc<Rendered>,
    freshness: Freshness,
    not_modified: bool,
    schema: PhantomData<fn() -> T>,
}

/// The request's `If-None-Match`, if it is there at all (its value unchecked).
pub fn if_none_match(request: &poem::Request) -> Option<&HeaderValue> {
    request.headers().get(header::IF_NONE_MATCH)
}

impl<T> Cached<T> {
    /// `rendered`, unless the client's `If-None-Match` already names it.
    pub fn answer(
        rendered: Arc<Rendered>,
        freshness: Freshness,
        if_none_match: Option<&HeaderValue>,
    ) -> Self {
        let not_modified = if_none_match.is_some_and(|given| names(given, &rendered.etag));
        Self {
            rendered,
            freshness,
            not_modified,
            schema: PhantomData,
        }
    }
}

/// Whether an `If-None-Match` value names `etag` (weak comparison; `*` names any). A value that
/// does not parse names nothing.
fn names(given: &HeaderValue, etag: &str) -> bool {
    let Ok(etag) = etag.parse::<headers::ETag>() else {
        return false;
    };
    match headers::IfNoneMatch::decode(&mut std::iter::once(given)) {
        Ok(condition) => !condition.precondition_passes(&etag),
        Err(_) => false,
    }
}

impl<T: Send> IntoResponse for Cached<T> {
    fn into_response(self) -> poem::Response {
        let builder = poem::Response::builder()
            .header(header::ETAG, self.rendered.etag.as_str())
            .header(header::CACHE_CONTROL, self.freshness.header());
        if self.not_modified {
            return builder.status(StatusCode::NOT_MODIFIED).finish();
        }
        builder
            .content_type("application/json; charset=utf-8")
            .body(self.rendered.body.clone())
    }
}

fn described(name: &str, description: &str) -> MetaHeader {
    MetaHeader {
        name: name.into(),
        description: Some(description.into()),
        required: true,
        deprecated: false,
        schema: String::schema_ref(),
    }
}

fn headers() -> Vec<MetaHeader> {
    vec![
        described("ETag", "The body's entity tag, for `If-None-Match`."),
        described(
            "Cache-Control",
            "`public, no-cache` for what is current (revalidate each time); `public, max-age=31536000, immutable` for one catalogue version.",
        ),
    ]
}

impl<T: Type> ApiResponse for Cached<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![
                MetaResponse {
                    description: "The body, with its entity tag.",
                    status: Some(200),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: "application/json; charset=utf-8",
                        schema: T::schema_ref(),
                    }],
                    headers: headers(),
                },
                MetaResponse {
                    description: "`If-None-Match` names the current entity tag: the copy the client holds is current.",
                    status: Some(304),
                    status_range: None,
                    content: vec![],
                    headers: headers(),
                },
            ],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

#[cfg(test)]
mod tests {
    use poem::http::HeaderValue;

    fn names(given: &str, tag: &str) -> bool {
        super::names(&HeaderValue::from_str(given).unwrap(), tag)
    }

    #[test]
    fn if_none_match_names_the_tag_weakly_or_by_star_and_ignores_what_does_not_parse() {
        let tag = "\"abc\"";
        assert!(names("\"abc\"", tag));
        assert!(names("W/\"abc\"", tag));
        assert!(names("\"x\", \"abc\"", tag));
        assert!(names("*", tag));
        assert!(!names("\"abd\"", tag));
        assert!(!names("abc", tag));
        assert!(!names("\"abc", tag));
        assert!(!names("", tag));
        let not_utf8 = HeaderValue::from_bytes(b"\"\xe4\xb8\"").unwrap();
        assert!(!super::names(&not_utf8, tag));
    }
}
