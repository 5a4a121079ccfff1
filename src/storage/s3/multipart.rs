//! One S3 multipart upload: parts sent in the background with a bounded number in flight, then
//! completed, or aborted. An upload that is neither completed nor aborted when it is dropped (a
//! failed or cancelled request) is aborted from `Drop`, and an abort the store refuses (it is
//! down) is retried with backoff for a while, so no parts linger once it is back. A bucket
//! lifecycle rule for incomplete uploads is the backstop for a process killed meanwhile.

use std::io::ErrorKind;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use tokio::task::JoinSet;

use super::sdk_error;
use crate::storage::StorageError;

/// S3 numbers parts from 1 to 10,000.
const MAX_PARTS: i32 = 10_000;
/// Parts sent at once by one upload: the next part fills while one goes out.
pub(super) const PARTS_IN_FLIGHT: usize = 2;
/// How long an abort waits for the parts in flight to end before cutting them off.
const PART_DRAIN: Duration = Duration::from_secs(30);
/// How long a refused abort is retried: the store's own outage, usually short.
const ABORT_RETRY_DELAYS: [u64; 10] = [0, 1, 2, 4, 8, 15, 30, 60, 120, 300];

pub(super) struct Multipart {
    client: Client,
    bucket: String,
    key: String,
    upload_id: String,
    in_flight: JoinSet<Result<CompletedPart, StorageError>>,
    completed: Vec<CompletedPart>,
    numbered: i32,
    /// Still to complete or abort.
    open: bool,
}

impl Multipart {
    pub(super) async fn create(
        client: &Client,
        bucket: &str,
        key: &str,
        content_type: &str,
    ) -> Result<Self, StorageError> {
        let created = client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(|e| sdk_error("CreateMultipartUpload", e))?;
        let upload_id = created.upload_id().ok_or_else(|| {
            StorageError::Unavailable("CreateMultipartUpload: no upload id in the answer".into())
        })?;
        Ok(Self {
            client: client.clone(),
            bucket: bucket.to_string(),
            key: key.to_string(),
            upload_id: upload_id.to_string(),
            in_flight: JoinSet::new(),
            completed: Vec::new(),
            numbered: 0,
            open: true,
        })
    }

    /// Sends the next part (`len` bytes in `body`) in the background, first waiting for one in
    /// flight when `PARTS_IN_FLIGHT` already are.
    pub(super) async fn send(&mut self, body: ByteStream, len: u64) -> Result<(), StorageError> {
        while self.in_flight.len() >= PARTS_IN_FLIGHT {
            self.reap().await?;
        }
        self.numbered += 1;
        if self.numbered > MAX_PARTS {
            return Err(StorageError::Io(std::io::Error::new(
                ErrorKind::FileTooLarge,
                format!("body needs more than {MAX_PARTS} parts"),
            )));
        }
        let number = self.numbered;
        let request = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .content_length(len as i64)
            .body(body);
        self.in_flight.spawn(async move {
            let uploaded = request
                .send()
                .await
                .map_err(|e| sdk_error("UploadPart", e))?;
            Ok(CompletedPart::builder()
                .part_number(number)
                .set_e_tag(uploaded.e_tag().map(str::to_string))
                .build())
        });
        Ok(())
    }

    /// Waits until no part is in flight.
    pub(super) async fn settle(&mut self) -> Result<(), StorageError> {
        while !self.in_flight.is_empty() {
            self.reap().await?;
        }
        Ok(())
    }

    /// The parts that have ended, without waiting: a failed one fails the upload at once.
    pub(super) fn check(&mut self) -> Result<(), StorageError> {
        while let Some(ended) = self.in_flight.try_join_next() {
            self.completed.push(ended.map_err(std::io::Error::other)??);
        }
        Ok(())
    }

    async fn reap(&mut self) -> Result<(), StorageError> {
        if let Some(ended) = self.in_flight.join_next().await {
            self.completed.push(ended.map_err(std::io::Error::other)??);
        }
        Ok(())
    }

    /// How many parts have been sent so far.
    pub(super) fn parts(&self) -> i32 {
        self.numbered
    }

    /// Waits for the parts in flight and makes the object visible.
    pub(super) async fn complete(mut self) -> Result<(), StorageError> {
        self.settle().await?;
        let mut parts = std::mem::take(&mut self.completed);
        parts.sort_by_key(|p| p.part_number());
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| sdk_error("CompleteMultipartUpload", e))?;
        self.open = false;
        Ok(())
    }

    /// Lets the parts in flight end (a part cut off mid-body can strand the store's temporary
    /// file) and aborts the upload: at once when the store answers, in the background with
    /// retries when it does not.
    pub(super) async fn abort(mut self) {
        let drained = async { while self.in_flight.join_next().await.is_some() {} };
        if tokio::time::timeout(PART_DRAIN, drained).await.is_err() {
            self.in_flight.shutdown().await;
        }
        self.open = false;
        if !abort_upload(&self.client, &self.bucket, &self.key, &self.upload_id).await {
            self.abort_later();
        }
    }

    fn abort_later(&mut self) {
        // Cleanup only: nothing a user waits on depends on it.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let client = self.client.clone();
        let bucket = std::mem::take(&mut self.bucket);
        let key = std::mem::take(&mut self.key);
        let upload_id = std::mem::take(&mut self.upload_id);
        runtime.spawn(async move {
            for delay in ABORT_RETRY_DELAYS {
                tokio::time::sleep(Duration::from_secs(delay)).await;
                if abort_upload(&client, &bucket, &key, &upload_id).await {
                    return;
                }
            }
            tracing::warn!(
                key,
                "multipart upload left behind for the bucket's lifecycle rule"
            );
        });
    }
}

impl Drop for Multipart {
    fn drop(&mut self) {
        if self.open {
            // The parts in flight stop with `in_flight`, dropped with us.
            self.abort_later();
        }
    }
}

/// Whether the upload is gone (aborted now, or already).
async fn abort_upload(client: &Client, bucket: &str, key: &str, upload_id: &str) -> bool {
    let result = client
        .abort_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await;
    match result {
        Ok(_) => true,
        Err(e) => {
            let e = sdk_error("AbortMultipartUpload", e);
            if e.to_string().contains("NoSuchUpload") {
                return true;
            }
            tracing::warn!(key, error = %e, "multipart upload not aborted yet");
            false
        }
    }
}
