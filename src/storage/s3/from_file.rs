//! Sending a local file to S3, whole or while it is still being written (a page being cleaned):
//! one PutObject of known length when the file ends within a part, otherwise a multipart upload
//! whose parts go out, each from its range of the file, as they fill.

use std::path::Path;

use aws_sdk_s3::primitives::{ByteStream, Length};
use tokio::sync::watch;

use super::multipart::Multipart;
use super::{S3Store, sdk_error};
use crate::storage::{Growth, PutOutcome, StorageError, abandoned};

/// Each read from the file being sent: few syscalls, little memory.
const FILE_READ_BUFFER: usize = 64 * 1024;

impl S3Store {
    /// The bytes `offset..offset + len` of the file at `path`, read as they are sent.
    pub(super) async fn file_range(
        path: &Path,
        offset: u64,
        len: u64,
    ) -> Result<ByteStream, StorageError> {
        ByteStream::read_from()
            .path(path)
            .offset(offset)
            .length(Length::Exact(len))
            .buffer_size(FILE_READ_BUFFER)
            .build()
            .await
            .map_err(|e| StorageError::Io(std::io::Error::other(e)))
    }

    /// Follows the growing file: a part goes out each time one fills; at the end, the last
    /// part and completion, or one PutObject of the whole file if it never filled a part.
    pub(super) async fn follow(
        &self,
        s3_key: &str,
        content_type: &str,
        path: &Path,
        growth: &mut watch::Receiver<Growth>,
        upload: &mut Option<Multipart>,
    ) -> Result<PutOutcome, StorageError> {
        let part_size = self.part_size as u64;
        let mut sent = 0u64;
        loop {
            let now = growth.borrow_and_update().clone();
            match now {
                Growth::Writing(len) => {
                    if let Some(parts) = upload {
                        parts.check()?;
                    }
                    while len >= sent + part_size {
                        let parts = match upload {
                            Some(parts) => parts,
                            None => upload.insert(
                                Multipart::create(&self.client, &self.bucket, s3_key, content_type)
                                    .await?,
                            ),
                        };
                        parts
                            .send(Self::file_range(path, sent, part_size).await?, part_size)
                            .await?;
                        sent += part_size;
                    }
                }
                Growth::Done(known) => {
                    let Some(parts) = upload else {
                        self.put_whole_file(s3_key, content_type, path, known.size)
                            .await?;
                        return Ok(known);
                    };
                    let rest = known.size.saturating_sub(sent);
                    if rest > 0 || parts.parts() == 0 {
                        parts
                            .send(Self::file_range(path, sent, rest).await?, rest)
                            .await?;
                    }
                    if let Some(parts) = upload.take() {
                        parts.complete().await?;
                    }
                    return Ok(known);
                }
            }
            if growth.changed().await.is_err() {
                return Err(abandoned());
            }
        }
    }

    /// One PutObject of a whole local file, streamed from disk.
    async fn put_whole_file(
        &self,
        s3_key: &str,
        content_type: &str,
        path: &Path,
        size: u64,
    ) -> Result<(), StorageError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(s3_key)
            .content_type(content_type)
            .content_length(size as i64)
            .body(Self::file_range(path, 0, size).await?)
            .send()
            .await
            .map_err(|e| sdk_error("PutObject", e))?;
        Ok(())
    }
}
