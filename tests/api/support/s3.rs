//! A real S3-protocol server for tests: s3s over a temporary directory, checking SigV4 with fixed
//! keys, on a free local port. It stops when dropped.

use std::path::Path;

use beebox::config::{S3StorageConfig, Secret};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::{AbortHandle, JoinSet};

pub struct S3Server {
    pub endpoint: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    _dir: TempDir,
    server: AbortHandle,
    refusing: tokio::sync::watch::Sender<bool>,
}

impl S3Server {
    pub async fn start() -> S3Server {
        let dir = tempfile::tempdir().expect("temp dir for the S3 server");
        let bucket = "beebox-test".to_string();
        std::fs::create_dir(dir.path().join(&bucket)).expect("bucket directory");
        let access_key = "beebox-test-access-key".to_string();
        let secret_key = "beebox-test-secret-key-0123456789".to_string();

        let fs = s3s_fs::FileSystem::new(dir.path()).expect("s3s-fs over the temp dir");
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(
            access_key.clone(),
            secret_key.clone(),
        ));
        let service = builder.build();

        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind S3 test server");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let (refusing, refuse) = tokio::sync::watch::channel(false);
        let server = tokio::spawn(async move {
            // Connections live in this set, so aborting the server drops them as well.
            let mut connections = JoinSet::new();
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                // A store that fails: the connection closes before any answer.
                if *refuse.borrow() {
                    drop(socket);
                    continue;
                }
                let service = service.clone();
                let mut refuse = refuse.clone();
                connections.spawn(async move {
                    let builder = ConnBuilder::new(TokioExecutor::new());
                    let serve = builder.serve_connection(TokioIo::new(socket), service);
                    // Kept-alive connections close too once the server starts refusing.
                    tokio::select! {
                        _ = serve => {}
                        _ = refuse.wait_for(|on| *on) => {}
                    }
                });
                // Reap finished connections so the set does not grow for the server's lifetime.
                while connections.try_join_next().is_some() {}
            }
        })
        .abort_handle();

        S3Server {
            endpoint,
            bucket,
            access_key,
            secret_key,
            _dir: dir,
            server,
            refusing,
        }
    }

    /// While on, every connection is closed unanswered, as an S3 service that is down would.
    pub fn refuse(&self, on: bool) {
        self.refusing.send_replace(on);
    }

    /// Store settings that reach this server, with a key prefix so the prefix path is exercised.
    pub fn config(&self) -> S3StorageConfig {
        S3StorageConfig {
            endpoint: Some(self.endpoint.clone()),
            region: "us-east-1".into(),
            bucket: Some(self.bucket.clone()),
            path_style: true,
            access_key_id: Some(self.access_key.clone()),
            secret_access_key: Some(Secret::new(self.secret_key.clone())),
            key_prefix: "prefix/".into(),
            part_size_bytes: 5 * 1024 * 1024,
        }
    }

    /// The server's data directory, for asserting on what it holds (e.g. leftover upload parts).
    pub fn data_dir(&self) -> &Path {
        self._dir.path()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Configures the app to keep its objects on `s3`.
pub fn on_s3(s3: &S3Server) -> impl FnOnce(&mut beebox::config::Config) + '_ {
    |c| {
        c.storage.backend = beebox::config::StorageBackend::S3;
        c.storage.s3 = s3.config();
    }
}
