//! `[database]`: the SQLite or PostgreSQL URL and the pool around it. Unset, dev keeps a SQLite
//! file under `data_dir`; prod refuses that default.

use serde::{Deserialize, Serialize};

use super::{Problems, Profile, Secret};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH?mode=rwc` or `postgres://...`. Unset: a SQLite file under `data_dir`.
    pub url: Option<Secret>,
    pub max_connections: u32,
    pub min_connections: u32,
    pub connect_timeout_secs: u64,
    pub acquire_timeout_secs: u64,
    pub sqlite_busy_timeout_ms: u64,
    /// Longest pause between connection attempts while the database is unreachable at start-up.
    pub retry_max_backoff_secs: u64,
    /// How long `beebox migrate` keeps retrying an unreachable database before giving up.
    pub migrate_timeout_secs: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 16,
            min_connections: 1,
            connect_timeout_secs: 5,
            acquire_timeout_secs: 5,
            sqlite_busy_timeout_ms: 5_000,
            retry_max_backoff_secs: 30,
            migrate_timeout_secs: 60,
        }
    }
}

impl DatabaseConfig {
    pub(super) fn validate(&self, profile: Profile, problems: &mut Problems) {
        if let Some(url) = &self.url {
            let url = url.expose();
            if !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
            {
                problems.add(
                    "database.url",
                    "must start with sqlite:, postgres:// or postgresql://",
                );
            }
        }
        if self.max_connections == 0 {
            problems.add("database.max_connections", "must be at least 1");
        }
        if self.min_connections > self.max_connections {
            problems.add(
                "database.min_connections",
                "must not exceed database.max_connections",
            );
        }
        if profile == Profile::Prod && self.url.is_none() {
            problems.add(
                "database.url",
                "prod refuses the dev SQLite default; set a PostgreSQL URL",
            );
        }
    }
}
