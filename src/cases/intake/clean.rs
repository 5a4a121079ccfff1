//! Checking and cleaning a page's bytes (`crate::media`) into the temporary file that becomes
//! its object. A JPEG (nearly every page) arriving as a stream goes through
//! `media::JpegCleaner` straight into that file, hashed as it is written: its bytes are written
//! once and never read back. Anything else is spooled and then cleaned whole, as a page already
//! on disk is. Either way the outcome is the same, down to which refusal wins: the size limit
//! first, then what `media::clean` says.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::task::JoinHandle;

use crate::cases::{CaseError, CaseResult, Cases};
use crate::domain::catalog::MaterialKind;
use crate::media::{self, CleanPage, JpegCleaner, MediaError, PageType};

/// Cleaned bytes are handed to the blocking pool in buffers of about this size: few syscalls,
/// and two such buffers per upload in flight are all the memory a page costs.
const WRITE_BUFFER: usize = 256 * 1024;

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

    /// Checks and cleans the file in `field` into a temporary file, streaming a JPEG.
    pub async fn clean_stream<S: ByteSource>(
        &self,
        source: S,
        allowed: &[MaterialKind],
    ) -> CaseResult<(CleanPage, tempfile::TempPath)> {
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
            self.clean_jpeg(prefix, &mut body).await
        } else {
            let raw = self.temp_file()?;
            spool(prefix, &mut body, raw.path()).await?;
            self.clean_file(raw.path(), allowed).await
        }
    }
}

/// A page's bytes as they arrive: the API's multipart file field.
pub trait ByteSource: Send {
    /// The next chunk, `None` at the end; an error when the upload broke off.
    fn chunk(&mut self) -> impl Future<Output = Result<Option<Bytes>, String>> + Send;
}

/// A source's chunks, refused as soon as they pass `max` bytes.
struct Limited<S> {
    source: S,
    max: u64,
    total: u64,
}

impl<S: ByteSource> Limited<S> {
    async fn next(&mut self) -> CaseResult<Option<Bytes>> {
        let chunk = self
            .source
            .chunk()
            .await
            .map_err(CaseError::UploadInterrupted)?;
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

/// Cleans a JPEG into a temp file as it arrives. A page the cleaner refuses is still read to its
/// end, so that one over the size limit is refused as too large, as `media::clean` ranks it.
impl Cases {
    async fn clean_jpeg<S: ByteSource>(
        &self,
        prefix: Vec<Bytes>,
        body: &mut Limited<S>,
    ) -> CaseResult<(CleanPage, tempfile::TempPath)> {
        let cleaned = self.temp_file()?;
        let mut writer = HashingWriter::new(cleaned.reopen().map_err(local_io)?);
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
            if refused.is_some() {
                continue;
            }
            if let Err(e) = cleaner.feed(&chunk, &mut out) {
                refused = Some(e);
            } else if out.len() >= WRITE_BUFFER {
                writer.write(&mut out).await?;
            }
        }
        if let Some(e) = refused {
            return Err(CaseError::Media(e));
        }
        let verdict = cleaner.finish().map_err(CaseError::Media)?;
        writer.write(&mut out).await?;
        let (mut size, mut sha256) = writer.finish().await?;
        let cleaned = cleaned.into_temp_path();
        if let Some(rewrite) = verdict.rewrite_head {
            // A JFIF or EXIF segment after the picture started: rare enough to copy the page once.
            let path = cleaned.to_path_buf();
            (size, sha256) =
                tokio::task::spawn_blocking(move || media::rewrite_head(&path, &rewrite))
                    .await
                    .map_err(internal)?
                    .map_err(local_io)?;
        }
        let clean = CleanPage {
            page_type: PageType::Jpeg,
            width: Some(verdict.width),
            height: Some(verdict.height),
            size,
            sha256,
        };
        Ok((clean, cleaned))
    }
}

/// Writes buffers to a file and hashes them on the blocking pool, one buffer in flight while the
/// caller fills the next. No fsync: storing the object makes it durable (`ObjectStore::put_file`),
/// as it does for a direct PUT.
struct HashingWriter {
    slot: Slot,
    size: u64,
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
        }
    }

    async fn idle(&mut self) -> CaseResult<Idle> {
        match std::mem::replace(&mut self.slot, Slot::Broken) {
            Slot::Idle(idle) => Ok(idle),
            Slot::Busy(task) => task.await.map_err(internal)?.map_err(local_io),
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
