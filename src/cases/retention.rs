//! Retention and destruction of personal data (PIPL: kept no longer than needed). A case ends
//! when it is completed, rejected, refused or cancelled; from that moment (its `updated_at`,
//! which nothing changes afterwards) each part follows its item's period: the photos, the
//! result files, then the personal fields. A draft or returned case untouched for the item's
//! `abandoned_days` is cancelled by the service first. The skeleton (state, item, dates), the
//! events and the audit rows stay for statistics; each destruction is recorded. A case on legal
//! hold is left alone. Objects go by `delete_objects` jobs written in the same transaction, so
//! a kill at any point leaves either nothing done or a job that finishes it.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use uuid::Uuid;

use super::{CaseError, CaseResult, Cases, FieldIssue};
use crate::domain::application::{self as machine, Action, ApplicationState};
use crate::domain::catalog::RetentionDays;
use crate::domain::document::DocumentState;
use crate::store::applications::{self, Actor, application};
use crate::store::jobs::{self as queue, NewJob};
use crate::store::pages::DeleteObjects;
use crate::store::retention::{self as rows, ENDED, PERSONAL_FIELDS, Part, WAITING_ON_CITIZEN};
use crate::store::{begin_write, catalog, citizens, documents, idempotency, sessions};

/// What one pass of the retention job did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RetentionRun {
    /// Drafts and returned cases cancelled as abandoned.
    pub abandoned: usize,
    /// Cases whose photos, result files, personal fields went.
    pub photos: usize,
    pub results: usize,
    pub personal: usize,
    /// Objects handed to delete jobs.
    pub objects: usize,
}

/// When each part of an ended case goes (or went), as a citizen or an admin reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub id: Uuid,
    pub state: ApplicationState,
    pub ended_at: Option<DateTime<Utc>>,
    pub held: bool,
    pub photos: Due,
    pub results: Due,
    pub personal: Due,
}

/// One part's date: destroyed then, due then, or kept until the case ends (`None`, `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub destroyed_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
}

/// What deleting an account did, and when the rest goes.
#[derive(Debug, Clone)]
pub struct AccountDeletion {
    pub deleted_at: DateTime<Utc>,
    /// Drafts cancelled and destroyed at once.
    pub drafts: Vec<Uuid>,
    /// Ended cases (those cancelled now among them) and when each part goes.
    pub cases: Vec<Schedule>,
    /// Wallet documents withdrawn, their photos deleted.
    pub documents: usize,
}

impl AccountDeletion {
    /// When the last of the account's data goes: `None` when nothing is left to destroy, or
    /// when a case on legal hold keeps its data for as long as the hold lasts.
    pub fn complete_by(&self) -> Option<DateTime<Utc>> {
        self.cases
            .iter()
            .flat_map(|c| [c.photos.due_at, c.results.due_at, c.personal.due_at])
            .flatten()
            .max()
    }
}

fn days(n: i32) -> Duration {
    Duration::days(i64::from(n))
}

fn period(days: RetentionDays, part: Part) -> i32 {
    match part {
        Part::Photos => days.photos,
        Part::Results => days.results,
        Part::Personal => days.personal,
    }
}

fn destroyed_at(app: &application::Model, part: Part) -> Option<DateTime<Utc>> {
    match part {
        Part::Photos => app.photos_destroyed_at,
        Part::Results => app.results_destroyed_at,
        Part::Personal => app.personal_destroyed_at,
    }
}

/// When each part of `app` goes under `days`.
pub fn schedule(app: &application::Model, days_in_force: RetentionDays) -> Schedule {
    let state = ApplicationState::parse(&app.state).unwrap_or(ApplicationState::Draft);
    let ended_at = ENDED.contains(&state).then_some(app.updated_at);
    let held = app.held_at.is_some();
    let due = |part: Part| {
        let destroyed_at = destroyed_at(app, part);
        Due {
            destroyed_at,
            due_at: match (destroyed_at, ended_at, held) {
                (None, Some(end), false) => Some(end + days(period(days_in_force, part))),
                _ => None,
            },
        }
    };
    Schedule {
        id: app.id,
        state,
        ended_at,
        held,
        photos: due(Part::Photos),
        results: due(Part::Results),
        personal: due(Part::Personal),
    }
}

/// Every item code's periods in force: its latest version's own, else the defaults.
async fn periods<C: ConnectionTrait>(
    db: &C,
    defaults: RetentionDays,
) -> CaseResult<HashMap<String, RetentionDays>> {
    Ok(catalog::latest_versions(db)
        .await?
        .into_iter()
        .map(|m| (m.code.clone(), m.retention(defaults)))
        .collect())
}

impl Cases {
    fn retention_defaults(&self) -> RetentionDays {
        self.config.retention.defaults()
    }

