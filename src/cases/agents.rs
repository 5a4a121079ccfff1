//! Filing for a resident at a village service point: the agent starts the case for a named
//! resident, and the resident authorizes the agent, in the mini-program with a short code the
//! agent shows, or on a signed form that pre-review accepts. Until the resident confirms, the
//! case belongs to a resident account with no WeChat behind it; confirming moves it to the
//! resident's own account, which then sees it and gets its messages like any of their cases.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::citizen::Draft;
use super::pickup::Window;
use super::{CaseError, CaseResult, Cases};
use crate::domain::agent::{self, Method, Standing};
use crate::domain::application::Action;
use crate::domain::application::ApplicationState;
use crate::integrations::courier::Contact;
use crate::store::applications::{self, Actor, application};
use crate::store::authorizations::{self, Authorization};
use crate::store::begin_write;
use crate::store::catalog::MatterVersion;
use crate::store::shipments::shipment;
use crate::store::{audit, citizens};

/// An agent and the service point they file at.
#[derive(Debug, Clone, Copy)]
pub struct Agent {
    pub id: Uuid,
    pub service_point: Uuid,
}

/// A confirmation code, as shown to the resident once.
pub struct Code {
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

/// States in which the department has not decided yet: the resident may still revoke.
fn undecided(state: ApplicationState) -> bool {
    use ApplicationState as S;
    matches!(
        state,
        S::Draft
            | S::Submitted
            | S::Returned
            | S::PrereviewPassed
            | S::PickupScheduled
            | S::AwaitingDropOff
            | S::OriginalsInTransit
            | S::Received
            | S::AtDepartment
    )
}

fn hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.as_bytes()))
}

impl Cases {
    /// Starts a draft for a resident, filed by `agent`, in the caller's transaction: a resident
    /// account with no WeChat behind it owns the case until the resident confirms.
    pub async fn file_for_resident<C: ConnectionTrait>(
        &self,
        txn: &C,
        agent: Agent,
        method: Method,
        version: &MatterVersion,
        mut draft: Draft,
        keys: &crate::keys::Keys,
    ) -> CaseResult<application::Model> {
        let now = self.clock.now();
        let resident = citizens::insert_resident(txn, now).await?;
        draft.agent = Some((agent.id, agent.service_point, method));
        let app = self
            .create_draft(txn, resident, version, draft, keys)
            .await?;
        // A signed form is valid for the configured period from when it was filed; a
        // confirmation in the mini-program from when the resident gives it.
        let expires = (method == Method::SignedForm).then(|| self.authorization_end(now));
        authorizations::insert(
            txn,
            app.id,
            agent.id,
            agent.service_point,
            method.as_str(),
            expires,
            now,
        )
        .await?;
        Ok(app)
    }

    fn authorization_end(&self, from: DateTime<Utc>) -> DateTime<Utc> {
        from + Duration::days(i64::from(self.config.agents.authorization_days))
    }

    /// The case `id` if `agent`'s service point filed it; another point's is `NotFound`.
    pub async fn of_point<C: ConnectionTrait>(
        &self,
        db: &C,
        agent: Agent,
        id: Uuid,
    ) -> CaseResult<application::Model> {
        applications::find(db, id)
            .await?
            .filter(|a| a.service_point_id == Some(agent.service_point))
            .ok_or(CaseError::NotFound)
    }

    /// A fresh confirmation code for the resident of case `id`; any earlier code stops working.
    pub async fn issue_code(
        &self,
        db: &DatabaseConnection,
        agent: Agent,
        id: Uuid,
    ) -> CaseResult<Code> {
        let txn = begin_write(db).await?;
        let app = self.of_point(&txn, agent, id).await?;
        let auth = authorizations::of_application(&txn, app.id)
            .await?
            .ok_or_else(|| CaseError::Internal("an agent's case has no authorization".into()))?;
        let now = self.clock.now();
        if Method::parse(&auth.method) != Some(Method::MiniProgram) {
            return Err(CaseError::AuthorizationMethod);
        }
        match standing(&auth, now) {
            Standing::Revoked => return Err(CaseError::AuthorizationRequired(Standing::Revoked)),
            Standing::Granted => return Err(CaseError::AlreadyAuthorized),
            Standing::Pending | Standing::Expired => {}
        }
        let state = super::change::state_of(&app)?;
        if !undecided(state) {
            return Err(CaseError::WrongState {
                state,
                needs: ApplicationState::Draft,
            });
        }
        let code = agent::new_code();
        let expires_at = now + Duration::seconds(self.config.agents.code_ttl_secs as i64);
        authorizations::set_code(&txn, auth.id, &hash(&code), expires_at).await?;
        txn.commit().await?;
        Ok(Code { code, expires_at })
    }

