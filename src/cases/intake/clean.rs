//! Checking and cleaning a page's bytes (`crate::media`) and storing them. A JPEG (nearly every
//! page) arriving as a stream goes through `media::JpegCleaner` into a temporary file, hashed as
//! it is written, while the store sends that file on as it grows
//! (`ObjectStore::put_growing_file`): the S3 store starts a multipart upload once a part's worth
//! is written and completes it only when the page has passed every check. Anything else is
//! spooled and then cleaned whole, as a page already on disk is, and stored afterwards. Either
//! way the outcome is the same, down to which refusal wins: the size limit first, then what
//! `media::clean` says. Memory per upload is two `WRITE_BUFFER`s (each at most one `FEED_SLICE`
//! over) plus the store's read buffers.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cases::{CaseError, CaseResult, Cases};
use crate::domain::catalog::MaterialKind;
use crate::media::{self, CleanPage, JpegCleaner, MediaError, PageType};
use crate::storage::{Growth, ObjectKey, PutOutcome};

/// Cleaned bytes are handed to the blocking pool in buffers of about this size: few syscalls,
/// and two such buffers per upload in flight are all the memory a page costs.
const WRITE_BUFFER: usize = 128 * 1024;
/// The most of a chunk the cleaner is given at once.
const FEED_SLICE: usize = 32 * 1024;

/// A local disk error while a page waits: a full or read-only disk is the store being
/// unavailable (a 503 the client may retry), anything else a 500.
pub fn local_io(error: std::io::Error) -> CaseError {
    CaseError::Storage(crate::storage::StorageError::from(error))
}

fn internal(error: impl std::fmt::Display) -> CaseError {
    CaseError::Internal(error.to_string())
}

impl Cases {
    /// Where an incoming page's bytes wait while they are checked.
    pub fn temp_file(&self) -> CaseResult<tempfile::NamedTempFile> {
        let dir = self.config.data_dir.join("tmp");
        std::fs::create_dir_all(&dir).map_err(local_io)?;
        tempfile::Builder::new()
            .prefix("page-")
            .tempfile_in(dir)
            .map_err(local_io)
    }

    /// The limits a page is checked against.
    pub fn limits(&self) -> media::Limits {
        media::Limits {
            max_bytes: self.config.uploads.max_page_bytes,
            max_pixels: self.config.uploads.max_pixels,
            max_dimension: self.config.uploads.max_dimension,
        }
    }

    /// Checks and cleans the file at `raw` into a new temporary file.
    pub async fn clean_file(
        &self,
        raw: &Path,
        allowed: &[MaterialKind],
    ) -> CaseResult<(CleanPage, tempfile::TempPath)> {
        let cleaned = self.temp_file()?;
        let limits = self.limits();
        let allowed = allowed.to_vec();
        // A page is read whole while it is checked: a few at a time, whatever the number of uploads.
        let permit = self.media_permits.acquire().await.map_err(internal)?;
        let (raw_path, clean_path) = (raw.to_path_buf(), cleaned.path().to_path_buf());
        let clean: CleanPage = tokio::task::spawn_blocking(move || {
            media::clean(&raw_path, &clean_path, &allowed, &limits)
        })
        .await
        .map_err(internal)?
        .map_err(CaseError::Media)?;
        drop(permit);
        Ok((clean, cleaned.into_temp_path()))
    }

    /// Checks and cleans the file `source` brings and stores it under the key `key_for` gives
    /// for its type, streaming a JPEG. Nothing is stored unless every check passed.
    pub async fn clean_and_store<S: ByteSource>(
        &self,
        source: S,
        allowed: &[MaterialKind],
        key_for: impl Fn(PageType) -> CaseResult<ObjectKey>,
    ) -> CaseResult<(CleanPage, ObjectKey)> {
        let mut body = Limited {
            source,
            max: self.config.uploads.max_page_bytes,
            total: 0,
        };
        let mut prefix = Vec::new();
        while prefix.iter().map(Bytes::len).sum::<usize>() < media::SNIFF_BYTES {
            match body.next().await? {
                Some(chunk) => prefix.push(chunk),
                None => break,
            }
        }
        let head = prefix.concat();
        if media::streams(&head, allowed) {
            let key = key_for(PageType::Jpeg)?;
            let clean = self.store_jpeg(prefix, &mut body, &key).await?;
            return Ok((clean, key));
        }
        let raw = self.temp_file()?;
        spool(prefix, &mut body, raw.path()).await?;
        let (clean, cleaned) = self.clean_file(raw.path(), allowed).await?;
        drop(raw);
        let key = key_for(clean.page_type)?;
        self.put_cleaned(&key, &clean, &cleaned).await?;
        Ok((clean, key))
    }

