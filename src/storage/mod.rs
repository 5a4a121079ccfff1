//! Object storage for page photos, thumbnails and result scans. One `ObjectStore` trait with a
//! local-filesystem backend (dev) and an S3 backend (production). Bodies always stream: no
//! operation may hold a whole object in memory. A page being cleaned is stored from its local
//! file while that file is still being written (`put_growing_file`), so the S3 backend can send
//! it as it is produced.

mod fs;
mod key;
mod s3;
mod signed_url;

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::io::AsyncRead;
use tokio::sync::watch;

use crate::config::{Config, StorageBackend};

pub use fs::FsStore;
pub use key::ObjectKey;
pub use s3::S3Store;
pub use signed_url::{SignedUrlError, UrlSigner};

/// A streamed object body.
pub type ByteReader = Pin<Box<dyn AsyncRead + Send>>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub content_type: Option<String>,
}

/// What `put` measured while streaming the body through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutOutcome {
    pub size: u64,
    /// Lower-case hex SHA-256 of the bytes stored.
    pub sha256: String,
}

/// How far a local file being written for `ObjectStore::put_growing_file` has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Growth {
    /// Its first `n` bytes are written and will not change.
    Writing(u64),
    /// It is whole: this is its size and SHA-256.
    Done(PutOutcome),
}

/// Waits until the file `growth` follows is whole. A writer that gives up (drops its sender
/// before `Done`) is an error: nothing may be stored.
async fn whole(growth: &mut watch::Receiver<Growth>) -> Result<PutOutcome, StorageError> {
    match growth
        .wait_for(|g| matches!(g, Growth::Done(_)))
        .await
        .map(|g| g.clone())
    {
        Ok(Growth::Done(known)) => Ok(known),
        _ => Err(abandoned()),
    }
}

/// The error of a `put_growing_file` whose writer gave up; its caller has the real reason.
pub fn abandoned() -> StorageError {
    StorageError::Io(std::io::Error::new(
        std::io::ErrorKind::Interrupted,
        "the file was given up before it was whole",
    ))
}

/// A request a client may make straight to the store until `expires_at`.
#[derive(Debug, Clone)]
pub struct Presigned {
    pub method: &'static str,
    pub url: String,
    /// Headers the client must send with the request.
    pub headers: BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("object not found")]
    NotFound,
    #[error("invalid object key: {0}")]
    InvalidKey(String),
    #[error("object store unavailable: {0}")]
    Unavailable(String),
    #[error("object store I/O error: {0}")]
    Io(std::io::Error),
}

impl From<std::io::Error> for StorageError {
    /// A full, read-only or over-quota filesystem is the store being unavailable (a 503 the
    /// client may retry), not a fault in this request (a 500).
    fn from(e: std::io::Error) -> Self {
        use std::io::ErrorKind;
        match e.kind() {
            ErrorKind::StorageFull
            | ErrorKind::ReadOnlyFilesystem
            | ErrorKind::QuotaExceeded
            | ErrorKind::PermissionDenied => Self::Unavailable(format!("local store: {e}")),
            _ => Self::Io(e),
        }
    }
}

/// An object as a listing sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: ObjectKey,
    pub modified: DateTime<Utc>,
}

#[async_trait::async_trait]
pub trait ObjectStore: Send + Sync + 'static {
    /// `fs` or `s3`, for logs and readiness reports.
    fn backend(&self) -> &'static str;

    /// Streams `body` into `key`, replacing any object there. Nothing is visible at `key` until
    /// the whole body has arrived.
    async fn put(
        &self,
        key: &ObjectKey,
        content_type: &str,
        body: ByteReader,
    ) -> Result<PutOutcome, StorageError>;

    /// Stores the local file at `path` under `key`; the store may move the file instead of
    /// copying it. `known` is the file's size and SHA-256, already measured by the caller.
    async fn put_file(
        &self,
        key: &ObjectKey,
        content_type: &str,
        path: &std::path::Path,
        known: PutOutcome,
    ) -> Result<PutOutcome, StorageError> {
        let _ = known;
        let file = tokio::fs::File::open(path).await?;
        self.put(key, content_type, Box::pin(file)).await
    }

    /// Stores the local file at `path` under `key` while another task is still writing it, as
    /// `growth` reports. The store may send the bytes already written; nothing is visible at
    /// `key` until the file is `Done`, and if the writer gives up (drops its sender) or this
    /// future is dropped, nothing is left behind. By default it waits for the whole file.
    async fn put_growing_file(
        &self,
        key: &ObjectKey,
        content_type: &str,
        path: &std::path::Path,
        mut growth: watch::Receiver<Growth>,
    ) -> Result<PutOutcome, StorageError> {
        let known = whole(&mut growth).await?;
        self.put_file(key, content_type, path, known).await
    }

    async fn get(&self, key: &ObjectKey) -> Result<(ObjectInfo, ByteReader), StorageError>;

    async fn head(&self, key: &ObjectKey) -> Result<ObjectInfo, StorageError>;

    /// Deleting a missing object succeeds.
    async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError>;

    async fn presign_get(&self, key: &ObjectKey, ttl: Duration) -> Result<Presigned, StorageError>;

    /// A PUT the client makes with the body; the `Content-Type` header is part of the signature.
    async fn presign_put(
        &self,
        key: &ObjectKey,
        content_type: &str,
        ttl: Duration,
    ) -> Result<Presigned, StorageError>;

    /// Readiness: can we reach the store and write to it?
    async fn check(&self) -> Result<(), StorageError>;

    /// The next `limit` objects (fewer only at the end) whose keys start with `prefix` (a whole
    /// segment, ending in `/`), in key order, after `after` when given: a listing page by page,
    /// for the orphan sweep.
    async fn list(
        &self,
        prefix: &str,
        after: Option<&ObjectKey>,
        limit: usize,
    ) -> Result<Vec<Listed>, StorageError>;

    /// Removes the backend's own leftovers older than `before` (the filesystem store's temp
    /// files of uploads killed mid-way). Returns how many went.
    async fn sweep_scratch(&self, before: DateTime<Utc>) -> Result<usize, StorageError> {
        let _ = before;
        Ok(0)
    }
}

/// Builds the configured backend. `signer` signs the URLs the filesystem backend serves itself.
pub async fn from_config(
    config: &Config,
    signer: UrlSigner,
) -> Result<Arc<dyn ObjectStore>, StorageError> {
    Ok(match config.storage.backend {
        StorageBackend::Fs => Arc::new(
            FsStore::new(config.fs_root(), signer)
                .await?
                .with_min_free_bytes(config.storage.fs.min_free_bytes),
        ),
        StorageBackend::S3 => Arc::new(S3Store::new(&config.storage.s3)),
    })
}
