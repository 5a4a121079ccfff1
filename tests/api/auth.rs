//! WeChat login against a local code2Session server, token refresh with rotation and reuse
//! detection, logout, and every way a bearer token can be wrong.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::json;

use crate::support::wechat::{SESSION_KEY, WechatServer};
use crate::support::{TestApp, assert_problem, spawn_app, spawn_app_with};

async fn wechat_app(server: &WechatServer) -> TestApp {
    spawn_app_with(|c| server.configure(c)).await
}

#[tokio::test]
async fn wechat_login_returns_a_token_pair_and_never_the_session_key() {
    let wechat = WechatServer::start().await;
    let app = wechat_app(&wechat).await;
    let response = app.wechat_login("ok-alice").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(!text.contains(SESSION_KEY));
    assert!(!text.contains("session_key"));
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body["refresh_token"].as_str().unwrap().len() >= 32);
    assert_eq!(wechat.requests.lock().unwrap().as_slice(), ["ok-alice"]);

    // The access token verifies with the published key set, as EdDSA.
    let jwks: serde_json::Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    let decoding = DecodingKey::from_ed_components(key["x"].as_str().unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&["beebox-api"]);
    let token = body["access_token"].as_str().unwrap();
    let claims = jsonwebtoken::decode::<serde_json::Value>(token, &decoding, &validation)
        .expect("token verifies with the JWKS")
        .claims;
    assert_eq!(claims["sub"], body["citizen"]["id"]);
    assert_eq!(claims["kind"], "citizen");
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());
}

#[tokio::test]
async fn the_same_openid_is_the_same_citizen() {
    let wechat = WechatServer::start().await;
    let app = wechat_app(&wechat).await;
    let first: serde_json::Value = app.wechat_login("ok-ulrike").await.json().await.unwrap();
    let second: serde_json::Value = app.wechat_login("ok-ulrike").await.json().await.unwrap();
    let other: serde_json::Value = app.wechat_login("ok-bob").await.json().await.unwrap();
    assert_eq!(first["citizen"]["id"], second["citizen"]["id"]);
    assert_ne!(first["citizen"]["id"], other["citizen"]["id"]);
}

