//! Every detail of EMS's protocol that its public material does not settle, in one place. EMS's
//! platform documentation needs a customer login; what the adapter follows otherwise comes from
//! client code that works against it (see `mod.rs`). The simulator follows this module too, so
//! correcting an assumption here corrects both sides. The README lists the same assumptions.

use crate::integrations::courier::ShipmentStatus;

/// Assumption 1: a create (`020003`) repeated with a `logisticsOrderNo` EMS already holds answers
/// that order's waybill number, as a lost answer's retry needs. EMS publishes no order query to
/// fall back on. A refusal saying the number is taken instead is final, with its message kept.
pub const DUPLICATE_MARKERS: [&str; 2] = ["重复", "已存在"];

/// Assumption 2: cancelling (`020006`) an order EMS has already cancelled succeeds again; once
/// the parcel is collected (a `203` trace) EMS refuses with `B00001`.
pub const CANCELLED_MARKERS: [&str; 2] = ["已取消", "已撤单"];

/// Assumption 3: a route push (`040002`) is a JSON body `{logitcsInterface, method, msgType,
/// senderNo, serialNo, timeStamp, version}` whose `logitcsInterface` is one trace (or a list
/// of traces) sealed with our sign key and no key appended. The seal is its only signature: no
/// freshness window is published, so a replayed push is only ever stored once (by event id).
pub const PUSH_METHOD: &str = "040002";

/// Assumption 4: EMS takes `code` `00000` as a push delivered and anything else (we send
/// `S00001`) as one to send again later.
pub const PUSH_ACCEPTED: &str = "00000";
pub const PUSH_REFUSED: &str = "S00001";

/// Assumption 5: a trace query (`040001`) takes one waybill; an unknown one answers success
/// with no traces.
pub const ROUTE_QUERY_DIRECTION: &str = "0";

/// Assumption 6: EMS's operation codes (opCode). No full table is public; these are the codes
/// seen in published traces and client code. 203 收寄; 389/954/306/912 on the way; 702 派送中;
/// 704 妥投 (747 and 748 are treated as signed for by the same code); 705 未妥投; 708 and 711
/// 退回; 207 收寄撤销. An unknown code counts as in transit (a final status never leaves by it).
pub fn status_for_op_code(op_code: &str) -> ShipmentStatus {
    match op_code {
        "203" => ShipmentStatus::PickedUp,
        "702" => ShipmentStatus::OutForDelivery,
        "704" | "747" | "748" => ShipmentStatus::Delivered,
        "705" => ShipmentStatus::DeliveryFailed,
        "708" | "711" => ShipmentStatus::Returned,
        "207" => ShipmentStatus::Cancelled,
        _ => ShipmentStatus::InTransit,
    }
}

/// Assumption 7: a wrong `authorization` or sign key is refused with `B00001` (final), not
/// `S00001`, so a bad credential is not retried for ever.
pub const BAD_CREDENTIALS_MESSAGE: &str = "授权码或签名错误";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_codes_map_to_statuses() {
        let cases = [
            ("203", ShipmentStatus::PickedUp),
            ("389", ShipmentStatus::InTransit),
            ("954", ShipmentStatus::InTransit),
            ("702", ShipmentStatus::OutForDelivery),
            ("704", ShipmentStatus::Delivered),
            ("748", ShipmentStatus::Delivered),
            ("705", ShipmentStatus::DeliveryFailed),
            ("711", ShipmentStatus::Returned),
            ("207", ShipmentStatus::Cancelled),
            ("99999", ShipmentStatus::InTransit),
        ];
        for (code, status) in cases {
            assert_eq!(status_for_op_code(code), status, "opCode {code}");
        }
    }
}
