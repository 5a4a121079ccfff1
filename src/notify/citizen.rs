//! Messages to citizens about their applications. A citizen-visible event writes one
//! notification row per channel and a send job for each that goes, in the event's transaction
//! (`outbox`). A send job does nothing when its row is already final, and does not send again
//! when it finds the row `sending`: that means a worker died mid-send, and sending twice is
//! worse than the rare message whose delivery we cannot confirm.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::domain::application::{Action, ApplicationState};
use crate::integrations::mailer::{MailError, OutgoingMail};
use crate::integrations::wechat::{SendError, SubscribeMessage, fit_field};
use crate::jobs::{Attempt, JobError, database};
use crate::notify::wechat_token::TokenSource;
use crate::notify::{email_templates, outbox};
use crate::state::AppState;
use crate::store::applications::{application, event};
use crate::store::notifications::{
    self, FAILED, PENDING, SENDING, SENT, SKIPPED, UNKNOWN, notification,
};
use crate::store::shipments::{self, LEG_MATERIALS, LEG_RESULT, LEG_RETURN};
use crate::store::{begin_write, catalog, citizens, decisions, dispatch, subscriptions};

fn fatal(message: impl Into<String>) -> JobError {
    JobError::Fatal(anyhow::anyhow!(message.into()))
}

