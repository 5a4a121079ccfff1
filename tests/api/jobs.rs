//! The job queue under stress: two instances on one database, the service killed with SIGKILL
//! mid-send and restarted, and a graceful SIGTERM. The events are seeded through the store (the
//! same transaction the HTTP submit uses); the messages go to the local WeChat peer.

use std::collections::HashMap;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use beebox::domain::application::Action;
use beebox::store::applications::Actor;
use beebox::store::jobs::job;
use beebox::store::notifications::notification;
use beebox::store::outbox::Channels;
use chrono::Utc;
use sea_orm::ColumnTrait;
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait};

use crate::support::binary::beebox_command;
use crate::support::notify::configure;
use crate::support::seeds::application_row;
use crate::support::wechat::{APP_ID, APP_SECRET, Fault, WechatServer};
use crate::support::{fresh_database_url, spawn_app_on, spawn_app_with};

const ITEM: &str = "elderly-preferential-card";
const DATA_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// `n` citizens who each consented to one message and submitted one case: `n` queued
/// notifications, written as a service messaging `wechat` writes them. Returns their openids.
async fn seed_submissions(
    db: &DatabaseConnection,
    wechat: &WechatServer,
    prefix: &str,
    n: usize,
) -> Vec<String> {
    let mut config = beebox::config::Config::default();
    configure(&mut config, wechat);
    let channels = std::sync::Arc::new(Channels::new(&config.wechat));
    let objects = tempfile::tempdir().unwrap();
    config.data_dir = objects.path().into();
    let signer = beebox::storage::UrlSigner::new(b"seed", "http://127.0.0.1");
    let store = beebox::storage::from_config(&config, signer).await.unwrap();
    // The workflow as the service builds it, so the rows are the ones a real submit writes.
    let cases = beebox::cases::Cases::new(
        std::sync::Arc::new(config),
        channels,
        beebox::clock::Clock::system(),
        store,
    );
    let version = beebox::store::catalog::find(db, ITEM, None)
        .await
        .unwrap()
        .expect("the sample catalogue is loaded");
    let mut openids = Vec::new();
    for i in 0..n {
        let openid = format!("wx-{prefix}-{i}");
        let citizen = beebox::store::citizens::upsert_by_openid(db, &openid, None)
            .await
            .unwrap();
        beebox::store::subscriptions::accept(db, citizen.id, &["tpl-submitted".into()])
            .await
            .unwrap();
        let now = Utc::now();
        let draft = application_row(citizen.id, &version, "draft", now)
            .insert(db)
            .await
            .unwrap();
        let txn = db.begin().await.unwrap();
        let submitted = cases
            .change(
                &txn,
                &draft,
                Action::Submit,
                Actor::citizen(citizen.id),
                None,
            )
            .await
            .unwrap();
        assert_eq!(submitted.state, "submitted");
        txn.commit().await.unwrap();
        openids.push(openid);
    }
    openids
}

async fn jobs_of(db: &DatabaseConnection, kind: &str) -> Vec<job::Model> {
    job::Entity::find()
        .filter(job::Column::Kind.eq(kind))
        .all(db)
        .await
        .unwrap()
}