    /// The periods in force for item `code`.
    pub async fn retention_of<C: ConnectionTrait>(
        &self,
        db: &C,
        code: &str,
    ) -> CaseResult<RetentionDays> {
        let defaults = self.retention_defaults();
        Ok(periods(db, defaults)
            .await?
            .remove(code)
            .unwrap_or(defaults))
    }

    /// One pass over every item: abandoned cases are cancelled, then each part past its date
    /// is destroyed, `retention.batch` cases per transaction, until none is left.
    pub async fn apply_retention(&self, db: &DatabaseConnection) -> CaseResult<RetentionRun> {
        let mut run = RetentionRun::default();
        let batch = self.config.retention.batch;
        for (code, days_in_force) in periods(db, self.retention_defaults()).await? {
            run.abandoned += self.cancel_abandoned(db, &code, days_in_force).await?;
            for part in Part::ALL {
                let before = self.clock.now() - days(period(days_in_force, part));
                loop {
                    let (cases, objects) = self.destroy_batch(db, &code, part, before).await?;
                    match part {
                        Part::Photos => run.photos += cases,
                        Part::Results => run.results += cases,
                        Part::Personal => run.personal += cases,
                    }
                    run.objects += objects;
                    if (cases as u64) < batch {
                        break;
                    }
                }
            }
        }
        Ok(run)
    }

