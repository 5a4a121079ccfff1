//! What every page goes through, whichever way it arrived: the checks that need no bytes
//! (`target`), type, integrity and bomb checks with metadata removal and storage (`clean`, by
//! `crate::media`), and one transaction that records the page (`record`). Thumbnails are
//! made afterwards (`crate::sweeps`). Objects stored for a page that is then refused are deleted
//! again.

pub mod clean;

use sea_orm::ActiveValue::Set;
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::change::state_of;
use super::review::Reason;
use super::{CaseError, CaseResult, Cases, reads};
use crate::domain::application::ApplicationState;
use crate::domain::catalog::MaterialKind;
use crate::media::CleanPage;
use crate::storage::ObjectKey;
use crate::store::applications::{self, application};
use crate::store::catalog::{MatterVersion, material};
use crate::store::jobs::NewJob;
use crate::store::pages::{self, page};
use crate::store::{StoreError, begin_write, documents, uploads};

/// The application and material a page is for, checked before any bytes are processed.
pub struct Target {
    pub app: application::Model,
    pub version: std::sync::Arc<MatterVersion>,
    pub material: material::Model,
    /// The application's pages, read after `app`: as they were at `app.version` or later.
    pub pages: Vec<page::Model>,
}

impl Cases {
    /// The citizen's application and material a page is for, refused before any bytes are read if
    /// the page could not be kept.
    pub async fn target(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
        application_id: Uuid,
        material_code: &str,
    ) -> CaseResult<Target> {
        let app = reads::owned(db, citizen, application_id).await?;
        ensure_editable(&app)?;
        ensure_material_editable(&app, material_code)?;
        // Independent reads: one round trip of waiting instead of two.
        let (version, existing) = tokio::try_join!(reads::version_of(db, &app), async {
            Ok(pages::of_application(db, app.id).await?)
        })?;
        let material = version
            .materials
            .iter()
            .find(|m| m.code == material_code)
            .cloned()
            .ok_or_else(|| CaseError::MaterialNotFound(material_code.to_string()))?;
        self.check_room(&existing, &material)?;
        Ok(Target {
            app,
            version,
            material,
            pages: existing,
        })
    }
}

/// Pages change only while the application is a draft or returned.
pub fn ensure_editable(app: &application::Model) -> CaseResult<()> {
    let state = state_of(app)?;
    if state.pages_editable() {
        Ok(())
    } else {
        Err(CaseError::NotEditable(state))
    }
}

/// A returned application may change only the materials its reasons name.
pub fn ensure_material_editable(app: &application::Model, material_code: &str) -> CaseResult<()> {
    match return_reasons::<Reason>(app) {
        Some(reasons) if !reasons.iter().any(|r| r.material_code == material_code) => {
            Err(CaseError::MaterialNotReturned(material_code.to_string()))
        }
        _ => Ok(()),
    }
}

/// The reasons of the latest return, while the application is returned, read as `T` (the
/// workflow's `Reason`, or the API's view of it).
pub fn return_reasons<T: serde::de::DeserializeOwned>(app: &application::Model) -> Option<Vec<T>> {
    if app.state != ApplicationState::Returned.as_str() {
        return None;
    }
    app.return_reasons
        .clone()
        .and_then(|v| serde_json::from_value(v).ok())
}

impl Cases {
    fn check_room(&self, existing: &[page::Model], material: &material::Model) -> CaseResult<()> {
        let of_material = existing
            .iter()
            .filter(|p| p.material_code == material.code)
            .count() as i32;
        if of_material >= material.max_pages {
            return Err(CaseError::TooManyPages(format!(
                "{} takes at most {} page(s); delete one first.",
                material.name, material.max_pages
            )));
        }
        let limit = self.config.uploads.max_pages_per_application;
        if existing.len() as u32 >= limit {
            return Err(CaseError::TooManyPages(format!(
                "An application may hold at most {limit} pages."
            )));
        }
        Ok(())
    }
}

/// The kinds of file a material accepts.
pub fn allowed_kinds(material: &material::Model) -> Vec<MaterialKind> {
    material
        .kinds
        .split(',')
        .filter_map(MaterialKind::parse)
        .collect()
}

