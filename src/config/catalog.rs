//! `[catalog]`: whether an empty database gets the built-in sample catalogue. On in dev; prod
//! refuses it, since the real catalogue is imported with `beebox catalog import`.

use serde::{Deserialize, Serialize};

use super::{Problems, Profile};

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogConfig {
    /// Load the built-in sample catalogue when the database has no items. Unset: on in dev only.
    pub seed_on_empty: Option<bool>,
}

impl CatalogConfig {
    pub(super) fn validate(&self, profile: Profile, problems: &mut Problems) {
        if profile == Profile::Prod && self.seed_on_empty == Some(true) {
            problems.add(
                "catalog.seed_on_empty",
                "prod refuses the sample catalogue; import the real one with `beebox catalog import`",
            );
        }
    }
}
