//! `[auth]`: token lifetimes, the dev login, and the staff login lock-outs. The dev login is on
//! in dev only and prod refuses it.

use serde::{Deserialize, Serialize};

use super::{Problems, Profile};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Lifetime of an access token (JWT).
    pub access_ttl_secs: u64,
    /// Lifetime of a refresh token; each use rotates it.
    pub refresh_ttl_secs: u64,
    /// Accept `dev:NAME` as a WeChat login code without calling WeChat. Unset: on in dev only.
    pub dev_login: Option<bool>,
    /// Failed staff logins (per username, within `login_lock_secs`) that lock it.
    pub login_lock_after: u32,
    /// How long a locked username stays locked.
    pub login_lock_secs: u64,
    /// Failed staff logins of one username from every address but its desk (within
    /// `login_global_lock_secs`) that hold it back everywhere but the desk.
    pub login_global_lock_after: u32,
    /// How long that per-username back-off lasts.
    pub login_global_lock_secs: u64,
    /// How often an instance re-reads the revoked sessions: the most a logged-out or revoked
    /// access token keeps working elsewhere.
    pub revocation_refresh_ms: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            access_ttl_secs: 15 * 60,
            refresh_ttl_secs: 30 * 24 * 3600,
            dev_login: None,
            login_lock_after: 5,
            login_lock_secs: 15 * 60,
            login_global_lock_after: 20,
            login_global_lock_secs: 5 * 60,
            revocation_refresh_ms: 1000,
        }
    }
}

impl AuthConfig {
    pub(super) fn validate(&self, profile: Profile, problems: &mut Problems) {
        if !(60..=24 * 3600).contains(&self.access_ttl_secs) {
            problems.add("auth.access_ttl_secs", "must be between 60 and 86400");
        }
        if self.login_lock_after < 2 {
            problems.add("auth.login_lock_after", "must be at least 2");
        }
        if self.login_global_lock_after < self.login_lock_after {
            problems.add(
                "auth.login_global_lock_after",
                "must be at least auth.login_lock_after",
            );
        }
        if self.login_global_lock_secs == 0 {
            problems.add("auth.login_global_lock_secs", "must be at least 1");
        }
        if !(50..=60_000).contains(&self.revocation_refresh_ms) {
            problems.add("auth.revocation_refresh_ms", "must be between 50 and 60000");
        }
        if self.refresh_ttl_secs < self.access_ttl_secs {
            problems.add(
                "auth.refresh_ttl_secs",
                "must be at least auth.access_ttl_secs",
            );
        }
        if profile == Profile::Prod && self.dev_login == Some(true) {
            problems.add("auth.dev_login", "prod refuses the dev login");
        }
    }
}
