//! `/v1/review/applications/{id}` (the case as a reviewer sees it), `.../decision` (approve,
//! return with reasons per material, or reject) and `.../documents/{document_id}/invalidate`
//! (a reused wallet document found unusable). Only the claim holder decides or invalidates.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::applications::documents::case_wallet;
use crate::api::applications::notifications::{Notification, history};
use crate::api::applications::{
    Application, Event, ReturnReason, Viewer, attach_refs, link_pages, view,
};
use crate::api::problem::{ApiError, ApiResult};
use crate::api::review::{audit_review, lease};
use crate::api::security::{ClientIp, StaffAuth, StaffMember, audit_staff_read, staff_record};
use crate::api::text::MultiLine;
use crate::cases::reads;
use crate::cases::review::{Decision, Expiry, Reason};
use crate::domain::application::Action;
use crate::domain::staff::Role;
use crate::state::AppState;
use crate::store::applications::{self, application};
use crate::store::{begin_write, claims, decisions};

pub struct ReviewCaseApi;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum Outcome {
    Approve,
    Return,
    Reject,
}

#[derive(Object)]
pub struct DecisionRequest {
    pub outcome: Outcome,
    /// Why, per material: a `return` needs one or more; a `reject` takes them the same way (or
    /// gives its reason in `note`). Each names a material of the application.
    #[oai(default)]
    pub reasons: Vec<ReturnReason>,
    /// Free text for the case record. A `reject` without `reasons` needs it as its reason.
    #[oai(skip_serializing_if_is_none, validator(max_length = 1000))]
    pub note: Option<MultiLine>,
    /// With `approve`: the expiry printed on the document of a material that has a
    /// `document_type`. Its wallet document is valid until then at the latest.
    #[oai(default, validator(max_items = 50))]
    pub document_expiries: Vec<DocumentExpiry>,
}

#[derive(Object)]
pub struct DocumentExpiry {
    #[oai(validator(min_length = 1, max_length = 64))]
    pub material_code: String,
    /// The last day the document is valid, in the centre's time zone.
    pub expires_on: chrono::NaiveDate,
}

#[derive(Object)]
pub struct Invalidation {
    /// Why the document cannot be used (forged, expired, illegible, ...): the citizen sees it.
    #[oai(validator(min_length = 1, max_length = 500))]
    pub reason: MultiLine,
}

#[derive(Object)]
pub struct DecisionView {
    pub id: Uuid,
    pub outcome: String,
    pub reasons: Vec<ReturnReason>,
    #[oai(skip_serializing_if_is_none)]
    pub note: Option<String>,
    pub reviewer_id: Uuid,
    pub created_at: DateTime<Utc>,
}

#[derive(Object)]
pub struct ClaimState {
    pub claimed: bool,
    pub claimed_by_me: bool,
    #[oai(skip_serializing_if_is_none)]
    pub claim_expires_at: Option<DateTime<Utc>>,
    /// Seconds left on the claim by the service's clock: count down from this rather than from
    /// `claim_expires_at` where the client's clock may be off.
    #[oai(skip_serializing_if_is_none)]
    pub claim_remaining_secs: Option<i64>,
}

/// A case as a reviewer sees it. Page links live 5 minutes. The ID number is shown in full to
/// the claim holder only.
#[derive(Object)]
pub struct ReviewCase {
    pub application: Application,
    pub claim: ClaimState,
    pub events: Vec<Event>,
    pub decisions: Vec<DecisionView>,
    /// What the citizen was told, by which channel, and whether it arrived.
    pub notifications: Vec<Notification>,
}

#[OpenApi(tag = "ApiTags::Review")]
impl ReviewCaseApi {
    /// A case of my departments: applicant, materials as of its catalogue version, every page
    /// with short-lived links, its events and earlier decisions. Audited.
    #[oai(path = "/v1/review/applications/:id", method = "get")]
    async fn case(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
    ) -> ApiResult<Json<ReviewCase>> {
        auth.0.require(Role::Reviewer)?;
        let db = state.db()?;
        let mut app = reads::visible(db, &auth.0.departments, id.0).await?;
        // Working on a claimed case renews the lease.
        if claims::holder(&app, state.clock.now()) == Some(auth.0.id) {
            let txn = begin_write(db).await?;
            if claims::take(&txn, &app, auth.0.id, state.clock.now(), lease(&state)).await? {
                app = reads::visible(&txn, &auth.0.departments, id.0).await?;
            }
            txn.commit().await?;
        }
        let case = case_view(&state, &auth.0, &app).await?;
        let links: usize = case
            .application
            .materials
            .iter()
            .map(|m| m.pages.iter().filter(|p| p.url.is_some()).count())
            .sum();
        audit_staff_read(
            &state,
            staff_record(
                &auth.0,
                &ip,
                "review.view",
                Some(("application", app.id)),
                Some(format!("page links issued: {links}")),
            ),
        )
        .await?;
        Ok(Json(case))
    }

