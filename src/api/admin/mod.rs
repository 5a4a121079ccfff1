//! `/v1/admin/*`: staff management, the audit log and the job queue, for the `admin` role only.

pub mod applications;
pub mod audit;
pub mod jobs;
pub mod service_points;
pub mod shipments;
pub mod staff;
