//! The courier flow: what happens to shipments (`ingest`, `reconcile`, `orders`) and what their
//! moves mean for applications (`progress`, through `cases`); the jobs of the cut-off dispatch
//! and of unconfirmed receipts (`dispatch`, `receipts`). Everything here speaks
//! `CourierPartner` (the partners are `integrations::courier::partners`); nothing depends on
//! SF's protocol.

pub mod dispatch;
pub mod drop_box;
pub mod ingest;
pub mod orders;
pub mod progress;
pub mod pushes;
pub mod receipts;
pub mod reconcile;
