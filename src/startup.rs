//! Building and running the service: bind the port first, then reach the database in the
//! background (retrying with backoff) so `/readyz` can say why we are not ready yet.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use poem::listener::TcpAcceptor;
use poem::{EndpointExt, Route, Server};
use sea_orm::DatabaseConnection;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::Config;
use crate::console::{self, Console};
use crate::domain::catalog::CatalogFile;
use crate::http::body_limit::BodyLimits;
use crate::http::framing::ProblemAcceptor;
use crate::http::routes::RouteIndex;
use crate::integrations::courier::partners::{Couriers, SIM_MOUNT};
use crate::integrations::mailer::Mailer;
use crate::keys::Keys;
use crate::state::AppState;
use crate::storage::UrlSigner;
use crate::{api, storage, store};

/// The sample catalogue shipped in the repository; dev loads it into an empty database.
pub const SAMPLE_CATALOG: &str = include_str!("../catalog/matters.toml");

pub struct Application {
    addr: SocketAddr,
    acceptor: TcpAcceptor,
    /// `/metrics` alone, when `ops.metrics_listen` is set.
    metrics: Option<(SocketAddr, TcpAcceptor)>,
    state: AppState,
    init: JoinHandle<anyhow::Result<()>>,
}

impl Application {
    /// Loads keys and the object store, binds the listener and starts connecting the database.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Clock::system()).await
    }

    /// `build` on a given clock: tests pass a settable one (`Clock::settable`) to move time.
    pub async fn build_with_clock(config: Config, clock: Clock) -> anyhow::Result<Self> {
        let config = Arc::new(config);
        let keys = Arc::new(Keys::load(&config)?);
        let listener = tokio::net::TcpListener::bind((config.server.host, config.server.port))
            .await
            .with_context(|| {
                format!(
                    "binding {}:{} (server.host, server.port)",
                    config.server.host, config.server.port
                )
            })?;
        let addr = listener.local_addr()?;
        let acceptor = TcpAcceptor::from_tokio(listener)?;
        let metrics = match config.ops.metrics_listen {
            Some(at) => {
                let listener = tokio::net::TcpListener::bind(at)
                    .await
                    .with_context(|| format!("binding {at} (ops.metrics_listen)"))?;
                Some((listener.local_addr()?, TcpAcceptor::from_tokio(listener)?))
            }
            None => None,
        };
        let signer = UrlSigner::new(
            keys.url_signing.expose().as_bytes(),
            &config.public_url(addr.port()),
        );
        let store = storage::from_config(&config, signer.clone())
            .await
            .context("setting up the object store")?;
        let mailer = Mailer::from_config(&config).context("setting up the mailer")?;
        let couriers = Couriers::from_config(&config, &config.public_url(addr.port()));
        let state = AppState::new(config.clone(), store, signer, keys, mailer, couriers, clock);
        let init = tokio::spawn(init_database(state.clone()));
        Ok(Self {
            addr,
            acceptor,
            metrics,
            state,
            init,
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The port of the separate metrics listener, when `ops.metrics_listen` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(addr, _)| addr.port())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT/SIGTERM, then drains connections for `server.shutdown_grace_secs`.
    /// A failed migration stops the service.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let grace = Duration::from_secs(self.state.config.server.shutdown_grace_secs);
        let routes = routes(self.state.clone());
        tracing::info!(addr = %self.addr, profile = ?self.state.config.profile, "listening");
        let shutdown = self.state.shutdown.clone();
        // Listening starts here, not when the task is first polled: on a busy machine the worker
        // (started by `build`) may already be sending, and a SIGTERM must drain it, not kill it.
        let signalled = shutdown_signal();
        tokio::spawn({
            let shutdown = shutdown.clone();
            let draining = self.state.draining.clone();
            let delay = Duration::from_millis(self.state.config.server.drain_delay_ms);
            async move {
                signalled.await;
                // Out of the load balancer's rotation first (`/readyz` fails), then stop taking
                // connections: one closed sooner resets requests the balancer still sends.
                draining.cancel();
                tokio::time::sleep(delay).await;
                tracing::info!("draining connections");
                shutdown.cancel();
            }
        });
        if let Some((addr, acceptor)) = self.metrics {
            tracing::info!(%addr, "serving /metrics on its own listener");
            let endpoint = Route::new()
                .at("/metrics", poem::get(metrics_only))
                .data(self.state.clone());
            let stop = shutdown.clone();
            tokio::spawn(async move {
                let served = Server::new_with_acceptor(acceptor)
                    .name("beebox-metrics")
                    .run_with_graceful_shutdown(endpoint, stop.cancelled_owned(), None)
                    .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            });
        }
        let server = Server::new_with_acceptor(ProblemAcceptor(self.acceptor))
            .name("beebox")
            .run_with_graceful_shutdown(routes, shutdown.cancelled_owned(), Some(grace));
        // Completes only if start-up fails; select! would drop the server on any completion.
        let init = self.init;
        let failed = async move {
            match init.await {
                Ok(Ok(())) => std::future::pending().await,
                Ok(Err(e)) => e,
                Err(e) => anyhow::anyhow!("start-up task failed: {e}"),
            }
        };
        let served = tokio::select! {
            served = server => served.context("serving HTTP"),
            error = failed => Err(error),
        };
        // The server has drained; now let the worker finish or hand back its jobs.
        let worker = self.state.worker.lock().ok().and_then(|mut w| w.take());
        if let Some(worker) = worker {
            self.state.shutdown.cancel();
            let _ = tokio::time::timeout(grace + Duration::from_secs(5), worker).await;
        }
        served
    }
}