    /// The case a code is for, while the code is good. A wrong, used or expired code is
    /// `CodeInvalid`, all alike.
    pub async fn offer<C: ConnectionTrait>(
        &self,
        db: &C,
        typed: &str,
    ) -> CaseResult<application::Model> {
        let code = agent::normalize_code(typed).ok_or(CaseError::CodeInvalid)?;
        let auth = authorizations::find_by_code(db, &hash(&code))
            .await?
            .filter(|a| a.code_expires_at.is_some_and(|e| e > self.clock.now()))
            .ok_or(CaseError::CodeInvalid)?;
        applications::find(db, auth.application_id)
            .await?
            .ok_or(CaseError::CodeInvalid)
    }

    /// The resident `citizen` accepts: the code is spent, the authorization runs from now,
    /// and the case becomes the resident's own.
    pub async fn accept_code(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
        typed: &str,
    ) -> CaseResult<application::Model> {
        let code = agent::normalize_code(typed).ok_or(CaseError::CodeInvalid)?;
        let txn = begin_write(db).await?;
        let now = self.clock.now();
        // A renewal is for the resident who confirmed before: nobody else can take the case.
        let auth = authorizations::lock_by_code(&txn, &hash(&code))
            .await?
            .filter(|a| a.code_expires_at.is_some_and(|e| e > now) && a.revoked_at.is_none())
            .filter(|a| a.citizen_id.is_none_or(|c| c == citizen))
            .ok_or(CaseError::CodeInvalid)?;
        let app = applications::lock(&txn, auth.application_id)
            .await?
            .ok_or(CaseError::CodeInvalid)?;
        authorizations::grant(
            &txn,
            auth.id,
            Some(citizen),
            now,
            Some(self.authorization_end(now)),
        )
        .await?;
        applications::set_owner(&txn, app.id, citizen).await?;
        audit::append(
            &txn,
            resident_record(citizen, "authorization.accept", app.id),
        )
        .await?;
        txn.commit().await?;
        applications::find(db, app.id)
            .await?
            .ok_or(CaseError::NotFound)
    }

    /// The resident withdraws the agent's authorization of their case `id`, while the
    /// department has not decided it. Revoking twice is harmless.
    pub async fn revoke_authorization(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
        id: Uuid,
    ) -> CaseResult<application::Model> {
        let txn = begin_write(db).await?;
        let app = super::reads::lock_owned(&txn, citizen, id).await?;
        let auth = authorizations::of_application(&txn, app.id)
            .await?
            .ok_or(CaseError::NotAgentFiled)?;
        if auth.revoked_at.is_none() {
            let state = super::change::state_of(&app)?;
            if !undecided(state) {
                return Err(CaseError::WrongState {
                    state,
                    needs: ApplicationState::AtDepartment,
                });
            }
            authorizations::revoke(&txn, auth.id, self.clock.now()).await?;
            audit::append(
                &txn,
                resident_record(citizen, "authorization.revoke", app.id),
            )
            .await?;
        }
        txn.commit().await?;
        Ok(app)
    }

