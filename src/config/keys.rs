//! `[keys]`: the signing and encryption keys. Dev generates any that are unset (under
//! `data_dir`); prod refuses to start without every one of them.

use serde::{Deserialize, Serialize};

use super::{Problems, Profile, Secret};

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    /// Ed25519 private key (PKCS#8 PEM) that signs access tokens. Unset in dev: generated.
    pub jwt_private_key: Option<Secret>,
    /// At least 32 bytes of secret (hex or text) for signing object URLs. Unset in dev: generated.
    pub url_signing_key: Option<Secret>,
    /// 64 hex characters (32 bytes): the AES-256-GCM key that encrypts ID numbers at rest.
    /// Unset in dev: generated.
    pub data_encryption_key: Option<Secret>,
}

impl KeysConfig {
    pub(super) fn validate(&self, profile: Profile, problems: &mut Problems) {
        if let Some(key) = &self.url_signing_key
            && key.expose().len() < 32
        {
            problems.add("keys.url_signing_key", "must be at least 32 characters");
        }
        if let Some(key) = &self.data_encryption_key {
            let valid = hex::decode(key.expose()).is_ok_and(|k| k.len() == 32);
            if !valid {
                problems.add(
                    "keys.data_encryption_key",
                    "must be 64 hex characters (32 bytes)",
                );
            }
        }
        if profile == Profile::Prod {
            if self.data_encryption_key.is_none() {
                problems.add(
                    "keys.data_encryption_key",
                    "prod refuses a generated encryption key",
                );
            }
            if self.jwt_private_key.is_none() {
                problems.add(
                    "keys.jwt_private_key",
                    "prod refuses a generated token signing key; provide an Ed25519 PKCS#8 PEM",
                );
            }
            if self.url_signing_key.is_none() {
                problems.add(
                    "keys.url_signing_key",
                    "prod refuses a generated URL signing key",
                );
            }
        }
    }
}
