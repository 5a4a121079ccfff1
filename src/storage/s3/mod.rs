//! The S3 backend (AWS, MinIO, Garage, Ceph, ...). Small bodies go up in one PutObject; larger ones
//! as a multipart upload (`multipart`), and a failed or cancelled upload is aborted so no parts
//! linger. A local file (a cleaned page) is sent straight from disk, range by range, while it is
//! still being written (`from_file`): memory per upload is a small read buffer per part in
//! flight, whatever the file's size. Errors never carry credentials.

mod from_file;
mod multipart;

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::Path;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Builder, Credentials, Region, RequestChecksumCalculation,
    ResponseChecksumValidation,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, SubsecRound, Utc};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use self::multipart::Multipart;
use super::{
    ByteReader, Growth, Listed, ObjectInfo, ObjectKey, ObjectStore, Presigned, PutOutcome,
    StorageError,
};
use crate::config::S3StorageConfig;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);
/// S3's floor for every part but the last.
const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    key_prefix: String,
    part_size: usize,
}

impl S3Store {
    pub fn new(cfg: &S3StorageConfig) -> Self {
        let mut builder = Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(cfg.region.clone()))
            .force_path_style(cfg.path_style)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .build(),
            )
            // Since 2025 the SDK adds CRC checksums to every upload by default, which several
            // S3-compatible stores reject or mishandle. We hash the body ourselves anyway.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = &cfg.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        if let (Some(access_key), Some(secret)) = (&cfg.access_key_id, &cfg.secret_access_key) {
            builder = builder.credentials_provider(Credentials::new(
                access_key,
                secret.expose(),
                None,
                None,
                "beebox-config",
            ));
        }
        Self {
            client: Client::from_conf(builder.build()),
            // Required when this backend is chosen; `Config::validate` refuses an empty one.
            bucket: cfg.bucket.clone().unwrap_or_default(),
            key_prefix: cfg.key_prefix.clone(),
            // Validation enforces the floor too; clamping keeps a direct caller from making
            // uploads that S3 would refuse at CompleteMultipartUpload.
            part_size: cfg.part_size_bytes.max(MIN_PART_SIZE),
        }
    }

    fn s3_key(&self, key: &ObjectKey) -> String {
        format!("{}{}", self.key_prefix, key)
    }

    /// Sends the parts of `reader` one at a time after `first`: at most one part is held.
    async fn put_multipart(
        &self,
        s3_key: &str,
        content_type: &str,
        first: Vec<u8>,
        mut hasher: Sha256,
        mut body: ByteReader,
    ) -> Result<PutOutcome, StorageError> {
        let mut upload =
            Multipart::create(&self.client, &self.bucket, s3_key, content_type).await?;
        let mut size = 0u64;
        let mut part = first;
        let sent = async {
            loop {
                let len = part.len();
                size += len as u64;
                upload.send(ByteStream::from(part), len as u64).await?;
                upload.settle().await?;
                if len < self.part_size {
                    break;
                }
                // Allocate the next part only now: at most one part is ever held.
                part = read_part(&mut body, self.part_size, self.part_size).await?;
                if part.is_empty() {
                    break;
                }
                hasher.update(&part);
            }
            Ok::<_, StorageError>(())
        }
        .await;
        match sent {
            Ok(()) => upload.complete().await?,
            Err(e) => {
                upload.abort().await;
                return Err(e);
            }
        }
        Ok(PutOutcome {
            size,
            sha256: hex::encode(hasher.finalize()),
        })
    }

    fn presigned(
        method: &'static str,
        request: PresignedRequest,
        expires_at: DateTime<Utc>,
    ) -> Presigned {
        let headers = request
            .headers()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_string()))
            .collect::<BTreeMap<_, _>>();
        Presigned {
            method,
            url: request.uri().to_string(),
            headers,
            expires_at,
        }
    }
}

