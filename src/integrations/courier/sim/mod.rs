//! Local courier partners: each partner's open platform from its own side, so dev and the tests
//! run the real adapters with no outside network. A simulator checks the partner's credentials
//! and signature or seal, issues waybills, moves each parcel along a five-step route on a clock
//! and pushes every step, signed as the partner signs, to `push_url`. A parcel with a pickup
//! time is collected no earlier than that time on the simulator's own clock (real time, shifted
//! by `shift_clock`), unless `skip_pickup_wait` says otherwise. Tests and demos script its
//! faults through Rust methods or `POST /control`. What differs between partners (the API, the
//! route steps, the push) is a `Dialect`: `sf` (SF Express) and `ems` (China Post EMS). It is a
//! stand-in: prod never mounts it (config refuses the dev credentials it runs with).

mod api;
mod clock;
mod control;
mod ems;
mod sf;

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

use clock::{PushJob, run_clock, run_pusher};
pub use control::Control;
pub use ems::EmsCredentials;
pub use sf::SfCredentials;

/// What every simulator runs with, whatever its partner.
#[derive(Debug, Clone)]
pub struct SimSettings {
    /// Where route pushes go (our webhook, with its secret).
    pub push_url: String,
    /// Time between route steps of a parcel.
    pub step: std::time::Duration,
    /// Collect at once instead of waiting for the order's pickup time: for demos and tests.
    pub skip_pickup_wait: bool,
}

/// A scripted failure, used up by one API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimFault {
    /// This HTTP status with no partner envelope (a gateway in the way).
    Http(u16),
    /// No answer until the client gives up; nothing is done.
    Timeout,
    /// This platform code (SF `A1099`, `A1005`...; EMS `S00001`, `B00001`); nothing is done.
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
    /// Every create call with this order id, refused repeats included.
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
    /// Our webhook answered 200 with the partner's success code.
    pub accepted: bool,
    /// The HTTP status, `None` when the request failed.
    pub status: Option<u16>,
}

/// One step of a parcel's route, before the partner's format is put on it.
pub(super) struct Step {
    pub op_code: &'static str,
    pub name: &'static str,
    pub city: String,
    pub description: String,
}

/// What makes a simulator one partner's: its API, its route steps and its pushes.
#[async_trait::async_trait]
trait Dialect: Send + Sync + 'static {
    /// Where its API is mounted, under the simulator's own mount.
    fn api_path(&self) -> &'static str;
    /// Carries out one API call (no faults here).
    fn handle(&self, sim: &CourierSimulator, body: &[u8]) -> poem::Response;
    /// The platform's own refusal with this code, for `SimFault::ApiCode`.
    fn platform_error(&self, code: &str) -> poem::Response;
    /// The code `fail_next` uses when none is given: the platform's "system busy".
    fn busy_code(&self) -> &'static str;
    fn new_waybill(&self) -> String;
    /// Step `index` (0..STEPS) of a parcel from `from` to `to`.
    fn step(&self, index: usize, from: &str, to: &str) -> Step;
    /// The step as the partner pushes it.
    fn route(&self, order: &OrderState, step: &Step, at: DateTime<Utc>, id: u64) -> Value;
    fn op_code(&self, route: &Value) -> String;
    fn waybill_of(&self, route: &Value) -> String;
    /// Sends one push of these routes: the HTTP status (`None` when the request failed) and
    /// whether the answer says it was taken.
    async fn push(
        &self,
        http: &reqwest::Client,
        url: &str,
        routes: &[Value],
    ) -> (Option<u16>, bool);
}

/// Steps from collection to signature.
const STEPS: usize = 5;

#[derive(Clone)]
pub struct CourierSimulator {
    shared: Arc<Shared>,
}

struct Shared {
    code: &'static str,
    dialect: Box<dyn Dialect>,
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
    /// Each step as the partner pushes it.
    routes: Vec<Value>,
    /// When the courier may come; the first step waits for it.
    pickup_from: Option<DateTime<Utc>>,
    /// Steps held back in reorder mode.
    held: Vec<Value>,
    last_at: Option<DateTime<Utc>>,
    pusher: mpsc::UnboundedSender<PushJob>,
}

