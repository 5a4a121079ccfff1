//! Pure types and rules. No I/O.

pub mod application;
pub mod catalog;
pub mod email;
pub mod id_number;
pub mod phone;
pub mod staff;
pub mod text;
