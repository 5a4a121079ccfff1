//! Pure types and rules. No I/O.

pub mod agent;
pub mod application;
pub mod box_schedule;
pub mod catalog;
pub mod document;
pub mod drop_code;
pub mod email;
pub mod id_number;
pub mod job;
pub mod notification;
pub mod phone;
pub mod shipment;
pub mod staff;
pub mod stats;
pub mod subject;
pub mod text;
pub mod track;