    /// Stores a cleaned page whose file is whole.
    async fn put_cleaned(
        &self,
        key: &ObjectKey,
        clean: &CleanPage,
        cleaned: &Path,
    ) -> CaseResult<()> {
        let known = PutOutcome {
            size: clean.size,
            sha256: clean.sha256.clone(),
        };
        self.store
            .put_file(key, clean.page_type.content_type(), cleaned, known)
            .await
            .map_err(CaseError::Storage)?;
        Ok(())
    }
}

/// A page's bytes as they arrive: the API's multipart file field.
pub trait ByteSource: Send {
    /// The next chunk, `None` at the end; an error when the bytes cannot be had (the upload
    /// broke off) or must not be kept.
    fn chunk(&mut self) -> impl Future<Output = CaseResult<Option<Bytes>>> + Send;
}

/// A source's chunks, refused as soon as they pass `max` bytes.
struct Limited<S> {
    source: S,
    max: u64,
    total: u64,
}

impl<S: ByteSource> Limited<S> {
    async fn next(&mut self) -> CaseResult<Option<Bytes>> {
        let chunk = self.source.chunk().await?;
        if let Some(chunk) = &chunk {
            self.total += chunk.len() as u64;
            if self.total > self.max {
                return Err(CaseError::PageTooLarge(self.max));
            }
        }
        Ok(chunk)
    }
}

/// Copies the field into `file` for `media::clean`.
async fn spool<S: ByteSource>(
    prefix: Vec<Bytes>,
    body: &mut Limited<S>,
    file: &std::path::Path,
) -> CaseResult<()> {
    // Large writes: each one is a trip to tokio's blocking pool.
    let mut out = tokio::io::BufWriter::with_capacity(
        WRITE_BUFFER,
        tokio::fs::File::create(file).await.map_err(local_io)?,
    );
    for chunk in prefix {
        out.write_all(&chunk).await.map_err(local_io)?;
    }
    while let Some(chunk) = body.next().await? {
        out.write_all(&chunk).await.map_err(local_io)?;
    }
    out.flush().await.map_err(local_io)?;
    Ok(())
}

/// Cleans a JPEG into a temp file as it arrives while the store sends that file on. A page the
/// cleaner refuses is still read to its end, so that one over the size limit is refused as too
/// large, as `media::clean` ranks it; the store is told to give up, and keeps nothing.
impl Cases {
    async fn store_jpeg<S: ByteSource>(
        &self,
        prefix: Vec<Bytes>,
        body: &mut Limited<S>,
        key: &ObjectKey,
    ) -> CaseResult<CleanPage> {
        let cleaned = self.temp_file()?;
        let path = cleaned.path().to_path_buf();
        let (growth, following) = watch::channel(Growth::Writing(0));
        let content_type = PageType::Jpeg.content_type();
        let storing = self
            .store
            .put_growing_file(key, content_type, &path, following);
        let cleaning = async {
            let file = cleaned.reopen().map_err(local_io)?;
            let cleaned = self.clean_jpeg(prefix, body, file, &growth).await?;
            match &cleaned {
                Some(Cleaned {
                    clean,
                    rewrite: None,
                }) => {
                    growth.send_replace(Growth::Done(PutOutcome {
                        size: clean.size,
                        sha256: clean.sha256.clone(),
                    }));
                }
                // The store gives up what it was sent: the file is about to change.
                _ => drop(growth),
            }
            Ok::<_, CaseError>(cleaned)
        };
        let (cleaned_page, stored) = tokio::join!(cleaning, storing);
        match (cleaned_page?, stored) {
            (
                Some(Cleaned {
                    clean,
                    rewrite: None,
                }),
                Ok(_),
            ) => Ok(clean),
            (
                Some(Cleaned {
                    mut clean,
                    rewrite: Some(rewrite),
                }),
                _,
            ) => {
                // A JFIF or EXIF segment after the picture started: rare enough to copy the page
                // once and store the copy whole.
                let path = cleaned.path().to_path_buf();
                (clean.size, clean.sha256) =
                    tokio::task::spawn_blocking(move || media::rewrite_head(&path, &rewrite))
                        .await
                        .map_err(internal)?
                        .map_err(local_io)?;
                self.put_cleaned(key, &clean, cleaned.path()).await?;
                Ok(clean)
            }
            (_, Err(e)) => Err(CaseError::Storage(e)),
            (None, Ok(_)) => Err(CaseError::Internal(
                "the store finished a page given up".into(),
            )),
        }
    }

