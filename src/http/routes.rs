//! The route templates of our own OpenAPI document, used to label metrics by template
//! (`/v1/matters/{code}`), to answer a 405 with the `Allow` header HTTP requires, and to tell
//! the edge what each operation takes: a file (the upload body limit), a JSON body of which
//! schema, which headers.

use std::collections::{BTreeMap, BTreeSet};

use poem::http::HeaderValue;
use serde_json::Value;

pub struct RouteIndex {
    routes: Vec<Route>,
    /// `components.schemas`, for the `$ref`s of request bodies.
    schemas: serde_json::Map<String, Value>,
}

struct Route {
    template: String,
    segments: Vec<String>,
    methods: BTreeSet<String>,
    operations: BTreeMap<String, Operation>,
}

/// What one operation (a method on a route) takes, as its OpenAPI document says.
#[derive(Default)]
pub struct Operation {
    /// Its body is a file: multipart or raw bytes.
    pub takes_file: bool,
    /// The schema of its JSON body, when it takes structured JSON (not opaque bytes).
    pub json_body: Option<Value>,
    /// The request headers it reads as parameters.
    pub headers: Vec<String>,
}

impl Operation {
    fn from_spec(op: &Value) -> Self {
        let mut operation = Self::default();
        if let Some(content) = op
            .pointer("/requestBody/content")
            .and_then(Value::as_object)
        {
            for (media_type, media) in content {
                let essence = media_type.split(';').next().unwrap_or("").trim();
                match essence {
                    "multipart/form-data" | "application/octet-stream" => {
                        operation.takes_file = true
                    }
                    "application/json" => {
                        let schema = media.get("schema").cloned().unwrap_or(Value::Null);
                        let opaque = schema.get("format").and_then(Value::as_str) == Some("binary");
                        if !opaque {
                            operation.json_body = Some(schema);
                        }
                    }
                    _ => {}
                }
            }
        }
        if let Some(params) = op.get("parameters").and_then(Value::as_array) {
            operation.headers = params
                .iter()
                .filter(|p| p.get("in").and_then(Value::as_str) == Some("header"))
                .filter_map(|p| p.get("name").and_then(Value::as_str))
                .map(str::to_string)
                .collect();
        }
        operation
    }
}

impl RouteIndex {
    /// `spec` is the OpenAPI JSON; `extra` adds GET-only routes served outside it.
    pub fn from_spec(spec: &serde_json::Value, extra: &[&str]) -> Self {
        let mut routes = Vec::new();
        if let Some(paths) = spec.get("paths").and_then(|p| p.as_object()) {
            for (path, item) in paths {
                let mut route = Route::new(path, BTreeSet::new());
                for (method, op) in item.as_object().into_iter().flatten() {
                    route.methods.insert(method.to_uppercase());
                    route
                        .operations
                        .insert(method.to_uppercase(), Operation::from_spec(op));
                }
                routes.push(route);
            }
        }
        for path in extra {
            routes.push(Route::new(path, BTreeSet::from(["GET".to_string()])));
        }
        // Literal segments win over parameters, as in the router.
        routes.sort_by_key(|r| r.segments.iter().filter(|s| s.starts_with('{')).count());
        let schemas = spec
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        Self { routes, schemas }
    }

    /// The operation a request is for, with the names of the path's parameters by segment
    /// (`None` for a literal segment).
    pub fn operation(&self, method: &str, path: &str) -> Option<(&Operation, Vec<Option<&str>>)> {
        let route = self.find(path)?;
        let operation = route.operations.get(method)?;
        let params = route
            .segments
            .iter()
            .map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        Some((operation, params))
    }

    /// Whether a request's body is a file, so it gets the upload body limit.
    pub fn takes_file(&self, method: &str, path: &str) -> bool {
        self.operation(method, path)
            .is_some_and(|(operation, _)| operation.takes_file)
    }

    /// The schema a `$ref` such as `#/components/schemas/NewApplication` points at.
    pub fn schema(&self, reference: &str) -> Option<&Value> {
        self.schemas
            .get(reference.strip_prefix("#/components/schemas/")?)
    }

    fn find(&self, path: &str) -> Option<&Route> {
        let wanted = segments(path);
        self.routes.iter().find(|route| {
            route.segments.len() == wanted.len()
                && route
                    .segments
                    .iter()
                    .zip(&wanted)
                    .all(|(t, w)| t.starts_with('{') || t == w)
        })
    }

    /// The template a path belongs to, e.g. `/v1/matters/{code}`.
    pub fn template(&self, path: &str) -> Option<&str> {
        self.find(path).map(|r| r.template.as_str())
    }

    pub fn allowed(&self, path: &str) -> Option<HeaderValue> {
        let mut methods = self.find(path)?.methods.clone();
        if methods.contains("GET") {
            methods.insert("HEAD".into());
        }
        HeaderValue::from_str(&methods.into_iter().collect::<Vec<_>>().join(", ")).ok()
    }
}

impl Route {
    fn new(template: &str, methods: BTreeSet<String>) -> Self {
        Self {
            template: template.to_string(),
            segments: segments(template),
            methods,
            operations: BTreeMap::new(),
        }
    }
}

fn segments(path: &str) -> Vec<String> {
    path.trim_matches('/')
        .split('/')
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::RouteIndex;

    fn index() -> RouteIndex {
        let spec = serde_json::from_str(&crate::api::service().spec()).unwrap();
        RouteIndex::from_spec(&spec, &[])
    }

    #[test]
    fn operations_that_take_files_are_read_from_the_contract() {
        let index = index();
        for (method, path) in [
            ("POST", "/v1/applications/a/materials/id-card/pages"),
            ("POST", "/v1/department/applications/a/results"),
            ("PUT", "/v1/objects/token"),
        ] {
            assert!(index.takes_file(method, path), "{method} {path}");
        }
        for (method, path) in [
            ("POST", "/v1/applications"),
            ("GET", "/v1/objects/token"),
            ("POST", "/v1/department/applications/a/decision"),
            // The partner's push is opaque bytes, but not a file.
            ("POST", "/v1/webhooks/courier/sf"),
        ] {
            assert!(!index.takes_file(method, path), "{method} {path}");
        }
    }

    #[test]
    fn json_bodies_and_read_headers_are_known_opaque_bodies_are_not() {
        let index = index();
        let (create, params) = index.operation("POST", "/v1/applications").unwrap();
        assert!(create.json_body.is_some());
        assert_eq!(create.headers, ["Idempotency-Key"]);
        assert_eq!(params, [None, None]);
        let (push, params) = index.operation("POST", "/v1/webhooks/courier/sf").unwrap();
        assert!(push.json_body.is_none());
        assert_eq!(params, [None, None, None, Some("partner")]);
    }
}
