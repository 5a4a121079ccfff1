//! A local SF Express: the open platform's protocol from SF's side, so dev and the tests run the
//! real adapter with no outside network. It checks partnerID and `msgDigest`, issues waybills,
//! moves each parcel along its route on a clock and pushes every step, signed, to `push_url`.
//! A parcel with a pickup time is collected no earlier than that time on the simulator's own
//! clock (real time, shifted by `shift_clock`), unless `skip_pickup_wait` says otherwise.
//! Tests and demos script its faults through Rust methods or `POST /control`. It is a stand-in:
//! prod never mounts it (config refuses the dev credentials it runs with).

mod api;
mod clock;
mod control;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use poem::{EndpointExt, Route, post};
use rand::Rng as _;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;

use clock::PushJob;
pub use control::Control;

#[derive(Debug, Clone)]
pub struct SimSettings {
    pub partner_id: String,
    pub check_word: String,
    /// Where route pushes go (our webhook, with its secret).
    pub push_url: String,
    /// Time between route steps of a parcel.
    pub step: std::time::Duration,
    /// Collect at once instead of waiting for the order's pickup time (`sendStartTm`): for
    /// demos and tests.
    pub skip_pickup_wait: bool,
}

/// A scripted failure, used up by one API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimFault {
    /// This HTTP status with no SF envelope (a gateway in the way).
    Http(u16),
    /// No answer until the client gives up; nothing is done.
    Timeout,
    /// This platform `apiResultCode` (`A1099`, `A1005`, `A1006`...); nothing is done.
    ApiCode(String),
    /// The call is carried out, then no answer comes: a retry meets the order it created.
    LoseAnswer,
}

/// How route pushes leave the simulator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushMode {
    /// Wait this long before each push.
    pub delay: Duration,
    /// Push every step twice.
    pub duplicate: bool,
    /// Hold the steps back and push them last-first once the parcel is delivered.
    pub reorder: bool,
    /// Push nothing: only a route query finds the steps.
    pub drop: bool,
}

/// An order as the simulator holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SimOrder {
    pub order_id: String,
    pub waybill_no: String,
    pub cancelled: bool,
    /// Every `EXP_RECE_CREATE_ORDER` call with this orderId, refused repeats included.
    pub create_calls: u32,
    /// Route steps so far (0 = not yet picked up, 5 = delivered).
    pub steps_done: usize,
}

/// One try to deliver a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushAttempt {
    pub waybill_no: String,
    pub op_codes: Vec<String>,
    /// 1 for the first try of this push.
    pub attempt: u32,
    /// Our webhook answered 200 with `return_code` 0000.
    pub accepted: bool,
    /// The HTTP status, `None` when the request failed.
    pub status: Option<u16>,
}

#[derive(Clone)]
pub struct SfSimulator {
    shared: Arc<Shared>,
}

struct Shared {
    settings: SimSettings,
    http: reqwest::Client,
    state: Mutex<State>,
}

struct State {
    orders: Vec<OrderState>,
    faults: VecDeque<SimFault>,
    mode: PushMode,
    frozen: bool,
    retry_interval: Duration,
    pushes: Vec<PushAttempt>,
    next_route_id: u64,
    /// How far the simulator's clock runs ahead of real time.
    shift: chrono::Duration,
}

struct OrderState {
    order_id: String,
    waybill_no: String,
    cancelled: bool,
    create_calls: u32,
    from_city: String,
    to_city: String,
    /// Each step as SF pushes it (with `id`, `mailno`, `orderid`).
    routes: Vec<Value>,
    /// When the courier may come (`sendStartTm`); the first step waits for it.
    pickup_from: Option<DateTime<Utc>>,
    /// Steps held back in reorder mode.
    held: Vec<Value>,
    last_at: Option<DateTime<Utc>>,
    pusher: mpsc::UnboundedSender<PushJob>,
}

impl SfSimulator {
    pub fn new(settings: SimSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("an HTTP client");
        let state = State {
            orders: Vec::new(),
            faults: VecDeque::new(),
            mode: PushMode::default(),
            frozen: false,
            retry_interval: Duration::from_secs(1),
            pushes: Vec::new(),
            next_route_id: 158_918_741_000_000 + rand::thread_rng().gen_range(0..1_000_000),
            shift: chrono::Duration::zero(),
        };
        Self {
            shared: Arc::new(Shared {
                settings,
                http,
                state: Mutex::new(state),
            }),
        }
    }

    /// The simulator's HTTP side, to mount at `partners::SIM_MOUNT`: `POST /std/service`
    /// (SF's API), `POST /control` (scripting, see [`Control`]) and `GET /control` (state).
    pub fn routes(&self) -> poem::Route {
        Route::new()
            .at("/std/service", post(api::api).data(self.clone()))
            .at(
                "/control",
                post(control::control)
                    .get(control::control_state)
                    .data(self.clone()),
            )
    }

    /// The next `count` API calls fail with `fault`.
    pub fn fail_next(&self, count: usize, fault: SimFault) {
        let mut state = self.state();
        state.faults.extend(std::iter::repeat_n(fault, count));
    }

    pub fn set_push_mode(&self, mode: PushMode) {
        self.state().mode = mode;
    }

    /// How long SF waits before trying a refused push again.
    pub fn set_push_retry_interval(&self, interval: Duration) {
        self.state().retry_interval = interval;
    }

    /// Stops (or restarts) the clock; `advance` still moves parcels by hand.
    pub fn freeze(&self, frozen: bool) {
        self.state().frozen = frozen;
    }

    /// Moves the simulator's clock `by` ahead: parcels waiting for a pickup time that this
    /// reaches are collected on their next tick.
    pub fn shift_clock(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
        self.state().shift += by;
    }

    /// The simulator's clock: real time plus every `shift_clock`.
    pub fn now(&self) -> DateTime<Utc> {
        self.state().now()
    }

    /// Moves a parcel one step now, pushing it as the mode says. Its opCode, or `None` when the
    /// waybill is unknown, cancelled or delivered.
    pub fn advance(&self, waybill_no: &str) -> Option<String> {
        let mut state = self.state();
        let index = state
            .orders
            .iter()
            .position(|o| o.waybill_no == waybill_no)?;
        clock::advance_locked(&mut state, index)
    }

    pub fn orders(&self) -> Vec<SimOrder> {
        self.state()
            .orders
            .iter()
            .map(|o| SimOrder {
                order_id: o.order_id.clone(),
                waybill_no: o.waybill_no.clone(),
                cancelled: o.cancelled,
                create_calls: o.create_calls,
                steps_done: o.routes.len(),
            })
            .collect()
    }

    /// Every push attempt so far, in the order they were made.
    pub fn pushes(&self) -> Vec<PushAttempt> {
        self.state().pushes.clone()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state()
    }
}

impl State {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.shift
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `beebox courier-sim`: the simulator on its own server, SF's API at `http://{addr}/std/service`.
pub async fn serve_standalone(settings: SimSettings, addr: SocketAddr) -> anyhow::Result<()> {
    let simulator = SfSimulator::new(settings);
    tracing::info!(%addr, "SF simulator: POST /std/service, POST|GET /control");
    poem::Server::new(poem::listener::TcpListener::bind(addr))
        .run(simulator.routes())
        .await
        .context("the SF simulator server stopped")
}