fn id_field(payload: &Value, field: &str) -> Result<Uuid, JobError> {
    payload[field]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| fatal(format!("payload has no {field}")))
}

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
        .ok_or_else(|| fatal("the event is gone"))?;
    let app = app.ok_or_else(|| fatal("the application is gone"))?;
    let to = ApplicationState::parse(&event.to_state)
        .ok_or_else(|| fatal(format!("unknown state {}", event.to_state)))?;
    let name = to
        .citizen_event()
        .ok_or_else(|| fatal(format!("{} is not news to the citizen", event.to_state)))?;
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
    let version = catalog::find_version(db, app.matter_id)
        .await?
        .ok_or_else(|| fatal("the application's catalogue version is gone"))?;
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
        ApplicationState::OriginalsInTransit => Some(LEG_MATERIALS),
        ApplicationState::ResultInDelivery | ApplicationState::Completed => Some(LEG_RESULT),
        ApplicationState::Returned if from_reception => Some(LEG_RETURN),
        _ => None,
    };
    let waybill_no = match leg {
        Some(leg) => shipments::current_leg(db, app.id, leg)
            .await?
            .and_then(|s| s.waybill_no),
        None => None,
    };
    let reason = match (reasons.first(), &event.reason) {
        (Some((material, reason)), _) => format!("{material}：{reason}"),
        (None, Some(reason)) => reason.clone(),
        (None, None) => String::new(),
    };
    Ok(Facts {
        stage: if from_reception { "reception" } else { "" },
        waybill_no: waybill_no.unwrap_or_default(),
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
pub async fn fan_out(state: &AppState, payload: &Value) -> Result<(), JobError> {
    let db = database(state)?;
    let event_id = id_field(payload, "event_id")?;
    let subject = subject(db, event_id).await?;
    let txn = begin_write(db).await?;
    outbox::queue(&txn, &state.channels, &subject.app, event_id, subject.name).await?;
    txn.commit().await?;
    Ok(())
}

/// The row to send, or `None` when there is nothing left to do.
async fn pending(
    db: &DatabaseConnection,
    payload: &Value,
) -> Result<Option<notification::Model>, JobError> {
    let id = id_field(payload, "notification_id")?;
    let row = notifications::find(db, id)
        .await?
        .ok_or_else(|| fatal("the notification is gone"))?;
    match row.status.as_str() {
        PENDING => Ok(Some(row)),
        // Only an admin's retry of the dead job runs it again after it failed.
        FAILED => {
            notifications::finish(db, row.id, PENDING, row.detail.clone()).await?;
            Ok(Some(notification::Model {
                status: PENDING.into(),
                ..row
            }))
        }
        SENDING => {
            notifications::finish(
                db,
                row.id,
                UNKNOWN,
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
    let status = if attempt.is_last() { FAILED } else { PENDING };
    notifications::finish(db, row.id, status, Some(detail.clone())).await?;
    Err(JobError::Retry(anyhow::anyhow!(detail)))
}

/// `YYYY年MM月DD日 HH:MM` in the service centre's time: what WeChat's `time` fields take.
fn local_time(state: &AppState, at: DateTime<Utc>) -> String {
    at.with_timezone(&state.config.local_offset())
        .format("%Y年%m月%d日 %H:%M")
        .to_string()
}

/// `notify_wechat {notification_id}`: one subscribe message.
pub async fn send_wechat(
    state: &AppState,
    payload: &Value,
    attempt: Attempt,
) -> Result<(), JobError> {
    let db = database(state)?;
    let Some(row) = pending(db, payload).await? else {
        return Ok(());
    };
    // The row names its event: the template is known before anything else is read.
    let configured = state
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
            SKIPPED,
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
            SKIPPED,
            Some("the citizen has no subscription left for this template".into()),
        )
        .await?;
        return Ok(());
    }
    // Read only for a message that goes; a failure here leaves the subscription unspent.
    let citizen = citizens::find(&txn, row.citizen_id)
        .await?
        .ok_or_else(|| fatal("the citizen is gone"))?;
    let facts = facts(&txn, subject(&txn, row.event_id).await?).await?;
    if !notifications::start_sending(&txn, row.id).await? {
        return Ok(());
    }
    txn.commit().await?;

    let values = BTreeMap::from([
        ("matter_name", facts.matter_name.clone()),
        ("status", facts.state_label.to_string()),
        ("time", local_time(state, facts.event.created_at)),
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
    let subscribe = &state.config.wechat.subscribe;
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
        state.wechat.clone(),
        state.keys.clone(),
        subscribe.token_refresh_margin_secs,
    );
    let token = match tokens.get(db).await {
        Ok(token) => token,
        Err(e) => {
            return failed_attempt(db, &row, attempt, format!("no access token: {e:#}")).await;
        }
    };
    let mut sent = state.wechat.send_subscribe(&token, &message).await;
    if let Err(SendError::TokenInvalid(_)) = sent {
        // The shared token was revoked or expired early: refresh it once and try again.
        match tokens.refresh_after_rejection(db, &token).await {
            Ok(fresh) => sent = state.wechat.send_subscribe(&fresh, &message).await,
            Err(e) => {
                return failed_attempt(db, &row, attempt, format!("token refresh: {e:#}")).await;
            }
        }
    }
    match sent {
        Ok(()) => {
            notifications::finish(db, row.id, SENT, None).await?;
            Ok(())
        }
        Err(SendError::NoConsent) => {
            subscriptions::clear(db, citizen.id, &template_id).await?;
            notifications::finish(
                db,
                row.id,
                SKIPPED,
                Some("WeChat: the citizen has not consented to this template (43101)".into()),
            )
            .await?;
            Ok(())
        }
        Err(SendError::Permanent(code, message)) => {
            let detail = format!("WeChat refused the message: errcode {code} {message}");
            notifications::finish(db, row.id, FAILED, Some(detail.clone())).await?;
            Err(JobError::Fatal(anyhow::anyhow!(detail)))
        }
        Err(e @ (SendError::Retryable(_) | SendError::TokenInvalid(_))) => {
            failed_attempt(db, &row, attempt, format!("WeChat: {e}")).await
        }
    }
}

/// `notify_email {notification_id}`: one email to the address given on the application.
pub async fn send_email(
    state: &AppState,
    payload: &Value,
    attempt: Attempt,
) -> Result<(), JobError> {
    let db = database(state)?;
    let Some(row) = pending(db, payload).await? else {
        return Ok(());
    };
    let facts = facts(db, subject(db, row.event_id).await?).await?;
    let Some(to) = facts.app.applicant_email.clone() else {
        notifications::finish(db, row.id, SKIPPED, Some("no email address".into())).await?;
        return Ok(());
    };
    let context = json!({
        "applicant_name": facts.app.applicant_name,
        "matter_name": facts.matter_name,
        "application_no": facts.app.id.simple().to_string(),
        "status": facts.state_label,
        "time": local_time(state, facts.event.created_at),
        "reason": facts.reason,
        "reasons": facts.reasons.iter().map(|(material, reason)| {
            json!({ "material": material, "reason": reason })
        }).collect::<Vec<_>>(),
        "stage": facts.stage,
        "waybill_no": facts.waybill_no,
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
        message_id: format!("<{}.email@beebox>", row.event_id),
    };
    match state.mailer.send(&mail).await {
        Ok(()) => {
            notifications::finish(db, row.id, SENT, None).await?;
            Ok(())
        }
        // The address was refused: nothing an operator can retry, so it ends here.
        Err(MailError::Permanent(e)) => {
            notifications::finish(db, row.id, FAILED, Some(format!("refused: {e}"))).await?;
            Ok(())
        }
        Err(MailError::Transient(e)) => failed_attempt(db, &row, attempt, e).await,
    }
}
