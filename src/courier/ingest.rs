//! Route events into shipments, from pushes and from reconciliation alike. Every event is stored
//! raw once per partner event id (a replay is a no-op), even for waybills no shipment has yet.
//! A shipment's status is what its events say, whatever order they came in: a late event never
//! moves it backwards, and nothing moves it out of a final status.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use uuid::Uuid;

use crate::integrations::courier::{RouteEvent, ShipmentStatus};
use crate::store::begin_write;
use crate::store::shipments::{self, Tracking, route_event, shipment};

/// The widest partner event id and waybill the `shipment_events` columns hold.
const MAX_EVENT_ID: usize = 128;
const MAX_WAYBILL: usize = 64;

/// What one ingest did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// New events stored against a known shipment.
    pub stored: usize,
    /// Events stored before (the same partner event id): nothing changed.
    pub duplicates: usize,
    /// New events of waybills no shipment has yet: stored, matched when one does.
    pub unknown_waybill: usize,
    /// Events with an empty or oversized id or waybill: logged and dropped.
    pub invalid: usize,
    /// The shipments whose status moved, one entry each (its status before and after).
    pub changes: Vec<StatusChange>,
}

/// A shipment whose tracking status moved. This is the hook for the application side: advance
/// the application (a `materials` leg `picked_up`, a `result` leg `delivered`, ...) and queue
/// the citizen's notification. `on_status_changed` runs for each inside the ingest transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub shipment_id: Uuid,
    pub application_id: Uuid,
    /// `materials`, `result` or `return`.
    pub leg: String,
    pub partner: String,
    pub waybill_no: String,
    pub old: ShipmentStatus,
    pub new: ShipmentStatus,
    /// The partner's code of the event that set `new`.
    pub op_code: String,
    /// When that event happened.
    pub at: DateTime<Utc>,
}

/// Called inside the ingest transaction for each shipment whose status moved, so whatever it
/// writes (an application transition, a `notify_citizen` job) commits with the event or not at
/// all.
pub async fn on_status_changed<C: ConnectionTrait>(
    txn: &C,
    change: &StatusChange,
) -> Result<(), DbErr> {
    crate::courier::progress::advance(txn, change).await
}

/// Stores `events` from `partner` and applies them to their shipments, in one write
/// transaction.
#[tracing::instrument(skip_all, fields(partner = %partner, events = events.len()), err)]
pub async fn ingest(
    db: &DatabaseConnection,
    partner: &str,
    events: &[RouteEvent],
) -> Result<IngestReport, DbErr> {
    let mut report = IngestReport::default();
    // Waybills in order, and each waybill's events by id: every transaction takes its row locks
    // and unique-key slots in the same order, so concurrent pushes cannot deadlock.
    let mut by_waybill: BTreeMap<&str, BTreeMap<&str, &RouteEvent>> = BTreeMap::new();
    for event in events {
        if !valid(event) {
            tracing::warn!(
                partner,
                event_id_len = event.event_id.len(),
                waybill_len = event.waybill_no.len(),
                "route event with an unusable id or waybill dropped"
            );
            report.invalid += 1;
            continue;
        }
        let seen = by_waybill
            .entry(event.waybill_no.as_str())
            .or_default()
            .insert(event.event_id.as_str(), event);
        if seen.is_some() {
            report.duplicates += 1;
        }
    }
    if by_waybill.is_empty() {
        return Ok(report);
    }
    let txn = begin_write(db).await?;
    for (waybill_no, group) in by_waybill {
        let Some(row) = shipments::lock_by_waybill(&txn, partner, waybill_no).await? else {
            for event in group.into_values() {
                let stored = shipments::event_row(partner, event, None);
                if shipments::insert_event(&txn, &stored).await? {
                    report.unknown_waybill += 1;
                } else {
                    report.duplicates += 1;
                }
            }
            continue;
        };
        let (history, late) = known_events(&txn, partner, waybill_no, &row).await?;
        let mut fresh = Vec::new();
        for event in group.into_values() {
            let seen = history
                .iter()
                .chain(&late)
                .any(|e| e.partner_event_id == event.event_id);
            if seen {
                report.duplicates += 1;
            } else {
                fresh.push(shipments::event_row(partner, event, Some(row.id)));
            }
        }
        let applied = apply(&txn, &row, &history, late, fresh).await?;
        report.stored += applied.stored;
        report.duplicates += applied.duplicates;
        if let Some(change) = applied.change {
            on_status_changed(&txn, &change).await?;
            report.changes.push(change);
        }
    }
    txn.commit().await?;
    Ok(report)
}

