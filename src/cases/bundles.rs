//! "One thing" bundles (一件事一次办): a filing of a catalogue bundle makes one draft per item,
//! each an ordinary application of its own department. A material of the same `document_type`
//! asked by several items is asked once: the first item that asks it holds its pages, and one
//! submit gives the others the same pages (the same stored objects), checks every item and
//! submits them all, or none. From then on each department reviews and decides its own item.

use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection};
use uuid::Uuid;

use super::change::state_of;
use super::citizen::{Draft, incomplete};
use super::wallet::{candidate, invalidated_pages, wanted};
use super::{CaseError, CaseResult, Cases, FieldIssue, reads};
use crate::domain::application::{self as machine, Action, ApplicationState};
use crate::domain::document as rules;
use crate::store::applications::{self, Actor, application};
use crate::store::catalog::{MatterVersion, bundle};
use crate::store::documents;
use crate::store::filings::{self, filing};
use crate::store::pages::{self, page};
use crate::store::{StoreError, begin_write};

/// A material several items of a filing ask for: its `document_type`, and each item's
/// `(application id, material code)` in the bundle's order. The first with pages holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shared {
    pub document_type: String,
    pub members: Vec<(Uuid, String)>,
}

/// The materials shared among `items` (applications with their catalogue versions, in the
/// bundle's order, cancelled ones left out by the caller).
pub fn shared(items: &[(&application::Model, &MatterVersion)]) -> Vec<Shared> {
    let mut groups: Vec<Shared> = Vec::new();
    for (app, version) in items {
        for m in &version.materials {
            let Some(document_type) = m.document_type.as_deref() else {
                continue;
            };
            let member = (app.id, m.code.clone());
            match groups.iter_mut().find(|g| g.document_type == document_type) {
                // One material per item: an item asking the type twice keeps its second apart.
                Some(group) if !group.members.iter().any(|(id, _)| *id == app.id) => {
                    group.members.push(member)
                }
                Some(_) => {}
                None => groups.push(Shared {
                    document_type: document_type.to_string(),
                    members: vec![member],
                }),
            }
        }
    }
    groups.retain(|g| g.members.len() > 1);
    groups
}

/// A filing and its items as they stand.
pub struct Filing {
    pub filing: filing::Model,
    pub items: Vec<application::Model>,
}

impl Cases {
    /// Files `bundle` for `citizen` in the caller's transaction: the filing and a draft of each
    /// item's current version (`versions`, in the bundle's order), each from `draft()`.
    pub async fn file_bundle<C: ConnectionTrait>(
        &self,
        txn: &C,
        citizen: Uuid,
        bundle: &bundle::Model,
        versions: &[std::sync::Arc<MatterVersion>],
        mut draft: impl FnMut() -> Draft,
        keys: &crate::keys::Keys,
    ) -> CaseResult<Filing> {
        let filing =
            filings::insert(txn, citizen, &bundle.code, &bundle.name, self.clock.now()).await?;
        let mut items = Vec::with_capacity(versions.len());
        for version in versions {
            let mut one = draft();
            one.filing_id = Some(filing.id);
            items.push(self.create_draft(txn, citizen, version, one, keys).await?);
        }
        Ok(Filing { filing, items })
    }

