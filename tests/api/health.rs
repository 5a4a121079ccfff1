use crate::support::s3::{S3Server, on_s3};
use crate::support::{assert_problem, spawn_app, spawn_app_unready, spawn_app_with};

#[tokio::test]
async fn healthz_answers_ok() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readyz_reports_database_and_storage() {
    let app = spawn_app().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let names: Vec<&str> = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["database", "storage"]);
}

#[tokio::test]
async fn readyz_names_storage_when_the_object_store_is_unreachable() {
    // A real S3 server, stopped: its port no longer answers.
    let s3 = S3Server::start().await;
    let s3_config = s3.config();
    drop(s3);
    let app = spawn_app_unready(|c| {
        c.storage.backend = beebox::config::StorageBackend::S3;
        c.storage.s3 = s3_config;
    })
    .await;
    let response = app.get("/readyz").await;
    let body = assert_problem(response, 503, "not_ready").await;
    let failed: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(failed.contains(&"storage"), "{body}");
    assert!(body["detail"].as_str().unwrap().contains("storage"));
}

#[tokio::test]
async fn readyz_tells_only_an_operator_why_a_part_failed() {
    let s3 = S3Server::start().await;
    let s3_config = s3.config();
    let endpoint = s3.endpoint.clone();
    drop(s3);
    let app = spawn_app_unready(|c| {
        c.storage.backend = beebox::config::StorageBackend::S3;
        c.storage.s3 = s3_config;
        c.ops.token = Some(beebox::config::Secret::new("ops-token-for-tests"));
    })
    .await;
    // Anyone: the part, not the address or the error.
    let text = app.get("/readyz").await.text().await.unwrap();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    let storage = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == "storage")
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(storage["message"], "failing");
    let port = endpoint.rsplit(':').next().unwrap();
    for secret in [port, "HeadBucket", "connection", "127.0.0.1"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    // A wrong token is anyone.
    let wrong = app.get_as("not-the-token", "/readyz").await;
    let wrong: serde_json::Value = wrong.json().await.unwrap();
    assert!(!wrong.to_string().contains("HeadBucket"), "{wrong}");
    // The operator: why.
    let body = assert_problem(
        app.get_as("ops-token-for-tests", "/readyz").await,
        503,
        "not_ready",
    )
    .await;
    let storage = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == "storage")
        .unwrap();
    assert!(
        storage["message"].as_str().unwrap().contains("HeadBucket"),
        "{body}"
    );
}

#[tokio::test]
async fn metrics_ask_for_the_ops_token_when_one_is_set() {
    let app = spawn_app_with(|c| {
        c.ops.token = Some(beebox::config::Secret::new("ops-token-for-tests"));
    })
    .await;
    let response = app.get("/metrics").await;
    assert!(response.headers().contains_key("www-authenticate"));
    assert_problem(response, 401, "ops_token_required").await;
    assert_problem(
        app.get_as("wrong-token", "/metrics").await,
        401,
        "ops_token_required",
    )
    .await;
    let response = app.get_as("ops-token-for-tests", "/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("beebox_http_requests_total")
    );
}