/// Attaches the events stored for `waybill_no` before its shipment knew it, and applies them.
/// Called once the partner order gives the shipment its waybill.
#[tracing::instrument(skip_all, fields(partner = %partner, %shipment_id), err)]
pub async fn match_unknown(
    db: &DatabaseConnection,
    partner: &str,
    waybill_no: &str,
    shipment_id: Uuid,
) -> Result<IngestReport, DbErr> {
    let mut report = IngestReport::default();
    let txn = begin_write(db).await?;
    let Some(row) = shipments::lock(&txn, shipment_id).await? else {
        return Ok(report);
    };
    let (history, late) = known_events(&txn, partner, waybill_no, &row).await?;
    report.stored = late.len();
    let applied = apply(&txn, &row, &history, late, Vec::new()).await?;
    if let Some(change) = applied.change {
        on_status_changed(&txn, &change).await?;
        report.changes.push(change);
    }
    txn.commit().await?;
    Ok(report)
}

fn valid(event: &RouteEvent) -> bool {
    !event.event_id.is_empty()
        && event.event_id.len() <= MAX_EVENT_ID
        && !event.waybill_no.is_empty()
        && event.waybill_no.len() <= MAX_WAYBILL
}

/// The locked shipment's own events, and the events of its waybill that came before it knew
/// the waybill (still unattached), read together.
async fn known_events<C: ConnectionTrait>(
    txn: &C,
    partner: &str,
    waybill_no: &str,
    row: &shipment::Model,
) -> Result<(Vec<route_event::Model>, Vec<route_event::Model>), DbErr> {
    let known = shipments::events_of_waybill(txn, partner, waybill_no, row.id).await?;
    Ok(known
        .into_iter()
        .partition(|e| e.shipment_id == Some(row.id)))
}

/// What `apply` did.
struct Applied {
    stored: usize,
    duplicates: usize,
    change: Option<StatusChange>,
}

/// Folds `late` (stored before the waybill was known) and `fresh` (not stored yet) into the
/// locked shipment `row`, whose events so far are `history`, and records the outcome: the new
/// events, each marked with whether it moved the shipment, and the shipment's new tracking.
async fn apply<C: ConnectionTrait>(
    txn: &C,
    row: &shipment::Model,
    history: &[route_event::Model],
    late: Vec<route_event::Model>,
    mut fresh: Vec<route_event::Model>,
) -> Result<Applied, DbErr> {
    let mut outcome = Applied {
        stored: 0,
        duplicates: 0,
        change: None,
    };
    if late.is_empty() && fresh.is_empty() {
        return Ok(outcome);
    }
    // Which events move the shipment is decided before they are written, so each row is
    // written once, with its `applied` flag.
    let (mut track, mut applied) = fold(row, history, &late, &fresh);
    let mut replays = Vec::new();
    for event in &mut fresh {
        event.applied = applied.contains(&event.id);
        if !shipments::insert_event(txn, event).await? {
            replays.push(event.id);
        }
    }
    if !replays.is_empty() {
        // The partner event id is stored already under another waybill: a replay after all.
        // Rare enough to fold again and correct the flags of the rows just written.
        fresh.retain(|e| !replays.contains(&e.id));
        outcome.duplicates = replays.len();
        (track, applied) = fold(row, history, &late, &fresh);
        let (now_applied, not_applied): (Vec<_>, Vec<_>) = fresh
            .iter()
            .filter(|e| e.applied != applied.contains(&e.id))
            .map(|e| e.id)
            .partition(|id| applied.contains(id));
        shipments::set_applied(txn, &now_applied, true).await?;
        shipments::set_applied(txn, &not_applied, false).await?;
    }
    outcome.stored = fresh.len();
    let late_ids: Vec<Uuid> = late.iter().map(|e| e.id).collect();
    let late_applied: Vec<Uuid> = late_ids
        .iter()
        .copied()
        .filter(|id| applied.contains(id))
        .collect();
    shipments::attach(txn, row.id, &late_ids, &late_applied).await?;
    outcome.change = record(txn, row, &track).await?;
    Ok(outcome)
}

/// The shipment `row` with `history` as it stands, then `late` and `fresh` taken in the order
/// they happened: a push of a whole route applies each step, not just the last. Returns the
/// tracking and the ids of the new events that moved it.
fn fold(
    row: &shipment::Model,
    history: &[route_event::Model],
    late: &[route_event::Model],
    fresh: &[route_event::Model],
) -> (Track, HashSet<Uuid>) {
    let mut track = Track::new(row, history);
    let mut incoming: Vec<&route_event::Model> = late.iter().chain(fresh).collect();
    incoming.sort_by_key(|e| (e.occurred_at, e.id));
    let applied = incoming
        .into_iter()
        .filter(|e| track.fold(e))
        .map(|e| e.id)
        .collect();
    (track, applied)
}

