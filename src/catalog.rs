//! The current catalogue in this instance's memory, so the public catalogue routes cost no
//! database round trip. It is read whole at the revision `store::catalog::revision` holds and
//! read again when that changes: at once on a PostgreSQL notification from the import's commit,
//! and otherwise at the next check (`catalog.refresh_ms`; the only way on SQLite, whose imports
//! come from the `beebox catalog import` process). Each instance reports the revision it serves,
//! and the import waits until every live one serves its own (`await_readers`), so a request
//! made after the import returns sees it on every instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use sea_orm::{DatabaseBackend, DatabaseConnection, DbErr};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::store::catalog::{self, MatterVersion, bundle, revision};

/// An instance not seen for this long is taken as gone: no import waits for it.
const ALIVE_WITHIN: chrono::Duration = chrono::Duration::seconds(30);
/// How often an instance says it is still there, whether or not anything changed.
const HEARTBEAT: Duration = Duration::from_secs(10);

/// A cheap handle: clones share one snapshot.
#[derive(Clone)]
pub struct Catalogue {
    inner: Arc<Inner>,
}

struct Inner {
    /// This instance, in `catalog_readers`.
    instance: Uuid,
    refresh_every: Duration,
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    /// One load at a time; the others wait for it and use its answer.
    loading: tokio::sync::Mutex<()>,
}

/// The current catalogue at one revision. Immutable, except for the responses readers build from
/// it, which are kept with it and dropped with it.
pub struct Snapshot {
    pub revision: i64,
    /// The current version of every item, by department then code.
    pub items: Vec<Arc<MatterVersion>>,
    by_code: HashMap<String, Arc<MatterVersion>>,
    /// Every bundle, by code.
    pub bundles: Vec<bundle::Model>,
    renders: Mutex<HashMap<String, Arc<Rendered>>>,
}

/// A response body built once per snapshot, with its entity tag.
pub struct Rendered {
    pub body: Bytes,
    /// A strong entity tag, quoted: the body's SHA-256, shortened.
    pub etag: String,
}

impl Rendered {
    pub fn new(body: Vec<u8>) -> Self {
        let digest = Sha256::digest(&body);
        Self {
            etag: format!("\"{}\"", hex::encode(&digest[..12])),
            body: Bytes::from(body),
        }
    }
}

impl Snapshot {
    /// The current version of item `code`.
    pub fn item(&self, code: &str) -> Option<&Arc<MatterVersion>> {
        self.by_code.get(code)
    }

    pub fn bundle(&self, code: &str) -> Option<&bundle::Model> {
        self.bundles.iter().find(|b| b.code == code)
    }

    /// The response `key` built from this snapshot: by `build` the first time, kept after.
    pub fn rendered(&self, key: &str, build: impl FnOnce(&Self) -> Vec<u8>) -> Arc<Rendered> {
        match self.try_rendered(key, |s| Ok::<_, std::convert::Infallible>(build(s))) {
            Ok(done) => done,
        }
    }

    /// `rendered`, for a body whose building can fail (nothing is kept then).
    pub fn try_rendered<E>(
        &self,
        key: &str,
        build: impl FnOnce(&Self) -> Result<Vec<u8>, E>,
    ) -> Result<Arc<Rendered>, E> {
        if let Some(done) = self.renders.lock().expect("not poisoned").get(key) {
            return Ok(done.clone());
        }
        // Built outside the lock: two first readers may both build; the bodies are equal.
        let done = Arc::new(Rendered::new(build(self)?));
        Ok(self
            .renders
            .lock()
            .expect("not poisoned")
            .entry(key.to_string())
            .or_insert(done)
            .clone())
    }
}