    /// Submits every item of the citizen's filing that is a draft, at once: the shared
    /// materials' pages go to each item that asks for them, every item must then be complete,
    /// and either all are submitted or none. Cancelled items stay out; an item already past
    /// its draft refuses the whole submit.
    pub async fn submit_filing(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
        id: Uuid,
    ) -> CaseResult<Filing> {
        let txn = begin_write(db).await?;
        let filing = filings::lock_owned(&txn, citizen, id)
            .await?
            .ok_or(CaseError::FilingNotFound)?;
        let mut active = Vec::new();
        for item in applications::of_filing(&txn, filing.id).await? {
            let item = reads::lock_owned(&txn, citizen, item.id).await?;
            match state_of(&item)? {
                ApplicationState::Cancelled => {}
                ApplicationState::Draft => active.push(item),
                other => return Err(CaseError::refused(other, Action::Submit)),
            }
        }
        if active.is_empty() {
            return Err(CaseError::refused(
                ApplicationState::Cancelled,
                Action::Submit,
            ));
        }
        let mut versions = Vec::with_capacity(active.len());
        for item in &active {
            versions.push(reads::version_of(&txn, item).await?);
        }
        let items: Vec<(&application::Model, &MatterVersion)> =
            active.iter().zip(versions.iter().map(|v| &**v)).collect();
        for group in shared(&items) {
            self.share(&txn, &items, &group).await?;
        }
        let mut problems = Vec::new();
        for (item, version) in &items {
            let stored = pages::of_application(&txn, item.id).await?;
            let mut own = incomplete(version, &stored);
            own.extend(invalidated_pages(&txn, &stored).await?);
            problems.extend(
                own.into_iter().map(|p| {
                    FieldIssue::new(format!("{}.{}", item.matter_code, p.field), p.message)
                }),
            );
        }
        if !problems.is_empty() {
            return Err(CaseError::MaterialsIncomplete(problems));
        }
        let now = self.clock.now();
        for (item, version) in &items {
            self.change(&txn, item, Action::Submit, Actor::citizen(citizen), None)
                .await?;
            let hours = i64::from(version.matter.prereview_hours);
            applications::set_prereview_due(&txn, item.id, now + chrono::Duration::hours(hours))
                .await?;
        }
        if !filings::mark_submitted(&txn, &filing, now).await? {
            return Err(CaseError::Concurrent);
        }
        let filing = filings::find_owned(&txn, citizen, id)
            .await?
            .ok_or(CaseError::FilingNotFound)?;
        let items = applications::of_filing(&txn, filing.id).await?;
        txn.commit().await?;
        Ok(Filing { filing, items })
    }

    /// Gives each member of `group` without pages of its own the pages of the first member
    /// that has some: new page rows naming the same objects. A wallet document among them must
    /// be one the receiving material accepts; its use there is recorded (the citizen attached
    /// it to the bundle's shared material).
    async fn share<C: ConnectionTrait>(
        &self,
        txn: &C,
        items: &[(&application::Model, &MatterVersion)],
        group: &Shared,
    ) -> CaseResult<()> {
        let now = self.clock.now();
        let mut holder: Option<Vec<page::Model>> = None;
        for (app_id, code) in &group.members {
            let stored: Vec<page::Model> = pages::of_application(txn, *app_id)
                .await?
                .into_iter()
                .filter(|p| &p.material_code == code)
                .collect();
            let Some(source) = &holder else {
                if !stored.is_empty() {
                    holder = Some(stored);
                }
                continue;
            };
            if !stored.is_empty() {
                continue;
            }
            let (app, version) = items
                .iter()
                .find(|(a, _)| a.id == *app_id)
                .ok_or_else(|| CaseError::Internal("a shared material's item is gone".into()))?;
            let material = version
                .materials
                .iter()
                .find(|m| &m.code == code)
                .ok_or_else(|| CaseError::MaterialNotFound(code.clone()))?;
            if source.len() > material.max_pages as usize {
                return Err(CaseError::TooManyPages(format!(
                    "{} of {} takes at most {} page(s); the shared pages are {}.",
                    material.name,
                    app.matter_code,
                    material.max_pages,
                    source.len()
                )));
            }
            let mut used: Vec<Uuid> = source.iter().filter_map(|p| p.document_id).collect();
            used.dedup();
            for document_id in &used {
                let doc = documents::find(txn, *document_id)
                    .await?
                    .ok_or(CaseError::DocumentNotFound)?;
                rules::usable(candidate(&doc), wanted(material), now)
                    .map_err(CaseError::DocumentUnusable)?;
            }
            for (i, p) in source.iter().enumerate() {
                let mut model = pages::new_model(Uuid::now_v7(), *app_id, code, i as i32 + 1);
                model.object_key = Set(p.object_key.clone());
                model.thumbnail_key = Set(p.thumbnail_key.clone());
                model.content_type = Set(p.content_type.clone());
                model.size = Set(p.size);
                model.sha256 = Set(p.sha256.clone());
                model.width = Set(p.width);
                model.height = Set(p.height);
                model.original_name = Set(p.original_name.clone());
                model.created_at = Set(now);
                model.document_id = Set(p.document_id);
                match pages::insert(txn, model).await {
                    Ok(_) => {}
                    Err(StoreError::Conflict) => return Err(CaseError::DuplicatePage),
                    Err(StoreError::Db(e)) => return Err(e.into()),
                }
            }
            for document_id in used {
                documents::record_use(txn, document_id, *app_id, code, &app.department_code, now)
                    .await?;
            }
        }
        Ok(())
    }