/// Writes the shipment's new tracking, if it changed; a status change is returned for the
/// application side.
async fn record<C: ConnectionTrait>(
    txn: &C,
    row: &shipment::Model,
    track: &Track,
) -> Result<Option<StatusChange>, DbErr> {
    let old = status_of(&row.status);
    let tracking = track.tracking();
    let before = Tracking {
        status: old,
        last_op_code: row.last_op_code.clone(),
        last_event_at: row.last_event_at,
        delivered_at: row.delivered_at,
    };
    if tracking == before {
        return Ok(None);
    }
    if !shipments::set_tracking(txn, row, &tracking).await? {
        // The row is locked for this transaction (FOR UPDATE; BEGIN IMMEDIATE on SQLite), so
        // this means a writer that bypassed the lock.
        return Err(DbErr::Custom(format!(
            "shipment {} changed while its events were applied",
            row.id
        )));
    }
    if tracking.status == old {
        return Ok(None);
    }
    Ok(Some(StatusChange {
        shipment_id: row.id,
        application_id: row.application_id,
        leg: row.leg.clone(),
        partner: row.partner.clone(),
        waybill_no: row.waybill_no.clone().unwrap_or_default(),
        old,
        new: tracking.status,
        op_code: tracking.last_op_code.unwrap_or_default(),
        at: track.deciding_at.unwrap_or_else(Utc::now),
    }))
}

fn status_of(text: &str) -> ShipmentStatus {
    ShipmentStatus::parse(text).unwrap_or_else(|| {
        tracing::warn!(
            status = text,
            "unknown stored shipment status read as pending"
        );
        ShipmentStatus::Pending
    })
}

/// How far along the forward route a status is; `None` for the side states (`delivery_failed`,
/// `exception`) and for `returned` and `cancelled`, which end the route elsewhere.
fn rank(status: ShipmentStatus) -> Option<u8> {
    match status {
        ShipmentStatus::Pending => Some(0),
        ShipmentStatus::PickedUp => Some(1),
        ShipmentStatus::InTransit => Some(2),
        ShipmentStatus::OutForDelivery => Some(3),
        ShipmentStatus::Delivered => Some(4),
        ShipmentStatus::DeliveryFailed
        | ShipmentStatus::Returned
        | ShipmentStatus::Cancelled
        | ShipmentStatus::Exception => None,
    }
}

/// A shipment's tracking as its events say. The status is the furthest forward step, unless a
/// side state (`delivery_failed`, `exception`) happened after that step; a later forward step
/// (a second delivery attempt, the parcel moving again) ends the side state. A final status ends
/// everything: later events are stored but change nothing.
struct Track {
    status: ShipmentStatus,
    /// The furthest forward step: (rank, when).
    forward: Option<(u8, DateTime<Utc>)>,
    /// The latest side state: (when, which).
    side: Option<(DateTime<Utc>, ShipmentStatus)>,
    last_op_code: Option<String>,
    last_event_at: Option<DateTime<Utc>>,
    delivered_at: Option<DateTime<Utc>>,
    /// When the event behind the current status happened.
    deciding_at: Option<DateTime<Utc>>,
}

impl Track {
    fn new(row: &shipment::Model, history: &[route_event::Model]) -> Self {
        let mut track = Self {
            status: status_of(&row.status),
            forward: None,
            side: None,
            last_op_code: row.last_op_code.clone(),
            last_event_at: row.last_event_at,
            delivered_at: row.delivered_at,
            deciding_at: None,
        };
        for event in history {
            track.note(status_of(&event.status), event.occurred_at);
        }
        track
    }

    /// Records a step in the forward and side summaries, without deciding anything.
    fn note(&mut self, status: ShipmentStatus, at: DateTime<Utc>) {
        if let Some(rank) = rank(status) {
            if self.forward.is_none_or(|f| (rank, at) > f) {
                self.forward = Some((rank, at));
            }
        } else if matches!(
            status,
            ShipmentStatus::DeliveryFailed | ShipmentStatus::Exception
        ) && self.side.is_none_or(|(t, _)| at > t)
        {
            self.side = Some((at, status));
        }
    }

