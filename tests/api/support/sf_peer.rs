//! The peers of the SF Express adapter's tests, each on a real HTTP server: the SF simulator on
//! its own port (mounted as in dev at `/_sim/sf`), and a small webhook that checks every push
//! with `SfExpress::verify_push` and answers as our server does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use beebox::integrations::courier::sf::{SfExpress, SfSettings};
use beebox::integrations::courier::sim::{CourierSimulator, SfCredentials, SimSettings};
use beebox::integrations::courier::{CourierError, CourierPartner, OrderRequest, Push, PushError};
use poem::http::HeaderMap;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{EndpointExt, Request, Response, Route, Server, handler, post};
use tokio::task::JoinHandle;

use super::sf::{contact, signed_push_from};
use super::wait::comes_true;

pub const PARTNER_ID: &str = "BEEBOX_TEST";
pub const CHECK_WORD: &str = "test-check-word-0123456789abcdef";
pub const SECRET: &str = "test-webhook-secret";
/// How long a test waits for the simulator, and how often it looks.
pub const SF_WAIT: Duration = Duration::from_secs(10);
pub const SF_LOOK: Duration = Duration::from_millis(10);

/// A push as our webhook got it, and what `verify_push` made of it.
pub struct Received {
    pub headers: HeaderMap,
    pub query: Option<String>,
    pub body: Vec<u8>,
    pub outcome: Result<Push, PushError>,
}

pub struct Webhook {
    pub verifier: SfExpress,
    pub received: Mutex<Vec<Received>>,
    /// Answer 500 to everything, as a webhook that is down.
    pub down: AtomicBool,
}

pub struct Harness {
    pub sim: CourierSimulator,
    pub sf: SfExpress,
    pub webhook: Arc<Webhook>,
    pub sim_url: String,
    pub tasks: Vec<JoinHandle<()>>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

pub fn settings(api_base: &str) -> SfSettings {
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

pub async fn bind() -> (impl Acceptor, u16) {
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
pub async fn receive(req: &Request, body: poem::Body, Data(hook): Data<&Arc<Webhook>>) -> Response {
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
    pub async fn start() -> Self {
        let harness = Self::running(Duration::from_secs(3600)).await;
        harness.sim.freeze(true);
        harness
    }

    /// The simulator moving each parcel one step per `step`, the first one at once.
    pub async fn running(step: Duration) -> Self {
        Self::with_pickup_wait(step, false).await
    }

    /// As `running`; with `wait`, a parcel is collected only once its pickup time has come.
    pub async fn with_pickup_wait(step: Duration, wait: bool) -> Self {
        let (sim_acceptor, sim_port) = bind().await;
        let (hook_acceptor, hook_port) = bind().await;
        let sim_url = format!("http://127.0.0.1:{sim_port}/_sim/sf");
        let sim = CourierSimulator::sf(
            sf_account(),
            SimSettings {
                push_url: format!(
                    "http://127.0.0.1:{hook_port}/v1/webhooks/courier/sf?secret={SECRET}"
                ),
                step,
                // These orders book a pickup two hours ahead; most tests have the courier come at once.
                skip_pickup_wait: !wait,
            },
        );
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

    pub async fn create(&self, order_id: &str) -> String {
        self.sf
            .create_order(&order(order_id))
            .await
            .expect("the order is created")
            .waybill_no
    }

    /// Waits until the webhook holds `count` pushes, then returns their op codes and event ids.
    pub async fn pushes(&self, count: usize) -> Vec<(String, String)> {
        let arrived = comes_true(SF_WAIT, SF_LOOK, || {
            self.webhook.received.lock().unwrap().len() >= count
        })
        .await;
        assert!(arrived, "timed out waiting for {count} pushes");
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

pub fn order(order_id: &str) -> OrderRequest {
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

pub fn unique(label: &str) -> String {
    format!("{label}-{}", uuid::Uuid::new_v4().simple())
}

pub fn assert_retryable(result: Result<impl std::fmt::Debug, CourierError>, what: &str) {
    assert!(
        matches!(result, Err(CourierError::Retryable(_))),
        "{what}: {result:?}"
    );
}

pub fn assert_final(result: Result<impl std::fmt::Debug, CourierError>, what: &str) {
    assert!(
        matches!(result, Err(CourierError::Final(_))),
        "{what}: {result:?}"
    );
}

/// A push form's body, signed with `check_word` now.
pub fn push_form(msg_data: &str, check_word: &str) -> Vec<u8> {
    push_form_at(msg_data, check_word, chrono::Utc::now())
}

/// A push form's body from `PARTNER_ID`, signed with `check_word` at `signed_at`, every value
/// percent-encoded but for letters and digits.
pub fn push_form_at(
    msg_data: &str,
    check_word: &str,
    signed_at: chrono::DateTime<chrono::Utc>,
) -> Vec<u8> {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    signed_push_from(PARTNER_ID, msg_data, check_word, signed_at)
        .iter()
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

fn sf_account() -> SfCredentials {
    SfCredentials {
        partner_id: PARTNER_ID.into(),
        check_word: CHECK_WORD.into(),
    }
}
