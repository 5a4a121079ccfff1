//! The handover manifest of a dispatch batch: its cases with the originals and pages counted, a
//! total and the signatures line. The data is gathered once, then rendered as CSV (spreadsheets)
//! or PDF (the desk's printer). The renderers are pure; the PDF embeds no font file.

mod pdf;
mod sheet;

pub use pdf::pdf;
pub use sheet::csv;

use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use uuid::Uuid;

use crate::store::{catalog, dispatch, pages};

/// Everything either rendering shows, times already in local time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestData {
    pub batch_id: Uuid,
    pub department_code: String,
    /// As the batch's cases were filed under it.
    pub department_name: Option<String>,
    /// The cut-off, `YYYY-MM-DD HH:MM` local.
    pub cutoff: String,
    pub rows: Vec<ManifestRow>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRow {
    /// From 1, in the order the cases were received.
    pub index: usize,
    pub application_id: Uuid,
    pub matter_name: String,
    pub applicant_name: String,
    /// The materials whose originals travel with the case.
    pub originals: usize,
    pub pages: usize,
    /// When reception confirmed the originals, local; empty when unknown.
    pub received: String,
}

fn local(time: DateTime<Utc>, offset: FixedOffset) -> String {
    time.with_timezone(&offset)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// Reads the batch's cases with their catalogue versions and page counts.
#[tracing::instrument(skip_all, fields(batch_id = %batch.id), err)]
pub async fn gather<C: ConnectionTrait>(
    db: &C,
    batch: &dispatch::batch::Model,
    offset: FixedOffset,
) -> Result<ManifestData, DbErr> {
    let mut department_name = None;
    let mut rows = Vec::new();
    for (i, app) in dispatch::cases_of(db, batch.id).await?.iter().enumerate() {
        let version = catalog::find_case_version(db, app.matter_id, app.signed_form())
            .await?
            .ok_or_else(|| {
                DbErr::RecordNotFound(format!("the catalogue version of application {}", app.id))
            })?;
        department_name.get_or_insert_with(|| version.matter.department_name.clone());
        rows.push(ManifestRow {
            index: i + 1,
            application_id: app.id,
            originals: version
                .materials
                .iter()
                .filter(|m| m.original_required)
                .count(),
            matter_name: version.matter.name.clone(),
            applicant_name: app.applicant_name.clone(),
            pages: pages::of_application(db, app.id).await?.len(),
            received: app
                .received_at
                .map(|t| local(t, offset))
                .unwrap_or_default(),
        });
    }
    Ok(ManifestData {
        batch_id: batch.id,
        department_code: batch.department_code.clone(),
        department_name,
        cutoff: local(batch.cutoff_at, offset),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(in crate::cases::manifest) fn data(rows: usize) -> ManifestData {
        ManifestData {
            batch_id: Uuid::now_v7(),
            department_code: "civil-affairs".into(),
            department_name: Some("民政局".into()),
            cutoff: "2026-11-28 10:00".into(),
            rows: (1..=rows)
                .map(|index| ManifestRow {
                    index,
                    application_id: Uuid::new_v4(),
                    matter_name: "老年人优待证办理（一个长得放不进这一栏的事项名称）".into(),
                    applicant_name: format!("申请人{index}"),
                    originals: 2,
                    pages: 5,
                    received: "2026-11-28 09:30".into(),
                })
                .collect(),
        }
    }
}
