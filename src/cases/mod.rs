//! The case workflow, with no HTTP in it: what a citizen, a reviewer, reception, the department
//! and the courier may do to an application, and what each does to the rows. Every state change
//! goes through [`Cases::change`]; every refusal is a [`CaseError`], which the API maps to one
//! problem code. Handlers parse, authorize, call in here and shape the answer.

pub mod agents;
pub mod bundles;
pub mod change;
pub mod citizen;
pub mod department;
pub mod dispatch;
pub mod drop_off;
pub mod drop_sheet;
pub mod error;
pub mod intake;
pub mod manifest;
pub mod pickup;
pub mod print;
pub mod reads;
pub mod receipts;
pub mod reception;
pub mod results;
pub mod retention;
pub mod review;
pub mod wallet;

use std::sync::Arc;

use sea_orm::ConnectionTrait;

pub use error::{CaseError, CaseResult, FieldIssue};

use crate::clock::Clock;
use crate::config::Config;
use crate::integrations::courier::Contact;
use crate::storage::ObjectStore;
use crate::store::applications::application;
use crate::store::outbox::Channels;

/// One page check at a time per core.
fn media_permit_count() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2)
}

/// The handles the workflow needs, and nothing else of the service's state.
#[derive(Clone)]
pub struct Cases {
    pub config: Arc<Config>,
    /// Which channels the citizen's messages of a change go by (written in its transaction).
    pub channels: Arc<Channels>,
    pub clock: Clock,
    /// Where pages and result files are kept.
    pub store: Arc<dyn ObjectStore>,
    /// Page checks decode images: this bounds how many run at once.
    pub media_permits: Arc<tokio::sync::Semaphore>,
    /// Page records queue here for SQLite's single write lock (`intake::record`).
    pub sqlite_writes: Arc<tokio::sync::Mutex<()>>,
}

impl Cases {
    pub fn new(
        config: Arc<Config>,
        channels: Arc<Channels>,
        clock: Clock,
        store: Arc<dyn ObjectStore>,
    ) -> Self {
        Self {
            config,
            channels,
            clock,
            store,
            media_permits: Arc::new(tokio::sync::Semaphore::new(media_permit_count())),
            sqlite_writes: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The courier partner of a new leg of `app`: `chosen` (the citizen's, at booking) when
    /// given, else the item's `courier_partner`, else its service point's, else
    /// `courier.default_partner`. An item that names a partner takes no other; a partner that
    /// is no longer enabled is passed over. The leg keeps what this gives for life.
    pub(crate) async fn partner_for<C: ConnectionTrait>(
        &self,
        db: &C,
        app: &application::Model,
        chosen: Option<&str>,
    ) -> CaseResult<String> {
        let courier = &self.config.courier;
        let version = reads::version_of(db, app).await?;
        let item = version
            .matter
            .courier_partner
            .as_deref()
            .filter(|p| courier.enabled(p));
        if let Some(chosen) = chosen {
            let problem = if !courier.enabled(chosen) {
                Some(format!(
                    "`{chosen}` is not a courier partner here ({})",
                    courier.partners.join(", ")
                ))
            } else {
                item.filter(|i| *i != chosen)
                    .map(|i| format!("this item's originals travel with `{i}` only"))
            };
            return match problem {
                Some(message) => Err(CaseError::Invalid(vec![FieldIssue::new(
                    "partner", message,
                )])),
                None => Ok(chosen.to_string()),
            };
        }
        if let Some(item) = item {
            return Ok(item.to_string());
        }
        if let Some(point) = app.service_point_id {
            let point = crate::store::service_points::find(db, point).await?;
            if let Some(partner) = point
                .and_then(|p| p.courier_partner)
                .filter(|p| courier.enabled(p))
            {
                return Ok(partner);
            }
        }
        Ok(courier.default_partner.clone())
    }

    /// The centre, as the recipient of originals (leg 1) and the sender of results (leg 2).
    pub fn centre(&self) -> Contact {
        let c = &self.config.courier.centre;
        Contact {
            name: c.name.clone(),
            phone: c.phone.clone(),
            province: c.province.clone(),
            city: c.city.clone(),
            district: c.district.clone(),
            detail: c.detail.clone(),
        }
    }
}
