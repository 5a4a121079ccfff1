//! Shipments (one courier leg each) and their route events. Order lifecycle and tracking are
//! separate: `order_status` is ours (requested, created, cancel_requested, cancelled, failed),
//! `status` is the parcel's normalised tracking status, which only moves forward.
//!
//! `orders` creates legs and moves their partner orders, `routes` stores route events and locks
//! shipments for ingest, `upkeep` finds the shipments the sweeps look after.

mod orders;
mod routes;
mod upkeep;

pub use crate::domain::shipment::OrderStatus;
pub use crate::domain::track::Tracking;
pub use orders::{
    CourierCancelOrder, CourierCreateOrder, NewShipment, by_waybill, carried, carried_by,
    current_leg, enqueue_create, find, insert, lock, newest_per_leg, of_application,
    request_cancel, set_created, set_order_status,
};
pub use routes::{
    Locked, attach, event_row, events_of, lock_by_waybills, set_applied, unattached_of_waybills,
};
pub use upkeep::{
    final_statuses, flag_overdue, problem_candidates, quiet_open, unconfirmed_results,
    unflagged_late_drops, waiting_drops,
};

/// The cases a leg carries besides its first (`shipment.application_id`): one pickup of several
/// cases' originals.
pub mod shipment_case {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "shipment_cases")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub shipment_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub application_id: Uuid,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod shipment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "shipments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub application_id: Uuid,
        /// `materials`, `result` or `return`.
        pub leg: String,
        pub partner: String,
        /// Ours, unique, never reused (a reschedule makes a new one).
        pub order_id: String,
        /// `requested`, `created`, `cancel_requested`, `cancelled` or `failed`.
        pub order_status: String,
        /// The normalised tracking status (`ShipmentStatus`).
        pub status: String,
        pub last_op_code: Option<String>,
        pub waybill_no: Option<String>,
        pub courier_name: Option<String>,
        pub courier_phone: Option<String>,
        /// `Contact` as JSON.
        pub sender: String,
        /// `Contact` as JSON.
        pub recipient: String,
        pub pickup_date: Option<String>,
        pub pickup_slot: Option<String>,
        pub pickup_from: Option<DateTimeUtc>,
        pub pickup_until: Option<DateTimeUtc>,
        pub last_event_at: Option<DateTimeUtc>,
        pub delivered_at: Option<DateTimeUtc>,
        /// The furthest forward step of its route events: its rank (`courier::track`)...
        pub forward_rank: Option<i32>,
        /// ... and when it happened.
        pub forward_at: Option<DateTimeUtc>,
        /// The latest side state of its route events (`delivery_failed`, `exception`)...
        pub side_status: Option<String>,
        /// ... and when it happened.
        pub side_at: Option<DateTimeUtc>,
        pub last_error: Option<String>,
        /// A drop in the box (partner `box`) not found within `courier.drop_box.remind_after_days`:
        /// when it was flagged and its citizen reminded.
        pub overdue_at: Option<DateTimeUtc>,
        pub version: i32,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod route_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "shipment_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub partner: String,
        pub partner_event_id: String,
        pub waybill_no: String,
        /// `None` while the waybill is unknown; matched when its shipment appears.
        pub shipment_id: Option<Uuid>,
        pub op_code: String,
        pub status: String,
        pub occurred_at: DateTimeUtc,
        pub location: Option<String>,
        pub description: String,
        /// The event as the partner sent it (JSON).
        pub raw: String,
        /// Whether it moved the shipment (a late or duplicate step does not).
        pub applied: bool,
        pub received_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub const LEG_MATERIALS: &str = "materials";
pub const LEG_RESULT: &str = "result";
pub const LEG_RETURN: &str = "return";

/// Orders cancelled, or on their way to it: no longer the leg's current shipment.
pub(crate) fn closed_orders() -> [&'static str; 2] {
    [
        OrderStatus::Cancelled.as_str(),
        OrderStatus::CancelRequested.as_str(),
    ]
}
