//! Email to staff: a digest of new submissions per department on a schedule, an alert when
//! pre-reviews pass their deadline, and an alert to admins when a job goes dead. Recipients are
//! resolved when the mail is queued; the text is rendered when it is sent.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::api::security::split_list;
use crate::config::Config;
use crate::domain::application::ApplicationState;
use crate::domain::staff::{Role, parse_roles};
use crate::integrations::mailer::{MailError, OutgoingMail};
use crate::jobs::{JobError, JobKind, database, new_job};
use crate::notify::email_templates;
use crate::state::AppState;
use crate::store::applications::application;
use crate::store::jobs::{self as queue, job};
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
    let job = new_job(
        JobKind::StaffEmail,
        json!({ "to": to, "template": template, "context": context }),
        dedupe_key,
    );
    queue::enqueue(db, job).await
}

/// `staff_email {to, template, context}`.
pub async fn send(state: &AppState, payload: &Value) -> Result<(), JobError> {
    let to: Vec<String> = payload["to"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let template = payload["template"].as_str().unwrap_or_default();
    let rendered =
        email_templates::render(template, &payload["context"]).map_err(JobError::Fatal)?;
    let mail = OutgoingMail {
        to,
        subject: rendered.subject,
        body: rendered.body,
        message_id: format!("<{}.staff@beebox>", Uuid::now_v7()),
    };
    match state.mailer.send(&mail).await {
        Ok(()) => Ok(()),
        Err(e @ MailError::Transient(_)) => Err(JobError::Retry(e.into())),
        Err(e @ MailError::Permanent(_)) => Err(JobError::Fatal(e.into())),
    }
}

/// In the transaction that buries `job`: tells the admins. A dead alert does not alert again.
pub async fn alert_dead_job<C: ConnectionTrait>(
    db: &C,
    _config: &Config,
    job: &job::Model,
    error: &str,
) -> Result<(), DbErr> {
    if job.kind == JobKind::StaffEmail.as_str() && job.payload.contains("\"admin_dead_job\"") {
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
                .map_or_else(|| app.matter_code.clone(), |v| v.matter.name);
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

/// `check_sla`: each submitted case past its deadline alerts its department's reviewers once.
pub async fn check_sla(state: &AppState) -> Result<(), JobError> {
    let db = database(state)?;
    let now = Utc::now();
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
    let offset = state.config.local_offset();
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
pub async fn digest(state: &AppState, payload: &Value) -> Result<(), JobError> {
    let db = database(state)?;
    let window = |field: &str| {
        payload[field]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| JobError::Fatal(anyhow::anyhow!("payload has no {field}")))
    };
    let (since, until) = (window("since")?, window("until")?);
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
    let offset = state.config.local_offset();
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
