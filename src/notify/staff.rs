//! Email to staff: a digest of new submissions per department on a schedule, an alert when
//! pre-reviews pass their deadline, and an alert to admins when a job goes dead. Recipients are
//! resolved when the mail is queued; the text is rendered when it is sent.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::domain::application::ApplicationState;
use crate::domain::staff::{Role, parse_roles, split_list};
use crate::integrations::mailer::{MailError, OutgoingMail};
use crate::jobs::job::{Job, JobContext, JobError};
use crate::notify::email_templates;
use crate::store::applications::application;
use crate::store::jobs::{self as queue, JobPayload, NewJob, job};
use crate::store::staff::member;
use crate::store::{begin_write, catalog};

/// The addresses of active staff with `role` in `department` (any department when `None`).
async fn recipients<C: ConnectionTrait>(
    db: &C,
    role: Role,
    department: Option<&str>,
) -> Result<Vec<String>, DbErr> {
    let members = member::Entity::find()
        .filter(member::Column::DisabledAt.is_null())
        .filter(member::Column::Email.is_not_null())
        .order_by_asc(member::Column::Id)
        .all(db)
        .await?;
    Ok(members
        .into_iter()
        .filter(|m| parse_roles(&m.roles).contains(&role))
        .filter(|m| department.is_none_or(|d| split_list(&m.departments).iter().any(|x| x == d)))
        .filter_map(|m| m.email)
        .collect())
}

/// Queues one staff email. Nothing is queued when nobody would receive it.
async fn queue_mail<C: ConnectionTrait>(
    db: &C,
    to: Vec<String>,
    template: &str,
    context: Value,
    dedupe_key: Option<String>,
) -> Result<bool, DbErr> {
    if to.is_empty() {
        tracing::info!(template, "no staff address to send to; not queued");
        return Ok(false);
    }
    let job = NewJob::of(&StaffEmail {
        to,
        template: template.to_string(),
        context,
    });
    let job = match dedupe_key {
        Some(key) => job.deduped_by(key),
        None => job,
    };
    queue::enqueue(db, job).await
}

/// `staff_email {to, template, context}`: one email to staff, rendered when it is sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaffEmail {
    pub to: Vec<String>,
    /// An `email_templates` name.
    pub template: String,
    pub context: Value,
}

impl JobPayload for StaffEmail {
    const KIND: &'static str = "staff_email";
}

impl Job for StaffEmail {
    async fn run(self, ctx: &JobContext) -> Result<(), JobError> {
        let rendered =
            email_templates::render(&self.template, &self.context).map_err(JobError::Fatal)?;
        let mail = OutgoingMail {
            to: self.to,
            subject: rendered.subject,
            body: rendered.body,
            message_id: format!("<{}.staff@beebox>", Uuid::now_v7()),
        };
        match ctx.mailer.send(&mail).await {
            Ok(()) => Ok(()),
            Err(e @ MailError::Transient(_)) => Err(JobError::Retry(e.into())),
            Err(e @ MailError::Permanent(_)) => Err(JobError::Fatal(e.into())),
        }
    }
}

/// In the transaction that buries `job`: tells the admins. A dead alert does not alert again.
pub async fn alert_dead_job<C: ConnectionTrait>(
    db: &C,
    job: &job::Model,
    error: &str,
) -> Result<(), DbErr> {
    if job.kind == StaffEmail::KIND && job.payload.contains("\"admin_dead_job\"") {
        return Ok(());
    }
    let to = recipients(db, Role::Admin, None).await?;
    let context = json!({
        "job_id": job.id,
        "kind": job.kind,
        "attempts": job.attempts,
        "last_error": error.chars().take(500).collect::<String>(),
        "retry_hint": format!("POST /v1/admin/jobs/{}/retry", job.id),
    });
    queue_mail(db, to, "admin_dead_job", context, None).await?;
    Ok(())
}