/// A presigning window starting now, to the second (as SigV4's `X-Amz-Date` is), and the instant
/// it ends.
fn presigning_window(ttl: Duration) -> Result<(PresigningConfig, DateTime<Utc>), StorageError> {
    let start = Utc::now().trunc_subsecs(0);
    let expires_at = chrono::TimeDelta::from_std(ttl)
        .ok()
        .and_then(|ttl| start.checked_add_signed(ttl));
    let config = PresigningConfig::builder()
        .start_time(SystemTime::from(start))
        .expires_in(ttl)
        .build();
    match (config, expires_at) {
        (Ok(config), Some(expires_at)) => Ok((config, expires_at)),
        _ => Err(StorageError::Io(std::io::Error::new(
            ErrorKind::InvalidInput,
            "presign ttl must be at most 7 days",
        ))),
    }
}

#[async_trait::async_trait]
impl ObjectStore for S3Store {
    fn backend(&self) -> &'static str {
        "s3"
    }

    #[tracing::instrument(skip_all, fields(key = %key), err)]
    async fn put(
        &self,
        key: &ObjectKey,
        content_type: &str,
        mut body: ByteReader,
    ) -> Result<PutOutcome, StorageError> {
        let s3_key = self.s3_key(key);
        let mut hasher = Sha256::new();
        // Start small: most objects are photos far below one part.
        let first = read_part(&mut body, self.part_size, 64 * 1024).await?;
        hasher.update(&first);
        if first.len() == self.part_size {
            return self
                .put_multipart(&s3_key, content_type, first, hasher, body)
                .await;
        }
        let size = first.len() as u64;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&s3_key)
            .content_type(content_type)
            .content_length(size as i64)
            .body(ByteStream::from(first))
            .send()
            .await
            .map_err(|e| sdk_error("PutObject", e))?;
        Ok(PutOutcome {
            size,
            sha256: hex::encode(hasher.finalize()),
        })
    }

    #[tracing::instrument(skip_all, fields(key = %key), err)]
    async fn put_file(
        &self,
        key: &ObjectKey,
        content_type: &str,
        path: &Path,
        known: PutOutcome,
    ) -> Result<PutOutcome, StorageError> {
        // A file already whole is a growing file at its end.
        let (_, growth) = watch::channel(Growth::Done(known));
        self.put_growing_file(key, content_type, path, growth).await
    }

    #[tracing::instrument(skip_all, fields(key = %key), err)]
    async fn put_growing_file(
        &self,
        key: &ObjectKey,
        content_type: &str,
        path: &Path,
        mut growth: watch::Receiver<Growth>,
    ) -> Result<PutOutcome, StorageError> {
        let s3_key = self.s3_key(key);
        let mut upload = None;
        let result = self
            .follow(&s3_key, content_type, path, &mut growth, &mut upload)
            .await;
        if result.is_err()
            && let Some(parts) = upload
        {
            parts.abort().await;
        }
        result
    }

    #[tracing::instrument(skip_all, fields(key = %key), err)]
    async fn get(&self, key: &ObjectKey) -> Result<(ObjectInfo, ByteReader), StorageError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.s3_key(key))
            .send()
            .await
            .map_err(|e| not_found_or(e, "GetObject"))?;
        let info = ObjectInfo {
            size: out.content_length().unwrap_or(0).max(0) as u64,
            content_type: out.content_type().map(str::to_string),
        };
        Ok((info, Box::pin(out.body.into_async_read())))
    }

    #[tracing::instrument(skip_all, fields(key = %key), err)]
    async fn head(&self, key: &ObjectKey) -> Result<ObjectInfo, StorageError> {
        let out = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.s3_key(key))
            .send()
            .await
            .map_err(|e| not_found_or(e, "HeadObject"))?;
        Ok(ObjectInfo {
            size: out.content_length().unwrap_or(0).max(0) as u64,
            content_type: out.content_type().map(str::to_string),
        })
    }

    #[tracing::instrument(skip_all, fields(key = %key), err)]
    async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        // S3 answers 204 for a missing key too.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.s3_key(key))
            .send()
            .await
            .map_err(|e| sdk_error("DeleteObject", e))?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(key = %key), err)]
    async fn presign_get(&self, key: &ObjectKey, ttl: Duration) -> Result<Presigned, StorageError> {
        let (config, expires_at) = presigning_window(ttl)?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.s3_key(key))
            .presigned(config)
            .await
            .map_err(|e| sdk_error("presign GetObject", e))?;
        Ok(Self::presigned("GET", request, expires_at))
    }

    #[tracing::instrument(skip_all, fields(key = %key), err)]
    async fn presign_put(
        &self,
        key: &ObjectKey,
        content_type: &str,
        ttl: Duration,
    ) -> Result<Presigned, StorageError> {
        let (config, expires_at) = presigning_window(ttl)?;
        // Setting the content type makes it a signed header: the client cannot swap it.
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.s3_key(key))
            .content_type(content_type)
            .presigned(config)
            .await
            .map_err(|e| sdk_error("presign PutObject", e))?;
        Ok(Self::presigned("PUT", request, expires_at))
    }

    #[tracing::instrument(skip_all, err)]
    async fn check(&self) -> Result<(), StorageError> {
        // The SDK retries connection failures with backoff; readiness wants a quick answer.
        let head = self.client.head_bucket().bucket(&self.bucket).send();
        match tokio::time::timeout(CHECK_TIMEOUT, head).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(sdk_error("HeadBucket", e)),
            Err(_) => Err(StorageError::Unavailable(format!(
                "HeadBucket: no answer within {} s",
                CHECK_TIMEOUT.as_secs()
            ))),
        }
    }

    #[tracing::instrument(skip_all, fields(prefix = %prefix), err)]
    async fn list(
        &self,
        prefix: &str,
        after: Option<&ObjectKey>,
        limit: usize,
    ) -> Result<Vec<Listed>, StorageError> {
        let page = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(format!("{}{prefix}", self.key_prefix))
            .set_start_after(after.map(|key| self.s3_key(key)))
            .max_keys(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(|e| sdk_error("ListObjectsV2", e))?;
        // Keys outside our rules are not ours: skipped.
        Ok(page
            .contents()
            .iter()
            .filter_map(|object| {
                let modified = object
                    .last_modified()
                    .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))?;
                let key = object
                    .key()
                    .and_then(|k| k.strip_prefix(self.key_prefix.as_str()))
                    .and_then(|k| ObjectKey::parse(k).ok())?;
                Some(Listed { key, modified })
            })
            .collect())
    }
}

