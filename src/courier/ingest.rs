//! Route events into shipments, from pushes and from reconciliation alike. Every event is stored
//! raw once per partner event id (a replay is a no-op), even for waybills no shipment has yet.
//! A shipment's status is what its events say (`domain::track`), whatever order they came in:
//! a late event never moves it backwards, and nothing moves it out of a final status. One ingest
//! is one write transaction however many pushes it carries (`pushes` batches them).

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use uuid::Uuid;

use crate::cases::Cases;
use crate::domain::shipment::ShipmentStatus;
use crate::domain::track::{self, StatusChange, Step, Track, Tracking};
use crate::integrations::courier::RouteEvent;
use crate::store::begin_write;
use crate::store::route_writes;
use crate::store::shipments::{self, Locked, route_event, shipment};

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

/// Called inside the ingest transaction for each shipment whose status moved, so whatever it
/// writes (an application transition, the citizen's notifications) commits with the event or
/// not at all.
pub async fn on_status_changed<C: ConnectionTrait>(
    txn: &C,
    cases: &Cases,
    change: &StatusChange,
) -> Result<(), DbErr> {
    crate::courier::progress::advance(txn, cases, change).await
}

/// Stores `events` from `partner` and applies them to their shipments, in one write
/// transaction.
pub async fn ingest(
    db: &DatabaseConnection,
    cases: &Cases,
    partner: &str,
    events: &[RouteEvent],
) -> Result<IngestReport, DbErr> {
    let mut reports = ingest_pushes(db, cases, partner, &[events]).await?;
    Ok(reports.pop().unwrap_or_default())
}

/// Stores the events of several pushes from `partner` and applies them, all in one write
/// transaction, with a report for each push. The shipments of all their waybills are locked in
/// one statement, which also says whether events wait unattached for any of them (read only
/// then). Each shipment's new tracking is folded over its row, without its history, and written
/// with the new events in one statement (`route_writes::store`), which names the replays. So a
/// batch costs little more than a single push.
#[tracing::instrument(skip_all, fields(partner = %partner, pushes = pushes.len()), err)]
pub async fn ingest_pushes(
    db: &DatabaseConnection,
    cases: &Cases,
    partner: &str,
    pushes: &[&[RouteEvent]],
) -> Result<Vec<IngestReport>, DbErr> {
    let mut reports = vec![IngestReport::default(); pushes.len()];
    // Waybills in order, and each waybill's events by id (with the push each came in): every
    // transaction takes its row locks and unique-key slots in the same order, so concurrent
    // ingests cannot deadlock.
    let mut by_waybill: BTreeMap<&str, BTreeMap<&str, (usize, &RouteEvent)>> = BTreeMap::new();
    for (origin, events) in pushes.iter().enumerate() {
        for event in events.iter() {
            if !valid(event) {
                tracing::warn!(
                    partner,
                    event_id_len = event.event_id.len(),
                    waybill_len = event.waybill_no.len(),
                    "route event with an unusable id or waybill dropped"
                );
                reports[origin].invalid += 1;
                continue;
            }
            match by_waybill
                .entry(event.waybill_no.as_str())
                .or_default()
                .entry(event.event_id.as_str())
            {
                Entry::Occupied(_) => reports[origin].duplicates += 1,
                Entry::Vacant(slot) => {
                    slot.insert((origin, event));
                }
            }
        }
    }
    if by_waybill.is_empty() {
        return Ok(reports);
    }
    let txn = begin_write(db).await?;
    let waybills: Vec<&str> = by_waybill.keys().copied().collect();
    let mut rows = shipments::lock_by_waybills(&txn, partner, &waybills).await?;
    // Only a waybill whose events came before its shipment knew it needs another read.
    let awaiting: Vec<&str> = rows
        .iter()
        .filter(|(_, locked)| locked.has_late)
        .map(|(waybill_no, _)| waybill_no.as_str())
        .collect();
    let mut late = late_by_waybill(&txn, partner, &awaiting).await?;
    // Where each new row came from, for the reports.
    let mut origins: HashMap<Uuid, usize> = HashMap::new();
    let mut plans = Vec::new();
    let mut unmatched = Vec::new();
    for (waybill_no, group) in by_waybill {
        let Some(Locked { row, .. }) = rows.remove(waybill_no) else {
            for (origin, event) in group.into_values() {
                let stored = shipments::event_row(partner, event, None);
                origins.insert(stored.id, origin);
                unmatched.push(stored);
            }
            continue;
        };
        let late = late.remove(waybill_no).unwrap_or_default();
        let mut fresh = Vec::new();
        for (origin, event) in group.into_values() {
            // A replay of an event stored before is found by its insert (`replays`).
            if late.iter().any(|e| e.partner_event_id == event.event_id) {
                reports[origin].duplicates += 1;
            } else {
                let stored = shipments::event_row(partner, event, Some(row.id));
                origins.insert(stored.id, origin);
                fresh.push(stored);
            }
        }
        plans.push(Plan::new(row, late, fresh));
    }

    let mut new_rows: Vec<&route_event::Model> = plans
        .iter()
        .flat_map(|plan| &plan.fresh)
        .chain(&unmatched)
        .collect();
    new_rows.sort_by(|a, b| a.partner_event_id.cmp(&b.partner_event_id));
    // Each shipment's tracking as if none of its new events were a replay (the usual case),
    // written with the events.
    let hoped: Vec<Option<Settled>> = plans.iter().map(Plan::settled).collect();
    let writes: Vec<(&shipment::Model, &Tracking)> = hoped
        .iter()
        .flatten()
        .map(|s| (&s.row, &s.tracking))
        .collect();
    let stored = route_writes::store(&txn, &new_rows, &writes).await?;
    let replays = &stored.replays;
    for event in &unmatched {
        let report = &mut reports[origins[&event.id]];
        if replays.contains(&event.id) {
            report.duplicates += 1;
        } else {
            report.unknown_waybill += 1;
        }
    }
    for event in plans.iter().flat_map(|plan| &plan.fresh) {
        let report = &mut reports[origins[&event.id]];
        if replays.contains(&event.id) {
            report.duplicates += 1;
        } else {
            report.stored += 1;
        }
    }
    let mut settled = Vec::new();
    for (mut plan, hoped) in plans.into_iter().zip(hoped) {
        let first = plan.fresh.first().and_then(|e| origins.get(&e.id).copied());
        let (done, written) = if plan.fresh.iter().any(|e| replays.contains(&e.id)) {
            plan.drop_replays(&txn, replays).await?;
            plan.attach_late(&txn).await?;
            (plan.settled(), false)
        } else {
            plan.attach_late(&txn).await?;
            if hoped
                .as_ref()
                .is_some_and(|s| !stored.tracked.contains(&s.row.id))
            {
                return Err(changed_meanwhile());
            }
            (hoped, true)
        };
        settled.extend(done.map(|done| (first, done, written)));
    }
    // Shipments with a replay among their new events, folded again without it.
    let refolded = settled.iter().filter(|(_, _, written)| !written);
    write_tracking(&txn, refolded.map(|(_, done, _)| done)).await?;
    for (first, done, _) in settled {
        if let Some((change, deciding)) = done.change {
            on_status_changed(&txn, cases, &change).await?;
            let origin = deciding.and_then(|id| origins.get(&id).copied());
            reports[origin.or(first).unwrap_or(0)].changes.push(change);
        }
    }
    txn.commit().await?;
    Ok(reports)
}

