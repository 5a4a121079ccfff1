//! `/v1/reception/batches*`: the dispatch batches that carry received originals to their
//! departments, closed by the clock at each cut-off or early by reception, and each batch's
//! handover manifest (CSV or PDF) to sign. Only the caller's departments' batches are shown.

use chrono::{DateTime, Utc};
use poem::Request;
use poem::http::{HeaderMap, header};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Binary, Json, PlainText};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, ResponseContent};
use uuid::Uuid;

use crate::api::ApiTags;
use crate::api::problem::{ApiError, ApiResult, FieldProblem};
use crate::api::security::{ClientIp, StaffAuth, audit_staff_action};
use crate::cases::manifest;
use crate::domain::staff::Role;
use crate::state::AppState;
use crate::store::dispatch;

pub struct ReceptionBatchesApi;

#[derive(Debug, Clone, Object)]
pub struct Batch {
    pub id: Uuid,
    pub department_code: String,
    pub cutoff_at: DateTime<Utc>,
    pub case_count: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct BatchList {
    pub items: Vec<Batch>,
}

/// How the manifest comes: CSV for spreadsheets, PDF to print and sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum ManifestFormat {
    Csv,
    Pdf,
}

impl ManifestFormat {
    /// Without `format`: PDF when `Accept` ranks `application/pdf` above `text/csv`, else CSV.
    fn from_accept(headers: &HeaderMap) -> Self {
        let (mut pdf, mut csv) = (0.0_f32, 0.0_f32);
        let ranges = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','));
        for range in ranges {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            match media.as_str() {
                "application/pdf" => pdf = pdf.max(q),
                "text/csv" => csv = csv.max(q),
                _ => {}
            }
        }
        if pdf > 0.0 && pdf > csv {
            Self::Pdf
        } else {
            Self::Csv
        }
    }
}

/// One 200 response with both media types: two `ApiResponse` variants of the same status would
/// write the contract's `200` key twice.
#[derive(ResponseContent)]
pub enum ManifestBody {
    #[oai(content_type = "text/csv; charset=utf-8")]
    Csv(PlainText<String>),
    #[oai(content_type = "application/pdf")]
    Pdf(Binary<Vec<u8>>),
}

#[derive(ApiResponse)]
pub enum Manifest {
    /// The handover manifest: the cases, the materials counted, the signatures line.
    #[oai(status = 200)]
    Ok(
        ManifestBody,
        /// `attachment; filename="manifest-<batch id>.csv"` (or `.pdf`).
        #[oai(header = "Content-Disposition")]
        String,
    ),
}

fn batch_view(b: dispatch::batch::Model) -> Batch {
    Batch {
        id: b.id,
        department_code: b.department_code,
        cutoff_at: b.cutoff_at,
        case_count: b.case_count,
        created_at: b.created_at,
    }
}

#[derive(Debug, Clone, Object)]
pub struct CloseBatches {
    /// Close only this department's batch. Without it: every department of mine (an admin
    /// without departments: every department).
    #[oai(skip_serializing_if_is_none)]
    pub department_code: Option<String>,
}

#[OpenApi(tag = "ApiTags::Review")]
impl ReceptionBatchesApi {
    /// Dispatch batches of my departments, newest first.
    #[oai(path = "/v1/reception/batches", method = "get")]
    async fn batches(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<Json<BatchList>> {
        auth.0.require(Role::Reception)?;
        let rows = dispatch::batches(state.db()?, &auth.0.departments, limit.0).await?;
        Ok(Json(BatchList {
            items: rows.into_iter().map(batch_view).collect(),
        }))
    }

    /// A batch's handover manifest: one row per case with the materials and pages counted, the
    /// total, then the signatures line. CSV (UTF-8 with BOM) or a printable A4 PDF.
    #[oai(path = "/v1/reception/batches/:id/manifest", method = "get")]
    async fn manifest(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        request: &Request,
        id: Path<Uuid>,
        /// `csv` or `pdf`. Without it, `Accept: application/pdf` gets the PDF and anything else
        /// the CSV.
        format: Query<Option<ManifestFormat>>,
    ) -> ApiResult<Manifest> {
        auth.0.require(Role::Reception)?;
        let format = format
            .0
            .unwrap_or_else(|| ManifestFormat::from_accept(request.headers()));
        let db = state.db()?;
        let batch = dispatch::find_batch(db, id.0)
            .await?
            .filter(|b| auth.0.departments.contains(&b.department_code))
            .ok_or_else(|| ApiError::not_found("batch_not_found", "No such batch."))?;
        let data = manifest::gather(db, &batch, state.config.local_offset()).await?;
        let attachment =
            |ext: &str| format!("attachment; filename=\"manifest-{}.{ext}\"", batch.id);
        Ok(match format {
            ManifestFormat::Csv => Manifest::Ok(
                ManifestBody::Csv(PlainText(manifest::csv(&data))),
                attachment("csv"),
            ),
            ManifestFormat::Pdf => Manifest::Ok(
                ManifestBody::Pdf(Binary(manifest::pdf(&data))),
                attachment("pdf"),
            ),
        })
    }

    /// Close the current batch now instead of at the next cut-off: every case reception has
    /// confirmed joins its department's batch and goes to the department. Answers the batches
    /// closed, none when no case was waiting (so a retry closes nothing twice). Reception of the
    /// department, or an admin (audited).
    #[oai(path = "/v1/reception/batches/close", method = "post")]
    async fn close(
        &self,
        state: Data<&AppState>,
        auth: StaffAuth,
        ip: ClientIp,
        body: Json<CloseBatches>,
    ) -> ApiResult<Json<BatchList>> {
        let member = &auth.0;
        if !member.has(Role::Admin) {
            member.require(Role::Reception)?;
        }
        let everywhere = member.has(Role::Admin) && member.departments.is_empty();
        let departments = match &body.department_code {
            Some(code) if everywhere || member.departments.contains(code) => vec![code.clone()],
            Some(_) => {
                return Err(ApiError::invalid_fields(vec![FieldProblem::new(
                    "department_code",
                    "is not one of your departments",
                )]));
            }
            None => member.departments.clone(),
        };
        let scope =
            (!everywhere || body.department_code.is_some()).then_some(departments.as_slice());
        let closed = state.cases.close_now(state.db()?, scope).await?;
        audit_staff_action(
            &state,
            member,
            &ip,
            "reception.close_batches",
            None,
            Some(format!(
                "{} batch(es), {} case(s)",
                closed.len(),
                closed.iter().map(|b| b.case_count).sum::<i32>()
            )),
        )
        .await?;
        Ok(Json(BatchList {
            items: closed.into_iter().map(batch_view).collect(),
        }))
    }
}

fn default_limit() -> u64 {
    50
}
