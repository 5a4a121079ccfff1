//! Keys: the Ed25519 key that signs access tokens, the HMAC key that signs object URLs and the
//! AES key that encrypts personal data at rest.
//! Production supplies all three through configuration; dev generates them once under `data_dir/keys`
//! and says so loudly on every start.

use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, AeadCore, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use jsonwebtoken::{DecodingKey, EncodingKey};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::{Config, Secret};

pub struct Keys {
    pub jwt_encoding: EncodingKey,
    pub jwt_decoding: DecodingKey,
    /// The public key as a JWK `x` value (base64url) and its key id, for `/.well-known/jwks.json`.
    pub jwt_public_x: String,
    pub jwt_kid: String,
    pub url_signing: Secret,
    pub data: DataCipher,
}

/// AES-256-GCM for personal data at rest (ID numbers). Ciphertexts are `v1:` + base64 of
/// nonce || ciphertext, so the scheme can change later without guessing.
#[derive(Clone)]
pub struct DataCipher(Aes256Gcm);

impl DataCipher {
    pub fn encrypt(&self, plaintext: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut aes_gcm::aead::OsRng);
        let ciphertext = self
            .0
            .encrypt(&nonce, plaintext.as_bytes())
            .expect("AES-GCM encryption of a short string cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        format!("v1:{}", STANDARD.encode(out))
    }

    pub fn decrypt(&self, stored: &str) -> Option<String> {
        let bytes = STANDARD.decode(stored.strip_prefix("v1:")?).ok()?;
        if bytes.len() < 12 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let plain = self.0.decrypt(&Nonce::from(nonce), ciphertext).ok()?;
        String::from_utf8(plain).ok()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{key}: {reason}")]
    Invalid { key: &'static str, reason: String },
    #[error("cannot keep the generated dev key at {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl Keys {
    pub fn load(config: &Config) -> Result<Self, KeyError> {
        let dir = config.data_dir.join("keys");
        let jwt_pem = match &config.keys.jwt_private_key {
            Some(pem) => pem.clone(),
            None => dev_key(&dir.join("jwt-ed25519.pem"), || {
                SigningKey::generate(&mut rand::rngs::OsRng)
                    .to_pkcs8_pem(LineEnding::LF)
                    .expect("a fresh Ed25519 key encodes")
                    .to_string()
            })?,
        };
        let url_signing = match &config.keys.url_signing_key {
            Some(key) => key.clone(),
            None => dev_key(&dir.join("url-signing.key"), || {
                let mut bytes = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut bytes);
                hex::encode(bytes)
            })?,
        };
        let data_key = match &config.keys.data_encryption_key {
            Some(key) => key.clone(),
            None => dev_key(&dir.join("data-encryption.key"), || {
                let mut bytes = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut bytes);
                hex::encode(bytes)
            })?,
        };
        let data_key = hex::decode(data_key.expose())
            .ok()
            .filter(|k| k.len() == 32)
            .ok_or_else(|| KeyError::Invalid {
                key: "keys.data_encryption_key",
                reason: "must be 64 hex characters".into(),
            })?;
        let data = DataCipher(Aes256Gcm::new_from_slice(&data_key).expect("a 32-byte key"));
        let invalid = |reason: String| KeyError::Invalid {
            key: "keys.jwt_private_key",
            reason,
        };
        let signing = SigningKey::from_pkcs8_pem(jwt_pem.expose())
            .map_err(|e| invalid(format!("not an Ed25519 PKCS#8 PEM key ({e})")))?;
        let public = signing.verifying_key().to_bytes();
        let jwt_public_x = URL_SAFE_NO_PAD.encode(public);
        let jwt_encoding = EncodingKey::from_ed_pem(jwt_pem.expose().as_bytes())
            .map_err(|e| invalid(e.to_string()))?;
        let jwt_decoding =
            DecodingKey::from_ed_components(&jwt_public_x).map_err(|e| invalid(e.to_string()))?;
        let jwt_kid = hex::encode(&Sha256::digest(public)[..8]);
        Ok(Self {
            jwt_encoding,
            jwt_decoding,
            jwt_public_x,
            jwt_kid,
            url_signing,
            data,
        })
    }
}

/// Reads a generated dev key, creating it (owner-only) on first use.
fn dev_key(path: &Path, generate: impl FnOnce() -> String) -> Result<Secret, KeyError> {
    let io = |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    };
    if !path.exists() {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(mut file) => file.write_all(generate().as_bytes()).map_err(io)?,
            // Another process generated it first; use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(e)),
        }
    }
    tracing::warn!(
        path = %path.display(),
        "USING A GENERATED DEV KEY. Anyone with this file can forge tokens or URLs. \
         The prod profile refuses to start with it."
    );
    let text = std::fs::read_to_string(path).map_err(io)?;
    Ok(Secret::new(text.trim().to_string()))
}