    /// Refuses an agent's change to a case the resident has not (or no longer) authorized.
    pub async fn check_authorized<C: ConnectionTrait>(
        &self,
        db: &C,
        app: &application::Model,
        for_submit: bool,
    ) -> CaseResult<()> {
        let Some(auth) = authorizations::of_application(db, app.id).await? else {
            return Err(CaseError::NotAgentFiled);
        };
        let standing = standing(&auth, self.clock.now());
        let method = Method::parse(&auth.method).unwrap_or(Method::MiniProgram);
        let ok = if for_submit {
            standing.lets_submit(method)
        } else {
            // Pages may go up before the resident confirms; not after they said no.
            !matches!(standing, Standing::Revoked | Standing::Expired)
        };
        if ok {
            Ok(())
        } else {
            Err(CaseError::AuthorizationRequired(standing))
        }
    }

    /// Pre-review accepted the case: a signed form among its materials is accepted with it.
    pub async fn accept_signed_form<C: ConnectionTrait>(
        &self,
        txn: &C,
        app: &application::Model,
    ) -> CaseResult<()> {
        if !app.signed_form() {
            return Ok(());
        }
        if let Some(auth) = authorizations::of_application(txn, app.id).await?
            && auth.granted_at.is_none()
            && auth.revoked_at.is_none()
        {
            authorizations::grant(txn, auth.id, None, self.clock.now(), None).await?;
        }
        Ok(())
    }
}

impl Cases {
    /// Books one courier visit to `agent`'s service point that collects the originals of every
    /// case of the point waiting for it (pre-review passed, originals posted, authorization not
    /// revoked): one order, one parcel carrying them all.
    pub async fn schedule_point_pickup(
        &self,
        db: &DatabaseConnection,
        agent: Agent,
        contact: Contact,
        window: Window,
    ) -> CaseResult<shipment::Model> {
        let txn = begin_write(db).await?;
        let mut ready = Vec::new();
        for app in applications::lock_awaiting_pickup_of_point(&txn, agent.service_point).await? {
            let posts = super::reads::version_of(&txn, &app)
                .await?
                .matter
                .originals_by_courier;
            let revoked = authorizations::of_application(&txn, app.id)
                .await?
                .is_some_and(|a| a.revoked_at.is_some());
            if posts && !revoked && app.filing_id.is_none() {
                ready.push(app);
            }
        }
        let (first, rest) = ready.split_first().ok_or(CaseError::NothingToCollect)?;
        let also = rest.iter().map(|a| a.id).collect();
        // One parcel for all: the first case's partner (its item's, else the point's).
        let partner = self.partner_for(&txn, first, None).await?;
        let row = self
            .book(&txn, first, also, &contact, &window, partner)
            .await?;
        let reason = Some(format!("{} {}", window.date, window.slot));
        for app in &ready {
            let actor = Actor::staff(agent.id);
            self.change(&txn, app, Action::SchedulePickup, actor, reason.clone())
                .await?;
        }
        txn.commit().await?;
        Ok(row)
    }

    /// The agent handed the posted result to the resident: recorded once, and the receipt
    /// confirmed (completing the case if the courier's delivery push has not come yet).
    pub async fn hand_over(
        &self,
        db: &DatabaseConnection,
        agent: Agent,
        id: Uuid,
    ) -> CaseResult<application::Model> {
        let txn = begin_write(db).await?;
        let app = applications::lock(&txn, id)
            .await?
            .filter(|a| a.service_point_id == Some(agent.service_point))
            .ok_or(CaseError::NotFound)?;
        self.confirm_posted(&txn, &app, Actor::staff(agent.id))
            .await?;
        let auth = authorizations::of_application(&txn, app.id)
            .await?
            .ok_or(CaseError::NotAgentFiled)?;
        authorizations::hand_over(&txn, auth.id, self.clock.now()).await?;
        txn.commit().await?;
        Ok(app)
    }
}

/// The resident's own action on the authorization of case `app`, for the audit log.
fn resident_record(citizen: Uuid, action: &'static str, app: Uuid) -> audit::Record {
    audit::Record {
        actor_kind: "citizen",
        actor_id: Some(citizen),
        action,
        target_kind: Some("application"),
        target_id: Some(app),
        outcome: "success",
        ..Default::default()
    }
}

/// Where `auth` stands at `now`.
pub fn standing(auth: &Authorization, now: DateTime<Utc>) -> Standing {
    Standing::of(auth.granted_at, auth.expires_at, auth.revoked_at, now)
}
