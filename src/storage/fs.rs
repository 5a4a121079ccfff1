//! The local-filesystem backend, for development. Objects live at `root/<key>`, their metadata in
//! `root/.meta/<key>.json`; uploads land in `root/.tmp` and are renamed into place only once
//! complete, so a reader never sees half an object. `ObjectKey` rules keep keys out of the two
//! dot-directories.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::fs;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{
    ByteReader, Listed, ObjectInfo, ObjectKey, ObjectStore, Presigned, PutOutcome, StorageError,
    UrlSigner,
};

const TMP_DIR: &str = ".tmp";
const META_DIR: &str = ".meta";
const COPY_BUF: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
    signer: UrlSigner,
    /// Writes are refused below this much free space; 0: never.
    min_free_bytes: u64,
}

/// The sidecar kept beside each object.
#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    content_type: Option<String>,
    size: u64,
    sha256: String,
}

impl FsStore {
    pub async fn new(root: PathBuf, signer: UrlSigner) -> Result<Self, StorageError> {
        fs::create_dir_all(root.join(TMP_DIR)).await?;
        fs::create_dir_all(root.join(META_DIR)).await?;
        Ok(Self {
            root,
            signer,
            min_free_bytes: 0,
        })
    }

    pub fn with_min_free_bytes(mut self, min_free_bytes: u64) -> Self {
        self.min_free_bytes = min_free_bytes;
        self
    }

    /// Refuses a write while the filesystem holds less than `min_free_bytes`: a store that
    /// fills up completely takes the database and the logs of a dev machine with it.
    async fn ensure_room(&self) -> Result<(), StorageError> {
        if self.min_free_bytes == 0 {
            return Ok(());
        }
        let root = self.root.clone();
        let stats = tokio::task::spawn_blocking(move || rustix::fs::statvfs(&root))
            .await
            .map_err(|e| StorageError::Unavailable(format!("free space check: {e}")))?
            .map_err(|e| StorageError::from(std::io::Error::from(e)))?;
        let free = stats.f_bavail.saturating_mul(stats.f_frsize);
        if free < self.min_free_bytes {
            return Err(StorageError::Unavailable(format!(
                "low free space: {} MiB left, {} MiB required (storage.fs.min_free_bytes)",
                free / (1024 * 1024),
                self.min_free_bytes / (1024 * 1024)
            )));
        }
        Ok(())
    }

    fn object_path(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    fn meta_path(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(META_DIR).join(format!("{key}.json"))
    }

    fn temp_path(&self) -> PathBuf {
        self.root
            .join(TMP_DIR)
            .join(uuid::Uuid::new_v4().to_string())
    }

    /// Streams `body` into a fresh temp file, measuring it on the way.
    async fn write_temp(
        &self,
        temp: &Path,
        mut body: ByteReader,
    ) -> Result<PutOutcome, StorageError> {
        let mut file = fs::File::create(temp).await?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; COPY_BUF];
        loop {
            let n = body.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n]).await?;
            size += n as u64;
        }
        file.sync_all().await?;
        Ok(PutOutcome {
            size,
            sha256: hex::encode(hasher.finalize()),
        })
    }

    /// Writes `bytes` to `dest` through a temp file and a rename, so `dest` is old or new, never
    /// partial.
    async fn write_atomically(&self, dest: &Path, bytes: &[u8]) -> Result<(), StorageError> {
        let temp = TempFile::new(self.temp_path());
        let mut file = fs::File::create(&temp.path).await?;
        file.write_all(bytes).await?;
        file.sync_all().await?;
        drop(file);
        rename_into_place(&temp.path, dest).await?;
        temp.disarm();
        Ok(())
    }

    async fn read_meta(&self, key: &ObjectKey) -> Result<Option<Meta>, StorageError> {
        match fs::read(self.meta_path(key)).await {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                StorageError::Io(std::io::Error::new(
                    ErrorKind::InvalidData,
                    format!("corrupt metadata for {key}: {e}"),
                ))
            }),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn presign(
        &self,
        method: &'static str,
        key: &ObjectKey,
        content_type: Option<&str>,
        ttl: Duration,
    ) -> Result<Presigned, StorageError> {
        // The URL carries whole seconds; report exactly the instant it encodes.
        let expires_at = TimeDelta::from_std(ttl)
            .ok()
            .and_then(|ttl| Utc::now().checked_add_signed(ttl))
            .and_then(|at| DateTime::from_timestamp(at.timestamp(), 0))
            .ok_or_else(|| {
                StorageError::Io(std::io::Error::new(
                    ErrorKind::InvalidInput,
                    "presign ttl out of range",
                ))
            })?;
        let url = self.signer.sign(method, key, content_type, expires_at);
        let mut headers = BTreeMap::new();
        if let Some(ct) = content_type {
            headers.insert("content-type".to_string(), ct.to_string());
        }
        Ok(Presigned {
            method,
            url,
            headers,
            expires_at,
        })
    }
}

