//! The handover manifest of a dispatch batch: its cases with the originals and pages counted, a
//! total and the signatures line. The data is gathered once, then rendered as CSV (spreadsheets)
//! or PDF (the desk's printer). The renderers are pure; the PDF embeds no font file.

mod pdf;

pub use pdf::pdf;

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
        let version = catalog::find_version(db, app.matter_id)
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
            matter_name: version.matter.name,
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

/// A CSV field, quoted when it must be.
fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// UTF-8 with a BOM, so spreadsheet programs open the Chinese correctly.
pub fn csv(data: &ManifestData) -> String {
    let mut out = String::from("\u{feff}");
    out.push_str(&format!(
        "交接单,{},部门,{},截止时间,{}\n",
        data.batch_id,
        csv_field(&data.department_code),
        data.cutoff
    ));
    out.push_str("序号,申请编号,事项,申请人,原件材料数,页数,收件时间\n");
    for row in &data.rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            row.index,
            row.application_id.simple(),
            csv_field(&row.matter_name),
            csv_field(&row.applicant_name),
            row.originals,
            row.pages,
            row.received,
        ));
    }
    out.push_str(&format!("合计,{} 件\n", data.rows.len()));
    out.push_str("移交人签字,,接收人签字,,交接日期,\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(in crate::courier::manifest) fn data(rows: usize) -> ManifestData {
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

    #[test]
    fn csv_quotes_what_it_must() {
        let mut data = data(1);
        data.rows[0].applicant_name = "王,\"小\"明".into();
        let csv = csv(&data);
        assert!(csv.starts_with('\u{feff}'));
        assert!(csv.contains(",\"王,\"\"小\"\"明\","), "{csv}");
        assert!(csv.ends_with("合计,1 件\n移交人签字,,接收人签字,,交接日期,\n"));
    }
}