/// Waits until every send job of the seeded events is done.
async fn wait_all_done(db: &DatabaseConnection, n: usize, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let sends = jobs_of(db, "notify_wechat").await;
        let done = |jobs: &[job::Model]| jobs.iter().filter(|j| j.state == "done").count();
        if done(&sends) == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not done: sends {}/{n}: {:?}",
            done(&sends),
            sends
                .iter()
                .map(|j| (&j.state, j.attempts, &j.last_error))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn per_user(wechat: &WechatServer) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for message in wechat.sent_all() {
        *counts.entry(message.touser).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn two_instances_on_one_database_run_each_job_exactly_once() {
    let wechat = WechatServer::start().await;
    let setup = |c: &mut beebox::config::Config| {
        configure(c, &wechat);
        c.keys.data_encryption_key = Some(beebox::config::Secret::new(DATA_KEY));
        c.jobs.concurrency = 8;
        c.jobs.poll_ms = 20;
    };
    let first = spawn_app_with(setup).await;
    let second = spawn_app_on(&first.config.database_url(), setup).await;
    let db = first.state.database().unwrap();
    let openids = seed_submissions(db, &wechat, "pair", 60).await;
    wait_all_done(db, openids.len(), Duration::from_secs(60)).await;

    let counts = per_user(&wechat);
    for openid in &openids {
        assert_eq!(
            counts.get(openid),
            Some(&1),
            "{openid} got {:?}",
            counts.get(openid)
        );
    }
    for job in jobs_of(db, "notify_wechat").await {
        assert_eq!(job.attempts, 1, "job {} was claimed twice", job.id);
    }
    // Both instances schedule the same periodic work; each slot's job exists once.
    let sweeps = jobs_of(db, "sweep_uploads").await;
    let mut keys: Vec<_> = sweeps.iter().map(|j| j.dedupe_key.clone()).collect();
    keys.dedup();
    assert_eq!(keys.len(), sweeps.len());
    assert!(!sweeps.is_empty());
    // One access token, fetched by one instance, served both.
    assert_eq!(wechat.token_calls(), 1);
    drop(second);
}

/// The real binary on `url`, messaging `wechat`, with short leases.
fn service(dir: &std::path::Path, url: &str, wechat: &WechatServer, grace_secs: u64) -> Child {
    beebox_command(dir)
        .env("BEEBOX_SERVER__PORT", "0")
        .env("BEEBOX_SERVER__SHUTDOWN_GRACE_SECS", grace_secs.to_string())
        // The worker's own drain is under test here, not the load balancer's.
        .env("BEEBOX_SERVER__DRAIN_DELAY_MS", "0")
        .env("BEEBOX_DATABASE__URL", url)
        .env("BEEBOX_KEYS__DATA_ENCRYPTION_KEY", DATA_KEY)
        .env("BEEBOX_WECHAT__API_BASE", &wechat.base)
        .env("BEEBOX_WECHAT__APP_ID", APP_ID)
        .env("BEEBOX_WECHAT__APP_SECRET", APP_SECRET)
        .env(
            "BEEBOX_WECHAT__SUBSCRIBE__TEMPLATES__SUBMITTED__TEMPLATE_ID",
            "tpl-submitted",
        )
        .env("BEEBOX_JOBS__LEASE_SECS", "2")
        .env("BEEBOX_JOBS__POLL_MS", "50")
        .env("BEEBOX_JOBS__CONCURRENCY", "4")
        .env("BEEBOX_LOG__FILTER", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the beebox binary starts")
}

/// A migrated database with the sample catalogue, as the service would leave it.
async fn prepared_database(dir: &std::path::Path) -> (String, DatabaseConnection) {
    let url = fresh_database_url(dir).await;
    let db = beebox::store::connect(&beebox::config::DatabaseConfig::default(), &url)
        .await
        .unwrap();
    beebox::store::migrate(&db).await.unwrap();
    let catalog =
        beebox::domain::catalog::CatalogFile::parse(beebox::startup::SAMPLE_CATALOG).unwrap();
    beebox::store::catalog::import(&db, &catalog).await.unwrap();
    (url, db)
}

#[tokio::test]
async fn kill_9_mid_send_then_restart_completes_every_job_and_sends_nothing_twice() {
    let wechat = WechatServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (url, db) = prepared_database(dir.path()).await;
    let openids = seed_submissions(&db, &wechat, "killed", 40).await;
    // Every send takes a while, so that several are in flight when the service dies.
    for openid in &openids {
        wechat.script_send(openid, vec![Fault::Delay(Duration::from_millis(150))]);
    }
    let mut child = service(dir.path(), &url, &wechat, 5);
    let deadline = Instant::now() + Duration::from_secs(60);
    while wechat.sent_all().len() < 8 {
        assert!(Instant::now() < deadline, "the service sent nothing");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = wechat.sent_all().len();
    assert!(at_kill < openids.len(), "killed before the work was done");
    let running = jobs_of(&db, "notify_wechat")
        .await
        .into_iter()
        .filter(|j| j.state != "done")
        .count();
    assert!(running > 0, "jobs were left unfinished by the kill");

    let mut child = service(dir.path(), &url, &wechat, 5);
    wait_all_done(&db, openids.len(), Duration::from_secs(90)).await;
    child.kill().unwrap();
    child.wait().unwrap();

    // Never twice; every event either arrived or is recorded as `unknown` — the send that was on
    // the wire at the kill, which is not repeated.
    let counts = per_user(&wechat);
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    let rows = notification::Entity::find().all(&db).await.unwrap();
    assert_eq!(rows.len(), openids.len());
    let unknown = rows
        .iter()
        .filter(|n| n.status == "unknown")
        .inspect(|n| {
            assert!(
                n.detail
                    .as_deref()
                    .unwrap_or("")
                    .contains("outcome unknown")
            )
        })
        .count();
    let sent = rows.iter().filter(|n| n.status == "sent").count();
    assert_eq!(sent + unknown, openids.len());
    // Every `sent` arrived; an `outcome unknown` one may have (it was on the wire).
    assert!(
        counts.len() >= sent && counts.len() <= sent + unknown,
        "{} at WeChat",
        counts.len()
    );
    assert!(unknown <= 4, "at most one batch was on the wire: {unknown}");
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_finishes_running_jobs_and_leaves_the_rest_queued() {
    let wechat = WechatServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (url, db) = prepared_database(dir.path()).await;
    let openids = seed_submissions(&db, &wechat, "drained", 30).await;
    for openid in &openids {
        wechat.script_send(openid, vec![Fault::Delay(Duration::from_millis(400))]);
    }
    let mut child = service(dir.path(), &url, &wechat, 10);
    let deadline = Instant::now() + Duration::from_secs(60);
    while wechat.sent_all().is_empty() {
        assert!(Instant::now() < deadline, "the service sent nothing");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stopping = Instant::now();
    // SAFETY: sending a signal to our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(stopping.elapsed() < Duration::from_secs(10));

    // In-flight sends finished; nothing is left running; the rest waits for the next start.
    let jobs = jobs_of(&db, "notify_wechat").await;
    assert!(
        jobs.iter()
            .all(|j| j.state == "done" || j.state == "queued"),
        "{:?}",
        jobs.iter().map(|j| &j.state).collect::<Vec<_>>()
    );
    let rows = notification::Entity::find().all(&db).await.unwrap();
    assert!(
        rows.iter()
            .all(|n| !["sending", "failed", "unknown"].contains(&n.status.as_str()))
    );
    let delivered = wechat.sent_all().len();
    assert!(delivered < openids.len());
    assert_eq!(
        rows.iter().filter(|n| n.status == "sent").count(),
        delivered
    );
}

/// Rows exactly as the previous release queued them (payloads built with `json!` and read by
/// key): each kind's typed job still reads them and runs.
#[tokio::test]
async fn jobs_queued_by_the_previous_release_still_run() {
    use beebox::store::jobs::{NewJob, enqueue};
    use serde_json::json;

    let app = crate::support::spawn_app().await;
    let db = app.state.database().unwrap();
    let gone = uuid::Uuid::now_v7();
    // (kind, payload, the state it ends in, its last error)
    let rows = [
        (
            "dispatch_batches",
            json!({ "cutoff": Utc::now() }),
            "done",
            None,
        ),
        ("check_sla", json!({ "slot": 1_795_000_000 }), "done", None),
        ("confirm_receipts", json!({}), "done", None),
        (
            "delete_objects",
            json!({ "keys": ["applications/gone/page.jpg"] }),
            "done",
            None,
        ),
        // Read, run, and refused for what they name, not for their shape.
        (
            "courier_create_order",
            json!({ "shipment_id": gone }),
            "dead",
            Some("the shipment is gone"),
        ),
        (
            "notify_wechat",
            json!({ "notification_id": gone }),
            "dead",
            Some("the notification is gone"),
        ),
    ];
    for (kind, payload, _, _) in &rows {
        let job = NewJob {
            kind,
            payload: payload.clone(),
            dedupe_key: Some(format!("test:previous-release:{kind}")),
            run_at: Utc::now(),
            max_attempts: 0,
        };
        assert!(enqueue(db, job).await.unwrap());
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut settled = 0;
        for (kind, _, state, error) in &rows {
            let job = jobs_of(db, kind)
                .await
                .into_iter()
                .find(|j| j.dedupe_key.as_deref() == Some(&format!("test:previous-release:{kind}")))
                .unwrap();
            if job.state == *state {
                assert_eq!(job.last_error.as_deref(), *error, "{kind}");
                settled += 1;
            } else {
                assert!(
                    Instant::now() < deadline,
                    "{kind} is {} ({:?})",
                    job.state,
                    job.last_error
                );
            }
        }
        if settled == rows.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
