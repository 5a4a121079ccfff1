//! `/v1/admin/*`: staff management and the audit log, for the `admin` role only.

pub mod audit;
pub mod staff;