/// A new order as a dialect read it from its partner's request.
struct NewOrder {
    order_id: String,
    from_city: String,
    to_city: String,
    pickup_from: Option<DateTime<Utc>>,
}

/// What placing an order found.
enum Placed {
    New {
        waybill_no: String,
    },
    /// The order id was seen before (this call is counted).
    Existing {
        waybill_no: String,
        cancelled: bool,
    },
}

impl CourierSimulator {
    /// SF Express's open platform (`POST /std/service`).
    pub fn sf(credentials: SfCredentials, settings: SimSettings) -> Self {
        Self::new("sf", Box::new(credentials), settings)
    }

    /// China Post EMS's open platform (`POST /api/open`).
    pub fn ems(credentials: EmsCredentials, settings: SimSettings) -> Self {
        Self::new("ems", Box::new(credentials), settings)
    }

    fn new(code: &'static str, dialect: Box<dyn Dialect>, settings: SimSettings) -> Self {
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
                code,
                dialect,
                settings,
                http,
                state: Mutex::new(state),
            }),
        }
    }

    /// The partner's code, e.g. `sf`.
    pub fn code(&self) -> &'static str {
        self.shared.code
    }

    /// Where the partner's API answers under the simulator's mount, e.g. `/std/service`.
    pub fn api_path(&self) -> &'static str {
        self.shared.dialect.api_path()
    }

    /// The simulator's HTTP side: the partner's API at `api_path`, `POST /control` (scripting,
    /// see [`Control`]) and `GET /control` (state).
    pub fn routes(&self) -> poem::Route {
        Route::new()
            .at(self.api_path(), post(api::api).data(self.clone()))
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

    /// How long the partner waits before trying a refused push again.
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
        clock::advance_locked(&self.shared, &mut state, index)
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

    /// Places an order, or counts another call for one already placed. A new parcel gets its
    /// clock and its push queue, which live as long as the simulator does (they hold it
    /// weakly); a push queue per parcel keeps its pushes in order.
    fn place(&self, order: NewOrder) -> Placed {
        let mut state = self.state();
        if let Some(existing) = state
            .orders
            .iter_mut()
            .find(|o| o.order_id == order.order_id)
        {
            existing.create_calls += 1;
            return Placed::Existing {
                waybill_no: existing.waybill_no.clone(),
                cancelled: existing.cancelled,
            };
        }
        let waybill_no = loop {
            let candidate = self.shared.dialect.new_waybill();
            if !state.orders.iter().any(|o| o.waybill_no == candidate) {
                break candidate;
            }
        };
        let (pusher, jobs) = mpsc::unbounded_channel();
        state.orders.push(OrderState {
            order_id: order.order_id,
            waybill_no: waybill_no.clone(),
            cancelled: false,
            create_calls: 1,
            from_city: order.from_city,
            to_city: order.to_city,
            routes: Vec::new(),
            pickup_from: order.pickup_from,
            held: Vec::new(),
            last_at: None,
            pusher,
        });
        drop(state);
        let weak = Arc::downgrade(&self.shared);
        tokio::spawn(run_pusher(weak.clone(), jobs));
        tokio::spawn(run_clock(
            weak,
            waybill_no.clone(),
            self.shared.settings.step,
            self.shared.settings.skip_pickup_wait,
        ));
        Placed::New { waybill_no }
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

/// `beebox courier-sim`: one simulator on its own server, its API at `http://{addr}{api_path}`.
pub async fn serve_standalone(simulator: CourierSimulator, addr: SocketAddr) -> anyhow::Result<()> {
    let code = simulator.code();
    tracing::info!(%addr, partner = code, api = simulator.api_path(), "courier simulator: POST|GET /control");
    poem::Server::new(poem::listener::TcpListener::bind(addr))
        .run(simulator.routes())
        .await
        .with_context(|| format!("the {code} simulator server stopped"))
}
