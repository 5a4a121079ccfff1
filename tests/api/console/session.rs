//! The console's cookie session: the refresh token only in an HttpOnly, SameSite=Strict cookie
//! scoped to its path, every call checked for the console's own Origin.

use serde_json::json;

use crate::support::answers::json_of;
use crate::support::staff::{PASSWORD, seed_staff};
use crate::support::{TestApp, assert_problem, spawn_app, spawn_app_with};

fn set_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// `beebox_console=<value>` of a Set-Cookie header.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    origin: Option<&str>,
    cookie: Option<&str>,
    body: Option<serde_json::Value>,
) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path));
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn log_in(app: &TestApp, origin: &str, username: &str) -> reqwest::Response {
    call(
        app,
        reqwest::Method::POST,
        "/v1/console/session",
        Some(origin),
        None,
        Some(json!({ "username": username, "password": PASSWORD })),
    )
    .await
}

/// A refresh from the console's own origin, with `cookie` when given.
async fn refresh(app: &TestApp, cookie: Option<&str>) -> reqwest::Response {
    call(
        app,
        reqwest::Method::POST,
        "/v1/console/session/refresh",
        Some(&app.address),
        cookie,
        None,
    )
    .await
}

#[tokio::test]
async fn login_sets_an_http_only_strict_cookie_and_returns_no_refresh_token() {
    let app = spawn_app().await;
    seed_staff(&app, "clerk", "reviewer", "civil-affairs").await;
    let response = log_in(&app, &app.address, "clerk").await;
    let cookie = set_cookie(&response);
    assert_eq!(
        response.headers()["cache-control"].to_str().unwrap(),
        "no-store"
    );
    let body = json_of(response, 200).await;
    assert!(body["access_token"].as_str().is_some_and(|t| t.len() > 20));
    assert_eq!(body["staff"]["username"], "clerk");
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(cookie.starts_with("beebox_console="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/v1/console/session"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "dev over http: {cookie}");
    let token = body["access_token"].as_str().unwrap();
    let queue = app.get_as(token, "/v1/review/queue").await;
    assert_eq!(queue.status(), 200);

    // Refusals are the staff login's own.
    let wrong = call(
        &app,
        reqwest::Method::POST,
        "/v1/console/session",
        Some(&app.address),
        None,
        Some(json!({ "username": "clerk", "password": "not it at all" })),
    )
    .await;
    assert_problem(wrong, 401, "invalid_credentials").await;
}

#[tokio::test]
async fn the_cookie_refreshes_once_and_a_replay_ends_the_session() {
    let app = spawn_app().await;
    seed_staff(&app, "clerk", "reviewer", "civil-affairs").await;
    let first = cookie_pair(&set_cookie(&log_in(&app, &app.address, "clerk").await));
    let refreshed = refresh(&app, Some(&first)).await;
    let second = cookie_pair(&set_cookie(&refreshed));
    let body = json_of(refreshed, 200).await;
    assert_ne!(second, first);
    assert_eq!(body["staff"]["roles"], json!(["reviewer"]));
    let token = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(app.get_as(&token, "/v1/review/queue").await.status(), 200);

    // The first cookie again: a stolen token replayed. The whole session ends.
    assert_problem(
        refresh(&app, Some(&first)).await,
        401,
        "refresh_token_reused",
    )
    .await;
    assert_problem(
        refresh(&app, Some(&second)).await,
        401,
        "refresh_token_invalid",
    )
    .await;
    assert_problem(
        app.get_as(&token, "/v1/review/queue").await,
        401,
        "session_ended",
    )
    .await;
    // No cookie at all.
    assert_problem(refresh(&app, None).await, 401, "refresh_token_invalid").await;
}

#[tokio::test]
async fn another_origin_or_none_is_refused_on_every_cookie_route() {
    let app = spawn_app().await;
    seed_staff(&app, "clerk", "reviewer", "civil-affairs").await;
    let cookie = cookie_pair(&set_cookie(&log_in(&app, &app.address, "clerk").await));
    for origin in [Some("https://evil.example"), None] {
        let login = call(
            &app,
            reqwest::Method::POST,
            "/v1/console/session",
            origin,
            None,
            Some(json!({ "username": "clerk", "password": PASSWORD })),
        )
        .await;
        assert_problem(login, 403, "origin_refused").await;
        for method in [reqwest::Method::POST, reqwest::Method::DELETE] {
            let path = if method == reqwest::Method::POST {
                "/v1/console/session/refresh"
            } else {
                "/v1/console/session"
            };
            let refused = call(&app, method, path, origin, Some(&cookie), None).await;
            assert_problem(refused, 403, "origin_refused").await;
        }
    }
    // The refusals left the session alone.
    let refreshed = refresh(&app, Some(&cookie)).await;
    assert_eq!(refreshed.status(), 200);
}

#[tokio::test]
async fn logout_ends_the_session_and_clears_the_cookie() {
    let app = spawn_app().await;
    seed_staff(&app, "clerk", "reviewer", "civil-affairs").await;
    let response = log_in(&app, &app.address, "clerk").await;
    let cookie = cookie_pair(&set_cookie(&response));
    let token = json_of(response, 200).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let out = call(
        &app,
        reqwest::Method::DELETE,
        "/v1/console/session",
        Some(&app.address),
        Some(&cookie),
        None,
    )
    .await;
    assert_eq!(out.status(), 204);
    let cleared = set_cookie(&out);
    assert!(cleared.starts_with("beebox_console=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_problem(
        app.get_as(&token, "/v1/review/queue").await,
        401,
        "session_ended",
    )
    .await;
    assert_problem(
        refresh(&app, Some(&cookie)).await,
        401,
        "refresh_token_invalid",
    )
    .await;
}

#[tokio::test]
async fn behind_https_the_cookie_is_secure_and_only_the_public_origin_counts() {
    let public = "https://zwfw.example.gov.cn";
    let app = spawn_app_with(|c| c.server.public_url = Some(public.into())).await;
    seed_staff(&app, "clerk", "reviewer", "civil-affairs").await;
    let own_address = log_in(&app, &app.address, "clerk").await;
    assert_problem(own_address, 403, "origin_refused").await;
    let response = log_in(&app, public, "clerk").await;
    assert_eq!(response.status(), 200);
    assert!(set_cookie(&response).ends_with("; Secure"));
}
