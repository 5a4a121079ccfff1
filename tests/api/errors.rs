//! The framework's own errors come out as problem+json with stable codes.

use crate::support::{assert_problem, spawn_app};

#[tokio::test]
async fn unknown_route_is_a_404_problem() {
    let app = spawn_app().await;
    assert_problem(app.get("/v1/no-such-thing").await, 404, "route_not_found").await;
    assert_problem(app.get("/").await, 404, "route_not_found").await;
}

#[tokio::test]
async fn wrong_method_is_a_405_problem_with_allow() {
    let app = spawn_app().await;
    let response = app
        .client
        .delete(app.url("/v1/matters"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET, HEAD");
    assert_problem(response, 405, "method_not_allowed").await;

    let response = app
        .client
        .post(app.url("/v1/matters/birth-registration"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET, HEAD");
    assert_problem(response, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn malformed_query_parameter_is_a_400_problem() {
    let app = spawn_app().await;
    let response = app.get("/v1/matters/birth-registration?version=abc").await;
    let body = assert_problem(response, 400, "invalid_parameter").await;
    assert!(body["detail"].as_str().unwrap().contains("version"));
}

#[tokio::test]
async fn body_over_the_limit_is_a_413_problem() {
    let app = spawn_app().await;
    let limit = app.config.uploads.max_page_bytes as usize + 64 * 1024;
    // Declared length over the limit: refused before the body is read.
    let response = app
        .client
        .put(app.url("/v1/objects/abc?expires=1&signature=00"))
        .header("content-type", "image/jpeg")
        .body(vec![0u8; limit + 1])
        .send()
        .await
        .unwrap();
    assert_problem(response, 413, "payload_too_large").await;
}

#[tokio::test]
async fn chunked_body_over_the_limit_is_a_413_problem() {
    let app = spawn_app().await;
    let limit = app.config.uploads.max_page_bytes as usize + 64 * 1024;
    let key = beebox::storage::ObjectKey::parse("tests/chunked.bin").unwrap();
    let put = app
        .state
        .store
        .presign_put(&key, "image/jpeg", std::time::Duration::from_secs(60))
        .await
        .unwrap();
    // A stream has no Content-Length, so the limit applies as the bytes arrive.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..(limit / 65536 + 2))
        .map(|_| Ok(vec![1u8; 65536]))
        .collect();
    let response = app
        .client
        .put(&put.url)
        .header("content-type", "image/jpeg")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_problem(response, 413, "payload_too_large").await;
    // Nothing half-written became visible.
    assert!(app.state.store.head(&key).await.is_err());
}

#[tokio::test]
async fn a_server_error_reveals_no_internals() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    // Break the database under the running service (a table a login writes: the catalogue is
    // served from memory, so its tables would not be read).
    let db = app.state.database().unwrap();
    db.execute_unprepared("DROP TABLE refresh_tokens")
        .await
        .unwrap();
    let response = app.wechat_login("dev:broken").await;
    let body = assert_problem(response, 500, "internal_error").await;
    let text = body.to_string().to_lowercase();
    for leak in [
        "refresh_tokens",
        "select",
        "sqlite",
        "postgres",
        "no such table",
        "relation",
    ] {
        assert!(
            !text.contains(leak),
            "the 500 body reveals `{leak}`: {body}"
        );
    }
}