#[tokio::test]
async fn wechat_errors_map_to_clear_problems() {
    let wechat = WechatServer::start().await;
    let app = spawn_app_with(|c| {
        wechat.configure(c);
        c.wechat.timeout_ms = 500;
    })
    .await;
    assert_problem(
        app.wechat_login("err-40029").await,
        401,
        "wechat_code_invalid",
    )
    .await;
    assert_problem(
        app.wechat_login("err-40163").await,
        401,
        "wechat_code_invalid",
    )
    .await;
    let limited = app.wechat_login("err-45011").await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_problem(limited, 429, "wechat_rate_limited").await;
    assert_problem(
        app.wechat_login("err-40226").await,
        403,
        "wechat_user_blocked",
    )
    .await;
    assert_problem(app.wechat_login("err--1").await, 503, "wechat_unavailable").await;
    let started = std::time::Instant::now();
    assert_problem(app.wechat_login("slow").await, 503, "wechat_unavailable").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

#[tokio::test]
async fn wechat_unreachable_is_503() {
    let wechat = WechatServer::start().await;
    let base = wechat.base.clone();
    let app = spawn_app_with(|c| {
        wechat.configure(c);
        c.wechat.api_base = base;
    })
    .await;
    drop(wechat);
    assert_problem(
        app.wechat_login("ok-carol").await,
        503,
        "wechat_unavailable",
    )
    .await;
}

#[tokio::test]
async fn dev_login_works_in_dev_and_can_be_turned_off() {
    let app = spawn_app().await;
    let body = app.login("tester").await;
    assert!(body["access_token"].is_string());
    assert_problem(
        app.wechat_login("dev:bad name!").await,
        422,
        "dev_login_invalid",
    )
    .await;

    let wechat = WechatServer::start().await;
    let strict = spawn_app_with(|c| {
        wechat.configure(c);
        c.auth.dev_login = Some(false);
    })
    .await;
    // With the dev login off, the code goes to WeChat like any other and is refused there.
    assert_problem(
        strict.wechat_login("dev:tester").await,
        401,
        "wechat_code_invalid",
    )
    .await;
}

#[tokio::test]
async fn refresh_rotates_and_a_replayed_token_revokes_the_family() {
    let app = spawn_app().await;
    let first = app.login("rotator").await;
    let refresh = |token: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/v1/auth/refresh"))
                .json(&json!({ "refresh_token": token }))
                .send()
                .await
                .unwrap()
        }
    };
    let original = first["refresh_token"].as_str().unwrap().to_string();
    let response = refresh(original.clone()).await;
    assert_eq!(response.status(), 200);
    let second: serde_json::Value = response.json().await.unwrap();
    let rotated = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rotated, original);
    assert_eq!(second["citizen"]["id"], first["citizen"]["id"]);
    // The new access token works.
    let me = app
        .get_as(second["access_token"].as_str().unwrap(), "/v1/applications")
        .await;
    assert_eq!(me.status(), 200);

    // Replaying the first token: refused, and the whole family is revoked.
    assert_problem(refresh(original).await, 401, "refresh_token_reused").await;
    assert_problem(refresh(rotated).await, 401, "refresh_token_invalid").await;
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    let pair = app.login("leaver").await;
    let token = pair["refresh_token"].as_str().unwrap();
    let response = app
        .client
        .post(app.url("/v1/auth/logout"))
        .json(&json!({ "refresh_token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let response = app
        .client
        .post(app.url("/v1/auth/refresh"))
        .json(&json!({ "refresh_token": token }))
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "refresh_token_invalid").await;
}

fn b64(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn every_kind_of_bad_token_is_a_401_problem() {
    let app = spawn_app().await;
    let good = app.login("victim").await;
    let sub = good["citizen"]["id"].clone();
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": sub, "kind": "citizen", "iss": "beebox", "aud": "beebox-api",
                        "iat": now, "exp": now + 600, "jti": uuid::Uuid::new_v4()});

    // No Authorization header at all.
    let response = app.get("/v1/applications").await;
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_problem(response, 401, "unauthorized").await;
    // Not a bearer scheme.
    let response = app
        .client
        .get(app.url("/v1/applications"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "unauthorized").await;
    // Garbage.
    assert_problem(
        app.get_as("not-a-jwt", "/v1/applications").await,
        401,
        "token_invalid",
    )
    .await;
    // alg: none with valid-looking claims.
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims)
    );
    assert_problem(
        app.get_as(&none, "/v1/applications").await,
        401,
        "token_invalid",
    )
    .await;
    // Signed by another Ed25519 key.
    let other_pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIFTgKGYKHtwqnzhNr9nm7dapJGHRIK9O+amHorS3CmFE\n-----END PRIVATE KEY-----\n";
    let other = EncodingKey::from_ed_pem(other_pem.as_bytes()).unwrap();
    let forged = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &other).unwrap();
    assert_problem(
        app.get_as(&forged, "/v1/applications").await,
        401,
        "token_invalid",
    )
    .await;
    // HS256, keyed with our public key (the classic algorithm-confusion attack).
    let jwks: serde_json::Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let public = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&public),
    )
    .unwrap();
    assert_problem(
        app.get_as(&hs, "/v1/applications").await,
        401,
        "token_invalid",
    )
    .await;
    // A forged signature on a real token.
    let real = good["access_token"].as_str().unwrap();
    let (head, _) = real.rsplit_once('.').unwrap();
    let tampered = format!("{head}.{}", URL_SAFE_NO_PAD.encode([7u8; 64]));
    assert_problem(
        app.get_as(&tampered, "/v1/applications").await,
        401,
        "token_invalid",
    )
    .await;
    // Expired an hour ago (well past the 30 s leeway), signed by our own key.
    let old = json!({"sub": sub, "kind": "citizen", "iss": "beebox", "aud": "beebox-api",
                     "iat": now - 7200, "exp": now - 3600, "jti": uuid::Uuid::new_v4()});
    let old_token = app.sign_with_app_key(&old);
    assert_problem(
        app.get_as(&old_token, "/v1/applications").await,
        401,
        "token_expired",
    )
    .await;
}
