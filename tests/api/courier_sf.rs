//! The SF Express adapter against the SF simulator, each on a real HTTP server: the simulator on
//! its own port (mounted as in dev at `/_sim/sf`), and a small webhook that checks every push
//! with `SfExpress::verify_push` and answers as our server does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use beebox::integrations::courier::sf::{SfExpress, SfSettings, msg_digest};
use beebox::integrations::courier::sim::{PushMode, SfSimulator, SimFault, SimSettings};
use beebox::integrations::courier::{
    Contact, CourierError, CourierPartner, OrderRequest, Push, PushError, ShipmentStatus,
};
use chrono::SubsecRound as _;
use poem::http::HeaderMap;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{EndpointExt, Request, Response, Route, Server, handler, post};
use tokio::task::JoinHandle;

const PARTNER_ID: &str = "BEEBOX_TEST";
const CHECK_WORD: &str = "test-check-word-0123456789abcdef";
const SECRET: &str = "test-webhook-secret";
const PHONE: &str = "13812345678";
const DETAIL: &str = "文三路 90 号 1 幢 101 室";

/// A push as our webhook got it, and what `verify_push` made of it.
struct Received {
    headers: HeaderMap,
    query: Option<String>,
    body: Vec<u8>,
    outcome: Result<Push, PushError>,
}

struct Webhook {
    verifier: SfExpress,
    received: Mutex<Vec<Received>>,
    /// Answer 500 to everything, as a webhook that is down.
    down: AtomicBool,
}

struct Harness {
    sim: SfSimulator,
    sf: SfExpress,
    webhook: Arc<Webhook>,
    sim_url: String,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn settings(api_base: &str) -> SfSettings {
    SfSettings {
        api_base: api_base.into(),
        partner_id: PARTNER_ID.into(),
        check_word: CHECK_WORD.into(),
        webhook_secret: SECRET.into(),
        monthly_card: Some("7551234567".into()),
        express_type_id: 1,
        timeout: Duration::from_millis(600),
        push_max_age: Duration::from_secs(900),
    }
}

async fn bind() -> (impl Acceptor, u16) {
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let port = acceptor.local_addr()[0]
        .as_socket_addr()
        .expect("a TCP address")
        .port();
    (acceptor, port)
}

#[handler]
async fn receive(req: &Request, body: poem::Body, Data(hook): Data<&Arc<Webhook>>) -> Response {
    let body = body.into_vec().await.unwrap_or_default();
    let outcome = hook
        .verifier
        .verify_push(req.headers(), req.uri().query(), &body);
    let reply = if hook.down.load(Ordering::SeqCst) {
        None
    } else {
        Some(match &outcome {
            Ok(_) => hook.verifier.push_accepted(),
            Err(e) => hook.verifier.push_refused(e),
        })
    };
    hook.received.lock().unwrap().push(Received {
        headers: req.headers().clone(),
        query: req.uri().query().map(String::from),
        body,
        outcome,
    });
    match reply {
        None => Response::builder()
            .status(poem::http::StatusCode::INTERNAL_SERVER_ERROR)
            .finish(),
        Some(reply) => Response::builder()
            .status(poem::http::StatusCode::from_u16(reply.status).unwrap())
            .content_type(reply.content_type)
            .body(reply.body),
    }
}

impl Harness {
    /// The simulator with its clock frozen: parcels move only by `advance`.
    async fn start() -> Self {
        let harness = Self::running(Duration::from_secs(3600)).await;
        harness.sim.freeze(true);
        harness
    }

    /// The simulator moving each parcel one step per `step`, the first one at once.
    async fn running(step: Duration) -> Self {
        Self::with_pickup_wait(step, false).await
    }

