//! A shipment's tracking as its route events say, whatever order they came in: a late event never
//! moves it backwards, and nothing moves it out of a final status. Pure: `courier::ingest` reads
//! and writes, this decides. What the events so far add up to is kept on the shipment's row (its
//! furthest forward step and latest side state, with their times: `Tracking`), so new events
//! fold over that summary alone, never over the history.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::shipment::ShipmentStatus;

/// What route events made of a shipment, with the summary of them the next ones fold over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracking {
    pub status: ShipmentStatus,
    pub last_op_code: Option<String>,
    pub last_event_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The furthest forward step: its rank and when it happened.
    pub forward: Option<(i32, DateTime<Utc>)>,
    /// The latest side state and when it happened.
    pub side: Option<(ShipmentStatus, DateTime<Utc>)>,
}

/// One route event, as the fold sees it.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    /// The stored event's id: the fold names the events that moved the shipment by it.
    pub id: Uuid,
    pub status: ShipmentStatus,
    /// The partner's code of the event.
    pub op_code: &'a str,
    pub occurred_at: DateTime<Utc>,
}

/// A shipment whose tracking status moved. This is the hook for the application side: advance
/// the application (a `materials` leg `picked_up`, a `result` leg `delivered`, ...) and queue
/// the citizen's notification, inside the ingest transaction.
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

/// The shipment as `start` sums it up, then `steps` taken in the order they happened: a push of
/// a whole route applies each step, not just the last. Returns the tracking and the ids of the
/// steps that moved it.
pub fn fold<'a>(
    start: &Tracking,
    steps: impl IntoIterator<Item = Step<'a>>,
) -> (Track, HashSet<Uuid>) {
    let mut track = Track::new(start);
    let mut incoming: Vec<Step<'a>> = steps.into_iter().collect();
    incoming.sort_by_key(|e| (e.occurred_at, e.id));
    let applied = incoming
        .into_iter()
        .filter(|e| track.fold(e))
        .map(|e| e.id)
        .collect();
    (track, applied)
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
pub struct Track {
    pub status: ShipmentStatus,
    /// The furthest forward step: (rank, when).
    forward: Option<(u8, DateTime<Utc>)>,
    /// The latest side state: (when, which).
    side: Option<(DateTime<Utc>, ShipmentStatus)>,
    last_op_code: Option<String>,
    last_event_at: Option<DateTime<Utc>>,
    delivered_at: Option<DateTime<Utc>>,
    /// When the event behind the current status happened.
    pub deciding_at: Option<DateTime<Utc>>,
    /// The stored id of that event, when it is one of the new ones.
    pub deciding: Option<Uuid>,
}

impl Track {
    /// The shipment as its summary says, before any new event.
    pub fn new(start: &Tracking) -> Self {
        let forward = start
            .forward
            .and_then(|(rank, at)| u8::try_from(rank).ok().map(|rank| (rank, at)));
        Self {
            status: start.status,
            forward,
            side: start.side.map(|(status, at)| (at, status)),
            last_op_code: start.last_op_code.clone(),
            last_event_at: start.last_event_at,
            delivered_at: start.delivered_at,
            deciding_at: None,
            deciding: None,
        }
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
    pub fn fold(&mut self, event: &Step<'_>) -> bool {
        let at = event.occurred_at;
        self.last_event_at = Some(self.last_event_at.map_or(at, |t| t.max(at)));
        if self.status.is_final() {
            return false;
        }
        let status = event.status;
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
            self.last_op_code = Some(event.op_code.to_string());
            self.deciding_at = Some(at);
            self.deciding = Some(event.id);
            if status == ShipmentStatus::Delivered {
                self.delivered_at = Some(at);
            }
        }
        decided
    }

    pub fn tracking(&self) -> Tracking {
        Tracking {
            status: self.status,
            last_op_code: self.last_op_code.clone(),
            last_event_at: self.last_event_at,
            delivered_at: self.delivered_at,
            forward: self.forward.map(|(rank, at)| (i32::from(rank), at)),
            side: self.side.map(|(at, status)| (status, at)),
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

    fn start() -> Tracking {
        Tracking {
            status: ShipmentStatus::Pending,
            last_op_code: None,
            last_event_at: None,
            delivered_at: None,
            forward: None,
            side: None,
        }
    }

    fn step(status: ShipmentStatus, minutes: i64) -> Step<'static> {
        Step {
            id: Uuid::now_v7(),
            status,
            op_code: "50",
            occurred_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap()
                + Duration::minutes(minutes),
        }
    }

    /// Folds `(status, minute)` steps in the given arrival order: the final status and which
    /// steps applied.
    fn run(steps: &[(ShipmentStatus, i64)]) -> (ShipmentStatus, Vec<bool>) {
        let mut track = Track::new(&start());
        let applied = steps
            .iter()
            .map(|&(s, m)| track.fold(&step(s, m)))
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
    fn one_push_at_a_time_over_the_summary_ends_as_one_fold_of_all() {
        let routes: [&[(ShipmentStatus, i64)]; 7] = [
            &[(PickedUp, 0), (InTransit, 10), (Delivered, 20)],
            &[(InTransit, 10), (PickedUp, 0)],
            &[(Delivered, 20), (PickedUp, 0), (Exception, 30)],
            &[
                (OutForDelivery, 0),
                (DeliveryFailed, 10),
                (OutForDelivery, 20),
                (Delivered, 30),
            ],
            &[(InTransit, 10), (Exception, 5), (OutForDelivery, 20)],
            &[
                (Exception, 30),
                (InTransit, 10),
                (DeliveryFailed, 20),
                (OutForDelivery, 40),
            ],
            &[(InTransit, 0), (Returned, 10), (Delivered, 20)],
        ];
        for steps in routes {
            // The summary is what the row keeps between pushes.
            let mut summary = start();
            let mut applied = Vec::new();
            for &(status, minute) in steps {
                let (track, moved) = fold(&summary, [step(status, minute)]);
                applied.push(!moved.is_empty());
                summary = track.tracking();
            }
            assert_eq!((summary.status, applied), run(steps), "{steps:?}");
        }
    }

    #[test]
    fn returned_and_cancelled_are_final() {
        let (status, applied) = run(&[(InTransit, 0), (Returned, 10), (Delivered, 20)]);
        assert_eq!(status, Returned);
        assert_eq!(applied, [true, true, false]);
    }
}
