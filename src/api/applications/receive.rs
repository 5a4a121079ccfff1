//! Path A's file field, checked and cleaned while it arrives. A JPEG (nearly every page) goes
//! through `media::JpegCleaner` straight into the file that becomes the object, hashed as it is
//! written: its bytes are written once and never read back. Anything else is spooled and then
//! cleaned whole by `intake::ingest`, as path B's pages are. Either way a client sees the same
//! outcome, down to which refusal wins: the size limit first, then what `media::clean` says.

use std::fs::File;
use std::io::Write;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::task::JoinHandle;

use crate::api::applications::intake::{self, Target, page_too_large, temp_file};
use crate::api::problem::ApiError;
use crate::domain::catalog::MaterialKind;
use crate::media::{self, CleanPage, JpegCleaner, MediaError, PageType};
use crate::state::AppState;
use crate::store::pages::page;

/// Cleaned bytes are handed to the blocking pool in buffers of about this size: few syscalls,
/// and two such buffers per upload in flight are all the memory a page costs.
const WRITE_BUFFER: usize = 256 * 1024;

/// Receives the page in `field`, stores it and records it.
pub async fn receive(
    state: &AppState,
    target: Target,
    field: multer::Field<'static>,
    original_name: Option<String>,
) -> Result<page::Model, ApiError> {
    let allowed = intake::allowed_kinds(&target.material);
    let (clean, cleaned) = clean_field(state, field, &allowed).await?;
    intake::keep(state, &target, &clean, cleaned, original_name).await
}

/// Checks and cleans the file in `field` into a temporary file, streaming a JPEG.
pub async fn clean_field(
    state: &AppState,
    field: multer::Field<'static>,
    allowed: &[MaterialKind],
) -> Result<(CleanPage, tempfile::TempPath), ApiError> {
    let mut body = FieldBody {
        field,
        max: state.config.uploads.max_page_bytes,
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
        clean_jpeg(state, prefix, &mut body).await
    } else {
        let raw = temp_file(state)?;
        spool(prefix, &mut body, raw.path()).await?;
        intake::clean_file(state, raw.path(), allowed).await
    }
}

/// The file field's chunks, refused with 413 as soon as they pass `max` bytes.
struct FieldBody {
    field: multer::Field<'static>,
    max: u64,
    total: u64,
}

impl FieldBody {
    async fn next(&mut self) -> Result<Option<Bytes>, ApiError> {
        let chunk = self.field.chunk().await.map_err(|e| {
            ApiError::bad_request("upload_interrupted", format!("The upload broke off: {e}"))
        })?;
        if let Some(chunk) = &chunk {
            self.total += chunk.len() as u64;
            if self.total > self.max {
                return Err(page_too_large(self.max));
            }
        }
        Ok(chunk)
    }
}

/// Copies the field into `file` for `media::clean`.
async fn spool(
    prefix: Vec<Bytes>,
    body: &mut FieldBody,
    file: &std::path::Path,
) -> Result<(), ApiError> {
    // Large writes: each one is a trip to tokio's blocking pool.
    let mut out = tokio::io::BufWriter::with_capacity(
        WRITE_BUFFER,
        tokio::fs::File::create(file)
            .await
            .map_err(intake::local_io)?,
    );
    for chunk in prefix {
        out.write_all(&chunk).await.map_err(intake::local_io)?;
    }
    while let Some(chunk) = body.next().await? {
        out.write_all(&chunk).await.map_err(intake::local_io)?;
    }
    out.flush().await.map_err(intake::local_io)?;
    Ok(())
}

/// Cleans a JPEG into a temp file as it arrives. A page the cleaner refuses is still read to its
/// end, so that one over the size limit is refused as too large, as `media::clean` ranks it.
async fn clean_jpeg(
    state: &AppState,
    prefix: Vec<Bytes>,
    body: &mut FieldBody,
) -> Result<(CleanPage, tempfile::TempPath), ApiError> {
    let cleaned = temp_file(state)?;
    let mut writer = HashingWriter::new(cleaned.reopen().map_err(intake::local_io)?);
    let mut cleaner = JpegCleaner::new(&intake::limits(state));
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
        return Err(intake::media_error(e));
    }
    let verdict = cleaner.finish().map_err(intake::media_error)?;
    writer.write(&mut out).await?;
    let (mut size, mut sha256) = writer.finish().await?;
    let cleaned = cleaned.into_temp_path();
    if let Some(rewrite) = verdict.rewrite_head {
        // A JFIF or EXIF segment after the picture started: rare enough to copy the page once.
        let path = cleaned.to_path_buf();
        (size, sha256) = tokio::task::spawn_blocking(move || media::rewrite_head(&path, &rewrite))
            .await
            .map_err(ApiError::internal)?
            .map_err(intake::local_io)?;
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

    async fn idle(&mut self) -> Result<Idle, ApiError> {
        match std::mem::replace(&mut self.slot, Slot::Broken) {
            Slot::Idle(idle) => Ok(idle),
            Slot::Busy(task) => task
                .await
                .map_err(ApiError::internal)?
                .map_err(intake::local_io),
            Slot::Broken => Err(ApiError::internal("a page write failed before")),
        }
    }

    /// Takes the bytes in `buffer` and leaves it empty (it gets the spare buffer back).
    async fn write(&mut self, buffer: &mut Vec<u8>) -> Result<(), ApiError> {
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
    async fn finish(mut self) -> Result<(u64, String), ApiError> {
        let (_, hasher, _) = self.idle().await?;
        Ok((self.size, hex::encode(hasher.finalize())))
    }
}
