//! The audit of refused staff actions. Handlers audit what they did (`audit_staff_action`);
//! when an audited route answers with a problem instead (403, 404, 409, 422, ...), this layer
//! writes the row: who tried what, on what, `denied` or `failure`, and the problem's `code`.
//! It sits outside the problem+json layer so that it sees the code the client sees.

use std::sync::Arc;

use poem::http::{Method, StatusCode};
use poem::{Endpoint, IntoResponse, Request, Response};
use uuid::Uuid;

use crate::api::security::{AuthenticatedStaff, ClientIp};
use crate::http::routes::RouteIndex;
use crate::state::AppState;
use crate::store::audit::{self, Record};

/// Every staff route whose success is audited: method, template (`{id}` is the target's id),
/// the action name its handler uses, and the target's kind.
#[rustfmt::skip] // a table reads best one row a line
const AUDITED: &[(&str, &str, &str, Option<&str>)] = &[
    ("GET", "/v1/review/queue", "review.queue", None),
    ("POST", "/v1/review/claim-next", "review.claim", None),
    ("POST", "/v1/review/applications/{id}/claim", "review.claim", APP),
    ("POST", "/v1/review/applications/{id}/release", "review.release", APP),
    ("GET", "/v1/review/applications/{id}", "review.view", APP),
    ("POST", "/v1/review/applications/{id}/decision", "review.decision", APP),
    ("GET", "/v1/reception/applications/{id}", "reception.view", APP),
    ("POST", "/v1/reception/applications/{id}/receive", "reception.receive", APP),
    ("POST", "/v1/reception/batches/close", "reception.close_batches", None),
    ("GET", "/v1/department/applications/{id}", "department.view", APP),
    ("POST", "/v1/department/applications/{id}/decision", "department.decide", APP),
    ("POST", "/v1/department/applications/{id}/results", "department.result_upload", APP),
    ("DELETE", "/v1/department/applications/{id}/results/{file_id}", "department.result_delete", APP),
    ("POST", "/v1/admin/jobs/{id}/retry", "jobs.retry", Some("job")),
    ("POST", "/v1/admin/staff", "staff.create", None),
    ("PUT", "/v1/admin/staff/{id}/email", "staff.change_email", STAFF),
    ("PUT", "/v1/admin/staff/{id}/roles", "staff.change_roles", STAFF),
    ("POST", "/v1/admin/staff/{id}/disable", "staff.disable", STAFF),
    ("POST", "/v1/admin/staff/{id}/enable", "staff.enable", STAFF),
    ("POST", "/v1/admin/staff/{id}/password", "staff.reset_password", STAFF),
    ("POST", "/v1/admin/staff/{id}/unlock", "staff.unlock", STAFF),
    ("POST", "/v1/admin/service-points", "service_point.create", None),
    ("PUT", "/v1/admin/service-points/{id}", "service_point.change", Some("service_point")),
    ("POST", "/v1/agent/applications", "agent.create", None),
    ("GET", "/v1/agent/applications/{id}", "agent.view", APP),
    ("POST", "/v1/agent/applications/{id}/materials/{material_code}/pages", "agent.upload_page", APP),
    ("DELETE", "/v1/agent/applications/{id}/pages/{page_id}", "agent.delete_page", APP),
    ("POST", "/v1/agent/applications/{id}/submit", "agent.submit", APP),
    ("POST", "/v1/agent/applications/{id}/cancel", "agent.cancel", APP),
    ("POST", "/v1/agent/applications/{id}/authorization/code", "agent.issue_code", APP),
    ("POST", "/v1/agent/applications/{id}/handover", "agent.handover", APP),
    ("POST", "/v1/agent/pickups", "agent.pickup", None),
];

const APP: Option<&str> = Some("application");
const STAFF: Option<&str> = Some("staff");

/// An audited route: its action, its target's kind.
struct Audited {
    action: &'static str,
    target: Option<&'static str>,
}

/// The audited route a request is for, and the target id from its path. The route index (the
/// one the metrics and the edge use) gives the request's template; the table is keyed by it.
fn find(routes: &RouteIndex, method: &Method, path: &str) -> Option<(Audited, Option<Uuid>)> {
    let template = routes.template(path)?;
    let &(_, _, action, target) = AUDITED
        .iter()
        .find(|(verb, audited, _, _)| *verb == method.as_str() && *audited == template)?;
    let id = template
        .trim_matches('/')
        .split('/')
        .zip(path.trim_matches('/').split('/'))
        .find(|(t, _)| *t == "{id}")
        .and_then(|(_, segment)| Uuid::parse_str(segment).ok());
    Some((Audited { action, target }, id))
}

pub async fn middleware<E: Endpoint>(
    next: E,
    mut req: Request,
    state: AppState,
    routes: Arc<RouteIndex>,
) -> poem::Result<Response> {
    let Some((route, target)) = find(&routes, req.method(), req.uri().path()) else {
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
        on_behalf_of: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The table names routes of the contract exactly: a renamed route would silently lose its
    /// audit.
    #[test]
    fn every_audited_route_is_a_route_of_the_contract() {
        let spec: serde_json::Value =
            serde_json::from_str(&crate::api::service().spec()).expect("JSON");
        let routes = RouteIndex::from_spec(&spec, &[]);
        for (method, template, action, _) in AUDITED {
            assert!(
                spec["paths"][template][method.to_lowercase()].is_object(),
                "{method} {template} ({action}) is not in the contract"
            );
            let concrete = template.replace("{id}", &Uuid::nil().to_string());
            assert_eq!(
                find(&routes, &method.parse().unwrap(), &concrete).map(|(r, id)| (r.action, id)),
                Some((*action, template.contains("{id}").then(Uuid::nil)))
            );
        }
    }
}
