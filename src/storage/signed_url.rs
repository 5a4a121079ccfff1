//! HMAC-signed URLs for objects the filesystem backend serves through our own HTTP service, the
//! local stand-in for S3 presigned URLs. A URL grants one method on one key (and, for uploads, one
//! content type) until it expires. Verification must never tell a forger more than "bad signature".

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::ObjectKey;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignedUrlError {
    #[error("malformed signed URL")]
    Malformed,
    #[error("signed URL signature does not match")]
    BadSignature,
    #[error("signed URL has expired")]
    Expired,
}

/// Signs and verifies object URLs. Cheap to clone.
#[derive(Clone)]
pub struct UrlSigner {
    inner: Arc<Inner>,
}

struct Inner {
    /// Keyed once; cloning a keyed HMAC is cheaper than re-deriving the key pads per URL.
    mac: HmacSha256,
    public_url: String,
}

impl fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UrlSigner")
            .field("public_url", &self.inner.public_url)
            .finish_non_exhaustive()
    }
}

impl UrlSigner {
    /// `public_url` is where clients reach us, e.g. `https://api.example.com`.
    pub fn new(secret: &[u8], public_url: &str) -> Self {
        let mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
        Self {
            inner: Arc::new(Inner {
                mac,
                public_url: public_url.trim_end_matches('/').to_string(),
            }),
        }
    }

    /// The full URL granting `method` on `key` until `expires_at` (to the second).
    pub fn sign(
        &self,
        method: &str,
        key: &ObjectKey,
        content_type: Option<&str>,
        expires_at: DateTime<Utc>,
    ) -> String {
        let expires = expires_at.timestamp();
        let signature = hex::encode(
            self.mac(method, key, expires, content_type)
                .finalize()
                .into_bytes(),
        );
        let token = URL_SAFE_NO_PAD.encode(key.as_str());
        format!(
            "{}/v1/objects/{token}?expires={expires}&signature={signature}",
            self.inner.public_url
        )
    }

    /// Checks a URL made by `sign` and returns the key it grants. The signature is checked before
    /// the expiry so that a forged URL learns nothing, not even whether it would have expired.
    pub fn verify(
        &self,
        method: &str,
        token: &str,
        expires: i64,
        signature: &str,
        content_type: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<ObjectKey, SignedUrlError> {
        let key = URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|key| ObjectKey::parse(key).ok())
            .ok_or(SignedUrlError::Malformed)?;
        let signature = hex::decode(signature).map_err(|_| SignedUrlError::Malformed)?;
        self.mac(method, &key, expires, content_type)
            .verify_slice(&signature)
            .map_err(|_| SignedUrlError::BadSignature)?;
        if now.timestamp() > expires {
            return Err(SignedUrlError::Expired);
        }
        Ok(key)
    }

    fn mac(
        &self,
        method: &str,
        key: &ObjectKey,
        expires: i64,
        content_type: Option<&str>,
    ) -> HmacSha256 {
        // Keys hold no '\n' and `expires` is digits, so the fields cannot bleed into each other.
        let mut mac = self.inner.mac.clone();
        mac.update(method.as_bytes());
        mac.update(b"\n");
        mac.update(key.as_str().as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac.update(b"\n");
        mac.update(content_type.unwrap_or("").as_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    /// The `(token, expires, signature)` a router would pull out of a signed URL.
    fn parts(url: &str) -> (String, i64, String) {
        let rest = url
            .strip_prefix("http://localhost:8080/v1/objects/")
            .expect("URL starts with the public URL and route");
        let (token, query) = rest.split_once('?').unwrap();
        let mut expires = None;
        let mut signature = None;
        for pair in query.split('&') {
            match pair.split_once('=').unwrap() {
                ("expires", v) => expires = Some(v.parse().unwrap()),
                ("signature", v) => signature = Some(v.to_string()),
                other => panic!("unexpected query parameter {other:?}"),
            }
        }
        (token.to_string(), expires.unwrap(), signature.unwrap())
    }

    fn signer() -> UrlSigner {
        UrlSigner::new(
            b"0123456789abcdef0123456789abcdef",
            "http://localhost:8080/",
        )
    }

    fn key(s: &str) -> ObjectKey {
        ObjectKey::parse(s).unwrap()
    }

    #[test]
    fn signed_url_verifies_to_its_key() {
        let now = Utc::now();
        let k = key("photos/a-1.jpg");
        let url = signer().sign("PUT", &k, Some("image/jpeg"), now + TimeDelta::minutes(5));
        let (token, expires, sig) = parts(&url);
        assert_eq!(
            signer().verify("PUT", &token, expires, &sig, Some("image/jpeg"), now),
            Ok(k)
        );
    }

    #[test]
    fn any_changed_field_breaks_the_signature() {
        let now = Utc::now();
        let s = signer();
        let url = s.sign(
            "PUT",
            &key("a/b"),
            Some("image/png"),
            now + TimeDelta::minutes(5),
        );
        let (token, expires, sig) = parts(&url);
        let other_token = URL_SAFE_NO_PAD.encode("a/c");
        let mut flipped = sig.clone().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        let cases: [(&str, &str, i64, &str, Option<&str>); 6] = [
            ("GET", &token, expires, &sig, Some("image/png")),
            ("PUT", &other_token, expires, &sig, Some("image/png")),
            ("PUT", &token, expires, &sig, Some("text/html")),
            ("PUT", &token, expires, &sig, None),
            ("PUT", &token, expires + 3600, &sig, Some("image/png")),
            ("PUT", &token, expires, &flipped, Some("image/png")),
        ];
        for (method, token, expires, sig, ct) in cases {
            assert_eq!(
                s.verify(method, token, expires, sig, ct, now),
                Err(SignedUrlError::BadSignature),
                "{method} {token} {expires} {ct:?}"
            );
        }
        let other_secret = UrlSigner::new(b"another secret of enough length!", "http://x");
        assert_eq!(
            other_secret.verify("PUT", &token, expires, &sig, Some("image/png"), now),
            Err(SignedUrlError::BadSignature)
        );
    }

    #[test]
    fn expired_url_is_refused_but_only_after_the_signature_checks_out() {
        let now = Utc::now();
        let s = signer();
        let k = key("a");
        let url = s.sign("GET", &k, None, now - TimeDelta::seconds(1));
        let (token, expires, sig) = parts(&url);
        assert_eq!(
            s.verify("GET", &token, expires, &sig, None, now),
            Err(SignedUrlError::Expired)
        );
        // A forged, expired URL gets the same answer as any forgery.
        let forged = "00".repeat(32);
        assert_eq!(
            s.verify("GET", &token, expires, &forged, None, now),
            Err(SignedUrlError::BadSignature)
        );
        // Still valid up to and including its expiry second.
        let at_expiry = DateTime::from_timestamp(expires, 0).unwrap();
        assert_eq!(
            s.verify("GET", &token, expires, &sig, None, at_expiry),
            Ok(k)
        );
    }

    #[test]
    fn garbage_is_malformed() {
        let s = signer();
        let now = Utc::now();
        let good_sig = "00".repeat(32);
        for (token, sig) in [
            ("!!!", good_sig.as_str()),
            (&URL_SAFE_NO_PAD.encode("../etc/passwd"), good_sig.as_str()),
            (&URL_SAFE_NO_PAD.encode([0xff, 0xfe]), good_sig.as_str()),
            (&URL_SAFE_NO_PAD.encode("a"), "not-hex"),
        ] {
            assert_eq!(
                s.verify("GET", token, now.timestamp(), sig, None, now),
                Err(SignedUrlError::Malformed),
                "{token} {sig}"
            );
        }
    }
}
