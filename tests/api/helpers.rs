//! `spawn_app`: the real application on port 0 with a fresh database for each test: a temporary
//! SQLite file, or a new PostgreSQL database when `BEEBOX_TEST_DATABASE_URL` is set.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use beebox::Application;
use beebox::config::{Config, Secret};
use beebox::state::AppState;
use sea_orm::{ConnectionTrait, Database};
use tempfile::TempDir;
use tokio::task::JoinHandle;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub config: Config,
    /// The separate `/metrics` listener's port, with `ops.metrics_listen`.
    pub metrics_port: Option<u16>,
    /// Holds the data dir (SQLite file, objects, keys) until the test ends.
    _dir: TempDir,
    server: JoinHandle<anyhow::Result<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// Logs in a dev citizen (`dev:NAME`) and returns the token pair.
    pub async fn login(&self, name: &str) -> serde_json::Value {
        let response = self
            .client
            .post(self.url("/v1/auth/wechat"))
            .json(&serde_json::json!({ "code": format!("dev:{name}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "dev login");
        response.json().await.unwrap()
    }

    /// The `action` of each event of an application's timeline, oldest first, as its owner reads
    /// them.
    pub async fn timeline_actions(&self, token: &str, id: &str) -> Vec<String> {
        let events: serde_json::Value = self
            .get_as(token, &format!("/v1/applications/{id}/events"))
            .await
            .json()
            .await
            .unwrap();
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_string())
            .collect()
    }

    /// A citizen's access token.
    pub async fn citizen_token(&self, name: &str) -> String {
        self.login(name).await["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn get_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_as(
        &self,
        token: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Waits until `/readyz` answers 200.
    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self.client.get(self.url("/readyz")).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "the app never became ready");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// A fresh database URL: a new PostgreSQL database when `BEEBOX_TEST_DATABASE_URL` is set
/// (the test script drops `beebox_t_*` databases afterwards), else a SQLite file in `dir`.
pub async fn fresh_database_url(dir: &std::path::Path) -> String {
    match std::env::var("BEEBOX_TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("beebox_t_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&admin_url)
                .await
                .expect("BEEBOX_TEST_DATABASE_URL reachable");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            admin.close().await.ok();
            let (base, _) = admin_url
                .rsplit_once('/')
                .expect("a URL with a database name");
            format!("{base}/{name}")
        }
        _ => format!("sqlite://{}?mode=rwc", dir.join("beebox.sqlite").display()),
    }
}

pub fn test_config(dir: &std::path::Path, database_url: String) -> Config {
    let mut config = Config {
        data_dir: PathBuf::from(dir),
        ..Config::default()
    };
    config.server.port = 0;
    config.database.url = Some(Secret::new(database_url));
    config.database.max_connections = 5;
    // Jobs (notifications, sweeps) run soon after they are queued, so tests need not wait.
    config.jobs.poll_ms = 100;
    // Booked pickups lie hours ahead; the flows under test need the courier at once
    // (tests/api/pickup.rs checks the wait itself).
    config.courier.sf.sim_skip_pickup_wait = true;
    config
}

/// The app on embedded defaults (filesystem store, generated keys, sample catalogue), ready.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let app = spawn_app_unready(configure).await;
    app.wait_ready().await;
    app
}

/// A second instance on the database of `url` (several instances behind one load balancer).
pub async fn spawn_app_on(url: &str, configure: impl FnOnce(&mut Config)) -> TestApp {
    let app = spawn_app_at(Some(url.to_string()), configure).await;
    app.wait_ready().await;
    app
}

/// As `spawn_app_with`, without waiting for readiness (for tests of start-up itself).
pub async fn spawn_app_unready(configure: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_at(None, configure).await
}

async fn spawn_app_at(url: Option<String>, configure: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = match url {
        Some(url) => url,
        None => fresh_database_url(dir.path()).await,
    };
    let mut config = test_config(dir.path(), url);
    configure(&mut config);
    let application =
        Application::build_with_clock(config.clone(), beebox::clock::Clock::settable())
            .await
            .expect("application builds");
    let port = application.port();
    let metrics_port = application.metrics_port();
    config.server.port = port;
    let state = application.state().clone();
    let server = tokio::spawn(application.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        state,
        config,
        metrics_port,
        _dir: dir,
        server,
    }
}

/// Asserts a problem+json response and returns its body.
pub async fn assert_problem(
    response: reqwest::Response,
    status: u16,
    code: &str,
) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(content_type, "application/problem+json");
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body: serde_json::Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["code"], code, "problem code in {body}");
    assert_eq!(body["status"], status);
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    assert_eq!(body["request_id"].as_str().map(str::to_string), request_id);
    body
}

/// `(item[a], item[b])` for each element of a list body's `items`, as owned strings.
pub fn field_pairs(body: &serde_json::Value, a: &str, b: &str) -> Vec<(String, String)> {
    body["items"]
        .as_array()
        .expect("a list body")
        .iter()
        .map(|e| {
            (
                e[a].as_str().unwrap_or_default().to_string(),
                e[b].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// An application row for seeding tests straight into the store: `state` since `at`, of the
/// item `version`, for `citizen`. Setup only; the citizen's own path is played over HTTP.
pub fn application_row(
    citizen: uuid::Uuid,
    version: &beebox::store::catalog::MatterVersion,
    state: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> beebox::store::applications::application::ActiveModel {
    use sea_orm::ActiveValue::Set;
    let submitted = (state != "draft").then_some(at);
    beebox::store::applications::application::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        citizen_id: Set(citizen),
        matter_id: Set(version.matter.id),
        matter_code: Set(version.matter.code.clone()),
        state: Set(state.into()),
        version: Set(1),
        applicant_name: Set("张三".into()),
        applicant_phone: Set("13800138000".into()),
        applicant_id_number_enc: Set(None),
        applicant_id_number_masked: Set(None),
        return_address: Set(None),
        note: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        submitted_at: Set(submitted),
        first_submitted_at: Set(submitted),
        department_code: Set(version.matter.department_code.clone()),
        claimed_by: Set(None),
        claim_expires_at: Set(None),
        queue_priority: Set(0),
        return_reasons: Set(None),
        prereview_due_at: Set(submitted.map(|s| s + chrono::Duration::hours(24))),
        applicant_email: Set(None),
        overdue_alerted_at: Set(None),
        batch_id: Set(None),
        received_at: Set(None),
        receipt_confirmed_at: Set(None),
    }
}