    /// Takes one new event; returns whether it is now the one behind the shipment's status.
    fn fold(&mut self, event: &route_event::Model) -> bool {
        let at = event.occurred_at;
        self.last_event_at = Some(self.last_event_at.map_or(at, |t| t.max(at)));
        if self.status.is_final() {
            return false;
        }
        let status = status_of(&event.status);
        let decided = if status.is_final() {
            // Delivered, returned or cancelled ends the route whenever it comes.
            self.status = status;
            true
        } else {
            self.note(status, at);
            let (next, when) = match (self.forward, self.side) {
                (_, Some((side_at, side))) if self.forward.is_none_or(|(_, f)| side_at > f) => {
                    (side, side_at)
                }
                (Some((rank, f)), _) => (forward_status(rank), f),
                (None, _) => (self.status, at),
            };
            self.status = next;
            next == status && when == at
        };
        if decided {
            self.last_op_code = Some(event.op_code.clone());
            self.deciding_at = Some(at);
            if status == ShipmentStatus::Delivered {
                self.delivered_at = Some(at);
            }
        }
        decided
    }

    fn tracking(&self) -> Tracking {
        Tracking {
            status: self.status,
            last_op_code: self.last_op_code.clone(),
            last_event_at: self.last_event_at,
            delivered_at: self.delivered_at,
        }
    }
}

fn forward_status(rank: u8) -> ShipmentStatus {
    match rank {
        0 => ShipmentStatus::Pending,
        1 => ShipmentStatus::PickedUp,
        2 => ShipmentStatus::InTransit,
        3 => ShipmentStatus::OutForDelivery,
        _ => ShipmentStatus::Delivered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn row() -> shipment::Model {
        let now = Utc::now();
        shipment::Model {
            id: Uuid::now_v7(),
            application_id: Uuid::now_v7(),
            leg: "materials".into(),
            partner: "sf".into(),
            order_id: "BB1".into(),
            order_status: "created".into(),
            status: "pending".into(),
            last_op_code: None,
            waybill_no: Some("SF1".into()),
            courier_name: None,
            courier_phone: None,
            sender: "{}".into(),
            recipient: "{}".into(),
            pickup_date: None,
            pickup_slot: None,
            pickup_from: None,
            pickup_until: None,
            last_event_at: None,
            delivered_at: None,
            last_error: None,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    fn event(status: ShipmentStatus, minutes: i64) -> route_event::Model {
        route_event::Model {
            id: Uuid::now_v7(),
            partner: "sf".into(),
            partner_event_id: Uuid::now_v7().to_string(),
            waybill_no: "SF1".into(),
            shipment_id: None,
            op_code: status.as_str().chars().take(4).collect(),
            status: status.as_str().into(),
            occurred_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap()
                + Duration::minutes(minutes),
            location: None,
            description: String::new(),
            raw: "{}".into(),
            applied: false,
            received_at: Utc::now(),
        }
    }

    /// Folds `(status, minute)` steps in the given arrival order: the final status and which
    /// steps applied.
    fn run(steps: &[(ShipmentStatus, i64)]) -> (ShipmentStatus, Vec<bool>) {
        let mut track = Track::new(&row(), &[]);
        let applied = steps
            .iter()
            .map(|&(s, m)| track.fold(&event(s, m)))
            .collect();
        (track.status, applied)
    }

    use ShipmentStatus::*;

    #[test]
    fn steps_in_order_each_apply() {
        let (status, applied) = run(&[(PickedUp, 0), (InTransit, 10), (Delivered, 20)]);
        assert_eq!(status, Delivered);
        assert_eq!(applied, [true, true, true]);
    }

    #[test]
    fn a_late_step_never_moves_a_shipment_backwards() {
        let (status, applied) = run(&[(InTransit, 10), (PickedUp, 0)]);
        assert_eq!(status, InTransit);
        assert_eq!(applied, [true, false]);
        let (status, applied) = run(&[(Delivered, 20), (PickedUp, 0), (Exception, 30)]);
        assert_eq!(status, Delivered);
        assert_eq!(applied, [true, false, false]);
    }

    #[test]
    fn side_states_hold_until_a_later_forward_step() {
        let (status, applied) = run(&[
            (OutForDelivery, 0),
            (DeliveryFailed, 10),
            (OutForDelivery, 20),
            (Delivered, 30),
        ]);
        assert_eq!(status, Delivered);
        assert_eq!(applied, [true, true, true, true]);
        // An exception older than the step already known changes nothing.
        let (status, applied) = run(&[(InTransit, 10), (Exception, 5)]);
        assert_eq!(status, InTransit);
        assert_eq!(applied, [true, false]);
        // A late forward step that happened before the exception leaves the exception.
        let (status, applied) = run(&[(Exception, 30), (InTransit, 10)]);
        assert_eq!(status, Exception);
        assert_eq!(applied, [true, false]);
    }

    #[test]
    fn returned_and_cancelled_are_final() {
        let (status, applied) = run(&[(InTransit, 0), (Returned, 10), (Delivered, 20)]);
        assert_eq!(status, Returned);
        assert_eq!(applied, [true, true, false]);
    }
}
