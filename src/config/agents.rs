//! `[agents]`: how long a resident's confirmation code and their authorization of an agent
//! last.

use serde::{Deserialize, Serialize};

use super::Problems;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentsConfig {
    /// How long the code an agent shows a resident can be used.
    pub code_ttl_secs: u64,
    /// How long a resident's authorization of an agent lasts once given.
    pub authorization_days: u32,
}

impl Default for AgentsConfig {
    fn default() -> Self {
        Self {
            code_ttl_secs: 10 * 60,
            authorization_days: 90,
        }
    }
}

impl AgentsConfig {
    pub(super) fn validate(&self, problems: &mut Problems) {
        if !(60..=24 * 3600).contains(&self.code_ttl_secs) {
            problems.add("agents.code_ttl_secs", "must be between 60 and 86400");
        }
        if !(1..=366).contains(&self.authorization_days) {
            problems.add("agents.authorization_days", "must be between 1 and 366");
        }
    }
}
