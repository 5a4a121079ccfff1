//! Catalogue persistence: versioned service items, their materials and departments. A version
//! never changes once written, so each is read from the database once per process and kept
//! (`find_version`); what is current changes with imports, which bump `revision`.

pub mod revision;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use chrono::Utc;
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, DatabaseTransaction, QueryOrder, sea_query::OnConflict};
use uuid::Uuid;

use crate::domain::catalog::{CatalogFile, MatterDef};
use crate::store::begin_write;

pub mod department {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "departments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code: String,
        pub name: String,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod matter {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "matters")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub code: String,
        pub version: i32,
        pub is_current: bool,
        pub name: String,
        pub description: String,
        pub department_code: String,
        pub department_name: String,
        pub processing_days: i32,
        pub originals_by_courier: bool,
        pub result_by_courier: bool,
        pub id_number_required: bool,
        pub prereview_hours: i32,
        /// `return` or `keep`; `None`: the centre's default.
        pub originals_on_mismatch: Option<String>,
        pub content_hash: String,
        pub created_at: DateTimeUtc,
        /// The item's own retention periods in days; `None`: the service's default.
        pub retention_photos_days: Option<i32>,
        pub retention_results_days: Option<i32>,
        pub retention_personal_days: Option<i32>,
        pub retention_abandoned_days: Option<i32>,
        /// The courier partner of the item's legs; `None`: the service point's or the default.
        pub courier_partner: Option<String>,
        /// The citizen may drop the originals in the centre's 24-hour box.
        pub drop_box: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl Model {
        /// The retention periods in force for this version: its own, else `defaults`.
        pub fn retention(
            &self,
            defaults: crate::domain::catalog::RetentionDays,
        ) -> crate::domain::catalog::RetentionDays {
            defaults.with(Some(crate::domain::catalog::RetentionDef {
                photos_days: self.retention_photos_days,
                results_days: self.retention_results_days,
                personal_days: self.retention_personal_days,
                abandoned_days: self.retention_abandoned_days,
            }))
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod material {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "matter_materials")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub matter_id: Uuid,
        pub position: i32,
        pub code: String,
        pub name: String,
        pub guidance: String,
        /// Comma-separated `MaterialKind`s, e.g. `photo,pdf`.
        pub kinds: String,
        pub min_pages: i32,
        pub max_pages: i32,
        pub required: bool,
        pub original_required: bool,
        /// `domain::catalog::MaterialDef::document_type`.
        pub document_type: Option<String>,
        /// A `domain::catalog::Reuse`: `accepted` or `fresh_only`.
        pub reuse: String,
        pub reuse_valid_days: Option<i32>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod bundle {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "catalog_bundles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code: String,
        pub name: String,
        pub description: String,
        /// Comma-separated item codes, in order.
        pub items: String,
        pub content_hash: String,
        pub updated_at: DateTimeUtc,
    }

    impl Model {
        pub fn item_codes(&self) -> Vec<&str> {
            self.items.split(',').filter(|c| !c.is_empty()).collect()
        }
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Every bundle of the catalogue, by code.
pub async fn bundles<C: ConnectionTrait>(db: &C) -> Result<Vec<bundle::Model>, DbErr> {
    bundle::Entity::find()
        .order_by_asc(bundle::Column::Code)
        .all(db)
        .await
}

pub async fn find_bundle<C: ConnectionTrait>(
    db: &C,
    code: &str,
) -> Result<Option<bundle::Model>, DbErr> {
    bundle::Entity::find_by_id(code.to_string()).one(db).await
}

/// One version of an item with its materials in display order.
#[derive(Debug, Clone)]
pub struct MatterVersion {
    pub matter: matter::Model,
    pub materials: Vec<material::Model>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// The catalogue's revision after the import (bumped only when something changed).
    pub revision: i64,
    /// Item codes.
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    /// Bundle codes.
    pub bundles_created: Vec<String>,
    pub bundles_updated: Vec<String>,
    pub bundles_unchanged: Vec<String>,
}

/// The current version of every item, by department then code.
async fn list_current<C: ConnectionTrait>(db: &C) -> Result<Vec<matter::Model>, DbErr> {
    matter::Entity::find()
        .filter(matter::Column::IsCurrent.eq(true))
        .order_by_asc(matter::Column::DepartmentCode)
        .order_by_asc(matter::Column::Code)
        .all(db)
        .await
}

/// The item `code` at `version`, or its current version when `version` is `None`.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    code: &str,
    version: Option<i32>,
) -> Result<Option<Arc<MatterVersion>>, DbErr> {
    let mut query = matter::Entity::find().filter(matter::Column::Code.eq(code));
    query = match version {
        Some(v) => query.filter(matter::Column::Version.eq(v)),
        None => query.filter(matter::Column::IsCurrent.eq(true)),
    };
    let Some(matter) = query.one(db).await? else {
        return Ok(None);
    };
    Ok(Some(with_materials(db, matter).await?))
}

/// Every version read in this process, by id. Ids are UUIDs never reused and a version's rows
/// never change, so one map serves every database the process talks to (tests run many).
static VERSIONS: LazyLock<RwLock<HashMap<Uuid, Arc<MatterVersion>>>> =
    LazyLock::new(RwLock::default);

fn remembered(id: Uuid) -> Option<Arc<MatterVersion>> {
    VERSIONS.read().expect("not poisoned").get(&id).cloned()
}

/// `matter` with its materials: from memory, or read once and kept.
async fn with_materials<C: ConnectionTrait>(
    db: &C,
    matter: matter::Model,
) -> Result<Arc<MatterVersion>, DbErr> {
    if let Some(known) = remembered(matter.id) {
        return Ok(known);
    }
    let materials = materials_of(db, matter.id).await?;
    Ok(remember(MatterVersion { matter, materials }))
}

fn remember(version: MatterVersion) -> Arc<MatterVersion> {
    let version = Arc::new(version);
    VERSIONS
        .write()
        .expect("not poisoned")
        .entry(version.matter.id)
        .or_insert(version)
        .clone()
}

/// One exact version, by its id: what an application was filed under. No database round trip
/// once this process has read it.
pub async fn find_version<C: ConnectionTrait>(
    db: &C,
    matter_id: Uuid,
) -> Result<Option<Arc<MatterVersion>>, DbErr> {
    if let Some(known) = remembered(matter_id) {
        return Ok(Some(known));
    }
    let Some(matter) = matter::Entity::find_by_id(matter_id).one(db).await? else {
        return Ok(None);
    };
    Ok(Some(with_materials(db, matter).await?))
}

/// Every version of the current catalogue, by department then code, each read from the
/// database at most once per process (two queries when every version is already known).
pub async fn current_versions<C: ConnectionTrait>(
    db: &C,
) -> Result<Vec<Arc<MatterVersion>>, DbErr> {
    let rows = list_current(db).await?;
    with_materials_all(db, rows).await
}

/// `rows` with their materials: those this process has read from memory, the others' materials
/// in one query, then kept.
async fn with_materials_all<C: ConnectionTrait>(
    db: &C,
    rows: Vec<matter::Model>,
) -> Result<Vec<Arc<MatterVersion>>, DbErr> {
    let unknown: Vec<Uuid> = rows
        .iter()
        .map(|m| m.id)
        .filter(|id| remembered(*id).is_none())
        .collect();
    let mut materials: HashMap<Uuid, Vec<material::Model>> = HashMap::new();
    if !unknown.is_empty() {
        for m in material::Entity::find()
            .filter(material::Column::MatterId.is_in(unknown))
            .order_by_asc(material::Column::Position)
            .all(db)
            .await?
        {
            materials.entry(m.matter_id).or_default().push(m);
        }
    }
    Ok(rows
        .into_iter()
        .map(|matter| match remembered(matter.id) {
            Some(known) => known,
            None => {
                let materials = materials.remove(&matter.id).unwrap_or_default();
                remember(MatterVersion { matter, materials })
            }
        })
        .collect())
}

/// Turns an item version's id into its signed form's material id.
const FORM_ID_MASK: u128 = 0x0f0f_0f0f_0f0f_0f0f_0f0f_0f0f_0f0f_0f0f;

/// The materials a case of item version `matter_id` needs: the item's, and for a case an
/// agent files on a signed form, the form (`domain::agent::FORM_CODE`): the item's own made
/// required, or one added after the others.
pub async fn find_case_version<C: ConnectionTrait>(
    db: &C,
    matter_id: Uuid,
    signed_form: bool,
) -> Result<Option<Arc<MatterVersion>>, DbErr> {
    let Some(version) = find_version(db, matter_id).await? else {
        return Ok(None);
    };
    if !signed_form {
        return Ok(Some(version));
    }
    let mut version = MatterVersion::clone(&version);
    {
        use crate::domain::agent::{FORM_CODE, FORM_NAME};
        match version.materials.iter_mut().find(|m| m.code == FORM_CODE) {
            // The item asks for one when someone files for the applicant: now it must be there.
            Some(form) => {
                form.required = true;
                form.min_pages = form.min_pages.max(1);
                form.original_required = true;
            }
            None => {
                let position = version.materials.last().map_or(1, |m| m.position + 1);
                version.materials.push(material::Model {
                    // Not a catalogue row: one id per item version, stable across reads.
                    id: Uuid::from_u128(matter_id.as_u128() ^ FORM_ID_MASK),
                    matter_id,
                    position,
                    code: FORM_CODE.into(),
                    name: FORM_NAME.into(),
                    guidance: "居民签字的授权委托书，写明代办员、所办事项和有效期。".into(),
                    kinds: "photo,pdf".into(),
                    min_pages: 1,
                    max_pages: 4,
                    required: true,
                    original_required: true,
                    document_type: None,
                    reuse: crate::domain::catalog::Reuse::FreshOnly.as_str().into(),
                    reuse_valid_days: None,
                });
            }
        }
    }
    Ok(Some(Arc::new(version)))
}

/// The codes of every department.
pub async fn department_codes<C: ConnectionTrait>(db: &C) -> Result<Vec<String>, DbErr> {
    let rows = department::Entity::find().all(db).await?;
    Ok(rows.into_iter().map(|d| d.code).collect())
}

/// The names of the catalogue versions `ids`, in one query (a list of applications names each
/// one's item).
pub async fn names_of<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, String>, DbErr> {
    let mut names = HashMap::new();
    let mut unknown = Vec::new();
    for id in ids {
        match remembered(id) {
            Some(known) => {
                names.insert(id, known.matter.name.clone());
            }
            None => unknown.push(id),
        }
    }
    unknown.sort();
    unknown.dedup();
    if unknown.is_empty() {
        return Ok(names);
    }
    // Read once per process, in two queries for all of them: the next list finds them in memory.
    let rows = matter::Entity::find()
        .filter(matter::Column::Id.is_in(unknown))
        .all(db)
        .await?;
    for version in with_materials_all(db, rows).await? {
        names.insert(version.matter.id, version.matter.name.clone());
    }
    Ok(names)
}

pub async fn materials_of<C: ConnectionTrait>(
    db: &C,
    matter_id: Uuid,
) -> Result<Vec<material::Model>, DbErr> {
    material::Entity::find()
        .filter(material::Column::MatterId.eq(matter_id))
        .order_by_asc(material::Column::Position)
        .all(db)
        .await
}

pub async fn is_empty<C: ConnectionTrait>(db: &C) -> Result<bool, DbErr> {
    Ok(matter::Entity::find().one(db).await?.is_none())
}

/// Imports a checked file in one transaction. An item whose content differs from its current
/// version gets a new version; items absent from the file are left as they are.
pub async fn import(db: &DatabaseConnection, file: &CatalogFile) -> Result<ImportReport, DbErr> {
    let txn = begin_write(db).await?;
    let mut report = ImportReport::default();
    let mut departments_renamed = false;
    for def in &file.matters {
        departments_renamed |= upsert_department(&txn, def).await?;
        let hash = def.content_hash();
        let current = matter::Entity::find()
            .filter(matter::Column::Code.eq(&def.code))
            .filter(matter::Column::IsCurrent.eq(true))
            .one(&txn)
            .await?;
        let version = match current {
            Some(current) if current.content_hash == hash => {
                report.unchanged.push(def.code.clone());
                continue;
            }
            Some(current) => {
                let next = current.version + 1;
                let mut retired: matter::ActiveModel = current.into();
                retired.is_current = Set(false);
                retired.update(&txn).await?;
                report.updated.push(def.code.clone());
                next
            }
            None => {
                report.created.push(def.code.clone());
                1
            }
        };
        insert_version(&txn, def, version, hash).await?;
    }
    // A bundle is only a list of items: a filing keeps the versions its applications were
    // filed under, so a bundle needs no versions of its own.
    for def in &file.bundles {
        let hash = def.content_hash();
        let current = bundle::Entity::find_by_id(def.code.clone())
            .one(&txn)
            .await?;
        if current.as_ref().is_some_and(|b| b.content_hash == hash) {
            report.bundles_unchanged.push(def.code.clone());
            continue;
        }
        let row = bundle::ActiveModel {
            code: Set(def.code.clone()),
            name: Set(def.name.clone()),
            description: Set(def.description.clone()),
            items: Set(def.items.join(",")),
            content_hash: Set(hash),
            updated_at: Set(Utc::now()),
        };
        if current.is_some() {
            row.update(&txn).await?;
            report.bundles_updated.push(def.code.clone());
        } else {
            row.insert(&txn).await?;
            report.bundles_created.push(def.code.clone());
        }
    }
    let changed = departments_renamed
        || !report.created.is_empty()
        || !report.updated.is_empty()
        || !report.bundles_created.is_empty()
        || !report.bundles_updated.is_empty();
    report.revision = if changed {
        revision::bump(&txn).await?
    } else {
        revision::current(&txn).await?
    };
    txn.commit().await?;
    Ok(report)
}

/// Writes the item's department; whether that is new or renames it.
async fn upsert_department(txn: &DatabaseTransaction, def: &MatterDef) -> Result<bool, DbErr> {
    let before = department::Entity::find_by_id(def.department.code.clone())
        .one(txn)
        .await?;
    if before
        .as_ref()
        .is_some_and(|d| d.name == def.department.name)
    {
        return Ok(false);
    }
    department::Entity::insert(department::ActiveModel {
        code: Set(def.department.code.clone()),
        name: Set(def.department.name.clone()),
        updated_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::column(department::Column::Code)
            .update_columns([department::Column::Name, department::Column::UpdatedAt])
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(true)
}

async fn insert_version(
    txn: &DatabaseTransaction,
    def: &MatterDef,
    version: i32,
    hash: String,
) -> Result<(), DbErr> {
    let matter_id = Uuid::now_v7();
    matter::ActiveModel {
        id: Set(matter_id),
        code: Set(def.code.clone()),
        version: Set(version),
        is_current: Set(true),
        name: Set(def.name.clone()),
        description: Set(def.description.clone()),
        department_code: Set(def.department.code.clone()),
        department_name: Set(def.department.name.clone()),
        processing_days: Set(def.processing_days),
        originals_by_courier: Set(def.originals_by_courier),
        result_by_courier: Set(def.result_by_courier),
        id_number_required: Set(def.id_number_required),
        prereview_hours: Set(def.prereview_hours),
        originals_on_mismatch: Set(def.originals_on_mismatch.map(|o| o.as_str().to_string())),
        content_hash: Set(hash),
        created_at: Set(Utc::now()),
        retention_photos_days: Set(def.retention.and_then(|r| r.photos_days)),
        retention_results_days: Set(def.retention.and_then(|r| r.results_days)),
        retention_personal_days: Set(def.retention.and_then(|r| r.personal_days)),
        retention_abandoned_days: Set(def.retention.and_then(|r| r.abandoned_days)),
        courier_partner: Set(def.courier_partner.clone()),
        drop_box: Set(def.drop_box),
    }
    .insert(txn)
    .await?;
    for (position, m) in def.materials.iter().enumerate() {
        let kinds: Vec<&str> = m.kinds.iter().map(|k| k.as_str()).collect();
        material::ActiveModel {
            id: Set(Uuid::now_v7()),
            matter_id: Set(matter_id),
            position: Set(position as i32),
            code: Set(m.code.clone()),
            name: Set(m.name.clone()),
            guidance: Set(m.guidance.clone()),
            kinds: Set(kinds.join(",")),
            min_pages: Set(m.min_pages),
            max_pages: Set(m.max_pages),
            required: Set(m.required),
            original_required: Set(m.original_required),
            document_type: Set(m.document_type.clone()),
            reuse: Set(m.reuse.as_str().to_string()),
            reuse_valid_days: Set(m.reuse_valid_days),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

/// The latest version of every item code, current or not: retention follows the newest word
/// on an item, also for cases filed under older versions.
pub async fn latest_versions<C: ConnectionTrait>(db: &C) -> Result<Vec<matter::Model>, DbErr> {
    let mut latest: std::collections::HashMap<String, matter::Model> =
        std::collections::HashMap::new();
    for m in matter::Entity::find().all(db).await? {
        match latest.get(&m.code) {
            Some(have) if have.version >= m.version => {}
            _ => {
                latest.insert(m.code.clone(), m);
            }
        }
    }
    Ok(latest.into_values().collect())
}