/// Reads up to `part_size` bytes, fewer only at the end of the body.
async fn read_part(
    body: &mut ByteReader,
    part_size: usize,
    initial_capacity: usize,
) -> Result<Vec<u8>, StorageError> {
    let mut part = Vec::with_capacity(initial_capacity.min(part_size));
    body.take(part_size as u64).read_to_end(&mut part).await?;
    Ok(part)
}

/// 404 from a read means the object is missing, unless the bucket itself is.
fn not_found_or<E: ProvideErrorMetadata>(err: SdkError<E>, operation: &str) -> StorageError {
    if let SdkError::ServiceError(ctx) = &err
        && ctx.raw().status().as_u16() == 404
        && ctx.err().code() != Some("NoSuchBucket")
    {
        return StorageError::NotFound;
    }
    sdk_error(operation, err)
}

/// A short, secret-free description: the operation, and S3's error code and status or the kind of
/// transport failure. The SDK's own messages can include request details, so they stay out.
fn sdk_error<E: ProvideErrorMetadata>(operation: &str, err: SdkError<E>) -> StorageError {
    let reason = match &err {
        SdkError::ServiceError(ctx) => format!(
            "{} (HTTP {})",
            ctx.err().code().unwrap_or("unknown error"),
            ctx.raw().status().as_u16()
        ),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => "timed out".into(),
        SdkError::DispatchFailure(failure) if failure.is_io() => "connection failed".into(),
        SdkError::DispatchFailure(_) => "request could not be sent".into(),
        SdkError::TimeoutError(_) => "timed out".into(),
        SdkError::ResponseError(_) => "unreadable response".into(),
        SdkError::ConstructionFailure(_) => "request could not be built".into(),
        _ => "unexpected error".into(),
    };
    StorageError::Unavailable(format!("{operation}: {reason}"))
}