impl Cases {
    /// Checks and cleans the page `source` brings as it arrives, stores it, and records it. The
    /// object is deleted again if the page is refused at the last moment.
    pub async fn receive_page<S: clean::ByteSource>(
        &self,
        db: &DatabaseConnection,
        target: Target,
        source: S,
        original_name: Option<String>,
    ) -> CaseResult<page::Model> {
        self.receive(db, target, source, original_name, None).await
    }

    /// `receive_page` for direct upload `upload`, marked completed in the page's own
    /// transaction: a retry after a crash finds the page, never makes a second. A racing
    /// completion of the same upload that committed first wins: this one is `Concurrent`.
    pub async fn complete_upload<S: clean::ByteSource>(
        &self,
        db: &DatabaseConnection,
        target: Target,
        source: S,
        upload: Uuid,
    ) -> CaseResult<page::Model> {
        self.receive(db, target, source, None, Some(upload)).await
    }

    async fn receive<S: clean::ByteSource>(
        &self,
        db: &DatabaseConnection,
        target: Target,
        source: S,
        original_name: Option<String>,
        upload: Option<Uuid>,
    ) -> CaseResult<page::Model> {
        let allowed = allowed_kinds(&target.material);
        let page_id = Uuid::now_v7();
        let application_id = target.app.id;
        let (clean, key) = self
            .clean_and_store(source, &allowed, |page_type| {
                ObjectKey::parse(format!(
                    "applications/{application_id}/pages/{page_id}.{}",
                    page_type.extension()
                ))
                .map_err(CaseError::Storage)
            })
            .await?;
        // The thumbnail is made afterwards by `sweeps::make_thumbnails`, off the upload's path.
        let recorded = self
            .record(
                db,
                &target,
                page_id,
                &key,
                &clean,
                Origin {
                    original_name,
                    upload,
                },
            )
            .await;
        if recorded.is_err()
            && let Err(e) = self.store.delete(&key).await
        {
            tracing::warn!(error = %e, "could not delete the object of a refused page");
        }
        recorded
    }

    /// One transaction: the application must still be editable and have room, the bytes must not
    /// be a page it already has, and its version moves on so a racing submit loses cleanly.
    ///
    /// Kept short, as every page upload waits its turn for it (SQLite has one writer at a time):
    /// when the application's version is still the one `target` read, nothing that `target` checked
    /// can have changed (its state, return reasons and pages only change with a version bump), so
    /// bumping it is the re-check, and the page follows. Otherwise the application is locked and
    /// everything is checked again.
    async fn record(
        &self,
        db: &DatabaseConnection,
        target: &Target,
        page_id: Uuid,
        key: &ObjectKey,
        clean: &CleanPage,
        origin: Origin,
    ) -> CaseResult<page::Model> {
        let Origin {
            original_name,
            upload,
        } = origin;
        // SQLite makes waiting writers retry with sleeps of up to 100 ms, which leaves its lock idle
        // under a burst of uploads: they queue here instead. PostgreSQL locks one row and needs no
        // queue.
        let _turn = match db.get_database_backend() {
            sea_orm::DatabaseBackend::Sqlite => Some(self.sqlite_writes.lock().await),
            _ => None,
        };
        let txn = begin_write(db).await?;
        let existing;
        let pages: &[page::Model] =
            if applications::touch(&txn, &target.app, self.clock.now()).await? {
                &target.pages
            } else {
                let app = reads::lock_owned(&txn, target.app.citizen_id, target.app.id).await?;
                ensure_editable(&app)?;
                ensure_material_editable(&app, &target.material.code)?;
                existing = pages::of_application(&txn, app.id).await?;
                self.check_room(&existing, &target.material)?;
                if !applications::touch(&txn, &app, self.clock.now()).await? {
                    return Err(CaseError::Concurrent);
                }
                &existing
            };
        if pages.iter().any(|p| p.sha256 == clean.sha256) {
            return Err(CaseError::DuplicatePage);
        }
        let position = pages
            .iter()
            .filter(|p| p.material_code == target.material.code)
            .count() as i32
            + 1;
        let mut model = pages::new_model(page_id, target.app.id, &target.material.code, position);
        model.object_key = Set(key.as_str().to_string());
        model.thumbnail_key = Set(None);
        model.content_type = Set(clean.page_type.content_type().to_string());
        model.size = Set(clean.size as i64);
        model.sha256 = Set(clean.sha256.clone());
        model.width = Set(clean.width.map(|w| w as i32));
        model.height = Set(clean.height.map(|h| h as i32));
        model.original_name = Set(original_name.map(|n| n.chars().take(255).collect()));
        model.created_at = Set(self.clock.now());
        let inserted = match pages::insert(&txn, model).await {
            Ok(page) => page,
            Err(StoreError::Conflict) => return Err(CaseError::DuplicatePage),
            Err(StoreError::Db(e)) => return Err(e.into()),
        };
        if let Some(upload) = upload
            && !uploads::mark_completed(&txn, upload, page_id, self.clock.now()).await?
        {
            return Err(CaseError::Concurrent);
        }
        txn.commit().await?;
        Ok(inserted)
    }
}