#[async_trait::async_trait]
impl ObjectStore for FsStore {
    fn backend(&self) -> &'static str {
        "fs"
    }

    #[tracing::instrument(skip_all, fields(key = %key), err)]
    async fn put(
        &self,
        key: &ObjectKey,
        content_type: &str,
        body: ByteReader,
    ) -> Result<PutOutcome, StorageError> {
        self.ensure_room().await?;
        // The guard removes the temp file on every early return, and when the caller drops this
        // future mid-upload (a client that disconnects).
        let temp = TempFile::new(self.temp_path());
        let outcome = self.write_temp(&temp.path, body).await?;
        let meta = Meta {
            content_type: Some(content_type.to_string()),
            size: outcome.size,
            sha256: outcome.sha256.clone(),
        };
        let meta = serde_json::to_vec(&meta).expect("metadata serialises");
        self.write_atomically(&self.meta_path(key), &meta).await?;
        rename_into_place(&temp.path, &self.object_path(key)).await?;
        temp.disarm();
        Ok(outcome)
    }

    /// A rename when the file is on our filesystem: no second copy of the bytes.
    async fn put_file(
        &self,
        key: &ObjectKey,
        content_type: &str,
        path: &Path,
        known: PutOutcome,
    ) -> Result<PutOutcome, StorageError> {
        self.ensure_room().await?;
        fs::File::open(path).await?.sync_all().await?;
        let meta = Meta {
            content_type: Some(content_type.to_string()),
            size: known.size,
            sha256: known.sha256.clone(),
        };
        let meta = serde_json::to_vec(&meta).expect("metadata serialises");
        self.write_atomically(&self.meta_path(key), &meta).await?;
        match rename_into_place(path, &self.object_path(key)).await {
            Ok(()) => Ok(known),
            // Another filesystem (EXDEV): copy instead.
            Err(StorageError::Io(e)) if e.kind() == ErrorKind::CrossesDevices => {
                let file = fs::File::open(path).await?;
                self.put(key, content_type, Box::pin(file)).await
            }
            Err(e) => Err(e),
        }
    }

    #[tracing::instrument(skip_all, fields(key = %key), err)]
    async fn get(&self, key: &ObjectKey) -> Result<(ObjectInfo, ByteReader), StorageError> {
        let file = fs::File::open(self.object_path(key))
            .await
            .map_err(not_found)?;
        // Size from the open handle: it matches the bytes this reader will return even if the
        // object is replaced meanwhile (the rename leaves our inode alone).
        let metadata = file.metadata().await?;
        // A key whose path is a directory (because `key/...` objects exist) is no object.
        if !metadata.is_file() {
            return Err(StorageError::NotFound);
        }
        let size = metadata.len();
        let content_type = self.read_meta(key).await?.and_then(|m| m.content_type);
        Ok((ObjectInfo { size, content_type }, Box::pin(file)))
    }

    #[tracing::instrument(skip_all, fields(key = %key), err)]
    async fn head(&self, key: &ObjectKey) -> Result<ObjectInfo, StorageError> {
        let metadata = fs::metadata(self.object_path(key))
            .await
            .map_err(not_found)?;
        if !metadata.is_file() {
            return Err(StorageError::NotFound);
        }
        let size = metadata.len();
        let content_type = self.read_meta(key).await?.and_then(|m| m.content_type);
        Ok(ObjectInfo { size, content_type })
    }

    #[tracing::instrument(skip_all, fields(key = %key), err)]
    async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        // Object first: once it is gone the key reads as missing whatever happens to the sidecar.
        for path in [self.object_path(key), self.meta_path(key)] {
            match fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn presign_get(&self, key: &ObjectKey, ttl: Duration) -> Result<Presigned, StorageError> {
        self.presign("GET", key, None, ttl)
    }

    async fn presign_put(
        &self,
        key: &ObjectKey,
        content_type: &str,
        ttl: Duration,
    ) -> Result<Presigned, StorageError> {
        self.presign("PUT", key, Some(content_type), ttl)
    }

    #[tracing::instrument(skip_all, err)]
    async fn check(&self) -> Result<(), StorageError> {
        self.ensure_room().await?;
        let probe = TempFile::new(self.temp_path());
        let result = async {
            fs::write(&probe.path, b"probe").await?;
            fs::remove_file(&probe.path).await
        }
        .await;
        match result {
            Ok(()) => {
                probe.disarm();
                Ok(())
            }
            Err(e) => Err(StorageError::Unavailable(format!(
                "cannot write under {}: {e}",
                self.root.display()
            ))),
        }
    }

    /// Walks the whole prefix for each page: the filesystem store is for development.
    async fn list(
        &self,
        prefix: &str,
        after: Option<&ObjectKey>,
        limit: usize,
    ) -> Result<Vec<Listed>, StorageError> {
        let mut found = Vec::new();
        let mut dirs = vec![self.root.join(prefix.trim_end_matches('/'))];
        while let Some(dir) = dirs.pop() {
            let mut entries = match fs::read_dir(&dir).await {
                Ok(entries) => entries,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            while let Some(entry) = entries.next_entry().await? {
                let kind = entry.file_type().await?;
                if kind.is_dir() {
                    dirs.push(entry.path());
                    continue;
                }
                let path = entry.path();
                let Some(key) = path
                    .strip_prefix(&self.root)
                    .ok()
                    .and_then(|p| p.to_str())
                    .and_then(|p| ObjectKey::parse(p).ok())
                else {
                    continue;
                };
                if !kind.is_file() || after.is_some_and(|after| &key <= after) {
                    continue;
                }
                let modified = entry.metadata().await?.modified()?.into();
                found.push(Listed { key, modified });
            }
        }
        found.sort_by(|a, b| a.key.cmp(&b.key));
        found.truncate(limit);
        Ok(found)
    }

    /// Temp files whose upload was killed mid-way (a `kill -9` skips their drop guard).
    async fn sweep_scratch(&self, before: DateTime<Utc>) -> Result<usize, StorageError> {
        let mut removed = 0;
        let mut entries = fs::read_dir(self.root.join(TMP_DIR)).await?;
        while let Some(entry) = entries.next_entry().await? {
            let modified: DateTime<Utc> = entry.metadata().await?.modified()?.into();
            if modified < before {
                match fs::remove_file(entry.path()).await {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(removed)
    }
}

fn not_found(e: std::io::Error) -> StorageError {
    match e.kind() {
        // NotADirectory: a key like `a/b` where `a` is an object.
        ErrorKind::NotFound | ErrorKind::NotADirectory => StorageError::NotFound,
        _ => StorageError::Io(e),
    }
}

async fn rename_into_place(from: &Path, to: &Path) -> Result<(), StorageError> {
    let parent = to.parent().expect("object paths live under the root");
    fs::create_dir_all(parent).await?;
    fs::rename(from, to).await?;
    // Make the rename itself durable, not just the file's bytes.
    #[cfg(unix)]
    fs::File::open(parent).await?.sync_all().await?;
    Ok(())
}

/// A temp file that is removed when dropped unless `disarm`ed. Removal on drop is a synchronous
/// unlink: tiny, and it also runs when an upload future is cancelled.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    fn new(path: PathBuf) -> Self {
        Self { path, armed: true }
    }

    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
