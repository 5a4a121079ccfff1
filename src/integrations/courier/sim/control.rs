//! The simulator's scripting endpoint: `POST /control` takes a `Control` (faults, push mode,
//! clock), `GET /control` shows its orders and push attempts.

use std::time::Duration;

use poem::http::StatusCode;
use poem::web::{Data, Json};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{CourierSimulator, PushMode, SimFault};

/// `POST /control` bodies, e.g. `{"action":"fail_next","count":2,"fault":"http","status":500}`,
/// `{"action":"push_mode","reorder":true}`, `{"action":"freeze","frozen":true}`,
/// `{"action":"advance","waybill":"SF1234567890123"}`, `{"action":"shift_clock","secs":86400}`.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Control {
    FailNext {
        count: usize,
        /// `http` (with `status`), `timeout`, `api_code` (with `code`; the partner's "system
        /// busy" when absent) or `lose_answer`.
        fault: String,
        status: Option<u16>,
        code: Option<String>,
    },
    PushMode {
        #[serde(default)]
        delay_ms: u64,
        #[serde(default)]
        duplicate: bool,
        #[serde(default)]
        reorder: bool,
        #[serde(default)]
        drop: bool,
    },
    Freeze {
        frozen: bool,
    },
    Advance {
        waybill: String,
    },
    /// Moves the simulator's clock ahead, e.g. to a booked pickup window.
    ShiftClock {
        secs: u64,
    },
}

#[handler]
pub(super) async fn control(
    Data(sim): Data<&CourierSimulator>,
    Json(command): Json<Control>,
) -> Response {
    let answer = match command {
        Control::FailNext {
            count,
            fault,
            status,
            code,
        } => {
            let fault = match (fault.as_str(), status, code) {
                ("http", status, _) => SimFault::Http(status.unwrap_or(500)),
                ("timeout", _, _) => SimFault::Timeout,
                ("api_code", _, code) => {
                    SimFault::ApiCode(code.unwrap_or_else(|| sim.shared.dialect.busy_code().into()))
                }
                ("lose_answer", _, _) => SimFault::LoseAnswer,
                _ => return StatusCode::BAD_REQUEST.into_response(),
            };
            sim.fail_next(count, fault);
            json!({"ok": true})
        }
        Control::PushMode {
            delay_ms,
            duplicate,
            reorder,
            drop,
        } => {
            sim.set_push_mode(PushMode {
                delay: Duration::from_millis(delay_ms),
                duplicate,
                reorder,
                drop,
            });
            json!({"ok": true})
        }
        Control::Freeze { frozen } => {
            sim.freeze(frozen);
            json!({"ok": true})
        }
        Control::Advance { waybill } => json!({"ok": true, "op_code": sim.advance(&waybill)}),
        Control::ShiftClock { secs } => {
            sim.shift_clock(Duration::from_secs(secs));
            json!({"ok": true, "now": sim.now().to_rfc3339()})
        }
    };
    Json(answer).into_response()
}

#[handler]
pub(super) async fn control_state(Data(sim): Data<&CourierSimulator>) -> Json<Value> {
    Json(json!({"orders": sim.orders(), "pushes": sim.pushes()}))
}
