//! The outbox: the citizen's messages about an application event, written in the transaction
//! that records the event: one notification row per channel, and a send job for each that goes. A channel
//! that is off still gets its row (`skipped`, with the reason), so the citizen's history shows
//! every event. Writing them with the event, rather than from a job of its own, spares the
//! worker a claim, a read and a commit per event; on PostgreSQL they go in the event's own
//! statement (`inserts_for_new_event`, `store::insert_all`), so they cost no round trip either.

use std::collections::BTreeSet;

use sea_orm::sea_query::InsertStatement;
use sea_orm::{ConnectionTrait, DbErr};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::WechatConfig;
use crate::store::applications::application;
use crate::store::jobs::{self as queue, JobPayload, NewJob};
use crate::store::notifications::{self, NewNotification, NotificationStatus};

pub const WECHAT: &str = "wechat";
pub const EMAIL: &str = "email";
/// An email to the agent who filed the case for the resident (their staff address).
pub const AGENT: &str = "agent";

/// `notify_wechat {notification_id}`: sends one notification row as a WeChat subscribe message
/// (`notify::citizen`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyWechat {
    pub notification_id: Uuid,
}

impl JobPayload for NotifyWechat {
    const KIND: &'static str = "notify_wechat";
}

/// `notify_email {notification_id}`: sends one notification row as an email (`notify::citizen`):
/// to the applicant's address, or on the `agent` channel to the agent's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyEmail {
    pub notification_id: Uuid,
}

impl JobPayload for NotifyEmail {
    const KIND: &'static str = "notify_email";
}

/// Which channels a citizen event goes by, as configured: read once at start-up.
#[derive(Debug, Clone, Default)]
pub struct Channels {
    /// WeChat messages need the mini-program's AppID.
    wechat: bool,
    /// The citizen events with a WeChat template id.
    templates: BTreeSet<String>,
}

impl Channels {
    pub fn new(config: &WechatConfig) -> Self {
        Self {
            wechat: config.app_id.is_some(),
            templates: config
                .subscribe
                .templates
                .iter()
                .filter(|(_, template)| template.template_id.is_some())
                .map(|(event, _)| event.clone())
                .collect(),
        }
    }

    /// Why a WeChat message about `event` is not sent, or `None` when it is.
    fn wechat_skipped(&self, event: &str) -> Option<&'static str> {
        if !self.wechat {
            Some("WeChat messages are off: no AppID is configured")
        } else if !self.templates.contains(event) {
            Some("no template is configured for this event")
        } else {
            None
        }
    }
}

/// Writes the notifications of event `event_id` (the citizen event `name`) of `app`. Running it
/// again for the same event writes nothing new: rows are unique per event and channel, send
/// jobs per dedupe key.
pub async fn queue<C: ConnectionTrait>(
    db: &C,
    channels: &Channels,
    app: &application::Model,
    event_id: Uuid,
    name: &'static str,
) -> Result<(), DbErr> {
    for row in notifications::create_all(db, rows(channels, app, event_id, name)).await? {
        if row.status == NotificationStatus::Pending.as_str() {
            queue::enqueue(db, send_job(&row.channel, row.id, event_id)).await?;
        }
    }
    Ok(())
}

/// `queue` for an event just recorded, which has no rows yet: its statements, to run with the
/// event's own (`store::insert_all`).
pub fn inserts_for_new_event(
    channels: &Channels,
    app: &application::Model,
    event_id: Uuid,
    name: &'static str,
) -> Vec<InsertStatement> {
    let rows: Vec<(Uuid, NewNotification)> = rows(channels, app, event_id, name)
        .into_iter()
        .map(|row| (Uuid::now_v7(), row))
        .collect();
    let jobs: Vec<InsertStatement> = rows
        .iter()
        .filter(|(_, row)| row.status == NotificationStatus::Pending)
        .map(|(id, row)| queue::insert(send_job(row.channel, *id, event_id)))
        .collect();
    let mut inserts = vec![notifications::insert_new(rows)];
    inserts.extend(jobs);
    inserts
}

/// One row per channel: WeChat always (`skipped` with the reason when it is off), email when
/// the application has an address, and the agent's email when an agent filed it.
fn rows<'a>(
    channels: &Channels,
    app: &application::Model,
    event_id: Uuid,
    name: &'a str,
) -> Vec<NewNotification<'a>> {
    let row = |channel, skipped: Option<&str>| NewNotification {
        application_id: app.id,
        citizen_id: app.citizen_id,
        event_id,
        event: name,
        channel,
        status: if skipped.is_some() {
            NotificationStatus::Skipped
        } else {
            NotificationStatus::Pending
        },
        detail: skipped.map(str::to_string),
    };
    let mut rows = vec![row(WECHAT, channels.wechat_skipped(name))];
    if app.applicant_email.is_some() {
        rows.push(row(EMAIL, None));
    }
    if app.agent_id.is_some() {
        rows.push(row(AGENT, None));
    }
    rows
}

/// The send job of notification `id` on `channel`.
fn send_job(channel: &str, id: Uuid, event_id: Uuid) -> NewJob {
    let job = if channel == WECHAT {
        NewJob::of(&NotifyWechat {
            notification_id: id,
        })
    } else {
        NewJob::of(&NotifyEmail {
            notification_id: id,
        })
    };
    job.deduped_by(format!("notify:{channel}:{event_id}"))
}
