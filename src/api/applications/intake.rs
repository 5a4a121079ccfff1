//! What every page goes through, whichever way it arrived: the checks that need no bytes, then
//! type, integrity and bomb checks with metadata removal (`crate::media`), storage, and one
//! transaction that records the page. Thumbnails are made afterwards (`crate::sweeps`). Objects stored for a page that is then refused
//! are deleted again.

use std::path::Path;

use sea_orm::ActiveValue::Set;
use uuid::Uuid;

use crate::api::problem::{ApiError, FieldProblem};
use crate::cases::change::state_of;
use crate::cases::{CaseError, reads};
use crate::domain::catalog::MaterialKind;
use crate::media::{self, CleanPage, MediaError};
use crate::state::AppState;
use crate::storage::{ObjectKey, PutOutcome};
use crate::store::applications::{self, application};
use crate::store::catalog::{MatterVersion, material};
use crate::store::pages::{self, page};
use crate::store::{StoreError, begin_write};

/// Where an incoming page's bytes wait while they are checked.
pub fn temp_file(state: &AppState) -> Result<tempfile::NamedTempFile, ApiError> {
    let dir = state.config.data_dir.join("tmp");
    std::fs::create_dir_all(&dir).map_err(local_io)?;
    tempfile::Builder::new()
        .prefix("page-")
        .tempfile_in(dir)
        .map_err(local_io)
}

/// A local disk error while a page waits: a full or read-only disk is a 503 the client may
/// retry (`storage_unavailable`), anything else a 500.
pub fn local_io(error: std::io::Error) -> ApiError {
    crate::storage::StorageError::from(error).into()
}

pub fn page_too_large(max: u64) -> ApiError {
    ApiError::new(
        poem::http::StatusCode::PAYLOAD_TOO_LARGE,
        "page_too_large",
        format!("A page may be at most {max} bytes."),
    )
}

/// The application and material a page is for, checked before any bytes are processed.
pub struct Target {
    pub app: application::Model,
    pub version: MatterVersion,
    pub material: material::Model,
    /// The application's pages, read after `app`: as they were at `app.version` or later.
    pub pages: Vec<page::Model>,
}

pub async fn target(
    state: &AppState,
    citizen: Uuid,
    application_id: Uuid,
    material_code: &str,
) -> Result<Target, ApiError> {
    state.note_upload();
    let db = state.db()?;
    let app = reads::owned(db, citizen, application_id).await?;
    ensure_editable(&app)?;
    ensure_material_editable(&app, material_code)?;
    // Independent reads: one round trip of waiting instead of two.
    let (version, existing) = tokio::try_join!(
        async { reads::version_of(db, &app).await.map_err(ApiError::from) },
        async {
            pages::of_application(db, app.id)
                .await
                .map_err(ApiError::from)
        }
    )?;
    let material = version
        .materials
        .iter()
        .find(|m| m.code == material_code)
        .cloned()
        .ok_or_else(|| {
            ApiError::not_found(
                "material_not_found",
                format!("This service item has no material `{material_code}`."),
            )
        })?;
    check_room(state, &existing, &material)?;
    Ok(Target {
        app,
        version,
        material,
        pages: existing,
    })
}

pub fn ensure_editable(app: &application::Model) -> Result<(), ApiError> {
    if state_of(app)?.pages_editable() {
        Ok(())
    } else {
        Err(ApiError::conflict(
            "application_not_editable",
            format!(
                "The application is {}; its pages can no longer change.",
                app.state
            ),
        ))
    }
}

/// A returned application may change only the materials its reasons name.
pub fn ensure_material_editable(
    app: &application::Model,
    material_code: &str,
) -> Result<(), ApiError> {
    match crate::api::applications::return_reasons(app) {
        Some(reasons) if !reasons.iter().any(|r| r.material_code == material_code) => {
            Err(ApiError::conflict(
                "material_not_returned",
                format!(
                    "Pre-review did not return `{material_code}`; only the returned materials may change."
                ),
            ))
        }
        _ => Ok(()),
    }
}

fn check_room(
    state: &AppState,
    existing: &[page::Model],
    material: &material::Model,
) -> Result<(), ApiError> {
    let of_material = existing
        .iter()
        .filter(|p| p.material_code == material.code)
        .count() as i32;
    if of_material >= material.max_pages {
        return Err(ApiError::unprocessable(
            "too_many_pages",
            format!(
                "{} takes at most {} page(s); delete one first.",
                material.name, material.max_pages
            ),
        ));
    }
    let limit = state.config.uploads.max_pages_per_application;
    if existing.len() as u32 >= limit {
        return Err(ApiError::unprocessable(
            "too_many_pages",
            format!("An application may hold at most {limit} pages."),
        ));
    }
    Ok(())
}

pub fn allowed_kinds(material: &material::Model) -> Vec<MaterialKind> {
    material
        .kinds
        .split(',')
        .filter_map(MaterialKind::parse)
        .collect()
}

pub fn media_error(error: MediaError) -> ApiError {
    let detail = error.to_string();
    match error {
        MediaError::Empty => ApiError::unprocessable("empty_file", detail),
        MediaError::TooLarge { max, .. } => page_too_large(max),
        MediaError::UnsupportedType => ApiError::unprocessable(
            "unsupported_file_type",
            "The file is not a JPEG, PNG, HEIC, WebP or PDF (judged by its content, not its name).",
        ),
        MediaError::NotAllowed { .. } => ApiError::unprocessable("file_type_not_allowed", detail),
        MediaError::Corrupt(_) => ApiError::unprocessable("corrupt_file", detail),
        MediaError::TooManyPixels { .. } => ApiError::unprocessable("image_too_large", detail),
        MediaError::Io(e) => local_io(e),
    }
}