    /// Cleans into `file`, telling `growth` how much of it is written. `None` when the store
    /// stopped following (it failed) before the end.
    async fn clean_jpeg<S: ByteSource>(
        &self,
        prefix: Vec<Bytes>,
        body: &mut Limited<S>,
        file: File,
        growth: &watch::Sender<Growth>,
    ) -> CaseResult<Option<Cleaned>> {
        let mut writer = HashingWriter::new(file);
        let mut cleaner = JpegCleaner::new(&self.limits());
        let mut out = Vec::with_capacity(WRITE_BUFFER);
        let mut refused: Option<MediaError> = None;
        let mut prefix = prefix.into_iter();
        loop {
            let chunk = match prefix.next() {
                Some(chunk) => chunk,
                None => match body.next().await? {
                    Some(chunk) => chunk,
                    None => break,
                },
            };
            // A chunk can be as large as the HTTP server's read buffer: fed in slices, the
            // output buffer never grows past `WRITE_BUFFER` plus one slice.
            for slice in chunk.chunks(FEED_SLICE) {
                if refused.is_some() {
                    break;
                }
                if let Err(e) = cleaner.feed(slice, &mut out) {
                    refused = Some(e);
                } else if out.len() >= WRITE_BUFFER {
                    writer.write(&mut out).await?;
                    if growth.is_closed() {
                        return Ok(None);
                    }
                    growth.send_replace(Growth::Writing(writer.durable()));
                }
            }
        }
        if let Some(e) = refused {
            return Err(CaseError::Media(e));
        }
        let verdict = cleaner.finish().map_err(CaseError::Media)?;
        writer.write(&mut out).await?;
        let (size, sha256) = writer.finish().await?;
        Ok(Some(Cleaned {
            clean: CleanPage {
                page_type: PageType::Jpeg,
                width: Some(verdict.width),
                height: Some(verdict.height),
                size,
                sha256,
            },
            rewrite: verdict.rewrite_head,
        }))
    }
}

/// A JPEG cleaned into its file, and the change its head still needs, if any.
struct Cleaned {
    clean: CleanPage,
    rewrite: Option<media::HeadRewrite>,
}

/// Writes buffers to a file and hashes them on the blocking pool, one buffer in flight while the
/// caller fills the next. No fsync: storing the object makes it durable (`ObjectStore::put_file`),
/// as it does for a direct PUT.
struct HashingWriter {
    slot: Slot,
    size: u64,
    /// Bytes of the write in flight, not yet on disk.
    pending: u64,
}

type Idle = (File, Sha256, Vec<u8>);

enum Slot {
    Idle(Idle),
    Busy(JoinHandle<std::io::Result<Idle>>),
    Broken,
}

impl HashingWriter {
    fn new(file: File) -> Self {
        Self {
            slot: Slot::Idle((file, Sha256::new(), Vec::with_capacity(WRITE_BUFFER))),
            size: 0,
            pending: 0,
        }
    }

    /// How many bytes are surely in the file: all but the write in flight.
    fn durable(&self) -> u64 {
        self.size - self.pending
    }

    async fn idle(&mut self) -> CaseResult<Idle> {
        match std::mem::replace(&mut self.slot, Slot::Broken) {
            Slot::Idle(idle) => Ok(idle),
            Slot::Busy(task) => {
                let idle = task.await.map_err(internal)?.map_err(local_io)?;
                self.pending = 0;
                Ok(idle)
            }
            Slot::Broken => Err(CaseError::Internal("a page write failed before".into())),
        }
    }

    /// Takes the bytes in `buffer` and leaves it empty (it gets the spare buffer back).
    async fn write(&mut self, buffer: &mut Vec<u8>) -> CaseResult<()> {
        let (mut file, mut hasher, mut spare) = self.idle().await?;
        if buffer.is_empty() {
            self.slot = Slot::Idle((file, hasher, spare));
            return Ok(());
        }
        std::mem::swap(buffer, &mut spare);
        let mut full = spare;
        self.size += full.len() as u64;
        self.pending = full.len() as u64;
        self.slot = Slot::Busy(tokio::task::spawn_blocking(move || {
            hasher.update(&full);
            file.write_all(&full)?;
            full.clear();
            Ok((file, hasher, full))
        }));
        Ok(())
    }

    /// Waits for the last write; returns the size and lower-case hex SHA-256 of all written.
    async fn finish(mut self) -> CaseResult<(u64, String)> {
        let (_, hasher, _) = self.idle().await?;
        Ok((self.size, hex::encode(hasher.finalize())))
    }
}
