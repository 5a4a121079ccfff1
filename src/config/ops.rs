//! `[ops]`: who may read `/metrics` and `/readyz`'s details. Prod refuses `/metrics` open to
//! anyone on the main port.

use serde::{Deserialize, Serialize};

use super::{Problems, Profile, Secret};

/// Operators' endpoints: who may read `/metrics` and `/readyz`'s details.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct OpsConfig {
    /// A bearer token for operators. With it `/readyz` says why a part failed; when set,
    /// `/metrics` on the main port asks for it.
    pub token: Option<Secret>,
    /// Serve `/metrics` on this separate address (e.g. `127.0.0.1:9090`) and not on the main
    /// port.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

impl OpsConfig {
    /// Whether `presented` is the configured token. Compares digests, so the time taken says
    /// nothing about how much of the token matched.
    pub fn token_matches(&self, presented: &str) -> bool {
        use sha2::{Digest, Sha256};
        self.token.as_ref().is_some_and(|token| {
            Sha256::digest(token.expose().as_bytes()) == Sha256::digest(presented.as_bytes())
        })
    }

    pub(super) fn validate(&self, profile: Profile, problems: &mut Problems) {
        if profile == Profile::Prod && self.token.is_none() && self.metrics_listen.is_none() {
            problems.add(
                "ops.token",
                "prod refuses /metrics open on the main port; set ops.token or ops.metrics_listen",
            );
        }
    }
}
