//! The citizen's wallet (证照夹). Pre-review's approval makes each typed material's pages a
//! verified document of the citizen, the department's approval confirms it; the citizen attaches
//! one to another case's material (their consent for that case and department), withdraws one,
//! and a reviewer invalidates one a case reused. A document names the case's stored objects: no
//! bytes are copied. The rules of validity are `domain::document`'s.

use std::collections::HashMap;

use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection};
use uuid::Uuid;

use super::intake::{ensure_editable, ensure_material_editable};
use super::review::Expiry;
use super::{CaseError, CaseResult, Cases, FieldIssue, reads};
use crate::domain::application::Action;
use crate::domain::catalog::Reuse;
use crate::domain::document::{self as rules, Candidate, DocumentState, Wanted};
use crate::store::applications::{self, Actor, application};
use crate::store::catalog::{MatterVersion, material};
use crate::store::documents::{self, NewDocument, document};
use crate::store::pages::{self, page};
use crate::store::{StoreError, audit, begin_write};

/// The material's side of the reuse rules.
pub fn wanted(material: &material::Model) -> Wanted<'_> {
    Wanted {
        document_type: material.document_type.as_deref(),
        reuse: Reuse::parse(&material.reuse).unwrap_or_default(),
        reuse_valid_days: material.reuse_valid_days,
    }
}

/// The document's side of the reuse rules.
pub fn candidate(doc: &document::Model) -> Candidate<'_> {
    Candidate {
        // A state the schema does not know reads as ended, never as valid.
        state: DocumentState::parse(&doc.state).unwrap_or(DocumentState::Invalidated),
        document_type: &doc.document_type,
        verified: doc.verified(),
        valid_until: doc.valid_until,
    }
}

/// Whether a document's pages are a case's pages: the same bytes in the same order.
fn same_pages(document: &[documents::document_page::Model], case: &[page::Model]) -> bool {
    document.len() == case.len() && document.iter().zip(case).all(|(a, b)| a.sha256 == b.sha256)
}

/// A document attached to a case: its pages there, and whether this request attached it.
pub struct Attached {
    pub pages: Vec<page::Model>,
    pub created: bool,
}

impl Cases {
    /// In pre-review's approving transaction: each material with a `document_type` whose pages
    /// were uploaded (not reused) becomes a verified document. Approving again after a return
    /// keeps a document whose pages did not change and replaces one whose pages did.
    pub(super) async fn verify_documents<C: ConnectionTrait>(
        &self,
        txn: &C,
        app: &application::Model,
        version: &MatterVersion,
        reviewer: Uuid,
        expiries: &[Expiry],
    ) -> CaseResult<()> {
        let now = self.clock.now();
        let offset = self.config.local_offset();
        let stored = pages::of_application(txn, app.id).await?;
        let earlier = documents::valid_from(txn, app.id).await?;
        for m in &version.materials {
            let Some(document_type) = m.document_type.as_deref() else {
                continue;
            };
            let own: Vec<page::Model> = stored
                .iter()
                .filter(|p| p.material_code == m.code)
                .cloned()
                .collect();
            if own.is_empty() || own.iter().all(|p| p.document_id.is_some()) {
                continue;
            }
            let expires_on = expiries
                .iter()
                .find(|e| e.material_code == m.code)
                .map(|e| e.expires_on);
            let valid_days = wanted(m).reuse_valid_days;
            if let Some(old) = earlier.iter().find(|d| d.source_material_code == m.code) {
                let old_pages = documents::pages_of(txn, &[old.id]).await?;
                if same_pages(&old_pages, &own) {
                    if expires_on.is_some() && expires_on != old.expires_on {
                        let until =
                            rules::valid_until(old.verified(), old.valid_days, expires_on, offset);
                        documents::set_expiry(txn, old.id, expires_on, until).await?;
                    }
                    continue;
                }
                documents::end(
                    txn,
                    old.id,
                    DocumentState::Replaced,
                    Some(reviewer),
                    Some("verified again with other pages".into()),
                    now,
                )
                .await?;
            }
            // The same pages verified in another case (a bundle's shared material): one
            // document is enough.
            let mut known = false;
            for doc in documents::valid_of_types(txn, app.citizen_id, &[document_type]).await? {
                if same_pages(&documents::pages_of(txn, &[doc.id]).await?, &own) {
                    known = true;
                    break;
                }
            }
            if known {
                continue;
            }
            let new = NewDocument {
                citizen_id: app.citizen_id,
                document_type,
                application_id: app.id,
                material_code: &m.code,
                department_code: &app.department_code,
                verified_by: reviewer,
                expires_on,
                valid_days,
                valid_until: rules::valid_until(now, valid_days, expires_on, offset),
                now,
            };
            documents::insert(txn, new, &own).await?;
        }
        Ok(())
    }

