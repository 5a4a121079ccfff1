//! The simulator's API endpoint: a scripted fault if one is queued, else the partner's answer
//! from its dialect.

use std::time::Duration;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{IntoResponse, Response, handler};

use super::{CourierSimulator, SimFault};

/// Longer than any client timeout: a "timeout" fault answers only after this.
const HANG: Duration = Duration::from_secs(30);

#[handler]
pub(super) async fn api(Data(sim): Data<&CourierSimulator>, body: poem::Body) -> Response {
    let dialect = &sim.shared.dialect;
    let Ok(body) = body.into_bytes().await else {
        return dialect.platform_error(dialect.busy_code());
    };
    let fault = sim.state().faults.pop_front();
    match fault {
        None => dialect.handle(sim, &body),
        Some(SimFault::Http(status)) => Response::builder()
            .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            .content_type("text/html")
            .body("<html><body>upstream error</body></html>"),
        Some(SimFault::ApiCode(code)) => dialect.platform_error(&code),
        Some(SimFault::Timeout) => {
            tokio::time::sleep(HANG).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Some(SimFault::LoseAnswer) => {
            let _ = dialect.handle(sim, &body);
            tokio::time::sleep(HANG).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}
