//! Pure types and rules. No I/O.

pub mod catalog;
