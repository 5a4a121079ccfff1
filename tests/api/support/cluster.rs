//! The whole service as production lays it out, for the cluster test: `scripts/cluster.sh` run
//! with the test's binary on free ports and a fresh PostgreSQL database, every part in its own
//! process (instances, HAProxy, `s3s-fs`, the SF simulator). `Cluster` signals instances,
//! restarts them through the script, and reads what an operator can: logs, the bucket's
//! directory, the mail files, the database.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use tempfile::TempDir;

use super::wait::poll;

/// The bucket `scripts/cluster.sh` makes, a directory under `$CLUSTER_DIR/s3`.
const BUCKET: &str = "beebox-cluster";

/// Why the cluster test does not run here.
pub enum Skip {
    /// No PostgreSQL: `BEEBOX_TEST_DATABASE_URL` is unset (the SQLite pass).
    SqlitePass,
    /// HAProxy or `s3s-fs` is not on `PATH`: what is missing and how to install it.
    Missing(String),
}

/// Whether the cluster test can run here: PostgreSQL from `BEEBOX_TEST_DATABASE_URL` (the
/// PostgreSQL pass), HAProxy and `s3s-fs` from `PATH`.
pub fn requirements() -> Result<(), Skip> {
    if std::env::var("BEEBOX_TEST_DATABASE_URL").map_or(true, |u| u.is_empty()) {
        return Err(Skip::SqlitePass);
    }
    let missing: Vec<&str> = [
        ("haproxy", "haproxy (apt-get install haproxy)"),
        (
            "s3s-fs",
            "s3s-fs (cargo install s3s-fs --version 0.14.1 --locked --features binary)",
        ),
    ]
    .into_iter()
    .filter(|(tool, _)| !on_path(tool))
    .map(|(_, install)| install)
    .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Skip::Missing(format!(
        "not on PATH: {}",
        missing.join(", ")
    )))
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            std::fs::metadata(dir.join(tool)).is_ok_and(|m| {
                m.is_file()
                    && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
            })
        })
    })
}

pub struct Cluster {
    /// The load balancer, as clients reach the service.
    pub lb: String,
    pub instances: usize,
    pub database_url: String,
    base_port: u16,
    sf_port: u16,
    admin_url: String,
    database: String,
    script: Child,
    dir: Option<TempDir>,
}