fn item(app: &application::Model, matter_name: &str, offset: chrono::FixedOffset) -> Value {
    let local = |at: Option<DateTime<Utc>>| {
        at.map(|t| {
            t.with_timezone(&offset)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
    };
    json!({
        "application_no": app.id.simple().to_string(),
        "matter_name": matter_name,
        "submitted_at": local(app.submitted_at),
        "due_at": local(app.prereview_due_at),
    })
}

async fn matter_names<C: ConnectionTrait>(
    db: &C,
    apps: &[application::Model],
) -> Result<BTreeMap<Uuid, String>, DbErr> {
    let mut names = BTreeMap::new();
    for app in apps {
        if let std::collections::btree_map::Entry::Vacant(slot) = names.entry(app.matter_id) {
            let name = catalog::find_version(db, app.matter_id)
                .await?
                .map_or_else(|| app.matter_code.clone(), |v| v.matter.name.clone());
            slot.insert(name);
        }
    }
    Ok(names)
}

fn by_department(apps: Vec<application::Model>) -> BTreeMap<String, Vec<application::Model>> {
    let mut groups: BTreeMap<String, Vec<application::Model>> = BTreeMap::new();
    for app in apps {
        groups
            .entry(app.department_code.clone())
            .or_default()
            .push(app);
    }
    groups
}

/// `check_sla {slot}`: each submitted case past its deadline alerts its department's reviewers
/// once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckSla {
    /// The schedule slot (Unix seconds) it was queued for; the check itself reads the clock.
    #[serde(default)]
    pub slot: i64,
}

impl JobPayload for CheckSla {
    const KIND: &'static str = "check_sla";
}

impl Job for CheckSla {
    const SCHEDULED: bool = true;

    async fn run(self, ctx: &JobContext) -> Result<(), JobError> {
        check_sla(ctx).await
    }
}

async fn check_sla(ctx: &JobContext) -> Result<(), JobError> {
    let db = &ctx.db;
    let now = ctx.clock.now();
    let txn = begin_write(db).await?;
    let overdue = application::Entity::find()
        .filter(application::Column::State.eq(ApplicationState::Submitted.as_str()))
        .filter(application::Column::PrereviewDueAt.lt(now))
        .filter(application::Column::OverdueAlertedAt.is_null())
        .order_by_asc(application::Column::PrereviewDueAt)
        .all(&txn)
        .await?;
    if overdue.is_empty() {
        return Ok(());
    }
    application::Entity::update_many()
        .col_expr(application::Column::OverdueAlertedAt, Expr::value(now))
        .filter(application::Column::Id.is_in(overdue.iter().map(|a| a.id)))
        .filter(application::Column::OverdueAlertedAt.is_null())
        .exec(&txn)
        .await?;
    let names = matter_names(&txn, &overdue).await?;
    let offset = ctx.config.local_offset();
    for (department, apps) in by_department(overdue) {
        let to = recipients(&txn, Role::Reviewer, Some(&department)).await?;
        let items: Vec<Value> = apps
            .iter()
            .map(|a| item(a, &names[&a.matter_id], offset))
            .collect();
        let context = json!({ "department": department, "items": items });
        queue_mail(&txn, to, "staff_sla_overdue", context, None).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// `digest {since, until}`: per department, the cases submitted in the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl JobPayload for Digest {
    const KIND: &'static str = "digest";
}

impl Job for Digest {
    const SCHEDULED: bool = true;

    async fn run(self, ctx: &JobContext) -> Result<(), JobError> {
        digest(ctx, self.since, self.until).await
    }
}

async fn digest(
    ctx: &JobContext,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<(), JobError> {
    let db = &ctx.db;
    let submitted = application::Entity::find()
        .filter(application::Column::SubmittedAt.gte(since))
        .filter(application::Column::SubmittedAt.lt(until))
        .order_by_asc(application::Column::SubmittedAt)
        .all(db)
        .await?;
    if submitted.is_empty() {
        return Ok(());
    }
    let names = matter_names(db, &submitted).await?;
    let offset = ctx.config.local_offset();
    let txn = begin_write(db).await?;
    for (department, apps) in by_department(submitted) {
        let to = recipients(&txn, Role::Reviewer, Some(&department)).await?;
        let items: Vec<Value> = apps
            .iter()
            .map(|a| item(a, &names[&a.matter_id], offset))
            .collect();
        let context = json!({
            "department": department,
            "count": items.len(),
            "since": since.with_timezone(&offset).format("%Y-%m-%d %H:%M").to_string(),
            "items": items,
        });
        // A rerun of this digest queues nothing new.
        let key = format!("digest:{department}:{}", until.timestamp());
        queue_mail(&txn, to, "staff_digest", context, Some(key)).await?;
    }
    txn.commit().await?;
    Ok(())
}
