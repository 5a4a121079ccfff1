//! The manifest as CSV for spreadsheet programs. Every cell a person or the catalogue wrote goes
//! through `cell`, which disarms what a spreadsheet would run as a formula (CSV injection).

use std::borrow::Cow;

use super::ManifestData;

/// OWASP's rule for CSV injection: a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
/// return is prefixed with `'`, so spreadsheet programs show it as text instead of evaluating it.
/// (The writer quotes it too whenever it holds a separator, a quote or a line break.)
pub fn cell(text: &str) -> Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// UTF-8 with a BOM, so spreadsheet programs open the Chinese correctly. Rows differ in length
/// (a title line, the table, a total, the signatures line), as the printed form does.
pub fn csv(data: &ManifestData) -> String {
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::from("\u{feff}".as_bytes()));
    let batch_id = data.batch_id.to_string();
    let mut rows: Vec<Vec<Cow<'_, str>>> = vec![
        vec![
            "交接单".into(),
            batch_id.into(),
            "部门".into(),
            cell(&data.department_code),
            "截止时间".into(),
            data.cutoff.as_str().into(),
        ],
        [
            "序号",
            "申请编号",
            "事项",
            "申请人",
            "原件材料数",
            "页数",
            "收件时间",
        ]
        .map(Cow::from)
        .to_vec(),
    ];
    for row in &data.rows {
        rows.push(vec![
            row.index.to_string().into(),
            row.application_id.simple().to_string().into(),
            cell(&row.matter_name),
            cell(&row.applicant_name),
            row.originals.to_string().into(),
            row.pages.to_string().into(),
            row.received.as_str().into(),
        ]);
    }
    rows.push(vec![
        "合计".into(),
        format!("{} 件", data.rows.len()).into(),
    ]);
    rows.push(
        ["移交人签字", "", "接收人签字", "", "交接日期", ""]
            .map(Cow::from)
            .to_vec(),
    );
    for row in rows {
        writer
            .write_record(row.iter().map(|c| c.as_bytes()))
            .expect("writing to memory cannot fail");
    }
    let bytes = writer.into_inner().expect("writing to memory cannot fail");
    String::from_utf8(bytes).expect("every cell is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::manifest::tests::data;

    #[test]
    fn csv_quotes_what_it_must() {
        let mut data = data(1);
        data.rows[0].applicant_name = "王,\"小\"明".into();
        let csv = csv(&data);
        assert!(csv.starts_with('\u{feff}'));
        assert!(csv.contains(",\"王,\"\"小\"\"明\","), "{csv}");
        assert!(csv.ends_with("合计,1 件\n移交人签字,,接收人签字,,交接日期,\n"));
    }

    #[test]
    fn formulas_are_written_as_text() {
        for (name, written) in [
            (
                "=HYPERLINK(\"http://x\",\"点此核验\")",
                "\"'=HYPERLINK(\"\"http://x\"\",\"\"点此核验\"\")\"",
            ),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "\"'\r=1\""),
            ("王=1", "王=1"),
        ] {
            let mut data = data(1);
            data.rows[0].applicant_name = name.into();
            let csv = csv(&data);
            assert!(csv.contains(&format!(",{written},")), "{name:?} -> {csv}");
        }
    }
}
