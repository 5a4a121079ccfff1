//! `ObjectKey`: the only way to name an object. The rules keep a key safe to use as a relative
//! path under the filesystem root (no `..`, no absolute paths, nothing that could reach the
//! backend's private `.tmp` / `.meta` directories) and portable across S3-compatible stores.

use std::fmt;

use super::StorageError;

/// Longest key we accept, in bytes. S3 allows 1024; we keep room for `key_prefix`.
const MAX_LEN: usize = 512;

/// A validated object key: `/`-separated segments of `[A-Za-z0-9._-]`, each starting with an
/// ASCII letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey(String);

impl ObjectKey {
    pub fn parse(key: impl Into<String>) -> Result<Self, StorageError> {
        let key = key.into();
        if key.is_empty() || key.len() > MAX_LEN {
            return Err(invalid(format!("must be 1 to {MAX_LEN} bytes long")));
        }
        // `split` yields an empty segment for a leading, trailing or doubled '/', so this one
        // loop also refuses those.
        for segment in key.split('/') {
            let Some(first) = segment.bytes().next() else {
                return Err(invalid(
                    "segments must be non-empty (no leading, trailing or doubled '/')",
                ));
            };
            if !first.is_ascii_alphanumeric() {
                return Err(invalid("each segment must start with a letter or digit"));
            }
            if !segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            {
                return Err(invalid("only A-Z a-z 0-9 . _ - and '/' are allowed"));
            }
        }
        Ok(Self(key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn invalid(reason: impl Into<String>) -> StorageError {
    StorageError::InvalidKey(reason.into())
}

impl AsRef<str> for ObjectKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_keys() {
        for key in [
            "a",
            "photos/2024/page-1.jpg",
            "m/0f3a_b.c-d",
            "A9/b.tmp",
            &"x".repeat(MAX_LEN),
        ] {
            assert_eq!(ObjectKey::parse(key).unwrap().as_str(), key);
        }
    }

    #[test]
    fn refuses_unsafe_or_malformed_keys() {
        for key in [
            "",
            "/a",
            "a/",
            "a//b",
            ".",
            "..",
            "a/../b",
            ".tmp/x",
            ".meta",
            "a/.hidden",
            "_a",
            "-a",
            "a b",
            "a\\b",
            "a\nb",
            "é",
            &"x".repeat(MAX_LEN + 1),
        ] {
            assert!(
                matches!(ObjectKey::parse(key), Err(StorageError::InvalidKey(_))),
                "{key:?} was accepted"
            );
        }
    }
}