    /// In the department's approving transaction: the documents the case made are confirmed,
    /// and their validity counts from now.
    pub(super) async fn confirm_documents<C: ConnectionTrait>(
        &self,
        txn: &C,
        app: &application::Model,
        approver: Uuid,
    ) -> CaseResult<()> {
        let now = self.clock.now();
        let offset = self.config.local_offset();
        for doc in documents::valid_from(txn, app.id).await? {
            let until = rules::valid_until(now, doc.valid_days, doc.expires_on, offset);
            documents::confirm(txn, doc.id, approver, until, now).await?;
        }
        Ok(())
    }

    /// Fills a material of the citizen's editable case with a document of their wallet: new
    /// pages naming the document's objects, the citizen's consent for this case and department,
    /// and an event on the case's timeline. The same document again answers as the first time.
    pub async fn attach_document(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
        id: Uuid,
        material_code: &str,
        document_id: Uuid,
    ) -> CaseResult<Attached> {
        let txn = begin_write(db).await?;
        let app = reads::lock_owned(&txn, citizen, id).await?;
        ensure_editable(&app)?;
        ensure_material_editable(&app, material_code)?;
        let version = reads::version_of(&txn, &app).await?;
        let material = version
            .materials
            .iter()
            .find(|m| m.code == material_code)
            .ok_or_else(|| CaseError::MaterialNotFound(material_code.to_string()))?;
        let doc = documents::find_owned(&txn, citizen, document_id)
            .await?
            .ok_or(CaseError::DocumentNotFound)?;
        let existing = pages::of_application(&txn, app.id).await?;
        let of_material: Vec<&page::Model> = existing
            .iter()
            .filter(|p| p.material_code == material.code)
            .collect();
        let already: Vec<page::Model> = of_material
            .iter()
            .filter(|p| p.document_id == Some(doc.id))
            .map(|p| (*p).clone())
            .collect();
        if !already.is_empty() {
            return Ok(Attached {
                pages: already,
                created: false,
            });
        }
        let now = self.clock.now();
        rules::usable(candidate(&doc), wanted(material), now)
            .map_err(CaseError::DocumentUnusable)?;
        let doc_pages = documents::pages_of(&txn, &[doc.id]).await?;
        if of_material.len() + doc_pages.len() > material.max_pages as usize {
            return Err(CaseError::TooManyPages(format!(
                "{} takes at most {} page(s); this document has {} and the material {} already.",
                material.name,
                material.max_pages,
                doc_pages.len(),
                of_material.len()
            )));
        }
        let limit = self.config.uploads.max_pages_per_application as usize;
        if existing.len() + doc_pages.len() > limit {
            return Err(CaseError::TooManyPages(format!(
                "An application may hold at most {limit} pages."
            )));
        }
        if doc_pages
            .iter()
            .any(|d| existing.iter().any(|p| p.sha256 == d.sha256))
        {
            return Err(CaseError::DuplicatePage);
        }
        let mut attached = Vec::with_capacity(doc_pages.len());
        for (i, d) in doc_pages.iter().enumerate() {
            let position = (of_material.len() + i) as i32 + 1;
            let mut model = pages::new_model(Uuid::now_v7(), app.id, &material.code, position);
            model.object_key = Set(d.object_key.clone());
            model.thumbnail_key = Set(d.thumbnail_key.clone());
            model.content_type = Set(d.content_type.clone());
            model.size = Set(d.size);
            model.sha256 = Set(d.sha256.clone());
            model.width = Set(d.width);
            model.height = Set(d.height);
            model.original_name = Set(None);
            model.created_at = Set(now);
            model.document_id = Set(Some(doc.id));
            attached.push(match pages::insert(&txn, model).await {
                Ok(page) => page,
                Err(StoreError::Conflict) => return Err(CaseError::DuplicatePage),
                Err(StoreError::Db(e)) => return Err(e.into()),
            });
        }
        documents::record_use(
            &txn,
            doc.id,
            app.id,
            &material.code,
            &app.department_code,
            now,
        )
        .await?;
        let state = super::change::state_of(&app)?;
        // The timeline's words, as the citizen and staff read them.
        let what = format!(
            "证照夹：{}（{} 核验，案件 {}，证照 {}）用于材料 {}",
            doc.document_type,
            doc.verified().format("%Y-%m-%d"),
            doc.source_application_id,
            doc.id,
            material.code
        );
        applications::record_event(
            &txn,
            app.id,
            Actor::citizen(citizen),
            Action::AttachDocument,
            Some(state),
            state,
            Some(what.clone()),
            now,
        )
        .await?;
        audit::append(
            &txn,
            audit::Record {
                actor_kind: "citizen",
                actor_id: Some(citizen),
                action: "document.attach",
                target_kind: Some("application"),
                target_id: Some(app.id),
                outcome: "success",
                detail: Some(format!("{what}; department {}", app.department_code)),
                ..Default::default()
            },
        )
        .await?;
        if !applications::touch(&txn, &app, now).await? {
            return Err(CaseError::Concurrent);
        }
        txn.commit().await?;
        Ok(Attached {
            pages: attached,
            created: true,
        })
    }