    /// Decide: `approve` passes pre-review, `return` sends it back with a reason per material,
    /// `reject` ends it with its `reasons` (the same shape) or a `note`. Only the holder of a
    /// live claim decides; the decision ends the claim.
    #[oai(path = "/v1/review/applications/:id/decision", method = "post")]
    async fn decide(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
        body: Json<DecisionRequest>,
    ) -> ApiResult<Json<ReviewCase>> {
        auth.0.require(Role::Reviewer)?;
        let db = state.db()?;
        let action = match body.outcome {
            Outcome::Approve => Action::Approve,
            Outcome::Return => Action::Return,
            Outcome::Reject => Action::Reject,
        };
        let decision = Decision {
            action,
            reasons: body
                .reasons
                .iter()
                .map(|r| Reason {
                    material_code: r.material_code.clone(),
                    reason: r.reason.to_string(),
                })
                .collect(),
            note: body
                .note
                .clone()
                .filter(|n| !n.trim().is_empty())
                .map(MultiLine::into_string),
            expiries: body
                .document_expiries
                .iter()
                .map(|e| Expiry {
                    material_code: e.material_code.clone(),
                    expires_on: e.expires_on,
                })
                .collect(),
        };
        let audit = staff_record(
            &auth.0,
            &ip,
            "review.decision",
            Some(("application", id.0)),
            Some(action.as_str().to_string()),
        );
        let app = (state.cases)
            .decide_prereview(db, auth.0.id, &auth.0.departments, id.0, decision, audit)
            .await?;
        let app = reads::visible(db, &auth.0.departments, app.id).await?;
        Ok(Json(case_view(&state, &auth.0, &app).await?))
    }

    /// Take a document this case reused out of the citizen's wallet: it is forged, expired or
    /// otherwise unusable. The reason is recorded and shown to the citizen; the case keeps its
    /// pages (return the material to have them replaced). Only the claim holder does this;
    /// again is harmless.
    #[oai(
        path = "/v1/review/applications/:id/documents/:document_id/invalidate",
        method = "post"
    )]
    async fn invalidate(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        id: Path<Uuid>,
        document_id: Path<Uuid>,
        body: Json<Invalidation>,
    ) -> ApiResult<Json<ReviewCase>> {
        auth.0.require(Role::Reviewer)?;
        let db = state.db()?;
        let reason = body.0.reason.into_string();
        (state.cases)
            .invalidate_document(
                db,
                auth.0.id,
                &auth.0.departments,
                id.0,
                document_id.0,
                reason,
            )
            .await?;
        audit_review(
            &state,
            &auth.0,
            &ip,
            "review.document_invalidate",
            Some(id.0),
            Some(format!("document {}", document_id.0)),
        )
        .await?;
        let app = reads::visible(db, &auth.0.departments, id.0).await?;
        Ok(Json(case_view(&state, &auth.0, &app).await?))
    }
}

async fn case_view(
    state: &AppState,
    member: &StaffMember,
    app: &application::Model,
) -> Result<ReviewCase, ApiError> {
    let db = state.db()?;
    let version = reads::version_of(db, app).await?;
    let now = state.clock.now();
    let holder = claims::holder(app, now);
    let stored = crate::store::pages::of_application(db, app.id).await?;
    let linked = link_pages(state, &stored).await;
    let wallet = case_wallet(state, db, app, &version, &stored, false, true).await?;
    // The ID number in full only to the reviewer holding the claim.
    let viewer = if holder == Some(member.id) {
        Viewer::Owner
    } else {
        Viewer::Other
    };
    let mut application = view(state, app, &version, &linked, &wallet, viewer)?;
    attach_refs(state, db, app, &mut application).await?;
    let events = applications::events(db, app.id)
        .await?
        .into_iter()
        .map(crate::api::applications::event_view)
        .collect::<Result<_, _>>()?;
    let decisions = decisions::of_application(db, app.id)
        .await?
        .into_iter()
        .map(|d| DecisionView {
            id: d.id,
            outcome: d.outcome,
            reasons: serde_json::from_value(d.reasons).unwrap_or_default(),
            note: d.note,
            reviewer_id: d.reviewer_id,
            created_at: d.created_at,
        })
        .collect();
    Ok(ReviewCase {
        application,
        claim: ClaimState {
            claimed: holder.is_some(),
            claimed_by_me: holder == Some(member.id),
            claim_expires_at: holder.and(app.claim_expires_at),
            claim_remaining_secs: super::remaining(app.claim_expires_at, holder, now),
        },
        events,
        decisions,
        notifications: history(db, app.id).await?,
    })
}
