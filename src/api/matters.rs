//! `/v1/matters`: the public catalogue of service items (事项) and the materials each needs.

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::types::ToJSON;
use poem_openapi::{Enum, Object, OpenApi};

use crate::api::ApiTags;
use crate::api::conditional::{Cached, Freshness, if_none_match};
use crate::api::problem::{ApiError, ApiResult};
use crate::domain::catalog::{MaterialKind, Reuse};
use crate::state::AppState;
use crate::store::catalog::{self, MatterVersion, material, matter};

pub struct MattersApi;

#[derive(Debug, Clone, Object)]
pub struct Department {
    pub code: String,
    pub name: String,
}

/// A service item as listed.
#[derive(Object)]
pub struct MatterSummary {
    /// Stable code, used in URLs and applications.
    pub code: String,
    /// Catalogue version; applications keep the version they were filed under.
    pub version: i32,
    pub name: String,
    pub description: String,
    pub department: Department,
    /// Promised processing time in working days.
    pub processing_days: i32,
    /// The paper originals are collected from the citizen by courier.
    pub originals_by_courier: bool,
    /// A paper result (card, licence, certificate) is delivered back by courier.
    pub result_by_courier: bool,
    /// The applicant must give an 18-digit resident ID number.
    pub id_number_required: bool,
    /// For items whose originals are posted: originals reception finds do not match the photos
    /// are sent back by courier (`return`) or kept at the centre for collection (`keep`).
    #[oai(skip_serializing_if_is_none)]
    pub originals_on_mismatch: Option<String>,
    /// The courier partner this item's legs travel with (e.g. `ems`), when the item names
    /// one; otherwise the citizen may choose (`GET /v1/pickup-slots` lists the partners).
    #[oai(skip_serializing_if_is_none)]
    pub courier_partner: Option<String>,
    /// The citizen may leave the originals in the centre's 24-hour box instead of booking a
    /// pickup (`POST /v1/applications/{id}/drop-off`).
    pub drop_box: bool,
}

#[derive(Object)]
pub struct MatterList {
    pub items: Vec<MatterSummary>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum AcceptedKind {
    Photo,
    Pdf,
}

/// A document the citizen photographs.
#[derive(Object)]
pub struct Material {
    pub code: String,
    pub name: String,
    /// How to photograph it.
    pub guidance: String,
    pub kinds: Vec<AcceptedKind>,
    pub min_pages: i32,
    pub max_pages: i32,
    pub required: bool,
    /// The paper original must be handed to the courier.
    pub original_required: bool,
    /// The kind of document this is (`resident_id_card`, `property_certificate`, ...), when the
    /// catalogue names one: documents of this type verified in the citizen's earlier cases may
    /// fill it where `reuse` is `accepted`.
    pub document_type: Option<String>,
    pub reuse: DocumentReuse,
    /// With `reuse: accepted`: for how many days after its verification a document may fill
    /// this material (a recorded expiry of the document ends it sooner).
    pub reuse_valid_days: Option<i32>,
}

/// Whether a document verified in another case may fill the material (`accepted`), or only
/// pages uploaded for this application may (`fresh_only`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum DocumentReuse {
    Accepted,
    FreshOnly,
}

/// A service item with its materials, as of one catalogue version.
#[derive(Object)]
pub struct Matter {
    #[oai(flatten)]
    pub summary: MatterSummary,
    pub materials: Vec<Material>,
}

