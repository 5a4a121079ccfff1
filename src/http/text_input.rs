//! The text rules of `domain::text` for every input, in one place at the edge: path segments and
//! query parameters (percent-decoded), the headers an operation reads, and each string of a JSON
//! body, one-line unless the OpenAPI document marks the field `format: multi-line`. A refusal
//! names the field; no handler (and no database) ever sees such text.

use std::sync::Arc;

use poem::{Endpoint, IntoResponse, Request, Response, Result};
use serde_json::Value;

use crate::api::problem::{ApiError, FieldProblem};
use crate::api::text::MULTI_LINE_FORMAT;
use crate::domain::text::{self, Lines};
use crate::http::routes::RouteIndex;

pub async fn middleware<E: Endpoint>(
    next: E,
    mut req: Request,
    routes: Arc<RouteIndex>,
) -> Result<Response> {
    // HEAD is answered by the GET handler.
    let method = match req.method().as_str() {
        "HEAD" => "GET".to_string(),
        other => other.to_string(),
    };
    let operation = routes.operation(&method, req.uri().path());
    let mut problems = Vec::new();
    if let Some((_, params)) = &operation {
        check_path(req.uri().path(), params, &mut problems);
    }
    if let Some(query) = req.uri().query() {
        check_query(query, &mut problems);
    }
    if let Some((operation, _)) = &operation {
        for name in &operation.headers {
            for value in req.headers().get_all(name.as_str()) {
                let refused = std::str::from_utf8(value.as_bytes())
                    .map_err(|_| "must be UTF-8 text")
                    .and_then(|v| text::check(v, Lines::Single));
                if let Err(rule) = refused {
                    problems.push(FieldProblem::new(name.clone(), rule));
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(invalid_parameters(problems).into());
    }
    if let Some((operation, _)) = &operation
        && let Some(schema) = &operation.json_body
        && is_json(&req)
    {
        let body = req.take_body().into_bytes().await?;
        // Malformed JSON is left to the payload's own parser and its `malformed_body`.
        if let Ok(value) = serde_json::from_slice::<Value>(&body) {
            let mut problems = Vec::new();
            walk(&routes, &value, schema, &mut String::new(), &mut problems);
            if !problems.is_empty() {
                return Err(ApiError::invalid_fields(problems).into());
            }
        }
        req.set_body(body);
    }
    next.call(req).await.map(IntoResponse::into_response)
}

fn invalid_parameters(problems: Vec<FieldProblem>) -> ApiError {
    let names: Vec<String> = problems.iter().map(|p| format!("`{}`", p.field)).collect();
    ApiError::bad_request(
        "invalid_parameter",
        format!(
            "{} {} a control character or a bidi control.",
            names.join(", "),
            if names.len() == 1 { "holds" } else { "hold" }
        ),
    )
    .with_errors(problems)
}

/// Each parameter segment, decoded as the router decodes it.
fn check_path(path: &str, params: &[Option<&str>], problems: &mut Vec<FieldProblem>) {
    let segments = path.trim_matches('/').split('/');
    for (segment, name) in segments.zip(params) {
        let Some(name) = name else { continue };
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        if let Err(rule) = text::check(&decoded, Lines::Single) {
            problems.push(FieldProblem::new(*name, rule));
        }
    }
}

fn check_query(query: &str, problems: &mut Vec<FieldProblem>) {
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let refused = text::check(&name, Lines::Single).and(text::check(&value, Lines::Single));
        if let Err(rule) = refused {
            // A name that is itself refused is shown escaped, never raw.
            problems.push(FieldProblem::new(name.escape_debug().to_string(), rule));
        }
    }
}

fn is_json(req: &Request) -> bool {
    req.content_type()
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| {
            m.essence_str() == "application/json" || m.suffix().is_some_and(|s| s == "json")
        })
}

/// Checks every string of `value` against the rule its schema gives it, collecting the field
/// paths (`applicant.name`, `reasons[0].reason`) of those refused. A string the schema does not
/// describe is held to the one-line rule.
fn walk(
    routes: &RouteIndex,
    value: &Value,
    schema: &Value,
    path: &mut String,
    problems: &mut Vec<FieldProblem>,
) {
    let parts = flatten(routes, schema);
    match value {
        Value::String(s) => {
            let format = |f: &str| {
                parts
                    .iter()
                    .any(|p| p.get("format").and_then(Value::as_str) == Some(f))
            };
            if format("binary") {
                return;
            }
            let lines = if format(MULTI_LINE_FORMAT) {
                Lines::Multi
            } else {
                Lines::Single
            };
            if let Err(rule) = text::check(s, lines) {
                problems.push(FieldProblem::new(path.clone(), rule));
            }
        }
        Value::Array(items) => {
            let item_schema = find(&parts, |p| p.get("items"));
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(routes, item, item_schema, path, problems);
                path.truncate(len);
            }
        }
        Value::Object(fields) => {
            for (name, field) in fields {
                let field_schema = find(&parts, |p| {
                    p.get("properties")
                        .and_then(|props| props.get(name))
                        .or_else(|| p.get("additionalProperties"))
                });
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                // A key is text too; one with a control character is named escaped.
                if text::check(name, Lines::Single).is_err() {
                    path.push_str(&name.escape_debug().to_string());
                    problems.push(FieldProblem::new(path.clone(), Lines::Single.rule()));
                } else {
                    path.push_str(name);
                    walk(routes, field, field_schema, path, problems);
                }
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// The first sub-schema `get` finds among the parts, or none (`Value::Null`).
fn find<'a>(parts: &[&'a Value], get: impl Fn(&'a Value) -> Option<&'a Value>) -> &'a Value {
    parts.iter().find_map(|p| get(p)).unwrap_or(&Value::Null)
}

/// A schema with its `$ref`s followed and its `allOf`, `oneOf` and `anyOf` spread out: the
/// parts whose `properties`, `items` and `format` together describe a value.
fn flatten<'a>(routes: &'a RouteIndex, schema: &'a Value) -> Vec<&'a Value> {
    let mut parts = Vec::new();
    let mut stack = vec![schema];
    // A bound against a self-referencing schema.
    while let Some(schema) = stack.pop()
        && parts.len() < 64
    {
        parts.push(schema);
        if let Some(target) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| routes.schema(r))
        {
            stack.push(target);
        }
        for key in ["allOf", "oneOf", "anyOf"] {
            if let Some(list) = schema.get(key).and_then(Value::as_array) {
                stack.extend(list.iter());
            }
        }
    }
    parts
}
