//! Messages to citizens about their applications. A citizen-visible event writes one
//! notification row per channel and a send job for each that goes, in the event's transaction
//! (`store::outbox`). A send job does nothing when its row is already final, and does not send
//! again when it finds the row `sending`: that means a worker died mid-send, and sending twice
//! is worse than the rare message whose delivery we cannot confirm.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::cases::drop_off::{BOX, shown_waybill};
use crate::config::Config;
use crate::domain::application::{Action, ApplicationState};
use crate::domain::drop_code;
use crate::integrations::mailer::{MailError, OutgoingMail};
use crate::integrations::wechat::{SendError, SubscribeMessage, fit_field};
use crate::jobs::job::{Attempt, Job, JobContext, JobError};
use crate::notify::email_templates;
use crate::notify::wechat_token::TokenSource;
use crate::store::applications::{application, event};
use crate::store::jobs::JobPayload;
use crate::store::notifications::{self, NotificationStatus, notification};
use crate::store::outbox::{self, NotifyEmail, NotifyWechat};
use crate::store::shipments::{self, LEG_MATERIALS, LEG_RESULT, LEG_RETURN};
use crate::store::{begin_write, catalog, citizens, decisions, dispatch, staff, subscriptions};

/// Everything a message about one event says.
struct Facts {
    app: application::Model,
    event: event::Model,
    name: &'static str,
    matter_name: String,
    state_label: &'static str,
    /// The reason of a return or rejection; empty otherwise.
    reason: String,
    /// A return's reasons, material by material: `(material name, reason)`.
    reasons: Vec<(String, String)>,
    /// `reception` for a return after the originals did not match; empty otherwise.
    stage: &'static str,
    /// The waybill of the parcel the event is about; empty when there is none yet.
    waybill_no: String,
    /// The drop code (`XXXX-XXXX`) when the originals go in the box; empty otherwise.
    drop_code: String,
}

/// The event a message is about, its application and the message's name: all that deciding
/// whether and where to send takes. The rest of `Facts` is read only for a message that goes.
struct Subject {
    app: application::Model,
    event: event::Model,
    to: ApplicationState,
    name: &'static str,
}

async fn subject<C: ConnectionTrait>(db: &C, event_id: Uuid) -> Result<Subject, JobError> {
    let (event, app) = event::Entity::find_by_id(event_id)
        .find_also_related(application::Entity)
        .one(db)
        .await?
        .ok_or_else(|| JobError::fatal("the event is gone"))?;
    let app = app.ok_or_else(|| JobError::fatal("the application is gone"))?;
    let to = ApplicationState::parse(&event.to_state)
        .ok_or_else(|| JobError::fatal(format!("unknown state {}", event.to_state)))?;
    let action = Action::parse(&event.action)
        .ok_or_else(|| JobError::fatal(format!("unknown action {}", event.action)))?;
    let name = to
        .citizen_news(action)
        .ok_or_else(|| JobError::fatal(format!("{} is not news to the citizen", event.to_state)))?;
    Ok(Subject {
        app,
        event,
        to,
        name,
    })
}