    /// As `running`; with `wait`, a parcel is collected only once its pickup time has come.
    async fn with_pickup_wait(step: Duration, wait: bool) -> Self {
        let (sim_acceptor, sim_port) = bind().await;
        let (hook_acceptor, hook_port) = bind().await;
        let sim_url = format!("http://127.0.0.1:{sim_port}/_sim/sf");
        let sim = SfSimulator::new(SimSettings {
            partner_id: PARTNER_ID.into(),
            check_word: CHECK_WORD.into(),
            push_url: format!(
                "http://127.0.0.1:{hook_port}/v1/webhooks/courier/sf?secret={SECRET}"
            ),
            step,
            // These orders book a pickup two hours ahead; most tests have the courier come at once.
            skip_pickup_wait: !wait,
        });
        sim.set_push_retry_interval(Duration::from_millis(20));
        let webhook = Arc::new(Webhook {
            verifier: SfExpress::new(settings("http://127.0.0.1:9/unused")),
            received: Mutex::new(Vec::new()),
            down: AtomicBool::new(false),
        });
        let sim_app = Route::new().nest("/_sim/sf", sim.routes());
        let hook_app = Route::new()
            .at("/v1/webhooks/courier/sf", post(receive))
            .data(webhook.clone());
        let tasks = vec![
            tokio::spawn(async move {
                let _ = Server::new_with_acceptor(sim_acceptor).run(sim_app).await;
            }),
            tokio::spawn(async move {
                let _ = Server::new_with_acceptor(hook_acceptor).run(hook_app).await;
            }),
        ];
        Self {
            sf: SfExpress::new(settings(&format!("{sim_url}/std/service"))),
            sim,
            webhook,
            sim_url,
            tasks,
        }
    }

    async fn create(&self, order_id: &str) -> String {
        self.sf
            .create_order(&order(order_id))
            .await
            .expect("the order is created")
            .waybill_no
    }