#[OpenApi(tag = "ApiTags::Matters")]
impl MattersApi {
    /// List the service items citizens can file, current versions only. Built once per
    /// catalogue revision and sent with an `ETag`; `If-None-Match` naming it answers 304.
    #[oai(path = "/v1/matters", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        /// Only items of this department.
        department: Query<Option<String>>,
        request: &poem::Request,
    ) -> ApiResult<Cached<MatterList>> {
        let snapshot = state.catalog.snapshot(state.db()?).await?;
        // Kept per department the catalogue knows; any other is the one empty list.
        let key = match department.0.as_deref() {
            None => "matters".to_string(),
            Some(d) if snapshot.items.iter().any(|v| v.matter.department_code == d) => {
                format!("matters?department={d}")
            }
            Some(_) => "matters?department=".to_string(),
        };
        let rendered = snapshot.rendered(&key, |snapshot| {
            let wanted = department.0.as_deref();
            let list = MatterList {
                items: snapshot
                    .items
                    .iter()
                    .filter(|v| wanted.is_none_or(|d| v.matter.department_code == d))
                    .map(|v| summary(&state, &v.matter))
                    .collect(),
            };
            json_bytes(&list)
        });
        Ok(Cached::answer(
            rendered,
            Freshness::Revalidate,
            if_none_match(request),
        ))
    }

    /// One service item with its required materials. The current version is built once per
    /// catalogue revision; a past one (`version`) never changes and may be cached for good.
    #[oai(path = "/v1/matters/:code", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        code: Path<String>,
        /// A past catalogue version; the current one when absent.
        version: Query<Option<i32>>,
        request: &poem::Request,
    ) -> ApiResult<Cached<Matter>> {
        let db = state.db()?;
        let snapshot = state.catalog.snapshot(db).await?;
        let current = snapshot.item(&code.0);
        let found = match (version.0, current) {
            (None, current) => current.cloned(),
            (Some(v), Some(current)) if current.matter.version == v => Some(current.clone()),
            (Some(v), _) => catalog::find(db, &code.0, Some(v)).await?,
        };
        let found = found.ok_or_else(|| {
            ApiError::not_found(
                "matter_not_found",
                format!(
                    "There is no service item `{}`{}.",
                    code.0,
                    match version.0 {
                        Some(v) => format!(" at version {v}"),
                        None => String::new(),
                    }
                ),
            )
        })?;
        let (key, freshness) = match version.0 {
            None => (format!("matter/{}", code.0), Freshness::Revalidate),
            Some(v) => (format!("matter/{}@{v}", code.0), Freshness::Immutable),
        };
        let rendered = snapshot.rendered(&key, |_| json_bytes(&matter_view(&state, &found)));
        Ok(Cached::answer(rendered, freshness, if_none_match(request)))
    }
}

/// The JSON the contract gives `value`, as `poem_openapi::payload::Json` would send it.
pub fn json_bytes<T: ToJSON>(value: &T) -> Vec<u8> {
    serde_json::to_vec(&value.to_json()).expect("a JSON value serializes")
}

/// An item version as the contract shows it.
pub fn matter_view(state: &AppState, version: &MatterVersion) -> Matter {
    Matter {
        summary: summary(state, &version.matter),
        materials: version.materials.iter().map(material_view).collect(),
    }
}

fn summary(state: &AppState, m: &matter::Model) -> MatterSummary {
    MatterSummary {
        originals_on_mismatch: m
            .originals_by_courier
            .then(|| state.cases.returns_originals(m))
            .map(|back| if back { "return" } else { "keep" }.to_string()),
        code: m.code.clone(),
        version: m.version,
        name: m.name.clone(),
        description: m.description.clone(),
        department: Department {
            code: m.department_code.clone(),
            name: m.department_name.clone(),
        },
        processing_days: m.processing_days,
        originals_by_courier: m.originals_by_courier,
        result_by_courier: m.result_by_courier,
        id_number_required: m.id_number_required,
        courier_partner: m
            .courier_partner
            .clone()
            .filter(|p| state.config.courier.enabled(p)),
        drop_box: m.drop_box,
    }
}

/// The stored `photo,pdf` list as API values.
pub fn material_kinds(stored: &str) -> Vec<AcceptedKind> {
    stored
        .split(',')
        .filter_map(MaterialKind::parse)
        .map(|k| match k {
            MaterialKind::Photo => AcceptedKind::Photo,
            MaterialKind::Pdf => AcceptedKind::Pdf,
        })
        .collect()
}

fn material_view(m: &material::Model) -> Material {
    Material {
        code: m.code.clone(),
        name: m.name.clone(),
        guidance: m.guidance.clone(),
        kinds: material_kinds(&m.kinds),
        min_pages: m.min_pages,
        max_pages: m.max_pages,
        required: m.required,
        original_required: m.original_required,
        document_type: m.document_type.clone(),
        reuse: reuse_of(m),
        reuse_valid_days: m.reuse_valid_days,
    }
}

/// A material's reuse policy for the contract.
pub fn reuse_of(m: &catalog::material::Model) -> DocumentReuse {
    // Written only from `Reuse::as_str`; anything else is read as the safe choice.
    match Reuse::parse(&m.reuse) {
        Some(Reuse::Accepted) => DocumentReuse::Accepted,
        _ => DocumentReuse::FreshOnly,
    }
}