async fn facts<C: ConnectionTrait>(db: &C, subject: Subject) -> Result<Facts, JobError> {
    let Subject {
        app,
        event,
        to,
        name,
    } = subject;
    let version = catalog::find_case_version(db, app.matter_id, app.signed_form())
        .await?
        .ok_or_else(|| JobError::fatal("the application's catalogue version is gone"))?;
    let material_name = |code: &str| {
        version
            .materials
            .iter()
            .find(|m| m.code == code)
            .map_or_else(|| code.to_string(), |m| m.name.clone())
    };
    let mut reasons = Vec::new();
    let from_reception = event.action == Action::ReceiveMismatch.as_str();
    if to == ApplicationState::Returned && from_reception {
        // Reception's mismatch: every material it named, with its note.
        if let Some(found) = dispatch::mismatch_before(db, app.id, event.created_at).await? {
            let codes: Vec<String> =
                serde_json::from_str(&found.mismatched_materials).unwrap_or_default();
            let note = found
                .note
                .unwrap_or_else(|| "原件与上传的照片不一致".to_string());
            for code in codes {
                reasons.push((material_name(&code), note.clone()));
            }
        }
    } else if to == ApplicationState::Returned {
        // The decision written with this event: the latest return at or before it.
        let decision = decisions::of_application(db, app.id)
            .await?
            .into_iter()
            .rfind(|d| d.outcome == "return" && d.created_at <= event.created_at);
        if let Some(decision) = decision
            && let Some(items) = decision.reasons.as_array()
        {
            for item in items {
                let code = item["material_code"].as_str().unwrap_or_default();
                let reason = item["reason"].as_str().unwrap_or_default();
                reasons.push((material_name(code), reason.to_string()));
            }
        }
    }
    // The parcel the event is about, when there is one and it has its waybill.
    let leg = match to {
        ApplicationState::OriginalsInTransit | ApplicationState::AwaitingDropOff => {
            Some(LEG_MATERIALS)
        }
        ApplicationState::ResultInDelivery | ApplicationState::Completed => Some(LEG_RESULT),
        ApplicationState::Returned if from_reception => Some(LEG_RETURN),
        _ => None,
    };
    let leg = match leg {
        Some(leg) => shipments::current_leg(db, app.id, leg).await?,
        None => None,
    };
    // A drop in the box: its code as the citizen wrote it on the envelope.
    let drop_code = leg
        .as_ref()
        .filter(|l| l.partner == BOX)
        .and_then(|l| l.waybill_no.as_deref())
        .map(drop_code::display)
        .unwrap_or_default();
    let waybill_no = leg.and_then(|l| shown_waybill(&l.partner, l.waybill_no));
    let reason = match (reasons.first(), &event.reason) {
        (Some((material, reason)), _) => format!("{material}：{reason}"),
        (None, Some(reason)) => reason.clone(),
        (None, None) => String::new(),
    };
    Ok(Facts {
        stage: if from_reception { "reception" } else { "" },
        waybill_no: waybill_no.unwrap_or_default(),
        drop_code,
        matter_name: version.matter.name.clone(),
        state_label: to.label_zh(),
        app,
        event,
        name,
        reason,
        reasons,
    })
}

/// `notify_citizen {event_id}`: the notifications of one event. Releases before the outbox
/// queued this job instead of writing them with the event; it is kept for the jobs they left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyCitizen {
    pub event_id: Uuid,
}

impl JobPayload for NotifyCitizen {
    const KIND: &'static str = "notify_citizen";
}

