//! Access tokens end with their session: after logout, a replayed refresh token or an admin's
//! password reset, the old access token is refused within `auth.revocation_refresh_ms`, on
//! this instance and on another one sharing the database.

use std::time::{Duration, Instant};

use beebox::config::Secret;
use serde_json::json;

use crate::support::staff::{PASSWORD, seed_staff, staff_login, staff_token};
use crate::support::{TestApp, assert_problem, spawn_app, spawn_app_on};

/// Waits (a few seconds at most) until `token` is refused at `path` with `session_ended`.
async fn assert_ended_soon(app: &TestApp, token: &str, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = app.get_as(token, path).await;
        if response.status() == 401 || Instant::now() > deadline {
            assert_problem(response, 401, "session_ended").await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn post(app: &TestApp, path: &str, body: serde_json::Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn logout_ends_the_access_token_on_every_instance() {
    let first = spawn_app().await;
    let pem = std::fs::read_to_string(first.config.data_dir.join("keys/jwt-ed25519.pem")).unwrap();
    let second = spawn_app_on(&first.config.database_url(), |c| {
        c.keys.jwt_private_key = Some(Secret::new(pem));
        c.auth.revocation_refresh_ms = 500;
    })
    .await;
    let pair = first.login("leaving").await;
    let token = pair["access_token"].as_str().unwrap();
    // Both instances accept it (and the second caches the revoked sessions as they are now).
    assert_eq!(first.get_as(token, "/v1/applications").await.status(), 200);
    assert_eq!(second.get_as(token, "/v1/applications").await.status(), 200);
    let other = first.login("staying").await;

    let out = post(
        &first,
        "/v1/auth/logout",
        json!({"refresh_token": pair["refresh_token"]}),
    )
    .await;
    assert_eq!(out.status(), 204);
    // At once where the logout happened; within the refresh interval on the other.
    assert_problem(
        first.get_as(token, "/v1/applications").await,
        401,
        "session_ended",
    )
    .await;
    let started = Instant::now();
    assert_ended_soon(&second, token, "/v1/applications").await;
    assert!(started.elapsed() < Duration::from_secs(3));
    // Another session of the same kind carries on.
    let other = other["access_token"].as_str().unwrap();
    assert_eq!(second.get_as(other, "/v1/applications").await.status(), 200);

    // A staff member's logout too.
    seed_staff(&first, "short.shift", "reviewer", "").await;
    let login: serde_json::Value = staff_login(&first, "short.shift", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let staff = login["access_token"].as_str().unwrap();
    assert_eq!(first.get_as(staff, "/v1/review/queue").await.status(), 200);
    post(
        &first,
        "/v1/auth/logout",
        json!({"refresh_token": login["refresh_token"]}),
    )
    .await;
    assert_problem(
        first.get_as(staff, "/v1/review/queue").await,
        401,
        "session_ended",
    )
    .await;
    assert_ended_soon(&second, staff, "/v1/review/queue").await;
}

#[tokio::test]
async fn a_replayed_refresh_token_ends_every_access_token_of_its_session() {
    let app = spawn_app().await;
    let pair = app.login("careless").await;
    let first_access = pair["access_token"].as_str().unwrap();
    let rotated: serde_json::Value = post(
        &app,
        "/v1/auth/refresh",
        json!({"refresh_token": pair["refresh_token"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    let second_access = rotated["access_token"].as_str().unwrap();
    assert_eq!(
        app.get_as(second_access, "/v1/applications").await.status(),
        200
    );
    let replay = post(
        &app,
        "/v1/auth/refresh",
        json!({"refresh_token": pair["refresh_token"]}),
    )
    .await;
    assert_problem(replay, 401, "refresh_token_reused").await;
    assert_ended_soon(&app, first_access, "/v1/applications").await;
    assert_ended_soon(&app, second_access, "/v1/applications").await;
}

#[tokio::test]
async fn an_admin_password_reset_ends_the_members_access_tokens() {
    let app = spawn_app().await;
    let admin = staff_token(&app, "the.admin", "admin", "").await;
    let id = seed_staff(&app, "lost.laptop", "reviewer", "").await;
    let login: serde_json::Value = staff_login(&app, "lost.laptop", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap();
    assert_eq!(app.get_as(token, "/v1/review/queue").await.status(), 200);
    let reset = app
        .post_as(
            &admin,
            &format!("/v1/admin/staff/{id}/password"),
            &json!({"password": "a brand new passphrase 42"}),
        )
        .await;
    assert_eq!(reset.status(), 204);
    assert_ended_soon(&app, token, "/v1/review/queue").await;
    // The new password starts a new session that works.
    let fresh: serde_json::Value = staff_login(&app, "lost.laptop", "a brand new passphrase 42")
        .await
        .json()
        .await
        .unwrap();
    let fresh = fresh["access_token"].as_str().unwrap();
    assert_eq!(app.get_as(fresh, "/v1/review/queue").await.status(), 200);
    // The admin's own session is untouched.
    assert_eq!(app.get_as(&admin, "/v1/admin/staff").await.status(), 200);
}

#[tokio::test]
async fn a_token_that_names_no_session_is_refused() {
    let app = spawn_app().await;
    let pair = app.login("old-client").await;
    let now = chrono::Utc::now().timestamp();
    // Signed by our own key, unexpired, but without `sid`: no session could end it.
    let claims = json!({"sub": pair["citizen"]["id"], "kind": "citizen", "iss": "beebox",
                        "aud": "beebox-api", "iat": now, "exp": now + 600,
                        "jti": uuid::Uuid::new_v4()});
    let token = app.sign_with_app_key(&claims);
    assert_problem(
        app.get_as(&token, "/v1/applications").await,
        401,
        "token_invalid",
    )
    .await;
    // The same claims with the session of a real login pass.
    let real =
        beebox::auth::verify_access_token(&app.state.keys, pair["access_token"].as_str().unwrap())
            .unwrap();
    let mut with_sid = claims.clone();
    with_sid["sid"] = json!(real.sid.unwrap());
    let token = app.sign_with_app_key(&with_sid);
    assert_eq!(app.get_as(&token, "/v1/applications").await.status(), 200);
}