impl Cluster {
    /// Starts `instances` instances with the caller's `BEEBOX_*` settings beside the script's own,
    /// and waits for the script's `ready` line.
    pub async fn start(instances: usize, sf_step_ms: u64, env: &[(&str, String)]) -> Cluster {
        let admin_url = std::env::var("BEEBOX_TEST_DATABASE_URL").expect("PostgreSQL");
        let database = format!("beebox_t_cluster_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(&admin_url)
            .await
            .expect("PostgreSQL reachable");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {database}"))
            .await
            .expect("create the cluster's database");
        admin.close().await.ok();
        let (base, _) = admin_url
            .rsplit_once('/')
            .expect("a URL with a database name");
        let database_url = format!("{base}/{database}");

        // In memory where the machine has it: the run leaves thousands of small files (objects,
        // their metadata, mail), which a busy disk takes many seconds to remove.
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            tempfile::tempdir_in(shm)
        } else {
            tempfile::tempdir()
        }
        .expect("the cluster's directory");
        let path = dir.path().to_path_buf();
        let base_port = free_ports(instances as u16 + 1);
        let (s3_port, sf_port) = (free_ports(1), free_ports(1));
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut command = Command::new(root.join("scripts/cluster.sh"));
        // Only what the test sets reaches the instances, never the developer's own BEEBOX_*.
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("BEEBOX_")) {
            command.env_remove(key);
        }
        command
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("CLUSTER_BIN", env!("CARGO_BIN_EXE_beebox"))
            .env("CLUSTER_DIR", &path)
            .env("CLUSTER_DATABASE_URL", &database_url)
            .env("CLUSTER_INSTANCES", instances.to_string())
            .env("CLUSTER_PORT", base_port.to_string())
            .env("CLUSTER_S3_PORT", s3_port.to_string())
            .env("CLUSTER_SF_PORT", sf_port.to_string())
            .env("CLUSTER_SF_STEP_MS", sf_step_ms.to_string())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(path.join("cluster.out")).unwrap())
            .stderr(std::fs::File::create(path.join("cluster.err")).unwrap());
        // Its own process group: whatever is left when the test fails can be ended as one.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let script = command.spawn().expect("scripts/cluster.sh starts");
        let cluster = Cluster {
            lb: format!("http://127.0.0.1:{base_port}"),
            instances,
            database_url,
            base_port,
            sf_port,
            admin_url,
            database,
            script,
            dir: Some(dir),
        };
        let ready = poll(Duration::from_secs(120), Duration::from_millis(200), || {
            let out = cluster.output();
            async move {
                if out.contains("\nready lb=") {
                    Ok(())
                } else {
                    Err(out)
                }
            }
        })
        .await;
        if let Err(out) = ready {
            panic!(
                "the cluster never came up:\n{out}\n{}",
                cluster.file("cluster.err")
            );
        }
        cluster
    }

    /// Where the script keeps logs, pids and data (`CLUSTER_DIR`).
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("the cluster's directory").path()
    }

    /// What the script printed so far.
    pub fn output(&self) -> String {
        format!("\n{}", self.file("cluster.out"))
    }

    /// A file of the cluster's directory, empty when there is none.
    pub fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir().join(name)).unwrap_or_default()
    }

    /// Instance `n`'s log.
    pub fn log(&self, n: usize) -> String {
        self.file(&format!("instance-{n}.log"))
    }

    /// Instance `n` itself, past the load balancer.
    pub fn instance_url(&self, n: usize) -> String {
        format!("http://127.0.0.1:{}", self.base_port + n as u16)
    }

    /// The SF simulator's scripting endpoint.
    pub fn sim_control(&self) -> String {
        format!("http://127.0.0.1:{}/control", self.sf_port)
    }

    pub fn pid(&self, n: usize) -> u32 {
        self.file(&format!("instance-{n}.pid"))
            .trim()
            .parse()
            .expect("the instance's pid file")
    }

    /// Sends `signal` (`KILL`, `TERM`) to instance `n`.
    pub fn signal(&self, n: usize, signal: &str) {
        kill(signal, &self.pid(n).to_string());
    }

    /// Whether the process `pid` still runs (a zombie the script has yet to reap does not).
    pub fn running(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit_once(") ")
                .is_some_and(|(_, rest)| !rest.starts_with('Z'))
        })
    }

    /// Has the script start every stopped instance again (SIGUSR1) and waits until instance `n`
    /// runs under a new pid and is ready.
    pub async fn restart(&self, n: usize) {
        let old = self.pid(n);
        kill("USR1", &self.script.id().to_string());
        let url = format!("{}/readyz", self.instance_url(n));
        let client = reqwest::Client::new();
        let back = poll(Duration::from_secs(60), Duration::from_millis(100), || {
            let (url, client) = (url.clone(), client.clone());
            let pid = self.file(&format!("instance-{n}.pid"));
            async move {
                let restarted = pid.trim().parse::<u32>().is_ok_and(|p| p != old);
                match client.get(&url).send().await {
                    Ok(r) if restarted && r.status() == 200 => Ok(()),
                    _ => Err(()),
                }
            }
        })
        .await;
        assert!(
            back.is_ok(),
            "instance {n} did not come back:\n{}",
            self.output()
        );
    }

    /// The bucket's directory: one file per object, named by its key.
    pub fn bucket(&self) -> PathBuf {
        self.dir().join("s3").join(BUCKET)
    }

    /// Every object key under `prefix` in the bucket, as `s3s-fs` keeps them on disk.
    pub fn object_keys(&self, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut dirs = vec![self.bucket().join(prefix)];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if let Ok(key) = path.strip_prefix(self.bucket()) {
                    keys.push(key.to_string_lossy().into_owned());
                }
            }
        }
        keys.sort();
        keys
    }

    /// Every email the instances wrote (the dev profile's file backend, one directory each).
    pub fn mails(&self) -> Vec<String> {
        (1..=self.instances)
            .flat_map(|n| {
                let dir = self.dir().join(format!("instance-{n}/mail"));
                std::fs::read_dir(dir)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The cluster's database, as an operator's `psql` would see it.
    pub async fn db(&self) -> DatabaseConnection {
        Database::connect(&self.database_url)
            .await
            .expect("the cluster's database")
    }

    /// Stops everything the script started (SIGTERM: instances drain) and drops the database.
    pub async fn stop(mut self) {
        self.end_script();
        let admin = Database::connect(&self.admin_url)
            .await
            .expect("PostgreSQL");
        admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.database
            ))
            .await
            .expect("drop the cluster's database");
        admin.close().await.ok();
    }

    fn end_script(&mut self) {
        if matches!(self.script.try_wait(), Ok(Some(_))) {
            return;
        }
        // Quietly: this also runs in `drop` while a failed test unwinds.
        signal_quietly("TERM", &self.script.id().to_string());
        for _ in 0..300 {
            if matches!(self.script.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // The script's group (its own, made at spawn): whatever did not stop in 30 s.
        signal_quietly("KILL", &format!("-{}", self.script.id()));
        self.script.wait().ok();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A failed test: no instance outlives it; its database goes with `scripts/test.sh`'s
        // sweep of `beebox_t_*`, its logs and data stay for a look.
        self.end_script();
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            eprintln!(
                "cluster test: logs and data kept in {}",
                dir.keep().display()
            );
        }
    }
}

fn kill(signal: &str, target: &str) {
    assert!(signal_quietly(signal, target), "kill -{signal} {target}");
}

/// `kill -SIGNAL -- TARGET` (a pid, or `-PGID` for a process group): whether it was delivered.
fn signal_quietly(signal: &str, target: &str) -> bool {
    Command::new("kill")
        .args([format!("-{signal}").as_str(), "--", target])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The first of `count` consecutive free local ports: the load balancer's, then the instances'
/// (the script puts instance N on the balancer's port + N).
fn free_ports(count: u16) -> u16 {
    for _ in 0..100 {
        let first = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if first.checked_add(count).is_none() {
            continue;
        }
        let all_free = (first..first + count).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return first;
        }
    }
    panic!("no {count} consecutive free ports");
}
