//! A shipment's two statuses. `OrderStatus` is ours: the partner order's lifecycle.
//! `ShipmentStatus` is the parcel's, the same for every partner, and only moves forward
//! (`track`). Each has one text mapping; the rows store the text.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where our order with the partner stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Booked; its order job has not placed it yet.
    Requested,
    /// Placed: the partner gave it a waybill.
    Created,
    /// Its cancel job has yet to tell the partner.
    CancelRequested,
    Cancelled,
    /// The partner refused it.
    Failed,
}

pub const ALL_ORDER_STATUSES: [OrderStatus; 5] = [
    OrderStatus::Requested,
    OrderStatus::Created,
    OrderStatus::CancelRequested,
    OrderStatus::Cancelled,
    OrderStatus::Failed,
];

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Created => "created",
            Self::CancelRequested => "cancel_requested",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        ALL_ORDER_STATUSES.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a shipment stands, the same for every partner. A partner's own codes are kept raw
/// beside it (`RouteEvent::op_code`).
// The OpenAPI derive makes it the API's own enum too: its doc comment is the contract's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, poem_openapi::Enum)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
pub enum ShipmentStatus {
    Pending,
    PickedUp,
    InTransit,
    OutForDelivery,
    Delivered,
    DeliveryFailed,
    Returned,
    Cancelled,
    Exception,
}

pub const ALL_STATUSES: [ShipmentStatus; 9] = [
    ShipmentStatus::Pending,
    ShipmentStatus::PickedUp,
    ShipmentStatus::InTransit,
    ShipmentStatus::OutForDelivery,
    ShipmentStatus::Delivered,
    ShipmentStatus::DeliveryFailed,
    ShipmentStatus::Returned,
    ShipmentStatus::Cancelled,
    ShipmentStatus::Exception,
];

impl ShipmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::PickedUp => "picked_up",
            Self::InTransit => "in_transit",
            Self::OutForDelivery => "out_for_delivery",
            Self::Delivered => "delivered",
            Self::DeliveryFailed => "delivery_failed",
            Self::Returned => "returned",
            Self::Cancelled => "cancelled",
            Self::Exception => "exception",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        ALL_STATUSES.into_iter().find(|s| s.as_str() == text)
    }

    /// No event moves a shipment out of these.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Returned | Self::Cancelled)
    }
}

impl fmt::Display for ShipmentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_by_name() {
        for status in ALL_ORDER_STATUSES {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
        }
        for status in ALL_STATUSES {
            assert_eq!(ShipmentStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(OrderStatus::parse("pending"), None);
    }
}