/// The limits a page is checked against.
pub fn limits(state: &AppState) -> media::Limits {
    media::Limits {
        max_bytes: state.config.uploads.max_page_bytes,
        max_pixels: state.config.uploads.max_pixels,
        max_dimension: state.config.uploads.max_dimension,
    }
}

/// Checks and cleans the page in `raw`, stores it, and records it.
pub async fn ingest(
    state: &AppState,
    target: Target,
    raw: &Path,
    original_name: Option<String>,
) -> Result<page::Model, ApiError> {
    let (clean, cleaned) = clean_file(state, raw, &allowed_kinds(&target.material)).await?;
    keep(state, &target, &clean, cleaned, original_name).await
}

/// Checks and cleans the file at `raw` into a new temporary file.
pub async fn clean_file(
    state: &AppState,
    raw: &Path,
    allowed: &[MaterialKind],
) -> Result<(CleanPage, tempfile::TempPath), ApiError> {
    let cleaned = temp_file(state)?;
    let limits = limits(state);
    let allowed = allowed.to_vec();
    // A page is read whole while it is checked: a few at a time, whatever the number of uploads.
    let permit = state
        .media_permits
        .acquire()
        .await
        .map_err(ApiError::internal)?;
    let (raw_path, clean_path) = (raw.to_path_buf(), cleaned.path().to_path_buf());
    let clean: CleanPage = tokio::task::spawn_blocking(move || {
        media::clean(&raw_path, &clean_path, &allowed, &limits)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(media_error)?;
    drop(permit);
    Ok((clean, cleaned.into_temp_path()))
}

/// Stores a cleaned page (the file at `cleaned`, which `clean` describes) and records it; the
/// object is deleted again if the page is refused at the last moment.
pub async fn keep(
    state: &AppState,
    target: &Target,
    clean: &CleanPage,
    cleaned: tempfile::TempPath,
    original_name: Option<String>,
) -> Result<page::Model, ApiError> {
    let page_id = Uuid::now_v7();
    let key = ObjectKey::parse(format!(
        "applications/{}/pages/{page_id}.{}",
        target.app.id,
        clean.page_type.extension()
    ))?;
    // The thumbnail is made afterwards by `sweeps::make_thumbnails`, off the upload's path.
    let known = PutOutcome {
        size: clean.size,
        sha256: clean.sha256.clone(),
    };
    state
        .store
        .put_file(&key, clean.page_type.content_type(), &cleaned, known)
        .await?;
    let recorded = record(state, target, page_id, &key, clean, original_name).await;
    if recorded.is_err()
        && let Err(e) = state.store.delete(&key).await
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
    state: &AppState,
    target: &Target,
    page_id: Uuid,
    key: &ObjectKey,
    clean: &CleanPage,
    original_name: Option<String>,
) -> Result<page::Model, ApiError> {
    let db = state.db()?;
    // SQLite makes waiting writers retry with sleeps of up to 100 ms, which leaves its lock idle
    // under a burst of uploads: they queue here instead. PostgreSQL locks one row and needs no
    // queue.
    let _turn = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Sqlite => Some(state.sqlite_writes.lock().await),
        _ => None,
    };
    let txn = begin_write(db).await?;
    let existing;
    let pages: &[page::Model] = if applications::touch(&txn, &target.app, state.clock.now()).await?
    {
        &target.pages
    } else {
        let app = reads::lock_owned(&txn, target.app.citizen_id, target.app.id).await?;
        ensure_editable(&app)?;
        ensure_material_editable(&app, &target.material.code)?;
        existing = pages::of_application(&txn, app.id).await?;
        check_room(state, &existing, &target.material)?;
        if !applications::touch(&txn, &app, state.clock.now()).await? {
            return Err(CaseError::Concurrent.into());
        }
        &existing
    };
    if pages.iter().any(|p| p.sha256 == clean.sha256) {
        return Err(duplicate_page());
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
    model.created_at = Set(state.clock.now());
    let inserted = match pages::insert(&txn, model).await {
        Ok(page) => page,
        Err(StoreError::Conflict) => return Err(duplicate_page()),
        Err(StoreError::Db(e)) => return Err(e.into()),
    };
    txn.commit().await?;
    Ok(inserted)
}

fn duplicate_page() -> ApiError {
    ApiError::conflict(
        "duplicate_page",
        "This application already has a page with exactly these bytes.",
    )
}

/// The field problems that make an application not yet submittable.
pub fn incomplete(version: &MatterVersion, pages: &[page::Model]) -> Vec<FieldProblem> {
    version
        .materials
        .iter()
        .filter_map(|m| {
            let count = pages.iter().filter(|p| p.material_code == m.code).count() as i32;
            if count < m.min_pages {
                Some(FieldProblem::new(
                    m.code.clone(),
                    format!(
                        "{} needs at least {} page(s), has {count}",
                        m.name, m.min_pages
                    ),
                ))
            } else if count > m.max_pages {
                Some(FieldProblem::new(
                    m.code.clone(),
                    format!(
                        "{} takes at most {} page(s), has {count}",
                        m.name, m.max_pages
                    ),
                ))
            } else {
                None
            }
        })
        .collect()
}