impl Catalogue {
    pub fn new(refresh_every: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                instance: Uuid::now_v7(),
                refresh_every,
                snapshot: RwLock::default(),
                loading: tokio::sync::Mutex::new(()),
            }),
        }
    }

    fn loaded(&self) -> Option<Arc<Snapshot>> {
        self.inner.snapshot.read().expect("not poisoned").clone()
    }

    /// The current catalogue: from memory once loaded.
    pub async fn snapshot(&self, db: &DatabaseConnection) -> Result<Arc<Snapshot>, DbErr> {
        if let Some(snapshot) = self.loaded() {
            return Ok(snapshot);
        }
        let _loading = self.inner.loading.lock().await;
        if let Some(snapshot) = self.loaded() {
            return Ok(snapshot);
        }
        let revision = revision::current(db).await?;
        self.load(db, revision).await
    }

    /// Reads the catalogue at `revision` (read before it, so a load racing an import is labelled
    /// with the older revision and read again at the next check).
    async fn load(&self, db: &DatabaseConnection, revision: i64) -> Result<Arc<Snapshot>, DbErr> {
        let items = catalog::current_versions(db).await?;
        let bundles = catalog::bundles(db).await?;
        let snapshot = Arc::new(Snapshot {
            revision,
            by_code: items
                .iter()
                .map(|v| (v.matter.code.clone(), v.clone()))
                .collect(),
            items,
            bundles,
            renders: Mutex::default(),
        });
        *self.inner.snapshot.write().expect("not poisoned") = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// Reads the catalogue again if its revision moved; reports what this instance serves.
    pub async fn refresh(&self, db: &DatabaseConnection) -> Result<i64, DbErr> {
        let _loading = self.inner.loading.lock().await;
        let revision = revision::current(db).await?;
        let serving = match self.loaded() {
            Some(s) if s.revision == revision => revision,
            _ => {
                let before = self.loaded();
                self.load(db, revision).await?;
                if before.is_some() {
                    tracing::info!(revision, "catalogue changed: serving the new revision");
                }
                revision
            }
        };
        revision::report(db, self.inner.instance, serving, Utc::now()).await?;
        Ok(serving)
    }

    /// Keeps the snapshot in step until `shutdown`, then stops reporting this instance.
    pub async fn watch(self, db: DatabaseConnection, shutdown: CancellationToken) {
        let postgres = db.get_database_backend() == DatabaseBackend::Postgres;
        let mut listener = if postgres { listen(&db).await } else { None };
        // Start-up reported the revision already; an import since, before the listener, is found
        // here.
        if let Err(e) = self.refresh(&db).await {
            tracing::warn!(error = %e, "could not read the catalogue");
        }
        let mut reported = tokio::time::Instant::now();
        loop {
            let seen = self.loaded().map(|s| s.revision);
            // Checks at least every heartbeat, so a live instance is never taken as gone.
            let wait = tokio::time::sleep(self.inner.refresh_every.min(HEARTBEAT));
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = wait => {}
                notified = notification(&mut listener) => {
                    if let Err(e) = notified {
                        tracing::warn!(error = %e, "catalogue notifications lost; checking every catalog.refresh_ms");
                        listener = None;
                    }
                }
            }
            let current = match revision::current(&db).await {
                Ok(current) => current,
                Err(e) => {
                    tracing::warn!(error = %e, "could not check the catalogue's revision");
                    continue;
                }
            };
            if Some(current) != seen || reported.elapsed() >= HEARTBEAT {
                match self.refresh(&db).await {
                    Ok(_) => reported = tokio::time::Instant::now(),
                    Err(e) => tracing::warn!(error = %e, "could not read the catalogue"),
                }
                // Notifications lost with their connection (say a database restart): try again.
                if postgres && listener.is_none() {
                    listener = listen(&db).await;
                }
            }
        }
        if let Err(e) = revision::forget(&db, self.inner.instance).await {
            tracing::warn!(error = %e, "could not withdraw this instance from catalog_readers");
        }
    }
}

type Listener = sea_orm::sqlx::postgres::PgListener;

/// A listener on its own connection (not one of the pool's), or `None` if it cannot start: the
/// regular checks still find every import.
async fn listen(db: &DatabaseConnection) -> Option<Listener> {
    let pool = db.get_postgres_connection_pool();
    let own = sea_orm::sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with(pool.connect_options().as_ref().clone());
    let started = async {
        let mut listener = Listener::connect_with(&own).await?;
        listener.listen(revision::CHANNEL).await?;
        Ok::<_, sea_orm::sqlx::Error>(listener)
    };
    match started.await {
        Ok(listener) => Some(listener),
        Err(e) => {
            tracing::warn!(error = %e, "catalogue notifications unavailable; checking every catalog.refresh_ms");
            None
        }
    }
}

async fn notification(listener: &mut Option<Listener>) -> Result<(), sea_orm::sqlx::Error> {
    match listener {
        Some(listener) => listener.recv().await.map(|_| ()),
        None => std::future::pending().await,
    }
}

/// Waits until every live instance serves `revision`, for at most `wait`; answers the ids of
/// those that still do not.
pub async fn await_readers(
    db: &DatabaseConnection,
    revision: i64,
    wait: Duration,
) -> Result<Vec<Uuid>, DbErr> {
    let until = tokio::time::Instant::now() + wait;
    loop {
        let behind = revision::behind(db, revision, Utc::now() - ALIVE_WITHIN).await?;
        if behind.is_empty() || tokio::time::Instant::now() >= until {
            return Ok(behind.into_iter().map(|r| r.instance_id).collect());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
