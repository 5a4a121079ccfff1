//! The HTTP contract: one `#[OpenApi]` struct per area, all in one OpenAPI document. A URL's
//! handler lives in the file named after its first segment below `/v1`.

pub mod admin;
pub mod agent;
pub mod applications;
pub mod auth;
pub mod authorizations;
pub mod bundles;
pub mod conditional;
pub mod console;
pub mod department;
pub mod documents;
pub mod filings;
pub mod health;
pub mod idempotent;
pub mod matters;
pub mod me;
pub mod objects;
pub mod pickup_slots;
pub mod problem;
pub mod reception;
pub mod refusals;
pub mod retention;
pub mod review;
pub mod security;
pub mod staff;
pub mod stats;
pub mod text;
pub mod tokens;
pub mod uploads;
pub mod webhooks;
pub mod well_known;

use poem_openapi::{OpenApiService, Tags};

#[derive(Tags)]
pub enum ApiTags {
    /// Liveness, readiness and metrics for operators.
    Operations,
    /// The catalogue of service items (事项) citizens can file, and the bundles (一件事) of
    /// several departments' items filed together.
    Matters,
    /// Signed object URLs served by the filesystem store.
    Objects,
    /// Logging in: WeChat login, token refresh, logout, public keys.
    Auth,
    /// A citizen's applications.
    Applications,
    /// A citizen's wallet (证照夹): documents verified once, reused in later applications.
    Documents,
    /// Staff accounts and the audit log.
    Admin,
    /// Back-office pre-review: the queue and claims.
    Review,
    /// The department: its queue, result files and decisions.
    Department,
    /// The back-office dashboard's figures, about the caller's departments.
    Statistics,
    /// Agents at village service points filing for residents, and the residents' authorization.
    Agent,
}

pub type Apis = (
    health::HealthApi,
    well_known::WellKnownApi,
    (auth::AuthApi, console::ConsoleApi),
    me::MeApi,
    staff::StaffApi,
    matters::MattersApi,
    applications::ApplicationsApi,
    applications::pages::PagesApi,
    (
        applications::notifications::NotificationsApi,
        applications::shipments::ShipmentsApi,
        applications::result::ResultApi,
        applications::documents::ReuseApi,
        documents::DocumentsApi,
        filings::FilingsApi,
        filings::pickup::FilingPickupApi,
        bundles::BundlesApi,
    ),
    applications::uploads::DirectUploadsApi,
    uploads::UploadsApi,
    review::ReviewApi,
    (
        review::decision::ReviewCaseApi,
        reception::ReceptionApi,
        reception::batches::ReceptionBatchesApi,
        reception::box_runs::ReceptionBoxApi,
        department::DepartmentApi,
        department::DepartmentResultsApi,
    ),
    (
        applications::pickup::PickupApi,
        applications::drop_off::DropOffApi,
        pickup_slots::PickupSlotsApi,
        agent::AgentApi,
        agent::pickups::AgentPickupsApi,
        authorizations::AuthorizationsApi,
    ),
    // poem-openapi implements OpenApi for tuples of up to 16, so one area groups its own.
    (
        admin::staff::AdminStaffApi,
        admin::audit::AdminAuditApi,
        admin::jobs::AdminJobsApi,
        admin::shipments::AdminShipmentsApi,
        admin::service_points::AdminServicePointsApi,
        admin::applications::AdminApplicationsApi,
    ),
    (objects::ObjectsApi, webhooks::WebhooksApi, stats::StatsApi),
);

pub fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            health::HealthApi,
            well_known::WellKnownApi,
            (auth::AuthApi, console::ConsoleApi),
            me::MeApi,
            staff::StaffApi,
            matters::MattersApi,
            applications::ApplicationsApi,
            applications::pages::PagesApi,
            (
                applications::notifications::NotificationsApi,
                applications::shipments::ShipmentsApi,
                applications::result::ResultApi,
                applications::documents::ReuseApi,
                documents::DocumentsApi,
                filings::FilingsApi,
                filings::pickup::FilingPickupApi,
                bundles::BundlesApi,
            ),
            applications::uploads::DirectUploadsApi,
            uploads::UploadsApi,
            review::ReviewApi,
            (
                review::decision::ReviewCaseApi,
                reception::ReceptionApi,
                reception::batches::ReceptionBatchesApi,
                reception::box_runs::ReceptionBoxApi,
                department::DepartmentApi,
                department::DepartmentResultsApi,
            ),
            (
                applications::pickup::PickupApi,
                applications::drop_off::DropOffApi,
                pickup_slots::PickupSlotsApi,
                agent::AgentApi,
                agent::pickups::AgentPickupsApi,
                authorizations::AuthorizationsApi,
            ),
            (
                admin::staff::AdminStaffApi,
                admin::audit::AdminAuditApi,
                admin::jobs::AdminJobsApi,
                admin::shipments::AdminShipmentsApi,
                admin::service_points::AdminServicePointsApi,
                admin::applications::AdminApplicationsApi,
            ),
            (objects::ObjectsApi, webhooks::WebhooksApi, stats::StatsApi),
        ),
        "Beebox",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Filing government paperwork by post from a WeChat mini-program: photos of the \
         documents, online pre-review, courier pickup of the originals and delivery of the \
         result. Every error is an RFC 9457 `application/problem+json` with a stable `code`. \
         Text input (path and query parameters, the headers an operation reads, every string of a request body, file \
         names) holds no control characters and no bidi controls; only fields of \
         `format: multi-line` take tab and line breaks.",
    )
}

/// The committed contract, `openapi/beebox.yaml`, is this text.
pub fn spec_yaml() -> String {
    service().spec_yaml()
}
