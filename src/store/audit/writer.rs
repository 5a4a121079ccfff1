//! Group commit for audit records. A busy reviewer's every queue view is audited, and a record
//! alone is a whole transaction with its WAL flush. So records queue here, and one writer takes
//! every record queued meanwhile and appends them in one statement. The caller still waits for
//! its record's commit, so an answered request's record is never lost; under load records share
//! a commit, alone a record waits for nothing. A batch that fails is retried record by record, so
//! a record only fails for its own sake.
//!
//! A record of what staff *read* (a queue, a case) may be `Flush::Deferred`: on PostgreSQL its
//! batch commits with `synchronous_commit = off`, so the reader does not wait for the WAL flush
//! (about 4 ms on this project's machines, the whole cost of an audited read). The record is
//! still committed and ordered before the answer; only a crash of the database server itself
//! within PostgreSQL's WAL writer delay (three times `wal_writer_delay`, 600 ms by default) can
//! lose it, and never a part of it. Actions stay `Flush::Durable`.

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{OnceCell, mpsc, oneshot};

use super::Record;

/// Records one statement takes at most.
const MAX_BATCH: usize = 64;
/// Records waiting at most; beyond that an append waits for room.
const QUEUE: usize = 1024;

/// The instance's audit queue (one per `AppState`, so every record in it goes to the same
/// database). Its writer starts with the first record, on that record's runtime.
#[derive(Clone, Default)]
pub struct AuditWriter {
    sender: Arc<OnceCell<mpsc::Sender<Pending>>>,
}

/// What an append waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// The commit and its WAL flush: an action's record survives any crash once answered.
    Durable,
    /// The commit only (PostgreSQL's `synchronous_commit = off`): a read's record.
    Deferred,
}

struct Pending {
    db: DatabaseConnection,
    record: Record,
    flush: Flush,
    reply: oneshot::Sender<Result<(), DbErr>>,
}

impl AuditWriter {
    /// Appends `record`, batched with whatever other records are queued; returns once it is
    /// committed as `flush` asks (or has failed). A batch with a durable record is durable.
    pub async fn append(
        &self,
        db: &DatabaseConnection,
        record: Record,
        flush: Flush,
    ) -> Result<(), DbErr> {
        let sender = self.sender.get_or_init(|| async { start() }).await;
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            db: db.clone(),
            record,
            flush,
            reply,
        };
        if let Err(mpsc::error::SendError(pending)) = sender.send(pending).await {
            // The writer is gone (the runtime is stopping): this record goes alone.
            return super::append(&pending.db, pending.record).await;
        }
        answer
            .await
            .map_err(|_| DbErr::Custom("the audit writer stopped before answering".into()))?
    }
}

// Not `AuditWriter` itself: the writer must not hold the sender, or it would never stop.
fn start() -> mpsc::Sender<Pending> {
    let (sender, mut receiver) = mpsc::channel::<Pending>(QUEUE);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
            write(std::mem::take(&mut batch)).await;
        }
    });
    sender
}

async fn write(batch: Vec<Pending>) {
    let db = batch[0].db.clone();
    let records: Vec<Record> = batch.iter().map(|p| p.record.clone()).collect();
    let together = if batch.iter().all(|p| p.flush == Flush::Deferred) {
        Some(append_deferred(&db, records).await)
    } else if batch.len() > 1 {
        Some(super::append_many(&db, records).await)
    } else {
        None
    };
    if let Some(Ok(())) = together {
        for pending in batch {
            let _ = pending.reply.send(Ok(()));
        }
        return;
    }
    // Alone, or the batch failed: each on its own and durable, so one bad record fails only
    // itself.
    for pending in batch {
        let result = super::append(&pending.db, pending.record).await;
        let _ = pending.reply.send(result);
    }
}

/// `records` in one transaction that does not wait for its WAL flush (PostgreSQL; SQLite's WAL
/// mode with `synchronous = NORMAL` does not flush on commit anyway).
async fn append_deferred(db: &DatabaseConnection, records: Vec<Record>) -> Result<(), DbErr> {
    use sea_orm::{ConnectionTrait, DatabaseBackend, TransactionTrait};
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return super::append_many(db, records).await;
    }
    let txn = db.begin().await?;
    txn.execute_unprepared("SET LOCAL synchronous_commit TO OFF")
        .await?;
    super::append_many(&txn, records).await?;
    txn.commit().await
}
