//! `/healthz`, `/readyz` and `/metrics`: for load balancers and Prometheus, outside `/v1`.
//! Anyone may learn *which* part failed; only an operator (`ops.token`) learns why, as the
//! reasons name paths, hosts and OS errors. The reasons always go to the log.

use poem::Request;
use poem::http::header;
use poem::web::Data;
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::api::ApiTags;
use crate::api::problem::{ApiError, ApiResult, FieldProblem, Problem};
use crate::state::AppState;

pub struct HealthApi;

#[derive(Object)]
pub struct Health {
    /// Always `ok` while the process serves requests.
    pub status: String,
}

#[derive(Object)]
pub struct Readiness {
    /// `ready`.
    pub status: String,
    pub checks: Vec<Check>,
}

#[derive(Object)]
pub struct Check {
    /// `database` or `storage`.
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// Database and object store both answer.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// Some part failed; `errors` names it (`database` or `storage`), and says why to a caller
    /// with the operators' token (`Authorization: Bearer <ops.token>`).
    #[oai(status = 503, content_type = "application/problem+json")]
    NotReady(Json<Problem>),
}

#[OpenApi(tag = "ApiTags::Operations")]
impl HealthApi {
    /// Liveness: the process is up.
    #[oai(path = "/healthz", method = "get")]
    async fn healthz(&self) -> Json<Health> {
        Json(Health {
            status: "ok".into(),
        })
    }

    /// Readiness: the database and the object store both answer.
    #[oai(path = "/readyz", method = "get")]
    async fn readyz(&self, state: Data<&AppState>, req: &Request) -> ReadyResponse {
        let operator = is_operator(&state, req);
        let database = match state.database() {
            Some(db) => match db.ping().await {
                Ok(()) => Check::ok("database", "reachable"),
                Err(e) => Check::failed("database", crate::store::describe_error(&e)),
            },
            None => Check::failed("database", state.db_status()),
        };
        let storage = match state.store.check().await {
            Ok(()) => Check::ok("storage", state.store.backend()),
            Err(e) => Check::failed("storage", e.to_string()),
        };
        let mut checks = vec![database, storage];
        if state.draining.is_cancelled() {
            checks.push(Check::failed("instance", "shutting down".to_string()));
        }
        let failed: Vec<&Check> = checks.iter().filter(|c| !c.ok).collect();
        if failed.is_empty() {
            return ReadyResponse::Ready(Json(Readiness {
                status: "ready".into(),
                checks,
            }));
        }
        let names: Vec<&str> = failed.iter().map(|c| c.name.as_str()).collect();
        let mut problem = Problem::new(
            poem::http::StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            format!("Not ready: {} failed.", names.join(" and ")),
        );
        problem.errors = failed
            .iter()
            .map(|c| {
                tracing::warn!(part = %c.name, reason = %c.detail, "not ready");
                FieldProblem {
                    field: c.name.clone(),
                    message: if operator {
                        c.detail.clone()
                    } else {
                        "failing".into()
                    },
                }
            })
            .collect();
        ReadyResponse::NotReady(Json(problem))
    }

    /// Prometheus metrics in the text exposition format. Needs `Authorization: Bearer
    /// <ops.token>` when that is set; absent here when `ops.metrics_listen` serves it elsewhere.
    #[oai(path = "/metrics", method = "get")]
    async fn metrics(&self, state: Data<&AppState>, req: &Request) -> ApiResult<PlainText<String>> {
        if state.config.ops.metrics_listen.is_some() {
            return Err(ApiError::not_found(
                "route_not_found",
                "No route matches /metrics.",
            ));
        }
        if state.config.ops.token.is_some() && !is_operator(&state, req) {
            return Err(ApiError::unauthorized(
                "ops_token_required",
                "Metrics need the operators' token.",
            ));
        }
        Ok(PlainText(render_metrics(&state).await))
    }
}

/// Whether the request carries the operators' token.
fn is_operator(state: &AppState, req: &Request) -> bool {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|token| state.config.ops.token_matches(token.trim()))
}

/// Refreshes the gauges read from the database, then renders every metric.
pub async fn render_metrics(state: &AppState) -> String {
    if let Some(db) = state.database() {
        if let Ok(rows) = crate::store::claims::submitted(db, None).await {
            let counts: Vec<(String, String, u64)> =
                crate::api::review::count(&rows, state.clock.now())
                    .into_iter()
                    .map(|c| (c.matter_code, c.department_code, c.overdue))
                    .collect();
            state.metrics.set_prereview_overdue(&counts);
        }
        if let Ok(depth) = crate::store::jobs::depth(db).await {
            let depth: Vec<(String, String, i64)> = depth
                .into_iter()
                .map(|d| (d.kind, d.state, d.count))
                .collect();
            state.metrics.set_jobs(&depth);
        }
        let (size, idle) = crate::store::pool_usage(db);
        state.metrics.set_db_pool(
            size.saturating_sub(idle),
            idle,
            state.config.database.max_connections,
        );
    }
    state.metrics.render()
}

impl Check {
    fn ok(name: &str, detail: &str) -> Self {
        Self {
            name: name.into(),
            ok: true,
            detail: detail.into(),
        }
    }

    fn failed(name: &str, detail: String) -> Self {
        Self {
            name: name.into(),
            ok: false,
            detail,
        }
    }
}
