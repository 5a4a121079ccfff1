//! `[storage]`: where page photos and results live, the local filesystem (dev) or an
//! S3-protocol bucket, and how long presigned URLs and unclaimed objects may last.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Problems, Profile, Secret};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    #[default]
    Fs,
    S3,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    pub backend: StorageBackend,
    /// Longest lifetime a presigned URL may be given.
    pub presign_max_ttl_secs: u64,
    pub fs: FsStorageConfig,
    pub s3: S3StorageConfig,
    /// Objects under page, result and upload keys with no row that names them are deleted once
    /// they are this old (what a crash between storing and recording leaves behind).
    pub orphan_grace_secs: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Fs,
            presign_max_ttl_secs: 3600,
            fs: FsStorageConfig::default(),
            s3: S3StorageConfig::default(),
            orphan_grace_secs: 3600,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FsStorageConfig {
    /// Unset: `data_dir/objects`.
    pub root: Option<PathBuf>,
    /// Below this much free space on the root's filesystem, writes are refused (503) and
    /// `/readyz` reports storage as failing. 0 turns the check off.
    pub min_free_bytes: u64,
}

impl Default for FsStorageConfig {
    fn default() -> Self {
        Self {
            root: None,
            min_free_bytes: 100 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3StorageConfig {
    /// Unset: AWS's own endpoint for the region.
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: Option<String>,
    /// Path-style addressing, as MinIO, Garage and Ceph usually need.
    pub path_style: bool,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    /// Prefix put before every object key, e.g. `beebox/`.
    pub key_prefix: String,
    /// Objects larger than this go up as a multipart upload, in parts of this size.
    pub part_size_bytes: usize,
}

impl Default for S3StorageConfig {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: "us-east-1".into(),
            bucket: None,
            path_style: false,
            access_key_id: None,
            secret_access_key: None,
            key_prefix: String::new(),
            part_size_bytes: 8 * 1024 * 1024,
        }
    }
}

impl StorageConfig {
    pub(super) fn validate(&self, profile: Profile, problems: &mut Problems) {
        if self.backend == StorageBackend::S3 {
            self.s3.validate(problems);
        }
        if !(60..=7 * 24 * 3600).contains(&self.presign_max_ttl_secs) {
            problems.add(
                "storage.presign_max_ttl_secs",
                "must be between 60 and 604800 (7 days)",
            );
        }
        if profile == Profile::Prod {
            if self.backend == StorageBackend::Fs {
                problems.add(
                    "storage.backend",
                    "prod refuses the local filesystem store; use s3",
                );
            }
            if self.orphan_grace_secs < 600 {
                problems.add(
                    "storage.orphan_grace_secs",
                    "prod needs at least 600, longer than any upload takes to be recorded",
                );
            }
        }
    }
}

impl S3StorageConfig {
    /// Checked only when `storage.backend = s3`: the fs backend ignores these settings.
    fn validate(&self, problems: &mut Problems) {
        if self.bucket.as_deref().unwrap_or("").is_empty() {
            problems.add("storage.s3.bucket", "required when storage.backend = s3");
        }
        if self.access_key_id.is_some() != self.secret_access_key.is_some() {
            problems.add(
                "storage.s3.secret_access_key",
                "access_key_id and secret_access_key are set together",
            );
        }
        if self.part_size_bytes < 5 * 1024 * 1024 {
            problems.add(
                "storage.s3.part_size_bytes",
                "S3 parts must be at least 5 MiB",
            );
        }
    }
}
