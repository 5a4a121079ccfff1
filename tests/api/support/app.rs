//! `spawn_app`: the real application on port 0 with a fresh database for each test: a temporary
//! SQLite file, or a new PostgreSQL database when `BEEBOX_TEST_DATABASE_URL` is set. `TestApp`
//! talks to it over HTTP as a client would.

use std::path::PathBuf;
use std::time::Duration;

use beebox::Application;
use beebox::config::{Config, Secret};
use beebox::state::AppState;
use sea_orm::{ConnectionTrait, Database};
use tempfile::TempDir;
use tokio::task::JoinHandle;

use super::wait::poll;

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
    /// Imports `file` beside the running service, as `beebox catalog import` does, and has this
    /// instance read it now (the service's own check would within `catalog.refresh_ms`).
    pub async fn import_catalog(
        &self,
        file: &beebox::domain::catalog::CatalogFile,
    ) -> beebox::store::catalog::ImportReport {
        let db = self.state.database().expect("the database is ready");
        let report = beebox::store::catalog::import(db, file).await.unwrap();
        self.state.catalog.refresh(db).await.unwrap();
        report
    }

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

    /// Posts a WeChat login code.
    pub async fn wechat_login(&self, code: &str) -> reqwest::Response {
        self.post_login_code(None, code).await
    }

    /// Posts a WeChat login code from the client address `address` (as the proxy forwards it).
    pub async fn wechat_login_from(&self, address: &str, code: &str) -> reqwest::Response {
        self.post_login_code(Some(address), code).await
    }

    async fn post_login_code(&self, address: Option<&str>, code: &str) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url("/v1/auth/wechat"))
            .json(&serde_json::json!({ "code": code }));
        if let Some(address) = address {
            request = request.header("x-forwarded-for", address);
        }
        request.send().await.unwrap()
    }

    /// Logs in a dev citizen (`dev:NAME`) and returns the token pair.
    pub async fn login(&self, name: &str) -> serde_json::Value {
        let response = self.wechat_login(&format!("dev:{name}")).await;
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

    pub async fn put_as(
        &self,
        token: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Signs arbitrary claims with the app's own key, as only the app could.
    pub fn sign_with_app_key(&self, claims: &serde_json::Value) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some(self.state.keys.jwt_kid.clone());
        jsonwebtoken::encode(&header, claims, &self.state.keys.jwt_encoding).unwrap()
    }

    /// Waits until `/readyz` answers 200.
    pub async fn wait_ready(&self) {
        let ready = poll(
            Duration::from_secs(30),
            Duration::from_millis(25),
            || async {
                match self.client.get(self.url("/readyz")).send().await {
                    Ok(r) if r.status() == 200 => Ok(()),
                    _ => Err(()),
                }
            },
        )
        .await;
        assert!(ready.is_ok(), "the app never became ready");
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
    config.courier.ems.sim_skip_pickup_wait = true;
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

/// The app with a courier simulator that moves a parcel every 100 ms and a quick job worker:
/// for flows that wait on both.
pub async fn quick_app() -> TestApp {
    spawn_app_with(|c| {
        c.courier.sf.sim_step_ms = 100;
        c.courier.ems.sim_step_ms = 100;
        c.jobs.poll_ms = 50;
    })
    .await
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
