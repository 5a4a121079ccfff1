//! The sessions (refresh-token families) revoked while access tokens of theirs may still be
//! live. Each instance keeps that list in memory and re-reads it at most every
//! `auth.revocation_refresh_ms`, so checking a token costs no database round trip; a
//! revocation made on this instance drops the copy at once.

use std::collections::HashSet;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::{DatabaseConnection, DbErr};
use uuid::Uuid;

use crate::store::sessions;

pub struct Revocations {
    refresh_every: Duration,
    /// How far back a revocation still matters: an access token's life plus clock skew.
    window: chrono::Duration,
    snapshot: RwLock<Snapshot>,
    /// One reload at a time; the others wait for it and use its answer.
    reload: tokio::sync::Mutex<()>,
    /// Bumped by every local revocation, so a reload that raced one is not taken as fresh.
    generation: AtomicU64,
}

#[derive(Default)]
struct Snapshot {
    read_at: Option<Instant>,
    families: HashSet<Uuid>,
}

impl Revocations {
    pub fn new(refresh_every: Duration, access_ttl_secs: u64) -> Self {
        Self {
            refresh_every,
            window: chrono::Duration::seconds(access_ttl_secs as i64 + 60),
            snapshot: RwLock::default(),
            reload: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
        }
    }

    /// Call after revoking sessions here: the next check reads the list again.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.snapshot.write().expect("not poisoned").read_at = None;
    }

    pub async fn is_revoked(&self, db: &DatabaseConnection, session: Uuid) -> Result<bool, DbErr> {
        if let Some(answer) = self.cached(session) {
            return Ok(answer);
        }
        let _reload = self.reload.lock().await;
        if let Some(answer) = self.cached(session) {
            return Ok(answer);
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let started = Instant::now();
        let families: HashSet<Uuid> = sessions::revoked_since(db, Utc::now() - self.window)
            .await?
            .into_iter()
            .collect();
        let answer = families.contains(&session);
        let fresh = self.generation.load(Ordering::SeqCst) == generation;
        *self.snapshot.write().expect("not poisoned") = Snapshot {
            read_at: fresh.then_some(started),
            families,
        };
        Ok(answer)
    }

    fn cached(&self, session: Uuid) -> Option<bool> {
        let snapshot = self.snapshot.read().expect("not poisoned");
        snapshot
            .read_at
            .filter(|at| at.elapsed() < self.refresh_every)
            .map(|_| snapshot.families.contains(&session))
    }
}
