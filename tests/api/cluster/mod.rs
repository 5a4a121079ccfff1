//! The cluster test (issue 24): the service as production runs it, every part its own process
//! (`scripts/cluster.sh`: three instances behind HAProxy on PostgreSQL, `s3s-fs`, the SF
//! simulator), worked through the load balancer by 200 citizens, 10 reviewers, reception and the
//! department while one instance is killed (SIGKILL) and restarted and another is stopped
//! (SIGTERM). Afterwards every invariant a client or an operator can see must hold (`checks`).
//! It runs in the PostgreSQL pass when `haproxy` and `s3s-fs` are on PATH, and says why not
//! otherwise; `BEEBOX_TEST_REQUIRE_CLUSTER=1` (as in `.ci/run`) makes a missing tool a failure.

mod checks;
mod citizens;
mod client;
mod faults;
mod records;
mod run;
mod staff;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use crate::support::cases::{CIVIL, SOCIAL, SOCIAL_CARD};
use crate::support::cluster::{Cluster, Skip, requirements};
use crate::support::staff::PASSWORD;
use crate::support::wait::poll;
use citizens::{citizen_login, create};
use run::Run;
use staff::staff_login;

const CITIZENS: usize = 200;
const REVIEWERS: usize = 10;
/// Citizens filing at once.
const FILING_AT_ONCE: usize = 24;
/// The reconciliation's schedule, short so that the run spans many of its slots.
const RECONCILE_EVERY_SECS: i64 = 3;
/// Objects no row names are swept once this old.
const ORPHAN_GRACE_SECS: u64 = 5;
/// What the instances run with beside the script's own settings: a quick job queue whose
/// leases of a killed worker lapse in seconds, a drain shorter than the default, the simulator
/// collecting at once.
fn settings() -> Vec<(&'static str, String)> {
    [
        ("BEEBOX_JOBS__POLL_MS", "100".to_string()),
        ("BEEBOX_JOBS__LEASE_SECS", "4".into()),
        ("BEEBOX_JOBS__BACKOFF_BASE_MS", "200".into()),
        ("BEEBOX_JOBS__BACKOFF_MAX_SECS", "2".into()),
        ("BEEBOX_SERVER__SHUTDOWN_GRACE_SECS", "10".into()),
        (
            "BEEBOX_COURIER__RECONCILE_EVERY_SECS",
            RECONCILE_EVERY_SECS.to_string(),
        ),
        ("BEEBOX_COURIER__SF__SIM_SKIP_PICKUP_WAIT", "true".into()),
        (
            "BEEBOX_STORAGE__ORPHAN_GRACE_SECS",
            ORPHAN_GRACE_SECS.to_string(),
        ),
        ("BEEBOX_DATABASE__MAX_CONNECTIONS", "10".into()),
    ]
    .into()
}
/// The simulator moves a parcel a step this often (five steps a leg).
const SF_STEP_MS: u64 = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_keeps_every_case_consistent_through_a_killed_and_a_stopped_instance() {
    match requirements() {
        Ok(()) => {}
        Err(Skip::SqlitePass) => {
            eprintln!(
                "SKIPPED cluster test: it runs in the PostgreSQL pass (BEEBOX_TEST_DATABASE_URL unset)"
            );
            return;
        }
        Err(Skip::Missing(what)) => {
            let required = std::env::var("BEEBOX_TEST_REQUIRE_CLUSTER").as_deref() == Ok("1");
            assert!(!required, "BEEBOX_TEST_REQUIRE_CLUSTER=1 but {what}");
            eprintln!("SKIPPED cluster test: {what}");
            return;
        }
    }
    let began = Instant::now();
    let cluster = Cluster::start(3, SF_STEP_MS, &settings()).await;
    let db = cluster.db().await;
    let up = began.elapsed();

    // Staff, seeded as `beebox staff create-admin` does, then logged in through the balancer.
    let both = format!("{CIVIL},{SOCIAL}");
    let mut reviewers = HashMap::new();
    for r in 0..REVIEWERS {
        let id = seed(&db, &format!("cluster.reviewer{r}"), "reviewer", &both).await;
        reviewers.insert(id, r);
    }
    seed(&db, "cluster.desk", "reception", CIVIL).await;
    seed(&db, "cluster.approver", "approver", &both).await;
    seed(&db, "cluster.admin", "admin", "").await;
    let (run, approvals) = Run::new(&cluster.lb, CITIZENS);
    let client = &run.client;
    let mut tokens = Vec::new();
    for r in 0..REVIEWERS {
        tokens.push(staff_login(client, &format!("cluster.reviewer{r}"), PASSWORD).await);
    }
    let desk = staff_login(client, "cluster.desk", PASSWORD).await;
    let approver = staff_login(client, "cluster.approver", PASSWORD).await;
    let admin = staff_login(client, "cluster.admin", PASSWORD).await;
    // The simulator pushes every route step twice.
    let mode = client
        .http
        .post(cluster.sim_control())
        .json(&json!({"action": "push_mode", "duplicate": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(mode.status(), 200);
    // Drafts whose pages will be on their way to the instance that is stopped.
    let mut slow = Vec::new();
    for k in 0..3 {
        let token = citizen_login(client, &format!("cluster-slow-{k}")).await;
        let id = create(client, &token, SOCIAL_CARD, "slow@example.test").await;
        slow.push((token, id));
    }

    let started = Instant::now();
    let filing = futures_util::stream::iter(0..CITIZENS)
        .for_each_concurrent(FILING_AT_ONCE, |i| citizens::citizen(&run, i));
    let reviewing = futures_util::future::join_all(
        tokens
            .into_iter()
            .enumerate()
            .map(|(r, token)| staff::reviewer(&run, r, token)),
    );
    let ((), _, (), (), (), report) = tokio::join!(
        filing,
        reviewing,
        citizens::book_pickups(&run, approvals),
        staff::reception(&run, desk),
        staff::department(&run, approver),
        faults::faults(&cluster, &run, &db, &slow),
    );
    let worked = started.elapsed();
    checks::settle(&run, &db).await;
    let settled = started.elapsed();

    // The orphan sweep, as its schedule would queue it, once everything is past its grace.
    tokio::time::sleep(Duration::from_secs(ORPHAN_GRACE_SECS + 1)).await;
    let sweep = beebox::store::jobs::NewJob::of(&beebox::jobs::periodic::SweepOrphans { slot: 0 })
        .deduped_by("cluster-test:sweep-orphans");
    beebox::store::jobs::enqueue(&db, sweep).await.unwrap();
    let swept = poll(
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async {
            let job = beebox::store::jobs::job::Entity::find()
                .filter(
                    beebox::store::jobs::job::Column::DedupeKey.eq("cluster-test:sweep-orphans"),
                )
                .one(&db)
                .await
                .unwrap()
                .unwrap();
            if job.state == "done" {
                Ok(())
            } else {
                Err(job)
            }
        },
    )
    .await;
    assert!(swept.is_ok(), "the orphan sweep did not run: {swept:?}");

    checks::cases_as_citizens_see_them(&run).await;
    checks::decisions_and_audit(&run, &db, &admin, &reviewers).await;
    checks::partner_orders(&cluster, &run, &db).await;
    let (sent, unknown) = records::notifications(&cluster, &run, &db).await;
    let slots = records::schedule_slots(&db, RECONCILE_EVERY_SECS).await;
    let objects = records::objects(&cluster, &db).await;

    // The killed instance came back into the balancer and served clients again.
    let log = cluster.log(2);
    let restarted = log.rsplit_once("listening").map_or("", |(_, after)| after);
    let served = restarted
        .lines()
        .any(|l| l.contains("request finished") && l.contains("/v1/"));
    assert!(served, "instance 2 served no client after its restart");

    let (retries, causes) = client.retries();
    eprintln!(
        "cluster test: up in {up:.1?}; {CITIZENS} citizens filed ({} pages by path A, {} by \
         path B), worked in {worked:.1?}, settled at {settled:.1?}, total {:.1?}; {retries} \
         retries {causes:?}; instance 2 killed: {} retries until it was back; instance 3 \
         stopped: {} uploads in flight answered, {} retries meanwhile; {sent} emails sent, \
         {unknown} unknown; {slots} schedule slots; {objects} objects",
        run.path_a.load(Ordering::Relaxed),
        run.path_b.load(Ordering::Relaxed),
        began.elapsed(),
        report.retries_after_kill,
        report.drained,
        report.retries_in_drain,
    );
    db.close().await.ok();
    cluster.stop().await;
}

async fn seed(db: &DatabaseConnection, username: &str, roles: &str, departments: &str) -> Uuid {
    beebox::store::staff::insert(
        db,
        username,
        username,
        beebox::passwords::hash(PASSWORD),
        roles.into(),
        departments.into(),
        None,
    )
    .await
    .unwrap()
    .id
}
