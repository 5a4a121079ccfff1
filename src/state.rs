//! What every handler shares. The database arrives after start-up (it may be unreachable at
//! first), so handlers reach it through `db()`, which fails with `DatabaseNotReady` (503 at the
//! API edge) until it is ready. Background work gets a narrower `JobContext`, not this.

use std::sync::{Arc, RwLock};

use sea_orm::DatabaseConnection;
use tokio::sync::OnceCell;

use crate::clock::Clock;
use crate::config::Config;
use crate::courier::pushes::PushQueue;
use crate::http::metrics::Metrics;
use crate::integrations::courier::partners::Couriers;
use crate::integrations::mailer::Mailer;
use crate::integrations::wechat::WechatClient;
use crate::jobs::job::{Attempt, JobContext};
use crate::keys::Keys;
use crate::storage::{ObjectStore, UrlSigner};
use crate::store::DatabaseNotReady;
use crate::store::outbox::Channels;
use tokio_util::sync::CancellationToken;

/// Access tokens an instance remembers as verified: about 10,000 active users' tokens in a few
/// MiB.
const TOKENS_KEPT: usize = 10_000;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    /// The time every rule compares against (`clock`).
    pub clock: Clock,
    /// The case workflow (`cases`), with the handles it needs.
    pub cases: crate::cases::Cases,
    pub store: Arc<dyn ObjectStore>,
    pub signer: UrlSigner,
    pub keys: Arc<Keys>,
    pub metrics: Arc<Metrics>,
    pub wechat: WechatClient,
    pub mailer: Mailer,
    pub couriers: Couriers,
    /// Which channels the citizen's messages go by (`store::outbox`).
    pub channels: Arc<Channels>,
    /// Route pushes queue here to be written in batches (group commit).
    pub pushes: PushQueue,
    /// Cancelled when the service is told to stop: the HTTP server drains, the worker finishes.
    pub shutdown: CancellationToken,
    /// Cancelled first, `server.drain_delay_ms` before `shutdown`: `/readyz` fails meanwhile.
    pub draining: CancellationToken,
    /// The job worker, once started; shutdown waits for it to hand its jobs back.
    pub worker: Arc<std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
    /// When the last page upload started (Unix ms): background media work waits for a lull.
    pub last_upload_ms: Arc<std::sync::atomic::AtomicI64>,
    /// `[rate_limits]`, in this instance's memory.
    pub rate_limits: Arc<crate::http::rate_limit::RateLimits>,
    /// Sessions ended before their access tokens ran out (`auth::revocations`).
    pub revocations: Arc<crate::auth::revocations::Revocations>,
    /// The current catalogue in memory, kept in step with imports (`catalog`).
    pub catalog: crate::catalog::Catalogue,
    /// Access tokens already verified here (`auth::VerifiedTokens`).
    pub tokens: Arc<crate::auth::VerifiedTokens>,
    /// Staff actions' audit records, appended in shared commits under load.
    pub audit: crate::store::audit::writer::AuditWriter,
    db: Arc<OnceCell<DatabaseConnection>>,
    db_status: Arc<RwLock<String>>,
}

impl AppState {
    pub fn new(
        config: Arc<Config>,
        store: Arc<dyn ObjectStore>,
        signer: UrlSigner,
        keys: Arc<Keys>,
        mailer: Mailer,
        couriers: Couriers,
        clock: Clock,
    ) -> Self {
        let metrics = Arc::new(Metrics::new());
        let channels = Arc::new(Channels::new(&config.wechat));
        let cases = crate::cases::Cases::new(
            config.clone(),
            channels.clone(),
            clock.clone(),
            store.clone(),
        );
        let batches = metrics.clone();
        Self {
            cases: cases.clone(),
            clock,
            couriers,
            pushes: PushQueue::new(
                Arc::new(move |partner, pushes| batches.webhook_batch(partner, pushes)),
                cases.clone(),
                config.courier.push_writers,
            ),
            channels,
            wechat: WechatClient::new(&config.wechat),
            mailer,
            shutdown: CancellationToken::new(),
            draining: CancellationToken::new(),
            worker: Arc::default(),
            last_upload_ms: Arc::new(std::sync::atomic::AtomicI64::new(0)),
            rate_limits: crate::http::rate_limit::start(&config.rate_limits),
            revocations: Arc::new(crate::auth::revocations::Revocations::new(
                std::time::Duration::from_millis(config.auth.revocation_refresh_ms),
                config.auth.access_ttl_secs,
            )),
            audit: Default::default(),
            tokens: Arc::new(crate::auth::VerifiedTokens::new(TOKENS_KEPT)),
            catalog: crate::catalog::Catalogue::new(std::time::Duration::from_millis(
                config.catalog.refresh_ms,
            )),
            config,
            store,
            signer,
            keys,
            metrics,
            db: Arc::new(OnceCell::new()),
            db_status: Arc::new(RwLock::new("connecting".into())),
        }
    }

    /// The database, unless start-up is still connecting or migrating.
    pub fn db(&self) -> Result<&DatabaseConnection, DatabaseNotReady> {
        self.db.get().ok_or(DatabaseNotReady)
    }

    /// What a job gets, once the database is ready: the worker's, and a caller's that runs a
    /// job's work directly.
    pub fn job_context(&self) -> Option<JobContext> {
        Some(JobContext {
            db: self.db.get()?.clone(),
            config: self.config.clone(),
            clock: self.clock.clone(),
            cases: self.cases.clone(),
            store: self.store.clone(),
            couriers: self.couriers.clone(),
            channels: self.channels.clone(),
            wechat: self.wechat.clone(),
            keys: self.keys.clone(),
            mailer: self.mailer.clone(),
            attempt: Attempt::only(),
        })
    }

    pub fn note_upload(&self) {
        self.last_upload_ms.store(
            chrono::Utc::now().timestamp_millis(),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Milliseconds since the last page upload started.
    pub fn since_last_upload_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
            - self
                .last_upload_ms
                .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn database(&self) -> Option<&DatabaseConnection> {
        self.db.get()
    }

    pub(crate) fn set_db(&self, db: DatabaseConnection) {
        let _ = self.db.set(db);
        self.set_db_status("ready");
    }

    /// Why the database is not ready yet, for `/readyz`.
    pub fn db_status(&self) -> String {
        self.db_status.read().map(|s| s.clone()).unwrap_or_default()
    }

    pub(crate) fn set_db_status(&self, status: impl Into<String>) {
        if let Ok(mut s) = self.db_status.write() {
            *s = status.into();
        }
    }
}
