//! Courier partners behind one narrow seam. The flow (pickup, reception, delivery) speaks only
//! `CourierPartner`, `OrderRequest` and `RouteEvent`; an adapter (SF Express, China Post EMS)
//! turns them into its partner's protocol byte for byte.

pub mod ems;
pub mod partners;
pub mod sf;
pub mod sim;
pub mod wire;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::domain::shipment::{ALL_STATUSES, ShipmentStatus};

/// A postal address with a contact, as both ends of a shipment need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub name: String,
    /// Mainland mobile or landline.
    pub phone: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub detail: String,
}

/// An order for the partner to collect a parcel and carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRequest {
    /// Our order id: unique per attempt and never reused, since partners refuse a cancelled id.
    pub order_id: String,
    pub sender: Contact,
    pub recipient: Contact,
    /// When the courier should come, for a pickup at the sender's door.
    pub pickup_from: Option<DateTime<Utc>>,
    pub pickup_until: Option<DateTime<Utc>>,
    /// What is carried, e.g. `文件`.
    pub cargo: String,
    pub remark: Option<String>,
}

/// The partner's answer to a created order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCreated {
    /// The waybill number (运单号).
    pub waybill_no: String,
    pub courier_name: Option<String>,
    pub courier_phone: Option<String>,
}

/// One step of a shipment's route, from a push or a query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteEvent {
    /// The partner's id of this event: a replay carries the same one.
    pub event_id: String,
    pub waybill_no: String,
    /// The partner's raw operation code (SF `opCode`).
    pub op_code: String,
    pub status: ShipmentStatus,
    pub occurred_at: DateTime<Utc>,
    pub location: Option<String>,
    pub description: String,
    /// The event as the partner sent it.
    pub raw: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CourierError {
    /// Worth retrying later: a timeout, a 5xx, a system-busy answer.
    #[error("courier partner unavailable: {0}")]
    Retryable(String),
    /// Retrying cannot help: a refused address, a bad credential, an unknown order.
    #[error("courier partner refused: {0}")]
    Final(String),
}

/// Why a push was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The digest or the per-partner secret is missing or wrong: 401, nothing stored.
    #[error("push not authenticated")]
    Unauthenticated,
    /// Authenticated but unreadable: 400 in the partner's error format.
    #[error("malformed push: {0}")]
    Malformed(String),
    /// Validly signed, but signed longer ago than the partner's freshness window: 401, nothing
    /// stored (a captured push replayed later).
    #[error("push signed outside the freshness window")]
    Stale,
    /// Over our per-address limit, refused before its signature was checked: 429.
    #[error("too many pushes from this address")]
    RateLimited,
}

/// A verified push: its route events, and the answer the partner expects.
#[derive(Debug, Clone)]
pub struct Push {
    pub events: Vec<RouteEvent>,
}

/// A partner's answer to its push, in its own format.
#[derive(Debug, Clone)]
pub struct PushReply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

#[async_trait::async_trait]
pub trait CourierPartner: Send + Sync {
    /// The partner's code in URLs and rows, e.g. `sf`.
    fn code(&self) -> &'static str;
    /// Creates an order. Creating again with the same `order_id` returns the same order, so a
    /// retry after a lost answer makes no second parcel.
    async fn create_order(&self, order: &OrderRequest) -> Result<OrderCreated, CourierError>;
    /// Cancels an order that was not yet picked up. `waybill_no` is the one the partner gave,
    /// when its answer came (EMS wants it; SF goes by the order id alone).
    async fn cancel_order(
        &self,
        order_id: &str,
        waybill_no: Option<&str>,
    ) -> Result<(), CourierError>;
    /// Every route event the partner has for these waybills (reconciliation).
    async fn query_routes(&self, waybills: &[String]) -> Result<Vec<RouteEvent>, CourierError>;
    /// Checks a push's signature (in constant time) and reads its events. `secret` is the
    /// per-partner secret from the URL or header, `None` when absent.
    fn verify_push(
        &self,
        headers: &poem::http::HeaderMap,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Push, PushError>;
    /// What to answer a push that was accepted (stored, or a replay).
    fn push_accepted(&self) -> PushReply;
    /// What to answer a push that was refused.
    fn push_refused(&self, error: &PushError) -> PushReply;
}