/// Attaches the events stored for `waybill_no` before its shipment knew it, and applies them.
/// Called once the partner order gives the shipment its waybill.
#[tracing::instrument(skip_all, fields(partner = %partner, %shipment_id), err)]
pub async fn match_unknown(
    db: &DatabaseConnection,
    cases: &Cases,
    partner: &str,
    waybill_no: &str,
    shipment_id: Uuid,
) -> Result<IngestReport, DbErr> {
    let mut report = IngestReport::default();
    let txn = begin_write(db).await?;
    let Some(row) = shipments::lock(&txn, shipment_id).await? else {
        return Ok(report);
    };
    let late = shipments::unattached_of_waybills(&txn, partner, &[waybill_no]).await?;
    report.stored = late.len();
    let plan = Plan::new(row, late, Vec::new());
    plan.attach_late(&txn).await?;
    if let Some(done) = plan.settled() {
        write_tracking(&txn, [&done]).await?;
        if let Some((change, _)) = done.change {
            on_status_changed(&txn, cases, &change).await?;
            report.changes.push(change);
        }
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

/// The events of these waybills stored before any shipment knew them, by waybill.
async fn late_by_waybill<C: ConnectionTrait>(
    txn: &C,
    partner: &str,
    waybills: &[&str],
) -> Result<HashMap<String, Vec<route_event::Model>>, DbErr> {
    let mut late: HashMap<String, Vec<route_event::Model>> = HashMap::new();
    for event in shipments::unattached_of_waybills(txn, partner, waybills).await? {
        late.entry(event.waybill_no.clone())
            .or_default()
            .push(event);
    }
    Ok(late)
}

/// What the new events of one locked shipment make of it: `late` (stored before the waybill was
/// known) and `fresh` (about to be stored) folded over the row (what its events so far add up
/// to). Each fresh row carries its `applied` flag before it is written, so each is written once.
struct Plan {
    row: shipment::Model,
    late: Vec<route_event::Model>,
    fresh: Vec<route_event::Model>,
    track: Track,
    /// The late and fresh events that moved it.
    applied: HashSet<Uuid>,
}

impl Plan {
    fn new(
        row: shipment::Model,
        late: Vec<route_event::Model>,
        mut fresh: Vec<route_event::Model>,
    ) -> Self {
        let (track, applied) = track::fold(&tracking_of(&row), steps(&late, &fresh));
        for event in &mut fresh {
            event.applied = applied.contains(&event.id);
        }
        Self {
            row,
            late,
            fresh,
            track,
            applied,
        }
    }

    /// The shipment's new tracking, if it changed.
    fn settled(&self) -> Option<Settled> {
        Settled::new(&self.row, &self.track)
    }

    /// Once the new events are written: folds again without `replays` (the new events not
    /// stored, their partner event id being stored already) and corrects the `applied` flags
    /// of the rows just written.
    async fn drop_replays<C: ConnectionTrait>(
        &mut self,
        txn: &C,
        replays: &HashSet<Uuid>,
    ) -> Result<(), DbErr> {
        self.fresh.retain(|e| !replays.contains(&e.id));
        let (track, applied) = track::fold(&tracking_of(&self.row), steps(&self.late, &self.fresh));
        let (now_applied, not_applied): (Vec<_>, Vec<_>) = self
            .fresh
            .iter()
            .filter(|e| e.applied != applied.contains(&e.id))
            .map(|e| e.id)
            .partition(|id| applied.contains(id));
        shipments::set_applied(txn, &now_applied, true).await?;
        shipments::set_applied(txn, &not_applied, false).await?;
        self.track = track;
        self.applied = applied;
        Ok(())
    }

    /// Attaches the late events to the shipment, marking those that moved it.
    async fn attach_late<C: ConnectionTrait>(&self, txn: &C) -> Result<(), DbErr> {
        if self.late.is_empty() {
            return Ok(());
        }
        let late_ids: Vec<Uuid> = self.late.iter().map(|e| e.id).collect();
        let late_applied: Vec<Uuid> = late_ids
            .iter()
            .copied()
            .filter(|id| self.applied.contains(id))
            .collect();
        shipments::attach(txn, self.row.id, &late_ids, &late_applied).await
    }
}

/// A shipment whose tracking changed: what to write, and the status change it makes (with the
/// new event that decided it), if its status moved.
struct Settled {
    row: shipment::Model,
    tracking: Tracking,
    change: Option<(StatusChange, Option<Uuid>)>,
}

impl Settled {
    fn new(row: &shipment::Model, track: &Track) -> Option<Self> {
        let tracking = track.tracking();
        let before = Track::new(&tracking_of(row)).tracking();
        if tracking == before {
            return None;
        }
        let old = before.status;
        let change = (tracking.status != old).then(|| {
            let change = StatusChange {
                shipment_id: row.id,
                application_id: row.application_id,
                leg: row.leg.clone(),
                partner: row.partner.clone(),
                waybill_no: row.waybill_no.clone().unwrap_or_default(),
                old,
                new: tracking.status,
                op_code: tracking.last_op_code.clone().unwrap_or_default(),
                at: track.deciding_at.unwrap_or_else(Utc::now),
            };
            (change, track.deciding)
        });
        Some(Self {
            row: row.clone(),
            tracking,
            change,
        })
    }
}

/// What the row says its route events so far add up to.
fn tracking_of(row: &shipment::Model) -> Tracking {
    Tracking {
        status: status_of(&row.status),
        last_op_code: row.last_op_code.clone(),
        last_event_at: row.last_event_at,
        delivered_at: row.delivered_at,
        forward: row.forward_rank.zip(row.forward_at),
        side: row.side_status.as_deref().map(status_of).zip(row.side_at),
    }
}

/// The stored events, as the fold takes them.
fn steps<'a>(
    late: &'a [route_event::Model],
    fresh: &'a [route_event::Model],
) -> impl Iterator<Item = Step<'a>> {
    late.iter().chain(fresh).map(|e| Step {
        id: e.id,
        status: status_of(&e.status),
        op_code: &e.op_code,
        occurred_at: e.occurred_at,
    })
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

/// Writes the new tracking of these settled shipments, in one statement on PostgreSQL.
async fn write_tracking<'a, C: ConnectionTrait>(
    txn: &C,
    settled: impl IntoIterator<Item = &'a Settled>,
) -> Result<(), DbErr> {
    let rows: Vec<(&shipment::Model, &Tracking)> =
        settled.into_iter().map(|s| (&s.row, &s.tracking)).collect();
    if route_writes::store(txn, &[], &rows).await?.tracked.len() != rows.len() {
        return Err(changed_meanwhile());
    }
    Ok(())
}

// The rows are locked for this transaction (FOR UPDATE; BEGIN IMMEDIATE on SQLite), so this
// means a writer that bypassed the lock.
fn changed_meanwhile() -> DbErr {
    DbErr::Custom("a shipment changed while its events were applied".into())
}
