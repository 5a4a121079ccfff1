//! `[server]`: where the HTTP server listens, the address clients reach it at, and its limits.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{Problems, Profile};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub host: IpAddr,
    pub port: u16,
    /// The address clients reach us at; used to build signed object URLs.
    pub public_url: Option<String>,
    /// Largest request body accepted outside the upload routes, in bytes.
    pub body_limit_bytes: usize,
    /// How long a graceful shutdown waits for in-flight requests.
    pub shutdown_grace_secs: u64,
    /// On SIGTERM, how long `/readyz` fails while the listener still takes requests, so a load
    /// balancer stops sending before connections are refused.
    pub drain_delay_ms: u64,
    /// Take the client address for the audit log from `X-Forwarded-For` (behind a proxy you run).
    pub trust_forwarded_for: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8080,
            public_url: None,
            body_limit_bytes: 1024 * 1024,
            shutdown_grace_secs: 30,
            drain_delay_ms: 2000,
            trust_forwarded_for: false,
        }
    }
}

impl ServerConfig {
    pub(super) fn validate(&self, profile: Profile, problems: &mut Problems) {
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            problems.add("server.public_url", "must start with http:// or https://");
        }
        if self.drain_delay_ms > 60_000 {
            problems.add("server.drain_delay_ms", "must be at most 60000");
        }
        if self.body_limit_bytes < 1024 {
            problems.add("server.body_limit_bytes", "must be at least 1024");
        }
        if profile == Profile::Prod && self.public_url.is_none() {
            problems.add(
                "server.public_url",
                "prod needs the public https address clients use",
            );
        }
    }
}
