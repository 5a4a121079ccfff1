//! Reconciliation and the problems list. Pushes get lost (our outage, the partner's), so open
//! shipments quiet for `courier.reconcile_after_hours` are asked about at their partner, and the
//! answer goes through the same `ingest` as a push. Partner errors are logged and retried at the
//! next run; this never changes a shipment except through `ingest`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{DatabaseConnection, DbErr};
use serde::{Deserialize, Serialize};

use crate::cases::drop_off::BOX;
use crate::config::Config;
use crate::courier::ingest;
use crate::integrations::courier::ShipmentStatus;
use crate::jobs::job::{Job, JobContext, JobError};
use crate::store::jobs::JobPayload;
use crate::store::shipments::{self, OrderStatus, shipment};

/// Route queries carry at most this many waybills (SF refuses more than 10).
const WAYBILLS_PER_QUERY: usize = 10;

/// `n` hours, capped at a century so that a silly setting cannot overflow the clock.
fn hours(n: u64) -> Duration {
    Duration::hours(n.min(24 * 365 * 100) as i64)
}

/// `reconcile_shipments {slot}`: queries the partners about quiet open shipments and ingests
/// what they know. Fails (to be retried) only when every query failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileShipments {
    /// The schedule slot (Unix seconds) it was queued for.
    #[serde(default)]
    pub slot: i64,
}

impl JobPayload for ReconcileShipments {
    const KIND: &'static str = "reconcile_shipments";
}

impl Job for ReconcileShipments {
    const SCHEDULED: bool = true;

    async fn run(self, ctx: &JobContext) -> Result<(), JobError> {
        run(ctx).await
    }
}

/// One reconciliation run, as the job makes it.
pub async fn run(ctx: &JobContext) -> Result<(), JobError> {
    let db = &ctx.db;
    let cutoff = ctx.clock.now() - hours(ctx.config.courier.reconcile_after_hours);
    let quiet = shipments::quiet_open(db, cutoff).await?;
    let mut by_partner: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in quiet {
        // A drop in the box has no partner to ask: reception's scan is its only event.
        if row.partner == BOX {
            continue;
        }
        if let Some(waybill) = row.waybill_no {
            by_partner.entry(row.partner).or_default().push(waybill);
        }
    }
    let (mut queries, mut failures) = (0usize, 0usize);
    let mut last_error = String::new();
    for (code, waybills) in by_partner {
        let Some(partner) = ctx.couriers.get(&code) else {
            tracing::warn!(
                partner = %code,
                shipments = waybills.len(),
                "open shipments of a partner this service no longer has"
            );
            continue;
        };
        for chunk in waybills.chunks(WAYBILLS_PER_QUERY) {
            queries += 1;
            match partner.query_routes(chunk).await {
                Ok(events) => {
                    let report = ingest::ingest(db, &ctx.cases, partner.code(), &events).await?;
                    tracing::info!(
                        partner = %code,
                        waybills = chunk.len(),
                        stored = report.stored,
                        moved = report.changes.len(),
                        "reconciled shipments"
                    );
                }
                Err(error) => {
                    failures += 1;
                    tracing::warn!(partner = %code, %error, "route query failed; retried next run");
                    last_error = error.to_string();
                }
            }
        }
    }
    if queries > 0 && failures == queries {
        return Err(JobError::Retry(anyhow::anyhow!(
            "all {queries} route queries failed, the last with: {last_error}"
        )));
    }
    Ok(())
}

/// Why a shipment is on the problems list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "snake_case")]
pub enum ProblemReason {
    /// The partner refused the order (`order_status` `failed`).
    OrderFailed,
    /// The parcel came back to its sender.
    Returned,
    /// A delivery attempt failed.
    DeliveryFailed,
    /// The partner reported an exception (damage, a held parcel, ...).
    Exception,
    /// On its way with no route event for `courier.stuck_after_hours`.
    Stuck,
    /// A drop in the box not found within `courier.drop_box.remind_after_days` (the citizen was
    /// reminded).
    DropOverdue,
}

#[derive(Debug, Clone)]
pub struct ShipmentProblem {
    pub shipment: shipment::Model,
    pub reason: ProblemReason,
    /// The last news of it: its last route event, else when its order last changed.
    pub quiet_since: DateTime<Utc>,
}

/// Shipments that need a person, the quietest first: failed orders, returned parcels, failed
/// deliveries, exceptions, open shipments with no movement for `courier.stuck_after_hours`, and
/// drops in the box flagged late. A shipment whose leg was booked again since is left out: the new one stands for it.
pub async fn problems(
    db: &DatabaseConnection,
    config: &Config,
) -> Result<Vec<ShipmentProblem>, DbErr> {
    let now = Utc::now();
    let cutoff = now - hours(config.courier.stuck_after_hours);
    let candidates = shipments::problem_candidates(db, cutoff).await?;
    let mut applications: Vec<_> = candidates.iter().map(|s| s.application_id).collect();
    applications.sort();
    applications.dedup();
    let newest = shipments::newest_per_leg(db, &applications).await?;
    let mut found: Vec<ShipmentProblem> = candidates
        .into_iter()
        .filter(|s| newest.get(&(s.application_id, s.leg.clone())) == Some(&s.id))
        .filter_map(|s| {
            let quiet_since = s.last_event_at.unwrap_or(s.updated_at);
            // A parcel waiting for its pickup window is not stuck before the window ends.
            let expected_by = s
                .last_event_at
                .unwrap_or_else(|| s.pickup_until.map_or(s.updated_at, |u| u.max(s.updated_at)));
            let reason = reason(&s, expected_by < cutoff)?;
            Some(ShipmentProblem {
                shipment: s,
                reason,
                quiet_since,
            })
        })
        .collect();
    found.sort_by_key(|p| (p.quiet_since, p.shipment.id));
    Ok(found)
}

/// The most specific reason that applies, if any.
fn reason(s: &shipment::Model, quiet: bool) -> Option<ProblemReason> {
    let order = OrderStatus::parse(&s.order_status);
    // A drop in the box has no courier to be stuck with: it is late by its own day.
    if s.partner == BOX {
        let waiting = order == Some(OrderStatus::Created) && s.status == "pending";
        return (waiting && s.overdue_at.is_some()).then_some(ProblemReason::DropOverdue);
    }
    if order == Some(OrderStatus::Failed) {
        return Some(ProblemReason::OrderFailed);
    }
    match ShipmentStatus::parse(&s.status) {
        Some(ShipmentStatus::Returned) => Some(ProblemReason::Returned),
        Some(ShipmentStatus::DeliveryFailed) => Some(ProblemReason::DeliveryFailed),
        Some(ShipmentStatus::Exception) => Some(ProblemReason::Exception),
        Some(status) if status.is_final() => None,
        _ if quiet && order == Some(OrderStatus::Created) && s.waybill_no.is_some() => {
            Some(ProblemReason::Stuck)
        }
        _ => None,
    }
}
