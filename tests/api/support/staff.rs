//! Staff members for tests: seeded straight into the store (as `beebox staff create-admin`
//! does), then logged in over HTTP like anyone else.

use serde_json::{Value, json};

use super::TestApp;

pub const PASSWORD: &str = "correct horse battery staple";

/// Seeds a staff member straight into the database, as `beebox staff create-admin` does.
pub async fn seed_staff(
    app: &TestApp,
    username: &str,
    roles: &str,
    departments: &str,
) -> uuid::Uuid {
    let db = app.state.database().unwrap();
    beebox::store::staff::insert(
        db,
        username,
        username,
        beebox::passwords::hash(PASSWORD),
        roles.to_string(),
        departments.to_string(),
        None,
    )
    .await
    .unwrap()
    .id
}

pub async fn staff_login(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    login(app, None, username, password).await
}

/// A login from the client address `address` (as the proxy forwards it).
pub async fn staff_login_from(
    app: &TestApp,
    address: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    login(app, Some(address), username, password).await
}

async fn login(
    app: &TestApp,
    address: Option<&str>,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/v1/staff/login"))
        .json(&json!({"username": username, "password": password}));
    if let Some(address) = address {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap()
}

/// Logs a seeded member in with `PASSWORD`; returns the access token.
pub async fn logged_in(app: &TestApp, username: &str) -> String {
    let response = staff_login(app, username, PASSWORD).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

/// Seeds a member and logs them in; returns the access token.
pub async fn staff_token(app: &TestApp, username: &str, roles: &str, departments: &str) -> String {
    seed_staff(app, username, roles, departments).await;
    logged_in(app, username).await
}

/// Gives a seeded member an address, as an admin would with `PUT /v1/admin/staff/{id}/email`.
pub async fn set_email(app: &TestApp, member: uuid::Uuid, email: &str) {
    let admin = staff_token(
        app,
        &format!("setter.{}", &member.simple().to_string()[..8]),
        "admin",
        "",
    )
    .await;
    let response = app
        .client
        .put(app.url(&format!("/v1/admin/staff/{member}/email")))
        .bearer_auth(&admin)
        .json(&json!({ "email": email }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["email"], email);
}