    /// Takes a document out of the citizen's wallet: it is never offered again; the cases that
    /// used it keep their pages. Withdrawing an ended document leaves it as it is.
    pub async fn withdraw_document(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
        id: Uuid,
    ) -> CaseResult<document::Model> {
        let txn = begin_write(db).await?;
        let doc = documents::find_owned(&txn, citizen, id)
            .await?
            .ok_or(CaseError::DocumentNotFound)?;
        documents::end(
            &txn,
            doc.id,
            DocumentState::Withdrawn,
            None,
            None,
            self.clock.now(),
        )
        .await?;
        let doc = documents::find(&txn, doc.id)
            .await?
            .ok_or(CaseError::DocumentNotFound)?;
        txn.commit().await?;
        Ok(doc)
    }

    /// A reviewer holding the claim on a case that reused `document_id` finds it unusable (a
    /// forged or expired card): it leaves the citizen's wallet with `reason`, and the case's
    /// timeline says so. The case keeps its pages; returning the material is the reviewer's
    /// decision. Invalidating it again changes nothing.
    pub async fn invalidate_document(
        &self,
        db: &DatabaseConnection,
        reviewer: Uuid,
        departments: &[String],
        id: Uuid,
        document_id: Uuid,
        reason: String,
    ) -> CaseResult<document::Model> {
        if reason.trim().is_empty() {
            return Err(CaseError::Invalid(vec![FieldIssue::new(
                "reason",
                "must not be blank",
            )]));
        }
        let txn = begin_write(db).await?;
        let app = reads::lock_visible(&txn, departments, id).await?;
        let used_here = documents::uses_in(&txn, app.id)
            .await?
            .iter()
            .any(|u| u.document_id == document_id);
        if !used_here {
            return Err(CaseError::DocumentNotFound);
        }
        let now = self.clock.now();
        if crate::store::claims::holder(&app, now) != Some(reviewer) {
            return Err(CaseError::ClaimRequired);
        }
        if documents::end(
            &txn,
            document_id,
            DocumentState::Invalidated,
            Some(reviewer),
            Some(reason.clone()),
            now,
        )
        .await?
        {
            let state = super::change::state_of(&app)?;
            applications::record_event(
                &txn,
                app.id,
                Actor::staff(reviewer),
                Action::InvalidateDocument,
                Some(state),
                state,
                Some(format!("{document_id}: {reason}")),
                now,
            )
            .await?;
        }
        let doc = documents::find(&txn, document_id)
            .await?
            .ok_or(CaseError::DocumentNotFound)?;
        txn.commit().await?;
        Ok(doc)
    }
}

/// For each material of the case the citizen may still fill, the documents of their wallet that
/// could fill it now (newest first), leaving out those attached there already.
pub async fn offers<C: ConnectionTrait>(
    db: &C,
    app: &application::Model,
    version: &MatterVersion,
    stored: &[page::Model],
    now: chrono::DateTime<chrono::Utc>,
) -> CaseResult<HashMap<String, Vec<document::Model>>> {
    let mut offers = HashMap::new();
    if ensure_editable(app).is_err() {
        return Ok(offers);
    }
    let open: Vec<&material::Model> = version
        .materials
        .iter()
        .filter(|m| ensure_material_editable(app, &m.code).is_ok())
        .filter(|m| wanted(m).reuse == Reuse::Accepted)
        .collect();
    let types: Vec<&str> = open
        .iter()
        .filter_map(|m| m.document_type.as_deref())
        .collect();
    let docs = documents::valid_of_types(db, app.citizen_id, &types).await?;
    for m in open {
        let fits: Vec<document::Model> = docs
            .iter()
            .filter(|d| rules::usable(candidate(d), wanted(m), now).is_ok())
            .filter(|d| {
                !stored
                    .iter()
                    .any(|p| p.material_code == m.code && p.document_id == Some(d.id))
            })
            .cloned()
            .collect();
        offers.insert(m.code.clone(), fits);
    }
    Ok(offers)
}

/// The materials whose pages come from a document a reviewer invalidated: a resubmission must
/// replace them first.
pub async fn invalidated_pages<C: ConnectionTrait>(
    db: &C,
    stored: &[page::Model],
) -> CaseResult<Vec<FieldIssue>> {
    let mut ids: Vec<Uuid> = stored.iter().filter_map(|p| p.document_id).collect();
    ids.sort();
    ids.dedup();
    let ended: Vec<Uuid> = documents::find_many(db, &ids)
        .await?
        .into_iter()
        .filter(|d| d.state == DocumentState::Invalidated.as_str())
        .map(|d| d.id)
        .collect();
    let mut problems: Vec<FieldIssue> = Vec::new();
    for p in stored {
        if p.document_id.is_some_and(|d| ended.contains(&d))
            && !problems.iter().any(|f| f.field == p.material_code)
        {
            problems.push(FieldIssue::new(
                p.material_code.clone(),
                "a reviewer found the document reused here unusable: replace its pages",
            ));
        }
    }
    Ok(problems)
}