    /// Cancels item `code`'s drafts and returned cases untouched for its `abandoned_days`.
    async fn cancel_abandoned(
        &self,
        db: &DatabaseConnection,
        code: &str,
        days_in_force: RetentionDays,
    ) -> CaseResult<usize> {
        let before = self.clock.now() - days(days_in_force.abandoned);
        let mut cancelled = 0;
        loop {
            let stale = rows::abandoned(db, code, before, self.config.retention.batch).await?;
            let mut moved = 0;
            for app in &stale {
                let txn = begin_write(db).await?;
                match self
                    .change(
                        &txn,
                        app,
                        Action::Cancel,
                        Actor::system(),
                        Some("abandoned".into()),
                    )
                    .await
                {
                    Ok(_) => {
                        txn.commit().await?;
                        moved += 1;
                    }
                    // Touched meanwhile: no longer abandoned.
                    Err(CaseError::Concurrent | CaseError::Refused(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            cancelled += moved;
            if moved == 0 || (stale.len() as u64) < self.config.retention.batch {
                return Ok(cancelled);
            }
        }
    }

    /// Destroys `part` of up to `retention.batch` of item `code`'s cases that ended before
    /// `before`, in one transaction. Returns the cases and the objects handed to a delete job.
    async fn destroy_batch(
        &self,
        db: &DatabaseConnection,
        code: &str,
        part: Part,
        before: DateTime<Utc>,
    ) -> CaseResult<(usize, usize)> {
        let txn = begin_write(db).await?;
        let due = rows::due(&txn, code, part, before, self.config.retention.batch).await?;
        if due.is_empty() {
            txn.rollback().await?;
            return Ok((0, 0));
        }
        let owners: Vec<(Uuid, Uuid)> = due.iter().map(|d| (d.id, d.citizen_id)).collect();
        let keys = destroy_parts(&txn, &owners, part, "retention", self.clock.now()).await?;
        let objects = keys.len();
        if !keys.is_empty() {
            queue::enqueue(&txn, NewJob::of(&DeleteObjects { keys })).await?;
        }
        txn.commit().await?;
        Ok((owners.len(), objects))
    }

    /// Deletes citizen `citizen`'s account once none of their cases is in progress: drafts are
    /// cancelled and destroyed at once, submitted and returned cases cancelled (their data then
    /// follows retention like every ended case's), wallet documents withdrawn and their photos
    /// deleted, subscriptions, remembered requests and sessions dropped, and the WeChat identity
    /// forgotten: the next login from that WeChat user starts a new account.
    pub async fn delete_account(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
    ) -> CaseResult<AccountDeletion> {
        let now = self.clock.now();
        let txn = begin_write(db).await?;
        let apps = applications::of_citizen_all(&txn, citizen).await?;
        let in_progress: Vec<FieldIssue> = apps
            .iter()
            .filter(|a| {
                let state = ApplicationState::parse(&a.state);
                !state.is_some_and(|s| {
                    ENDED.contains(&s)
                        || WAITING_ON_CITIZEN.contains(&s)
                        || machine::next(s, Action::Cancel).is_ok()
                })
            })
            .map(|a| FieldIssue::new(a.id.to_string(), a.state.clone()))
            .collect();
        if !in_progress.is_empty() {
            return Err(CaseError::CasesInProgress(in_progress));
        }
        let defaults = self.retention_defaults();
        let periods = periods(&txn, defaults).await?;
        let mut drafts = Vec::new();
        let mut cases = Vec::new();
        let mut keys = Vec::new();
        for app in apps {
            let state = ApplicationState::parse(&app.state);
            let app = if state.is_some_and(|s| !ENDED.contains(&s)) {
                self.change(
                    &txn,
                    &app,
                    Action::Cancel,
                    Actor::citizen(citizen),
                    Some("account_deleted".into()),
                )
                .await?
            } else {
                app
            };
            if state == Some(ApplicationState::Draft) && app.held_at.is_none() {
                for part in Part::ALL {
                    let owner = [(app.id, citizen)];
                    let taken = destroy_parts(&txn, &owner, part, "account_deleted", now).await?;
                    keys.extend(taken);
                }
                drafts.push(app.id);
                continue;
            }
            let days_in_force = periods.get(&app.matter_code).copied().unwrap_or(defaults);
            cases.push(schedule(&app, days_in_force));
        }
        let wallet = documents::of_citizen(&txn, citizen, true).await?;
        for document in &wallet {
            documents::end(
                &txn,
                document.id,
                DocumentState::Withdrawn,
                None,
                Some("account_deleted".into()),
                now,
            )
            .await?;
        }
        let ids: Vec<Uuid> = wallet.iter().map(|d| d.id).collect();
        let wallet_keys = documents::take_pages(&txn, &ids).await?;
        if !wallet.is_empty() {
            let record = rows::record(
                None,
                citizen,
                "wallet",
                "account_deleted",
                wallet_keys.len(),
                "document_pages",
                now,
            );
            rows::insert_records(&txn, vec![record]).await?;
        }
        keys.extend(wallet_keys);
        if !keys.is_empty() {
            queue::enqueue(&txn, NewJob::of(&DeleteObjects { keys })).await?;
        }
        crate::store::subscriptions::delete_all(&txn, citizen).await?;
        idempotency::forget_subject(&txn, citizen).await?;
        sessions::revoke_subject(&txn, citizen).await?;
        citizens::forget(&txn, citizen, now).await?;
        txn.commit().await?;
        Ok(AccountDeletion {
            deleted_at: now,
            drafts,
            cases,
            documents: wallet.len(),
        })
    }

    /// Puts case `id` on legal hold (`Some((admin, reason))`), or lifts it (`None`). Returns
    /// the case as it is then, and whether anything changed (lifting no hold changes nothing).
    pub async fn set_hold(
        &self,
        db: &DatabaseConnection,
        id: Uuid,
        hold: Option<(Uuid, &str)>,
    ) -> CaseResult<(application::Model, bool)> {
        let txn = begin_write(db).await?;
        if applications::lock(&txn, id).await?.is_none() {
            return Err(CaseError::NotFound);
        }
        let changed = match hold {
            Some((by, reason)) => {
                rows::hold(&txn, id, by, reason, self.clock.now()).await?;
                true
            }
            None => rows::release(&txn, id).await?,
        };
        let app = applications::lock(&txn, id)
            .await?
            .ok_or(CaseError::NotFound)?;
        txn.commit().await?;
        Ok((app, changed))
    }
}

/// Takes `part` of each case of `owners` (id, citizen), marks it and records it; returns the
/// keys of the objects that are to go.
async fn destroy_parts<C: ConnectionTrait>(
    txn: &C,
    owners: &[(Uuid, Uuid)],
    part: Part,
    reason: &str,
    now: DateTime<Utc>,
) -> CaseResult<Vec<String>> {
    let ids: Vec<Uuid> = owners.iter().map(|(id, _)| *id).collect();
    let (taken, fields) = match part {
        Part::Photos => (rows::take_pages(txn, &ids).await?, "pages"),
        Part::Results => (rows::take_results(txn, &ids).await?, "result_files"),
        Part::Personal => {
            rows::blank_personal(txn, &ids).await?;
            (Vec::new(), PERSONAL_FIELDS)
        }
    };
    rows::mark(txn, &ids, part, now).await?;
    let records = owners
        .iter()
        .map(|(id, citizen)| {
            let objects = taken.iter().filter(|(of, _)| of == id).count();
            rows::record(
                Some(*id),
                *citizen,
                part.as_str(),
                reason,
                objects,
                fields,
                now,
            )
        })
        .collect();
    rows::insert_records(txn, records).await?;
    Ok(taken.into_iter().map(|(_, key)| key).collect())
}

/// Convenience for the API: a transaction-less read of one case's schedule.
pub async fn schedule_of(
    cases: &Cases,
    db: &DatabaseConnection,
    app: &application::Model,
) -> CaseResult<Schedule> {
    let days_in_force = cases.retention_of(db, &app.matter_code).await?;
    Ok(schedule(app, days_in_force))
}