/// Every route, wrapped in the HTTP edge.
pub fn routes(state: AppState) -> impl poem::Endpoint<Output = poem::Response> {
    let service = api::service();
    let spec: serde_json::Value =
        serde_json::from_str(&service.spec()).expect("our OpenAPI document is JSON");
    let index = Arc::new(RouteIndex::from_spec(
        &spec,
        &[
            "/openapi.json",
            "/openapi.yaml",
            "/docs",
            console::MOUNT,
            "/console/assets/{build}/{file}",
        ],
    ));
    let limits = BodyLimits {
        json: state.config.server.body_limit_bytes,
        // A page plus its multipart envelope; the page itself is capped exactly while it streams.
        upload: state.config.uploads.max_page_bytes as usize + 64 * 1024,
        routes: index.clone(),
    };
    let metrics = state.metrics.clone();
    let simulators = state.couriers.simulators().to_vec();
    let mut route = Route::new()
        .at("/openapi.json", service.spec_endpoint())
        .at("/openapi.yaml", service.spec_endpoint_yaml())
        .nest("/docs", service.swagger_ui())
        .nest_no_strip(console::MOUNT, Console::new(&state.config))
        .nest("/", service);
    // Dev: each courier partner's simulator answers on our own port, so the two-way flow runs
    // with no outside network.
    for simulator in simulators {
        route = route.nest(
            format!("{SIM_MOUNT}/{}", simulator.code()),
            simulator.routes(),
        );
    }
    let audit = state.clone();
    let audited = index.clone();
    crate::http::wrap(route.data(state), metrics, index, limits)
        .around(move |ep, req| api::refusals::middleware(ep, req, audit.clone(), audited.clone()))
}

/// `/metrics` on the separate listener: reachable only where that address is, so it asks for
/// no token.
#[poem::handler]
async fn metrics_only(state: poem::web::Data<&AppState>) -> String {
    api::health::render_metrics(&state).await
}

/// Registers for SIGINT and SIGTERM at once; the future completes on the first of them.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let (mut interrupt, mut terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let interrupted = async {
                match interrupt.as_mut() {
                    Some(s) => drop(s.recv().await),
                    None => std::future::pending().await,
                }
            };
            let terminated = async {
                match terminate.as_mut() {
                    Some(s) => drop(s.recv().await),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = interrupted => {},
                _ = terminated => {},
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested; /readyz fails from now on");
    }
}

async fn init_database(state: AppState) -> anyhow::Result<()> {
    let config = &state.config;
    let db = connect_with_retry(config, None, |status| state.set_db_status(status)).await?;
    state.set_db_status("applying migrations");
    store::migrate(&db)
        .await
        .map_err(|e| anyhow::anyhow!(store::describe_error(&e)))
        .context("applying database migrations")?;
    if config.seed_catalog_on_empty() && store::catalog::is_empty(&db).await? {
        let file = CatalogFile::parse(SAMPLE_CATALOG).context("the built-in sample catalogue")?;
        file.check_retention(config.retention.defaults())
            .context("the built-in sample catalogue under [retention]")?;
        file.check_partners(&config.courier.partners)
            .context("the built-in sample catalogue under [courier]")?;
        let report = store::catalog::import(&db, &file).await?;
        tracing::info!(
            items = report.created.len(),
            "empty catalogue: loaded the built-in sample (catalog/matters.toml)"
        );
    }
    // Serve and report the catalogue's revision before taking requests: an import from then on
    // waits for this instance (`catalog::await_readers`).
    if let Err(e) = state.catalog.refresh(&db).await {
        tracing::warn!(error = %e, "could not read the catalogue yet; the watcher retries");
    }
    state.set_db(db.clone());
    tracing::info!("database ready");
    tokio::spawn(state.catalog.clone().watch(db, state.shutdown.clone()));
    tokio::spawn(crate::sweeps::run(state.clone()));
    if config.jobs.worker
        && let Some(ctx) = state.job_context()
    {
        let metrics = state.metrics.clone();
        let on_run = Arc::new(move |kind: &str, outcome: &str, ran: f64, waited: f64| {
            metrics.observe_job(kind, outcome, ran, waited)
        });
        let worker = tokio::spawn(crate::jobs::worker::run(
            ctx,
            on_run,
            state.shutdown.clone(),
        ));
        if let Ok(mut slot) = state.worker.lock() {
            *slot = Some(worker);
        }
    } else {
        tracing::info!("job worker off in this instance (jobs.worker = false or --no-worker)");
    }
    Ok(())
}

/// Connects, retrying with exponential backoff up to `database.retry_max_backoff_secs` between
/// attempts; gives up at `deadline` when one is given.
pub async fn connect_with_retry(
    config: &Config,
    deadline: Option<Instant>,
    report: impl Fn(String),
) -> anyhow::Result<DatabaseConnection> {
    let url = config.database_url();
    let max_backoff = Duration::from_secs(config.database.retry_max_backoff_secs.max(1));
    let mut delay = Duration::from_millis(250);
    let mut attempt = 1u32;
    loop {
        report(format!("connecting (attempt {attempt})"));
        match store::connect(&config.database, &url).await {
            Ok(db) => return Ok(db),
            Err(e) => {
                let reason = store::describe_error(&e);
                if deadline.is_some_and(|d| Instant::now() + delay > d) {
                    anyhow::bail!("database unreachable after {attempt} attempts: {reason}");
                }
                tracing::warn!(
                    attempt,
                    retry_in_ms = delay.as_millis() as u64,
                    reason = %reason,
                    "database unreachable; retrying"
                );
                report(format!(
                    "unreachable (attempt {attempt}, retrying in {} ms): {reason}",
                    delay.as_millis()
                ));
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(max_backoff);
                attempt += 1;
            }
        }
    }
}
