//! Service points and agents made the admin's way, and cases an agent files over HTTP.

use serde_json::{Value, json};

use super::TestApp;
use super::answers::json_of;
use super::cases::{CIVIL, VALID_ID};
use super::pages::jpeg;
use super::staff::{PASSWORD, logged_in};

/// The point's courier address.
pub fn point_address(contact: &str) -> Value {
    json!({"province": "宁夏回族自治区", "city": "固原市", "district": "西吉县",
           "detail": "吉强镇龙王坝村便民服务站", "contact_name": contact,
           "phone": "13900139000"})
}

/// A service point `code` for civil affairs, created by `admin`: its id.
pub async fn service_point(app: &TestApp, admin: &str, code: &str) -> String {
    let body = json!({
        "code": code,
        "name": format!("{code} 便民服务站"),
        "address": point_address("马站长"),
        "departments": [CIVIL],
    });
    let created = json_of(
        app.post_as(admin, "/v1/admin/service-points", &body).await,
        201,
    )
    .await;
    created["id"].as_str().unwrap().to_string()
}

/// An agent `username` at `point`, created by `admin` and logged in: their token.
pub async fn agent(app: &TestApp, admin: &str, username: &str, point: &str) -> String {
    let body = json!({
        "username": username,
        "display_name": username,
        "password": PASSWORD,
        "roles": ["agent"],
        "service_point_id": point,
        "email": format!("{username}@village.example"),
    });
    json_of(app.post_as(admin, "/v1/admin/staff", &body).await, 201).await;
    logged_in(app, username).await
}

/// A draft of `matter` for resident `name` (with an email address of their own), authorized
/// by `method`.
pub async fn file_for(app: &TestApp, agent: &str, matter: &str, name: &str, method: &str) -> Value {
    let mailbox: u32 = name.chars().map(u32::from).sum();
    let body = json!({
        "matter_code": matter,
        "resident": {"name": name, "phone": "13700137000", "id_number": VALID_ID,
                     "email": format!("r{mailbox}@village.example")},
        "authorization": method,
    });
    json_of(
        app.post_as(agent, "/v1/agent/applications", &body).await,
        201,
    )
    .await
}

pub async fn agent_upload(
    app: &TestApp,
    agent: &str,
    id: &str,
    material: &str,
    seed: u8,
) -> reqwest::Response {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(jpeg(seed)).file_name("page.jpg"),
    );
    app.client
        .post(app.url(&format!(
            "/v1/agent/applications/{id}/materials/{material}/pages"
        )))
        .bearer_auth(agent)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// Uploads a page for every page each required material needs, from `seed`.
pub async fn fill(app: &TestApp, agent: &str, case: &Value, seed: u8) {
    let id = case["id"].as_str().unwrap();
    let mut n = 0u8;
    for material in case["materials"].as_array().unwrap() {
        if material["required"] != true {
            continue;
        }
        for _ in 0..material["min_pages"].as_i64().unwrap() {
            n += 1;
            let code = material["code"].as_str().unwrap();
            let response = agent_upload(app, agent, id, code, seed.wrapping_add(n * 11)).await;
            assert_eq!(response.status(), 201, "{code}");
        }
    }
}

/// The code the agent shows for case `id`.
pub async fn code_for(app: &TestApp, agent: &str, id: &str) -> String {
    let path = format!("/v1/agent/applications/{id}/authorization/code");
    let answer = json_of(app.post_as(agent, &path, &json!({})).await, 200).await;
    answer["code"].as_str().unwrap().to_string()
}

pub async fn agent_submit(app: &TestApp, agent: &str, id: &str) -> reqwest::Response {
    let path = format!("/v1/agent/applications/{id}/submit");
    app.post_as(agent, &path, &json!({})).await
}

/// A case an agent at a new service point filed and submitted for a resident on a signed form
/// (an elderly card, pages made from `seed`): its id.
pub async fn submitted_agent_case(app: &TestApp, seed: u8) -> String {
    let admin = super::staff::staff_token(app, "points.admin", "admin", "").await;
    let point = service_point(app, &admin, "longwangba").await;
    let agent = agent(app, &admin, "agent.ma", &point).await;
    let case = file_for(
        app,
        &agent,
        super::cases::ELDERLY_CARD,
        "王德福",
        "signed_form",
    )
    .await;
    fill(app, &agent, &case, seed).await;
    let id = case["id"].as_str().unwrap().to_string();
    json_of(agent_submit(app, &agent, &id).await, 200).await;
    id
}
