//! The object store's test harness: a store of each backend, and bodies made on the fly (of a
//! known content, or failing or stalling part-way) with what reading them back must give.

use std::io;
use std::sync::Arc;

use beebox::storage::{ByteReader, FsStore, ObjectKey, ObjectStore, S3Store, UrlSigner};
use bytes::Bytes;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use tokio::io::AsyncReadExt;
use tokio_util::io::StreamReader;

use super::s3::S3Server;

pub const MIB: usize = 1024 * 1024;
pub const URL_SECRET: &[u8] = b"storage-test-url-signing-secret-0123456789";
pub const PUBLIC_URL: &str = "http://localhost:8080";

pub async fn fs_store() -> (Arc<dyn ObjectStore>, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(
        dir.path().join("objects"),
        UrlSigner::new(URL_SECRET, PUBLIC_URL),
    )
    .await
    .unwrap();
    (Arc::new(store), dir)
}

pub fn s3_store(server: &S3Server) -> Arc<dyn ObjectStore> {
    Arc::new(S3Store::new(&server.config()))
}

pub fn key(s: &str) -> ObjectKey {
    ObjectKey::parse(s).unwrap()
}

pub fn reader(bytes: impl Into<Vec<u8>>) -> ByteReader {
    Box::pin(io::Cursor::new(bytes.into()))
}

/// Deterministic, non-repeating-looking content: byte `i` of a body depends only on `i`, so a
/// reader can generate it chunk by chunk and a checker can recompute it.
pub fn byte_at(i: usize) -> u8 {
    ((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
}

pub fn chunks(len: usize) -> impl Iterator<Item = Bytes> {
    // An odd chunk size, so reads never line up with part boundaries.
    const CHUNK: usize = 61 * 1024;
    (0..len)
        .step_by(CHUNK)
        .map(move |start| (start..(start + CHUNK).min(len)).map(byte_at).collect())
}

/// A `len`-byte body produced lazily, as an upload arriving from the network would be.
pub fn generated(len: usize) -> ByteReader {
    let stream = futures_util::stream::iter(chunks(len).map(Ok::<_, io::Error>));
    Box::pin(StreamReader::new(stream))
}

/// A body that delivers `good_bytes` and then fails, like a client that disconnects.
pub fn failing_after(good_bytes: usize) -> ByteReader {
    let stream = futures_util::stream::iter(chunks(good_bytes).map(Ok).chain([Err(
        io::Error::new(io::ErrorKind::ConnectionReset, "client went away"),
    )]));
    Box::pin(StreamReader::new(stream))
}

/// A body that delivers `good_bytes` and then stalls forever, like a client that stops sending.
pub fn stalling_after(good_bytes: usize) -> ByteReader {
    let stream = futures_util::stream::iter(chunks(good_bytes).map(Ok::<_, io::Error>))
        .chain(futures_util::stream::pending());
    Box::pin(StreamReader::new(stream))
}

/// Names in `dir` starting with `prefix`.
pub fn entries_starting_with(dir: &std::path::Path, prefix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(prefix))
        .collect()
}

pub fn expected_sha256(len: usize) -> String {
    let mut hasher = Sha256::new();
    chunks(len).for_each(|c| hasher.update(&c));
    hex::encode(hasher.finalize())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub async fn read_all(mut body: ByteReader) -> Vec<u8> {
    let mut out = Vec::new();
    body.read_to_end(&mut out).await.unwrap();
    out
}

/// Size and SHA-256 of a body, read in a streaming fashion.
pub async fn measure(mut body: ByteReader) -> (u64, String) {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = body.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    (size, hex::encode(hasher.finalize()))
}