/// Where a page came from: the client's file name (path A), or the direct upload it completes
/// (path B).
struct Origin {
    original_name: Option<String>,
    upload: Option<Uuid>,
}

impl Cases {
    /// Removes a page while the application is editable; the material's other pages close up.
    /// The objects go in a job of this same commit: a store failing now (or a crash) only delays
    /// their deletion, retried with backoff, and never leaves them behind.
    pub async fn delete_page(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
        id: Uuid,
        page_id: Uuid,
    ) -> CaseResult<()> {
        let txn = begin_write(db).await?;
        let app = reads::lock_owned(&txn, citizen, id).await?;
        let page = pages::find(&txn, app.id, page_id)
            .await?
            .ok_or(CaseError::PageNotFound)?;
        ensure_editable(&app)?;
        ensure_material_editable(&app, &page.material_code)?;
        pages::delete(&txn, page.id).await?;
        let rest: Vec<page::Model> = pages::of_application(&txn, app.id)
            .await?
            .into_iter()
            .filter(|p| p.material_code == page.material_code)
            .collect();
        let remaining: Vec<Uuid> = rest.iter().map(|p| p.id).collect();
        pages::set_order(&txn, &remaining).await?;
        // The last page of a wallet document leaving the material ends its use here.
        if let Some(document_id) = page.document_id
            && !rest.iter().any(|p| p.document_id == Some(document_id))
        {
            let now = self.clock.now();
            documents::remove_use(&txn, document_id, app.id, &page.material_code, now).await?;
        }
        if !applications::touch(&txn, &app, self.clock.now()).await? {
            return Err(CaseError::Concurrent);
        }
        let keys: Vec<String> = [Some(page.object_key), page.thumbnail_key]
            .into_iter()
            .flatten()
            .collect();
        let job = NewJob::of(&pages::DeleteObjects { keys })
            .deduped_by(format!("delete_objects:page:{}", page.id));
        crate::store::jobs::enqueue(&txn, job).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Puts a material's pages in the order `page_ids` gives, which must list each of them
    /// once. Returns the material's pages in their new order.
    pub async fn reorder_pages(
        &self,
        db: &DatabaseConnection,
        citizen: Uuid,
        id: Uuid,
        material_code: &str,
        page_ids: &[Uuid],
    ) -> CaseResult<Vec<page::Model>> {
        let txn = begin_write(db).await?;
        let app = reads::lock_owned(&txn, citizen, id).await?;
        ensure_editable(&app)?;
        ensure_material_editable(&app, material_code)?;
        let of_material = |all: Vec<page::Model>| -> Vec<page::Model> {
            all.into_iter()
                .filter(|p| p.material_code == material_code)
                .collect()
        };
        let current = of_material(pages::of_application(&txn, app.id).await?);
        let mut wanted = page_ids.to_vec();
        let mut have: Vec<Uuid> = current.iter().map(|p| p.id).collect();
        wanted.sort();
        have.sort();
        if wanted != have {
            return Err(CaseError::PageOrderMismatch);
        }
        pages::set_order(&txn, page_ids).await?;
        if !applications::touch(&txn, &app, self.clock.now()).await? {
            return Err(CaseError::Concurrent);
        }
        let reordered = of_material(pages::of_application(&txn, app.id).await?);
        txn.commit().await?;
        Ok(reordered)
    }
}
