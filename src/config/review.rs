//! `[review]`: how long a reviewer's claim on a case holds without activity before it
//! lapses.

use serde::{Deserialize, Serialize};

use super::Problems;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReviewConfig {
    /// How long a reviewer's claim on a case lasts without activity.
    pub claim_lease_secs: u64,
}

impl Default for ReviewConfig {
    fn default() -> Self {
        Self {
            claim_lease_secs: 30 * 60,
        }
    }
}

impl ReviewConfig {
    pub(super) fn validate(&self, problems: &mut Problems) {
        if !(60..=24 * 3600).contains(&self.claim_lease_secs) {
            problems.add("review.claim_lease_secs", "must be between 60 and 86400");
        }
    }
}
