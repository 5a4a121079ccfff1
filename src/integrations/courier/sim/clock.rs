//! The route clock: each parcel's next step on a timer (or by hand), and the per-parcel push
//! queue that delivers every step to `push_url` in the partner's format, with three tries.

use std::sync::Weak;
use std::time::Duration;

use chrono::DateTime;
use serde_json::Value;
use tokio::sync::mpsc;

use super::{PushAttempt, STEPS, Shared, State};

/// The partner gives up on a push after this many failed tries (SF says three; EMS is assumed
/// to do the same).
const MAX_PUSH_TRIES: u32 = 3;

pub(super) struct PushJob {
    routes: Vec<Value>,
    copies: u32,
    delay: Duration,
}

/// Adds the next step to a parcel and queues its pushes. `None` when there is no next step.
pub(super) fn advance_locked(shared: &Shared, state: &mut State, index: usize) -> Option<String> {
    let route_id = state.next_route_id;
    let mode = state.mode.clone();
    let sim_now = state.now();
    let order = &mut state.orders[index];
    if order.cancelled || order.routes.len() >= STEPS {
        return None;
    }
    let step = shared
        .dialect
        .step(order.routes.len(), &order.from_city, &order.to_city);
    // Whole seconds that always move forward, as the partners' route times do.
    let now = DateTime::from_timestamp(sim_now.timestamp(), 0).unwrap_or(sim_now);
    let at = match order.last_at {
        Some(last) if now <= last => last + chrono::Duration::seconds(1),
        _ => now,
    };
    order.last_at = Some(at);
    let route = shared.dialect.route(order, &step, at, route_id);
    order.routes.push(route.clone());
    let delivered = order.routes.len() == STEPS;
    let to_push: Vec<Value> = if mode.drop {
        Vec::new()
    } else if mode.reorder {
        order.held.push(route);
        if delivered {
            order.held.drain(..).rev().collect()
        } else {
            Vec::new()
        }
    } else {
        order.held.drain(..).chain(std::iter::once(route)).collect()
    };
    for route in to_push {
        // A closed queue means the simulator is going away; the step is kept for queries.
        let _ = order.pusher.send(PushJob {
            routes: vec![route],
            copies: if mode.duplicate { 2 } else { 1 },
            delay: mode.delay,
        });
    }
    state.next_route_id += 1;
    Some(step.op_code.to_string())
}

pub(super) async fn run_clock(
    shared: Weak<Shared>,
    waybill_no: String,
    step: Duration,
    skip_pickup_wait: bool,
) {
    let step = step.max(Duration::from_millis(10));
    loop {
        tokio::time::sleep(step).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let mut state = shared.state();
        let Some(index) = state.orders.iter().position(|o| o.waybill_no == waybill_no) else {
            return;
        };
        let order = &state.orders[index];
        if order.cancelled || order.routes.len() >= STEPS {
            return;
        }
        // The courier comes in the booked window: nothing moves before it opens.
        let waiting = !skip_pickup_wait
            && order.routes.is_empty()
            && order.pickup_from.is_some_and(|from| state.now() < from);
        if !state.frozen && !waiting {
            advance_locked(&shared, &mut state, index);
        }
    }
}

pub(super) async fn run_pusher(shared: Weak<Shared>, mut jobs: mpsc::UnboundedReceiver<PushJob>) {
    while let Some(job) = jobs.recv().await {
        if !job.delay.is_zero() {
            tokio::time::sleep(job.delay).await;
        }
        for _ in 0..job.copies {
            deliver(&shared, &job.routes).await;
        }
    }
}

/// One push, tried up to three times.
async fn deliver(shared: &Weak<Shared>, routes: &[Value]) {
    let Some((waybill_no, op_codes)) = shared.upgrade().map(|shared| {
        let waybill = routes
            .first()
            .map(|r| shared.dialect.waybill_of(r))
            .unwrap_or_default();
        let codes: Vec<String> = routes.iter().map(|r| shared.dialect.op_code(r)).collect();
        (waybill, codes)
    }) else {
        return;
    };
    for attempt in 1..=MAX_PUSH_TRIES {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let (status, accepted) = shared
            .dialect
            .push(&shared.http, &shared.settings.push_url, routes)
            .await;
        let interval = {
            let mut state = shared.state();
            state.pushes.push(PushAttempt {
                waybill_no: waybill_no.clone(),
                op_codes: op_codes.clone(),
                attempt,
                accepted,
                status,
            });
            state.retry_interval
        };
        if accepted || attempt == MAX_PUSH_TRIES {
            return;
        }
        drop(shared);
        tokio::time::sleep(interval).await;
    }
}
