//! The citizen's messages about an application event, written in the transaction that records
//! the event: one notification row per channel, and a send job for each that goes. A channel
//! that is off still gets its row (`skipped`, with the reason), so the citizen's history shows
//! every event. Writing them with the event, rather than from a job of its own, costs the
//! change one insert and spares the worker a claim, a read and a commit per event.

use std::collections::BTreeSet;

use sea_orm::{ConnectionTrait, DbErr};
use serde_json::json;
use uuid::Uuid;

use crate::config::WechatConfig;
use crate::jobs::{JobKind, new_job};
use crate::store::applications::application;
use crate::store::jobs as queue;
use crate::store::notifications::{self, NewNotification, PENDING, SKIPPED};

pub const WECHAT: &str = "wechat";
pub const EMAIL: &str = "email";

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
    let row = |channel, skipped: Option<&str>| NewNotification {
        application_id: app.id,
        citizen_id: app.citizen_id,
        event_id,
        event: name,
        channel,
        status: if skipped.is_some() { SKIPPED } else { PENDING },
        detail: skipped.map(str::to_string),
    };
    let mut rows = vec![row(WECHAT, channels.wechat_skipped(name))];
    if app.applicant_email.is_some() {
        rows.push(row(EMAIL, None));
    }
    for row in notifications::create_all(db, rows).await? {
        if row.status != PENDING {
            continue;
        }
        let kind = if row.channel == WECHAT {
            JobKind::NotifyWechat
        } else {
            JobKind::NotifyEmail
        };
        let job = new_job(
            kind,
            json!({ "notification_id": row.id }),
            Some(format!("notify:{}:{event_id}", row.channel)),
        );
        queue::enqueue(db, job).await?;
    }
    Ok(())
}
