//! Group commit for route pushes. A partner pushes on many connections at once, and each push
//! alone is a whole transaction: BEGIN, the shipment lock, its events, the insert, the update
//! and a COMMIT with its WAL flush. So pushes queue here instead, and `courier.push_writers`
//! writers each take every push queued meanwhile and ingest them in one transaction
//! (`ingest_pushes`). Under load a push shares its statements and its commit with the others;
//! alone it waits for nothing. A batch that fails is retried push by push, so a push only fails
//! for its own sake.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{Mutex, OnceCell, mpsc, oneshot};

use crate::cases::Cases;
use crate::courier::ingest::{self, IngestReport};
use crate::integrations::courier::RouteEvent;

/// Pushes one transaction takes at most.
const MAX_BATCH: usize = 32;
/// Pushes waiting at most; beyond that a push waits for room before it queues.
const QUEUE: usize = 1024;

/// Told of each batch a writer takes: the partner and how many pushes it holds (the metrics
/// listen; this module does not know them).
pub type OnBatch = Arc<dyn Fn(&str, usize) + Send + Sync>;

/// The instance's push queue. Its writers start with the first push, on that push's runtime.
#[derive(Clone)]
pub struct PushQueue {
    sender: Arc<OnceCell<mpsc::Sender<Pending>>>,
    on_batch: OnBatch,
    /// What the citizen's messages about the moves go by.
    cases: Cases,
    /// Transactions in flight at once (`courier.push_writers`).
    writers: usize,
}

struct Pending {
    db: DatabaseConnection,
    partner: &'static str,
    events: Vec<RouteEvent>,
    reply: oneshot::Sender<Result<IngestReport, DbErr>>,
}

impl PushQueue {
    pub fn new(on_batch: OnBatch, cases: Cases, writers: usize) -> Self {
        Self {
            sender: Arc::default(),
            on_batch,
            cases,
            writers: writers.max(1),
        }
    }

    /// Ingests one push's `events`, batched with whatever other pushes are queued; returns
    /// once they are committed (or have failed).
    pub async fn ingest(
        &self,
        db: &DatabaseConnection,
        partner: &'static str,
        events: Vec<RouteEvent>,
    ) -> Result<IngestReport, DbErr> {
        let sender = self
            .sender
            .get_or_init(|| async {
                start(self.on_batch.clone(), self.cases.clone(), self.writers)
            })
            .await;
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            db: db.clone(),
            partner,
            events,
            reply,
        };
        if let Err(mpsc::error::SendError(pending)) = sender.send(pending).await {
            // The writers are gone (the runtime is stopping): this push goes alone.
            return ingest::ingest(&pending.db, &self.cases, pending.partner, &pending.events)
                .await;
        }
        answer
            .await
            .map_err(|_| DbErr::Custom("the push writer stopped before answering".into()))?
    }
}

// Not `PushQueue` itself: the writers must not hold the sender, or they would never stop.
fn start(on_batch: OnBatch, cases: Cases, writers: usize) -> mpsc::Sender<Pending> {
    let (sender, receiver) = mpsc::channel(QUEUE);
    let receiver = Arc::new(Mutex::new(receiver));
    for _ in 0..writers {
        let receiver = receiver.clone();
        let on_batch = on_batch.clone();
        let cases = cases.clone();
        tokio::spawn(async move {
            loop {
                let mut batch = Vec::with_capacity(MAX_BATCH);
                if receiver.lock().await.recv_many(&mut batch, MAX_BATCH).await == 0 {
                    return;
                }
                // A panic fails this batch's pushes (their replies are dropped), not the writer;
                // caught in place rather than in a task of its own, which cost a wake-up a batch.
                let written = AssertUnwindSafe(write(batch, &on_batch, &cases))
                    .catch_unwind()
                    .await;
                if written.is_err() {
                    tracing::error!("push batch aborted: the writer panicked");
                }
            }
        });
    }
    sender
}

async fn write(batch: Vec<Pending>, on_batch: &OnBatch, cases: &Cases) {
    let mut by_partner: BTreeMap<&'static str, Vec<Pending>> = BTreeMap::new();
    for pending in batch {
        by_partner.entry(pending.partner).or_default().push(pending);
    }
    for (partner, group) in by_partner {
        on_batch(partner, group.len());
        let db = group[0].db.clone();
        let pushes: Vec<&[RouteEvent]> = group.iter().map(|p| p.events.as_slice()).collect();
        match ingest::ingest_pushes(&db, cases, partner, &pushes).await {
            Ok(reports) => {
                for (pending, report) in group.into_iter().zip(reports) {
                    // The pusher may have hung up; its events are stored all the same.
                    let _ = pending.reply.send(Ok(report));
                }
            }
            Err(error) if group.len() == 1 => {
                if let Some(pending) = group.into_iter().next() {
                    let _ = pending.reply.send(Err(error));
                }
            }
            Err(error) => {
                tracing::warn!(%error, pushes = group.len(), "push batch failed, retried one by one");
                for pending in group {
                    let result = ingest::ingest(&pending.db, cases, partner, &pending.events).await;
                    let _ = pending.reply.send(result);
                }
            }
        }
    }
}