    /// Waits until the webhook holds `count` pushes, then returns their op codes and event ids.
    async fn pushes(&self, count: usize) -> Vec<(String, String)> {
        wait_until(&format!("{count} pushes"), || {
            self.webhook.received.lock().unwrap().len() >= count
        })
        .await;
        self.webhook
            .received
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| {
                let push = r.outcome.as_ref().expect("every push verifies");
                push.events
                    .iter()
                    .map(|e| (e.op_code.clone(), e.event_id.clone()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

fn contact(name: &str, city: &str) -> Contact {
    Contact {
        name: name.into(),
        phone: PHONE.into(),
        province: "浙江省".into(),
        city: city.into(),
        district: "西湖区".into(),
        detail: DETAIL.into(),
    }
}

fn order(order_id: &str) -> OrderRequest {
    OrderRequest {
        order_id: order_id.into(),
        sender: contact("张三", "杭州市"),
        recipient: contact("政务服务中心", "杭州市"),
        pickup_from: Some(chrono::Utc::now() + chrono::Duration::hours(2)),
        pickup_until: Some(chrono::Utc::now() + chrono::Duration::hours(5)),
        cargo: "文件".into(),
        remark: Some("材料原件".into()),
    }
}

fn unique(label: &str) -> String {
    format!("{label}-{}", uuid::Uuid::new_v4().simple())
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn assert_retryable(result: Result<impl std::fmt::Debug, CourierError>, what: &str) {
    assert!(
        matches!(result, Err(CourierError::Retryable(_))),
        "{what}: {result:?}"
    );
}

fn assert_final(result: Result<impl std::fmt::Debug, CourierError>, what: &str) {
    assert!(
        matches!(result, Err(CourierError::Final(_))),
        "{what}: {result:?}"
    );
}

/// A push form, signed with `check_word` now.
fn push_form(msg_data: &str, check_word: &str) -> Vec<u8> {
    push_form_at(msg_data, check_word, chrono::Utc::now())
}

/// A push form, signed with `check_word` at `signed_at`.
fn push_form_at(
    msg_data: &str,
    check_word: &str,
    signed_at: chrono::DateTime<chrono::Utc>,
) -> Vec<u8> {
    let timestamp = signed_at.timestamp_millis().to_string();
    let timestamp = timestamp.as_str();
    let digest = msg_digest(msg_data, timestamp, check_word);
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    format!(
        "partnerID={PARTNER_ID}&requestID=r1&serviceCode=RoutePushService&timestamp={timestamp}&msgDigest={}&msgData={}",
        encode(&digest),
        encode(msg_data)
    )
    .into_bytes()
}

#[tokio::test]
async fn creating_an_order_returns_an_sf_waybill() {
    let h = Harness::start().await;
    let waybill = h.create(&unique("o")).await;
    assert!(
        waybill.starts_with("SF") && waybill.len() == 15,
        "{waybill}"
    );
    assert!(waybill[2..].chars().all(|c| c.is_ascii_digit()));
}

#[tokio::test]
async fn creating_again_with_the_same_order_id_returns_the_same_waybill() {
    let h = Harness::start().await;
    let order_id = unique("o");
    let first = h.create(&order_id).await;
    let second = h.create(&order_id).await;
    assert_eq!(first, second);
    let orders = h.sim.orders();
    assert_eq!(orders.len(), 1, "exactly one partner order: {orders:?}");
    assert_eq!(orders[0].create_calls, 2);
}

#[tokio::test]
async fn a_retry_after_a_lost_answer_finds_the_order_instead_of_making_a_second() {
    let h = Harness::start().await;
    let order_id = unique("o");
    h.sim.fail_next(1, SimFault::LoseAnswer);
    assert_retryable(
        h.sf.create_order(&order(&order_id)).await,
        "the lost answer",
    );
    let waybill = h.create(&order_id).await;
    let orders = h.sim.orders();
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0].waybill_no, waybill);
}

#[tokio::test]
async fn a_cancelled_order_stops_and_its_id_is_refused_when_reused() {
    let h = Harness::start().await;
    let order_id = unique("o");
    let waybill = h.create(&order_id).await;
    h.sf.cancel_order(&order_id).await.unwrap();
    // Cancelling twice is cancelling once.
    h.sf.cancel_order(&order_id).await.unwrap();
    assert_eq!(
        h.sim.advance(&waybill),
        None,
        "a cancelled parcel does not move"
    );
    assert_final(h.sf.create_order(&order(&order_id)).await, "reusing the id");
    let orders = h.sim.orders();
    assert_eq!(orders.len(), 1);
    assert!(orders[0].cancelled);
}

#[tokio::test]
async fn a_collected_parcel_cannot_be_cancelled() {
    let h = Harness::start().await;
    let order_id = unique("o");
    let waybill = h.create(&order_id).await;
    assert_eq!(h.sim.advance(&waybill).as_deref(), Some("50"));
    assert_final(
        h.sf.cancel_order(&order_id).await,
        "cancelling after pickup",
    );
    assert_final(
        h.sf.cancel_order(&unique("unknown")).await,
        "an unknown order",
    );
}

#[tokio::test]
async fn gateway_errors_timeouts_and_busy_answers_are_retryable() {
    let h = Harness::start().await;
    let faults = [
        SimFault::Http(500),
        SimFault::Http(502),
        SimFault::Timeout,
        SimFault::ApiCode("A1099".into()),
        SimFault::ApiCode("A1005".into()),
        SimFault::ApiCode("A1009".into()),
    ];
    for fault in faults {
        h.sim.fail_next(1, fault.clone());
        assert_retryable(
            h.sf.create_order(&order(&unique("o"))).await,
            &format!("{fault:?}"),
        );
    }
    h.sim.fail_next(1, SimFault::Http(503));
    assert_retryable(
        h.sf.query_routes(&["SF1234567890123".into()]).await,
        "a query",
    );
    h.sim.fail_next(1, SimFault::Timeout);
    assert_retryable(h.sf.cancel_order("o").await, "a cancel");
    assert!(h.sim.orders().is_empty(), "a failed call creates nothing");
    h.create(&unique("o")).await;
}

#[tokio::test]
async fn a_wrong_check_word_or_partner_is_refused_for_good() {
    let h = Harness::start().await;
    let api_base = format!("{}/std/service", h.sim_url);
    let wrong_word = SfExpress::new(SfSettings {
        check_word: "not-the-check-word".into(),
        ..settings(&api_base)
    });
    let error = wrong_word.create_order(&order("o")).await.unwrap_err();
    assert!(
        matches!(&error, CourierError::Final(m) if m.contains("A1006")),
        "{error:?}"
    );
    assert!(!error.to_string().contains("not-the-check-word"));
    let wrong_partner = SfExpress::new(SfSettings {
        partner_id: "SOMEONE_ELSE".into(),
        ..settings(&api_base)
    });
    assert_final(
        wrong_partner.create_order(&order("o")).await,
        "a wrong partner",
    );
    h.sim.fail_next(1, SimFault::ApiCode("A1004".into()));
    assert_final(h.sf.create_order(&order("o")).await, "no permission");
    assert!(h.sim.orders().is_empty());
}

#[tokio::test]
async fn business_refusals_are_final_and_keep_addresses_and_phones_out() {
    let h = Harness::start().await;
    let mut bad = order(&unique("o"));
    bad.recipient.phone = String::new();
    let error = h.sf.create_order(&bad).await.unwrap_err();
    assert!(
        matches!(&error, CourierError::Final(m) if m.contains("1016")),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(!text.contains(PHONE) && !text.contains(DETAIL) && !text.contains(CHECK_WORD));
}

#[tokio::test]
async fn each_step_is_pushed_in_order_and_verifies() {
    let h = Harness::running(Duration::from_millis(40)).await;
    let waybill = h.create(&unique("o")).await;
    let pushed = h.pushes(5).await;
    let codes: Vec<&str> = pushed.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(codes, ["50", "30", "31", "44", "80"]);
    let received = h.webhook.received.lock().unwrap();
    let statuses: Vec<ShipmentStatus> = received
        .iter()
        .map(|r| r.outcome.as_ref().unwrap().events[0].status)
        .collect();
    use ShipmentStatus::*;
    assert_eq!(
        statuses,
        [PickedUp, InTransit, InTransit, OutForDelivery, Delivered]
    );
    let first = &received[0].outcome.as_ref().unwrap().events[0];
    assert_eq!(first.waybill_no, waybill);
    assert_eq!(first.location.as_deref(), Some("杭州市"));
    assert_eq!(first.description, "顺丰速运 已收取快件");
    assert_eq!(first.raw["opCode"], "50");
    assert!(first.raw["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(
        received.windows(2).all(|w| {
            w[0].outcome.as_ref().unwrap().events[0].occurred_at
                < w[1].outcome.as_ref().unwrap().events[0].occurred_at
        }),
        "steps move forward in time"
    );
    drop(received);
    assert!(h.sim.pushes().iter().all(|p| p.accepted && p.attempt == 1));
    assert_eq!(h.sim.orders()[0].steps_done, 5);
}

#[tokio::test]
async fn query_routes_gives_the_same_event_ids_as_the_pushes() {
    let h = Harness::start().await;
    let waybill = h.create(&unique("o")).await;
    for _ in 0..3 {
        h.sim.advance(&waybill).unwrap();
    }
    let pushed = h.pushes(3).await;
    let queried =
        h.sf.query_routes(std::slice::from_ref(&waybill))
            .await
            .unwrap();
    let queried: Vec<(String, String)> = queried
        .into_iter()
        .map(|e| (e.op_code, e.event_id))
        .collect();
    assert_eq!(queried, pushed);
    assert!(h.sf.query_routes(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_tampered_push_or_a_wrong_secret_is_unauthenticated() {
    let h = Harness::start().await;
    let waybill = h.create(&unique("o")).await;
    h.sim.advance(&waybill).unwrap();
    h.pushes(1).await;
    let (headers, query, body) = {
        let received = h.webhook.received.lock().unwrap();
        let r = &received[0];
        (r.headers.clone(), r.query.clone(), r.body.clone())
    };
    let sf = &h.sf;
    assert!(sf.verify_push(&headers, query.as_deref(), &body).is_ok());

    // The same push with its step changed from 50 (collected) to 80 (delivered).
    let tampered = String::from_utf8(body.clone())
        .unwrap()
        .replace("%2250%22", "%2280%22");
    assert_ne!(tampered.as_bytes(), &body[..], "the push carries opCode 50");
    let refused = sf.verify_push(&headers, query.as_deref(), tampered.as_bytes());
    assert_eq!(refused.unwrap_err(), PushError::Unauthenticated);

    for query in [None, Some("secret=wrong"), Some("secret=")] {
        let outcome = sf.verify_push(&HeaderMap::new(), query, &body);
        assert_eq!(
            outcome.unwrap_err(),
            PushError::Unauthenticated,
            "{query:?}"
        );
    }
    // The secret may come in a header instead.
    let mut with_header = HeaderMap::new();
    with_header.insert("X-Beebox-Webhook-Secret", SECRET.parse().unwrap());
    assert!(sf.verify_push(&with_header, None, &body).is_ok());
    with_header.insert("X-Beebox-Webhook-Secret", "wrong".parse().unwrap());
    assert_eq!(
        sf.verify_push(&with_header, None, &body).unwrap_err(),
        PushError::Unauthenticated
    );

    // Signed with another check word.
    let forged = push_form(r#"{"Body":{"WaybillRoute":[]}}"#, "someone-elses-word");
    let outcome = sf.verify_push(
        &HeaderMap::new(),
        Some("secret=test-webhook-secret"),
        &forged,
    );
    assert_eq!(outcome.unwrap_err(), PushError::Unauthenticated);

    let reply = sf.push_refused(&PushError::Unauthenticated);
    assert_eq!(reply.status, 401);
    let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(json["return_code"], "1000");
}

#[tokio::test]
async fn garbage_with_a_valid_secret_and_digest_is_malformed() {
    let h = Harness::start().await;
    let query = Some("secret=test-webhook-secret");
    for garbage in [
        "not json at all",
        r#"{"Body":{}}"#,
        r#"{"Body":{"WaybillRoute":[{"mailno":"SF1","opCode":"50","acceptTime":"yesterday"}]}}"#,
    ] {
        let body = push_form(garbage, CHECK_WORD);
        let outcome = h.sf.verify_push(&HeaderMap::new(), query, &body);
        assert!(
            matches!(outcome, Err(PushError::Malformed(_))),
            "{garbage}: {outcome:?}"
        );
    }
    let good = push_form(
        r#"{"Body":{"WaybillRoute":[{"mailno":"SF7444400031887","acceptAddress":"深圳市","orderid":"o","acceptTime":"2020-05-11 16:56:54","remark":"顺丰速运 已收取快件","opCode":"50","id":"158918741444476"}]}}"#,
        CHECK_WORD,
    );
    let push = h.sf.verify_push(&HeaderMap::new(), query, &good).unwrap();
    assert_eq!(push.events.len(), 1);
    assert_eq!(
        push.events[0].occurred_at.to_rfc3339(),
        "2020-05-11T08:56:54+00:00",
        "SF's times are China time"
    );

    let reply = h.sf.push_refused(&PushError::Malformed("x".into()));
    assert_eq!(reply.status, 400);
    let accepted = h.sf.push_accepted();
    assert_eq!(accepted.status, 200);
    assert_eq!(
        accepted.body,
        r#"{"return_code":"0000","return_msg":"成功"}"#
    );
    // A digest is the Base64 of a 16-byte MD5.
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(msg_digest("x", "1", CHECK_WORD))
            .unwrap()
            .len(),
        16
    );
}

#[tokio::test]
async fn duplicate_mode_pushes_each_step_twice_with_the_same_ids() {
    let h = Harness::start().await;
    h.sim.set_push_mode(PushMode {
        duplicate: true,
        ..PushMode::default()
    });
    let waybill = h.create(&unique("o")).await;
    h.sim.advance(&waybill).unwrap();
    h.sim.advance(&waybill).unwrap();
    let pushed = h.pushes(4).await;
    assert_eq!(pushed[0], pushed[1]);
    assert_eq!(pushed[2], pushed[3]);
    assert_ne!(pushed[0].1, pushed[2].1);
}

#[tokio::test]
async fn reorder_mode_pushes_delivered_before_picked_up() {
    let h = Harness::start().await;
    h.sim.set_push_mode(PushMode {
        reorder: true,
        ..PushMode::default()
    });
    let waybill = h.create(&unique("o")).await;
    for _ in 0..4 {
        h.sim.advance(&waybill).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        h.webhook.received.lock().unwrap().is_empty(),
        "held until delivered"
    );
    assert_eq!(h.sim.advance(&waybill).as_deref(), Some("80"));
    assert_eq!(h.sim.advance(&waybill), None, "delivered is the last step");
    let codes: Vec<String> = h.pushes(5).await.into_iter().map(|(c, _)| c).collect();
    assert_eq!(codes, ["80", "44", "31", "30", "50"]);
}

#[tokio::test]
async fn drop_mode_pushes_nothing_but_the_query_finds_every_step() {
    let h = Harness::start().await;
    h.sim.set_push_mode(PushMode {
        drop: true,
        ..PushMode::default()
    });
    let waybill = h.create(&unique("o")).await;
    while h.sim.advance(&waybill).is_some() {}
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(h.webhook.received.lock().unwrap().is_empty());
    assert!(h.sim.pushes().is_empty());
    let events =
        h.sf.query_routes(std::slice::from_ref(&waybill))
            .await
            .unwrap();
    let statuses: Vec<ShipmentStatus> = events.iter().map(|e| e.status).collect();
    assert_eq!(statuses.len(), 5);
    assert_eq!(statuses.last(), Some(&ShipmentStatus::Delivered));
}

#[tokio::test]
async fn a_delayed_push_arrives_late() {
    let h = Harness::start().await;
    h.sim.set_push_mode(PushMode {
        delay: Duration::from_millis(300),
        ..PushMode::default()
    });
    let waybill = h.create(&unique("o")).await;
    let started = Instant::now();
    h.sim.advance(&waybill).unwrap();
    h.pushes(1).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_refused_push_is_tried_three_times_then_given_up() {
    let h = Harness::start().await;
    h.webhook.down.store(true, Ordering::SeqCst);
    let waybill = h.create(&unique("o")).await;
    h.sim.advance(&waybill).unwrap();
    wait_until("three tries", || h.sim.pushes().len() >= 3).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let attempts = h.sim.pushes();
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    assert_eq!(
        attempts.iter().map(|a| a.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(
        attempts
            .iter()
            .all(|a| !a.accepted && a.status == Some(500))
    );
}

#[tokio::test]
async fn a_frozen_clock_moves_parcels_only_by_hand() {
    let h = Harness::running(Duration::from_millis(20)).await;
    h.sim.freeze(true);
    let waybill = h.create(&unique("o")).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(h.sim.orders()[0].steps_done, 0);
    assert_eq!(h.sim.advance(&waybill).as_deref(), Some("50"));
    assert_eq!(h.sim.orders()[0].steps_done, 1);
    h.sim.freeze(false);
    wait_until("delivery", || h.sim.orders()[0].steps_done == 5).await;
}

#[tokio::test]
async fn a_query_for_more_than_ten_waybills_is_split() {
    let h = Harness::start().await;
    let mut waybills = Vec::new();
    for _ in 0..12 {
        let waybill = h.create(&unique("o")).await;
        h.sim.advance(&waybill).unwrap();
        waybills.push(waybill);
    }
    let events = h.sf.query_routes(&waybills).await.unwrap();
    let found: Vec<&str> = events.iter().map(|e| e.waybill_no.as_str()).collect();
    assert_eq!(
        found,
        waybills.iter().map(String::as_str).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn the_control_endpoint_scripts_the_simulator() {
    let h = Harness::start().await;
    let client = reqwest::Client::new();
    let control = format!("{}/control", h.sim_url);
    let answer = client
        .post(&control)
        .json(
            &serde_json::json!({"action": "fail_next", "count": 1, "fault": "http", "status": 500}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_retryable(
        h.sf.create_order(&order(&unique("o"))).await,
        "scripted 500",
    );
    let waybill = h.create(&unique("o")).await;
    let answer: serde_json::Value = client
        .post(&control)
        .json(&serde_json::json!({"action": "advance", "waybill": waybill}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["op_code"], "50");
    let state: serde_json::Value = client
        .get(&control)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["orders"][0]["waybill_no"], waybill.as_str());
    assert_eq!(state["orders"][0]["steps_done"], 1);
}

#[tokio::test]
async fn a_parcel_waits_for_its_pickup_time_on_the_simulators_clock() {
    let h = Harness::with_pickup_wait(Duration::from_millis(20), true).await;
    let order = order(&unique("o"));
    let pickup_from = order.pickup_from.unwrap();
    let waybill = h.sf.create_order(&order).await.unwrap().waybill_no;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.sim.orders()[0].steps_done, 0, "nothing before the window");
    assert!(h.webhook.received.lock().unwrap().is_empty());

    // Two hours pass on the simulator's clock: the courier comes, then every step follows.
    h.sim.shift_clock(Duration::from_secs(2 * 3600 + 60));
    let pushed = h.pushes(5).await;
    let codes: Vec<&str> = pushed.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(codes, ["50", "30", "31", "44", "80"]);
    let received = h.webhook.received.lock().unwrap();
    let collected = &received[0].outcome.as_ref().unwrap().events[0];
    assert_eq!(collected.waybill_no, waybill);
    assert!(collected.occurred_at >= pickup_from.trunc_subsecs(0));
}

#[tokio::test]
async fn the_control_endpoint_shifts_the_simulators_clock() {
    let h = Harness::start().await;
    let before = h.sim.now();
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/control", h.sim_url))
        .json(&serde_json::json!({"action": "shift_clock", "secs": 86400}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["ok"], true);
    let now = h.sim.now();
    assert!(
        now - before >= chrono::Duration::hours(24),
        "{before} -> {now}"
    );
}

#[tokio::test]
async fn a_push_signed_outside_the_window_is_stale_in_sfs_format() {
    let h = Harness::start().await;
    let query = Some("secret=test-webhook-secret");
    let msg = r#"{"Body":{"WaybillRoute":[{"mailno":"SF7444400031887","acceptAddress":"深圳市","orderid":"o","acceptTime":"2020-05-11 16:56:54","remark":"顺丰速运 已收取快件","opCode":"50","id":"158918741444476"}]}}"#;
    let now = chrono::Utc::now();
    for signed_at in [
        now - chrono::Duration::minutes(16),
        now + chrono::Duration::minutes(16),
    ] {
        let body = push_form_at(msg, CHECK_WORD, signed_at);
        let outcome = h.sf.verify_push(&HeaderMap::new(), query, &body);
        assert_eq!(outcome.unwrap_err(), PushError::Stale, "{signed_at}");
    }
    let body = push_form_at(msg, CHECK_WORD, now - chrono::Duration::minutes(14));
    assert!(h.sf.verify_push(&HeaderMap::new(), query, &body).is_ok());
    // A forged old push is still unauthenticated, not stale: the signature comes first.
    let forged = push_form_at(msg, "someone-elses-word", now - chrono::Duration::hours(1));
    assert_eq!(
        h.sf.verify_push(&HeaderMap::new(), query, &forged)
            .unwrap_err(),
        PushError::Unauthenticated
    );

    for (error, status) in [(PushError::Stale, 401), (PushError::RateLimited, 429)] {
        let reply = h.sf.push_refused(&error);
        assert_eq!(reply.status, status);
        let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(json["return_code"], "1000");
    }
}
