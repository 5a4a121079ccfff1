//! The courier flow: what happens to shipments (`ingest`, `reconcile`, `orders`) and what their
//! moves mean for applications (`progress`, `receipts`, `dispatch`). Everything here speaks
//! `CourierPartner` (the partners are `integrations::courier::partners`); nothing depends on
//! SF's protocol.

pub mod dispatch;
pub mod ingest;
pub mod manifest;
pub mod orders;
pub mod progress;
pub mod pushes;
pub mod receipts;
pub mod reconcile;