impl Job for NotifyCitizen {
    async fn run(self, ctx: &JobContext) -> Result<(), JobError> {
        let db = &ctx.db;
        let subject = subject(db, self.event_id).await?;
        let txn = begin_write(db).await?;
        outbox::queue(
            &txn,
            &ctx.channels,
            &subject.app,
            self.event_id,
            subject.name,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}

/// The row to send, or `None` when there is nothing left to do.
async fn pending(
    db: &DatabaseConnection,
    id: Uuid,
) -> Result<Option<notification::Model>, JobError> {
    use NotificationStatus::*;
    let row = notifications::find(db, id)
        .await?
        .ok_or_else(|| JobError::fatal("the notification is gone"))?;
    match NotificationStatus::parse(&row.status) {
        Some(Pending) => Ok(Some(row)),
        // Only an admin's retry of the dead job runs it again after it failed.
        Some(Failed) => {
            notifications::finish(db, row.id, Pending, row.detail.clone()).await?;
            Ok(Some(notification::Model {
                status: Pending.as_str().into(),
                ..row
            }))
        }
        Some(Sending) => {
            notifications::finish(
                db,
                row.id,
                Unknown,
                Some("outcome unknown: the worker stopped while sending; not sent again, to avoid a duplicate".into()),
            )
            .await?;
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// After a failed attempt: pending again (another attempt follows), or failed on the last one.
async fn failed_attempt(
    db: &DatabaseConnection,
    row: &notification::Model,
    attempt: Attempt,
    detail: String,
) -> Result<(), JobError> {
    let status = if attempt.is_last() {
        NotificationStatus::Failed
    } else {
        NotificationStatus::Pending
    };
    notifications::finish(db, row.id, status, Some(detail.clone())).await?;
    Err(JobError::Retry(anyhow::anyhow!(detail)))
}

/// `YYYY年MM月DD日 HH:MM` in the service centre's time: what WeChat's `time` fields take.
fn local_time(config: &Config, at: DateTime<Utc>) -> String {
    at.with_timezone(&config.local_offset())
        .format("%Y年%m月%d日 %H:%M")
        .to_string()
}

impl Job for NotifyWechat {
    async fn run(self, ctx: &JobContext) -> Result<(), JobError> {
        send_wechat(ctx, self.notification_id).await
    }
}

impl Job for NotifyEmail {
    async fn run(self, ctx: &JobContext) -> Result<(), JobError> {
        send_email(ctx, self.notification_id).await
    }
}

/// `notify_wechat {notification_id}`: one subscribe message.
async fn send_wechat(ctx: &JobContext, id: Uuid) -> Result<(), JobError> {
    let (db, attempt) = (&ctx.db, ctx.attempt);
    let Some(row) = pending(db, id).await? else {
        return Ok(());
    };
    // The row names its event: the template is known before anything else is read.
    let configured = ctx
        .config
        .wechat
        .subscribe
        .templates
        .get(row.event.as_str())
        .and_then(|t| t.template_id.clone().map(|id| (t, id)));
    let Some((template, template_id)) = configured else {
        notifications::finish(
            db,
            row.id,
            NotificationStatus::Skipped,
            Some("no template is configured".into()),
        )
        .await?;
        return Ok(());
    };
    // One acceptance allows one message: the first attempt spends it, retries reuse it.
    let txn = begin_write(db).await?;
    if row.attempts == 0 && !subscriptions::take_one(&txn, row.citizen_id, &template_id).await? {
        drop(txn);
        notifications::finish(
            db,
            row.id,
            NotificationStatus::Skipped,
            Some("the citizen has no subscription left for this template".into()),
        )
        .await?;
        return Ok(());
    }
    // Read only for a message that goes; a failure here leaves the subscription unspent.
    let citizen = citizens::find(&txn, row.citizen_id)
        .await?
        .ok_or_else(|| JobError::fatal("the citizen is gone"))?;
    let facts = facts(&txn, subject(&txn, row.event_id).await?).await?;
    if !notifications::start_sending(&txn, row.id).await? {
        return Ok(());
    }
    txn.commit().await?;

    let values = BTreeMap::from([
        ("matter_name", facts.matter_name.clone()),
        ("status", facts.state_label.to_string()),
        ("time", local_time(&ctx.config, facts.event.created_at)),
        (
            "reason",
            if facts.reason.is_empty() {
                "无".to_string()
            } else {
                facts.reason.clone()
            },
        ),
        ("application_no", facts.app.id.simple().to_string()),
        ("waybill_no", facts.waybill_no.clone()),
    ]);
    let data = template
        .data_fields()
        .map(|(field, pattern)| {
            let mut value = pattern.clone();
            for (name, replacement) in &values {
                value = value.replace(&format!("{{{name}}}"), replacement);
            }
            (field.clone(), fit_field(field, &value))
        })
        .collect();
    let subscribe = &ctx.config.wechat.subscribe;
    let message = SubscribeMessage {
        touser: citizen.openid.clone(),
        template_id: template_id.clone(),
        page: subscribe
            .page
            .replace("{application_id}", &facts.app.id.to_string()),
        miniprogram_state: subscribe.miniprogram_state.clone(),
        data,
    };
    let tokens = TokenSource::new(
        ctx.wechat.clone(),
        ctx.keys.clone(),
        subscribe.token_refresh_margin_secs,
    );
    let token = match tokens.get(db).await {
        Ok(token) => token,
        Err(e) => {
            return failed_attempt(db, &row, attempt, format!("no access token: {e:#}")).await;
        }
    };
    let mut sent = ctx.wechat.send_subscribe(&token, &message).await;
    if let Err(SendError::TokenInvalid(_)) = sent {
        // The shared token was revoked or expired early: refresh it once and try again.
        match tokens.refresh_after_rejection(db, &token).await {
            Ok(fresh) => sent = ctx.wechat.send_subscribe(&fresh, &message).await,
            Err(e) => {
                return failed_attempt(db, &row, attempt, format!("token refresh: {e:#}")).await;
            }
        }
    }
    match sent {
        Ok(()) => {
            notifications::finish(db, row.id, NotificationStatus::Sent, None).await?;
            Ok(())
        }
        Err(SendError::NoConsent) => {
            subscriptions::clear(db, citizen.id, &template_id).await?;
            notifications::finish(
                db,
                row.id,
                NotificationStatus::Skipped,
                Some("WeChat: the citizen has not consented to this template (43101)".into()),
            )
            .await?;
            Ok(())
        }
        Err(SendError::Permanent(code, message)) => {
            let detail = format!("WeChat refused the message: errcode {code} {message}");
            let failed = NotificationStatus::Failed;
            notifications::finish(db, row.id, failed, Some(detail.clone())).await?;
            Err(JobError::Fatal(anyhow::anyhow!(detail)))
        }
        Err(e @ (SendError::Retryable(_) | SendError::TokenInvalid(_))) => {
            failed_attempt(db, &row, attempt, format!("WeChat: {e}")).await
        }
    }
}

/// `notify_email {notification_id}`: one email to the address given on the application.
async fn send_email(ctx: &JobContext, id: Uuid) -> Result<(), JobError> {
    let (db, attempt) = (&ctx.db, ctx.attempt);
    let Some(row) = pending(db, id).await? else {
        return Ok(());
    };
    let facts = facts(db, subject(db, row.event_id).await?).await?;
    let to = if row.channel == outbox::AGENT {
        match facts.app.agent_id {
            Some(agent) => staff::find(db, agent).await?.and_then(|m| m.email),
            None => None,
        }
    } else {
        facts.app.applicant_email.clone()
    };
    let Some(to) = to else {
        let skipped = NotificationStatus::Skipped;
        notifications::finish(db, row.id, skipped, Some("no email address".into())).await?;
        return Ok(());
    };
    let context = json!({
        "applicant_name": facts.app.applicant_name,
        "matter_name": facts.matter_name,
        "application_no": facts.app.id.simple().to_string(),
        "status": facts.state_label,
        "time": local_time(&ctx.config, facts.event.created_at),
        "reason": facts.reason,
        "reasons": facts.reasons.iter().map(|(material, reason)| {
            json!({ "material": material, "reason": reason })
        }).collect::<Vec<_>>(),
        "stage": facts.stage,
        "waybill_no": facts.waybill_no,
        "drop_code": facts.drop_code,
        "drop_place": ctx.config.courier.drop_box.place,
        "drop_emptied_at": ctx.config.courier.drop_box.empty_at.join("、"),
    });
    let rendered = email_templates::render(&format!("citizen_{}", facts.name), &context)
        .map_err(JobError::Fatal)?;
    if !notifications::start_sending(db, row.id).await? {
        return Ok(());
    }
    let mail = OutgoingMail {
        to: vec![to],
        subject: rendered.subject,
        body: rendered.body,
        message_id: format!("<{}.{}@beebox>", row.event_id, row.channel),
    };
    match ctx.mailer.send(&mail).await {
        Ok(()) => {
            notifications::finish(db, row.id, NotificationStatus::Sent, None).await?;
            Ok(())
        }
        // The address was refused: nothing an operator can retry, so it ends here.
        Err(MailError::Permanent(e)) => {
            let refused = Some(format!("refused: {e}"));
            notifications::finish(db, row.id, NotificationStatus::Failed, refused).await?;
            Ok(())
        }
        Err(MailError::Transient(e)) => failed_attempt(db, &row, attempt, e).await,
    }
}
