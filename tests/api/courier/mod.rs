//! The couriers: SF Express's adapter against its simulator (`sf_*`), China Post EMS's against
//! its own (`ems`), route events and the webhook (`ingest`, `webhook`, `tracking`, `reconcile`),
//! and orders across a crash (`crash`).

mod crash;
mod ems;
mod ingest;
mod reconcile;
mod sf_orders;
mod sf_pushes;
mod sf_simulator;
mod tracking;
mod webhook;
