//! The route templates of our own OpenAPI document, used to label metrics by template
//! (`/v1/matters/{code}`) and to answer a 405 with the `Allow` header HTTP requires.

use std::collections::BTreeSet;

use poem::http::HeaderValue;

pub struct RouteIndex {
    routes: Vec<Route>,
}

struct Route {
    template: String,
    segments: Vec<String>,
    methods: BTreeSet<String>,
}

impl RouteIndex {
    /// `spec` is the OpenAPI JSON; `extra` adds GET-only routes served outside it.
    pub fn from_spec(spec: &serde_json::Value, extra: &[&str]) -> Self {
        let mut routes = Vec::new();
        if let Some(paths) = spec.get("paths").and_then(|p| p.as_object()) {
            for (path, item) in paths {
                let methods = item
                    .as_object()
                    .map(|ops| ops.keys().map(|m| m.to_uppercase()).collect())
                    .unwrap_or_default();
                routes.push(Route::new(path, methods));
            }
        }
        for path in extra {
            routes.push(Route::new(path, BTreeSet::from(["GET".to_string()])));
        }
        // Literal segments win over parameters, as in the router.
        routes.sort_by_key(|r| r.segments.iter().filter(|s| s.starts_with('{')).count());
        Self { routes }
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
        }
    }
}

fn segments(path: &str) -> Vec<String> {
    path.trim_matches('/')
        .split('/')
        .map(str::to_string)
        .collect()
}
