//! Courier orders against failure: the real `beebox` binary killed with SIGKILL while its order
//! calls are on the wire at SF (the simulator carried them out, the answers never came) and
//! restarted, and a partner that fails three different ways before it answers. Either way each
//! booking ends with exactly one partner order, and its waybill is the one the citizen sees.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use beebox::integrations::courier::sim::{
    CourierSimulator, SfCredentials, SimFault, SimOrder, SimSettings,
};
use beebox::store::jobs::job;
use beebox::store::shipments::shipment;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Route, Server};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::support::binary::beebox_command;
use crate::support::cases::state_of;
use crate::support::courier::{booking, slots};
use crate::support::seeds::passed_case;
use crate::support::{TestApp, spawn_app_with};

const PARTNER_ID: &str = "BEEBOX_CRASH";
const CHECK_WORD: &str = "crash-test-check-word-0123456789";
const WEBHOOK_SECRET: &str = "crash-test-webhook-secret";
const CREATE_ORDER: &str = "courier_create_order";

/// SF on a loopback port of its own, its route clock frozen: parcels never move, so nothing is
/// pushed and the shipments stay where the order jobs leave them.
struct Sf {
    sim: CourierSimulator,
    api_base: String,
    server: JoinHandle<()>,
}

impl Drop for Sf {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Sf {
    async fn start() -> Self {
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let port = acceptor.local_addr()[0]
            .as_socket_addr()
            .expect("a TCP address")
            .port();
        let sim = CourierSimulator::sf(
            sf_account(),
            SimSettings {
                // Nothing listens there; with the clock frozen nothing is pushed anyway.
                push_url: format!(
                    "http://127.0.0.1:9/v1/webhooks/courier/sf?secret={WEBHOOK_SECRET}"
                ),
                step: Duration::from_secs(3600),
                skip_pickup_wait: true,
            },
        );
        sim.freeze(true);
        let routes = Route::new().nest("/_sim/sf", sim.routes());
        let server = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(routes).await;
        });
        Self {
            sim,
            api_base: format!("http://127.0.0.1:{port}/_sim/sf/std/service"),
            server,
        }
    }
}

/// The real binary, running the job worker against `sf`. Killed (SIGKILL) when dropped, so a
/// failing test leaves no process behind.
struct Service {
    child: Child,
    log: PathBuf,
}