#[tokio::test]
async fn metrics_listen_serves_metrics_on_their_own_port_only() {
    let app = spawn_app_with(|c| {
        c.ops.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    app.get("/v1/matters").await;
    assert_problem(app.get("/metrics").await, 404, "route_not_found").await;
    let port = app.metrics_port.expect("a metrics listener");
    assert_ne!(
        Some(port),
        app.address.rsplit(':').next().unwrap().parse().ok()
    );
    let response = app
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(
        text.contains(
            r#"beebox_http_requests_total{method="GET",route="/v1/matters",status="200"} 1"#
        ),
        "{text}"
    );
    // Nothing else answers there.
    let other = app
        .client
        .get(format!("http://127.0.0.1:{port}/v1/matters"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn readyz_is_ready_against_a_real_s3_server() {
    let s3 = S3Server::start().await;
    let app = spawn_app_with(on_s3(&s3)).await;
    let body: serde_json::Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(body["checks"][1]["detail"], "s3");
}

#[tokio::test]
async fn readyz_says_why_while_the_database_is_unreachable() {
    let app = spawn_app_unready(|c| {
        c.ops.token = Some(beebox::config::Secret::new("ops-token-for-tests"));
        // Nothing listens on port 1.
        c.database.url = Some(beebox::config::Secret::new(
            "postgres://beebox@127.0.0.1:1/beebox",
        ));
        c.database.connect_timeout_secs = 1;
        c.database.acquire_timeout_secs = 1;
    })
    .await;
    // The first attempts fail within the timeouts; readyz keeps answering meanwhile.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let body = loop {
        let body = assert_problem(
            app.get_as("ops-token-for-tests", "/readyz").await,
            503,
            "not_ready",
        )
        .await;
        if body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unreachable")
            || std::time::Instant::now() > deadline
        {
            break body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let database = &body["errors"][0];
    assert_eq!(database["field"], "database");
    assert!(
        database["message"]
            .as_str()
            .unwrap()
            .contains("unreachable"),
        "{body}"
    );
    // Anyone else learns only that the database fails.
    let anonymous = assert_problem(app.get("/readyz").await, 503, "not_ready").await;
    assert_eq!(anonymous["errors"][0]["field"], "database");
    assert_eq!(anonymous["errors"][0]["message"], "failing");
    // Requests that need the database get a 503 problem, not a hang or a 500.
    let response = app.get("/v1/matters").await;
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(response, 503, "database_unavailable").await;
}

#[tokio::test]
async fn request_id_is_echoed_or_generated() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "mini-program-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "mini-program-42");

    let generated = app.get("/healthz").await;
    let id = generated.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID: {id}");

    // An unsafe id (here: too long) is replaced, not echoed.
    let long = "x".repeat(300);
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", &long)
        .send()
        .await
        .unwrap();
    assert_ne!(response.headers()["x-request-id"], long.as_str());
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_status() {
    let app = spawn_app().await;
    app.get("/v1/matters/birth-registration").await;
    app.get("/v1/matters/no-such-item").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(
        text.contains(
            r#"beebox_http_requests_total{method="GET",route="/v1/matters/{code}",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(
        r#"beebox_http_requests_total{method="GET",route="/v1/matters/{code}",status="404"} 1"#
    ));
    assert!(text.contains("beebox_http_request_duration_seconds_bucket"));
    assert!(text.contains(r#"beebox_db_pool_connections{state="max"} 5"#));
    // The raw path never becomes a label.
    assert!(!text.contains("no-such-item"));
}

/// SIGTERM: `/readyz` fails at once while the listener keeps serving for
/// `server.drain_delay_ms`, so a load balancer takes the instance out before it refuses
/// connections; then it drains and exits.
#[cfg(unix)]
#[tokio::test]
async fn sigterm_fails_readyz_first_and_keeps_serving_for_the_drain_delay() {
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let url = crate::support::fresh_database_url(dir.path()).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = crate::support::binary::beebox_command(dir.path())
        .env("BEEBOX_SERVER__PORT", port.to_string())
        .env("BEEBOX_SERVER__DRAIN_DELAY_MS", "1500")
        .env("BEEBOX_DATABASE__URL", &url)
        .env("BEEBOX_DATA_DIR", dir.path())
        .env("BEEBOX_LOG__FILTER", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = client.get(format!("{base}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stopping = Instant::now();
    // SAFETY: sending a signal to our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let not_ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    let body = assert_problem(not_ready, 503, "not_ready").await;
    assert_eq!(body["errors"][0]["field"], "instance", "{body}");
    // Still serving everything else, on new connections too.
    let alive = reqwest::Client::new()
        .get(format!("{base}/v1/matters"))
        .send()
        .await
        .unwrap();
    assert_eq!(alive.status(), 200);
    assert!(stopping.elapsed() < Duration::from_millis(1500));
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(stopping.elapsed() >= Duration::from_millis(1500));
}