    /// Withdraws every item of the citizen's filing that can still be withdrawn. Returns the
    /// items that could not, with their states; the others are cancelled (or were already).
    pub async fn cancel_filing(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
        id: Uuid,
    ) -> CaseResult<Vec<(Uuid, ApplicationState)>> {
        let txn = begin_write(db).await?;
        let filing = filings::lock_owned(&txn, citizen, id)
            .await?
            .ok_or(CaseError::FilingNotFound)?;
        let mut kept = Vec::new();
        for item in applications::of_filing(&txn, filing.id).await? {
            let item = reads::lock_owned(&txn, citizen, item.id).await?;
            let state = state_of(&item)?;
            if state == ApplicationState::Cancelled {
                continue;
            }
            if machine::next(state, Action::Cancel).is_err() {
                kept.push((item.id, state));
                continue;
            }
            self.change(&txn, &item, Action::Cancel, Actor::citizen(citizen), None)
                .await?;
        }
        txn.commit().await?;
        Ok(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::catalog::{material, matter};

    fn item(code: &str, materials: &[(&str, Option<&str>)]) -> (application::Model, MatterVersion) {
        let now = chrono::Utc::now();
        let matter = matter::Model {
            id: Uuid::now_v7(),
            code: code.into(),
            version: 1,
            is_current: true,
            name: code.into(),
            description: String::new(),
            department_code: code.into(),
            department_name: code.into(),
            processing_days: 1,
            originals_by_courier: false,
            result_by_courier: false,
            id_number_required: false,
            prereview_hours: 24,
            originals_on_mismatch: None,
            content_hash: String::new(),
            created_at: now,
            retention_photos_days: None,
            retention_results_days: None,
            retention_personal_days: None,
            retention_abandoned_days: None,
            courier_partner: None,
            drop_box: false,
        };
        let materials = materials
            .iter()
            .enumerate()
            .map(|(i, (code, document_type))| material::Model {
                id: Uuid::now_v7(),
                matter_id: matter.id,
                position: i as i32,
                code: (*code).into(),
                name: (*code).into(),
                guidance: String::new(),
                kinds: "photo".into(),
                min_pages: 1,
                max_pages: 2,
                required: true,
                original_required: false,
                document_type: document_type.map(str::to_string),
                reuse: "fresh_only".into(),
                reuse_valid_days: None,
            })
            .collect();
        let app = application::Model {
            id: Uuid::now_v7(),
            citizen_id: Uuid::nil(),
            matter_id: matter.id,
            matter_code: code.into(),
            state: "draft".into(),
            version: 1,
            applicant_name: String::new(),
            applicant_phone: String::new(),
            applicant_id_number_enc: None,
            applicant_id_number_masked: None,
            return_address: None,
            note: None,
            created_at: now,
            updated_at: now,
            submitted_at: None,
            first_submitted_at: None,
            department_code: code.into(),
            claimed_by: None,
            claim_expires_at: None,
            queue_priority: 0,
            return_reasons: None,
            prereview_due_at: None,
            applicant_email: None,
            overdue_alerted_at: None,
            batch_id: None,
            received_at: None,
            receipt_confirmed_at: None,
            filing_id: None,
            agent_id: None,
            service_point_id: None,
            authorization_method: None,
            held_at: None,
            held_by: None,
            hold_reason: None,
            photos_destroyed_at: None,
            results_destroyed_at: None,
            personal_destroyed_at: None,
        };
        (app, MatterVersion { matter, materials })
    }

    #[test]
    fn a_type_two_items_ask_for_is_shared_in_the_bundles_order() {
        let a = item("power", &[("id", Some("resident_id_card")), ("bill", None)]);
        let b = item(
            "water",
            &[
                ("owner-id", Some("resident_id_card")),
                ("deed", Some("property_certificate")),
                ("bill", None),
            ],
        );
        let c = item(
            "gas",
            &[
                ("deed", Some("property_certificate")),
                ("photo", Some("id_photo")),
            ],
        );
        let items: Vec<_> = [&a, &b, &c].iter().map(|(app, v)| (app, v)).collect();
        let groups = shared(&items);
        assert_eq!(
            groups,
            [
                Shared {
                    document_type: "resident_id_card".into(),
                    members: vec![(a.0.id, "id".into()), (b.0.id, "owner-id".into())],
                },
                Shared {
                    document_type: "property_certificate".into(),
                    members: vec![(b.0.id, "deed".into()), (c.0.id, "deed".into())],
                },
            ]
        );
        // Untyped materials and a type only one item asks are nobody's to share.
        assert!(shared(&items[..1]).is_empty());
    }
}
