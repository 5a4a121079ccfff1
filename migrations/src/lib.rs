//! The single source of the Beebox schema. Every migration runs on SQLite and PostgreSQL alike.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_catalog;
mod m20261127_000002_citizens_applications;
mod m20261127_000003_pages_uploads;
mod m20261127_000004_staff_audit;
mod m20261127_000005_page_thumbnails;
mod m20261127_000006_review_claims;
mod m20261127_000007_decisions;
mod m20261127_000008_prereview_sla;
mod m20261128_000009_jobs_notifications;
mod m20261128_000010_shipments;
mod m20261128_000011_reception_batches;
mod m20261128_000012_department_results;
mod m20261128_000013_shipment_events_by_shipment;
mod m20261129_000014_jobs_partial_indexes;
mod m20261129_000015_shipment_route_summary;
mod m20261206_000016_login_attempts;
mod m20261210_000017_stats_rollups;
mod m20261211_000018_material_document_types;
mod m20261212_000019_documents;
mod m20261213_000020_bundles;
mod m20261214_000021_shipment_cases;
mod m20261215_000022_service_points;
mod m20261216_000023_catalog_revision;
mod m20261216_000024_queue_order;
mod m20261217_000025_retention;
mod m20261218_000026_courier_partners;
mod m20261219_000027_drop_box;
mod m20261220_000028_drop_reminders;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_catalog::Migration),
            Box::new(m20261127_000002_citizens_applications::Migration),
            Box::new(m20261127_000003_pages_uploads::Migration),
            Box::new(m20261127_000004_staff_audit::Migration),
            Box::new(m20261127_000005_page_thumbnails::Migration),
            Box::new(m20261127_000006_review_claims::Migration),
            Box::new(m20261127_000007_decisions::Migration),
            Box::new(m20261127_000008_prereview_sla::Migration),
            Box::new(m20261128_000009_jobs_notifications::Migration),
            Box::new(m20261128_000010_shipments::Migration),
            Box::new(m20261128_000011_reception_batches::Migration),
            Box::new(m20261128_000012_department_results::Migration),
            Box::new(m20261128_000013_shipment_events_by_shipment::Migration),
            Box::new(m20261129_000014_jobs_partial_indexes::Migration),
            Box::new(m20261129_000015_shipment_route_summary::Migration),
            Box::new(m20261206_000016_login_attempts::Migration),
            Box::new(m20261210_000017_stats_rollups::Migration),
            Box::new(m20261211_000018_material_document_types::Migration),
            Box::new(m20261212_000019_documents::Migration),
            Box::new(m20261213_000020_bundles::Migration),
            Box::new(m20261214_000021_shipment_cases::Migration),
            Box::new(m20261215_000022_service_points::Migration),
            Box::new(m20261216_000023_catalog_revision::Migration),
            Box::new(m20261216_000024_queue_order::Migration),
            Box::new(m20261217_000025_retention::Migration),
            Box::new(m20261218_000026_courier_partners::Migration),
            Box::new(m20261219_000027_drop_box::Migration),
            Box::new(m20261220_000028_drop_reminders::Migration),
        ]
    }
}
