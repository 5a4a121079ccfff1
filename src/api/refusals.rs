//! The audit of refused staff actions. Handlers audit what they did (`audit_staff_action`);
//! when an audited route answers with a problem instead (403, 404, 409, 422, ...), this layer
//! writes the row: who tried what, on what, `denied` or `failure`, and the problem's `code`.
//! It sits outside the problem+json layer so that it sees the code the client sees.

use poem::http::{Method, StatusCode};
use poem::{Endpoint, IntoResponse, Request, Response};
use uuid::Uuid;

use crate::api::security::{AuthenticatedStaff, ClientIp};
use crate::state::AppState;
use crate::store::audit::{self, Record};

/// An audited staff route: `{id}` is the target's id.
struct Audited {
    method: Method,
    template: &'static str,
    action: &'static str,
    target: Option<&'static str>,
}

/// Every staff route whose success is audited, with the action name its handler uses.
fn audited() -> [Audited; 19] {
    let route = |method, template, action, target| Audited {
        method,
        template,
        action,
        target,
    };
    let app = Some("application");
    let staff = Some("staff");
    [
        route(Method::GET, "/v1/review/queue", "review.queue", None),
        route(Method::POST, "/v1/review/claim-next", "review.claim", None),
        route(
            Method::POST,
            "/v1/review/applications/{id}/claim",
            "review.claim",
            app,
        ),
        route(
            Method::POST,
            "/v1/review/applications/{id}/release",
            "review.release",
            app,
        ),
        route(
            Method::GET,
            "/v1/review/applications/{id}",
            "review.view",
            app,
        ),
        route(
            Method::POST,
            "/v1/review/applications/{id}/decision",
            "review.decision",
            app,
        ),
        route(
            Method::POST,
            "/v1/reception/applications/{id}/receive",
            "reception.receive",
            app,
        ),
        route(
            Method::GET,
            "/v1/department/applications/{id}",
            "department.view",
            app,
        ),
        route(
            Method::POST,
            "/v1/department/applications/{id}/decision",
            "department.decide",
            app,
        ),
        route(
            Method::POST,
            "/v1/department/applications/{id}/results",
            "department.result_upload",
            app,
        ),
        route(
            Method::DELETE,
            "/v1/department/applications/{id}/results/{file}",
            "department.result_delete",
            app,
        ),
        route(
            Method::POST,
            "/v1/admin/jobs/{id}/retry",
            "jobs.retry",
            Some("job"),
        ),
        route(Method::POST, "/v1/admin/staff", "staff.create", None),
        route(
            Method::PUT,
            "/v1/admin/staff/{id}/email",
            "staff.change_email",
            staff,
        ),
        route(
            Method::PUT,
            "/v1/admin/staff/{id}/roles",
            "staff.change_roles",
            staff,
        ),
        route(
            Method::POST,
            "/v1/admin/staff/{id}/disable",
            "staff.disable",
            staff,
        ),
        route(
            Method::POST,
            "/v1/admin/staff/{id}/enable",
            "staff.enable",
            staff,
        ),
        route(
            Method::POST,
            "/v1/admin/staff/{id}/password",
            "staff.reset_password",
            staff,
        ),
        route(
            Method::POST,
            "/v1/admin/staff/{id}/unlock",
            "staff.unlock",
            staff,
        ),
    ]
}

/// The audited route a request is for, and the target id from its path.
fn find(method: &Method, path: &str) -> Option<(Audited, Option<Uuid>)> {
    let wanted: Vec<&str> = path.trim_matches('/').split('/').collect();
    audited().into_iter().find_map(|route| {
        let template: Vec<&str> = route.template.trim_matches('/').split('/').collect();
        let matches = route.method == method
            && template.len() == wanted.len()
            && template
                .iter()
                .zip(&wanted)
                .all(|(t, w)| t.starts_with('{') || t == w);
        matches.then(|| {
            let id = template
                .iter()
                .position(|t| *t == "{id}")
                .and_then(|i| Uuid::parse_str(wanted[i]).ok());
            (route, id)
        })
    })
}

pub async fn middleware<E: Endpoint>(
    next: E,
    mut req: Request,
    state: AppState,
) -> poem::Result<Response> {
    let Some((route, target)) = find(req.method(), req.uri().path()) else {
        return next.call(req).await.map(IntoResponse::into_response);
    };
    let who = AuthenticatedStaff::default();
    req.set_data(who.clone());
    let ip = ClientIp::of(&req, state.config.server.trust_forwarded_for);
    let mut response = next.call(req).await?.into_response();
    let status = response.status();
    let Some((actor_id, actor_name)) = who.get() else {
        return Ok(response);
    };
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(response);
    }
    // Problem bodies are small: read the code, then put the body back.
    let body = response.take_body().into_bytes().await.unwrap_or_default();
    let code = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|p| p.get("code").and_then(|c| c.as_str()).map(str::to_string))
        .unwrap_or_else(|| status.as_u16().to_string());
    response.set_body(body);
    let record = Record {
        actor_kind: "staff",
        actor_id: Some(actor_id),
        actor_name: Some(actor_name),
        client_ip: ip.0,
        action: route.action,
        target_kind: route.target.filter(|_| target.is_some()),
        target_id: target,
        outcome: if status == StatusCode::FORBIDDEN {
            "denied"
        } else {
            "failure"
        },
        detail: Some(code),
    };
    let written = match state.db() {
        Ok(db) => audit::append(db, record).await.map_err(|e| e.to_string()),
        Err(_) => Err("database not ready".to_string()),
    };
    if let Err(error) = written {
        tracing::error!(%error, action = route.action, "a refused staff action was not audited");
    }
    Ok(response)
}