impl Service {
    /// `concurrency` order calls at once; SF's answer is awaited for a minute, far longer than
    /// the test lets a killed call live.
    fn start(dir: &Path, name: &str, database_url: &str, sf: &Sf, concurrency: usize) -> Self {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let child = beebox_command(dir)
            .env_remove("RUST_LOG")
            .env("BEEBOX_SERVER__PORT", "0")
            .env("BEEBOX_DATABASE__URL", database_url)
            .env("BEEBOX_COURIER__SF__API_BASE", &sf.api_base)
            .env("BEEBOX_COURIER__SF__PARTNER_ID", PARTNER_ID)
            .env("BEEBOX_COURIER__SF__CHECK_WORD", CHECK_WORD)
            .env("BEEBOX_COURIER__SF__WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env("BEEBOX_COURIER__SF__TIMEOUT_MS", "60000")
            .env("BEEBOX_JOBS__LEASE_SECS", "2")
            .env("BEEBOX_JOBS__POLL_MS", "50")
            .env("BEEBOX_JOBS__CONCURRENCY", concurrency.to_string())
            .env("BEEBOX_LOG__FILTER", "warn")
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("the beebox binary starts");
        Self { child, log }
    }

    /// SIGKILL, and reap it.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Panics with the service's own log when it has exited on its own.
    fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "the service exited ({status}):\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One booked pickup: its owner's token and the application id.
struct Case {
    token: String,
    id: String,
}

/// `n` passed cases of `n` citizens, each with a pickup booked over HTTP.
async fn booked_cases(app: &TestApp, prefix: &str, n: usize) -> Vec<Case> {
    let mut cases = Vec::new();
    for i in 0..n {
        let (token, id) = passed_case(app, &format!("{prefix}-{i}")).await;
        let window = slots(app, &token).await[0].clone();
        let body = booking(
            window["date"].as_str().unwrap(),
            window["slot"].as_str().unwrap(),
        );
        let booked = app
            .post_as(&token, &format!("/v1/applications/{id}/pickup"), &body)
            .await;
        assert_eq!(booked.status(), 201, "booking {i}");
        assert_eq!(state_of(app, &token, &id).await, "pickup_scheduled");
        cases.push(Case { token, id });
    }
    cases
}

async fn order_jobs(db: &DatabaseConnection) -> Vec<job::Model> {
    job::Entity::find()
        .filter(job::Column::Kind.eq(CREATE_ORDER))
        .all(db)
        .await
        .unwrap()
}

fn shipment_of_job(job: &job::Model) -> uuid::Uuid {
    let payload: Value = serde_json::from_str(&job.payload).unwrap();
    payload["shipment_id"].as_str().unwrap().parse().unwrap()
}

async fn all_shipments(db: &DatabaseConnection) -> Vec<shipment::Model> {
    shipment::Entity::find().all(db).await.unwrap()
}

fn count_in(jobs: &[job::Model], state: &str) -> usize {
    jobs.iter().filter(|j| j.state == state).count()
}

#[tokio::test]
async fn a_service_killed_mid_order_makes_one_partner_order_per_booking_after_restart() {
    const CASES: usize = 6;
    // The first service runs this many order calls at once, so at the kill that many are on the
    // wire and the rest have not been tried.
    const IN_FLIGHT: usize = 4;

    let sf = Sf::start().await;
    // The instance citizens book through. It runs no jobs, so every order waits for the binary.
    let app = spawn_app_with(|c| c.jobs.worker = false).await;
    let db = app.state.database().unwrap();
    let url = app.config.database_url();
    let cases = booked_cases(&app, "crash", CASES).await;
    assert_eq!(count_in(&order_jobs(db).await, "queued"), CASES);

    // SF carries out each of the first calls and then never answers.
    sf.sim.fail_next(IN_FLIGHT, SimFault::LoseAnswer);
    let dir = tempfile::tempdir().unwrap();
    let mut first = Service::start(dir.path(), "first", &url, &sf, IN_FLIGHT);
    let deadline = Instant::now() + Duration::from_secs(90);
    while sf.sim.orders().len() < IN_FLIGHT {
        first.assert_alive();
        assert!(
            Instant::now() < deadline,
            "SF got {} orders; the service said:\n{}",
            sf.sim.orders().len(),
            first.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill();

    // Killed with its calls in flight: SF made those orders, we hold no waybill for any, and
    // their jobs are still marked running under the dead worker's lease.
    let at_kill: Vec<SimOrder> = sf.sim.orders();
    assert_eq!(at_kill.len(), IN_FLIGHT, "{at_kill:?}");
    assert!(at_kill.iter().all(|o| o.create_calls == 1), "{at_kill:?}");
    let jobs = order_jobs(db).await;
    assert_eq!(count_in(&jobs, "running"), IN_FLIGHT, "{jobs:?}");
    assert_eq!(count_in(&jobs, "queued"), CASES - IN_FLIGHT, "{jobs:?}");
    let rows = all_shipments(db).await;
    assert_eq!(rows.len(), CASES);
    assert!(
        rows.iter()
            .all(|s| s.order_status == "requested" && s.waybill_no.is_none()),
        "{rows:?}"
    );
    let killed: HashSet<String> = at_kill.into_iter().map(|o| o.order_id).collect();

    // Restarted, with SF answering again: the running jobs are taken over when their lease
    // ends, the queued ones at once.
    let mut second = Service::start(dir.path(), "second", &url, &sf, IN_FLIGHT);
    // The shipment is written before the job is recorded done: wait for both, or the kill
    // below would leave a finished job marked running.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let rows = all_shipments(db).await;
        let jobs = order_jobs(db).await;
        if rows
            .iter()
            .all(|s| s.order_status == "created" && s.waybill_no.is_some())
            && count_in(&jobs, "done") == CASES
        {
            break;
        }
        second.assert_alive();
        assert_eq!(count_in(&jobs, "dead"), 0, "{jobs:?}");
        assert!(
            Instant::now() < deadline,
            "orders not placed: {:?}\njobs: {:?}\nthe service said:\n{}",
            rows.iter()
                .map(|s| (&s.order_status, &s.waybill_no))
                .collect::<Vec<_>>(),
            jobs.iter()
                .map(|j| (&j.state, j.attempts, &j.last_error))
                .collect::<Vec<_>>(),
            second.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    second.kill();

    // At SF: exactly one order per booking, never a second one for the killed calls. Their
    // retries met the order already made and took its waybill.
    let at_sf: HashMap<String, SimOrder> = sf
        .sim
        .orders()
        .into_iter()
        .map(|o| (o.order_id.clone(), o))
        .collect();
    assert_eq!(at_sf.len(), CASES, "{at_sf:?}");
    assert_eq!(sf.sim.orders().len(), CASES, "one SF order per order id");
    let waybills: HashSet<&str> = at_sf.values().map(|o| o.waybill_no.as_str()).collect();
    assert_eq!(waybills.len(), CASES, "one waybill per order");
    for order in at_sf.values() {
        assert!(!order.cancelled, "{order:?}");
        if killed.contains(&order.order_id) {
            assert!(order.create_calls >= 2, "retried after the kill: {order:?}");
        } else {
            assert_eq!(
                order.create_calls, 1,
                "never tried before the kill: {order:?}"
            );
        }
    }

    // What the citizen sees: the one leg, with SF's waybill for its order id.
    for case in &cases {
        let application = case.id.parse().unwrap();
        let legs = beebox::store::shipments::of_application(db, application)
            .await
            .unwrap();
        assert_eq!(legs.len(), 1, "one shipment per booking");
        let order = &at_sf[&legs[0].order_id];
        assert_eq!(
            legs[0].waybill_no.as_deref(),
            Some(order.waybill_no.as_str())
        );

        let response = app
            .get_as(
                &case.token,
                &format!("/v1/applications/{}/shipments", case.id),
            )
            .await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        let items = body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{body}");
        assert_eq!(items[0]["leg"], "materials");
        assert_eq!(items[0]["partner"], "sf");
        assert_eq!(items[0]["order_status"], "created");
        assert_eq!(items[0]["status"], "pending");
        assert_eq!(items[0]["waybill_no"], order.waybill_no.as_str());
        assert_eq!(
            state_of(&app, &case.token, &case.id).await,
            "pickup_scheduled"
        );
    }

    // Every order job finished; the killed ones on their second run. Nothing at all is dead.
    let order_ids: HashMap<uuid::Uuid, String> = all_shipments(db)
        .await
        .into_iter()
        .map(|s| (s.id, s.order_id))
        .collect();
    for job in order_jobs(db).await {
        assert_eq!(job.state, "done", "{job:?}");
        if killed.contains(&order_ids[&shipment_of_job(&job)]) {
            assert!(job.attempts >= 2, "{job:?}");
        }
    }
    let dead: Vec<job::Model> = job::Entity::find()
        .filter(job::Column::State.eq("dead"))
        .all(db)
        .await
        .unwrap();
    assert!(dead.is_empty(), "{dead:?}");
}

#[tokio::test]
async fn an_order_refused_three_ways_is_retried_with_backoff_and_made_once() {
    // The app's own simulator, its clock stopped; SF's answers are awaited for 3 s.
    let app = spawn_app_with(|c| {
        c.courier.sf.timeout_ms = 3_000;
        c.jobs.poll_ms = 50;
        c.jobs.backoff_base_ms = 1_000;
        c.jobs.backoff_max_secs = 10;
    })
    .await;
    let sim = app.state.couriers.simulator("sf").unwrap();
    sim.freeze(true);
    // A gateway error, no answer at all, then SF's own "system error".
    sim.fail_next(1, SimFault::Http(500));
    sim.fail_next(1, SimFault::Timeout);
    sim.fail_next(1, SimFault::ApiCode("A1099".into()));

    let started = Instant::now();
    let cases = booked_cases(&app, "flaky", 1).await;
    let case = &cases[0];
    let db = app.state.database().unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let leg = loop {
        let body: Value = app
            .get_as(
                &case.token,
                &format!("/v1/applications/{}/shipments", case.id),
            )
            .await
            .json()
            .await
            .unwrap();
        let items = body["items"].as_array().unwrap().clone();
        // The job is recorded done just after the shipment gets its waybill.
        let jobs = order_jobs(db).await;
        if items.len() == 1 && items[0]["order_status"] == "created" && jobs[0].state == "done" {
            break items[0].clone();
        }
        assert_ne!(jobs[0].state, "dead", "{jobs:?}");
        assert!(
            Instant::now() < deadline,
            "no order yet: {items:?}\njobs: {jobs:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let elapsed = started.elapsed();

    let orders = sim.orders();
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0].create_calls, 1, "the failed calls made nothing");
    assert_eq!(leg["waybill_no"], orders[0].waybill_no.as_str());
    let jobs = order_jobs(db).await;
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job.state, "done", "{job:?}");
    // One attempt per failure and the one that worked; the last failure is kept for operators.
    assert_eq!(job.attempts, 4, "{job:?}");
    assert!(
        job.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("A1099"),
        "{job:?}"
    );
    // Three waits of at least half of 1 s, 2 s and 4 s, and the 3 s the unanswered call took.
    assert!(
        elapsed >= Duration::from_millis(500 + 1_000 + 2_000 + 3_000),
        "retried after {elapsed:?}"
    );
}

fn sf_account() -> SfCredentials {
    SfCredentials {
        partner_id: PARTNER_ID.into(),
        check_word: CHECK_WORD.into(),
    }
}
