//! `[catalog]`: whether an empty database gets the built-in sample catalogue (on in dev; prod
//! refuses it, since the real catalogue is imported with `beebox catalog import`), and how an
//! instance keeps its in-memory catalogue in step with imports (`crate::catalog`).

use serde::{Deserialize, Serialize};

use super::{Problems, Profile};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogConfig {
    /// Load the built-in sample catalogue when the database has no items. Unset: on in dev only.
    pub seed_on_empty: Option<bool>,
    /// How often an instance checks the catalogue's revision (PostgreSQL also tells it at once).
    pub refresh_ms: u64,
    /// How long `beebox catalog import` waits for every running instance to serve the import.
    pub import_wait_ms: u64,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        Self {
            seed_on_empty: None,
            refresh_ms: 1000,
            import_wait_ms: 10_000,
        }
    }
}

impl CatalogConfig {
    pub(super) fn validate(&self, profile: Profile, problems: &mut Problems) {
        if !(20..=60_000).contains(&self.refresh_ms) {
            problems.add("catalog.refresh_ms", "must be between 20 and 60000");
        }
        if self.import_wait_ms > 600_000 {
            problems.add("catalog.import_wait_ms", "must be at most 600000");
        }
        if profile == Profile::Prod && self.seed_on_empty == Some(true) {
            problems.add(
                "catalog.seed_on_empty",
                "prod refuses the sample catalogue; import the real one with `beebox catalog import`",
            );
        }
    }
}
